//! An embedded mock of the Feishu / Lark Open Platform HTTP API.
//!
//! [`MockPlatform::start`] binds an HTTP/1.1 server on `127.0.0.1` with a random
//! port and serves a small, deterministic imitation of the platform:
//!
//! * the token endpoints under `/open-apis/auth/v3/` (self-built and marketplace
//!   apps), with real expiry and revocation;
//! * authorization checks on every other `/open-apis/` path, answering the
//!   platform's error codes (99991661, 99991663, 99991664, 99991668, 99991671);
//! * OAuth 2 with PKCE: the authorize step (`GET /open-apis/authen/v1/authorize`, which
//!   redirects back at once with a code bound to the challenge, as if the user approved)
//!   and the v2 token endpoint (verifier checked, refresh tokens rotated, scopes narrowed,
//!   OAuth-style refusals), and the device flow (`POST /oauth/v1/device_authorization`,
//!   polls answered as [`MockPlatform::script_device_flow`] says);
//! * a handful of real APIs: sending / replying to / updating messages, paginated
//!   lists, multipart uploads and streamed binary downloads;
//! * an echo handler for every other `/open-apis/` path;
//! * scripted server-sent-event answers on any path ([`Fault::EventStream`]: events,
//!   comments, multi-line data, slow drips, silence and cut connections);
//! * the long connection (WebSocket mode): `POST /callback/ws/endpoint` and
//!   the upgrade on `GET /callback/ws/connect`, speaking the protobuf
//!   [`frame`] protocol — push events with [`MockPlatform::ws_push_event`],
//!   observe acks with [`MockPlatform::ws_acks`], inject failures with
//!   [`MockPlatform::ws_drop_connections`], [`MockPlatform::ws_refuse_handshakes`],
//!   [`MockPlatform::ws_endpoint_faults`] and [`MockPlatform::ws_set_silent`];
//! * a webhook sender, [`MockPlatform::send_callback`], that POSTs events to an
//!   app's URL encrypted and signed like the platform (see [`crypto`]) and
//!   retries until HTTP 200.
//!
//! Run as a binary (`cargo run -p lark-oapi-mock`), it is driven over HTTP by control
//! endpoints (JSON bodies), so a test in any language can use it:
//!
//! | endpoint | does |
//! | --- | --- |
//! | `GET /__mock/requests`, `POST /__mock/reset` | the request log; forget it and every queued fault |
//! | `POST /__mock/faults` `{"path", "fault": {"kind", ..}}` | queue a [`Fault`] (`event_stream` with `"steps": [{"send": text}, {"wait_ms": n}, {"cut": true}]` scripts a server-sent-events answer) |
//! | `POST /__mock/revoke_tokens`, `/__mock/token_expire` `{"secs"}`, `/__mock/app_ticket` `{"ticket"}`, `/__mock/list_size` `{"path","total"}` | tokens and lists |
//! | `POST /__mock/ws/events` `{"event", "type": "event"\|"card"}` | push an event over the long connection; answers its `message_id` |
//! | `GET /__mock/ws/acks`, `/__mock/ws/delivered`, `/__mock/ws/stats` | what clients acknowledged, and the server's counters |
//! | `POST /__mock/ws/fragments` `{"n"}`, `/__mock/ws/silent` `{"silent"}`, `/__mock/ws/client_config` `{"ping_interval", ..}` | how events are sent |
//! | `POST /__mock/ws/drop`, `/__mock/ws/close`, `/__mock/ws/refuse_handshakes` `{"status","auth_code","times"}`, `/__mock/ws/endpoint_faults` `{"code","times"}` | connection failures |
//! | `POST /__mock/users/auth_code` `{"open_id"}`, `/__mock/users/token_expire` `{"access_secs","refresh_secs"}`, `/__mock/users/expire_access`, `/__mock/users/revoke`; `GET /__mock/users/refreshes` | user authorization |
//!
//! Response header names are sent in the platform's spelling (`X-Tt-Logid`,
//! `Content-Type`), for clients that read them by exact name.
//!
//! Every request is recorded ([`MockPlatform::requests`]) before anything else
//! happens to it, and failures can be injected per path ([`MockPlatform::push_fault`]).
//! Every response carries an `X-Tt-Logid` header (and `x-request-id` with the
//! same value); every JSON error body is
//! `{"code":N,"msg":"...","error":{"log_id":"<same id>","troubleshooter":"..."}}`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use lark_oapi_mock::{Fault, MockPlatform};
//!
//! let mock = MockPlatform::start().await?;
//! mock.push_fault("/open-apis/im/v1/messages", Fault::RateLimited { reset_secs: 1 });
//! // ... point the SDK at mock.base_url() ...
//! println!("{} requests so far", mock.requests().len());
//! mock.shutdown().await;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod api;
mod callback;
mod cardkit;
mod control;
mod control_ws;
pub mod crypto;
pub mod frame;
mod handler;
mod messages;
mod oauth;
mod redis_server;
mod server;
mod state;
mod user_auth;
mod webhook;
mod ws;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::Shared;
use crate::ws::StopMode;

