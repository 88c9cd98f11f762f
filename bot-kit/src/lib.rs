//! # lark-oapi-bot
//!
//! What every bot needs and the platform leaves to you, as typed values: message content
//! that serialises to exactly what the platform expects ([`content`]), checked against the
//! documented limits before any I/O, and one call to send it or reply with it ([`send`]);
//! and what arrives, parsed per message type with mentions resolved ([`received`]). Cards in
//! Card JSON 2.0 are built with [`card::CardBuilder`], and their callbacks read typed with
//! [`card::action::CardAction`]. An answer written as it is generated goes into a
//! [`streaming::StreamingCard`]; a group's custom bot posts through a [`webhook::Webhook`].
//!
//! Use it through `lark-oapi` with the `bot-kit` feature (`lark_oapi::bot_kit`), or on its own with
//! the runtime client of `lark-oapi-core`.
//!
//! ```no_run
//! use lark_oapi_bot::content::Text;
//! # async fn run(client: lark_oapi_core::Client) -> lark_oapi_core::Result<()> {
//! // A chat id (`oc_`), an open id (`ou_`), a union id (`on_`), an email or a user id.
//! let sent = lark_oapi_bot::send(&client, "oc_a0553eda9014c201e6969b478895c230", &Text::new("hello")).await?;
//! println!("sent {}", sent.message_id);
//! # Ok(()) }
//! ```

pub mod card;
pub mod content;
pub mod received;
mod send;
pub mod streaming;
pub mod webhook;

pub use content::{ContentError, MessageContent, Outgoing};
pub use send::{Receiver, SentMessage, pace_key, reply, send, send_to};
