//! Getting a connection: the endpoint call, the proxy tunnel, TLS and the WebSocket
//! handshake, with every failure classified as fatal or retryable.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::http;

use super::LongConnectionError;
use crate::config::Config;

/// What the endpoint call gives: where to connect and the settings to use.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) url: String,
    pub(crate) service_id: i32,
    pub(crate) device_id: String,
    /// The `ClientConfig` object as sent, read over the current settings by the caller.
    pub(crate) client_config: Option<serde_json::Value>,
}

/// The largest endpoint answer read: the real one is a few hundred bytes, and a gateway or
/// captive portal that answers with an endless body must not be buffered.
const MAX_ENDPOINT_ANSWER: usize = 64 * 1024;

/// Room for a frame's own fields and headers around its payload: the WebSocket limits are
/// the message size limit plus this.
pub(crate) const FRAME_OVERHEAD: usize = 64 * 1024;

/// Endpoint codes that are worth retrying; any other non-zero code is fatal.
fn endpoint_code_retryable(code: i64) -> bool {
    matches!(code, 1 | 1000040343)
}

/// `POST {base}/callback/ws/endpoint` with the app credentials, all of it (answer read
/// included) within `timeout`.
pub(crate) async fn fetch_endpoint(
    config: &Config,
    timeout: Duration,
) -> Result<Endpoint, LongConnectionError> {
    match tokio::time::timeout(timeout, endpoint_call(config)).await {
        Ok(answer) => answer,
        Err(_) => Err(LongConnectionError::Transport {
            stage: "endpoint",
            message: format!("no answer within {timeout:?} (the connect timeout)"),
        }),
    }
}

async fn endpoint_call(config: &Config) -> Result<Endpoint, LongConnectionError> {
    let url = format!("{}/callback/ws/endpoint", config.base_url);
    // With a client assertion (audience: the open platform host), the secret is left empty.
    // An empty assertion is fatal (a bug of the provider); a failing provider is retried
    // like a dropped connection.
    let asserted =
        crate::auth::assertion::assertion_or_why(config, crate::auth::assertion::Audience::Open)
            .await
            .map_err(|(e, permanent)| {
                if permanent {
                    LongConnectionError::Config(e.to_string())
                } else {
                    LongConnectionError::Transport {
                        stage: "client assertion",
                        message: e.to_string(),
                    }
                }
            })?;
    let body = match &asserted {
        Some(value) => serde_json::json!({
            "AppID": config.app_id,
            "AppSecret": "",
            "ClientAssertion": value.expose(),
        }),
        None => serde_json::json!({
            "AppID": config.app_id,
            "AppSecret": config.app_secret.expose(),
        }),
    };
    let response = config
        .http
        .post(&url)
        .header("content-type", "application/json; charset=utf-8")
        .header("locale", "zh")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| LongConnectionError::Transport {
            stage: "endpoint",
            message: e.to_string(),
        })?;
    let status = response.status().as_u16();
    let mut response = response;
    let mut text = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| LongConnectionError::Transport {
            stage: "endpoint",
            message: e.to_string(),
        })?
    {
        if text.len() + chunk.len() > MAX_ENDPOINT_ANSWER {
            return Err(LongConnectionError::Endpoint {
                code: None,
                http_status: status,
                msg: format!(
                    "the endpoint answer is over {MAX_ENDPOINT_ANSWER} bytes (a gateway or portal in between?); not read further"
                ),
                fatal: false,
            });
        }
        text.extend_from_slice(&chunk);
    }
    if status != 200 {
        return Err(LongConnectionError::Endpoint {
            code: None,
            http_status: status,
            msg: String::from_utf8_lossy(&text).chars().take(200).collect(),
            fatal: false,
        });
    }
    let value: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| LongConnectionError::Endpoint {
            code: None,
            http_status: status,
            msg: format!("the endpoint answer is not JSON: {e}"),
            fatal: false,
        })?;
    let msg = value
        .get("msg")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let Some(code) = value.get("code").and_then(serde_json::Value::as_i64) else {
        return Err(LongConnectionError::Endpoint {
            code: None,
            http_status: status,
            msg: "the endpoint answer has no `code` (a proxy or gateway in between?)".into(),
            fatal: false,
        });
    };
    if code != 0 {
        return Err(LongConnectionError::Endpoint {
            code: Some(code),
            http_status: status,
            msg,
            fatal: !endpoint_code_retryable(code),
        });
    }
    let data = value.get("data").cloned().unwrap_or_default();
    let url = data
        .get("URL")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let parsed = reqwest::Url::parse(&url).map_err(|e| LongConnectionError::Endpoint {
        code: Some(0),
        http_status: status,
        msg: format!("the endpoint gave no usable URL ({e})"),
        fatal: false,
    })?;
    let query = |key: &str| {
        parsed
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let service_id = query("service_id")
        .and_then(|s| s.parse::<i32>().ok())
        .unwrap_or(0);
    let device_id = query("device_id").unwrap_or_default();
    let client_config = data.get("ClientConfig").cloned();
    Ok(Endpoint {
        url,
        service_id,
        device_id,
        client_config,
    })
}

