//! Client configuration: credentials, domain, app type, timeouts, token cache, retries.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;

use crate::auth::{MemoryTokenCache, TokenCache};
use crate::error::{Error, Result};
use crate::request::retry::RetryPolicy;
use crate::secret::SecretString;

/// The User-Agent every request carries.
pub const USER_AGENT: &str = concat!("lark-oapi-rust/", env!("CARGO_PKG_VERSION"));

/// Which platform to talk to.
///
/// ```
/// use lark_oapi_core::Domain;
/// assert_eq!(Domain::Feishu.base_url(), "https://open.feishu.cn");
/// assert_eq!(Domain::Lark.base_url(), "https://open.larksuite.com");
/// // Any base URL, e.g. a gateway: a trailing slash is trimmed, a path prefix is kept.
/// let custom = Domain::custom("https://gw.example.com/lark/");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Domain {
    /// Feishu (China): `https://open.feishu.cn`.
    #[default]
    Feishu,
    /// Lark (international): `https://open.larksuite.com`.
    Lark,
    /// Any base URL (`http` or `https`); validated when the config is built.
    Custom(String),
}

impl Domain {
    /// A custom base URL, e.g. a proxy or the embedded mock platform.
    pub fn custom(base_url: impl Into<String>) -> Self {
        Domain::Custom(base_url.into())
    }

    /// The base URL as given (before validation).
    pub fn base_url(&self) -> &str {
        match self {
            Domain::Feishu => "https://open.feishu.cn",
            Domain::Lark => "https://open.larksuite.com",
            Domain::Custom(s) => s,
        }
    }

    /// Parses `feishu`, `lark` (any case) or a base URL.
    pub fn parse(value: &str) -> Self {
        match value.trim().to_ascii_lowercase().as_str() {
            "feishu" => Domain::Feishu,
            "lark" | "larksuite" => Domain::Lark,
            _ => Domain::Custom(value.trim().to_owned()),
        }
    }
}

/// Validates a base URL and returns it without trailing slashes.
pub(crate) fn normalize_base_url(raw: &str) -> Result<(String, reqwest::Url)> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|e| {
        Error::Config(format!(
            "domain {raw:?} is not a valid URL ({e}); use Domain::Feishu, Domain::Lark or a base URL like \"https://open.feishu.cn\""
        ))
    })?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(Error::Config(format!(
            "domain {raw:?} must use http or https, not {:?}",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::Config(format!("domain {raw:?} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(format!(
            "domain {:?} carries credentials; put none in the URL",
            url.host_str().unwrap_or_default()
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "domain {raw:?} must not have a query or fragment"
        )));
    }
    let mut s = url.as_str().to_owned();
    while s.ends_with('/') {
        s.pop();
    }
    Ok((s, url))
}

/// How the app is distributed; decides how tokens are obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AppType {
    /// A custom app built for one tenant ("self-built", "internal").
    #[default]
    SelfBuilt,
    /// An app from the app store ("marketplace", ISV): tokens need the app_ticket the platform
    /// pushes, and tenant tokens need a tenant key per call.
    Marketplace,
}

/// The help desk credential: sent as `X-Lark-Helpdesk-Authorization` on help desk APIs.
#[derive(Clone)]
pub struct HelpdeskCredential {
    header: SecretString,
}

impl HelpdeskCredential {
    /// A help desk id and token, from the help desk's settings page.
    pub fn new(helpdesk_id: &str, helpdesk_token: &str) -> Self {
        let raw = format!("{helpdesk_id}:{helpdesk_token}");
        Self {
            header: SecretString::new(base64::engine::general_purpose::STANDARD.encode(raw)),
        }
    }

    pub(crate) fn header_value(&self) -> &str {
        self.header.expose()
    }
}

impl fmt::Debug for HelpdeskCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HelpdeskCredential(<redacted>)")
    }
}

