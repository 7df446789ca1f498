//! The load generator: `c` keep-alive HTTP/1.1 connections, each sending one request after
//! another for a fixed time. Every body is unique (its own `trigger_id`) and signed just
//! before it is sent, exactly as Slack signs (v0 HMAC-SHA256 over `v0:<ts>:<body>`), so a
//! receiver that refuses replays sees a fresh, valid request each time.
//!
//! HTTP/1.1 is written and read by hand: a request is one `write`, a response is read up to
//! its headers and its `content-length` (or chunked) body. That keeps the generator's own
//! cost per request small, which the bare-responder ceiling measures.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A form body `payload=<url-encoded JSON>` split around the part that changes per request.
#[derive(Clone)]
pub struct Template {
    pub path: String,
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    secret: Vec<u8>,
}

/// The placeholder put where the per-request unique part goes.
pub const UNIQUE: &str = "UNIQUE0PLACEHOLDER";

impl Template {
    /// `payload` is the interaction JSON with [`UNIQUE`] somewhere in a string value.
    pub fn interaction(path: &str, payload: &serde_json::Value, secret: &str) -> Template {
        let body = serde_urlencoded::to_string([("payload", payload.to_string())])
            .expect("a string form encodes");
        let at = body
            .find(UNIQUE)
            .expect("the payload holds the placeholder");
        Template {
            path: path.to_owned(),
            prefix: body.as_bytes()[..at].to_vec(),
            suffix: body.as_bytes()[at + UNIQUE.len()..].to_vec(),
            secret: secret.as_bytes().to_vec(),
        }
    }