/// A proxy to tunnel through with HTTP `CONNECT`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Proxy {
    /// `host:port` of the proxy.
    pub(crate) authority: String,
    /// `Proxy-Authorization` value, from `user:pass@` in the proxy URL.
    pub(crate) authorization: Option<String>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("authority", &self.authority)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Proxy {
    /// Parses `http://[user:pass@]host[:port]` (the only proxy scheme supported). Errors
    /// never repeat the credentials.
    pub(crate) fn parse(raw: &str) -> Result<Proxy, LongConnectionError> {
        // For messages: the URL without `user:pass@`.
        let shown = match raw.rsplit_once('@') {
            Some((before, host)) => match before.split_once("://") {
                Some((scheme, _)) => format!("{scheme}://<credentials>@{host}"),
                None => format!("<credentials>@{host}"),
            },
            None => raw.to_owned(),
        };
        let with_scheme = if raw.contains("://") {
            raw.to_owned()
        } else {
            format!("http://{raw}")
        };
        let url = reqwest::Url::parse(&with_scheme).map_err(|e| {
            LongConnectionError::Config(format!(
                "proxy URL {shown:?} is not a URL ({e}); use http://host:port"
            ))
        })?;
        if url.scheme() != "http" {
            return Err(LongConnectionError::Config(format!(
                "proxy scheme {:?} is not supported for the long connection; use an http:// proxy (HTTP CONNECT)",
                url.scheme()
            )));
        }
        let host = url.host_str().unwrap_or_default();
        if host.is_empty() {
            return Err(LongConnectionError::Config(format!(
                "proxy URL {shown:?} has no host"
            )));
        }
        let authority = format!("{host}:{}", url.port().unwrap_or(80));
        let authorization = (!url.username().is_empty()).then(|| {
            use base64::Engine as _;
            let user = percent_encoding::percent_decode_str(url.username()).decode_utf8_lossy();
            let pass = percent_encoding::percent_decode_str(url.password().unwrap_or_default())
                .decode_utf8_lossy();
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
            )
        });
        Ok(Proxy {
            authority,
            authorization,
        })
    }

    /// The proxy for `url` from the standard environment variables: `HTTPS_PROXY` (wss)
    /// or `HTTP_PROXY` (ws), then `ALL_PROXY`, lowercase spellings too, unless `NO_PROXY`
    /// matches the host.
    pub(crate) fn from_env(
        url: &reqwest::Url,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Proxy>, LongConnectionError> {
        let get = |name: &str| {
            var(name)
                .or_else(|| var(&name.to_ascii_lowercase()))
                .filter(|v| !v.trim().is_empty())
        };
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if let Some(no_proxy) = get("NO_PROXY")
            && no_proxy_matches(&no_proxy, &host)
        {
            return Ok(None);
        }
        let scheme_var = if url.scheme() == "wss" {
            "HTTPS_PROXY"
        } else {
            "HTTP_PROXY"
        };
        match get(scheme_var).or_else(|| get("ALL_PROXY")) {
            Some(raw) => Proxy::parse(raw.trim()).map(Some),
            None => Ok(None),
        }
    }
}

/// `NO_PROXY` semantics: `*`, or a comma list of hosts and domain suffixes (`.corp`,
/// `corp` both match `a.corp`).
fn no_proxy_matches(no_proxy: &str, host: &str) -> bool {
    no_proxy.split(',').map(str::trim).any(|entry| {
        if entry == "*" {
            return true;
        }
        let entry = entry
            .trim_start_matches('.')
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        !entry.is_empty() && (host == entry || host.ends_with(&format!(".{entry}")))
    })
}

/// A byte stream the WebSocket runs over: TCP, or TLS over TCP.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub(crate) type Socket = WebSocketStream<Box<dyn Io>>;

