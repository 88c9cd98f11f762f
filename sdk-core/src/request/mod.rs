//! What a call is ([`RequestSpec`]), its options, the retry policy, and the raw request builder.

pub(crate) mod exchange;
pub(crate) mod options;
pub(crate) mod raw;
pub(crate) mod retry;
pub(crate) mod send;

use std::sync::Arc;

use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde::Serialize;

use crate::auth::TokenTypes;
use crate::file::upload::Multipart;
use crate::request::options::RequestOptions;

/// Everything but the unreserved characters of RFC 3986 is encoded in a path segment.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One API call, fully described: method, path, query, body, accepted tokens, options.
///
/// Generated bindings build one of these per call and hand it to the client; the raw
/// [`RawRequest`](crate::RawRequest) builder wraps one too. Mistakes made while building
/// (an empty path parameter, a body that does not serialise, a body on a GET) are kept and
/// returned as [`Error::InvalidRequest`](crate::Error::InvalidRequest) when the call is sent,
/// before any I/O.
///
/// ```
/// use lark_oapi_core::{Method, RequestSpec, TokenTypes};
/// let spec = RequestSpec::new(Method::POST, "/open-apis/im/v1/messages/:message_id/reply")
///     .path_param("message_id", "om_1/2")
///     .query("user_id_type", "open_id")
///     .token_types(TokenTypes::TENANT.with(TokenTypes::USER));
/// assert_eq!(spec.path(), "/open-apis/im/v1/messages/om_1%2F2/reply");
/// ```
#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: RequestBody,
    pub(crate) token_types: TokenTypes,
    pub(crate) options: RequestOptions,
    pub(crate) invalid: Option<String>,
    /// Sends the client's help desk credential (an operation flag from the generator).
    pub(crate) helpdesk_auth: bool,
}

/// The body of a request. `Debug` shows its size, not its content (it may hold secrets:
/// app secrets, refresh tokens).
#[derive(Clone, Default)]
pub(crate) enum RequestBody {
    #[default]
    Empty,
    Json(Bytes),
    Multipart(Arc<Multipart>),
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestBody::Empty => f.write_str("Empty"),
            RequestBody::Json(bytes) => write!(f, "Json(<{} bytes>)", bytes.len()),
            RequestBody::Multipart(_) => f.write_str("Multipart(..)"),
        }
    }
}

impl RequestBody {
    /// Whether the body can be sent again (a reader-backed upload cannot).
    pub(crate) fn replayable(&self) -> bool {
        match self {
            RequestBody::Multipart(m) => m.replayable(),
            _ => true,
        }
    }
}

