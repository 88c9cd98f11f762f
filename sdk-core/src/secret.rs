//! A string that never shows itself in `Debug` or logs.

use std::fmt;

/// A secret string: an app secret, an access token, a help desk token.
///
/// `Debug` prints `SecretString(<redacted>)`; there is no `Display`. Read the value
/// with [`SecretString::expose`] only where it is put on the wire.
///
/// ```
/// use lark_oapi_core::SecretString;
/// let s = SecretString::new("app-secret");
/// assert_eq!(format!("{s:?}"), "SecretString(<redacted>)");
/// assert_eq!(s.expose(), "app-secret");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Box<str>);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().into_boxed_str())
    }

    /// The secret itself. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}
