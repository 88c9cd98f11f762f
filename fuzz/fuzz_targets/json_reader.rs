//! `cargo +nightly fuzz run json_reader`: see `lark_oapi_fuzz_checks::json_reader` for the properties.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lark_oapi_fuzz_checks::json_reader(data));
