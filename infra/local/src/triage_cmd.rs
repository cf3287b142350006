//! `mailbox triage …`: evaluation, training and a one-off analysis; `mailbox bench triage`.

use anyhow::{bail, Context};
use chrono::Utc;
use clap::{Args, Subcommand};
use mailbox_domain::{CaseNumber, Kind, Organisation};
use mailbox_triage::domain::{self, DomainModel, TrainingData};
use mailbox_triage::dup::Fingerprint;
use mailbox_triage::{eval, Message, Recent, Triage};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Subcommand)]
pub enum TriageCommand {
    /// Classifies each row of a labelled CSV (header 留言编号,留言用户,留言主题,留言时间,留言详情,一级分类)
    /// and prints the confusion matrix, per-class precision/recall and a summary line.
    Eval {
        #[arg(long)]
        labelled: PathBuf,
    },
    /// Rebuilds the domain model from the seed lexicon, taxonomy.csv and the unlabelled messages.
    Train(TrainArgs),
    /// Triage of one message, printed as JSON.
    Analyse {
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        body: String,
        /// The kind the citizen chose: suggestion, consultation, complaint, help.
        #[arg(long, default_value = "suggestion")]
        kind: String,
    },
}

#[derive(Args)]
pub struct TrainArgs {
    /// Folder with taxonomy.csv, messages_with_replies.csv and messages_with_likes.csv.
    #[arg(long, default_value = "../shared/data/messages")]
    data: PathBuf,
    /// Where to write the model.
    #[arg(long, default_value = "shared/triage/model/domain-model.tsv")]
    out: PathBuf,
    /// Only compare with the model file at --out; fail if they differ.
    #[arg(long)]
    check: bool,
}

#[derive(Args)]
pub struct BenchTriageArgs {
    /// Messages to triage (a CSV with 留言主题 and 留言详情).
    #[arg(long, default_value = "../shared/data/messages/messages_with_replies.csv")]
    file: PathBuf,
    /// Each message is compared with this many messages before it, for duplicates (as many as the
    /// triage worker compares a new case with).
    #[arg(long, default_value_t = 400)]
    window: usize,
    /// Passes over the file; the median pass is reported.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

/// Reads a text file, refusing anything that is not UTF-8 with a clear message.
fn read_utf8(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", path.display()))
}

pub fn run(command: TriageCommand) -> anyhow::Result<()> {
    match command {
        TriageCommand::Eval { labelled } => {
            let csv = read_utf8(&labelled)?;
            let e = eval::evaluate(&DomainModel::builtin(), &csv, &labelled.display().to_string())?;
            if e.n == 0 {
                bail!("{}: no row with one of the seven domains as 一级分类", labelled.display());
            }
            println!("{}", e.report());
            Ok(())
        }
        TriageCommand::Train(args) => train(args),
        TriageCommand::Analyse { title, body, kind } => {
            let kind = match kind.as_str() {
                "suggestion" => Kind::Suggestion,
                "consultation" => Kind::Consultation,
                "complaint" => Kind::Complaint,
                "help" => Kind::Help,
                other => bail!("unknown kind `{other}` (suggestion, consultation, complaint, help)"),
            };
            let triage = Triage::new(&Organisation::guangan());
            let note = triage.analyse(&Message { title: &title, body: &body, kind, names: &[] }, &[], Utc::now());
            println!("{}", serde_json::to_string_pretty(&note)?);
            Ok(())
        }
    }
}

fn train(args: TrainArgs) -> anyhow::Result<()> {
    let taxonomy = read_utf8(&args.data.join("taxonomy.csv"))?;
    let replies = read_utf8(&args.data.join("messages_with_replies.csv"))?;
    let likes = read_utf8(&args.data.join("messages_with_likes.csv"))?;
    let data = TrainingData {
        seed_lexicon: domain::SEED_LEXICON,
        taxonomy: &taxonomy,
        messages: vec![("messages_with_replies.csv", &replies), ("messages_with_likes.csv", &likes)],
    };
    let model = domain::train(&data)?;
    DomainModel::parse(&model)?;
    if args.check {
        let current = read_utf8(&args.out)?;
        if current != model {
            bail!("{} differs from a fresh training run: mailbox triage train --out {0}", args.out.display());
        }
        println!("{} is what training produces ({} bytes)", args.out.display(), model.len());
        return Ok(());
    }
    std::fs::write(&args.out, &model).with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "wrote {} ({} words, {} bytes)",
        args.out.display(),
        model.lines().filter(|l| !l.starts_with('#')).count(),
        model.len()
    );
    Ok(())
}