pub use crate::callback::{
    CallbackDelivery, CallbackOptions, CallbackRequest, build_callback, send_callback,
    send_callback_spread,
};
pub use crate::cardkit::{CardOp, CardState, ELEMENT_TEXT_LIMIT, OPS_PER_SEC};
pub use crate::oauth::{DeviceFlowScript, DevicePoll, OAUTH_USER};
pub use crate::redis_server::RedisServer;
pub use crate::webhook::{WEBHOOK_BODY_LIMIT, WebhookConfig, webhook_sign};
pub use crate::ws::{NACK_REDELIVERY_DELAY, WS_SERVICE_ID, WsAck, WsClientConfig, WsStats};

/// The `app_id` the mock accepts (self-built and marketplace flows alike).
pub const APP_ID: &str = "cli_a1b2c3d4e5f60718";

/// The `app_secret` that goes with [`APP_ID`].
pub const APP_SECRET: &str = "mock-app-secret";

/// Path prefix of custom-bot webhooks: `POST <base_url>/open-apis/bot/v2/hook/<token>`.
pub const WEBHOOK_PATH: &str = "/open-apis/bot/v2/hook/";

/// The `app_ticket` the marketplace app-token endpoint accepts until
/// [`MockPlatform::set_app_ticket`] changes it.
pub const APP_TICKET: &str = "mock-app-ticket";

/// The CA (DER) that signed the certificate of a mock started with
/// [`MockPlatform::start_tls`]: trust it in the client under test
/// (`ConfigBuilder::add_root_certificate`). Test material only: its key is public.
pub const TEST_CA_DER: &[u8] = include_bytes!("../certs/test-ca.der");

/// A running mock platform.
///
/// Dropping it stops the server (the accept loop and every open connection,
/// WebSocket ones included, are aborted); [`MockPlatform::shutdown`] stops it
/// gracefully instead.
pub struct MockPlatform {
    addr: SocketAddr,
    tls: bool,
    shared: Arc<Shared>,
    stop: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MockPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockPlatform")
            .field("addr", &self.addr)
            .field("running", &self.task.is_some())
            .finish_non_exhaustive()
    }
}

impl MockPlatform {
    /// Starts the mock on `127.0.0.1` with a port chosen by the OS.
    ///
    /// Must be called inside a Tokio runtime; the server runs as a task of it.
    pub async fn start() -> std::io::Result<MockPlatform> {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// Starts the mock on `addr` (port 0 lets the OS choose).
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<MockPlatform> {
        Self::start_with(addr, None).await
    }

    /// Starts the mock on `127.0.0.1` speaking TLS only: `https://localhost:<port>` for
    /// the API and `wss://localhost:<port>` long connections, with a certificate for
    /// `localhost` (only: not `127.0.0.1`) signed by [`TEST_CA_DER`].
    pub async fn start_tls() -> std::io::Result<MockPlatform> {
        let acceptor = server::tls_acceptor()?;
        Self::start_with(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), Some(acceptor)).await
    }

