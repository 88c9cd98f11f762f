use super::worker::rollover_cut;
use super::*;

#[test]
fn cut_prefers_a_line_break_near_the_limit() {
    let text = format!("{}\n{}", "a".repeat(90), "b".repeat(50));
    // 141 chars, limit 100: the break at 90 is in the last fifth (80..100).
    assert_eq!(rollover_cut(&text, 100), Some(91));
    let flat = "x".repeat(150);
    assert_eq!(rollover_cut(&flat, 100), Some(100));
    assert_eq!(rollover_cut(&flat, 150), None);
    // Characters, not bytes.
    let wide = "字".repeat(120);
    assert_eq!(rollover_cut(&wide, 100), Some(300));
}

#[test]
fn settings_are_checked_before_any_request() {
    let err = StreamingCard::builder()
        .max_ops_per_sec(11)
        .check()
        .unwrap_err();
    assert!(err.to_string().contains("max_ops_per_sec"), "{err}");
    assert!(StreamingCard::builder().max_ops_per_sec(0).check().is_err());
    assert!(StreamingCard::builder().rollover_chars(10).check().is_err());
    assert!(StreamingCard::builder().placeholder("").check().is_err());
    assert!(StreamingCard::builder().element_id("1bad").check().is_err());
    StreamingCard::builder().check().unwrap();
}

#[test]
fn card_json_opens_streaming_with_the_element_addressed_by_element_id() {
    let card = StreamingCard::builder()
        .header(Header::new("Answer"))
        .card_json("…")
        .unwrap();
    assert_eq!(card["schema"], "2.0");
    assert_eq!(card["config"]["streaming_mode"], true);
    assert_eq!(card["config"]["update_multi"], true);
    assert_eq!(card["config"]["streaming_config"]["print_strategy"], "fast");
    assert_eq!(card["body"]["elements"][0]["element_id"], "stream_md");
    assert_eq!(card["body"]["elements"][0]["tag"], "markdown");
    assert_eq!(card["header"]["title"]["content"], "Answer");
}

#[test]
fn op_interval_spaces_operations() {
    assert_eq!(op_interval(10), Duration::from_millis(100));
    assert_eq!(op_interval(8), Duration::from_millis(125));
}
