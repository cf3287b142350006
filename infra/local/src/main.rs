//! `mailbox`: the embedded deployment's command line.

mod accounts_cmd;
mod api_keys_cmd;
mod bench;
mod bench_inbox;
mod bench_mask;
mod bench_replies;
mod bench_sweep;
mod calendar_cmd;
mod progress;
mod serve;
mod triage_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "mailbox", version, about = "Mayor's Mailbox (市长信箱)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Working-day calendar of the State Council's holiday notices.
    Calendar(calendar_cmd::CalendarArgs),
    /// Runs the whole system: HTTP API, workers and scheduler, on one SQLite file.
    Serve(serve::ServeArgs),
    /// Staff accounts: create, list, disable, enable, reset a password.
    Accounts(accounts_cmd::AccountsArgs),
    /// Other systems' API keys for Open311: create, list, revoke.
    ApiKeys(api_keys_cmd::ApiKeysArgs),
    /// A consistent copy of the database, taken while the server runs.
    Backup {
        /// Folder of the database.
        #[arg(long, default_value = "data")]
        data_dir: std::path::PathBuf,
        /// The backup file to create (it must not exist).
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Puts a backup in place as the database of a folder (stop the server first).
    Restore {
        /// The backup file.
        #[arg(long)]
        from: std::path::PathBuf,
        /// Folder to restore into; it must be empty unless --force.
        #[arg(long)]
        data_dir: std::path::PathBuf,
        /// Replace the database of a folder that is not empty.
        #[arg(long)]
        force: bool,
    },
    /// Statistics maintenance.
    Stats {
        #[command(subcommand)]
        which: StatsCommand,
    },
    /// Triage: evaluation of the domain classifier, training its model, one-off analysis.
    Triage {
        #[command(subcommand)]
        which: triage_cmd::TriageCommand,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[derive(Subcommand)]
enum StatsCommand {
    /// Recomputes every statistics counter from the cases and their audit trails and reports any
    /// difference (exit code 1 when there is one).
    Reconcile {
        /// Folder of the database.
        #[arg(long, default_value = "data")]
        data_dir: std::path::PathBuf,
        /// The organisation file the server runs with (`serve --org`); Guang'an's without it.
        #[arg(long, value_name = "FILE")]
        org: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// POST /api/v1/cases at rising concurrency beside raw-SQLite and trivial-endpoint ceilings.
    Submit(bench::BenchArgs),
    /// The deadline sweep over many open cases of which few are due, beside reads by key.
    Sweep(bench_sweep::SweepArgs),
    /// Full triage of every message of a real CSV on one thread: messages/s and peak memory.
    Triage(triage_cmd::BenchTriageArgs),
    /// Masking of personal data over 64 KiB texts built to be hard for it.
    Mask(bench_mask::MaskArgs),
    /// The public reply search over many published replies: page 1 and page 50 of two-word queries.
    Replies(bench_replies::RepliesArgs),
    /// One dispatcher's list over many open cases: first page, title search, filters, full export.
    Inbox(bench_inbox::InboxArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line, as scripts expect; `mailbox --help` shows the usage.
            let rendered = e.to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            eprintln!("mailbox: {}", first.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Calendar(args) => calendar_cmd::run(args),
        Command::Serve(args) => serve_blocking(args),
        Command::Bench { which: BenchCommand::Submit(args) } => bench::run(args),
        Command::Bench { which: BenchCommand::Sweep(args) } => bench_sweep::run(args),
        Command::Bench { which: BenchCommand::Triage(args) } => triage_cmd::bench(args),
        Command::Bench { which: BenchCommand::Mask(args) } => bench_mask::run(args),
        Command::Bench { which: BenchCommand::Replies(args) } => bench_replies::run(args),
        Command::Bench { which: BenchCommand::Inbox(args) } => bench_inbox::run(args),
        Command::Triage { which } => triage_cmd::run(which),
        Command::Stats { which: StatsCommand::Reconcile { data_dir, org } } => reconcile(&data_dir, org.as_deref()),
        Command::Backup { data_dir, to } => backup(&data_dir, &to),
        Command::Accounts(args) => accounts_cmd::run(args),
        Command::ApiKeys(args) => api_keys_cmd::run(args),
        Command::Restore { from, data_dir, force } => restore(&from, &data_dir, force),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailbox: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve_blocking(args: serve::ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a log file or journal gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(serve::run(args))
}

fn backup(data_dir: &std::path::Path, to: &std::path::Path) -> anyhow::Result<()> {
    let s = mailbox_store_sqlite::backup::backup(data_dir, to)?;
    println!(
        "backup written to {}: {} bytes, {} cases, schema version {}",
        to.display(),
        s.bytes,
        s.cases,
        s.schema_version
    );
    Ok(())
}

fn restore(from: &std::path::Path, data_dir: &std::path::Path, force: bool) -> anyhow::Result<()> {
    let s = mailbox_store_sqlite::backup::restore(from, data_dir, force)?;
    println!(
        "restored {} into {}: {} cases, schema version {}",
        from.display(),
        data_dir.display(),
        s.cases,
        s.schema_version
    );
    Ok(())
}

fn reconcile(data_dir: &std::path::Path, org: Option<&std::path::Path>) -> anyhow::Result<()> {
    if !data_dir.join("mailbox.db").exists() {
        anyhow::bail!("no database in {}", data_dir.display());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(async {
        let (app, _) = serve::open_app(data_dir, serve::load_organisation(org)?).await?;
        let mut progress = progress::Progress::new("reconcile: cases read", None);
        let report = app.reconcile_with(&mut |n| progress.inc(n as u64)).await?;
        progress.finish();
        anyhow::Ok(report)
    })?;
    println!("cases: {}, counters: {}, differences: {}", report.cases, report.counters, report.differences.len());
    for (key, stored, expected) in &report.differences {
        println!("  {key}: stored {stored}, recomputed {expected}");
    }
    if report.differences.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{} counters differ from the cases", report.differences.len())
    }
}