/// Peak resident memory of this process (VmHWM), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn bench(args: BenchTriageArgs) -> anyhow::Result<()> {
    let csv = read_utf8(&args.file)?;
    let rows: Vec<(String, String)> =
        domain::csv_rows(&csv, &args.file.display().to_string(), &["留言主题", "留言详情"])?
            .into_iter()
            .map(|mut r| (r.remove(0), r.remove(0)))
            .collect();
    if rows.is_empty() {
        bail!("{}: no messages to triage", args.file.display());
    }
    let rss_before = peak_rss_mib().unwrap_or(0.0);
    let start = Instant::now();
    let triage = Triage::new(&Organisation::guangan());
    mailbox_triage::text::words("预热"); // loads the dictionary
    let init = start.elapsed();
    let numbers: Vec<CaseNumber> = (0..rows.len()).map(|i| CaseNumber::new(format!("GA{i:08}"))).collect();
    let mut passes = Vec::new();
    let mut per_message = Vec::with_capacity(rows.len());
    let (mut domains, mut duplicates, mut invalid, mut personal) = (0, 0, 0, 0);
    for round in 0..args.rounds.max(1) {
        let mut window: std::collections::VecDeque<Recent> = std::collections::VecDeque::new();
        let pass = Instant::now();
        for (i, (title, body)) in rows.iter().enumerate() {
            let one = Instant::now();
            let recent = window.make_contiguous();
            let note = triage.analyse(&Message { title, body, kind: Kind::Complaint, names: &[] }, recent, Utc::now());
            // As in the app: later messages compare with the fingerprint stored on the note.
            let fingerprint = Fingerprint::from_hex(&note.fingerprint).unwrap_or_else(|| Fingerprint::of(title, body));
            window.push_back(Recent { number: &numbers[i], title, fingerprint });
            if window.len() > args.window {
                window.pop_front();
            }
            if round == 0 {
                per_message.push(one.elapsed().as_secs_f64() * 1e6);
                domains += usize::from(note.domain.is_some());
                duplicates += usize::from(!note.duplicates.is_empty());
                invalid += usize::from(note.invalid.is_some());
                personal += usize::from(!note.personal_data.is_empty());
            }
        }
        passes.push(pass.elapsed().as_secs_f64());
    }
    passes.sort_by(f64::total_cmp);
    per_message.sort_by(f64::total_cmp);
    let median_pass = passes[passes.len() / 2];
    let n = rows.len();
    println!("triage of {} ({} messages), one thread, duplicate window {}", args.file.display(), n, args.window);
    println!("  start-up (organisation, model, dictionary): {:.0} ms", init.as_secs_f64() * 1e3);
    println!(
        "  median of {} passes: {:.2} s = {:.0} messages/s = {:.3} ms/message",
        passes.len(),
        median_pass,
        n as f64 / median_pass,
        median_pass * 1e3 / n as f64
    );
    println!(
        "  per message (first pass): p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        per_message[n / 2],
        per_message[n * 99 / 100],
        per_message[n - 1]
    );
    println!("  suggestions: domain {domains}, duplicates {duplicates}, invalid {invalid}, personal data {personal}");
    println!("  peak memory: {:.1} MiB (before loading: {:.1} MiB)", peak_rss_mib().unwrap_or(0.0), rss_before);
    Ok(())
}
