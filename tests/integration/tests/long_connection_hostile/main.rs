//! The long-connection client against a hostile platform: an endpoint and a WebSocket server
//! on loopback that send malformed, oversized, endless, absurd or badly timed things.
//!
//! Every test states what a careful client does. The ones marked "found by the hostile run"
//! failed against the runtime before the fixes they are named for.

mod frames;
mod harness;
mod lifecycle;
mod settings;
