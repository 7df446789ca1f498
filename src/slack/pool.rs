//! A hard cap on the TCP connections the Slack client holds open.
//!
//! slack-morphism builds its hyper client itself, with hyper's defaults: no limit on
//! connections per host. Under a burst, every concurrent call opened its own connection
//! (2,672 were measured at 50 concurrent clicks). The cap is enforced where connections are
//! made: [`LimitedConnector`] takes a permit before it connects, and the connection holds
//! the permit until it is closed, whether in use or idle in hyper's pool. A call that finds
//! every connection busy waits for one to come back to the pool (hyper hands it over).

use hyper::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Most connections to Slack open at once. Slack's limits allow about one post a second per
/// channel and 100 ephemerals a minute, which a handful of keep-alive connections carry
/// easily; more would only add TLS handshakes and load on Slack's side.
pub const MAX_CONNECTIONS: usize = 8;

/// A TCP connector that never has more than its limit of connections open.
#[derive(Clone)]
pub struct LimitedConnector {
    inner: HttpConnector,
    permits: Arc<Semaphore>,
}

impl LimitedConnector {
    /// At most `limit` connections open at once (at least one).
    pub fn new(limit: usize) -> Self {
        let mut inner = HttpConnector::new();
        // The TLS layer above checks the scheme; this one only connects.
        inner.enforce_http(false);
        LimitedConnector {
            inner,
            permits: Arc::new(Semaphore::new(limit.max(1))),
        }
    }

    /// Connections that may still be opened now (for tests and metrics).
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

impl tower_service::Service<Uri> for LimitedConnector {
    type Response = LimitedStream;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future =
        Pin<Box<dyn Future<Output = Result<LimitedStream, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower_service::Service::<Uri>::poll_ready(&mut self.inner, cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let permits = Arc::clone(&self.permits);
        let mut inner = self.inner.clone();
        Box::pin(async move {
            let permit = permits.acquire_owned().await?;
            let stream = tower_service::Service::call(&mut inner, uri).await?;
            Ok(LimitedStream {
                inner: stream,
                _permit: permit,
            })
        })
    }
}

/// A connection that gives its permit back when it is closed (dropped).
pub struct LimitedStream {
    inner: TokioIo<TcpStream>,
    _permit: OwnedSemaphorePermit,
}

impl Connection for LimitedStream {
    fn connected(&self) -> Connected {
        self.inner.connected()
    }
}

impl Read for LimitedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl Write for LimitedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
}
