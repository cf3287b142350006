//! `mailbox-aws-setup`: creates the table (with its stream), the queues (with dead-letter queues)
//! and the event bus (with its archive and the rules that route events to the queues) on a local
//! emulator, as the SAM template does on AWS, and with `--demo` the demo staff accounts.
//!
//! It reads the same configuration as the functions — `AWS_REGION`, `TABLE_NAME`, `QUEUE_PREFIX`,
//! `EVENT_BUS_NAME`, `ATTACHMENTS_BUCKET`, `AWS_ENDPOINT_URL`, `ORG_CONFIG` (its jurisdictions decide
//! the hand-off queues) — and flags override each: `--region`, `--table`, `--queue-prefix`,
//! `--event-bus`, `--bucket`, `--endpoint`, `--org`. A missing or unknown argument is one line on standard error, exit code 2.

use mailbox_app::accounts::seed_demo_accounts;
use mailbox_aws::{sdk_config_at, DynamoStore, SqsQueues};
use std::process::ExitCode;

const USAGE: &str =
    "usage: mailbox-aws-setup [--endpoint URL] [--region REGION] [--table NAME] [--queue-prefix PREFIX] [--event-bus NAME] [--bucket NAME] [--org FILE] [--demo] \
(defaults from AWS_ENDPOINT_URL, AWS_REGION, TABLE_NAME, QUEUE_PREFIX, EVENT_BUS_NAME, ATTACHMENTS_BUCKET, ORG_CONFIG)";

struct Args {
    endpoint: String,
    region: String,
    table: String,
    queue_prefix: String,
    event_bus: Option<String>,
    bucket: Option<String>,
    org: Option<std::path::PathBuf>,
    demo: bool,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (mut endpoint, mut region, mut table) = (env("AWS_ENDPOINT_URL"), env("AWS_REGION"), env("TABLE_NAME"));
    let mut queue_prefix = env("QUEUE_PREFIX").unwrap_or_default();
    let mut event_bus = env("EVENT_BUS_NAME");
    let mut bucket = env("ATTACHMENTS_BUCKET");
    let mut demo = false;
    let mut org = env("ORG_CONFIG").map(std::path::PathBuf::from);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--endpoint" => endpoint = Some(value()?),
            "--region" => region = Some(value()?),
            "--table" => table = Some(value()?),
            "--queue-prefix" => queue_prefix = value()?,
            "--event-bus" => event_bus = Some(value()?),
            "--bucket" => bucket = Some(value()?),
            "--org" => org = Some(value()?.into()),
            "--demo" => demo = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        endpoint: endpoint.ok_or("no emulator endpoint (--endpoint or AWS_ENDPOINT_URL)")?,
        region: region.unwrap_or_else(|| "us-east-1".into()),
        table: table.ok_or("no table name (--table or TABLE_NAME)")?,
        queue_prefix,
        event_bus,
        bucket,
        org,
        demo,
    })
}

async fn run(args: Args) -> anyhow::Result<()> {
    let sdk = sdk_config_at(&args.endpoint, &args.region).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), args.table.clone());
    store.create_table().await?;
    let config = mailbox_lambda::Config {
        table: args.table.clone(),
        queue_prefix: args.queue_prefix.clone(),
        queue_url_prefix: None,
        org_config: args.org.clone(),
        attachments_bucket: args.bucket.clone().unwrap_or_default(),
    };
    let org = config.organisation()?;
    if args.demo && args.org.is_some() {
        anyhow::bail!("--demo seeds the Guang'an demo accounts; leave out --org");
    }
    let queues: Vec<String> =
        mailbox_lambda::queue_names(&org).iter().map(|q| format!("{}{q}", args.queue_prefix)).collect();
    SqsQueues::create(&aws_sdk_sqs::Client::new(&sdk), &queues, 5).await?;
    println!("created table {} and {} queues in {}", args.table, queues.len(), args.region);
    if let Some(bus) = &args.event_bus {
        let rules = mailbox_app::events::rules(&org);
        // The emulator's one account (moto's default); on AWS the template names the queues' ARNs.
        let arn = |q: &str| format!("arn:aws:sqs:{}:123456789012:{}{q}", args.region, args.queue_prefix);
        mailbox_aws::eventbridge::create_bus(&aws_sdk_eventbridge::Client::new(&sdk), bus, &rules, arn)
            .await
            .map_err(anyhow::Error::msg)?;
        println!("created event bus {bus} with {} rules and an archive", rules.len());
    }
    if let Some(bucket) = &args.bucket {
        mailbox_aws::S3Attachments::new(&sdk, bucket.as_str()).create_bucket().await.map_err(anyhow::Error::msg)?;
        println!("created attachments bucket {bucket}");
    }
    if args.demo && seed_demo_accounts(&store).await? {
        println!("demo staff accounts created (password for all: {})", mailbox_app::accounts::DEMO_PASSWORD);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mailbox-aws-setup: {e}; {USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailbox-aws-setup: {e:#}");
            ExitCode::FAILURE
        }
    }
}
