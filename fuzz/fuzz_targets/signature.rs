//! `cargo +nightly fuzz run signature`: see `lark_oapi_fuzz_checks::signature` for the properties.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lark_oapi_fuzz_checks::signature(data));
