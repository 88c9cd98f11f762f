//! Card action callbacks (`card.action.trigger`): what the user clicked, typed, and the
//! answer.
//!
//! The `value` attached to a button ([`Button::callback`](super::Button::callback)) comes
//! back as it was sent; [`CardAction::value`] decodes it into your own type. A submitted
//! form comes back as `form_value`, one entry per input `name`; [`CardAction::form`]
//! decodes it the same way.
//!
//! ```no_run
//! use lark_oapi_bot::card::action::{CardAction, Toast};
//! use lark_oapi_apis_2::callback::v2::events::{P2CardActionTriggerData, P2CardActionTriggerResponse};
//!
//! #[derive(serde::Deserialize)]
//! struct Vote { choice: String }
//!
//! fn on_click(data: &P2CardActionTriggerData) -> P2CardActionTriggerResponse {
//!     let action = CardAction::new(data);
//!     match action.value::<Vote>() {
//!         Ok(vote) => Toast::success(format!("voted {}", vote.choice)).into(),
//!         Err(e) => Toast::error(e.to_string()).into(),
//!     }
//! }
//! ```

use std::collections::BTreeMap;

use lark_oapi_apis_2::callback::v2::events::{
    CallBackAction, CallBackCard, CallBackToast, P2CardActionTriggerData,
    P2CardActionTriggerResponse,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::content::ContentError;

/// A `card.action.trigger` callback, read.
#[derive(Debug, Clone, Copy)]
pub struct CardAction<'a> {
    data: &'a P2CardActionTriggerData,
}

fn map_value(map: Option<&BTreeMap<String, Value>>) -> Value {
    Value::Object(
        map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    )
}

impl<'a> CardAction<'a> {
    /// Reads the callback's payload.
    pub fn new(data: &'a P2CardActionTriggerData) -> Self {
        CardAction { data }
    }

    fn action(&self) -> Option<&'a CallBackAction> {
        self.data.action.as_ref()
    }

    /// The `value` attached to the component, decoded into `T`.
    pub fn value<T: DeserializeOwned>(&self) -> Result<T, ContentError> {
        let value = map_value(self.action().and_then(|a| a.value.as_ref()));
        serde_json::from_value(value).map_err(|e| ContentError::Invalid {
            what: "action value",
            reason: e.to_string(),
        })
    }

    /// The submitted form (`form_value`, by input `name`), decoded into `T`.
    pub fn form<T: DeserializeOwned>(&self) -> Result<T, ContentError> {
        let form = self.action().and_then(|a| a.form_value.as_ref());
        if form.is_none() {
            return Err(ContentError::Invalid {
                what: "form_value",
                reason: "this action is not a form submission".into(),
            });
        }
        serde_json::from_value(map_value(form)).map_err(|e| ContentError::Invalid {
            what: "form_value",
            reason: e.to_string(),
        })
    }

    /// One field of the submitted form.
    pub fn form_field(&self, name: &str) -> Option<&'a Value> {
        self.action()?.form_value.as_ref()?.get(name)
    }

    /// The component's `tag` (`button`, `select_static`, `input`, …).
    pub fn tag(&self) -> Option<&'a str> {
        self.action()?.tag.as_deref()
    }

    /// The component's `name`.
    pub fn name(&self) -> Option<&'a str> {
        self.action()?.name.as_deref()
    }

    /// What a standalone input holds (`input_value`).
    pub fn input(&self) -> Option<&'a str> {
        self.action()?.input_value.as_deref()
    }

    /// The option picked in a single select or a date/time picker (`option`).
    pub fn option(&self) -> Option<&'a str> {
        self.action()?.option.as_deref()
    }

    /// The options picked in a multi select (`options`).
    pub fn options(&self) -> &'a [String] {
        self.action()
            .and_then(|a| a.options.as_deref())
            .unwrap_or(&[])
    }

    /// Whether a checker is ticked (`checked`).
    pub fn checked(&self) -> Option<bool> {
        self.action()?.checked
    }

    /// The open id of the user who acted.
    pub fn operator_open_id(&self) -> Option<&'a str> {
        self.data.operator.as_ref()?.open_id.as_deref()
    }

    /// The message that carries the card.
    pub fn message_id(&self) -> Option<&'a str> {
        self.data.context.as_ref()?.open_message_id.as_deref()
    }

    /// The chat the card is in.
    pub fn chat_id(&self) -> Option<&'a str> {
        self.data.context.as_ref()?.open_chat_id.as_deref()
    }

    /// The token for a delayed update of the card (valid 30 minutes).
    pub fn token(&self) -> Option<&'a str> {
        self.data.token.as_deref()
    }
}