/// Connects to the WebSocket URL (through `proxy` if given) and runs the handshake. The
/// socket takes WebSocket messages of up to `max_message` bytes of payload plus
/// [`FRAME_OVERHEAD`], so a message the reassembly would accept always arrives.
pub(crate) async fn connect(
    url: &str,
    proxy: Option<&Proxy>,
    timeout: Duration,
    tls: &TlsSettings,
    max_message: usize,
) -> Result<Socket, LongConnectionError> {
    match tokio::time::timeout(timeout, connect_inner(url, proxy, tls, max_message)).await {
        Ok(result) => result,
        Err(_) => Err(LongConnectionError::Transport {
            stage: "connect",
            message: format!("no WebSocket connection within {timeout:?}"),
        }),
    }
}

async fn connect_inner(
    url: &str,
    proxy: Option<&Proxy>,
    tls_settings: &TlsSettings,
    max_message: usize,
) -> Result<Socket, LongConnectionError> {
    let transport = |stage: &'static str| {
        move |e: std::io::Error| LongConnectionError::Transport {
            stage,
            message: e.to_string(),
        }
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| LongConnectionError::Endpoint {
        code: Some(0),
        http_status: 200,
        msg: format!("the connection URL is not a URL ({e})"),
        fatal: false,
    })?;
    let tls = match parsed.scheme() {
        "wss" => true,
        "ws" => false,
        other => {
            return Err(LongConnectionError::Endpoint {
                code: Some(0),
                http_status: 200,
                msg: format!("the connection URL has scheme {other:?}, not ws or wss"),
                fatal: false,
            });
        }
    };
    let host = parsed.host_str().unwrap_or_default().to_owned();
    let port = parsed
        .port_or_known_default()
        .unwrap_or(if tls { 443 } else { 80 });
    // `host_str` keeps an IPv6 literal's brackets, as an authority needs; a TLS server
    // name must not have them.
    let target = format!("{host}:{port}");
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let tcp = match proxy {
        None => TcpStream::connect(&target)
            .await
            .map_err(transport("tcp"))?,
        Some(proxy) => {
            let mut tcp = TcpStream::connect(&proxy.authority)
                .await
                .map_err(transport("proxy"))?;
            tunnel(&mut tcp, &target, proxy).await?;
            tcp
        }
    };
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Io> = if tls {
        let server_name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| {
            LongConnectionError::Transport {
                stage: "tls",
                message: format!("{host:?} is not a TLS server name: {e}"),
            }
        })?;
        let connector = tokio_rustls::TlsConnector::from(tls_settings.client_config()?);
        Box::new(
            connector
                .connect(server_name, tcp)
                .await
                .map_err(transport("tls"))?,
        )
    } else {
        Box::new(tcp)
    };
    let config = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(max_message.saturating_add(FRAME_OVERHEAD)))
        .max_frame_size(Some(max_message.saturating_add(FRAME_OVERHEAD)));
    match tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(response)) => Err(handshake_error(
            response.status().as_u16(),
            response.headers(),
        )),
        Err(e) => Err(LongConnectionError::Transport {
            stage: "handshake",
            message: e.to_string(),
        }),
    }
}

/// Classifies a refused upgrade by its `handshake-*` headers (any case).
pub(crate) fn handshake_error(status: u16, headers: &http::HeaderMap) -> LongConnectionError {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let handshake_status = get("handshake-status")
        .and_then(|s| s.trim().parse::<u16>().ok())
        .unwrap_or(status);
    let auth_code = get("handshake-autherrcode").and_then(|s| s.trim().parse::<i64>().ok());
    let msg = get("handshake-msg").unwrap_or_default();
    let fatal = match handshake_status {
        403 => true,
        514 => auth_code == Some(1000040350),
        _ => false,
    };
    LongConnectionError::Handshake {
        status: handshake_status,
        auth_code,
        msg,
        fatal,
    }
}

/// Opens an HTTP `CONNECT` tunnel to `target` through the proxy.
async fn tunnel(
    tcp: &mut TcpStream,
    target: &str,
    proxy: &Proxy,
) -> Result<(), LongConnectionError> {
    let err = |message: String| LongConnectionError::Transport {
        stage: "proxy",
        message,
    };
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(auth) = &proxy.authorization {
        request.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|e| err(e.to_string()))?;
    // Read the answer head byte by byte, so nothing after it is consumed.
    let mut head = Vec::with_capacity(128);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 {
            return Err(err("the proxy's answer head is over 8 KiB".into()));
        }
        let b = tcp
            .read_u8()
            .await
            .map_err(|e| err(format!("reading the proxy's answer: {e}")))?;
        head.push(b);
    }
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or_default();
    let ok = status_line
        .split_whitespace()
        .nth(1)
        .is_some_and(|code| code.starts_with('2'));
    if !ok {
        return Err(err(format!(
            "the proxy refused CONNECT {target}: {status_line}"
        )));
    }
    Ok(())
}

