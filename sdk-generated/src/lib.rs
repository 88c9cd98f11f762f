//! # lark-oapi
//!
//! The Feishu/Lark Open Platform SDK for Rust. Build a [`Client`] from your app id and
//! secret, then call any API: typed bindings come from the generator; until then, and for
//! any endpoint at all, [`Client::request`] is the way in.
//!
//! ```no_run
//! use lark_oapi::{Client, Config, Method};
//!
//! # async fn run() -> lark_oapi::Result<()> {
//! let client = Client::new(Config::builder("cli_a1b2c3d4e5f60718", "app-secret").build()?);
//! let resp = client
//!     .request(Method::POST, "/open-apis/im/v1/messages")
//!     .query("receive_id_type", "chat_id")
//!     .json(&serde_json::json!({
//!         "receive_id": "oc_xxx", "msg_type": "text", "content": "{\"text\":\"hello\"}"
//!     }))
//!     .send_value()
//!     .await?;
//! println!("sent {} (log id {:?})", resp.data()["message_id"], resp.log_id());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub use lark_oapi_core::*;
