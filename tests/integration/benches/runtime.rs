//! Runtime benchmark: CPU and wall time per call of our raw request (with the in-memory
//! token cache, and with the Redis-backed one of `lark-oapi-redis` against a real
//! `redis-server`) vs bare `reqwest` against the mock platform, peak RSS at concurrency
//! 50, the latency a shared de-duplication check (`RedisDedupStore`) adds per event, and
//! peak RSS of a 1 GiB `save_to` download.
//!
//! Run: `cargo bench -p lark-oapi-integration-tests --bench runtime`
//! (options after `--`: `--calls N` per client run, default 20000; `--skip-download`).
//!
//! Every figure comes from a separate child process, so peak RSS is the client's own:
//! the mock platform runs in one child pinned to one thread, each client in another on a
//! single-threaded runtime, and the parent only prints.
#![allow(unsafe_code)] // getrusage

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

#[derive(Deserialize, Debug)]
#[allow(dead_code)]
struct Echo {
    method: String,
    path: String,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Envelope {
    code: i64,
    #[serde(default)]
    data: Option<Echo>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    match arg("--role").as_deref() {
        Some("mock") => run_mock(),
        Some("client") => run_client(
            &arg("--kind").unwrap(),
            &arg("--url").unwrap(),
            arg("--redis").as_deref(),
            arg("--concurrency").unwrap().parse().unwrap(),
            arg("--calls").unwrap().parse().unwrap(),
        ),
        Some("dedup") => run_dedup(
            &arg("--redis").unwrap(),
            arg("--events").unwrap().parse().unwrap(),
        ),
        Some("download") => run_download(
            &arg("--url").unwrap(),
            arg("--bytes").unwrap().parse().unwrap(),
        ),
        _ => run_parent(
            arg("--calls").map(|c| c.parse().unwrap()).unwrap_or(20_000),
            args.iter().any(|a| a == "--skip-download"),
        ),
    }
}

fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a rusage struct into the pointer we own.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn self_cmd() -> Command {
    Command::new(std::env::current_exe().unwrap())
}

fn run_mock() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mock = lark_oapi_mock::MockPlatform::start().await.unwrap();
        println!("URL {}", mock.base_url());
        std::io::stdout().flush().unwrap();
        // Serve until the parent closes our stdin.
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await
        .unwrap();
        drop(mock);
    });
}

fn run_client(kind: &str, url: &str, redis: Option<&str>, concurrency: usize, calls: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let path = "/open-apis/echo/v1/bench";
        let mut config =
            lark_oapi::Config::builder(lark_oapi_mock::APP_ID, lark_oapi_mock::APP_SECRET)
                .domain(lark_oapi::Domain::custom(url));
        if std::env::var_os("BENCH_NO_TIMEOUT").is_some() {
            config = config.no_timeout();
        }
        if kind == "ours+redis" {
            // Tokens shared through a real Redis (each process keeps its own copy).
            let store = lark_oapi::redis::RedisStore::builder(redis.expect("--redis URL"))
                .prefix(format!("bench-{}", std::process::id()))
                .connect()
                .await
                .unwrap();
            config = config.token_cache(std::sync::Arc::new(
                lark_oapi::redis::RedisTokenCache::new(store),
            ));
        }
        let client = lark_oapi::Client::new(config.build().unwrap());
        // The bare client sends the same token ours has fetched.
        let token = client.tenant_access_token(None).await.unwrap();
        let bearer = format!("Bearer {}", token.expose());
        let bare = reqwest::Client::builder().build().unwrap();
        let full_url = format!("{url}{path}");

        let one = |_: usize| {
            let client = client.clone();
            let bare = bare.clone();
            let full_url = full_url.clone();
            let bearer = bearer.clone();
            async move {
                match kind {
                    "ours" | "ours+redis" => {
                        let r = client
                            .request(lark_oapi::Method::GET, path)
                            .send::<Echo>()
                            .await
                            .unwrap();
                        assert_eq!(r.method, "GET");
                    }
                    "bare" | "bare+json" => {
                        let resp = bare
                            .get(&full_url)
                            .header("authorization", &bearer)
                            .header("user-agent", lark_oapi::USER_AGENT)
                            .send()
                            .await
                            .unwrap();
                        assert!(resp.status().is_success());
                        let body = resp.bytes().await.unwrap();
                        if kind == "bare+json" {
                            let env: Envelope = serde_json::from_slice(&body).unwrap();
                            assert_eq!(env.code, 0);
                        }
                    }
                    other => panic!("unknown kind {other}"),
                }
            }
        };
        let run = |n: usize| async move {
            use futures_util::StreamExt as _;
            futures_util::stream::iter(0..n)
                .map(one)
                .buffer_unordered(concurrency)
                .collect::<Vec<()>>()
                .await;
        };
        run(calls / 10 + concurrency).await; // warm up: connections, token, allocator
        let cpu0 = cpu_time();
        let t0 = Instant::now();
        run(calls).await;
        let wall = t0.elapsed();
        let cpu = cpu_time() - cpu0;
        println!(
            "RESULT {} {} {} {}",
            cpu.as_nanos() as f64 / calls as f64 / 1000.0,
            wall.as_nanos() as f64 / calls as f64 / 1000.0,
            peak_rss_kib(),
            calls
        );
    });
}

