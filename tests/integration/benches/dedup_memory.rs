//! De-duplication memory: the heap (counted by a global allocator) and the process's peak
//! resident memory (`VmHWM`) while an `EventDispatcher` takes
//!
//! 1. 2,000,000 failed deliveries of one event (its id is recorded, then forgotten, each
//!    time): the heap must stay flat;
//! 2. 1,200,000 distinct 36-character ids, handled: the store is capped at a million ids
//!    and must stay within its documented 57 bytes per id;
//!
//! and, side by side in the same run, the layout the store had before (a `HashMap` of
//! `String` ids to their expiry, plus a `VecDeque` of the insertion order) taking the same
//! 1.2M ids, for the ratio.
//!
//! `cargo bench -p lark-oapi-integration-tests --bench dedup_memory`

#![allow(unsafe_code)] // a counting global allocator

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lark_oapi::dispatcher::{EventDispatcher, MemoryDedupStore};

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// `VmHWM` (peak resident set) and `VmRSS` of this process, from /proc.
fn proc_memory() -> (usize, usize) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<usize>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn event(id: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schema": "2.0",
        "header": {"event_id": id, "event_type": "im.message.receive_v1",
                   "create_time": "1700000000000", "app_id": "cli_x", "tenant_key": "tk"},
        "event": {"message": {"chat_id": "oc_1", "content": "{\"text\":\"hi\"}"}}
    }))
    .unwrap()
}

/// A 36-character id, as the platform's event ids are.
fn id(i: usize) -> String {
    format!("5e3702a84e847582be8db7fb7328{i:08}")
}

/// The store's previous layout, for comparison: ids as `String`s in a map and in an
/// insertion-order queue, oldest evicted past a million.
#[derive(Default)]
struct PreviousLayout {
    expiry: HashMap<String, Instant>,
    order: VecDeque<(Instant, String)>,
}

impl PreviousLayout {
    fn first_seen(&mut self, id: &str, ttl: Duration) -> bool {
        let now = Instant::now();
        if self.expiry.get(id).is_some_and(|until| *until > now) {
            return false;
        }
        while self.expiry.len() >= 1_000_000 {
            let Some((at, old)) = self.order.pop_front() else {
                break;
            };
            if self.expiry.get(&old) == Some(&at) {
                self.expiry.remove(&old);
            }
        }
        let until = now + ttl;
        self.expiry.insert(id.to_owned(), until);
        self.order.push_back((until, id.to_owned()));
        true
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let ttl = Duration::from_secs(8 * 3600);
    let (hwm0, _) = proc_memory();
    println!("process start: peak resident {}", mib(hwm0));

    // 1. Failed deliveries of one event.
    let store = Arc::new(MemoryDedupStore::new());
    let fails = Arc::new(AtomicUsize::new(0));
    let f = fails.clone();
    let dispatcher = EventDispatcher::builder()
        .dedup_store(store.clone())
        .dedup_ttl(ttl)
        .on_raw("im.message.receive_v1", move |_| {
            f.fetch_add(1, Ordering::Relaxed);
            async { Err("failing on purpose".into()) }
        })
        .build();
    let body = event(&id(0));
    let heap_before = LIVE.load(Ordering::Relaxed);
    PEAK.store(heap_before, Ordering::Relaxed);
    let started = Instant::now();
    println!("\n1. 2,000,000 failed deliveries of one event (id recorded, then forgotten)");
    println!("   deliveries  heap now  heap peak  store bytes  peak resident (VmHWM)");
    rt.block_on(async {
        for n in 1..=2_000_000usize {
            let reply = dispatcher.handle("POST", &[], &body).await;
            debug_assert_eq!(reply.status, 500);
            if n % 400_000 == 0 {
                println!(
                    "   {n:>10}  {:>6} B  {:>7} B  {:>11}  {:>13}",
                    LIVE.load(Ordering::Relaxed) - heap_before,
                    PEAK.load(Ordering::Relaxed) - heap_before,
                    store.memory_bytes(),
                    mib(proc_memory().0),
                );
            }
        }
    });
    assert_eq!(
        fails.load(Ordering::Relaxed),
        2_000_000,
        "every retry handled"
    );
    assert_eq!(store.len(), 0);
    let growth = PEAK.load(Ordering::Relaxed) - heap_before;
    println!(
        "   heap peak above the start: {} bytes; {:.2} µs per delivery",
        growth,
        started.elapsed().as_secs_f64() * 1e6 / 2e6
    );
    drop(dispatcher);

    // 2. 1.2M distinct ids, handled.
    let store = Arc::new(MemoryDedupStore::new());
    let dispatcher = EventDispatcher::builder()
        .dedup_store(store.clone())
        .dedup_ttl(ttl)
        .on_raw("im.message.receive_v1", |_| async { Ok(None) })
        .build();
    let heap_before = LIVE.load(Ordering::Relaxed);
    PEAK.store(heap_before, Ordering::Relaxed);
    rt.block_on(async {
        for i in 0..1_200_000 {
            let reply = dispatcher.handle("POST", &[], &event(&id(i))).await;
            debug_assert_eq!(reply.status, 200);
        }
    });
    let store_heap = LIVE.load(Ordering::Relaxed) - heap_before;
    let store_peak = PEAK.load(Ordering::Relaxed) - heap_before;
    println!("\n2. 1,200,000 distinct 36-character ids, handled (store capped at 1,000,000)");
    println!(
        "   ids kept {}; heap held {} ({:.1} bytes per id; documented bound 57), peak {}; memory_bytes() {}",
        store.len(),
        mib(store_heap),
        store_heap as f64 / store.len() as f64,
        mib(store_peak),
        mib(store.memory_bytes()),
    );
    assert!(store.len() <= 1_000_000);
    assert!(
        store_heap <= store.len() * 57,
        "over the documented bound: {store_heap} bytes for {} ids",
        store.len()
    );
    // The newest ids are still recognised.
    let dup = rt.block_on(dispatcher.handle("POST", &[], &event(&id(1_199_999))));
    assert_eq!(dup.status, 200);
    println!(
        "   process peak resident (VmHWM) now: {} (at the start: {})",
        mib(proc_memory().0),
        mib(hwm0)
    );
    drop(dispatcher);

    // 3. The previous layout, same ids, same cap.
    let ids: Vec<String> = (0..1_200_000).map(id).collect();
    let heap_before = LIVE.load(Ordering::Relaxed);
    let mut previous = PreviousLayout::default();
    for id in &ids {
        assert!(previous.first_seen(id, ttl));
    }
    let previous_heap = LIVE.load(Ordering::Relaxed) - heap_before;
    println!("\n3. the previous layout (String ids in a map and a queue), same 1.2M ids");
    println!(
        "   ids kept {}; heap held {} ({:.1} bytes per id)",
        previous.expiry.len(),
        mib(previous_heap),
        previous_heap as f64 / previous.expiry.len() as f64,
    );
    println!(
        "\nratio, previous / now, for the same ids: {:.1}x",
        previous_heap as f64 / store_heap as f64
    );
}
