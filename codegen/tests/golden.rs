//! Golden output: a small real subset of the specs (tests/fixtures/specs: pagination, a
//! download, a multipart upload, query enums, events, callbacks with responses) generates
//! exactly the committed snapshot (tests/fixtures/golden.txt). A change to the generator
//! shows up here as a reviewable diff of real output; accept it with
//! `UPDATE_GOLDEN=1 cargo test -p lark-oapi-codegen --test golden`.

use std::fmt::Write as _;
mod common;

use common::copy_dir;
use std::path::Path;

#[test]
fn a_small_spec_generates_the_committed_snapshot() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = manifest.join("tests/fixtures");
    // A workspace of its own: the fixture specs beside the real templates (no README, so
    // none is rewritten).
    let root = std::env::temp_dir().join(format!("lark-oapi-golden-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    copy_dir(&fixtures.join("specs"), &root.join("api-specs"));
    copy_dir(&manifest.join("../templates"), &root.join("templates"));
    // The fixture's own crate table and operation flags (the real ones name projects and
    // paths the subset does not have, which the generator refuses).
    copy_dir(&fixtures.join("codegen"), &root.join("codegen"));
    let output = lark_oapi_codegen::generate(&root.join("api-specs"));
    let _ = std::fs::remove_dir_all(&root);
    let output = output.expect("the fixture generates");
    let mut snapshot = String::new();
    for (path, text) in &output.files {
        // `/` on every platform, so the snapshot is the same everywhere.
        let path = path.to_string_lossy().replace('\\', "/");
        let _ = writeln!(snapshot, "=== {path} ===\n{text}");
    }
    let golden = fixtures.join("golden.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &snapshot).expect("write the snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&golden).expect("tests/fixtures/golden.txt exists");
    if expected != snapshot {
        let line = expected
            .lines()
            .zip(snapshot.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(snapshot.lines().count()));
        panic!(
            "the generated output differs from tests/fixtures/golden.txt from line {} on:\n  expected: {:?}\n  got:      {:?}\nif the change is intended: UPDATE_GOLDEN=1 cargo test -p lark-oapi-codegen --test golden",
            line + 1,
            expected.lines().nth(line).unwrap_or("<end>"),
            snapshot.lines().nth(line).unwrap_or("<end>"),
        );
    }
}
