//! Every generated method against the mock platform. The cases are generated
//! (`generated_roundtrip/cases.rs`, by `cargo xtask codegen`); this file only includes them.

// Generated code is formatted by the generator (prettyplease), not rustfmt.
#[rustfmt::skip]
#[path = "generated_roundtrip/cases.rs"]
mod cases;
