//! Control endpoints under `/__mock/` (used when the mock runs as a binary).

use std::time::Duration;

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::handler::Ctx;
use crate::{Fault, RecordedRequest};

/// Control request bodies larger than this are refused.
const CONTROL_BODY_LIMIT: usize = 1024 * 1024;

pub(crate) async fn handle(ctx: &Ctx<'_>, req: Request, path: &str) -> Response {
    let method = req.method().as_str().to_owned();
    let body = match to_bytes(req.into_body(), CONTROL_BODY_LIMIT).await {
        Ok(body) => body,
        Err(_) => return bad(ctx, "control body unreadable or larger than 1 MiB"),
    };
    let parse = || serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    let done = || ctx.json(StatusCode::OK, &json!({"code": 0, "msg": "ok"}));
    match (method.as_str(), path) {
        ("GET", "/__mock/requests") => {
            let list: Vec<Value> = ctx
                .sh
                .requests()
                .iter()
                .map(|r| request_json(ctx, r))
                .collect();
            ctx.json(StatusCode::OK, &Value::Array(list))
        }
        ("POST", "/__mock/reset") => {
            ctx.sh.clear_requests();
            ctx.sh.clear_faults();
            done()
        }
        ("POST", "/__mock/revoke_tokens") => {
            ctx.sh.revoke_tokens();
            done()
        }
        ("POST", "/__mock/faults") => {
            let spec = parse();
            let Some(fault_path) = spec.get("path").and_then(Value::as_str) else {
                return bad(ctx, "\"path\" (string) is required");
            };
            match spec.get("fault").map(fault_from_json) {
                Some(Ok(fault)) => {
                    ctx.sh.push_fault(fault_path, fault);
                    done()
                }
                Some(Err(e)) => bad(ctx, &e),
                None => bad(ctx, "\"fault\" (object) is required"),
            }
        }
        ("POST", "/__mock/token_expire") => match parse().get("secs").and_then(Value::as_i64) {
            Some(secs) => {
                ctx.sh.set_token_expire(secs);
                done()
            }
            None => bad(ctx, "\"secs\" (integer) is required"),
        },
        ("POST", "/__mock/app_ticket") => match parse().get("ticket").and_then(Value::as_str) {
            Some(ticket) => {
                ctx.sh.set_app_ticket(ticket);
                done()
            }
            None => bad(ctx, "\"ticket\" (string) is required"),
        },
        ("POST", "/__mock/list_size") => {
            let spec = parse();
            let list_path = spec.get("path").and_then(Value::as_str);
            let total = spec
                .get("total")
                .and_then(Value::as_u64)
                .and_then(|t| usize::try_from(t).ok());
            match (list_path, total) {
                (Some(p), Some(t)) => {
                    ctx.sh.set_list_size(p, t);
                    done()
                }
                _ => bad(
                    ctx,
                    "\"path\" (string) and \"total\" (integer) are required",
                ),
            }
        }
        _ => match crate::control_ws::handle(ctx, &method, path, &parse()) {
            Some(answer) => answer,
            None => ctx.error(StatusCode::NOT_FOUND, 404, "not found", None),
        },
    }
}

fn bad(ctx: &Ctx<'_>, msg: &str) -> Response {
    ctx.error(StatusCode::BAD_REQUEST, 400, msg, None)
}

fn request_json(ctx: &Ctx<'_>, r: &RecordedRequest) -> Value {
    let pairs =
        |v: &[(String, String)]| -> Vec<Value> { v.iter().map(|(k, v)| json!([k, v])).collect() };
    let multipart = r.multipart.as_ref().map(|parts| {
        parts
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "file_name": p.file_name,
                    "content_type": p.content_type,
                    "len": p.len,
                    "digest": p.digest,
                    "text": p.text,
                })
            })
            .collect::<Vec<_>>()
    });
    json!({
        "method": r.method,
        "path": r.path,
        "raw_query": r.raw_query,
        "query": pairs(&r.query),
        "headers": pairs(&r.headers),
        "body": String::from_utf8_lossy(&r.body),
        "multipart": multipart,
        "received_ms": r.received_at.saturating_duration_since(ctx.sh.started).as_millis() as u64,
    })
}

