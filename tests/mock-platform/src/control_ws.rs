//! Control endpoints for the long connection and user authorization, under
//! `/__mock/ws/` and `/__mock/users/`: what the library API offers
//! (`MockPlatform::ws_*`, `issue_auth_code`, ...) for a test in any language that runs
//! the mock as a binary. Bodies and answers are JSON.

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::handler::Ctx;
use crate::{WsAck, WsClientConfig, WsStats};

/// The answer for `method path` with the JSON `body`, or `None` if no endpoint here has
/// that path.
pub(crate) fn handle(ctx: &Ctx<'_>, method: &str, path: &str, body: &Value) -> Option<Response> {
    let ws = &ctx.sh.ws;
    let done = || ctx.json(StatusCode::OK, &json!({"code": 0, "msg": "ok"}));
    let bad = |msg: &str| ctx.error(StatusCode::BAD_REQUEST, 400, msg, None);
    let int = |name: &str| body.get(name).and_then(Value::as_i64);
    let flag = |name: &str| body.get(name).and_then(Value::as_bool);
    Some(match (method, path) {
        ("POST", "/__mock/ws/events") => {
            let kind = match body.get("type").and_then(Value::as_str).unwrap_or("event") {
                "event" => "event",
                "card" => "card",
                other => {
                    return Some(bad(&format!(
                        "\"type\" must be \"event\" or \"card\", not {other:?}"
                    )));
                }
            };
            let Some(event) = body.get("event") else {
                return Some(bad("\"event\" (the event's JSON) is required"));
            };
            let id = ws.push(kind, event);
            ctx.json(StatusCode::OK, &json!({"code": 0, "message_id": id}))
        }
        ("GET", "/__mock/ws/acks") => {
            let acks: Vec<Value> = ws.acks().iter().map(ack_json).collect();
            ctx.json(StatusCode::OK, &Value::Array(acks))
        }
        ("GET", "/__mock/ws/delivered") => ctx.json(StatusCode::OK, &json!(ws.delivered())),
        ("GET", "/__mock/ws/stats") => {
            let mut stats = stats_json(&ws.stats());
            stats["pending"] = json!(ws.pending());
            ctx.json(StatusCode::OK, &stats)
        }
        ("POST", "/__mock/ws/fragments") => match int("n").and_then(|n| usize::try_from(n).ok()) {
            Some(n) => {
                ws.set_fragments(n);
                done()
            }
            None => bad("\"n\" (fragments per event, a non-negative integer) is required"),
        },
        ("POST", "/__mock/ws/drop") => {
            ws.drop_connections();
            done()
        }
        ("POST", "/__mock/ws/close") => {
            ws.close_connections();
            done()
        }
        ("POST", "/__mock/ws/refuse_handshakes") => {
            let status = int("status").and_then(|s| u16::try_from(s).ok());
            let times = int("times")
                .and_then(|t| usize::try_from(t).ok())
                .unwrap_or(1);
            match status {
                Some(status) => {
                    ws.refuse_handshakes(status, int("auth_code"), times);
                    done()
                }
                None => bad(
                    "\"status\" (HTTP status) is required; \"auth_code\" and \"times\" (default 1) are optional",
                ),
            }
        }
        ("POST", "/__mock/ws/endpoint_faults") => {
            let times = int("times")
                .and_then(|t| usize::try_from(t).ok())
                .unwrap_or(1);
            match int("code") {
                Some(code) => {
                    ws.endpoint_faults(code, times);
                    done()
                }
                None => {
                    bad("\"code\" (platform code) is required; \"times\" (default 1) is optional")
                }
            }
        }
        ("POST", "/__mock/ws/client_config") => {
            let d = WsClientConfig::default();
            ws.set_client_config(WsClientConfig {
                ping_interval: int("ping_interval").unwrap_or(d.ping_interval),
                reconnect_count: int("reconnect_count").unwrap_or(d.reconnect_count),
                reconnect_interval: int("reconnect_interval").unwrap_or(d.reconnect_interval),
                reconnect_nonce: int("reconnect_nonce").unwrap_or(d.reconnect_nonce),
            });
            done()
        }
        ("POST", "/__mock/ws/silent") => match flag("silent") {
            Some(silent) => {
                ws.set_silent(silent);
                done()
            }
            None => bad("\"silent\" (boolean) is required"),
        },
        ("POST", "/__mock/users/auth_code") => match body.get("open_id").and_then(Value::as_str) {
            Some(open_id) => {
                let code = format!("code-{}-{}", ctx.sh.token_salt(), ctx.sh.next_seq());
                ctx.sh.users.issue_code(code.clone(), open_id);
                ctx.json(StatusCode::OK, &json!({"code": 0, "auth_code": code}))
            }
            None => bad("\"open_id\" (string) is required"),
        },
        ("POST", "/__mock/users/token_expire") => match (int("access_secs"), int("refresh_secs")) {
            (Some(access), Some(refresh)) => {
                ctx.sh.users.set_expire(access, refresh);
                done()
            }
            _ => bad("\"access_secs\" and \"refresh_secs\" (integers) are required"),
        },
        ("POST", "/__mock/users/expire_access") => {
            ctx.sh.users.expire_access();
            done()
        }
        ("POST", "/__mock/users/revoke") => {
            ctx.sh.users.revoke_all();
            done()
        }
        ("GET", "/__mock/users/refreshes") => ctx.json(
            StatusCode::OK,
            &json!({"refreshes": ctx.sh.users.refreshes()}),
        ),
        _ => return None,
    })
}

fn ack_json(a: &WsAck) -> Value {
    json!({
        "message_id": a.message_id,
        "seq_id": a.seq_id,
        "code": a.code,
        "biz_rt": a.biz_rt,
        "data": a.data.as_ref().map(|d| base64::engine::general_purpose::STANDARD.encode(d)),
        "headers": a.headers.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
    })
}

fn stats_json(s: &WsStats) -> Value {
    json!({
        "endpoint_calls": s.endpoint_calls,
        "connections_opened": s.connections_opened,
        "live_connections": s.live_connections,
        "handshakes_refused": s.handshakes_refused,
        "pings": s.pings,
        "pongs": s.pongs,
        "frames_received": s.frames_received,
        "frames_missing_required_fields": s.frames_missing_required_fields,
        "frames_with_wrong_service": s.frames_with_wrong_service,
        "undecodable_frames": s.undecodable_frames,
        "text_messages": s.text_messages,
        "acks": s.acks,
        "malformed_acks": s.malformed_acks,
        "events_sent": s.events_sent,
        "redeliveries": s.redeliveries,
        "data_frames_sent": s.data_frames_sent,
    })
}
