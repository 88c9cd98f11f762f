//! What generated builders are made of: a [`Call`] (client + request), sent as a
//! [`ResponseFuture`] that decodes with the generated `FromJson` code.
//!
//! Everything here is non-generic except the final decode, so 1,700 endpoints share one
//! compiled send path.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use reqwest::Method;
use serde_json::Value;

use crate::auth::TokenTypes;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::file::download::Download;
use crate::file::upload::Multipart;
use crate::json::{self, FromJson, ToJson};
use crate::page::{ItemStream, PageStream, Paginator, TokenLocation};
use crate::request::options::RequestOptions;
use crate::request::{RequestBody, RequestSpec};
use crate::response::{RawResponse, Response};

/// What a call must have before it is sent: required query parameters and a body.
#[derive(Debug, Clone, Copy)]
pub struct Required {
    /// Names of required query parameters.
    pub query: &'static [&'static str],
    /// Whether a body is required.
    pub body: bool,
}

/// How a list endpoint pages (from the API descriptors).
#[derive(Debug, Clone, Copy)]
pub struct PageFields {
    /// The array in `data`.
    pub items: &'static str,
    /// The page-token parameter.
    pub token_param: &'static str,
    /// Whether the token travels in the JSON body.
    pub token_in_body: bool,
    /// The "more pages" flag in `data`.
    pub has_more: &'static str,
}

/// A request being built by a generated builder: the client and the described call.
#[derive(Debug, Clone)]
pub struct Call {
    client: Client,
    spec: RequestSpec,
    has_body: bool,
    flat_envelope: bool,
    /// The first required body field left unset, if any.
    missing_field: Option<String>,
}

impl Call {
    /// A call to `path` with `method`, accepting `tokens`.
    pub fn new(client: &Client, method: Method, path: &'static str, tokens: TokenTypes) -> Self {
        Self {
            client: client.clone(),
            spec: RequestSpec::new(method, path).token_types(tokens),
            has_body: false,
            flat_envelope: false,
            missing_field: None,
        }
    }

    /// Operation flag: sends the client's help desk credential.
    pub fn helpdesk_auth(mut self) -> Self {
        self.spec = self.spec.helpdesk_auth();
        self
    }

    /// Operation flag: the answer's fields sit beside `code` and `msg`, with no `data`.
    pub fn flat_envelope(mut self) -> Self {
        self.flat_envelope = true;
        self
    }

    /// Fills a path parameter (percent-encoded).
    pub fn path_param(mut self, name: &str, value: &str) -> Self {
        self.spec = self.spec.path_param(name, value);
        self
    }

    /// Sets a query parameter, replacing an earlier value.
    pub fn set_query(&mut self, key: &str, value: String) {
        self.spec.set_query(key, value);
    }

    /// Adds one value of a repeated query parameter.
    pub fn push_query(&mut self, key: &str, value: String) {
        self.spec.query.push((key.to_owned(), value));
    }

    /// Removes every value of a query parameter.
    pub fn clear_query(&mut self, key: &str) {
        self.spec.query.retain(|(k, _)| k != key);
    }

    /// Sets the JSON body. A field the specs require that is left unset fails the call
    /// with `Error::InvalidRequest` naming it, before anything is sent.
    pub fn json_body(&mut self, body: &dyn ToJsonDyn) {
        // Checked when sent, so that a later `.body(..)` replaces the verdict with the body.
        self.missing_field = body.missing_required();
        // Generated code knows which endpoints take a body, GET ones included.
        self.spec
            .set_body_unchecked(RequestBody::Json(bytes::Bytes::from(body.to_json_bytes())));
        self.has_body = true;
    }

    /// Sets a multipart body.
    pub fn multipart(&mut self, form: Multipart) {
        let spec = std::mem::replace(&mut self.spec, RequestSpec::new(Method::GET, ""));
        self.spec = spec.multipart(form);
        self.has_body = true;
    }

    /// The described call.
    pub fn into_spec(self) -> RequestSpec {
        self.spec
    }

