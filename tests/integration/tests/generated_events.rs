//! Every event type's generated `on_<event>` registration, through the dispatcher. The
//! test is generated (`generated_roundtrip/events.rs`, by `cargo xtask codegen`); this file
//! only includes it.

// Generated code is formatted by the generator (prettyplease), not rustfmt.
#[rustfmt::skip]
#[path = "generated_roundtrip/events.rs"]
mod events;
