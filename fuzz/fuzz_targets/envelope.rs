//! `cargo +nightly fuzz run envelope`: see `lark_oapi_fuzz_checks::envelope` for the properties.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lark_oapi_fuzz_checks::envelope(data));
