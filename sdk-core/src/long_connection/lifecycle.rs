//! What a long connection is doing, as a value ([`ConnectionState`]) and as the events that
//! change it ([`LifecycleEvent`]), for health checks, readiness probes and alerts.

use std::fmt;
use std::sync::Arc;

use tokio::sync::watch;

/// Where a long connection stands.
///
/// `Connecting` (the first attempt, inside [`start`](super::LongConnection::start)) →
/// `Connected` → `Reconnecting` when it is lost (or the first attempt failed) → `Connected`
/// again, until [`shutdown`](super::LongConnectionHandle::shutdown) (`Idle`) or a fatal
/// error or exhausted reconnects (`Failed`). A stopped or failed connection is not
/// restarted: build a new one ([`start`](super::LongConnection::start) takes the
/// connection by value, so starting one twice does not compile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Not running: before the first attempt, or after a shutdown.
    Idle,
    /// The first attempt is under way.
    Connecting,
    /// A connection is open.
    Connected,
    /// The connection was lost (or never opened); attempts go on.
    Reconnecting,
    /// Stopped for good by a fatal error or exhausted reconnects.
    Failed,
}

/// What just happened to a long connection; given to
/// [`on_lifecycle`](super::LongConnectionBuilder::on_lifecycle) with the state it left.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LifecycleEvent {
    /// The first attempt begins.
    Connecting,
    /// The first connection is open.
    Ready,
    /// An open connection closed (lost, replaced by the watchdog, or shut down).
    Disconnected {
        /// Why, in the SDK's words.
        reason: String,
    },
    /// Reconnecting begins (once per reconnect sequence: a fresh connection that dies young
    /// starts another).
    Reconnecting {
        /// What was lost, in the SDK's words.
        reason: String,
    },
    /// A later connection is open.
    Reconnected,
    /// An attempt failed. `fatal`: nothing more will be tried (the state is `Failed`).
    Error {
        /// The error, as `Display` shows it (no secret in it).
        message: String,
        /// Whether the connection stopped for good.
        fatal: bool,
    },
    /// The connection stopped after a shutdown.
    Stopped,
}

impl LifecycleEvent {
    /// The state this event leaves the connection in; `None` when it does not change it.
    fn state(&self) -> Option<ConnectionState> {
        Some(match self {
            LifecycleEvent::Connecting => ConnectionState::Connecting,
            LifecycleEvent::Ready | LifecycleEvent::Reconnected => ConnectionState::Connected,
            LifecycleEvent::Reconnecting { .. } => ConnectionState::Reconnecting,
            LifecycleEvent::Error { fatal: true, .. } => ConnectionState::Failed,
            LifecycleEvent::Stopped => ConnectionState::Idle,
            LifecycleEvent::Disconnected { .. } | LifecycleEvent::Error { .. } => return None,
        })
    }
}

pub(crate) type LifecycleCallback = Arc<dyn Fn(&LifecycleEvent, ConnectionState) + Send + Sync>;

/// Holds the state and tells the callback, in order, from the supervisor's one task.
#[derive(Clone)]
pub(crate) struct Lifecycle {
    state: Arc<watch::Sender<ConnectionState>>,
    callback: Option<LifecycleCallback>,
}

impl fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lifecycle")
            .field("state", &*self.state.borrow())
            .field("callback", &self.callback.is_some())
            .finish()
    }
}

impl Lifecycle {
    pub(crate) fn new(callback: Option<LifecycleCallback>) -> Self {
        Self {
            state: Arc::new(watch::channel(ConnectionState::Idle).0),
            callback,
        }
    }

    pub(crate) fn state(&self) -> ConnectionState {
        *self.state.borrow()
    }

    pub(crate) fn watch(&self) -> watch::Receiver<ConnectionState> {
        self.state.subscribe()
    }

    /// A connection closed; `next` is where that leaves the whole: `Reconnecting`, `Idle`
    /// (shut down) or `Failed` (no reconnecting).
    pub(crate) fn disconnected(&self, reason: String, next: ConnectionState) {
        self.state.send_replace(next);
        self.emit(LifecycleEvent::Disconnected { reason });
    }

    /// Moves to the event's state, then calls the callback (a panic in it is caught and
    /// logged: it never takes the connection down).
    pub(crate) fn emit(&self, event: LifecycleEvent) {
        if let Some(state) = event.state() {
            self.state.send_replace(state);
        }
        if let Some(callback) = &self.callback {
            let state = self.state();
            let call = std::panic::AssertUnwindSafe(|| callback(&event, state));
            if std::panic::catch_unwind(call).is_err() {
                tracing::error!(?event, "long connection: the lifecycle callback panicked");
            }
        }
    }
}