/// Validated client configuration. Build it with [`Config::builder`].
#[derive(Clone)]
pub struct Config {
    pub(crate) app_id: String,
    pub(crate) app_secret: SecretString,
    pub(crate) base_url: String,
    /// The base URL parsed once; request URLs are derived from it without re-parsing the host.
    pub(crate) base: reqwest::Url,
    /// The base URL's path prefix without a trailing slash (usually empty).
    pub(crate) base_path: String,
    pub(crate) app_type: AppType,
    pub(crate) helpdesk: Option<HelpdeskCredential>,
    pub(crate) http: reqwest::Client,
    pub(crate) timeout: Option<Duration>,
    pub(crate) token_cache_enabled: bool,
    pub(crate) token_cache: Arc<dyn TokenCache>,
    pub(crate) pacer: crate::pacing::Pacer,
    pub(crate) token_refresh_margin: Duration,
    pub(crate) retry: RetryPolicy,
    /// `lark-oapi-rust/<version>`, then the app's own product if it named one.
    pub(crate) user_agent: reqwest::header::HeaderValue,
    /// Extra trusted root certificates (DER), beside the platform's.
    #[cfg_attr(not(feature = "long-connection"), allow(dead_code))]
    pub(crate) root_certificates: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// Signs client assertions in place of the app secret.
    pub(crate) client_assertion: Option<Arc<dyn crate::auth::ClientAssertionProvider>>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("app_id", &self.app_id)
            .field("app_secret", &self.app_secret)
            .field("base_url", &self.base_url)
            .field("app_type", &self.app_type)
            .field("client_assertion", &self.client_assertion.is_some())
            .field("helpdesk", &self.helpdesk)
            .field("timeout", &self.timeout)
            .field("token_cache_enabled", &self.token_cache_enabled)
            .field("token_refresh_margin", &self.token_refresh_margin)
            .field("retry", &self.retry)
            .field("pacer", &self.pacer)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The accounts host of the platform's own domains (the OAuth endpoints); a custom
    /// domain (a gateway, the mock platform) serves them itself.
    pub(crate) fn accounts_base(&self) -> String {
        match self.base.host_str() {
            Some("open.feishu.cn") => "https://accounts.feishu.cn".to_owned(),
            Some("open.larksuite.com") => "https://accounts.larksuite.com".to_owned(),
            _ => format!(
                "{}{}",
                self.base.origin().ascii_serialization(),
                self.base_path
            ),
        }
    }

    /// Starts a configuration for an app id and secret (from the developer console).
    ///
    /// ```
    /// use std::time::Duration;
    /// use lark_oapi_core::{AppType, Config, Domain};
    /// let config = Config::builder("cli_a1b2c3d4e5f60718", "secret")
    ///     .domain(Domain::Lark)
    ///     .app_type(AppType::SelfBuilt)
    ///     .timeout(Duration::from_secs(10))
    ///     .build()?;
    /// assert_eq!(config.base_url(), "https://open.larksuite.com");
    /// # Ok::<(), lark_oapi_core::Error>(())
    /// ```
    pub fn builder(
        app_id: impl Into<String>,
        app_secret: impl Into<SecretString>,
    ) -> ConfigBuilder {
        ConfigBuilder {
            app_id: app_id.into(),
            app_secret: app_secret.into(),
            domain: Domain::Feishu,
            app_type: AppType::SelfBuilt,
            helpdesk: None,
            http: None,
            timeout: Some(Duration::from_secs(30)),
            connect_timeout: Duration::from_secs(10),
            token_cache_enabled: true,
            token_cache: None,
            pacer: None,
            token_refresh_margin: Duration::from_secs(180),
            retry: RetryPolicy::default(),
            root_certificates: Vec::new(),
            user_agent_product: None,
            client_assertion: None,
        }
    }

    /// The app id.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The normalised base URL (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The app type.
    pub fn app_type(&self) -> AppType {
        self.app_type
    }

    /// The default timeout of each attempt of a call.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The pacer of calls made with this configuration ([`crate::pacing`]).
    pub fn pacer(&self) -> &crate::pacing::Pacer {
        &self.pacer
    }
}