/// TLS settings of one long connection: the operating system's roots through the platform
/// verifier, plus the roots from `ConfigBuilder::add_root_certificate`. Built on first use
/// and kept (reconnects reuse them); without extra roots, built once per process.
#[derive(Debug, Default)]
pub(crate) struct TlsSettings {
    roots: Vec<CertificateDer<'static>>,
    built: std::sync::OnceLock<Arc<rustls::ClientConfig>>,
}

impl TlsSettings {
    pub(crate) fn new(roots: Vec<CertificateDer<'static>>) -> Self {
        Self {
            roots,
            built: std::sync::OnceLock::new(),
        }
    }

    fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, LongConnectionError> {
        static PLATFORM: std::sync::OnceLock<Arc<rustls::ClientConfig>> =
            std::sync::OnceLock::new();
        let cache = if self.roots.is_empty() {
            &PLATFORM
        } else {
            &self.built
        };
        if let Some(config) = cache.get() {
            return Ok(config.clone());
        }
        // Failures are not kept: the next attempt tries again.
        let config =
            build_tls_config(&self.roots).map_err(|message| LongConnectionError::Transport {
                stage: "tls",
                message,
            })?;
        Ok(cache.get_or_init(|| config).clone())
    }
}

fn build_tls_config(
    roots: &[CertificateDer<'static>],
) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let verifier = if roots.is_empty() {
        rustls_platform_verifier::Verifier::new(provider.clone())
    } else {
        rustls_platform_verifier::Verifier::new_with_extra_roots(roots.to_vec(), provider.clone())
    }
    .map_err(|e| format!("the certificate verifier could not be set up: {e}"))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous() // not dangerous: the platform verifier, with extra roots
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn proxies_come_from_the_standard_variables() {
        let wss = reqwest::Url::parse("wss://msg-frontier.feishu.cn/ws/v2?x=1").unwrap();
        let ws = reqwest::Url::parse("ws://127.0.0.1:9/ws").unwrap();
        let p = Proxy::from_env(&wss, &env(&[("https_proxy", "http://u:p%40ss@proxy:3128")]))
            .unwrap()
            .unwrap();
        assert_eq!(p.authority, "proxy:3128");
        // base64("u:p@ss")
        assert_eq!(p.authorization.as_deref(), Some("Basic dTpwQHNz"));
        assert!(!format!("{p:?}").contains("dTpw"), "credentials redacted");
        assert_eq!(
            Proxy::from_env(&ws, &env(&[("HTTPS_PROXY", "proxy:1")])).unwrap(),
            None
        );
        let all = Proxy::from_env(&ws, &env(&[("ALL_PROXY", "proxy")]))
            .unwrap()
            .unwrap();
        assert_eq!(all.authority, "proxy:80");
        let no = env(&[
            ("HTTPS_PROXY", "http://proxy:1"),
            ("NO_PROXY", "localhost,.feishu.cn"),
        ]);
        assert_eq!(Proxy::from_env(&wss, &no).unwrap(), None);
        assert!(Proxy::from_env(&wss, &env(&[("HTTPS_PROXY", "socks5://p:1")])).is_err());
        let bad = Proxy::parse("http://user:pass-SECRET@proxy:99999").unwrap_err();
        assert!(!bad.to_string().contains("SECRET"), "{bad}");
    }

    #[test]
    fn the_tls_configuration_builds_with_the_platform_verifier() {
        let config = TlsSettings::default()
            .client_config()
            .expect("a TLS configuration");
        assert!(
            config.alpn_protocols.is_empty(),
            "plain HTTP/1.1 upgrade, no ALPN"
        );
    }

    #[test]
    fn handshake_refusals_are_classified() {
        let mut h = http::HeaderMap::new();
        h.insert("Handshake-Status", "514".parse().unwrap());
        h.insert("handshake-autherrcode", "1000040350".parse().unwrap());
        assert!(handshake_error(400, &h).is_fatal(), "connection limit");
        h.insert("handshake-autherrcode", "1".parse().unwrap());
        assert!(
            !handshake_error(400, &h).is_fatal(),
            "other auth failures are retried"
        );
        let mut h = http::HeaderMap::new();
        h.insert("handshake-status", "403".parse().unwrap());
        assert!(handshake_error(403, &h).is_fatal());
        assert!(!handshake_error(502, &http::HeaderMap::new()).is_fatal());
    }
}
