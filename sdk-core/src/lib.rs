//! # lark-oapi-core
//!
//! The hand-written runtime of the Feishu/Lark Open Platform SDK for Rust. Users depend on
//! `lark-oapi`, which re-exports everything here next to the typed bindings.
//!
//! What it does on every call: chooses the access token (a per-call token, else a cached
//! tenant or app token, fetched once for all concurrent callers), sends the request, keeps
//! the platform's log id, turns a non-zero `code` into [`Error::Api`], evicts and replays a
//! token the platform rejects, and backs off on rate limits and transient failures within a
//! client-wide retry budget.
//!
//! ```no_run
//! use lark_oapi_core::{Client, Config, Domain, Method};
//!
//! # async fn run() -> lark_oapi_core::Result<()> {
//! let config = Config::builder("cli_a1b2c3d4e5f60718", "app-secret")
//!     .domain(Domain::Feishu)
//!     .build()?;
//! let client = Client::new(config);
//! let chats = client
//!     .request(Method::GET, "/open-apis/im/v1/chats")
//!     .query("page_size", 20)
//!     .send_value()
//!     .await?;
//! println!("{}", chats.data());
//! # Ok(()) }
//! ```
//!
//! Logging goes through `tracing`: one `lark_request` span per call (method, path, status,
//! log id, retries), token fetches and retries as events. Secrets never appear in logs,
//! `Debug` or `Display`.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
mod call;
pub mod card;
mod client;
mod config;
#[cfg(feature = "events")]
pub mod dispatcher;
mod error;
#[cfg(feature = "events")]
pub mod event_crypto;
mod file;
#[cfg(feature = "long-connection")]
pub mod long_connection;
pub mod oauth;
pub mod pacing;
mod page;
mod request;
mod response;
mod secret;
pub mod sse;
mod unknown;

pub use auth::{
    AssertionError, BoxFuture, CacheError, ClientAssertionProvider, MemoryTokenCache,
    MemoryUserTokenStore, TokenCache, TokenTypes, UserToken, UserTokenFlow, UserTokenStore,
    UserTokens, UserTokensBuilder,
};
pub use call::{CallOptions, DownloadFuture, ResponseFuture};
pub use client::Client;
pub use config::{AppType, Config, ConfigBuilder, Domain, HelpdeskCredential, USER_AGENT};
pub use error::{
    ApiError, AuthError, AuthErrorKind, DecodeError, Error, ErrorDetail, ErrorHelp, FieldViolation,
    HttpError, OAuthError, PermissionViolation, Result, TransportError, codes,
};
pub use file::download::{ByteStream, Download};
pub use file::upload::{DEFAULT_FILE_NAME, FilePart, Multipart};
pub use json::JsonError;
pub use page::{ItemStream, Page, PageStream, Paginator, TokenLocation};
pub use request::RequestSpec;
pub use request::options::RequestOptions;
pub use request::raw::RawRequest;
pub use request::retry::RetryPolicy;
pub use response::{RawResponse, Response};
pub use secret::SecretString;
pub use unknown::UnknownValue;

/// The HTTP client crate, so a custom `reqwest::Client` matches this SDK's version.
pub use reqwest;
/// HTTP methods (re-exported from `http`).
pub use reqwest::Method;

/// Decodes a generated type (a model, an event payload) from JSON, as leniently as
/// responses are decoded: absent or `null` fields take their defaults, unknown keys are
/// ignored, numbers and booleans given as strings are read. The error names the path of the
/// value that did not fit.
///
/// ```
/// # #[derive(Default, Debug)] struct Chat { chat_id: String }
/// # impl lark_oapi_core::__private::json::FromJson for Chat {
/// #     fn from_json(v: serde_json::Value) -> Result<Self, lark_oapi_core::JsonError> {
/// #         let mut o = lark_oapi_core::__private::json::object(v, "Chat")?;
/// #         let mut out = Chat::default();
/// #         lark_oapi_core::__private::json::set(&mut o, "chat_id", &mut out.chat_id)?;
/// #         Ok(out)
/// #     }
/// # }
/// // With `lark_oapi`, `Chat` is e.g. `lark_oapi::im::v1::models::ListChat`.
/// let chat: Chat = lark_oapi_core::from_value(serde_json::json!({"chat_id": "oc_1"}))?;
/// assert_eq!(chat.chat_id, "oc_1");
/// # Ok::<(), lark_oapi_core::JsonError>(())
/// ```
pub fn from_value<T: json::FromJson>(value: serde_json::Value) -> Result<T, JsonError> {
    T::from_json(value)
}

/// Encodes a generated type as the JSON the platform receives (unset optional fields left
/// out).
pub fn to_value<T: json::ToJson + ?Sized>(value: &T) -> serde_json::Value {
    serde_json::from_slice(&json::to_vec(value)).unwrap_or(serde_json::Value::Null)
}

/// Not public API: what generated code is built from. Nothing here is covered by semver;
/// it changes whenever the generator does. Use the typed builders and the documented items
/// instead.
#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
pub(crate) use __private::json;
