//! `mailbox api-keys`: other systems' keys for Open311 (`/open311/v2/`), with the same operations
//! and rules as the console's administration page. A key's secret is printed once, at creation;
//! the database keeps only its digest.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use mailbox_app::open311::{ApiKeyAdmin, DEFAULT_PER_HOUR};
use std::path::PathBuf;

#[derive(Args)]
pub struct ApiKeysArgs {
    #[command(subcommand)]
    which: ApiKeysCommand,
    /// Folder of the database.
    #[arg(long, default_value = "data", global = true)]
    data_dir: PathBuf,
}

#[derive(Subcommand)]
enum ApiKeysCommand {
    /// Creates a key and prints its secret (shown this once).
    Create {
        /// Who holds it, e.g. 12345热线工单系统.
        #[arg(long)]
        name: String,
        /// Service requests it may post per hour.
        #[arg(long, default_value_t = DEFAULT_PER_HOUR)]
        per_hour: u32,
    },
    /// Lists the keys (never their secrets).
    List,
    /// Revokes a key by its id (`k…`): refused from now on, on every instance.
    Revoke { id: String },
}

pub fn run(args: ApiKeysArgs) -> Result<()> {
    if !args.data_dir.join("mailbox.db").exists() {
        bail!("no database in {}", args.data_dir.display());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let (_app, store) = crate::serve::open_app(&args.data_dir, mailbox_domain::Organisation::guangan()).await?;
        let admin = ApiKeyAdmin { store: store.as_ref() };
        let now = chrono::Utc::now();
        match args.which {
            ApiKeysCommand::Create { name, per_hour } => {
                let (key, secret) = admin.create(&name, per_hour, "cli", now).await?;
                println!("api key {} created for {} ({} requests an hour)", key.id, key.name, key.per_hour);
                println!("secret (shown once; give it to the system's operator): {secret}");
            }
            ApiKeysCommand::List => {
                for k in admin.list().await? {
                    let state = match k.revoked_at {
                        Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M UTC")),
                        None => "active".to_owned(),
                    };
                    println!(
                        "{:<14} {:<24} {:>7}/h  created {}  {state}",
                        k.id,
                        k.name,
                        k.per_hour,
                        k.created_at.format("%Y-%m-%d")
                    );
                }
            }
            ApiKeysCommand::Revoke { id } => {
                let key = admin.revoke(&id, "cli", now).await?;
                println!("api key {} ({}) revoked", key.id, key.name);
            }
        }
        anyhow::Ok(())
    })
}
