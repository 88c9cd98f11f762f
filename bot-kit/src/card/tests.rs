//! The builder's JSON and its checks.

use super::*;
use serde_json::Map;

#[test]
fn a_full_card_has_the_2_0_shape() {
    let card = CardBuilder::new()
        .header(
            Header::new("Deploy")
                .subtitle("prod")
                .template(Template::Green)
                .tag("v1.2", "blue"),
        )
        .summary("Deploy finished")
        .streaming(true)
        .full_width()
        .link("https://ci.example.com/42")
        .element(Element::markdown_with_id("**done**", "answer"))
        .element(Element::Text("plain".into()))
        .element(Element::Image {
            img_key: "img_v2_1".into(),
            alt: "chart".into(),
        })
        .element(Element::Divider)
        .element(Element::Columns(vec![
            (2, vec![Element::markdown("left")]),
            (
                0,
                vec![
                    Button::new("Logs")
                        .open_url("https://ci.example.com/42/logs")
                        .into(),
                ],
            ),
        ]))
        .element(Element::Collapsible {
            title: "Details".into(),
            expanded: false,
            elements: vec![Element::Chart(json!({"type": "bar"}))],
        })
        .element(Element::Form {
            name: "feedback".into(),
            elements: vec![
                Element::Input {
                    name: "comment".into(),
                    placeholder: "Why?".into(),
                },
                Element::Select {
                    name: "score".into(),
                    options: vec![("Good".into(), "1".into()), ("Bad".into(), "0".into())],
                },
                Button::new("Send").primary().submit("send").into(),
            ],
        })
        .to_value()
        .expect("valid card");
    assert_eq!(card["schema"], "2.0");
    assert_eq!(
        card["config"],
        json!({"update_multi": true, "streaming_mode": true, "summary": {"content": "Deploy finished"}, "width_mode": "fill"})
    );
    assert_eq!(
        card["card_link"],
        json!({"url": "https://ci.example.com/42"})
    );
    assert_eq!(
        card["header"],
        json!({
            "title": {"tag": "plain_text", "content": "Deploy"},
            "subtitle": {"tag": "plain_text", "content": "prod"},
            "template": "green",
            "text_tag_list": [{"tag": "text_tag", "text": {"tag": "plain_text", "content": "v1.2"}, "color": "blue"}]
        })
    );
    let els = &card["body"]["elements"];
    assert_eq!(
        els[0],
        json!({"tag": "markdown", "content": "**done**", "element_id": "answer"})
    );
    assert_eq!(
        els[1],
        json!({"tag": "div", "text": {"tag": "plain_text", "content": "plain"}})
    );
    assert_eq!(els[2]["img_key"], "img_v2_1");
    assert_eq!(els[3], json!({"tag": "hr"}));
    assert_eq!(els[4]["columns"][0]["weight"], 2);
    assert_eq!(
        els[4]["columns"][1]["weight"], 1,
        "a weight of 0 is raised to 1"
    );
    assert_eq!(
        els[4]["columns"][1]["elements"][0]["behaviors"],
        json!([{"type": "open_url", "default_url": "https://ci.example.com/42/logs"}])
    );
    assert_eq!(els[5]["tag"], "collapsible_panel");
    assert_eq!(
        els[5]["elements"][0],
        json!({"tag": "chart", "chart_spec": {"type": "bar"}})
    );
    let form = &els[6];
    assert_eq!(
        (form["tag"].as_str(), form["name"].as_str()),
        (Some("form"), Some("feedback"))
    );
    assert_eq!(
        form["elements"][1]["options"][0],
        json!({"text": {"tag": "plain_text", "content": "Good"}, "value": "1"})
    );
    assert_eq!(
        form["elements"][2],
        json!({"tag": "button", "text": {"tag": "plain_text", "content": "Send"}, "type": "primary", "form_action_type": "submit", "name": "send"})
    );
}