fn run_download(url: &str, bytes: u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = lark_oapi::Client::new(
            lark_oapi::Config::builder(lark_oapi_mock::APP_ID, lark_oapi_mock::APP_SECRET)
                .domain(lark_oapi::Domain::custom(url))
                .no_timeout()
                .build()
                .unwrap(),
        );
        let dir = std::env::temp_dir().join(format!("lark-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("download.bin");
        let before = peak_rss_kib();
        let t0 = Instant::now();
        let file = client
            .request(lark_oapi::Method::GET, "/open-apis/im/v1/files/:file_key")
            .path_param("file_key", format!("bytes-{bytes}"))
            .download()
            .await
            .unwrap();
        let written = file.save_to(&target).await.unwrap();
        let wall = t0.elapsed();
        assert_eq!(written, bytes);
        assert_eq!(std::fs::metadata(&target).unwrap().len(), bytes);
        std::fs::remove_dir_all(&dir).unwrap();
        println!(
            "RESULT {} {} {} {}",
            before,
            peak_rss_kib(),
            wall.as_secs_f64(),
            written
        );
    });
}

/// The shared de-duplication check: `events` distinct events handled one at a time by a
/// dispatcher whose store is in memory, then by one whose store is `RedisDedupStore` (a
/// claim and a settle: one round trip each), alternated over 3 passes; prints the mean
/// wall and CPU µs per event of each.
fn run_dedup(redis: &str, events: usize) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bodies: Vec<Vec<u8>> = (0..events)
        .map(|i| {
            serde_json::json!({
                "schema": "2.0",
                "header": {"event_id": format!("ev-{i:08}"), "event_type": "bench.event", "create_time": "1700000000000"},
                "event": {"n": i},
            })
            .to_string()
            .into_bytes()
        })
        .collect();
    let seen = Arc::new(AtomicUsize::new(0));
    let mut sums = [0f64; 4];
    const PASSES: usize = 3;
    for pass in 0..PASSES {
        for shared in [false, true] {
            let mut builder = lark_oapi::dispatcher::EventDispatcher::builder();
            if shared {
                let store = rt
                    .block_on(
                        lark_oapi::redis::RedisStore::builder(redis)
                            .prefix(format!("dedup-bench-{pass}"))
                            .connect(),
                    )
                    .unwrap();
                builder = builder.dedup_store(lark_oapi::redis::RedisDedupStore::new(store));
            }
            let s = seen.clone();
            let d = builder
                .on_raw("bench.event", move |_| {
                    s.fetch_add(1, Ordering::Relaxed);
                    async { Ok(None) }
                })
                .build();
            let (wall, cpu) = (Instant::now(), cpu_time());
            rt.block_on(async {
                for body in &bodies {
                    assert_eq!(d.handle("POST", &[], body).await.status, 200);
                }
            });
            let per = |d: Duration| d.as_secs_f64() * 1e6 / events as f64;
            let i = usize::from(shared);
            sums[i] += per(wall.elapsed());
            sums[2 + i] += per(cpu_time() - cpu);
        }
    }
    assert_eq!(seen.load(Ordering::Relaxed), 2 * PASSES * events);
    let n = PASSES as f64;
    println!(
        "RESULT {} {} {} {}",
        sums[0] / n,
        sums[1] / n,
        sums[2] / n,
        sums[3] / n
    );
}