    async fn start_with(
        addr: SocketAddr,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> std::io::Result<MockPlatform> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new_at(addr, tls.is_some()));
        let router = handler::router(Arc::clone(&shared));
        let (stop_tx, stop_rx) = watch::channel(false);
        let is_tls = tls.is_some();
        let task = tokio::spawn(server::run(listener, router, stop_rx, tls));
        Ok(MockPlatform {
            addr,
            tls: is_tls,
            shared,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }

    /// The base URL of the mock, e.g. `http://127.0.0.1:41234` (no trailing slash), or
    /// `https://localhost:41234` when started with [`start_tls`](Self::start_tls).
    pub fn base_url(&self) -> String {
        if self.tls {
            format!("https://localhost:{}", self.addr.port())
        } else {
            format!("http://{}", self.addr)
        }
    }

    /// The address the mock listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far (control requests under `/__mock/`
    /// excepted), in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// The recorded requests whose path (without query) is exactly `path`.
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        self.shared.requests_to(path)
    }

    /// Forgets every recorded request.
    pub fn clear_requests(&self) {
        self.shared.clear_requests();
    }

    /// Turns request recording on (the default) or off.
    ///
    /// Benchmarks that send millions of requests can turn it off so the log
    /// does not grow without bound.
    pub fn set_recording(&self, enabled: bool) {
        self.shared.set_recording(enabled);
    }

    /// Queues `fault` for the next request to `path` (exact path, no query).
    ///
    /// Faults form a FIFO queue per path. The path `"*"` matches any
    /// `/open-apis/` path that is not a token endpoint; a queue for the exact
    /// path is used before the `"*"` queue. Each queued fault is consumed by
    /// exactly one matching request, after which normal handling resumes. On
    /// `/open-apis/` paths that need a token the fault applies after the
    /// authorization check succeeded.
    pub fn push_fault(&self, path: &str, fault: Fault) {
        self.shared.push_fault(path, fault);
    }

    /// How the next device authorizations (RFC 8628) answer: their expiry and interval, and
    /// the answers to their polls (pending, slow_down, denied, expired, then approved).
    pub fn script_device_flow(&self, script: DeviceFlowScript) {
        crate::state::lock(&self.shared.oauth).script_devices(script);
    }

    /// The user who approves OAuth 2 authorizations from now on (`None`: [`OAUTH_USER`]).
    pub fn set_oauth_user(&self, open_id: Option<&str>) {
        crate::state::lock(&self.shared.oauth).set_user(open_id.map(str::to_owned));
    }

    /// Puts `host` into the connection URLs the endpoint hands out, instead of `localhost`
    /// (TLS) or `127.0.0.1`; the port stays. `None` restores the default. For checking that
    /// a client verifies the certificate against the host it connects to.
    pub fn ws_set_url_host(&self, host: Option<&str>) {
        self.shared.ws.set_url_host(host.map(str::to_owned));
    }

    /// Makes every tenant and app access token issued so far invalid.
    pub fn revoke_tokens(&self) {
        self.shared.revoke_tokens();
    }

    /// Sets the `expire` (seconds) returned for tokens issued from now on
    /// (default 7200). The tokens really become invalid after that many seconds;
    /// 0 or less issues tokens that are already expired.
    pub fn set_token_expire(&self, secs: i64) {
        self.shared.set_token_expire(secs);
    }

    /// Issues a login code for the user `open_id`, as the platform's authorization page
    /// would after the user agreed. It is valid for 5 minutes and only once, at
    /// `POST /open-apis/authen/v1/oidc/access_token`.
    ///
    /// User access tokens the mock issues (`u-mock...`) are checked on every call: an
    /// expired one gets 99991677, a revoked or unknown `u-mock` one 99991668. Other `u-`
    /// tokens are accepted as before. Refresh tokens are single-use: a second use gets
    /// 20073, a revoked one 20064, an expired one 20037, an unknown one 20026.
    pub fn issue_auth_code(&self, open_id: &str) -> String {
        let code = format!(
            "code-{}-{}",
            self.shared.token_salt(),
            self.shared.next_seq()
        );
        self.shared.users.issue_code(code.clone(), open_id);
        code
    }

