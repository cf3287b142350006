//! `mailbox bench submit`: throughput and latency of `POST /api/v1/cases` at rising concurrency,
//! beside two ceilings measured in the same run on the same machine: raw SQLite inserts with the
//! same durability settings, and a trivial endpoint on the same HTTP server.

use anyhow::Result;
use clap::Args;
use mailbox_app::accounts::LocalAuth;
use mailbox_app::http::{router, AppState, SessionAuthenticator};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct BenchArgs {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    /// Concurrency levels, comma-separated.
    #[arg(long, default_value = "1,4,16,64")]
    concurrency: String,
}

struct Stats {
    requests: u64,
    errors: u64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// A mayor's-mailbox case as the workflow leaves it at `at`: waiting to be accepted, and the same
/// accepted, transferred to the transport bureau and received (its deadline running): to copy.
pub(crate) fn case_templates(
    org: &mailbox_domain::Organisation,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(mailbox_domain::case::Case, mailbox_domain::case::Case)> {
    use mailbox_domain::workflow::{Command, Context, NewCase};
    use mailbox_domain::{Actor, CaseId, CaseNumber, DeadlineClass, DispatchMode, Kind, MailboxId, Role, UnitId};
    let ctx = Context { org, calendar: mailbox_domain::Calendar::builtin(), now: at };
    let new = NewCase {
        mailbox: MailboxId::new("mayor"),
        kind: Kind::Complaint,
        title: "小区门口道路破损严重".into(),
        body: "小区门口道路坑洼，雨天积水，影响出行，请尽快维修。".repeat(6),
        citizen: mailbox_domain::case::Citizen { name: "张三".into(), phone: "13812345678".into() },
        publishable: true,
    };
    let (waiting, _) =
        mailbox_domain::case::Case::submit(&ctx, CaseId::new("t"), CaseNumber::new("t"), "d".into(), new)?;
    let mut case = waiting.clone();
    let d = Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")));
    let h = Actor::staff("jtj", Role::Handler, Some(UnitId::new("transport")));
    case.apply(&ctx, &d, Command::Accept)?;
    let dispatch = Command::Dispatch {
        mode: DispatchMode::Transfer,
        lead: UnitId::new("transport"),
        co_handlers: vec![],
        class: DeadlineClass::Standard,
        special_days: None,
    };
    case.apply(&ctx, &d, dispatch)?;
    case.apply(&ctx, &h, Command::Receive)?;
    Ok((waiting, case))
}

/// The application over one SQLite store for a benchmark, its clock stopped at `now`, files in `dir`.
pub(crate) fn sqlite_app(
    org: std::sync::Arc<mailbox_domain::Organisation>,
    store: std::sync::Arc<mailbox_store_sqlite::SqliteStore>,
    dir: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<mailbox_app::App> {
    let adapters = mailbox_app::Adapters {
        store: store.clone(),
        queue: store.clone(),
        notifier: store.clone(),
        clock: std::sync::Arc::new(mailbox_app::ports::ManualClock::new(now)),
        limits: store.clone(),
        topics: store.clone(),
        discussion: store.clone(),
        desk: store.clone(),
        api_keys: store,
        attachments: std::sync::Arc::new(mailbox_store_sqlite::FileAttachments::open(dir.join("attachments"))?),
    };
    Ok(mailbox_app::App::new(org, mailbox_domain::Calendar::builtin().clone(), adapters))
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// The same writes a submission makes (case row, first event, counter), one transaction each,
/// with WAL and synchronous=FULL, from one thread.
fn raw_insert_rate(dir: &Path, seconds: u64) -> Result<f64> {
    let conn = rusqlite::Connection::open(dir.join("raw.db"))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE cases (id TEXT PRIMARY KEY, number TEXT UNIQUE, doc TEXT NOT NULL);
         CREATE TABLE events (case_id TEXT, seq INTEGER, doc TEXT, PRIMARY KEY (case_id, seq)) WITHOUT ROWID;
         CREATE TABLE counters (key TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID;",
    )?;
    let doc = "x".repeat(1500);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut n = 0u64;
    let start = Instant::now();
    while Instant::now() < deadline {
        let tx = conn.unchecked_transaction()?;
        tx.execute("INSERT INTO cases VALUES (?1, ?2, ?3)", rusqlite::params![format!("c{n}"), format!("n{n}"), doc])?;
        tx.execute("INSERT INTO events VALUES (?1, 1, ?2)", rusqlite::params![format!("c{n}"), doc])?;
        tx.execute("INSERT INTO counters VALUES ('k', 1) ON CONFLICT(key) DO UPDATE SET value = value + 1", [])?;
        tx.commit()?;
        n += 1;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

async fn start_server(dir: &Path) -> Result<SocketAddr> {
    let (app, store) = crate::serve::open_app(dir, mailbox_domain::Organisation::guangan()).await?;
    let local = Arc::new(LocalAuth { accounts: store.clone(), limits: store });
    let auth = Arc::new(SessionAuthenticator { local: local.clone(), clock: app.clock.clone() });
    let state = AppState { app, auth, local: Some(local), actions: None };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let service = router(state).into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    Ok(addr)
}

/// Runs `concurrency` clients in a closed loop for `seconds`.
async fn load(url: String, post: bool, concurrency: usize, seconds: u64) -> Stats {
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let seq = Arc::new(AtomicU64::new(0));
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().expect("client");
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (stop, errors, seq, http, url) = (stop.clone(), errors.clone(), seq.clone(), http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let ok = if post {
                    let n = seq.fetch_add(1, Ordering::Relaxed);
                    let body = serde_json::json!({"mailbox": "mayor", "kind": "complaint", "title": format!("压测留言 {n}"),
                        "body": "小区门口道路破损严重，雨天积水，影响出行，请尽快维修。".repeat(8), "name": "张三", "phone": "13812345678", "public": true});
                    http.post(&url).json(&body).send().await.is_ok_and(|r| r.status() == 201)
                } else {
                    http.get(&url).send().await.is_ok_and(|r| r.status() == 200)
                };
                latencies.push(t.elapsed());
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    Stats {
        requests: all.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        per_second: all.len() as f64 / elapsed,
        p50_ms: percentile(&all, 0.50),
        p99_ms: percentile(&all, 0.99),
    }
}

pub fn run(args: BenchArgs) -> Result<()> {
    let levels: Vec<usize> =
        args.concurrency
            .split(',')
            .map(|s| s.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .map_err(|_| anyhow::anyhow!("--concurrency takes numbers separated by commas, e.g. 1,4,16"))?;
    if levels.is_empty() || levels.iter().any(|&c| c == 0 || c > 1024) {
        anyhow::bail!("--concurrency levels must be between 1 and 1024");
    }
    // Removed when this returns, whether the benchmark finished or failed.
    let tmp = tempfile::Builder::new().prefix("mailbox-bench-").tempdir()?;
    let dir = tmp.path().to_path_buf();
    println!(
        "machine: {} cores; {} s per measurement; data in {}",
        std::thread::available_parallelism()?,
        args.seconds,
        dir.display()
    );
    let raw = raw_insert_rate(&dir, args.seconds)?;
    println!("ceiling 1 — raw SQLite, one submission's writes per transaction, WAL + synchronous=FULL: {raw:.0} /s");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let addr = start_server(&dir).await?;
        println!(
            "\n{:<28} {:>5} {:>9} {:>10} {:>9} {:>9} {:>7}",
            "endpoint", "conc", "requests", "req/s", "p50 ms", "p99 ms", "errors"
        );
        let mut best_post: f64 = 0.0;
        for &c in &levels {
            let s = load(format!("http://{addr}/healthz"), false, c, args.seconds).await;
            println!(
                "{:<28} {:>5} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>7}",
                "GET /healthz (ceiling 2)", c, s.requests, s.per_second, s.p50_ms, s.p99_ms, s.errors
            );
        }
        for &c in &levels {
            let s = load(format!("http://{addr}/api/v1/cases"), true, c, args.seconds).await;
            best_post = best_post.max(s.per_second);
            println!(
                "{:<28} {:>5} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>7}",
                "POST /api/v1/cases", c, s.requests, s.per_second, s.p50_ms, s.p99_ms, s.errors
            );
        }
        println!("\nbest POST throughput / raw insert ceiling = {:.2}", best_post / raw);
        anyhow::Ok(())
    })?;
    Ok(())
}
