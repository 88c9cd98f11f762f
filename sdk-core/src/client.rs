//! The client: cheap to clone, shared by every request builder.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::auth::TokenKind;
use crate::config::Config;
use crate::error::Result;
use crate::file::download::Download;
use crate::request::RequestSpec;
use crate::request::exchange::Delivered;
use crate::request::send::Runtime;
use crate::response::{RawResponse, Response};
use crate::secret::SecretString;

/// A Feishu/Lark Open Platform client.
///
/// Holds the configuration, the token manager and the HTTP connection pool behind one
/// `Arc`: clone it freely, share it between tasks, keep one per app.
///
/// ```no_run
/// use lark_oapi_core::{Client, Config, Method};
/// # async fn run() -> lark_oapi_core::Result<()> {
/// let client = Client::new(Config::builder("cli_a1b2c3d4e5f60718", "app-secret").build()?);
/// let resp = client
///     .request(Method::POST, "/open-apis/im/v1/messages")
///     .query("receive_id_type", "chat_id")
///     .json(&serde_json::json!({
///         "receive_id": "oc_xxx", "msg_type": "text", "content": "{\"text\":\"hi\"}"
///     }))
///     .send_value()
///     .await?;
/// println!("{} (log id {:?})", resp.data()["message_id"], resp.log_id());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Runtime>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for a validated [`Config`].
    pub fn new(config: Config) -> Self {
        Self {
            inner: Arc::new(Runtime::new(config)),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Sends a described call and returns the successful raw answer. Non-generic: the
    /// one entry point of generated bindings.
    pub async fn send_raw(&self, spec: &RequestSpec) -> Result<RawResponse> {
        match self.inner.execute(spec, false).await? {
            Delivered::Buffered(raw) => Ok(raw),
            Delivered::Streaming { .. } => unreachable!("buffered mode never streams"),
        }
    }

    /// Sends a described call and decodes the envelope's `data` into `T`.
    pub async fn send<T: DeserializeOwned>(&self, spec: &RequestSpec) -> Result<Response<T>> {
        self.send_raw(spec).await?.data()
    }

    /// Sends a described call whose success body is a file; see [`Download`].
    pub async fn download(&self, spec: &RequestSpec) -> Result<Download> {
        Download::from_delivered(self.inner.execute(spec, true).await?, spec)
    }

    /// Stores the app_ticket the platform pushed (marketplace apps). The event dispatcher
    /// calls this for you when it receives an `app_ticket` event.
    pub async fn set_app_ticket(&self, ticket: &str) {
        self.inner.tokens.set_app_ticket(&*self.inner, ticket).await;
    }

    /// Asks the platform to push the app_ticket again (marketplace apps).
    pub async fn resend_app_ticket(&self) -> Result<()> {
        self.inner.tokens.resend_app_ticket(&*self.inner).await
    }

    /// The current tenant access token (cached or fetched); `tenant_key` for marketplace apps.
    pub async fn tenant_access_token(&self, tenant_key: Option<&str>) -> Result<SecretString> {
        self.inner
            .tokens
            .token(&*self.inner, TokenKind::Tenant, tenant_key)
            .await
    }

    /// The current app access token (cached or fetched).
    pub async fn app_access_token(&self) -> Result<SecretString> {
        self.inner
            .tokens
            .token(&*self.inner, TokenKind::App, None)
            .await
    }

    /// How many retry tokens the client-wide budget has left (for monitoring).
    pub fn retry_budget_available(&self) -> u32 {
        self.inner.budget.available()
    }
}
