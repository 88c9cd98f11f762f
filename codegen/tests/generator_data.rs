//! The generator's own data is checked against the specs: the crate table
//! (`codegen/crates.json`) must place every project exactly once and name no project the
//! specs lack; the operation flags (`codegen/operation-flags.json`) may name no path or
//! project the specs lack. Each case edits the golden fixture's tables.

mod common;

use common::copy_dir;
use std::path::{Path, PathBuf};

/// A workspace of its own with the fixture specs and tables, `file` replaced by `text`.
fn generate_with(case: &str, file: &str, text: &str) -> Result<(), String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = manifest.join("tests/fixtures");
    let root: PathBuf = std::env::temp_dir().join(format!(
        "lark-oapi-generator-data-{}-{case}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&root);
    copy_dir(&fixtures.join("specs"), &root.join("api-specs"));
    copy_dir(&manifest.join("../templates"), &root.join("templates"));
    copy_dir(&fixtures.join("codegen"), &root.join("codegen"));
    std::fs::write(root.join("codegen").join(file), text).expect("write the table");
    let result = lark_oapi_codegen::generate(&root.join("api-specs"))
        .map(|_| ())
        .map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&root);
    result
}

const ALL: &str =
    r#"["application"],["bot"],["callback"],["ehr"],["moments"],["optical_char_recognition"]"#;

#[test]
fn the_fixture_tables_generate() {
    generate_with("ok", "crates.json", &format!(r#"{{"crates":[{ALL}]}}"#)).unwrap();
}

#[test]
fn an_unplaced_project_fails_the_generator() {
    let table = r#"{"crates":[["application"],["bot"],["callback"],["ehr"],["moments"]]}"#;
    let err = generate_with("unplaced", "crates.json", table).unwrap_err();
    assert!(
        err.contains("optical_char_recognition") && err.contains("in no generated crate"),
        "{err}"
    );
}

#[test]
fn a_doubly_placed_project_fails_the_generator() {
    let table = format!(r#"{{"crates":[{ALL},["bot"]]}}"#);
    let err = generate_with("twice", "crates.json", &table).unwrap_err();
    assert!(err.contains("`bot` twice"), "{err}");
}

#[test]
fn an_unknown_project_in_the_crate_table_fails_the_generator() {
    let table = format!(r#"{{"crates":[{ALL},["payroll"]]}}"#);
    let err = generate_with("unknown", "crates.json", &table).unwrap_err();
    assert!(
        err.contains("`payroll`") && err.contains("no such project"),
        "{err}"
    );
}

#[test]
fn operation_flags_for_a_path_the_specs_lack_fail_the_generator() {
    let table =
        r#"{"no_auth":["/open-apis/auth/v3/gone"],"flat_envelope":[],"helpdesk_auth_projects":[]}"#;
    let err = generate_with("flags", "operation-flags.json", table).unwrap_err();
    assert!(err.contains("/open-apis/auth/v3/gone"), "{err}");
}

#[test]
fn an_event_stream_operation_the_specs_lack_fails_the_generator() {
    let table = r#"{"no_auth":[],"flat_envelope":[],"helpdesk_auth_projects":[],"event_stream":["POST /open-apis/nowhere"]}"#;
    let err = generate_with("flags-sse", "operation-flags.json", table).unwrap_err();
    assert!(err.contains("POST /open-apis/nowhere"), "{err}");
}
