//! `mailbox`: the embedded deployment's command line.

mod bench;
mod calendar_cmd;
mod serve;

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
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// POST /api/v1/cases at rising concurrency beside raw-SQLite and trivial-endpoint ceilings.
    Submit(bench::BenchArgs),
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
        .init();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(serve::run(args))
}
