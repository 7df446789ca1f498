//! Running a fake's axum router on a loopback port, for as long as the fake lives.

use axum::Router;
use std::net::SocketAddr;
use tokio::task::JoinHandle;

/// A running server; stops when dropped.
#[derive(Debug)]
pub(crate) struct Server {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    /// Serves `router` on `127.0.0.1` at a free port.
    ///
    /// # Panics
    /// When no loopback port can be bound, which leaves a fake nothing to do.
    pub async fn start(router: Router) -> Server {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a sandbox fake binds a free loopback port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                tracing::warn!(%err, "sandbox server stopped");
            }
        });
        Server { addr, task }
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> url::Url {
        url::Url::parse(&format!("http://{}/", self.addr)).expect("a socket address makes a URL")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}
