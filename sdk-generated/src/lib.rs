//! # lark-oapi
//!
//! The Feishu/Lark Open Platform SDK for Rust: every server API, typed, over the
//! `lark-oapi-core` runtime (auth, tokens, retries, errors, pagination, files).
//!
//! ```no_run
//! use lark_oapi::{Client, Config};
//!
//! # #[cfg(feature = "im")]
//! # async fn run() -> lark_oapi::Result<()> {
//! let client = Client::new(Config::builder("cli_a1b2c3d4e5f60718", "app-secret").build()?);
//! let sent = client
//!     .im()
//!     .v1()
//!     .message()
//!     .create()
//!     .receive_id_type("chat_id")
//!     .body(lark_oapi::im::v1::models::CreateMessageRequestBody {
//!         receive_id: "oc_xxx".into(),
//!         msg_type: "text".into(),
//!         content: r#"{"text":"hello"}"#.into(),
//!         ..Default::default()
//!     })
//!     .send()
//!     .await?;
//! println!("sent {:?} (log id {:?})", sent.message_id, sent.log_id());
//! # Ok(()) }
//! ```
//!
//! Each project is a cargo feature (`im`, `contact`, ... or `full`); see `docs/features.md`.
//! Every endpoint is also reachable untyped with [`Client::request`](lark_oapi_core::Client::request).
#![deny(missing_docs)]

use std::ops::Deref;

// What the runtime promises, by name: a new runtime item is public here only once it is
// listed (and the public-API snapshot, `api/lark-oapi.txt`, is updated with it).
#[cfg(feature = "long-connection")]
pub use lark_oapi_core::long_connection;
pub use lark_oapi_core::{
    ApiError, AppType, AssertionError, AuthError, AuthErrorKind, BoxFuture, ByteStream, CacheError,
    CallOptions, ClientAssertionProvider, Config, ConfigBuilder, DEFAULT_FILE_NAME, DecodeError,
    Domain, Download, DownloadFuture, Error, ErrorDetail, ErrorHelp, FieldViolation, FilePart,
    HelpdeskCredential, HttpError, ItemStream, JsonError, MemoryTokenCache, MemoryUserTokenStore,
    Method, Multipart, OAuthError, Page, PageStream, Paginator, PermissionViolation, RawRequest,
    RawResponse, RequestOptions, RequestSpec, Response, ResponseFuture, Result, RetryPolicy,
    SecretString, TokenCache, TokenLocation, TokenTypes, TransportError, USER_AGENT, UnknownValue,
    UserToken, UserTokenFlow, UserTokenStore, UserTokens, UserTokensBuilder, card, codes,
    from_value, oauth, pacing, reqwest, sse, to_value,
};
#[cfg(feature = "events")]
pub use lark_oapi_core::{dispatcher, event_crypto};

/// The bot kit: typed message content both ways (text with mentions, posts, images, files,
/// cards; what arrives parsed per type), checked before any I/O, one call to send or reply
/// ([`bot_kit::send`]), Card JSON 2.0 cards and their typed callbacks, streaming card
/// replies ([`bot_kit::streaming`]) and custom-bot webhooks ([`bot_kit::webhook`]). (The
/// platform's bot API project is the module `bot`, with the `bot` feature.)
#[cfg(feature = "bot-kit")]
pub use lark_oapi_bot as bot_kit;

/// State shared through Redis by the processes of one app (feature `redis`): the access
/// tokens and the `app_ticket`, with one token request between all of them
/// ([`redis::RedisTokenCache`]), event de-duplication ([`redis::RedisDedupStore`]), users'
/// tokens refreshed once between them ([`redis::RedisUserTokenStore`]) and send pacing
/// under the platform's rate limits ([`redis::RedisPaceStore`]).
#[cfg(feature = "redis")]
pub use lark_oapi_redis as redis;

// Generated code is formatted by the generator (prettyplease), not rustfmt.
#[rustfmt::skip]
mod generated;
#[allow(unused_imports)]
pub use generated::*;

/// The README's examples, compiled as doctests so that a stale one fails CI (they need
/// every project, runtime, bot and Redis feature, as `cargo test --workspace` builds this
/// crate).
#[cfg(all(
    doctest,
    feature = "full",
    feature = "axum",
    feature = "long-connection",
    feature = "bot-kit",
    feature = "redis"
))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// Promises kept by the types, checked by the compiler: an enum's unknown value cannot be
/// built by hand (it would stop equalling the listed value a later release adds) and no
/// enum has a default to stand for "not set".
///
/// ```compile_fail
/// let _ = lark_oapi::im::v1::models::ReceiveIdType::Unknown(lark_oapi::UnknownValue("thread_id".into()));
/// ```
///
/// ```compile_fail
/// let _ = lark_oapi::im::v1::models::ReceiveIdType::default();
/// ```
///
/// ```
/// use lark_oapi::im::v1::models::ReceiveIdType;
/// assert_eq!(ReceiveIdType::from("chat_id"), ReceiveIdType::ChatId);
/// assert!(matches!(ReceiveIdType::from("thread_id"), ReceiveIdType::Unknown(v) if v.as_str() == "thread_id"));
/// ```
#[cfg(all(doctest, feature = "im"))]
pub struct EnumDoctests;

/// What most programs import: `use lark_oapi::prelude::*;`.
pub mod prelude {
    pub use crate::Client;
    #[cfg(feature = "events")]
    pub use crate::generated::event_handlers::*;
    #[cfg(feature = "events")]
    pub use lark_oapi_core::dispatcher::{Event, EventDispatcher, HandlerResult};
    pub use lark_oapi_core::{CallOptions, Config, Domain, Error, RequestOptions, Result};
}

/// A Feishu/Lark client: the runtime client plus one accessor per API project
/// (`client.im()`, `client.contact()`, ...). Cheap to clone.
///
/// Everything of the runtime client (`request`, `send_raw`, tokens) is reachable through
/// `Deref`.
#[derive(Debug, Clone)]
pub struct Client {
    core: lark_oapi_core::Client,
}

impl Client {
    /// A client for a validated [`Config`].
    pub fn new(config: Config) -> Self {
        Self {
            core: lark_oapi_core::Client::new(config),
        }
    }

    /// The runtime client.
    pub fn core(&self) -> &lark_oapi_core::Client {
        &self.core
    }
}

impl Deref for Client {
    type Target = lark_oapi_core::Client;
    fn deref(&self) -> &Self::Target {
        &self.core
    }
}

impl From<lark_oapi_core::Client> for Client {
    fn from(core: lark_oapi_core::Client) -> Self {
        Self { core }
    }
}