fn result_line(mut cmd: Command) -> Vec<f64> {
    let out = cmd.stderr(Stdio::inherit()).output().expect("child runs");
    assert!(out.status.success(), "child failed: {:?}", out.status);
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT in {text}"));
    line.split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

fn run_parent(calls: usize, skip_download: bool) {
    let mut mock = self_cmd()
        .args(["--role", "mock"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("mock child starts");
    let mut first = String::new();
    BufReader::new(mock.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .trim()
        .strip_prefix("URL ")
        .expect("mock prints its URL")
        .to_owned();
    let redis = lark_oapi_mock::RedisServer::start();
    let redis_url = redis.url();
    println!(
        "mock platform (separate process, 1 thread) at {url}; {calls} calls per run, client on a current-thread runtime; ours+redis: tokens in a real redis-server at {redis_url}\n"
    );
    println!(
        "{:<12} {:>5} {:>14} {:>14} {:>14} {:>16}",
        "client", "conc", "CPU µs/call", "wall µs/call", "peak RSS MiB", "CPU vs bare"
    );
    const ROUNDS: usize = 5;
    for concurrency in [1usize, 50] {
        // Interleave the rounds so drift on a noisy machine hits every client alike, and
        // report medians.
        let kinds = ["bare", "bare+json", "ours", "ours+redis"];
        let mut runs: std::collections::BTreeMap<&str, Vec<Vec<f64>>> = Default::default();
        for _round in 0..ROUNDS {
            for kind in kinds {
                let mut cmd = self_cmd();
                cmd.args(["--role", "client", "--kind", kind, "--url", &url])
                    .args(["--redis", &redis_url])
                    .args([
                        "--concurrency",
                        &concurrency.to_string(),
                        "--calls",
                        &calls.to_string(),
                    ]);
                runs.entry(kind).or_default().push(result_line(cmd));
            }
        }
        let median = |kind: &str, i: usize| {
            let mut v: Vec<f64> = runs[kind].iter().map(|r| r[i]).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let bare_cpu = median("bare", 0);
        for kind in kinds {
            let peak = runs[kind].iter().map(|r| r[2]).fold(0.0, f64::max) / 1024.0;
            let cpu = median(kind, 0);
            println!(
                "{kind:<12} {concurrency:>5} {cpu:>14.2} {:>14.2} {peak:>14.1} {:>15.2}x",
                median(kind, 1),
                cpu / bare_cpu
            );
        }
    }
    let mut cmd = self_cmd();
    cmd.args(["--role", "dedup", "--redis", &redis_url, "--events", "5000"]);
    let r = result_line(cmd);
    println!(
        "\nshared de-duplication check per event (5,000 events one at a time, 3 alternated passes; CPU of the whole process, Redis client included): memory store {:.1} µs wall / {:.1} µs CPU, RedisDedupStore {:.1} µs wall / {:.1} µs CPU: adds {:.1} µs latency and {:.1} µs CPU per event",
        r[0],
        r[2],
        r[1],
        r[3],
        r[1] - r[0],
        r[3] - r[2]
    );
    if !skip_download {
        let bytes = 1u64 << 30;
        let mut cmd = self_cmd();
        cmd.args([
            "--role",
            "download",
            "--url",
            &url,
            "--bytes",
            &bytes.to_string(),
        ]);
        let r = result_line(cmd);
        println!(
            "\nsave_to of a {} MiB download: peak RSS {:.1} MiB before, {:.1} MiB after ({:.0} MiB/s)",
            bytes >> 20,
            r[0] / 1024.0,
            r[1] / 1024.0,
            (r[3] / (1 << 20) as f64) / r[2]
        );
    }
    drop(mock.stdin.take());
    let _ = mock.wait();
}
