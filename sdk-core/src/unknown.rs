//! The value of a platform enum that this version of the SDK does not know.

use std::fmt;

/// A value of a platform enum that this version of the SDK does not list, kept as the
/// platform sent it: every generated enum has an `Unknown(UnknownValue)` variant.
///
/// It can be read ([`as_str`](Self::as_str)) but not built: to pass a value, convert the
/// wire string (`ReceiveIdType::from("thread_id")`), which gives the listed variant when
/// there is one, so that a comparison keeps working once a later release lists it.
///
/// ```
/// # #[derive(Debug, PartialEq)] enum ReceiveIdType { ChatId, Unknown(lark_oapi_core::UnknownValue) }
/// # impl From<&str> for ReceiveIdType { fn from(v: &str) -> Self { match v { "chat_id" => Self::ChatId, o => Self::Unknown(lark_oapi_core::__private::unknown_value(o.into())) } } }
/// // With lark_oapi, e.g. `lark_oapi::im::v1::models::ReceiveIdType`.
/// match ReceiveIdType::from("thread_id") {
///     ReceiveIdType::Unknown(value) => assert_eq!(value.as_str(), "thread_id"),
///     known => println!("{known:?}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnknownValue(String);

impl UnknownValue {
    /// The value on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value on the wire, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for UnknownValue {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// For generated code: the unknown value `value` (see `__private`).
pub fn unknown_value(value: String) -> UnknownValue {
    UnknownValue(value)
}