    /// The whole request for sequence number `n` from generator `worker`, signed now.
    fn request(&self, host: &str, worker: usize, n: u64, out: &mut Vec<u8>, body: &mut Vec<u8>) {
        body.clear();
        body.extend_from_slice(&self.prefix);
        body.extend_from_slice(format!("{worker}x{n}").as_bytes());
        body.extend_from_slice(&self.suffix);
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("any key length");
        mac.update(format!("v0:{ts}:").as_bytes());
        mac.update(body);
        let signature = hex::encode(mac.finalize().into_bytes());
        out.clear();
        out.extend_from_slice(
            format!(
                "POST {} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
                 x-slack-request-timestamp: {ts}\r\nx-slack-signature: v0={signature}\r\n\
                 content-length: {}\r\n\r\n",
                self.path,
                body.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(body);
    }
}

/// What one phase measured.
#[derive(Clone, Debug, Default)]
pub struct Phase {
    /// Answered 2xx within the measured window.
    pub ok: u64,
    /// Answered 2xx, warm-up included (what the server had to carry out).
    pub ok_total: u64,
    /// Answered otherwise, or the connection broke.
    pub failed: u64,
    pub elapsed: Duration,
    /// Latency of each 2xx, microseconds, sorted.
    pub latencies_us: Vec<u32>,
    /// The first non-2xx status line seen, to say why.
    pub first_failure: Option<String>,
}

impl Phase {
    pub fn per_sec(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }
}

/// Drives `connections` connections at `addr` for `warmup` (not counted), then `measure`,
/// or until `budget` requests were sent in all (warm-up included), whichever comes first:
/// the phase's length is then the time it took.
pub async fn run(
    addr: SocketAddr,
    template: &Template,
    connections: usize,
    warmup: Duration,
    measure: Duration,
    budget: u64,
) -> Phase {
    let start = Instant::now();
    let counted_from = start + warmup;
    let until = counted_from + measure;
    let sent = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..connections {
        let template = template.clone();
        let budget = Budget::Shared(Arc::clone(&sent), budget);
        workers
            .spawn(async move { drive(addr, template, worker, counted_from, until, budget).await });
    }
    let mut phase = collect(workers, measure).await;
    let ended = Instant::now().min(until);
    phase.elapsed = ended
        .saturating_duration_since(counted_from)
        .max(Duration::from_millis(1));
    phase
}

/// How many requests a worker may send.
enum Budget {
    Own(u64),
    /// Counted across the phase's workers.
    Shared(Arc<AtomicU64>, u64),
}

impl Budget {
    /// Takes one request from the budget (`n` sent so far by this worker); `false` once it
    /// is spent.
    fn take(&self, n: u64) -> bool {
        match self {
            Budget::Own(max) => n < *max,
            Budget::Shared(sent, max) => sent.fetch_add(1, Ordering::Relaxed) < *max,
        }
    }
}

/// Sends exactly `requests` requests, one after another on one connection (for profiles:
/// a fixed amount of work, however slow the server runs).
pub async fn count(addr: SocketAddr, template: &Template, requests: u64) -> Phase {
    let start = Instant::now();
    let until = start + Duration::from_secs(3600);
    let phase = drive(
        addr,
        template.clone(),
        0,
        start,
        until,
        Budget::Own(requests),
    )
    .await;
    Phase {
        elapsed: start.elapsed(),
        ..phase
    }
}

async fn collect(mut workers: tokio::task::JoinSet<Phase>, measure: Duration) -> Phase {
    let mut phase = Phase::default();
    while let Some(done) = workers.join_next().await {
        let part = done.expect("a load worker does not panic");
        phase.ok += part.ok;
        phase.ok_total += part.ok_total;
        phase.failed += part.failed;
        phase.latencies_us.extend(part.latencies_us);
        if phase.first_failure.is_none() {
            phase.first_failure = part.first_failure;
        }
    }
    phase.elapsed = measure;
    phase.latencies_us.sort_unstable();
    phase
}

async fn drive(
    addr: SocketAddr,
    template: Template,
    worker: usize,
    counted_from: Instant,
    until: Instant,
    budget: Budget,
) -> Phase {
    let host = addr.to_string();
    let mut phase = Phase::default();
    let mut out = Vec::with_capacity(8192);
    let mut body = Vec::with_capacity(8192);
    let mut reader = Reader::default();
    let mut n = 0u64;
    let mut stream: Option<TcpStream> = None;
    while Instant::now() < until && budget.take(n) {
        let conn = match stream.as_mut() {
            Some(conn) => conn,
            None => match TcpStream::connect(addr).await {
                Ok(conn) => {
                    let _ = conn.set_nodelay(true);
                    reader.clear();
                    stream.insert(conn)
                }
                Err(error) => {
                    phase.failed += 1;
                    phase
                        .first_failure
                        .get_or_insert(format!("connect: {error}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        n += 1;
        template.request(&host, worker, n, &mut out, &mut body);
        let sent = Instant::now();
        let answer = match conn.write_all(&out).await {
            Ok(()) => reader.response(conn).await,
            Err(error) => Err(error.to_string()),
        };
        let took = sent.elapsed();
        let counted = sent >= counted_from && Instant::now() <= until;
        match answer {
            Ok((status, keep_alive)) => {
                if (200..300).contains(&status) {
                    phase.ok_total += 1;
                }
                if counted {
                    if (200..300).contains(&status) {
                        phase.ok += 1;
                        phase
                            .latencies_us
                            .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
                    } else {
                        phase.failed += 1;
                        phase.first_failure.get_or_insert(format!("HTTP {status}"));
                    }
                }
                if !keep_alive {
                    stream = None;
                }
            }
            Err(error) => {
                if counted {
                    phase.failed += 1;
                    phase.first_failure.get_or_insert(error);
                }
                stream = None;
            }
        }
    }
    phase
}

/// Reads responses off one connection, keeping bytes that arrived early.
#[derive(Default)]
struct Reader {
    buf: Vec<u8>,
}

impl Reader {
    fn clear(&mut self) {
        self.buf.clear();
    }

    async fn fill(&mut self, conn: &mut TcpStream) -> Result<(), String> {
        let mut chunk = [0u8; 16 * 1024];
        let read = conn.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if read == 0 {
            return Err("connection closed".to_owned());
        }
        self.buf.extend_from_slice(&chunk[..read]);
        Ok(())
    }

    /// One response: (status, whether the connection stays open).
    async fn response(&mut self, conn: &mut TcpStream) -> Result<(u16, bool), String> {
        let head_end = loop {
            if let Some(at) = find(&self.buf, b"\r\n\r\n") {
                break at + 4;
            }
            self.fill(conn).await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|e| e.to_string())?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| "no status line".to_owned())?;
        let mut length = None;
        let mut chunked = false;
        let mut keep_alive = true;
        for line in head.split("\r\n").skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                keep_alive = !value.eq_ignore_ascii_case("close");
            }
        }
        self.buf.drain(..head_end);
        if chunked {
            loop {
                let line_end = loop {
                    if let Some(at) = find(&self.buf, b"\r\n") {
                        break at;
                    }
                    self.fill(conn).await?;
                };
                let size = std::str::from_utf8(&self.buf[..line_end])
                    .ok()
                    .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
                    .ok_or_else(|| "bad chunk size".to_owned())?;
                let need = line_end + 2 + size + 2;
                while self.buf.len() < need {
                    self.fill(conn).await?;
                }
                self.buf.drain(..need);
                if size == 0 {
                    break;
                }
            }
        } else {
            let length = length.unwrap_or(0);
            while self.buf.len() < length {
                self.fill(conn).await?;
            }
            self.buf.drain(..length);
        }
        Ok((status, keep_alive))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
