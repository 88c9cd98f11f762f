//! `cargo +nightly fuzz run decrypt`: see `lark_oapi_fuzz_checks::decrypt` for the properties.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lark_oapi_fuzz_checks::decrypt(data));
