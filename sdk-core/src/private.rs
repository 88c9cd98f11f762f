//! What generated code is built from (`lark_oapi_core::__private`): not public API.

pub use crate::call::{Call, PageFields, Required, ToJsonDyn, TypedPaginator};
#[cfg(feature = "events")]
pub use crate::dispatcher::event::answer_json;
#[cfg(feature = "events")]
pub use crate::dispatcher::register::RegisterHandlers;

pub use crate::unknown::unknown_value;

#[path = "json/mod.rs"]
pub mod json;
