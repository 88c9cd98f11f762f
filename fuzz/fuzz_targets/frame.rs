//! `cargo +nightly fuzz run frame`: see `lark_oapi_fuzz_checks::frame` for the properties.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lark_oapi_fuzz_checks::frame(data));