/// A toast, the small message the client shows after an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    kind: &'static str,
    text: String,
}

impl Toast {
    /// An information toast.
    pub fn info(text: impl Into<String>) -> Self {
        Toast {
            kind: "info",
            text: text.into(),
        }
    }

    /// A success toast.
    pub fn success(text: impl Into<String>) -> Self {
        Toast {
            kind: "success",
            text: text.into(),
        }
    }

    /// A warning toast.
    pub fn warning(text: impl Into<String>) -> Self {
        Toast {
            kind: "warning",
            text: text.into(),
        }
    }

    /// An error toast.
    pub fn error(text: impl Into<String>) -> Self {
        Toast {
            kind: "error",
            text: text.into(),
        }
    }
}

impl From<Toast> for P2CardActionTriggerResponse {
    fn from(t: Toast) -> Self {
        P2CardActionTriggerResponse {
            toast: Some(CallBackToast {
                r#type: Some(t.kind.into()),
                content: Some(t.text),
                i18n: None,
            }),
            card: None,
        }
    }
}

/// An answer that replaces the card with `card` (Card JSON, e.g. from
/// [`CardBuilder::to_value`](super::CardBuilder::to_value)), with an optional toast.
pub fn update_card(card: Value, toast: Option<Toast>) -> P2CardActionTriggerResponse {
    let mut answer = toast
        .map(P2CardActionTriggerResponse::from)
        .unwrap_or_default();
    answer.card = Some(CallBackCard {
        r#type: Some("raw".into()),
        data: Some(card),
    });
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data(action: Value) -> P2CardActionTriggerData {
        let payload = json!({
            "operator": {"open_id": "ou_1"},
            "token": "c-tok",
            "action": action,
            "context": {"open_message_id": "om_1", "open_chat_id": "oc_1"}
        });
        lark_oapi_core::from_value(payload).unwrap()
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Vote {
        choice: String,
        round: u32,
    }

    #[test]
    fn the_attached_value_decodes_into_its_type() {
        let d = data(json!({"tag": "button", "value": {"choice": "b", "round": 2}}));
        let a = CardAction::new(&d);
        assert_eq!(
            a.value::<Vote>().unwrap(),
            Vote {
                choice: "b".into(),
                round: 2
            }
        );
        assert_eq!(a.tag(), Some("button"));
        assert_eq!(a.operator_open_id(), Some("ou_1"));
        assert_eq!(a.message_id(), Some("om_1"));
        assert_eq!(a.chat_id(), Some("oc_1"));
        assert_eq!(a.token(), Some("c-tok"));
        let err = a.form::<Vote>().unwrap_err();
        assert!(err.to_string().contains("not a form"), "{err}");
        // A value of another shape is an error that says what is wrong.
        let d = data(json!({"value": {"choice": 3}}));
        let err = CardAction::new(&d).value::<Vote>().unwrap_err();
        assert!(err.to_string().contains("action value"), "{err}");
    }

    #[test]
    fn a_form_decodes_by_input_name() {
        #[derive(serde::Deserialize)]
        struct Form {
            title: String,
            tags: Vec<String>,
        }
        let d = data(json!({"tag": "button", "name": "submit",
            "form_value": {"title": "x", "tags": ["a", "b"]}}));
        let a = CardAction::new(&d);
        let form: Form = a.form().unwrap();
        assert_eq!(form.title, "x");
        assert_eq!(form.tags, ["a", "b"]);
        assert_eq!(a.form_field("title"), Some(&json!("x")));
        assert_eq!(a.name(), Some("submit"));
    }

    #[test]
    fn answers() {
        let t: P2CardActionTriggerResponse = Toast::success("ok").into();
        assert_eq!(t.toast.unwrap().r#type.as_deref(), Some("success"));
        let u = update_card(json!({"schema": "2.0"}), None);
        assert!(u.toast.is_none());
        assert_eq!(u.card.unwrap().r#type.as_deref(), Some("raw"));
    }
}
