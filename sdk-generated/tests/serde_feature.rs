//! With the `serde` feature, generated types serialise and deserialise with serde, using
//! the wire names, so they can be stored or forwarded.
#![cfg(all(feature = "serde", feature = "im"))]

use lark_oapi::im::v1::models::{CreateMessageRequestBody, Message, ReceiveIdType};

#[test]
fn generated_types_round_trip_through_serde() {
    let body = CreateMessageRequestBody {
        receive_id: "oc_1".into(),
        msg_type: "text".into(),
        content: "{}".into(),
        uuid: Some("u-1".into()),
    };
    let text = serde_json::to_string(&body).unwrap();
    let back: CreateMessageRequestBody = serde_json::from_str(&text).unwrap();
    assert_eq!(back, body);

    let m: Message = serde_json::from_str(r#"{"message_id":"om_1","msg_type":"text"}"#).unwrap();
    assert_eq!(m.message_id.as_deref(), Some("om_1"));

    let kind: ReceiveIdType = serde_json::from_str(r#""chat_id""#).unwrap();
    assert_eq!(kind, ReceiveIdType::ChatId);
    let unknown: ReceiveIdType = serde_json::from_str(r#""brand_new""#).unwrap();
    assert_eq!(serde_json::to_string(&unknown).unwrap(), r#""brand_new""#);
}
