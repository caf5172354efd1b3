//! Performance figures measured offline or against a mock API, printed
//! rather than asserted (a timed assertion flakes on a loaded machine). Each
//! line says which; the figures on a real API server come from
//! `cargo bench --bench cluster` (see docs/performance.md):
//!
//! - [offline] `render` end to end on one core: a 10,000-XAgent stream parsed,
//!   validated (schema and CEL), built and written as YAML to a sink (target:
//!   at least 10,000 XAgents/s);
//! - [offline] cache heap for 1,000 XAgents and their children (the real server's RSS is the cluster bench's);
//! - [offline] probe planning: 1,000 XAgents on 10 Redis endpoints (target: 10 probes a round);
//! - [mock API] a first reconcile against an instantly answering API (target: well under 1 s).
//!
//! Each figure is also printed as one JSON line,
//! `{"figure":…,"value":…,"target":…,"source":"offline"|"mock API"}`, for
//! scripts to collect.
//!
//! Run: `cargo bench --bench perf` (add `-- --quick` for a short run; the
//! render figure always takes the full 10,000 XAgents).

// The crate's one mock API module, shared with its unit tests and tests/prober.rs.
#[path = "../src/mock_api.rs"]
#[allow(dead_code)]
mod mock_api;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use xagent_operator::builders;
use xagent_operator::controller::{Context, reconcile, stores};
use xagent_operator::crd::XAgent;
use xagent_operator::probes::prober::plan;
use xagent_operator::render;

fn sample(i: usize, redis_endpoints: usize) -> XAgent {
    serde_json::from_value(json!({
        "apiVersion": "xagent.io/v1alpha1", "kind": "XAgent",
        "metadata": {"name": format!("agent-{i}"), "namespace": format!("team-{}", i % 50),
                     "uid": uuid(i, 0), "generation": 1},
        "spec": {"chromadb": {"enabled": i.is_multiple_of(4)},
                 "redis": {"host": format!("redis-{}", i % redis_endpoints)}}
    }))
    .unwrap()
}

/// A uid as the API server writes them (a canonical UUID), distinct for
/// each `i` and `part`.
fn uuid(i: usize, part: usize) -> String {
    format!("{i:08x}-0000-4000-8000-{part:012x}")
}

