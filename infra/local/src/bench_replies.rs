//! `mailbox bench replies`: the public reply search over many published replies of realistic
//! length (real messages and official replies, cycled), two-word queries for their first and
//! fiftieth page through the application, as the public site and API ask them.

use anyhow::{Context as _, Result};
use chrono::{Duration, Utc};
use clap::Args;
use mailbox_app::reports::ReplySearch;
use mailbox_domain::case::Case;
use mailbox_domain::workflow::{Command, Context};
use mailbox_domain::{Actor, Calendar, CaseId, CaseNumber, MailboxId, Organisation, Role, UnitId};
use mailbox_store_sqlite::{QueueConfig, SqliteStore};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

#[derive(Args)]
pub struct RepliesArgs {
    /// Published replies in the database.
    #[arg(long, default_value_t = 1_000_000)]
    published: usize,
    /// Messages with their official replies (CSV: 留言主题, 留言详情, 答复意见 columns).
    #[arg(long, default_value = "../shared/data/messages/messages_with_replies.csv")]
    data: PathBuf,
    /// Two-word queries timed (each for page 1 and page 50).
    #[arg(long, default_value_t = 200)]
    queries: usize,
}

/// Replies per page, as the public page shows them.
const PAGE: usize = 20;
/// Cases stored per transaction while loading.
const CHUNK: usize = 10_000;

pub(crate) struct Source {
    pub(crate) title: String,
    body: String,
    reply: String,
}

/// The messages of a CSV with their replies (rows missing any of the three are left out).
pub(crate) fn read_sources(path: &std::path::Path) -> Result<Vec<Source>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name).with_context(|| format!("no column {name}"));
    let (title, body, reply) = (column("留言主题")?, column("留言详情")?, column("答复意见")?);
    let mut out = Vec::new();
    for record in reader.records() {
        let r = record?;
        let get = |i: usize| r.get(i).unwrap_or("").trim().to_owned();
        let source = Source { title: get(title), body: get(body), reply: get(reply) };
        if !source.title.is_empty() && !source.body.is_empty() && !source.reply.is_empty() {
            out.push(source);
        }
    }
    anyhow::ensure!(!out.is_empty(), "no messages with replies in {}", path.display());
    Ok(out)
}

/// A case replied publicly, as the workflow makes it, to copy.
fn replied_template(org: &Organisation) -> Result<Case> {
    let now = Utc::now();
    let (_, mut case) = crate::bench::case_templates(org, now)?;
    let ctx = Context { org, calendar: Calendar::builtin(), now };
    let h = Actor::staff("jtj", Role::Handler, Some(UnitId::new("transport")));
    case.apply(&ctx, &h, Command::Reply { text: "答复".into(), public: true })?;
    Ok(case)
}

/// A deterministic pseudo-random sequence (xorshift64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn percentiles(mut ms: Vec<StdDuration>) -> (f64, f64) {
    ms.sort();
    (crate::bench::percentile(&ms, 0.5), crate::bench::percentile(&ms, 0.99))
}

