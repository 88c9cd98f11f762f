//! Successful responses: the raw bytes, and typed data with the log id.

use std::ops::Deref;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{DecodeError, Error, Result, excerpt};

/// A successful answer (HTTP 2xx, `code` 0), body not yet decoded.
///
/// ```no_run
/// # async fn run(client: lark_oapi_core::Client) -> lark_oapi_core::Result<()> {
/// use lark_oapi_core::Method;
/// let raw = client.request(Method::GET, "/open-apis/im/v1/chats").send_raw().await?;
/// println!("HTTP {} log id {:?}, {} bytes", raw.status(), raw.log_id(), raw.body().len());
/// let chats = raw.data::<serde_json::Value>()?; // the envelope's `data`
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) log_id: Option<String>,
    pub(crate) request: String,
}

impl RawResponse {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The raw body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The platform log id (`X-Tt-Logid`).
    pub fn log_id(&self) -> Option<&str> {
        self.log_id.as_deref()
    }

    /// Decodes the envelope's `data` member into `T`.
    ///
    /// A missing or `null` `data` decodes as JSON `null` (fits `()`, `Option`, `Value`), or
    /// else as `{}` (fits structs whose fields are all optional).
    pub fn data<T: DeserializeOwned>(self) -> Result<Response<T>> {
        #[derive(Deserialize)]
        #[serde(bound = "T: DeserializeOwned")]
        struct Envelope<T> {
            #[serde(default = "Option::default")]
            data: Option<T>,
        }
        let data = match serde_json::from_slice::<Envelope<T>>(&self.body) {
            Ok(Envelope { data: Some(data) }) => data,
            Ok(Envelope { data: None }) => T::deserialize(serde_json::Value::Null)
                .or_else(|_| T::deserialize(serde_json::Value::Object(Default::default())))
                .map_err(|e| self.decode_error(format!("the response has no `data`: {e}")))?,
            Err(e) => return Err(self.decode_error(e.to_string())),
        };
        Ok(Response {
            data,
            log_id: self.log_id,
            status: self.status,
        })
    }

    /// Decodes the envelope's `data` member with generated `FromJson` code; a missing or
    /// `null` `data` is the type's absent value.
    pub fn typed<T: crate::json::FromJson>(self) -> Result<Response<T>> {
        self.typed_as(false)
    }

    /// `flat`: the operation's fields sit beside `code` and `msg`, with no `data` (an
    /// operation flag from the generator: the `auth/v3` token endpoints).
    pub(crate) fn typed_as<T: crate::json::FromJson>(self, flat: bool) -> Result<Response<T>> {
        if !flat {
            return match read_data::<T>(&self.body) {
                Ok(data) => Ok(Response {
                    data,
                    log_id: self.log_id,
                    status: self.status,
                }),
                Err(e) => Err(self.decode_error(e)),
            };
        }
        let value = match serde_json::from_slice::<serde_json::Value>(&self.body) {
            Ok(v) => v,
            Err(e) => return Err(self.decode_error(e.to_string())),
        };
        let data = match value {
            serde_json::Value::Object(mut map) if flat => {
                map.remove("code");
                map.remove("msg");
                map.remove("error");
                Some(serde_json::Value::Object(map))
            }
            serde_json::Value::Object(mut map) => map.remove("data"),
            _ => return Err(self.decode_error("the body is not a JSON object".into())),
        };
        let data = match data {
            None | Some(serde_json::Value::Null) => T::absent(),
            Some(v) => T::from_json(v).map_err(|e| self.decode_error(e.at("data").to_string()))?,
        };
        Ok(Response {
            data,
            log_id: self.log_id,
            status: self.status,
        })
    }

    /// Decodes the whole body (not just `data`) into `T`: for endpoints without an envelope.
    pub fn body_as<T: DeserializeOwned>(self) -> Result<Response<T>> {
        match serde_json::from_slice::<T>(&self.body) {
            Ok(data) => Ok(Response {
                data,
                log_id: self.log_id,
                status: self.status,
            }),
            Err(e) => Err(self.decode_error(e.to_string())),
        }
    }