    fn check(&self, required: &Required) -> Result<()> {
        for key in required.query {
            if !self.spec.query.iter().any(|(k, _)| k == key) {
                return Err(Error::InvalidRequest(format!(
                    "{} {} needs the query parameter `{key}`; set it on the builder",
                    self.spec.method, self.spec.path
                )));
            }
        }
        if required.body && !self.has_body {
            return Err(Error::InvalidRequest(format!(
                "{} {} needs a body; set it with `.body(..)`",
                self.spec.method, self.spec.path
            )));
        }
        if let Some(field) = &self.missing_field {
            return Err(Error::InvalidRequest(format!(
                "{} {} needs the body field `{field}`, which is not set (empty); set it in the request body",
                self.spec.method, self.spec.path
            )));
        }
        Ok(())
    }

    /// Sends the call; the future decodes `data` into `T`.
    pub fn send<T: FromJson>(self, required: &Required) -> ResponseFuture<T> {
        let flat = self.flat_envelope;
        ResponseFuture {
            inner: self.send_untyped(required),
            flat,
            _data: PhantomData,
        }
    }

    /// The request itself, the same for every response type: compiled once, not once per
    /// generated endpoint.
    fn send_untyped(
        self,
        required: &Required,
    ) -> Pin<Box<dyn Future<Output = Result<RawResponse>> + Send>> {
        let checked = self.check(required);
        let Call { client, spec, .. } = self;
        Box::pin(async move {
            checked?;
            client.send_raw(&spec).await
        })
    }

    /// Sends the call and reads its answer as server-sent events.
    pub async fn sse(
        self,
        required: &Required,
        options: crate::sse::SseOptions,
    ) -> Result<crate::sse::SseStream> {
        self.check(required)?;
        self.client.sse(&self.spec, &options).await
    }

    /// Sends a call whose answer is a file.
    pub fn download(self, required: &Required) -> DownloadFuture {
        let checked = self.check(required);
        let Call { client, spec, .. } = self;
        Box::pin(async move {
            checked?;
            client.download(&spec).await
        })
    }

    /// Pages through a list endpoint.
    pub fn paginate(self, required: &Required, fields: PageFields) -> TypedPaginator {
        let checked = self.check(required).err();
        let Call { client, spec, .. } = self;
        let mut pager = Paginator::new(client, spec)
            .items_field(fields.items)
            .has_more_field(fields.has_more)
            .page_token_param(
                fields.token_param,
                if fields.token_in_body {
                    TokenLocation::Body
                } else {
                    TokenLocation::Query
                },
            );
        if let Some(Error::InvalidRequest(message)) = checked {
            pager = pager.fail_with(message);
        }
        TypedPaginator { pager }
    }
}

/// A `ToJson` value behind a `dyn` pointer, so setting a body is not generic.
pub trait ToJsonDyn {
    /// The value encoded as JSON.
    fn to_json_bytes(&self) -> Vec<u8>;
    /// See [`ToJson::missing_required`].
    fn missing_required(&self) -> Option<String>;
}

impl<T: ToJson> ToJsonDyn for T {
    fn to_json_bytes(&self) -> Vec<u8> {
        json::to_vec(self)
    }
    fn missing_required(&self) -> Option<String> {
        ToJson::missing_required(self)
    }
}

/// A paginator whose items decode with generated `FromJson` code.
#[derive(Debug)]
pub struct TypedPaginator {
    pager: Paginator,
}

impl TypedPaginator {
    /// Items per page.
    pub fn page_size(mut self, size: u32) -> Self {
        self.pager = self.pager.page_size(size);
        self
    }

    /// Stops after this many items.
    pub fn limit(mut self, items: usize) -> Self {
        self.pager = self.pager.limit(items);
        self
    }

    /// Every item, lazily.
    pub fn typed_items<T: FromJson + Send + 'static>(self) -> ItemStream<T> {
        self.pager.items_with(decode_item::<T>)
    }

    /// Every page, lazily.
    pub fn typed_pages<T: FromJson + Send + 'static>(self) -> PageStream<T> {
        self.pager.pages_with(decode_item::<T>)
    }
}

fn decode_item<T: FromJson>(value: Value) -> std::result::Result<T, String> {
    T::from_json(value).map_err(|e| e.to_string())
}