    /// Sets the lifetimes (seconds) of user access tokens and refresh tokens issued from
    /// now on (defaults 7200 and 30 days). 0 or less issues tokens that are already expired.
    pub fn set_user_token_expire(&self, access_secs: i64, refresh_secs: i64) {
        self.shared.users.set_expire(access_secs, refresh_secs);
    }

    /// Expires every user access token issued so far, while their refresh tokens stay valid:
    /// calls with them get 99991677 although the client thinks them valid (clock skew, or a
    /// token cut short by the platform).
    pub fn expire_user_access_tokens(&self) {
        self.shared.users.expire_access();
    }

    /// Revokes every user access token and refresh token issued so far.
    pub fn revoke_user_tokens(&self) {
        self.shared.users.revoke_all();
    }

    /// How many refresh requests reached `.../oidc/refresh_access_token`, refused ones
    /// included (a fault queued with `push_fault` answers before the endpoint: not counted).
    pub fn user_token_refreshes(&self) -> usize {
        self.shared.users.refreshes()
    }

    /// Sets the ticket the marketplace `app_access_token` endpoint accepts.
    pub fn set_app_ticket(&self, ticket: &str) {
        self.shared.set_app_ticket(ticket);
    }

    /// Sets the number of items the paginated list at `path` serves (default 45).
    pub fn set_list_size(&self, path: &str, total: usize) {
        self.shared.set_list_size(path, total);
    }

    // ---- long connection ---------------------------------------------------

    /// Queues `event` for delivery over the long connection as a data frame
    /// with header `type=event`; returns its `message_id`.
    ///
    /// The event goes to the newest live connection (to a random one after
    /// [`MockPlatform::ws_set_spread`]), or waits until one exists. It stays pending until acknowledged with code 200: a non-200 ack
    /// makes it due again after [`NACK_REDELIVERY_DELAY`], and a connection
    /// that ends before acking hands it to the next connection. Redeliveries
    /// carry the same `message_id` and the same JSON bytes.
    pub fn ws_push_event(&self, event: serde_json::Value) -> String {
        self.shared.ws.push("event", &event)
    }

    /// Spreads deliveries over the live connections (`true`): each delivery
    /// attempt, the first and every redelivery, goes to a live connection picked
    /// at random, as the platform load-balances the long connections of one app
    /// (protocol notes §8). Off (the default): the newest connection takes all.
    pub fn ws_set_spread(&self, spread: bool) {
        self.shared.ws.set_spread(spread);
    }

    /// Like [`MockPlatform::ws_push_event`] but the frames carry header `type=card`.
    pub fn ws_push_card_frame(&self, event: serde_json::Value) -> String {
        self.shared.ws.push("card", &event)
    }

    /// Every acknowledgement received so far (any code, duplicates included),
    /// in arrival order.
    pub fn ws_acks(&self) -> Vec<WsAck> {
        self.shared.ws.acks()
    }

    /// The message ids acknowledged with code 200, in order, each once.
    pub fn ws_delivered(&self) -> Vec<String> {
        self.shared.ws.delivered()
    }

    /// Number of pushed events not yet acknowledged with code 200 (queued or in flight).
    pub fn ws_pending(&self) -> usize {
        self.shared.ws.pending()
    }

    /// Splits every event sent from now on into `n` roughly equal fragments
    /// (0 and 1 mean "no split"; never more fragments than payload bytes).
    ///
    /// Fragments share the `message_id`, carry `sum=n` and `seq=0..n`, and are
    /// sent in a shuffled order that is never `0, 1, 2, …`.
    pub fn ws_set_fragments(&self, n: usize) {
        self.shared.ws.set_fragments(n);
    }

    /// Drops every live WebSocket connection abruptly: the TCP connection is
    /// closed without a close frame. Unacknowledged events are redelivered on
    /// the next connection.
    pub fn ws_drop_connections(&self) {
        self.shared.ws.drop_connections();
    }

    /// Closes every live WebSocket connection gracefully: a close frame (code
    /// 1000), then up to a second for the client's close frame. Unacknowledged
    /// events are redelivered on the next connection.
    pub fn ws_close_with_frame(&self) {
        self.shared.ws.close_connections();
    }

