//! `mailbox-aws-accounts`: staff accounts of the AWS deployment, from an operator's machine with
//! credentials for the account — the same operations and rules as `mailbox accounts` and the
//! console's administration page (`AccountAdmin`), never a direct edit of the table. The first
//! administrator of a new deployment is made with it.
//!
//!   mailbox-aws-accounts create --username U --name N --role R [--unit U] [--phone P] [--email E]
//!   mailbox-aws-accounts list | disable U | enable U | reset-password U
//!   mailbox-aws-accounts api-keys create --name N [--per-hour N] | api-keys list | api-keys revoke ID
//!
//! Configuration as the functions: `TABLE_NAME`, `AWS_REGION`, `ORG_CONFIG` (and `AWS_ENDPOINT_URL`
//! for an emulator). Passwords come from the first line of standard input, never the command line.

use mailbox_app::accounts::{AccountAdmin, AccountStore, NewAccount};
use mailbox_aws::DynamoStore;
use mailbox_domain::{Role, UnitId};
use std::io::BufRead;
use std::process::ExitCode;

const USAGE: &str = "usage: mailbox-aws-accounts create --username U --name N --role R [--unit U] [--phone P] \
[--email E] | list | disable USERNAME | enable USERNAME | reset-password USERNAME | api-keys create --name N \
[--per-hour N] | api-keys list | api-keys revoke ID | reindex (TABLE_NAME, AWS_REGION, ORG_CONFIG \
from the environment; passwords on standard input)";

fn password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let p = line.trim_end_matches(['\n', '\r']).to_owned();
    anyhow::ensure!(!p.is_empty(), "no password on standard input");
    Ok(p)
}

fn flags(args: &[String]) -> anyhow::Result<std::collections::HashMap<String, String>> {
    let mut out = std::collections::HashMap::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let name = flag.strip_prefix("--").ok_or_else(|| anyhow::anyhow!("unexpected argument {flag}"))?;
        let value = it.next().ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?;
        out.insert(name.to_owned(), value.clone());
    }
    Ok(out)
}

async fn run(args: Vec<String>) -> anyhow::Result<()> {
    let config = mailbox_lambda::Config::from_env()?;
    let org = config.organisation()?;
    // As the functions: the SDK reads AWS_REGION, credentials and AWS_ENDPOINT_URL from the environment.
    let sdk = mailbox_aws::sdk_config(None).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table.clone());
    let admin = AccountAdmin { store: &store, org: &org };
    let now = chrono::Utc::now();
    let (command, rest) = args.split_first().ok_or_else(|| anyhow::anyhow!("no command"))?;
    let one = || -> anyhow::Result<&String> {
        match rest {
            [username] => Ok(username),
            _ => anyhow::bail!("{command} takes one user name"),
        }
    };
    match command.as_str() {
        "create" => {
            let mut f = flags(rest)?;
            let mut take = |k: &str| f.remove(k);
            let role: Role = serde_json::from_value(serde_json::Value::String(take("role").unwrap_or_default()))
                .map_err(|_| anyhow::anyhow!("--role: admin, dispatcher, handler or supervisor"))?;
            let new = NewAccount {
                username: take("username").ok_or_else(|| anyhow::anyhow!("--username is required"))?,
                display_name: take("name").ok_or_else(|| anyhow::anyhow!("--name is required"))?,
                role,
                unit: take("unit").map(UnitId::new),
                phone: take("phone"),
                email: take("email"),
                oidc_subject: take("subject"),
                must_change_password: false,
            };
            if let Some(extra) = f.keys().next() {
                anyhow::bail!("unknown flag --{extra}");
            }
            let a = admin.create(new, &password()?).await?;
            println!("account {} created ({}, {})", a.username, a.display_name, a.role.label());
        }
        "list" => {
            for a in store.accounts().await? {
                let state = if a.disabled {
                    "disabled"
                } else if a.must_change_password {
                    "must change password"
                } else {
                    "active"
                };
                let unit = a.unit.as_ref().map(|u| u.to_string()).unwrap_or_default();
                println!("{:<16} {:<12} {:<10} {:<20} {state}", a.username, a.display_name, a.role.label(), unit);
            }
        }
        "disable" => {
            admin.set_disabled(one()?, true, now).await?;
            println!("account {} disabled; its sessions have ended", one()?);
        }
        "enable" => {
            admin.set_disabled(one()?, false, now).await?;
            println!("account {} enabled", one()?);
        }
        "api-keys" => api_keys(&store, rest, now).await?,
        "reindex" => {
            // Every case written again, 100 at a time, its published text brought up to date.
            let (mut after, mut written, mut failed) = (None, 0, 0);
            loop {
                let done = mailbox_app::published::reindex(&store, after.as_ref(), 100).await?;
                written += done.written;
                failed += done.failed;
                println!("{written} cases written again");
                match done.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            println!("every case written again: {written} written, {failed} not (see the log)");
            anyhow::ensure!(failed == 0, "{failed} cases could not be written again");
        }
        "reset-password" => {
            admin.reset_password(one()?, &password()?, now).await?;
            println!("password of {} reset; it must choose a new one at sign-in", one()?);
        }
        other => anyhow::bail!("unknown command {other}"),
    }
    Ok(())
}

/// Other systems' Open311 keys, as `mailbox api-keys` in the embedded host.
async fn api_keys(store: &DynamoStore, args: &[String], now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
    use mailbox_app::open311::{ApiKeyAdmin, DEFAULT_PER_HOUR};
    let admin = ApiKeyAdmin { store };
    match args {
        [create, rest @ ..] if create == "create" => {
            let mut f = flags(rest)?;
            let name = f.remove("name").ok_or_else(|| anyhow::anyhow!("--name is required"))?;
            let per_hour = match f.remove("per-hour") {
                Some(n) => n.parse().map_err(|_| anyhow::anyhow!("--per-hour: a whole number"))?,
                None => DEFAULT_PER_HOUR,
            };
            if let Some(extra) = f.keys().next() {
                anyhow::bail!("unknown flag --{extra}");
            }
            let (key, secret) = admin.create(&name, per_hour, "cli", now).await?;
            println!("api key {} created for {} ({} requests an hour)", key.id, key.name, key.per_hour);
            println!("secret (shown once; give it to the system's operator): {secret}");
        }
        [list] if list == "list" => {
            for k in admin.list().await? {
                let state = k
                    .revoked_at
                    .map_or("active".to_owned(), |at| format!("revoked {}", at.format("%Y-%m-%d %H:%M UTC")));
                println!("{:<14} {:<24} {:>7}/h  {state}", k.id, k.name, k.per_hour);
            }
        }
        [revoke, id] if revoke == "revoke" => {
            let key = admin.revoke(id, "cli", now).await?;
            println!("api key {} ({}) revoked", key.id, key.name);
        }
        _ => anyhow::bail!("api-keys: create --name N [--per-hour N] | list | revoke ID"),
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args[0] == "--help" {
        eprintln!("{USAGE}");
        return ExitCode::from(if args.is_empty() { 2 } else { 0 });
    }
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailbox-aws-accounts: {e}");
            ExitCode::FAILURE
        }
    }
}
