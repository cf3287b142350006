//! `mailbox bench sweep`: the deadline sweep over many open cases of which few are due, beside
//! reading just the due cases by key. Shows that the sweep reads only what is due.

use anyhow::Result;
use chrono::{Duration, Utc};
use clap::Args;
use mailbox_app::ports::CaseStore;
use mailbox_domain::case::Case;
use mailbox_domain::{CaseId, CaseNumber, Organisation};
use mailbox_store_sqlite::{QueueConfig, SqliteStore, ALARMS_DUE_SQL};
use std::sync::Arc;
use std::time::Instant;

#[derive(Args)]
pub struct SweepArgs {
    /// Open cases in the database.
    #[arg(long, default_value_t = 1_000_000)]
    open: usize,
    /// How many of them are due.
    #[arg(long, default_value_t = 1_000)]
    due: usize,
}

/// A case received at `received`, as the workflow makes it, to copy; its alarm is the workflow's own.
fn template(org: &Organisation, received: chrono::DateTime<Utc>) -> Case {
    crate::bench::case_templates(org, received).expect("the workflow takes a case this far").1
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

pub fn run(args: SweepArgs) -> Result<()> {
    anyhow::ensure!(args.due <= args.open && args.due > 0, "--due must be between 1 and --open");
    // Removed when this returns, whether the benchmark finished or failed.
    let dir = tempfile::Builder::new().prefix("mailbox-bench-sweep-").tempdir()?;
    let db = dir.path().join("mailbox.db");
    let org = Arc::new(Organisation::guangan());
    let store =
        SqliteStore::open(&db, QueueConfig { queues: mailbox_app::service::queue_names(&org), max_receives: 5 })?;

    // Load the cases in one bulk transaction beside the store (the store's own writes are one
    // transaction per change, far too slow to fill a million rows).
    let t = Instant::now();
    let now = Utc::now();
    // Due: received six weeks ago, so its 20 working days have passed. Not due: received today,
    // its first alarm (the urge) some three weeks ahead.
    let due_template = template(&org, now - Duration::days(42));
    let fresh_template = template(&org, now);
    anyhow::ensure!(
        due_template.next_alarm.is_some_and(|a| a <= now) && fresh_template.next_alarm.is_some_and(|a| a > now)
    );
    let ids: Vec<String> = {
        let mut conn = rusqlite::Connection::open(&db)?;
        let tx = conn.transaction()?;
        let mut due_ids = Vec::new();
        {
            let mut insert = tx.prepare(
                "INSERT INTO cases (id, number, dispatcher, mailbox, status, alarm_ms, sort_due_ms, submitted_ms, version, doc)
                 VALUES (?1, ?2, 'city-xfj', 'mayor', 'in_progress', ?3, ?4, ?5, ?6, ?7)",
            )?;
            let stride = args.open / args.due;
            let mut progress = crate::progress::Progress::new("cases loaded", Some(args.open as u64));
            for i in 0..args.open {
                progress.inc(1);
                let due = i.is_multiple_of(stride) && due_ids.len() < args.due;
                let mut case = if due { due_template.clone() } else { fresh_template.clone() };
                case.id = CaseId::new(format!("c{i:08}"));
                case.number = CaseNumber::new(format!("B{i:08}"));
                let alarm = case.next_alarm.expect("received cases have an alarm");
                if due {
                    due_ids.push(case.id.to_string());
                }
                let doc = serde_json::to_string(&case)?;
                insert.execute(rusqlite::params![
                    case.id.as_str(),
                    case.number.as_str(),
                    alarm.timestamp_millis(),
                    case.deadline.as_ref().map(|d| d.due_at().timestamp_millis()),
                    case.submitted_at.timestamp_millis(),
                    case.version as i64,
                    doc
                ])?;
            }
            progress.finish();
        }
        tx.commit()?;
        due_ids
    };
    let size = std::fs::metadata(&db)?.len() as f64 / 1e6;
    println!(
        "{} open cases, {} due; loaded in {:.1} s; database {size:.0} MB",
        args.open,
        ids.len(),
        t.elapsed().as_secs_f64()
    );

    // What SQLite itself reports for the sweep's query: rows stepped by the VM and full-scan steps.
    {
        let conn = rusqlite::Connection::open(&db)?;
        let mut stmt = conn.prepare(ALARMS_DUE_SQL)?;
        let rows = stmt.query_map(rusqlite::params![now.timestamp_millis(), 100_000], |_| Ok(()))?.count();
        let fullscan = stmt.get_status(rusqlite::StatementStatus::FullscanStep);
        let vm = stmt.get_status(rusqlite::StatementStatus::VmStep);
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {ALARMS_DUE_SQL}"))?
            .query_map(rusqlite::params![0, 0], |r| r.get::<_, String>(3))?
            .collect::<Result<_, _>>()?;
        println!(
            "sweep query: {rows} rows returned, {fullscan} full-scan steps, {vm} VM steps; plan: {}",
            plan.join("; ")
        );
    }

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let shared = Arc::new(store);
        let app = crate::bench::sqlite_app(org, shared.clone(), dir.path(), now)?;
        let mut select = Vec::new();
        let mut by_key = Vec::new();
        for _ in 0..7 {
            let t = Instant::now();
            let found = shared.alarms_due(now, 100_000).await?;
            select.push(t.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(found.len() == ids.len(), "the sweep found {} cases, expected {}", found.len(), ids.len());
            let t = Instant::now();
            for id in &ids {
                shared.get(&CaseId::new(id.as_str())).await?.expect("case exists");
            }
            by_key.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let (select, by_key) = (median(select), median(by_key));
        println!("sweep read (alarm index), median of 7: {select:.1} ms");
        println!("the same {} cases read by key, median of 7: {by_key:.1} ms", ids.len());
        println!("ratio sweep read / reads by key = {:.2}", select / by_key);
        let t = Instant::now();
        let report = app.deadline_sweep().await?;
        println!(
            "full sweep with its writes (urge each due case, one transaction per case): {:.1} ms — {report:?}",
            t.elapsed().as_secs_f64() * 1000.0
        );
        anyhow::Ok(())
    })?;
    Ok(())
}