    /// Refuses the next `times` WebSocket upgrades with HTTP `status` (500 if
    /// it is below 200 or invalid) and headers `handshake-status: <status>`,
    /// `handshake-msg` and, when given, `handshake-autherrcode: <code>`.
    ///
    /// Calls queue up (FIFO). A refused upgrade still uses up its ticket.
    /// Without injected refusals, an upgrade with an unknown or used ticket is
    /// refused with 514 and no `handshake-autherrcode`.
    pub fn ws_refuse_handshakes(&self, status: u16, auth_err_code: Option<i64>, times: usize) {
        self.shared
            .ws
            .refuse_handshakes(status, auth_err_code, times);
    }

    /// Answers the next `times` endpoint calls with HTTP 200 and
    /// `{"code": code, "msg": "..."}` instead of a connection URL (calls queue up, FIFO).
    ///
    /// Platform codes: 1 and 1000040343 are retryable; 1000040344,
    /// 1000040350, 403 and any other code are fatal for a client.
    pub fn ws_endpoint_faults(&self, code: i64, times: usize) {
        self.shared.ws.endpoint_faults(code, times);
    }

    /// Sets the `ClientConfig` returned by later endpoint calls and pongs.
    pub fn ws_set_client_config(&self, cfg: WsClientConfig) {
        self.shared.ws.set_client_config(cfg);
    }

    /// While silent, connections stay open and frames are read (pings are
    /// counted, acks recorded) but nothing is sent: no pongs, no events —
    /// a dead peer for a client's watchdog. Turning it off resumes delivery.
    pub fn ws_set_silent(&self, silent: bool) {
        self.shared.ws.set_silent(silent);
    }

    /// Counters of the long-connection server.
    pub fn ws_stats(&self) -> WsStats {
        self.shared.ws.stats()
    }