/// Parses the `"fault"` object of `POST /__mock/faults`.
pub(crate) fn fault_from_json(v: &Value) -> Result<Fault, String> {
    let u64_field = |name: &str| v.get(name).and_then(Value::as_u64);
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .ok_or("fault \"kind\" (string) is required")?;
    let fault = match kind {
        "invalid_token" => Fault::InvalidToken,
        "rate_limited" => Fault::RateLimited {
            reset_secs: u64_field("reset_secs").unwrap_or(1),
        },
        "server_error" => {
            let status = u64_field("status").unwrap_or(500);
            Fault::ServerError(u16::try_from(status).map_err(|_| "status out of range")?)
        }
        "malformed_json" => Fault::MalformedJson,
        "drop_connection" => Fault::DropConnection,
        "delay" => Fault::Delay(Duration::from_millis(
            u64_field("ms").ok_or("delay needs \"ms\" (integer)")?,
        )),
        "raw_json" => Fault::RawJson {
            http_status: u16::try_from(u64_field("http_status").unwrap_or(200))
                .map_err(|_| "http_status out of range")?,
            body: v
                .get("body")
                .and_then(Value::as_str)
                .ok_or("raw_json fault needs \"body\" (string)")?
                .to_owned(),
        },
        "api" => Fault::Api {
            http_status: u16::try_from(u64_field("http_status").unwrap_or(400))
                .map_err(|_| "http_status out of range")?,
            code: v
                .get("code")
                .and_then(Value::as_i64)
                .ok_or("api fault needs \"code\" (integer)")?,
            msg: v
                .get("msg")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            error: v.get("error").cloned().filter(|e| !e.is_null()),
        },
        "event_stream" => Fault::EventStream {
            steps: v
                .get("steps")
                .and_then(Value::as_array)
                .ok_or("event_stream fault needs \"steps\" (array)")?
                .iter()
                .map(sse_step_from_json)
                .collect::<Result<_, _>>()?,
        },
        other => return Err(format!("unknown fault kind {other:?}")),
    };
    Ok(fault)
}

/// One step of an `event_stream` fault: `{"send": "text"}`, `{"wait_ms": N}` or
/// `{"cut": true}`.
fn sse_step_from_json(v: &Value) -> Result<crate::SseStep, String> {
    if let Some(text) = v.get("send").and_then(Value::as_str) {
        return Ok(crate::SseStep::Send(text.to_owned()));
    }
    if let Some(ms) = v.get("wait_ms").and_then(Value::as_u64) {
        return Ok(crate::SseStep::Wait(Duration::from_millis(ms)));
    }
    if v.get("cut").and_then(Value::as_bool) == Some(true) {
        return Ok(crate::SseStep::Cut);
    }
    Err(format!(
        "an event_stream step is {{\"send\": text}}, {{\"wait_ms\": n}} or {{\"cut\": true}}, not {v}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_specs() {
        assert!(matches!(
            fault_from_json(&json!({"kind":"rate_limited","reset_secs":3})),
            Ok(Fault::RateLimited { reset_secs: 3 })
        ));
        assert!(matches!(
            fault_from_json(&json!({"kind":"server_error","status":503})),
            Ok(Fault::ServerError(503))
        ));
        assert!(matches!(
            fault_from_json(&json!({"kind":"delay","ms":100})),
            Ok(Fault::Delay(d)) if d == Duration::from_millis(100)
        ));
        assert!(matches!(
            fault_from_json(&json!({"kind":"api","http_status":400,"code":1,"msg":"x"})),
            Ok(Fault::Api {
                http_status: 400,
                code: 1,
                ..
            })
        ));
        match fault_from_json(&json!({"kind":"event_stream","steps":[
            {"send":"data: a\n\n"},{"wait_ms":5},{"cut":true}
        ]})) {
            Ok(Fault::EventStream { steps }) => assert_eq!(
                steps,
                [
                    crate::SseStep::Send("data: a\n\n".into()),
                    crate::SseStep::Wait(Duration::from_millis(5)),
                    crate::SseStep::Cut,
                ]
            ),
            other => panic!("{other:?}"),
        }
        assert!(fault_from_json(&json!({"kind":"event_stream","steps":[{"say":"x"}]})).is_err());
        assert!(fault_from_json(&json!({"kind":"event_stream"})).is_err());
        assert!(fault_from_json(&json!({"kind":"nope"})).is_err());
        assert!(fault_from_json(&json!({})).is_err());
        assert!(fault_from_json(&json!({"kind":"server_error","status":70000})).is_err());
    }
}