pub fn run(args: RepliesArgs) -> Result<()> {
    anyhow::ensure!(args.published > 0 && args.queries > 0, "--published and --queries must be positive");
    let sources = read_sources(&args.data)?;
    let dir = tempfile::Builder::new().prefix("mailbox-bench-replies-").tempdir()?;
    let db = dir.path().join("mailbox.db");
    let org = Arc::new(Organisation::guangan());
    let store =
        SqliteStore::open(&db, QueueConfig { queues: mailbox_app::service::queue_names(&org), max_receives: 5 })?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;

    // Each source message is masked and segmented once (as publication does); the cases cycle them
    // over mailboxes, replying units and five years of reply times.
    let t = Instant::now();
    let template = replied_template(&org)?;
    let published: Vec<Case> = sources
        .iter()
        .map(|s| {
            let mut case = template.clone();
            case.title = s.title.clone();
            case.body = s.body.clone();
            if let Some(r) = case.reply.as_mut() {
                r.text = s.reply.clone();
            }
            mailbox_app::published::refresh(&mut case);
            case
        })
        .collect();
    let doc_bytes: usize = published.iter().map(|c| serde_json::to_string(c).map_or(0, |d| d.len())).sum();
    let text_bytes: usize = published
        .iter()
        .filter_map(|c| c.published.as_ref())
        .map(|p| p.title.len() + p.body.len() + p.reply.len())
        .sum();
    println!(
        "{} source messages masked and segmented in {:.1} s; case documents {:.1} KB on average ({:.1} KB of it published text)",
        published.len(),
        t.elapsed().as_secs_f64(),
        doc_bytes as f64 / published.len() as f64 / 1e3,
        text_bytes as f64 / published.len() as f64 / 1e3
    );
    let mailboxes: Vec<MailboxId> = org.mailboxes.iter().map(|m| m.id.clone()).collect();
    let units: Vec<UnitId> = org.units.iter().map(|u| u.id.clone()).collect();
    let end = Utc::now();
    let span_ms = Duration::days(5 * 365).num_milliseconds();
    let t = Instant::now();
    let mut progress = crate::progress::Progress::new("replies loaded", Some(args.published as u64));
    let mut i = 0;
    while i < args.published {
        let chunk: Vec<Case> = (i..(i + CHUNK).min(args.published))
            .map(|n| {
                let mut case = published[n % published.len()].clone();
                case.id = CaseId::new(format!("c{n:09}"));
                case.number = CaseNumber::new(format!("B{n:09}"));
                case.mailbox = mailboxes[n % mailboxes.len()].clone();
                let at = end - Duration::milliseconds(span_ms * (args.published - n) as i64 / args.published as i64);
                case.submitted_at = at - Duration::days(10);
                if let Some(r) = case.reply.as_mut() {
                    r.at = at;
                    r.unit = units[(n / 7) % units.len()].clone();
                }
                case.featured = n % 100 == 0;
                case
            })
            .collect();
        progress.inc(chunk.len() as u64);
        i += chunk.len();
        runtime.block_on(store.load(chunk))?;
    }
    progress.finish();
    let bytes: u64 = ["mailbox.db", "mailbox.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.path().join(f)).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "{} published replies loaded in {:.1} s; database {:.0} MB",
        args.published,
        t.elapsed().as_secs_f64(),
        bytes as f64 / 1e6
    );

    // Queries: two words of a real title, as a citizen would type them.
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut queries = Vec::new();
    while queries.len() < args.queries {
        let title = &sources[rng.below(sources.len())].title;
        let words = mailbox_triage::text::words(title);
        if words.len() < 2 {
            continue;
        }
        let a = rng.below(words.len());
        let b = (a + 1 + rng.below(words.len() - 1)) % words.len();
        queries.push(format!("{} {}", words[a], words[b]));
    }

    runtime.block_on(async {
        let shared = Arc::new(store);
        let app = crate::bench::sqlite_app(org, shared.clone(), dir.path(), end)?;
        let search = |q: Option<&str>, after: Option<String>| ReplySearch {
            q: q.map(str::to_owned),
            after,
            limit: PAGE,
            ..ReplySearch::default()
        };
        // Warm the page cache as a running server would be.
        for q in queries.iter().take(20) {
            app.public_replies(&search(Some(q), None)).await?;
        }
        let (mut first, mut fiftieth, mut found, mut reached) = (Vec::new(), Vec::new(), 0usize, 0usize);
        for q in &queries {
            let t = Instant::now();
            let mut page = app.public_replies(&search(Some(q), None)).await?;
            first.push(t.elapsed());
            found += page.items.len();
            // Pages 2–49 walked untimed, then page 50 timed.
            let mut number = 1;
            while let Some(next) = page.next.clone() {
                number += 1;
                let t = Instant::now();
                page = app.public_replies(&search(Some(q), Some(next))).await?;
                if number == 50 {
                    fiftieth.push(t.elapsed());
                    reached += 1;
                    break;
                }
            }
        }
        let mut browse = Vec::new();
        let mut after = None;
        for _ in 0..50 {
            let t = Instant::now();
            let page = app.public_replies(&search(None, after.take())).await?;
            browse.push(t.elapsed());
            after = page.next;
        }
        let (p50, p99) = percentiles(first.clone());
        println!(
            "page 1 of {} two-word queries ({} replies per page, {found} shown): p50 {p50:.2} ms, p99 {p99:.2} ms",
            first.len(),
            PAGE
        );
        if !fiftieth.is_empty() {
            let (p50, p99) = percentiles(fiftieth.clone());
            println!("page 50 of the {reached} queries with that many pages: p50 {p50:.2} ms, p99 {p99:.2} ms");
        }
        let (p50, p99) = percentiles(browse);
        println!("browsing without words, pages 1–50: p50 {p50:.2} ms, p99 {p99:.2} ms");
        if let Some(rss) = crate::triage_cmd::peak_rss_mib() {
            println!("peak memory of the process: {rss:.0} MiB");
        }
        let all: Vec<StdDuration> = first.into_iter().chain(fiftieth).collect();
        let n = all.len();
        let (p50, p99) = percentiles(all);
        println!("(p50/p99 below over all {n} timed pages: page 1 and page 50)");
        println!("replies: p50_ms={p50:.2} p99_ms={p99:.2} n={}", args.published);
        anyhow::Ok(())
    })?;
    Ok(())
}