/// Builder for [`Config`]; `build()` validates every setting once.
pub struct ConfigBuilder {
    app_id: String,
    app_secret: SecretString,
    domain: Domain,
    app_type: AppType,
    helpdesk: Option<(String, SecretString)>,
    http: Option<reqwest::Client>,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    token_cache_enabled: bool,
    token_cache: Option<Arc<dyn TokenCache>>,
    pacer: Option<crate::pacing::Pacer>,
    token_refresh_margin: Duration,
    retry: RetryPolicy,
    root_certificates: Vec<RootCertificate>,
    user_agent_product: Option<String>,
    client_assertion: Option<Arc<dyn crate::auth::ClientAssertionProvider>>,
}

/// A root certificate as given to the builder; PEM is parsed at `build()`.
enum RootCertificate {
    Der(Vec<u8>),
    Pem(Vec<u8>),
}

impl fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigBuilder")
            .field("app_id", &self.app_id)
            .field("app_secret", &self.app_secret)
            .field("domain", &self.domain)
            .field("app_type", &self.app_type)
            .field("client_assertion", &self.client_assertion.is_some())
            .field("helpdesk", &self.helpdesk.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl ConfigBuilder {
    /// Proves the app's identity with client assertions that `provider` signs (RFC 7523),
    /// instead of the app secret: pass an empty app secret to [`Config::builder`]. Self-built
    /// apps only. See [`ClientAssertionProvider`](crate::ClientAssertionProvider).
    pub fn client_assertion(mut self, provider: impl crate::auth::ClientAssertionProvider) -> Self {
        self.client_assertion = Some(Arc::new(provider));
        self
    }

    /// Feishu (default), Lark, or a custom base URL.
    pub fn domain(mut self, domain: Domain) -> Self {
        self.domain = domain;
        self
    }

    /// Self-built (default) or marketplace app.
    pub fn app_type(mut self, app_type: AppType) -> Self {
        self.app_type = app_type;
        self
    }

    /// Help desk id and token, sent as `X-Lark-Helpdesk-Authorization` on the help desk
    /// APIs (the generated ones; raw requests with `.helpdesk_auth()`).
    pub fn helpdesk(
        mut self,
        helpdesk_id: impl Into<String>,
        helpdesk_token: impl Into<SecretString>,
    ) -> Self {
        self.helpdesk = Some((helpdesk_id.into(), helpdesk_token.into()));
        self
    }

    /// Also trusts this root certificate (DER), beside the operating system's roots: for a
    /// gateway or TLS-inspecting proxy with a private CA. It applies to the built-in HTTP
    /// client and to the long connection's WebSocket (with your own
    /// [`http_client`](Self::http_client), add it there too).
    ///
    /// ```no_run
    /// let der = std::fs::read("corporate-ca.der").expect("the CA certificate");
    /// let config = lark_oapi_core::Config::builder("cli_a", "secret")
    ///     .add_root_certificate(der)
    ///     .build()?;
    /// # Ok::<(), lark_oapi_core::Error>(())
    /// ```
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.root_certificates
            .push(RootCertificate::Der(der.into()));
        self
    }

    /// Like [`add_root_certificate`](Self::add_root_certificate), from PEM text holding one
    /// or more `CERTIFICATE` blocks; `build()` fails if it holds none or one is malformed.
    pub fn add_root_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.root_certificates
            .push(RootCertificate::Pem(pem.as_ref().to_vec()));
        self
    }

    /// Uses your own `reqwest::Client` (proxies, TLS roots, pools). reqwest is built here
    /// without a default rustls crypto provider: build your client after the first
    /// `Config::build()` (which installs *ring* if none is installed), or install one
    /// yourself, e.g. `rustls::crypto::ring::default_provider().install_default()`.
    /// Its own timeouts apply in addition to this config's; `connect_timeout` is then yours
    /// to set on it.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Default timeout of each attempt of a call, from sending until the body is read (30 s
    /// by default; for downloads, until the headers arrive). Idempotent calls that time out
    /// are retried within the retry policy, each attempt with this timeout. Overridable per
    /// call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// No total timeout by default.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// Connect timeout of the built-in HTTP client (10 s by default).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Turns the token cache on (default) or off. Off, every call fetches a fresh token
    /// (calls are still authenticated); tokens passed per call are always used as given.
    pub fn enable_token_cache(mut self, enabled: bool) -> Self {
        self.token_cache_enabled = enabled;
        self
    }

    /// A shared token cache (e.g. Redis) instead of the in-memory one.
    pub fn token_cache(mut self, cache: Arc<dyn TokenCache>) -> Self {
        self.token_cache = Some(cache);
        self
    }

    /// The pacer that spaces calls under rate limits (default: one of this process,
    /// [`Pacer::new`](crate::pacing::Pacer::new)). Give every process of an app a pacer
    /// on one shared store (e.g. Redis) to keep them together under a limit.
    ///
    /// ```
    /// use std::time::Duration;
    /// use lark_oapi_core::{Config, pacing::Pacer};
    /// let config = Config::builder("cli_a1b2c3d4e5f60718", "secret")
    ///     .pacer(Pacer::new().max_wait(Duration::from_secs(3)))
    ///     .build()?;
    /// # Ok::<(), lark_oapi_core::Error>(())
    /// ```
    pub fn pacer(mut self, pacer: crate::pacing::Pacer) -> Self {
        self.pacer = Some(pacer);
        self
    }

    /// How long before expiry a cached token is refreshed (3 minutes by default; at most 30 minutes).
    pub fn token_refresh_margin(mut self, margin: Duration) -> Self {
        self.token_refresh_margin = margin;
        self
    }

    /// The retry policy (see [`RetryPolicy`]); `RetryPolicy::disabled()` turns retries off.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Adds your app's name and version to the `User-Agent` the SDK sends (as the official
    /// SDKs' `source` option does), so that the platform's logs tell your app apart:
    /// `lark-oapi-rust/0.1.0 my-bot/1.2.0`. One or more products (`name` or `name/version`,
    /// separated by spaces); anything else fails at [`build`](Self::build).
    ///
    /// ```
    /// let config = lark_oapi_core::Config::builder("cli_a1b2c3d4e5f60718", "secret")
    ///     .user_agent_product("my-bot/1.2.0")
    ///     .build()?;
    /// # Ok::<(), lark_oapi_core::Error>(())
    /// ```
    pub fn user_agent_product(mut self, product: impl Into<String>) -> Self {
        self.user_agent_product = Some(product.into());
        self
    }

    /// Validates and builds the configuration.
    pub fn build(self) -> Result<Config> {
        if self.app_id.trim().is_empty() {
            return Err(Error::Config(
                "app_id is empty; pass the app id from the developer console (cli_...)".into(),
            ));
        }
        if self.app_secret.is_empty() && self.client_assertion.is_none() {
            return Err(Error::Config(
                "app_secret is empty; pass the app secret from the developer console (or set a client_assertion provider)".into(),
            ));
        }
        if self.client_assertion.is_some() && self.app_type == AppType::Marketplace {
            return Err(Error::Config(
                "client assertions are for self-built apps; a marketplace app authenticates with its app secret and app_ticket".into(),
            ));
        }
        let (base_url, base) = normalize_base_url(self.domain.base_url())?;
        let base_path = base.path().trim_end_matches('/').to_owned();
        if self.timeout == Some(Duration::ZERO) {
            return Err(Error::Config(
                "timeout is zero; use no_timeout() for none".into(),
            ));
        }
        if self.connect_timeout.is_zero() {
            return Err(Error::Config("connect_timeout is zero".into()));
        }
        if self.token_refresh_margin > Duration::from_secs(30 * 60) {
            return Err(Error::Config(format!(
                "token_refresh_margin {:?} is over 30 minutes; the platform only issues a new token in a token's last 30 minutes",
                self.token_refresh_margin
            )));
        }
        self.retry.validate()?;
        let helpdesk = match self.helpdesk {
            Some((id, token)) => {
                if id.trim().is_empty() || token.is_empty() {
                    return Err(Error::Config(
                        "helpdesk id and token must both be non-empty".into(),
                    ));
                }
                Some(HelpdeskCredential::new(&id, token.expose()))
            }
            None => None,
        };
        let user_agent = user_agent(self.user_agent_product.as_deref())?;
        let root_certificates = parse_roots(self.root_certificates)?;
        let http = match self.http {
            Some(client) => client,
            None => build_http_client(self.connect_timeout, &root_certificates)?,
        };
        Ok(Config {
            app_id: self.app_id,
            app_secret: self.app_secret,
            base_url,
            base,
            base_path,
            app_type: self.app_type,
            helpdesk,
            http,
            timeout: self.timeout,
            token_cache_enabled: self.token_cache_enabled,
            token_cache: self
                .token_cache
                .unwrap_or_else(|| Arc::new(MemoryTokenCache::new())),
            pacer: self.pacer.unwrap_or_default(),
            token_refresh_margin: self.token_refresh_margin,
            retry: self.retry,
            user_agent,
            root_certificates,
            client_assertion: self.client_assertion,
        })
    }
}

