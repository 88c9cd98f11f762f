//! A server for the event endpoints with the protections `axum::serve` leaves out.

use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::auth::BoxFuture;

/// The default [`Serve::header_read_timeout`].
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The default [`Serve::max_connections`].
const MAX_CONNECTIONS: usize = 1024;
/// The pause after an accept error that is not about one connection (e.g. too many open
/// files), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(250);

/// Serves `app` (from [`router`](super::router) or [`card_router`](super::card_router), or
/// any axum router) over HTTP/1.1 on `listener`, with timeouts that keep slow clients from
/// holding connections: see [`Serve`]. Await it to run; it ends only after a graceful
/// shutdown, or with an I/O error of the listener.
///
/// ```no_run
/// # async fn run(dispatcher: lark_oapi_core::dispatcher::EventDispatcher) -> std::io::Result<()> {
/// use std::time::Duration;
/// use lark_oapi_core::dispatcher::axum_adapter;
///
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
/// axum_adapter::serve(listener, axum_adapter::router("/webhook/event", dispatcher))
///     .header_read_timeout(Duration::from_secs(5))
///     .max_connections(512)
///     .with_graceful_shutdown(async { let _ = tokio::signal::ctrl_c().await; })
///     .await
/// # }
/// ```
pub fn serve(listener: TcpListener, app: axum::Router) -> Serve {
    Serve {
        listener,
        app,
        header_read_timeout: HEADER_READ_TIMEOUT,
        max_connections: MAX_CONNECTIONS,
        shutdown: None,
    }
}

/// A server being configured; `.await` it to run. Made by [`serve`].
///
/// - **Header read timeout** (10 s): a connection whose request headers are not complete
///   within it is closed. It applies to every request on a keep-alive connection, so an
///   idle connection is closed after it too.
/// - **Body read timeout**: applied by the routers, from the dispatcher's
///   [`body_read_timeout`](crate::dispatcher::EventDispatcherBuilder::body_read_timeout)
///   (408 and the connection closed).
/// - **Connection cap** (1024): past it, new connections wait in the listen backlog until
///   one closes.
/// - **Graceful shutdown**: [`with_graceful_shutdown`](Serve::with_graceful_shutdown)
///   stops accepting, lets requests in flight be answered, then returns.
#[must_use = "a server does nothing until it is awaited"]
pub struct Serve {
    listener: TcpListener,
    app: axum::Router,
    header_read_timeout: Duration,
    max_connections: usize,
    shutdown: Option<BoxFuture<'static, ()>>,
}

impl std::fmt::Debug for Serve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("local_addr", &self.listener.local_addr().ok())
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_connections", &self.max_connections)
            .field("graceful_shutdown", &self.shutdown.is_some())
            .finish_non_exhaustive()
    }
}

impl Serve {
    /// How long a client may take to send a request's headers (10 s by default; at least
    /// 1 ms).
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Most connections open at once (1024 by default; at least 1).
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// Stops when `signal` completes: no new connection is accepted, requests in flight are
    /// answered, idle connections are closed, and the server's future then returns `Ok`.
    pub fn with_graceful_shutdown<F>(mut self, signal: F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    async fn run(self) -> io::Result<()> {
        let Self {
            listener,
            app,
            header_read_timeout,
            max_connections,
            shutdown,
        } = self;
        let mut signal = shutdown.unwrap_or_else(|| Box::pin(std::future::pending()));
        let permits = Arc::new(Semaphore::new(max_connections));
        let (stop, stopping) = watch::channel(false);
        let mut connections = JoinSet::new();
        loop {
            let permit = tokio::select! {
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                () = &mut signal => break,
            };
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) if per_connection(&e) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "event endpoint: accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                },
                () = &mut signal => break,
            };
            while connections.try_join_next().is_some() {}
            let app = app.clone();
            let mut stopping = stopping.clone();
            connections.spawn(async move {
                let _permit = permit;
                let _ = stream.set_nodelay(true);
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_read_timeout)
                    .keep_alive(true);
                let connection =
                    builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
                tokio::pin!(connection);
                let ended = tokio::select! {
                    ended = connection.as_mut() => ended,
                    () = async { let _ = stopping.wait_for(|stop| *stop).await; } => {
                        connection.as_mut().graceful_shutdown();
                        connection.await
                    }
                };
                if let Err(e) = ended {
                    tracing::debug!(error = %e, "event endpoint: connection ended with an error");
                }
            });
        }
        let _ = stop.send(true);
        while connections.join_next().await.is_some() {}
        Ok(())
    }
}

impl IntoFuture for Serve {
    type Output = io::Result<()>;
    type IntoFuture = BoxFuture<'static, io::Result<()>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Accept errors about one connection (it went away before being accepted): not the
/// listener's fault, so accepting goes on at once.
fn per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
