//! `mailbox triage …`: evaluation, training and a one-off analysis; `mailbox bench triage`.

use anyhow::{bail, Context};
use chrono::Utc;
use clap::{Args, Subcommand};
use mailbox_domain::{CaseNumber, Kind, Organisation};
use mailbox_triage::classifier::{self, argmax, Settings};
use mailbox_triage::domain::{self, TrainingSet};
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
    /// Trains the domain classifier on labelled_train.csv and taxonomy.csv: 5-fold cross-validation
    /// (figures and calibration printed), then the model on every message.
    Train(TrainArgs),
    /// Hot topics (舆情) found over a board's messages at their real times, as the triage worker
    /// finds them: each month's largest topics.
    Topics(TopicsArgs),
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
    /// Folder with labelled_train.csv and taxonomy.csv.
    #[arg(long, default_value = "../shared/data/messages")]
    data: PathBuf,
    /// Where to write the model.
    #[arg(long, default_value = "shared/triage/model/domain-classifier.bin")]
    out: PathBuf,
    /// Only compare with the model file at --out; fail if they differ.
    #[arg(long)]
    check: bool,
}

#[derive(Args)]
pub struct TopicsArgs {
    /// Message files (CSV with 留言编号, 留言主题, 留言时间, 留言详情); repeat for several.
    #[arg(long = "messages", default_values = [
        "../shared/data/messages/messages_with_replies.csv",
        "../shared/data/messages/messages_with_likes.csv",
    ])]
    messages: Vec<PathBuf>,
    /// Topics shown per month, largest first.
    #[arg(long, default_value_t = 3)]
    top: usize,
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
            let e = eval::evaluate(domain::builtin(), &csv, &labelled.display().to_string())?;
            if e.n == 0 {
                bail!("{}: no row with one of the seven domains as 一级分类", labelled.display());
            }
            println!("{}", e.report());
            Ok(())
        }
        TriageCommand::Train(args) => train(args),
        TriageCommand::Topics(args) => topics(args),
        TriageCommand::Analyse { title, body, kind } => {
            let kind = match kind.as_str() {
                "suggestion" => Kind::Suggestion,
                "consultation" => Kind::Consultation,
                "complaint" => Kind::Complaint,
                "help" => Kind::Help,
                other => bail!("unknown kind `{other}` (suggestion, consultation, complaint, help)"),
            };
            let triage = Triage::new(&Organisation::guangan());
            let note = triage.analyse(
                &Message { submitted_at: Utc::now(), citizen: "", title: &title, body: &body, kind, names: &[] },
                &[],
                Utc::now(),
            );
            println!("{}", serde_json::to_string_pretty(&note)?);
            Ok(())
        }
    }
}

fn topics(args: TopicsArgs) -> anyhow::Result<()> {
    use mailbox_domain::opinion::TopicEntry;
    use mailbox_domain::{CaseId, JurisdictionId, UnitId};
    let mut messages = Vec::new();
    let mut unreadable = 0;
    for (f, path) in args.messages.iter().enumerate() {
        let csv = read_utf8(path)?;
        let rows = domain::csv_rows(
            &csv,
            &path.display().to_string(),
            &["留言编号", "留言主题", "留言时间", "留言详情", "留言用户"],
        )?;
        for r in rows {
            let Some(at) = domain::board_time(&r[2]) else {
                unreadable += 1;
                continue;
            };
            let clean = |s: &str| s.replace("_x000D_", "").trim().to_owned();
            let (number, user) = (r[0].trim().to_owned(), r[4].trim().to_owned());
            messages.push((at, format!("{f}-{number}"), number, clean(&r[1]), clean(&r[3]), user));
        }
    }
    messages.sort();
    let mut finder = mailbox_triage::topics::Finder::default();
    let mut progress = crate::progress::Progress::new("messages grouped", Some(messages.len() as u64));
    let mut titles = std::collections::HashMap::new();
    let (mut invalid, started) = (0, Instant::now());
    for (at, id, number, title, body, user) in &messages {
        progress.inc(1);
        if mailbox_triage::screen::screen(title, body).is_some() {
            invalid += 1;
            continue;
        }
        let domain = domain::builtin().classify(title, body).map(|d| d.value.to_owned());
        titles.insert(CaseId::new(id.as_str()), title.clone());
        finder.add(TopicEntry {
            case_id: CaseId::new(id.as_str()),
            number: CaseNumber::new(number.as_str()),
            dispatcher: UnitId::new("city-xfj"),
            jurisdiction: JurisdictionId::new("city"),
            domain,
            at: *at,
            keywords: mailbox_triage::topics::keywords(title, body, &[]),
            // The board's user id stands for the phone: one user writing again is one citizen.
            citizen: mailbox_domain::opinion::citizen_tag(user),
            topic: None,
        });
    }
    let elapsed = started.elapsed();
    progress.finish();
    let month =
        |t: chrono::DateTime<Utc>| t.with_timezone(&mailbox_domain::deadline::cst()).format("%Y-%m").to_string();
    let mut by_month: std::collections::BTreeMap<String, Vec<&mailbox_domain::opinion::HotTopic>> = Default::default();
    for t in &finder.topics {
        by_month.entry(month(t.first)).or_default().push(t);
    }
    for (m, mut topics) in by_month {
        topics.sort_by(|a, b| b.count.cmp(&a.count).then(a.first.cmp(&b.first)));
        for t in topics.iter().take(args.top) {
            let example = titles.get(&t.members[0].case_id).map_or("", String::as_str);
            println!("{m}\t{}\t{}\t{}\t{example}", t.count, t.domain.as_deref().unwrap_or("-"), t.label.join(" "));
        }
    }
    let grouped: u32 = finder.topics.iter().map(|t| t.count).sum();
    println!(
        "messages={} invalid={invalid} unreadable_time={unreadable} topics={} in_topics={grouped} ms_per_message={:.3}",
        messages.len(),
        finder.topics.len(),
        elapsed.as_secs_f64() * 1e3 / messages.len().max(1) as f64
    );
    Ok(())
}