    /// Decodes a body that carries credentials (token endpoints): the envelope's `data`
    /// member, or the whole body. A failure never quotes the body, not even in serde's
    /// message, which can include the value it choked on.
    pub(crate) fn decode_secret<T: DeserializeOwned>(&self, data_member: bool) -> Result<T> {
        #[derive(Deserialize)]
        #[serde(bound = "T: DeserializeOwned")]
        struct Envelope<T> {
            data: T,
        }
        let decoded = if data_member {
            serde_json::from_slice::<Envelope<T>>(&self.body).map(|e| e.data)
        } else {
            serde_json::from_slice::<T>(&self.body)
        };
        decoded.map_err(|e| {
            Error::Decode(Box::new(DecodeError {
                message: format!(
                    "{:?} error at line {} column {} (the body holds credentials: not shown)",
                    e.classify(),
                    e.line(),
                    e.column()
                ),
                excerpt: String::new(),
                status: self.status,
                log_id: self.log_id.clone(),
                request: self.request.clone(),
            }))
        })
    }

    pub(crate) fn decode_error(&self, message: String) -> Error {
        Error::Decode(Box::new(DecodeError {
            message,
            excerpt: excerpt(&self.body),
            status: self.status,
            log_id: self.log_id.clone(),
            request: self.request.clone(),
        }))
    }
}

/// Typed data of a successful call, with the platform's log id.
///
/// Derefs to the data, so fields read directly: `resp.message_id`.
///
/// ```no_run
/// # async fn run(client: lark_oapi_core::Client) -> lark_oapi_core::Result<()> {
/// use lark_oapi_core::Method;
/// #[derive(serde::Deserialize)]
/// struct Sent { message_id: String }
/// let resp = client
///     .request(Method::POST, "/open-apis/im/v1/messages")
///     .query("receive_id_type", "chat_id")
///     .json(&serde_json::json!({"receive_id": "oc_x", "msg_type": "text", "content": "{\"text\":\"hi\"}"}))
///     .send::<Sent>()
///     .await?;
/// println!("{} (log id {:?})", resp.message_id, resp.log_id()); // fields through Deref
/// let id: String = resp.map(|sent| sent.message_id).into_data();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Response<T> {
    data: T,
    log_id: Option<String>,
    status: u16,
}

impl<T> Response<T> {
    /// The data.
    pub fn data(&self) -> &T {
        &self.data
    }

    /// The data, owned.
    pub fn into_data(self) -> T {
        self.data
    }

    /// The platform log id (`X-Tt-Logid`) of the call.
    pub fn log_id(&self) -> Option<&str> {
        self.log_id.as_deref()
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Transforms the data, keeping the log id.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            data: f(self.data),
            log_id: self.log_id,
            status: self.status,
        }
    }
}

impl<T> Deref for Response<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.data
    }
}

/// The envelope's `data` member decoded in one pass over the body (no `Value` tree); a
/// missing or `null` `data` is the type's absent value.
fn read_data<T: crate::json::FromJson>(body: &[u8]) -> std::result::Result<T, String> {
    use crate::json::Reader;
    let mut r = Reader::from_slice(body).map_err(|e| e.to_string())?;
    if r.next_byte() != Some(b'{') {
        return Err("the body is not a JSON object".into());
    }
    let mut data = T::absent();
    let read = (|| {
        r.begin_object()?;
        while let Some(key) = r.next_key()? {
            if key == "data" {
                r.put(&mut data).map_err(|e| e.at("data"))?;
            } else {
                r.skip()?;
            }
        }
        r.finish()
    })();
    read.map(|()| data).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::read_data;

    #[test]
    fn data_is_read_in_one_pass_with_the_path_of_a_bad_value() {
        let ok = br#"{"code":0,"msg":"ok","data":{"items":["a","b"]},"extra":[1,{}]}"#;
        let data: serde_json::Value = read_data(ok).unwrap();
        assert_eq!(data, serde_json::json!({"items": ["a", "b"]}));
        let items: std::collections::BTreeMap<String, Vec<String>> = read_data(ok).unwrap();
        assert_eq!(items["items"], ["a", "b"]);
        // Missing or null `data`: the absent value.
        assert_eq!(
            read_data::<Vec<i64>>(br#"{"code":0}"#).unwrap(),
            Vec::<i64>::new()
        );
        assert_eq!(read_data::<Option<i64>>(br#"{"data":null}"#).unwrap(), None);
        let bad = read_data::<std::collections::BTreeMap<String, i64>>(br#"{"data":{"n":"x"}}"#);
        assert_eq!(
            bad.unwrap_err(),
            "at `data.n`: expected an integer, found a string"
        );
        assert_eq!(
            read_data::<i64>(b"[1]").unwrap_err(),
            "the body is not a JSON object"
        );
        assert!(
            read_data::<i64>(br#"{"data":1} x"#).is_err(),
            "trailing bytes"
        );
        assert!(
            read_data::<i64>(b"{\"data\":\"\xff\"}").is_err(),
            "not UTF-8"
        );
    }
}
