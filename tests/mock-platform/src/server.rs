//! The accept loop: one HTTP/1.1 connection task per TCP connection, all owned
//! by a `JoinSet` so that aborting the server task aborts every connection.

use std::pin::pin;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long a graceful shutdown waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A TLS handshake that has not finished in this time is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS with the committed test certificate for `localhost`.
pub(crate) fn tls_acceptor() -> std::io::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let cert = CertificateDer::from(&include_bytes!("../certs/localhost.der")[..]).into_owned();
    let ca = CertificateDer::from(crate::TEST_CA_DER).into_owned();
    let key = PrivateKeyDer::Pkcs8(
        PrivatePkcs8KeyDer::from(&include_bytes!("../certs/localhost.key.der")[..]).clone_key(),
    );
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_no_client_auth()
                .with_single_cert(vec![cert, ca], key)
        })
        .map_err(std::io::Error::other)?;
    Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
}

/// Serves `router` on `listener` until `stop` changes (or its sender is dropped), over TLS
/// when `tls` is given.
pub(crate) async fn run(
    listener: TcpListener,
    router: Router,
    mut stop: watch::Receiver<bool>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let (conn_stop_tx, conn_stop_rx) = watch::channel(false);
    let mut conns: JoinSet<()> = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            // Reap finished connections so the set does not grow without bound.
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let (router, stop) = (router.clone(), conn_stop_rx.clone());
                    match &tls {
                        None => {
                            conns.spawn(serve_connection(stream, router, stop));
                        }
                        Some(acceptor) => {
                            let handshake = acceptor.accept(stream);
                            conns.spawn(async move {
                                // A client that refuses the certificate just goes away.
                                if let Ok(Ok(stream)) =
                                    tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, handshake).await
                                {
                                    serve_connection(stream, router, stop).await;
                                }
                            });
                        }
                    }
                }
                // E.g. out of file descriptors: back off briefly instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
        }
    }
    drop(listener);
    let _ = conn_stop_tx.send(true);
    let drain = async { while conns.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain).await;
    conns.abort_all();
}

/// Serves one connection. A handler that unwinds (the `DropConnection` fault)
/// unwinds this task, which drops the socket without writing a response.
async fn serve_connection(
    stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let service = TowerToHyperService::new(router);
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        // The platform's spelling (`X-Tt-Logid`, `Content-Type`): clients that read
        // headers by exact name, as the vendor Python SDK does, find them.
        .title_case_headers(true)
        .serve_connection(TokioIo::new(stream), service)
        // Needed for the long connection's WebSocket upgrade.
        .with_upgrades();
    let mut conn = pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop.wait_for(|stopping| *stopping) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}