#[test]
fn element_ids_are_unique_and_well_formed() {
    let twice = CardBuilder::new()
        .element(Element::markdown_with_id("a", "x1"))
        .element(Button::new("b").id("x1").into());
    assert!(matches!(
        twice.build(),
        Err(ContentError::Invalid { what: "element_id", reason }) if reason.contains("used twice")
    ));
    for bad in ["1st", "has-dash", "a_very_long_element_id_x", ""] {
        let card = CardBuilder::new().element(Element::markdown_with_id("a", bad));
        assert!(
            matches!(
                card.build(),
                Err(ContentError::Invalid {
                    what: "element_id",
                    ..
                })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn forms_hold_their_submit_buttons_and_no_other_form() {
    let stray = CardBuilder::new().element(Button::new("Send").submit("send").into());
    assert!(matches!(
        stray.build(),
        Err(ContentError::Invalid { what: "button", .. })
    ));
    let nested = CardBuilder::new().element(Element::Form {
        name: "outer".into(),
        elements: vec![Element::Form {
            name: "inner".into(),
            elements: vec![],
        }],
    });
    assert!(matches!(
        nested.build(),
        Err(ContentError::Invalid { what: "form", .. })
    ));
    let unnamed = CardBuilder::new().element(Element::Input {
        name: " ".into(),
        placeholder: String::new(),
    });
    assert_eq!(
        unnamed.build(),
        Err(ContentError::Empty { what: "input name" })
    );
}

#[test]
fn a_card_over_the_message_limit_is_refused() {
    let card =
        CardBuilder::new().element(Element::markdown("x".repeat(crate::content::RICH_LIMIT)));
    assert!(matches!(
        card.build(),
        Err(ContentError::TooLarge {
            msg_type: "interactive",
            ..
        })
    ));
}

#[test]
fn tables_pickers_people_and_containers() {
    let row: Map<String, Value> =
        serde_json::from_value(json!({"name": "api", "p99": 120})).unwrap();
    let card = CardBuilder::new()
        .header(Header::new("Report").icon("chart_outlined", Some("blue")))
        .element(Element::Table {
            columns: vec![
                Column::new("name", "Service", DataType::Text),
                Column::new("p99", "p99 ms", DataType::Number),
            ],
            rows: vec![row.clone()],
            page_size: 5,
        })
        .element(Element::Person {
            open_id: "ou_1".into(),
        })
        .element(Element::Container {
            behaviors: vec![Behavior::OpenUrl("https://example.com".into())],
            elements: vec![Element::markdown("open")],
        })
        .element(Element::Form {
            name: "f".into(),
            elements: vec![
                Element::Picker {
                    kind: Picker::Date,
                    name: "day".into(),
                    placeholder: "Day".into(),
                },
                Element::Picker {
                    kind: Picker::DateTime,
                    name: "at".into(),
                    placeholder: "When".into(),
                },
                Element::MultiSelect {
                    name: "tags".into(),
                    options: vec![("A".into(), "a".into())],
                },
                Element::SelectPerson {
                    name: "who".into(),
                    multiple: true,
                },
                Element::Checker {
                    name: "ok".into(),
                    text: "Agree".into(),
                    checked: false,
                },
                Button::new("Go").submit("go").into(),
            ],
        })
        .to_value()
        .unwrap();
    let els = &card["body"]["elements"];
    assert_eq!(
        card["header"]["icon"],
        json!({"tag": "standard_icon", "token": "chart_outlined", "color": "blue"})
    );
    assert_eq!(els[0]["tag"], "table");
    assert_eq!(
        els[0]["columns"][1],
        json!({"name": "p99", "display_name": "p99 ms", "data_type": "number", "width": "auto"})
    );
    assert_eq!(els[0]["rows"][0], Value::Object(row));
    assert_eq!(
        els[1],
        json!({"tag": "person", "user_id": "ou_1", "show_avatar": true, "show_name": true})
    );
    assert_eq!(els[2]["tag"], "interactive_container");
    assert_eq!(els[2]["behaviors"][0]["default_url"], "https://example.com");
    let form: Vec<&str> = els[3]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["tag"].as_str().unwrap())
        .collect();
    assert_eq!(
        form,
        [
            "date_picker",
            "picker_datetime",
            "multi_select_static",
            "multi_select_person",
            "checker",
            "button"
        ]
    );
}

#[test]
fn placement_rules_and_the_table_limit_are_checked() {
    let table = || Element::Table {
        columns: vec![Column::new("a", "A", DataType::Text)],
        rows: vec![],
        page_size: 5,
    };
    let nested = CardBuilder::new()
        .element(Element::Columns(vec![(1, vec![table()])]))
        .to_value();
    assert!(nested.unwrap_err().to_string().contains("top level"));
    let boxed_form = CardBuilder::new()
        .element(Element::Container {
            behaviors: vec![],
            elements: vec![Element::Form {
                name: "f".into(),
                elements: vec![],
            }],
        })
        .to_value();
    assert!(boxed_form.unwrap_err().to_string().contains("container"));
    let mut four = CardBuilder::new();
    for _ in 0..4 {
        four = four.element(table());
    }
    assert!(
        four.to_value()
            .unwrap_err()
            .to_string()
            .contains("3 at most")
    );
    let stray: Map<String, Value> = serde_json::from_value(json!({"b": 1})).unwrap();
    let bad_row = CardBuilder::new()
        .element(Element::Table {
            columns: vec![Column::new("a", "A", DataType::Text)],
            rows: vec![stray],
            page_size: 5,
        })
        .to_value();
    assert!(bad_row.unwrap_err().to_string().contains("\"b\""));
}

#[test]
fn a_callback_value_that_is_not_an_object_fails_the_build() {
    let card = CardBuilder::new().element(Button::new("x").callback_with(&[1, 2]).into());
    let err = card.to_value().unwrap_err();
    assert!(err.to_string().contains("JSON object"), "{err}");
}

#[test]
fn the_direct_json_text_is_the_value_written_out() {
    let card = CardBuilder::new()
        .header(
            Header::new("H")
                .subtitle("s")
                .template(Template::Red)
                .tag("t", "red")
                .icon("i", None),
        )
        .summary("sum")
        .link("https://e.com")
        .element(Element::markdown_with_id("x", "md_1"))
        .element(Element::Columns(vec![(
            1,
            vec![Button::new("b").callback(json!({"k": 1})).into()],
        )]))
        .element(Element::Collapsible {
            title: "c".into(),
            expanded: true,
            elements: vec![Element::Divider],
        });
    let text = card.to_json().unwrap();
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed, card.to_value().unwrap());
    assert!(
        text.starts_with(r#"{"schema":"2.0","config":{"update_multi":true"#),
        "{text}"
    );
    let out = crate::Outgoing::new(&card).unwrap();
    assert_eq!(
        (out.msg_type(), out.content()),
        ("interactive", text.as_str())
    );
    // The checks run on the direct path too.
    let dup = CardBuilder::new()
        .element(Element::markdown_with_id("a", "same"))
        .element(Element::markdown_with_id("b", "same"));
    assert!(dup.to_json().is_err());
}