    /// Waits until `cond` holds, re-checking it whenever the long-connection
    /// state changes (endpoint calls, connections, frames, acks, pushes) —
    /// no polling. Returns `false` if it still does not hold after `timeout`.
    ///
    /// ```no_run
    /// # async fn demo(mock: lark_oapi_mock::MockPlatform) {
    /// # use std::time::Duration;
    /// let id = mock.ws_push_event(serde_json::json!({"schema": "2.0"}));
    /// assert!(mock.ws_wait_until(Duration::from_secs(1), |m| m.ws_delivered().contains(&id)).await);
    /// # }
    /// ```
    pub async fn ws_wait_until(
        &self,
        timeout: Duration,
        mut cond: impl FnMut(&MockPlatform) -> bool,
    ) -> bool {
        let mut changes = self.shared.ws.subscribe_changes();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            changes.borrow_and_update();
            if cond(self) {
                return true;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return cond(self),
            }
        }
    }

    // ---- webhook sender ----------------------------------------------------

    /// POSTs `event` to the app at `url` like the platform's event push: see
    /// [`send_callback`] (the free function; this method only forwards to it).
    ///
    /// ```no_run
    /// # async fn demo(mock: lark_oapi_mock::MockPlatform) {
    /// use lark_oapi_mock::CallbackOptions;
    ///
    /// let opts = CallbackOptions {
    ///     encrypt_key: Some("my-encrypt-key".into()),
    ///     sign: true,
    ///     ..CallbackOptions::default()
    /// };
    /// let event = serde_json::json!({"schema": "2.0", "header": {"event_id": "e1"}});
    /// let delivery = mock.send_callback("http://127.0.0.1:3000/webhook", &event, &opts).await;
    /// assert_eq!(delivery.statuses.last(), Some(&200));
    /// # }
    /// ```
    pub async fn send_callback(
        &self,
        url: &str,
        event: &serde_json::Value,
        opts: &CallbackOptions,
    ) -> CallbackDelivery {
        send_callback(url, event, opts).await
    }

    /// The card entity `card_id` as it stands (CardKit), or `None` when there is none.
    pub fn card(&self, card_id: &str) -> Option<CardState> {
        self.shared.cards.snapshot(card_id)
    }

    /// Ids of every card entity created, oldest first.
    pub fn card_ids(&self) -> Vec<String> {
        self.shared.cards.ids()
    }

    /// Turns streaming mode of `card_id` off, as the platform does ten minutes after it was
    /// turned on; false when there is no such card.
    pub fn close_card_streaming(&self, card_id: &str) -> bool {
        self.shared.cards.close_streaming(card_id)
    }

    /// The message `message_id` as `im.v1.message.get` answers it (`data.items[0]`), or
    /// `None` when the mock has not seen it.
    pub fn message(&self, message_id: &str) -> Option<serde_json::Value> {
        self.shared
            .messages
            .get(message_id)
            .map(|m| crate::messages::message_json(message_id, &m))
    }

    /// Forwards the messages `ids` to `chat_id` as one `merge_forward` message (as a user
    /// does with "forward one by one → merge"); returns its id, or `None` when one of the
    /// messages does not exist. `im.v1.message.get` of it lists it and the copies, each
    /// with `upper_message_id`.
    pub fn forward_messages(&self, chat_id: &str, ids: &[&str]) -> Option<String> {
        let sh = &self.shared;
        sh.messages
            .forward(&mut || format!("om_mock_{}", sh.next_seq()), chat_id, ids)
    }

    /// Recalls `message_id` as its sender would; false when there is no such message.
    pub fn recall_message(&self, message_id: &str) -> bool {
        self.shared.messages.recall(message_id)
    }

    /// Deletes `message_id` as a chat's owner or admin would (replies to it and its card
    /// then answer `231003`); false when there is no such message.
    pub fn delete_message(&self, message_id: &str) -> bool {
        self.shared
            .messages
            .remove(message_id, crate::messages::CODE_DELETED)
    }

    /// The `im.message.receive_v1` event (schema 2.0) a bot would get for message
    /// `message_id` as if user `sender_open_id` had sent it to its group: push it with
    /// [`MockPlatform::ws_push_event`] or deliver it with [`MockPlatform::send_callback`].
    pub fn receive_event(
        &self,
        message_id: &str,
        sender_open_id: &str,
    ) -> Option<serde_json::Value> {
        crate::messages::receive_event(&self.shared.messages, message_id, sender_open_id)
    }

    /// Registers the custom bot `token` (`POST <base_url>/open-apis/bot/v2/hook/<token>`).
    pub fn add_webhook(&self, token: &str, config: WebhookConfig) {
        self.shared.hooks.add(token, config);
    }

    /// The bodies the custom bot `token` accepted, oldest first.
    pub fn webhook_messages(&self, token: &str) -> Vec<serde_json::Value> {
        self.shared.hooks.accepted(token)
    }

    /// Stops the server gracefully: no new connections are accepted, requests
    /// in flight are answered (for at most a few seconds), idle connections
    /// are closed, WebSocket connections get a close frame.
    pub async fn shutdown(mut self) {
        self.shared.ws.stop(StopMode::Graceful);
        self.shared.ws.wait_idle(Duration::from_secs(2)).await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockPlatform {
    fn drop(&mut self) {
        // WebSocket connections run as their own tasks: tell them to end.
        self.shared.ws.stop(StopMode::Abort);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A failure to inject into the next matching request; see [`MockPlatform::push_fault`].
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum Fault {
    /// HTTP 400 with `{"code":99991663,"msg":"Invalid access token for authorization. ..."}`.
    InvalidToken,
    /// HTTP 429 with headers `x-ogw-ratelimit-limit: 50` and
    /// `x-ogw-ratelimit-reset: <reset_secs>` and body
    /// `{"code":99991400,"msg":"request trigger frequency limit"}`.
    RateLimited {
        /// Value of the `x-ogw-ratelimit-reset` header (seconds).
        reset_secs: u64,
    },
    /// That HTTP status (500 when it is not a valid status) with body
    /// `{"code":1500,"msg":"internal error"}` (code 1503 for status 503).
    ServerError(u16),
    /// HTTP 200, `application/json`, body `{"code":0,"msg":"success","data":{` (truncated).
    MalformedJson,
    /// The TCP connection is closed without sending any response bytes.
    DropConnection,
    /// Waits that long, then handles the request normally.
    Delay(Duration),
    /// That HTTP status (500 when it is not a valid status) with exactly this JSON body:
    /// for envelopes the platform should not send but might (`"msg": null`, a list page
    /// scripted by hand).
    RawJson {
        /// HTTP status of the answer.
        http_status: u16,
        /// The body, sent as is with `Content-Type: application/json`.
        body: String,
    },
    /// HTTP 200 with a file: `Content-Type: application/octet-stream`, `Content-Disposition:
    /// attachment; filename="<name>"` and exactly these bytes (for any download path).
    File {
        /// The file name the answer gives.
        name: String,
        /// The file's bytes.
        body: Vec<u8>,
    },
    /// HTTP 200 with `Content-Type: text/event-stream` and a body written step by step
    /// (server-sent events): bytes, pauses, and a cut connection.
    EventStream {
        /// What the body does, in order; after the last step the body ends normally
        /// (unless a [`SseStep::Cut`] ended it first).
        steps: Vec<SseStep>,
    },
    /// An arbitrary platform error.
    Api {
        /// HTTP status of the answer (500 when it is not a valid status).
        http_status: u16,
        /// The envelope `code`.
        code: i64,
        /// The envelope `msg`.
        msg: String,
        /// Merged into the envelope's `error` object when it is a JSON object
        /// (e.g. `{"field_violations":[...]}`), stored under `error.details` otherwise.
        error: Option<serde_json::Value>,
    },
}

/// One step of a [`Fault::EventStream`] body.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseStep {
    /// Writes these bytes as one chunk (e.g. `"data: hi\n\n"`, or half an event).
    Send(String),
    /// Writes nothing for that long (a slow drip, or a silent stream).
    Wait(Duration),
    /// Breaks the connection: the body never ends properly (the client sees a transport
    /// error after what was sent).
    Cut,
}

/// A request as the mock received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `"POST"`.
    pub method: String,
    /// The path without the query, e.g. `"/open-apis/im/v1/messages"`.
    pub path: String,
    /// The raw query string (without `?`), if the URI had one.
    pub raw_query: Option<String>,
    /// Decoded query pairs in order; repeated keys are kept.
    pub query: Vec<(String, String)>,
    /// Header names (lowercase) and values (lossy UTF-8), in order.
    pub headers: Vec<(String, String)>,
    /// The raw body, capped at 4 MiB; empty for multipart requests.
    pub body: Bytes,
    /// The parsed parts of a `multipart/form-data` request.
    pub multipart: Option<Vec<RecordedPart>>,
    /// When the request reached the handler.
    pub received_at: Instant,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of query key `key`, in order.
    pub fn query_values(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// One part of a recorded `multipart/form-data` request.
#[derive(Debug, Clone)]
pub struct RecordedPart {
    /// The form field name (empty if the part had none).
    pub name: String,
    /// The `filename` of the part's `Content-Disposition`, if any.
    pub file_name: Option<String>,
    /// The part's `Content-Type`, if any.
    pub content_type: Option<String>,
    /// Number of bytes in the part.
    pub len: u64,
    /// [`fnv1a64`] of the part's bytes.
    pub digest: u64,
    /// The value of a part without a file name, if it is UTF-8 and at most 1 MiB.
    pub text: Option<String>,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64-bit hash (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`).
pub fn fnv1a64(data: &[u8]) -> u64 {
    fnv1a64_update(FNV_OFFSET, data)
}

pub(crate) fn fnv1a64_update(mut hash: u64, data: &[u8]) -> u64 {
    for &b in data {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

pub(crate) const FNV1A64_INIT: u64 = FNV_OFFSET;

/// Byte `i` of every `bytes-<N>` download: `(i % 251) as u8`.
pub fn download_byte(i: u64) -> u8 {
    (i % 251) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_known_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
        let h = fnv1a64_update(fnv1a64_update(FNV1A64_INIT, b"foo"), b"bar");
        assert_eq!(h, fnv1a64(b"foobar"));
    }

    #[test]
    fn download_pattern() {
        assert_eq!(download_byte(0), 0);
        assert_eq!(download_byte(250), 250);
        assert_eq!(download_byte(251), 0);
        assert_eq!(download_byte(1_000_000), (1_000_000u64 % 251) as u8);
    }
}