/// The answer of a generated call, decoded into `T`. Await it.
#[must_use = "futures do nothing unless awaited"]
pub struct ResponseFuture<T> {
    inner: Pin<Box<dyn Future<Output = Result<RawResponse>> + Send>>,
    flat: bool,
    _data: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for ResponseFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseFuture")
    }
}

impl<T: FromJson> Future for ResponseFuture<T> {
    type Output = Result<Response<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.inner.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(raw)) => Poll::Ready(raw.typed_as::<T>(self.flat)),
        }
    }
}

/// The answer of a generated download call.
pub type DownloadFuture = Pin<Box<dyn Future<Output = Result<Download>> + Send>>;

/// Per-call options on every request builder (generated ones and
/// [`RawRequest`](crate::RawRequest)): tenant key, tokens, headers, timeout, retries. One
/// trait instead of the same methods on 1,700 builders; bring it into scope with
/// `use lark_oapi::CallOptions;` (or `use lark_oapi::prelude::*;`).
///
/// Each setter is [`RequestOptions`]'s, applied to the builder's options: the one place they
/// are written.
///
/// ```no_run
/// use std::time::Duration;
/// use lark_oapi_core::{CallOptions, Client, Method};
/// # fn demo(client: Client) {
/// let request = client
///     .request(Method::GET, "/open-apis/im/v1/chats")
///     .tenant_key("tenant-1")
///     .header("X-Request-Tag", "nightly-sync")
///     .timeout(Duration::from_secs(5));
/// # }
/// ```
pub trait CallOptions: Sized {
    /// The builder's per-call options.
    fn options_mut(&mut self) -> &mut RequestOptions;

    /// Changes the per-call options.
    fn with_options(mut self, f: impl FnOnce(RequestOptions) -> RequestOptions) -> Self {
        let options = self.options_mut();
        *options = f(std::mem::take(options));
        self
    }

    /// Replaces every per-call option.
    fn options(self, options: RequestOptions) -> Self {
        self.with_options(|_| options)
    }

    /// The tenant to act in (marketplace apps).
    fn tenant_key(self, tenant_key: impl Into<String>) -> Self {
        self.with_options(|o| o.tenant_key(tenant_key))
    }

    /// Calls as a user: sends this user access token.
    fn user_access_token(self, token: impl Into<crate::SecretString>) -> Self {
        self.with_options(|o| o.user_access_token(token))
    }

    /// Calls as the user stored under `key` in `users` (see [`RequestOptions::on_behalf_of`]).
    fn on_behalf_of(self, users: &crate::UserTokens, key: impl Into<String>) -> Self {
        self.with_options(|o| o.on_behalf_of(users, key))
    }

    /// Paces the call under `key` at `rate` (see [`RequestOptions::pace`]).
    fn pace(self, key: impl Into<String>, rate: crate::pacing::Rate) -> Self {
        self.with_options(|o| o.pace(key, rate))
    }

    /// Sends this tenant access token instead of a fetched one.
    fn tenant_access_token(self, token: impl Into<crate::SecretString>) -> Self {
        self.with_options(|o| o.tenant_access_token(token))
    }

    /// Sends this app access token instead of a fetched one.
    fn app_access_token(self, token: impl Into<crate::SecretString>) -> Self {
        self.with_options(|o| o.app_access_token(token))
    }

    /// The help desk credential for this call (see [`RequestOptions::helpdesk`]).
    fn helpdesk(self, helpdesk_id: &str, helpdesk_token: &str) -> Self {
        self.with_options(|o| o.helpdesk(helpdesk_id, helpdesk_token))
    }

    /// An extra header; it replaces the SDK's value of that header (see
    /// [`RequestOptions::header`]).
    fn header(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.with_options(|o| o.header(name, value))
    }

    /// Timeout of each attempt of this call (see [`RequestOptions::timeout`]).
    fn timeout(self, timeout: std::time::Duration) -> Self {
        self.with_options(|o| o.timeout(timeout))
    }

    /// Retry policy of this call.
    fn retry_policy(self, policy: crate::RetryPolicy) -> Self {
        self.with_options(|o| o.retry_policy(policy))
    }
}

impl CallOptions for Call {
    fn options_mut(&mut self) -> &mut RequestOptions {
        self.spec.options_mut()
    }
}
