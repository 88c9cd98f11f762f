//! `client.request(method, path)`: the raw request builder, first-class on its own.

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::TokenTypes;
use crate::call::CallOptions;
use crate::client::Client;
use crate::error::Result;
use crate::file::download::Download;
use crate::file::upload::Multipart;
use crate::page::Paginator;
use crate::request::RequestSpec;
use crate::request::options::RequestOptions;
use crate::response::{RawResponse, Response};
use crate::sse::{SseOptions, SseStream};

/// A request to any endpoint, built fluently and sent with one of the `send` methods. The
/// per-call options (tokens, tenant key, headers, timeout, retries) are
/// [`CallOptions`]'s, as on every generated builder.
///
/// ```no_run
/// # async fn run(client: lark_oapi_core::Client) -> lark_oapi_core::Result<()> {
/// use lark_oapi_core::{CallOptions, Method};
/// #[derive(serde::Deserialize, Debug)]
/// struct Chat { chat_id: String, name: Option<String> }
/// #[derive(serde::Deserialize, Debug)]
/// struct ChatPage { items: Vec<Chat>, has_more: bool }
///
/// let page = client
///     .request(Method::GET, "/open-apis/im/v1/chats")
///     .query("page_size", 20)
///     .user_access_token("u-xxx")
///     .send::<ChatPage>()
///     .await?;
/// println!("{} chats, log id {:?}", page.items.len(), page.log_id());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is sent"]
pub struct RawRequest {
    client: Client,
    spec: RequestSpec,
}

// Here rather than in `client.rs`: the client knows nothing of the builders made from it.
impl Client {
    /// A raw request to any endpoint: `path` is `/open-apis/...` (with `:name` parameters
    /// filled by [`RawRequest::path_param`]) or an absolute URL.
    pub fn request(&self, method: Method, path: impl Into<String>) -> RawRequest {
        RawRequest::new(self.clone(), RequestSpec::new(method, path))
    }
}

impl RawRequest {
    pub(crate) fn new(client: Client, spec: RequestSpec) -> Self {
        Self { client, spec }
    }

    /// Fills a `:name` path segment (percent-encoded).
    pub fn path_param(mut self, name: &str, value: impl AsRef<str>) -> Self {
        self.spec = self.spec.path_param(name, value);
        self
    }

    /// Adds a query pair.
    pub fn query(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.spec = self.spec.query(key, value);
        self
    }

    /// Adds a repeated query key, one pair per value.
    pub fn query_all<V: ToString>(
        mut self,
        key: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.spec = self.spec.query_all(key, values);
        self
    }

    /// A JSON body (not on GET).
    pub fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Self {
        self.spec = self.spec.json(body);
        self
    }

    /// A multipart body (uploads).
    pub fn multipart(mut self, form: Multipart) -> Self {
        self.spec = self.spec.multipart(form);
        self
    }

    /// The token kinds the endpoint accepts (default: any, tenant preferred).
    pub fn token_types(mut self, types: TokenTypes) -> Self {
        self.spec = self.spec.token_types(types);
        self
    }

    /// Sends the client's help desk credential (see [`RequestSpec::helpdesk_auth`]).
    pub fn helpdesk_auth(mut self) -> Self {
        self.spec = self.spec.helpdesk_auth();
        self
    }

    /// Sends no `Authorization` header.
    pub fn no_auth(self) -> Self {
        self.token_types(TokenTypes::NONE)
    }

    /// The described call, e.g. to send it later with [`Client::send`].
    pub fn into_spec(self) -> RequestSpec {
        self.spec
    }

    /// Sends and decodes `data` into `T`.
    pub async fn send<T: DeserializeOwned>(self) -> Result<Response<T>> {
        self.client.send::<T>(&self.spec).await
    }

    /// Sends and returns `data` as a JSON value.
    pub async fn send_value(self) -> Result<Response<serde_json::Value>> {
        self.send::<serde_json::Value>().await
    }

    /// Sends and returns the successful raw answer.
    pub async fn send_raw(self) -> Result<RawResponse> {
        self.client.send_raw(&self.spec).await
    }

    /// Sends a download request.
    pub async fn download(self) -> Result<Download> {
        self.client.download(&self.spec).await
    }

    /// Sends the call and reads its answer as server-sent events, with the default
    /// [`SseOptions`]; see [`crate::sse`].
    pub async fn sse(self) -> Result<SseStream> {
        self.sse_with(SseOptions::default()).await
    }

    /// [`RawRequest::sse`] with its deadlines, event size limit and `Last-Event-ID`.
    pub async fn sse_with(self, options: SseOptions) -> Result<SseStream> {
        self.client.sse(&self.spec, &options).await
    }

    /// Pages through a list endpoint; see [`Paginator`].
    pub fn paginate(self) -> Paginator {
        Paginator::new(self.client, self.spec)
    }
}

impl CallOptions for RawRequest {
    fn options_mut(&mut self) -> &mut RequestOptions {
        self.spec.options_mut()
    }
}