fn documents(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "apiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata:\n  name: agent-{i}\n  namespace: team-{}\nspec:\n  chromadb: {{enabled: {}}}\n",
                i % 50,
                i.is_multiple_of(4)
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Counts live heap bytes, so cache size is measured exactly rather than
/// through RSS, which keeps the high-water mark of transient allocations.
/// Counting stops once the memory figure is taken: an atomic add on every
/// allocation would otherwise weigh on the render figure. Allocations go to
/// mimalloc, the binary's allocator, so the figures are the binary's.
struct Counting;

#[cfg(feature = "mimalloc")]
const BINARY_ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
#[cfg(not(feature = "mimalloc"))]
const BINARY_ALLOCATOR: std::alloc::System = std::alloc::System;

static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static COUNTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        if COUNTING.load(std::sync::atomic::Ordering::Relaxed) {
            LIVE.fetch_add(layout.size(), std::sync::atomic::Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the binary's allocator.
        unsafe { BINARY_ALLOCATOR.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        if COUNTING.load(std::sync::atomic::Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the binary's allocator.
        unsafe { BINARY_ALLOCATOR.dealloc(ptr, layout) }
    }
    // Forwarded too, not left to the trait's allocate-copy-free: the
    // binary's allocator grows a block in place when it can, and a string
    // or vector that grows while YAML is written would otherwise be copied
    // each time, which the binary never does.
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        if COUNTING.load(std::sync::atomic::Ordering::Relaxed) {
            LIVE.fetch_add(layout.size(), std::sync::atomic::Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the binary's allocator.
        unsafe { BINARY_ALLOCATOR.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(std::sync::atomic::Ordering::Relaxed) {
            LIVE.fetch_add(new_size, std::sync::atomic::Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the binary's allocator.
        unsafe { BINARY_ALLOCATOR.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Prints one figure as a JSON line: name, value, target and where it was measured.
fn json_figure(figure: &str, value: f64, target: &str, source: &str) {
    let value = if value.fract() == 0.0 { format!("{value:.0}") } else { format!("{value}") };
    println!(
        "{{\"figure\":{},\"value\":{value},\"target\":{},\"source\":{}}}",
        json!(figure),
        json!(target),
        json!(source)
    );
}

/// Seconds of CPU this thread has used: unlike the wall clock, not inflated
/// by other work on a shared machine.
fn thread_cpu_seconds() -> f64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9
}

/// Throughput of `n` items over `f`, by the wall clock and by this thread's CPU time.
fn per_second(n: usize, f: impl FnOnce()) -> (f64, f64) {
    let (wall, cpu) = (Instant::now(), thread_cpu_seconds());
    f();
    (n as f64 / wall.elapsed().as_secs_f64(), n as f64 / (thread_cpu_seconds() - cpu))
}

/// Counts what passes through, so the YAML is measured written without being kept.
#[derive(Default)]
struct CountingSink(usize);

impl io::Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Keeps this thread on the core it runs on, so the render figure is that of
/// one core: a thread the scheduler moves between the two cores of the
/// development machine printed up to a fifth less.
fn pin_to_this_core() {
    // SAFETY: sched_getcpu reads, and sched_setaffinity copies, a set this
    // function owns; 0 names the calling thread.
    unsafe {
        let core = libc::sched_getcpu();
        if core < 0 {
            return;
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core as usize, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn bench_render(n: usize) {
    pin_to_this_core();
    let input = documents(n);
    let settings = builders::Settings::default();
    // The schema and the CEL rules are compiled once per process, not part of the rate.
    render::parse_documents(&documents(1)).expect("valid input");
    let mut sink = CountingSink::default();
    let (full, full_cpu) =
        per_second(n, || render::render_to(&input, &settings, &mut sink).expect("valid input"));
    let mut xagents = Vec::new();
    let (parse, _) = per_second(n, || xagents = render::parse_documents(&input).expect("valid input"));
    let mut children = 0;
    let (build, _) = per_second(n, || children = xagents.iter().map(|x| builders::build(x).len()).sum());
    println!(
        "[offline] render, one thread: {n} XAgents -> {children} children, {} KiB of YAML\n  \
         end to end (parse, validate, build, YAML to a sink) {full:>7.0} XAgents/s ({full_cpu:.0}/s of CPU time)   \
         (target: at least 10,000 XAgents/s on one core)\n  \
         of which parse and validate alone            {parse:>7.0} XAgents/s\n  \
         of which builders alone                      {build:>7.0} XAgents/s",
        sink.0 / 1024,
    );
    json_figure("render_xagents_per_s", full.round(), ">= 10000", "offline");
}

fn fill<K: Resource<DynamicType = ()> + Clone>(w: &mut Writer<K>, mut o: K) {
    o.managed_fields_mut().clear();
    w.apply_watcher_event(&watcher::Event::Apply(o));
}

/// Live heap bytes that `fill` leaves behind.
fn retained(fill: impl FnOnce()) -> f64 {
    let before = LIVE.load(std::sync::atomic::Ordering::Relaxed);
    fill();
    LIVE.load(std::sync::atomic::Ordering::Relaxed).saturating_sub(before) as f64 / (1024.0 * 1024.0)
}

fn bench_memory(n: usize) {
    let before = rss_kib();
    let (xa_store, mut xa_writer) = reflector::store::<XAgent>();
    let (stores, mut w) = stores::new();
    let mut children = 0;
    let xagents = retained(|| (0..n).for_each(|i| fill(&mut xa_writer, sample(i, 10))));
    let caches = retained(|| {
        for i in 0..n {
            for (part, mut child) in builders::build(&sample(i, 10)).into_iter().enumerate() {
                // The uid the API server gives each child.
                child.meta_mut().uid = Some(uuid(i, part + 1));
                children += 1;
                w.cache_slim(child);
            }
        }
    });
    let live = xagents + caches;
    let after = rss_kib();
    println!(
        "[offline] memory: {n} XAgents and {children} cached children, all slim (monitoring objects' metadata caches not counted)\n  \
         live heap of the caches {live:.1} MiB: XAgents {xagents:.1} MiB, children's entries and owner index {caches:.1} MiB; \
         RSS {before} KiB -> {after} KiB (+{:.1} MiB, includes freed build garbage)\n  \
         (the whole operator on a real server: target < 32 MiB RSS at 1,000, see the cluster bench)",
        (after.saturating_sub(before)) as f64 / 1024.0
    );
    let mib = (live * 10.0).round() / 10.0;
    json_figure(
        "cache_live_heap_mib",
        mib,
        "none (operator RSS < 32 MiB at 1,000: cluster bench)",
        "offline",
    );
    drop((xa_store, stores));
}

fn bench_plan(n: usize, endpoints: usize) {
    let xagents: Vec<XAgent> = (0..n).map(|i| sample(i, endpoints)).collect();
    let started = Instant::now();
    let rounds = 100;
    let mut planned = 0;
    for _ in 0..rounds {
        planned = plan(&xagents).len();
    }
    println!(
        "[offline] probes: {n} XAgents on {endpoints} Redis endpoints -> {planned} probes per round \
         (target {endpoints}); planning takes {:.2} ms",
        started.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds)
    );
    json_figure("probes_per_round", planned as f64, &endpoints.to_string(), "offline");
}

/// A mock API that answers every request at once: GET 404, anything else echoes the body.
fn instant_api() -> Client {
    let (client, _requests) = mock_api::serve("default", |r| {
        if r.method == http::Method::GET {
            return (404, mock_api::status(404, "NotFound"));
        }
        let mut reply = r.body.clone();
        if r.path.ends_with("/status") {
            reply["metadata"] = json!({"name": "agent-0", "namespace": "team-0"});
            reply["spec"] = json!({});
        }
        (200, reply)
    });
    client
}

async fn bench_reconcile(iterations: usize) {
    let mut latencies = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let (stores, _writers) = stores::new();
        let ctx = Arc::new(Context::new(instant_api(), stores));
        let xa = Arc::new(sample(i, 10));
        let started = Instant::now();
        reconcile(xa, ctx).await.expect("reconcile succeeds");
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize];
    println!(
        "[mock API] reconcile: first reconcile (every child created, status written) against an instant API\n  \
         p50 {:?}, p99 {:?}, max {:?}   (target: children well under 1 s after creation)",
        pct(0.5),
        pct(0.99),
        latencies.last().copied().unwrap_or(Duration::ZERO)
    );
    let p99_ms = (pct(0.99).as_secs_f64() * 1e5).round() / 100.0;
    json_figure("first_reconcile_p99_ms", p99_ms, "< 1000", "mock API");
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 10 } else { 1 };
    // Memory first: later benches free memory the allocator would reuse.
    bench_memory(1_000);
    COUNTING.store(false, std::sync::atomic::Ordering::Relaxed);
    bench_render(10_000);
    bench_plan(1_000, 10);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(bench_reconcile(200 / scale));
}