/// Folds of the cross-validation that chooses nothing but reports (and calibrates) the model.
const FOLDS: usize = 5;

fn train(args: TrainArgs) -> anyhow::Result<()> {
    let labelled_path = args.data.join("labelled_train.csv");
    let labelled = read_utf8(&labelled_path)?;
    let taxonomy = read_utf8(&args.data.join("taxonomy.csv"))?;
    let set = TrainingSet::read(&labelled, &labelled_path.display().to_string(), &taxonomy)?;
    let settings = Settings::default();
    let started = Instant::now();
    eprintln!("cross-validating ({FOLDS} folds, {} messages, {settings:?}) …", set.messages.len());
    let mut progress = crate::progress::Progress::new("cross-validation folds", Some(FOLDS as u64));
    let cv =
        classifier::cross_validate_with(&set.labelled(), &set.taxonomy(), FOLDS, &settings, &mut |_| progress.inc(1))?;
    progress.finish();
    let e = eval::Evaluation::of(cv.predictions.iter().map(|(a, p)| (*a, argmax(p))));
    let table = classifier::calibration(&cv.predictions, 10);
    println!(
        "{FOLDS}-fold cross-validation on {} (each message scored by a model that did not see it)",
        labelled_path.display()
    );
    println!("{}", e.report());
    println!("\nreliability (top probability → share right)");
    for b in &table {
        println!("{:.1}–{:.1}  n={:>5}  confidence={:.3}  accuracy={:.3}", b.from, b.to, b.n, b.confidence, b.accuracy);
    }
    println!("temperature={:.3} ece={:.4}", cv.temperature, classifier::calibration_error(&table));
    let mut all = set.labelled();
    all.extend(set.taxonomy());
    let model = classifier::train(&all, &settings, cv.temperature)?.to_bytes();
    eprintln!("trained in {:.1} s", started.elapsed().as_secs_f64());
    if args.check {
        let current = std::fs::read(&args.out).with_context(|| format!("cannot read {}", args.out.display()))?;
        if current != model {
            bail!("{} differs from a fresh training run: mailbox triage train --out {0}", args.out.display());
        }
        println!("{} is what training produces ({} bytes)", args.out.display(), model.len());
        return Ok(());
    }
    std::fs::write(&args.out, &model).with_context(|| format!("cannot write {}", args.out.display()))?;
    println!("wrote {} ({} bytes)", args.out.display(), model.len());
    Ok(())
}

/// Peak resident memory of this process (VmHWM), in MiB.
pub(crate) fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Microseconds each message takes in `f`, sorted.
fn timings(rows: &[(String, String)], f: impl Fn(&str, &str)) -> Vec<f64> {
    let mut out: Vec<f64> = rows
        .iter()
        .map(|(title, body)| {
            let one = Instant::now();
            f(title, body);
            one.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    out.sort_by(f64::total_cmp);
    out
}

/// Mean, median, 99th percentile and maximum of sorted microseconds.
fn spread(sorted: &[f64]) -> String {
    let n = sorted.len();
    format!(
        "mean {:.0} µs, p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        sorted.iter().sum::<f64>() / n as f64,
        sorted[n / 2],
        sorted[n * 99 / 100],
        sorted[n - 1]
    )
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
    domain::builtin(); // reads the classifier
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
            // One message a minute: the bench's window spans days, as the worker's does.
            let at = chrono::DateTime::UNIX_EPOCH + chrono::Duration::minutes(i as i64);
            let recent = window.make_contiguous();
            let note = triage.analyse(
                &Message { submitted_at: at, citizen: "", title, body, kind: Kind::Complaint, names: &[] },
                recent,
                Utc::now(),
            );
            // As in the app: later messages compare with the fingerprint stored on the note.
            let fingerprint =
                Fingerprint::from_stored(&note.fingerprint).unwrap_or_else(|| Fingerprint::of(title, body));
            window.push_back(Recent {
                number: &numbers[i],
                title,
                fingerprint,
                submitted_at: at,
                hot: note.hot.is_some(),
                citizen: "",
                invalid: false,
            });
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
    // The domain classifier alone, segmentation included (the budget: 1 ms per message),
    // and segmentation alone.
    let classify = timings(&rows, |title, body| {
        std::hint::black_box(domain::builtin().classify(title, body));
    });
    let segment = timings(&rows, |title, body| {
        std::hint::black_box((mailbox_triage::text::words(title), mailbox_triage::text::words(body)));
    });
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
    println!("  per message (first pass): {}", spread(&per_message));
    println!("  domain classifier alone (segmenting included): {}", spread(&classify));
    println!("  of which segmentation (jieba): {}", spread(&segment));
    println!("  suggestions: domain {domains}, duplicates {duplicates}, invalid {invalid}, personal data {personal}");
    println!("  peak memory: {:.1} MiB (before loading: {:.1} MiB)", peak_rss_mib().unwrap_or(0.0), rss_before);
    Ok(())
}
