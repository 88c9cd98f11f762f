//! Replays the committed fuzz corpus (fuzz/corpus/<target>/) through the fuzz targets'
//! checks on stable: every input that libFuzzer kept, and every crash it once found, stays
//! a regression test.

use std::path::PathBuf;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    inputs.sort();
    assert!(
        inputs.len() >= 3,
        "{target}: the corpus is missing ({} inputs)",
        inputs.len()
    );
    for input in &inputs {
        let data = std::fs::read(input).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} fails the check",
            input.display()
        );
    }
    println!("{target}: {} inputs replayed", inputs.len());
}

#[test]
fn decrypt_corpus() {
    replay("decrypt", lark_oapi_fuzz_checks::decrypt);
}

#[test]
fn signature_corpus() {
    replay("signature", lark_oapi_fuzz_checks::signature);
}

#[test]
fn envelope_corpus() {
    replay("envelope", lark_oapi_fuzz_checks::envelope);
}

#[test]
fn frame_corpus() {
    replay("frame", lark_oapi_fuzz_checks::frame);
}

#[test]
fn json_reader_corpus() {
    replay("json_reader", lark_oapi_fuzz_checks::json_reader);
}
