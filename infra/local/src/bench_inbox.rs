//! `mailbox bench inbox`: one dispatcher's list over many open cases — its first page, a title search,
//! an urgency filter, and a full export — through the application, as the console asks them.

use anyhow::Result;
use chrono::{Duration, Utc};
use clap::Args;
use mailbox_app::export::Format;
use mailbox_app::service::{ListFilter, Urgency};
use mailbox_domain::case::Case;
use mailbox_domain::{Actor, CaseId, CaseNumber, Organisation, Role, UnitId};
use mailbox_store_sqlite::{QueueConfig, SqliteStore};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

#[derive(Args)]
pub struct InboxArgs {
    /// Open cases of the city's 信访局 (the dispatcher whose list is read).
    #[arg(long, default_value_t = 20_000)]
    open: usize,
    /// Real message titles (the CSV of `bench replies`), cycled.
    #[arg(long, default_value = "../shared/data/messages/messages_with_replies.csv")]
    data: PathBuf,
    /// Times each page is read.
    #[arg(long, default_value_t = 200)]
    rounds: usize,
}

/// Cases on a console page.
const PAGE: usize = 100;
const CHUNK: usize = 10_000;

fn percentiles(mut v: Vec<StdDuration>) -> (f64, f64) {
    v.sort();
    (crate::bench::percentile(&v, 0.5), crate::bench::percentile(&v, 0.99))
}

/// Resets the process's peak resident memory (`VmHWM`) where Linux allows, so the next reading is
/// the peak of what follows.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn run(args: InboxArgs) -> Result<()> {
    anyhow::ensure!(args.open > 0 && args.rounds > 0, "--open and --rounds must be positive");
    let titles: Vec<String> = crate::bench_replies::read_sources(&args.data)?.into_iter().map(|s| s.title).collect();
    let dir = tempfile::Builder::new().prefix("mailbox-bench-inbox-").tempdir()?;
    let org = Arc::new(Organisation::guangan());
    let store = SqliteStore::open(
        dir.path().join("mailbox.db"),
        QueueConfig { queues: mailbox_app::service::queue_names(&org), max_receives: 5 },
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let now = Utc::now();
    // Received over the last 40 days: some overdue, some due soon, most running; a tenth waiting.
    let days = 40;
    let templates: Vec<(Case, Case)> =
        (0..days).map(|d| crate::bench::case_templates(&org, now - Duration::days(d))).collect::<Result<_>>()?;
    let units: Vec<UnitId> =
        ["transport", "water", "health", "education", "housing-construction"].iter().map(|u| UnitId::new(*u)).collect();
    let t = Instant::now();
    let mut progress = crate::progress::Progress::new("open cases loaded", Some(args.open as u64));
    let mut i = 0;
    while i < args.open {
        let chunk: Vec<Case> = (i..(i + CHUNK).min(args.open))
            .map(|n| {
                let (waiting, received) = &templates[n % templates.len()];
                let mut case = if n % 10 == 0 { waiting.clone() } else { received.clone() };
                case.id = CaseId::new(format!("c{n:09}"));
                case.number = CaseNumber::new(format!("B{n:09}"));
                case.title = titles[n % titles.len()].clone();
                if let Some(d) = case.dispatch.as_mut() {
                    d.lead = units[n % units.len()].clone();
                }
                case
            })
            .collect();
        progress.inc(chunk.len() as u64);
        i += chunk.len();
        runtime.block_on(store.load(chunk))?;
    }
    progress.finish();
    println!("{} open cases of city-xfj loaded in {:.1} s", args.open, t.elapsed().as_secs_f64());

    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let mut queries = Vec::new();
    while queries.len() < args.rounds {
        let words =
            mailbox_triage::text::words(&titles[next(titles.len())]).iter().map(|w| w.to_string()).collect::<Vec<_>>();
        if words.len() >= 2 {
            let a = next(words.len());
            queries.push(format!("{} {}", words[a], words[(a + 1) % words.len()]));
        }
    }

    runtime.block_on(async {
        let shared = Arc::new(store);
        let app = crate::bench::sqlite_app(org.clone(), shared.clone(), dir.path(), now)?;
        let xfj = Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")));
        let time = |filter: ListFilter| {
            let (app, xfj) = (&app, &xfj);
            async move {
                let t = Instant::now();
                let page = app.inbox(xfj, &filter, PAGE, None).await?;
                anyhow::Ok((t.elapsed(), page.items.len()))
            }
        };
        // Warm the cache as a running server's would be.
        for _ in 0..10 {
            time(ListFilter::default()).await?;
        }
        let mut first = Vec::new();
        for _ in 0..args.rounds {
            first.push(time(ListFilter::default()).await?.0);
        }
        let (mut search, mut found) = (Vec::new(), 0);
        for q in &queries {
            let (t, n) = time(ListFilter { q: Some(q.clone()), ..ListFilter::default() }).await?;
            search.push(t);
            found += n;
        }
        let mut urgent = Vec::new();
        for u in [Urgency::Overdue, Urgency::DueSoon, Urgency::Normal] {
            for _ in 0..args.rounds / 3 {
                urgent.push(time(ListFilter { urgency: Some(u), ..ListFilter::default() }).await?.0);
            }
        }
        let mut unit = Vec::new();
        for n in 0..args.rounds {
            unit.push(time(ListFilter { unit: Some(units[n % units.len()].clone()), ..ListFilter::default() }).await?.0);
        }
        let (p50, p99) = percentiles(first.clone());
        println!("first page ({PAGE} cases), {} reads: p50 {p50:.2} ms, p99 {p99:.2} ms", first.len());
        let (s50, s99) = percentiles(search);
        println!("title search, {} two-word queries ({found} cases shown): p50 {s50:.2} ms, p99 {s99:.2} ms", queries.len());
        let (u50, u99) = percentiles(urgent);
        println!("by urgency (overdue, due soon, normal): p50 {u50:.2} ms, p99 {u99:.2} ms");
        let (h50, h99) = percentiles(unit);
        println!("by handling unit: p50 {h50:.2} ms, p99 {h99:.2} ms");

        let mut export_peak = 0.0;
        for format in [Format::Xlsx, Format::Csv] {
            let before = crate::triage_cmd::peak_rss_mib().unwrap_or(0.0);
            reset_peak();
            let t = Instant::now();
            let row = |c: &mailbox_app::views::CaseSummary| mailbox_app::views::export_row(&org, c);
            let file = app
                .export_cases(&xfj, &ListFilter::default(), format, &mailbox_app::views::EXPORT_HEADERS, row)
                .await?;
            let seconds = t.elapsed().as_secs_f64();
            let bytes = file.metadata()?.len();
            let peak = crate::triage_cmd::peak_rss_mib().unwrap_or(0.0);
            println!(
                "export {:?}: {} rows, {:.1} MB in {seconds:.1} s; peak memory of the process {peak:.0} MiB (before it: {before:.0} MiB)",
                format,
                args.open,
                bytes as f64 / 1e6
            );
            if format == Format::Xlsx {
                export_peak = peak;
            }
        }
        println!(
            "inbox: p50_ms={p50:.2} p99_ms={p99:.2} search_p99_ms={s99:.2} export_peak_mb={export_peak:.0} n={}",
            args.open
        );
        anyhow::Ok(())
    })?;
    Ok(())
}
