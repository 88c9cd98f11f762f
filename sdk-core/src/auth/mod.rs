//! Access tokens: kinds, the token cache, the single-flight token manager, and users' tokens.

pub(crate) mod assertion;
mod cache;
pub(crate) mod manager;
pub(crate) mod oauth2;
mod user;
mod user_token;

pub use assertion::{AssertionError, ClientAssertionProvider};
pub use cache::{BoxFuture, CacheError, MemoryTokenCache, TokenCache};
pub use user::{UserTokens, UserTokensBuilder};
pub use user_token::{MemoryUserTokenStore, UserToken, UserTokenFlow, UserTokenStore};

use std::fmt;

/// The kinds of access token an API accepts, as a small set.
///
/// ```
/// use lark_oapi_core::TokenTypes;
/// let t = TokenTypes::TENANT.with(TokenTypes::USER);
/// assert!(t.contains(TokenTypes::USER) && !t.contains(TokenTypes::APP));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TokenTypes(u8);

impl TokenTypes {
    /// No token: the call is sent without `Authorization` (the token endpoints themselves).
    pub const NONE: TokenTypes = TokenTypes(0);
    /// `tenant_access_token`.
    pub const TENANT: TokenTypes = TokenTypes(1);
    /// `app_access_token`.
    pub const APP: TokenTypes = TokenTypes(2);
    /// `user_access_token`.
    pub const USER: TokenTypes = TokenTypes(4);
    /// Unknown: any token; the tenant token is chosen by default.
    pub const ANY: TokenTypes = TokenTypes(7);

    /// This set plus `other`.
    pub const fn with(self, other: TokenTypes) -> TokenTypes {
        TokenTypes(self.0 | other.0)
    }

    /// Whether every kind in `other` is in this set.
    pub const fn contains(self, other: TokenTypes) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set is empty (no authentication).
    pub const fn is_none(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for TokenTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut set = f.debug_set();
        if self.contains(Self::TENANT) {
            set.entry(&"tenant");
        }
        if self.contains(Self::APP) {
            set.entry(&"app");
        }
        if self.contains(Self::USER) {
            set.entry(&"user");
        }
        set.finish()
    }
}

/// The kind of a token the SDK fetches itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TokenKind {
    Tenant = 0,
    App = 1,
}

impl TokenKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TokenKind::Tenant => "tenant_access_token",
            TokenKind::App => "app_access_token",
        }
    }
}
