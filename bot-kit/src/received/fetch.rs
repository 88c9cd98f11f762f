//! Reading messages back from the platform: one message by id, and the messages inside a
//! `merge_forward`.

use std::collections::{BTreeMap, BTreeSet};

use lark_oapi_core::{Client, Error, Method, RequestSpec, Result};
use serde_json::Value;

use super::ReceivedMessage;

/// How deep forwards inside forwards are followed.
const MAX_DEPTH: usize = 8;

/// A message inside a `merge_forward`, with the messages it holds when it is itself one.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Forwarded {
    /// The forwarded message.
    pub message: ReceivedMessage,
    /// When it was first sent, in milliseconds since the epoch.
    pub create_time_ms: Option<i64>,
    /// For a `merge_forward` inside the forward: what it holds.
    pub children: Vec<Forwarded>,
}

async fn items(client: &Client, message_id: &str) -> Result<Vec<Value>> {
    if message_id.trim().is_empty() {
        return Err(crate::ContentError::Empty { what: "message_id" }.into());
    }
    let spec = RequestSpec::new(Method::GET, "/open-apis/im/v1/messages/:message_id")
        .path_param("message_id", message_id)
        .query("user_id_type", "open_id");
    let data = client.send::<Value>(&spec).await?.into_data();
    match data.get("items") {
        Some(Value::Array(items)) if !items.is_empty() => Ok(items.clone()),
        _ => Err(Error::InvalidRequest(format!(
            "the platform returned no message for {message_id}"
        ))),
    }
}

/// Fetches the message `message_id` (`im.v1.message.get`) and parses it.
///
/// ```no_run
/// # async fn run(client: lark_oapi_core::Client) -> lark_oapi_core::Result<()> {
/// let message = lark_oapi_bot::received::fetch(&client, "om_dc13264520392913993dd051dba21dcf").await?;
/// println!("{}", message.plain_text());
/// # Ok(()) }
/// ```
pub async fn fetch(client: &Client, message_id: &str) -> Result<ReceivedMessage> {
    let items = items(client, message_id).await?;
    let item = items
        .iter()
        .find(|i| i.get("message_id").and_then(Value::as_str) == Some(message_id))
        .unwrap_or(&items[0]);
    Ok(ReceivedMessage::from_item(item))
}

/// The messages inside the `merge_forward` message `message_id`, in order, with forwards
/// inside it expanded (up to 8 levels). The event of a `merge_forward` says nothing about
/// its messages; this reads them with `im.v1.message.get`.
pub async fn expand_forward(client: &Client, message_id: &str) -> Result<Vec<Forwarded>> {
    let items = items(client, message_id).await?;
    Ok(forward_tree(&items, message_id))
}

/// Builds the tree of the items of a `merge_forward` under `root`, by `upper_message_id`.
pub(crate) fn forward_tree<'a>(items: &'a [Value], root: &'a str) -> Vec<Forwarded> {
    let mut by_upper: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for item in items {
        if let Some(upper) = item.get("upper_message_id").and_then(Value::as_str) {
            by_upper.entry(upper).or_default().push(item);
        }
    }
    let mut seen = BTreeSet::from([root]);
    build(&by_upper, root, 0, &mut seen)
}

fn build<'a>(
    by_upper: &BTreeMap<&str, Vec<&'a Value>>,
    upper: &str,
    depth: usize,
    seen: &mut BTreeSet<&'a str>,
) -> Vec<Forwarded> {
    let Some(children) = by_upper.get(upper) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(children.len());
    for item in children {
        let id = item.get("message_id").and_then(Value::as_str).unwrap_or("");
        if !seen.insert(id) {
            continue; // a cycle in what the platform answered
        }
        let message = ReceivedMessage::from_item(item);
        let nested = if message.msg_type == "merge_forward" && depth + 1 < MAX_DEPTH {
            build(by_upper, id, depth + 1, seen)
        } else {
            Vec::new()
        };
        out.push(Forwarded {
            create_time_ms: super::millis(item, "create_time"),
            message,
            children: nested,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_forwards_become_a_tree_and_cycles_end() {
        let item = |id: &str, upper: &str, t: &str| {
            json!({"message_id": id, "upper_message_id": upper, "msg_type": t,
                   "body": {"content": "{\"text\":\"x\"}"}, "create_time": "1"})
        };
        let items = [
            json!({"message_id": "root", "msg_type": "merge_forward", "body": {"content": "{}"}}),
            item("a", "root", "text"),
            item("b", "root", "merge_forward"),
            item("b1", "b", "merge_forward"),
            item("root", "b1", "merge_forward"), // malformed: points back up
        ];
        let tree = forward_tree(&items, "root");
        assert_eq!(tree.len(), 2);
        assert_eq!(tree[0].message.message_id, "a");
        assert_eq!(tree[0].create_time_ms, Some(1));
        assert_eq!(tree[1].children.len(), 1);
        assert_eq!(tree[1].children[0].message.message_id, "b1");
        assert!(tree[1].children[0].children.is_empty());
    }
}