/// The SDK's product, then the app's (checked: `token["/"token]`, space-separated).
fn user_agent(product: Option<&str>) -> Result<reqwest::header::HeaderValue> {
    let Some(product) = product else {
        return Ok(reqwest::header::HeaderValue::from_static(USER_AGENT));
    };
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    let valid = !product.is_empty()
        && product.split(' ').all(|p| {
            let mut parts = p.splitn(2, '/');
            let name = parts.next().unwrap_or_default();
            !name.is_empty()
                && name.chars().all(tchar)
                && parts
                    .next()
                    .is_none_or(|v| !v.is_empty() && v.chars().all(tchar))
        });
    if !valid {
        return Err(Error::Config(format!(
            "user_agent_product {product:?} is not a product list: use `name/version` (letters, digits and !#$%&'*+-.^_`|~), several separated by single spaces, e.g. \"my-bot/1.2.0\""
        )));
    }
    reqwest::header::HeaderValue::from_str(&format!("{USER_AGENT} {product}"))
        .map_err(|e| Error::Config(format!("user_agent_product {product:?}: {e}")))
}

fn parse_roots(
    roots: Vec<RootCertificate>,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut out = Vec::with_capacity(roots.len());
    for (i, root) in roots.into_iter().enumerate() {
        match root {
            RootCertificate::Der(der) => {
                // A DER certificate is a SEQUENCE; catch PEM or other text passed by mistake.
                if der.first() != Some(&0x30) {
                    return Err(Error::Config(format!(
                        "root certificate #{} is not DER (it does not start with a SEQUENCE); for PEM text use add_root_certificate_pem",
                        i + 1
                    )));
                }
                out.push(CertificateDer::from(der));
            }
            RootCertificate::Pem(pem) => {
                let before = out.len();
                for cert in CertificateDer::pem_slice_iter(&pem) {
                    out.push(cert.map_err(|e| {
                        Error::Config(format!("root certificate #{} is not valid PEM: {e}", i + 1))
                    })?);
                }
                if out.len() == before {
                    return Err(Error::Config(format!(
                        "root certificate #{} holds no PEM CERTIFICATE block",
                        i + 1
                    )));
                }
            }
        }
    }
    // Parsed as trust anchors now, so a bad certificate fails here, not at the first
    // handshake (and also when the HTTP client is your own).
    let mut check = rustls::RootCertStore::empty();
    for (i, cert) in out.iter().enumerate() {
        check.add(cert.clone()).map_err(|e| {
            Error::Config(format!(
                "root certificate #{} is not a usable certificate: {e}",
                i + 1
            ))
        })?;
    }
    Ok(out)
}

fn build_http_client(
    connect_timeout: Duration,
    roots: &[rustls::pki_types::CertificateDer<'static>],
) -> Result<reqwest::Client> {
    // reqwest is built without a default rustls provider (that would pull aws-lc-sys):
    // use ring, unless the application installed a provider of its own.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: a provider is installed either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let mut certs = Vec::with_capacity(roots.len());
    for der in roots {
        certs.push(
            reqwest::Certificate::from_der(der)
                .map_err(|e| Error::Config(format!("a root certificate is not usable: {e}")))?,
        );
    }
    reqwest::Client::builder()
        .tls_certs_merge(certs)
        .user_agent(USER_AGENT)
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .build()
        .map_err(|e| Error::Config(format!("could not build the HTTP client: {e}")))
}
