//! Helpers shared by the multi-process tests: each test binary runs itself as workers
//! (`LARK_REDIS_WORKER` set), which begin together at a common time.

#![allow(dead_code)] // each test binary uses its own part

use std::process::{Child, Command};
use std::time::{SystemTime, UNIX_EPOCH};

/// Set in the environment of worker processes.
pub(crate) const WORKER: &str = "LARK_REDIS_WORKER";

/// Milliseconds since the Unix epoch (the workers' common clock).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A worker's runtime: two threads, I/O and time.
pub(crate) fn worker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The value of `key` in a worker's environment.
pub(crate) fn var(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("{key} is set for workers"))
}

/// Sleeps until the common start time `START_AT_MS`.
pub(crate) async fn wait_for_start() {
    let start_at: u64 = var("START_AT_MS").parse().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(
        start_at.saturating_sub(now_ms()),
    ))
    .await;
}

/// Starts `n` workers of `test` (this binary, `--exact test`), which begin together about
/// `delay_ms` from now.
pub(crate) fn spawn_workers(
    test: &str,
    n: usize,
    delay_ms: u64,
    env: &[(&str, String)],
) -> Vec<Child> {
    let exe = std::env::current_exe().unwrap();
    let start_at = now_ms() + delay_ms;
    (0..n)
        .map(|_| {
            let mut cmd = Command::new(&exe);
            cmd.args(["--exact", test, "--nocapture", "--test-threads", "1"])
                .env(WORKER, "1")
                .env("START_AT_MS", start_at.to_string());
            for (k, v) in env {
                cmd.env(k, v);
            }
            // Their own test harness output would clutter the log; failures show on stderr.
            cmd.stdout(std::process::Stdio::null());
            cmd.spawn().expect("a worker process")
        })
        .collect()
}

/// Runs `n` workers of `test` and waits for them all to succeed.
pub(crate) fn run_workers(test: &str, n: usize, env: &[(&str, String)]) {
    for mut child in spawn_workers(test, n, 1500, env) {
        let status = child.wait().unwrap();
        assert!(status.success(), "a worker failed: {status}");
    }
}