impl RequestSpec {
    /// A call to `path` (a template with `:name` segments, or an absolute `https://` URL).
    /// Accepts any token kind (tenant preferred) until [`RequestSpec::token_types`] says otherwise.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: RequestBody::Empty,
            token_types: TokenTypes::ANY,
            options: RequestOptions::default(),
            invalid: None,
            helpdesk_auth: false,
        }
    }

    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The path, with the parameters filled in so far.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query pairs, in order.
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// The per-call options.
    pub fn options(&self) -> &RequestOptions {
        &self.options
    }

    /// The per-call options, to change.
    pub fn options_mut(&mut self) -> &mut RequestOptions {
        &mut self.options
    }

    fn fail(&mut self, message: String) {
        if self.invalid.is_none() {
            self.invalid = Some(message);
        }
    }

    /// Fills the `:name` segment of the path with `value`, percent-encoded as one segment
    /// (`/`, `?`, `#` and spaces cannot break the URL). An empty value is an error.
    pub fn path_param(mut self, name: &str, value: impl AsRef<str>) -> Self {
        let value = value.as_ref();
        if value.is_empty() {
            self.fail(format!("path parameter `{name}` of {} is empty", self.path));
            return self;
        }
        if value == "." || value == ".." {
            // URL parsing would resolve it and send the call to another endpoint.
            self.fail(format!(
                "path parameter `{name}` of {} is {value:?}, which is not an id",
                self.path
            ));
            return self;
        }
        let needle = format!(":{name}");
        let mut found = false;
        let filled: Vec<String> = self
            .path
            .split('/')
            .map(|segment| {
                if !found && segment == needle {
                    found = true;
                    utf8_percent_encode(value, PATH_SEGMENT).to_string()
                } else {
                    segment.to_owned()
                }
            })
            .collect();
        if found {
            self.path = filled.join("/");
        } else {
            self.fail(format!("{} has no path parameter `{name}`", self.path));
        }
        self
    }

    /// Adds a query pair. Booleans and numbers are sent in their text form.
    pub fn query(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.query.push((key.into(), value.to_string()));
        self
    }

    /// Adds one pair per value, under the same key (`ids=a&ids=b`), as the platform expects for arrays.
    pub fn query_all<V: ToString>(
        mut self,
        key: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        let key = key.into();
        for v in values {
            self.query.push((key.clone(), v.to_string()));
        }
        self
    }

    /// Sets a JSON body, serialised now. Not allowed on GET.
    pub fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => self.set_body(RequestBody::Json(Bytes::from(bytes))),
            Err(e) => self.fail(format!("the request body could not be serialised: {e}")),
        }
        self
    }

    /// Sets a JSON body from bytes already serialised. Not allowed on GET.
    pub fn json_bytes(mut self, body: impl Into<Bytes>) -> Self {
        self.set_body(RequestBody::Json(body.into()));
        self
    }

    /// Sets a multipart body (uploads).
    pub fn multipart(mut self, form: Multipart) -> Self {
        if let Some(name) = form.missing_parts().first() {
            self.fail(format!(
                "the required part `{name}` of {} is not set; set it in the request body (a file with FilePart::path, ::bytes or ::reader)",
                self.path
            ));
        }
        self.set_body(RequestBody::Multipart(Arc::new(form)));
        self
    }

    /// Sets a body even on GET: only for the few endpoints documented with one.
    pub(crate) fn set_body_unchecked(&mut self, body: RequestBody) {
        self.body = body;
    }

    fn set_body(&mut self, body: RequestBody) {
        if self.method == Method::GET || self.method == Method::HEAD {
            self.fail(format!(
                "{} {} cannot carry a body; send parameters in the query",
                self.method, self.path
            ));
            return;
        }
        self.body = body;
    }

    /// The token kinds the API accepts; [`TokenTypes::NONE`] sends no `Authorization`.
    pub fn token_types(mut self, types: TokenTypes) -> Self {
        self.token_types = types;
        self
    }

    /// Sends the client's help desk credential ([`ConfigBuilder::helpdesk`](crate::ConfigBuilder::helpdesk))
    /// as `X-Lark-Helpdesk-Authorization`. The generated help desk calls do this themselves;
    /// a credential given per call ([`RequestOptions::helpdesk`]) is always sent.
    pub fn helpdesk_auth(mut self) -> Self {
        self.helpdesk_auth = true;
        self
    }

    /// Replaces the per-call options.
    pub fn with_options(mut self, options: RequestOptions) -> Self {
        self.options = options;
        self
    }

    /// Sets (or replaces) a query pair, used by pagination.
    pub(crate) fn set_query(&mut self, key: &str, value: String) {
        self.query.retain(|(k, _)| k != key);
        self.query.push((key.to_owned(), value));
    }

    /// Sets a top-level field of the JSON body, used by pagination with the token in the body.
    pub(crate) fn set_body_field(&mut self, key: &str, value: serde_json::Value) {
        let mut object = match &self.body {
            RequestBody::Json(bytes) => {
                match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes) {
                    Ok(map) => map,
                    Err(e) => {
                        self.fail(format!("the JSON body is not an object: {e}"));
                        return;
                    }
                }
            }
            _ => serde_json::Map::new(),
        };
        object.insert(key.to_owned(), value);
        self.body = RequestBody::Json(Bytes::from(serde_json::to_vec(&object).unwrap_or_default()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_params_are_encoded_as_one_segment() {
        let s = RequestSpec::new(Method::GET, "/open-apis/a/:x/b/:y")
            .path_param("x", "a/b?c#d e")
            .path_param("y", "飞书");
        assert_eq!(
            s.path(),
            "/open-apis/a/a%2Fb%3Fc%23d%20e/b/%E9%A3%9E%E4%B9%A6"
        );
        assert!(s.invalid.is_none());
    }

    #[test]
    fn empty_or_unknown_path_params_are_kept_as_errors() {
        let s = RequestSpec::new(Method::GET, "/open-apis/a/:x").path_param("x", "");
        assert!(s.invalid.as_deref().unwrap().contains("`x`"));
        let s = RequestSpec::new(Method::GET, "/open-apis/a/:x").path_param("y", "1");
        assert!(
            s.invalid
                .as_deref()
                .unwrap()
                .contains("no path parameter `y`")
        );
    }

    #[test]
    fn get_refuses_a_body() {
        let s = RequestSpec::new(Method::GET, "/open-apis/a").json(&serde_json::json!({}));
        assert!(
            s.invalid
                .as_deref()
                .unwrap()
                .contains("cannot carry a body")
        );
        assert!(matches!(s.body, RequestBody::Empty));
    }

    #[test]
    fn body_fields_can_be_set_for_pagination() {
        let mut s = RequestSpec::new(Method::POST, "/x").json(&serde_json::json!({"a": 1}));
        s.set_body_field("page_token", "t1".into());
        let RequestBody::Json(b) = &s.body else {
            panic!()
        };
        let v: serde_json::Value = serde_json::from_slice(b).unwrap();
        assert_eq!(v, serde_json::json!({"a": 1, "page_token": "t1"}));
    }
}
