//! Starting, watching and stopping the servers under test, each pinned to one core:
//! the release `scim-rotator run`, the Bolt peer (`node app.js` or the Socket Mode variant),
//! and the bare responder (this program, `--bare-responder`).

use scim_rotator::demo::wiring::WorldConfig;
use scim_sandbox::SandboxWorld;
use scim_sandbox::slack::identity;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which program serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Bot,
    Bolt,
    Bare,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Bot => "scim-rotator",
            Side::Bolt => "Bolt JS",
            Side::Bare => "bare responder",
        }
    }
}

/// How Slack reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Http,
    SocketMode,
}

/// Where the programs are.
pub struct Programs {
    pub bot: PathBuf,
    /// A copy of the Bolt peer with its `node_modules` (and `socket-mode.js` beside it).
    pub bolt_dir: PathBuf,
    /// This program, for `--bare-responder`.
    pub myself: PathBuf,
    pub server_cpu: String,
    /// Logs and databases of this run.
    pub scratch: PathBuf,
}

/// A running server process.
pub struct Running {
    child: Child,
    pub addr: SocketAddr,
    /// From just before exec to the first good answer (bot: `/readyz` 200; Bolt: its
    /// listener answering; Socket Mode: the first WebSocket connection open at the fake).
    pub ready_after: Duration,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (resident now, peak resident), in MB, from `/proc/PID/status`.
    pub fn rss_mb(&self) -> (f64, f64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map_or(f64::NAN, |kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// CPU time the process has used so far (user + system), from `/proc/PID/stat`
    /// (clock ticks of 1/100 s, as Linux reports them).
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) in parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        (ticks(11) + ticks(12)) / 100.0
    }

    /// SIGTERM, then SIGKILL after 5 s (60 s under a profiler, which writes its figures on
    /// the way out).
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let until = Instant::now() + Duration::from_secs(if wrapped() { 60 } else { 5 });
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether the bot runs under a profiler (`SBS_BOT_WRAP`): everything takes longer.
fn wrapped() -> bool {
    std::env::var("SBS_BOT_WRAP").is_ok_and(|wrap| !wrap.trim().is_empty())
}

/// A free loopback port (bound, then released for the server to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn pinned(cpu: &str, program: &Path) -> Command {
    let mut command = Command::new("taskset");
    command.args(["-c", cpu]).arg(program);
    command
}

fn log_file(scratch: &Path, name: &str) -> Stdio {
    std::fs::File::create(scratch.join(name))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

/// Starts `side` against `world` and waits until it is ready (at most 30 s; 180 s under a profiler).
pub async fn start(
    programs: &Programs,
    side: Side,
    transport: Transport,
    reply: bool,
    world: &SandboxWorld,
    label: &str,
) -> Running {
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut command = match side {
        Side::Bot => {
            let config = write_bot_config(world, &programs.scratch.join(label), transport, port);
            // SBS_BOT_WRAP="perf record -o /tmp/{label}.perf --" (or strace …) profiles the
            // bot, `{label}` naming the round; the figures of such a run describe the wrapper.
            let wrap = std::env::var("SBS_BOT_WRAP")
                .unwrap_or_default()
                .replace("{label}", label);
            let mut words = wrap.split_whitespace();
            let mut command = match words.next() {
                Some(tool) => {
                    let mut command = pinned(&programs.server_cpu, Path::new(tool));
                    command.args(words).arg(&programs.bot);
                    command
                }
                None => pinned(&programs.server_cpu, &programs.bot),
            };
            command.arg("run").arg("--config").arg(config);
            command
        }
        Side::Bolt => {
            let script = match transport {
                Transport::Http => "app.js",
                Transport::SocketMode => "socket-mode.js",
            };
            let mut command = pinned(&programs.server_cpu, Path::new("node"));
            command
                .arg(script)
                .current_dir(&programs.bolt_dir)
                .env("PORT", port.to_string())
                .env("HOST", "127.0.0.1")
                .env("SLACK_API_URL", format!("{}/", world.slack.api_url()))
                .env("SLACK_BOT_TOKEN", identity::BOT_TOKEN)
                .env("SLACK_APP_TOKEN", identity::APP_TOKEN)
                .env("SLACK_SIGNING_SECRET", identity::SIGNING_SECRET)
                .env("REPLY", if reply { "1" } else { "0" });
            command
        }
        Side::Bare => {
            let mut command = pinned(&programs.server_cpu, &programs.myself);
            command.arg("--bare-responder").arg(port.to_string());
            command
        }
    };
    command
        .stdin(Stdio::null())
        .stdout(log_file(&programs.scratch, &format!("{label}.out")))
        .stderr(log_file(&programs.scratch, &format!("{label}.err")));
    let started = Instant::now();
    let child = command.spawn().expect("the server starts");
    let mut running = Running {
        child,
        addr,
        ready_after: Duration::ZERO,
    };
    let deadline = started + Duration::from_secs(if wrapped() { 180 } else { 30 });
    loop {
        let ready = match (side, transport) {
            (_, Transport::SocketMode) => world.slack.socket_connections() > 0,
            (Side::Bot, Transport::Http) => http_status(addr, "GET /readyz").await == Some(200),
            _ => http_status(addr, "GET /").await.is_some(),
        };
        if ready {
            running.ready_after = started.elapsed();
            return running;
        }
        if let Ok(Some(status)) = running.child.try_wait() {
            panic!(
                "{label} exited before it was ready ({status}); see {}",
                programs.scratch.join(format!("{label}.err")).display()
            );
        }
        assert!(Instant::now() < deadline, "{label} was not ready in time");
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

/// The status of one bodiless request, or `None` when nothing answers.
async fn http_status(addr: SocketAddr, request_line: &str) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("{request_line} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).await.ok()?;
    let mut head = [0u8; 32];
    let read = conn.read(&mut head).await.ok()?;
    std::str::from_utf8(&head[..read])
        .ok()?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}

/// The bot's configuration for `world`, secrets in files beside it; returns its path.
fn write_bot_config(world: &SandboxWorld, dir: &Path, transport: Transport, port: u16) -> PathBuf {
    std::fs::create_dir_all(dir).expect("a scratch directory");
    let client_secret = world
        .cloud
        .microsoft
        .client_secret()
        .expect("the sandbox app has a client secret");
    let mode = match transport {
        Transport::Http => scim_rotator::config::SlackMode::Http,
        Transport::SocketMode => scim_rotator::config::SlackMode::Socket,
    };
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    world
        .write_config_file(dir, &client_secret, mode, listen, "")
        .expect("the config file")
}

/// `--bare-responder PORT`: answers every request `200` with an empty body, reading
/// nothing but what HTTP/1.1 needs. The load generator's own ceiling is measured with it.
pub fn bare_responder(port: u16) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("the port is free");
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                continue;
            };
            let _ = conn.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
                let mut chunk = [0u8; 16 * 1024];
                loop {
                    // One request: headers, then content-length bytes.
                    let (head_end, length) = loop {
                        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..at]).to_ascii_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (at + 4, length);
                        }
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    while buf.len() < head_end + length {
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..head_end + length);
                    if conn
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
}
