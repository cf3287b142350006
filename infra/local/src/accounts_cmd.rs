//! `mailbox accounts`: staff accounts of the embedded deployment, with the same operations (and
//! rules) as the console's administration page. Passwords are read from standard input (the first
//! line) or, on a terminal, from a prompt that does not echo — never from the command line, where
//! they would stay in the shell's history and in the process list.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use mailbox_app::accounts::{AccountAdmin, AccountStore, NewAccount};
use mailbox_domain::{Role, UnitId};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

#[derive(Args)]
pub struct AccountsArgs {
    #[command(subcommand)]
    which: AccountsCommand,
    /// Folder of the database.
    #[arg(long, default_value = "data", global = true)]
    data_dir: PathBuf,
    /// The organisation file the server runs with (`serve --org`); Guang'an's without it.
    #[arg(long, value_name = "FILE", global = true)]
    org: Option<PathBuf>,
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// Creates an account; its password is read from standard input.
    Create {
        #[arg(long)]
        username: String,
        /// The person's name as staff see it.
        #[arg(long)]
        name: String,
        /// admin, dispatcher, handler or supervisor.
        #[arg(long)]
        role: String,
        /// The unit's id in the organisation file (all roles but admin).
        #[arg(long)]
        unit: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        email: Option<String>,
    },
    /// Lists the accounts (never their passwords).
    List,
    /// Disables an account: it cannot sign in, and its sessions end at once.
    Disable { username: String },
    /// Enables a disabled account again.
    Enable { username: String },
    /// Sets a new password (read from standard input); its sessions end, and its next sign-in must
    /// choose a new password first.
    ResetPassword { username: String },
}

/// The password: a prompt on a terminal (twice, not echoed), else the first line of standard input.
fn read_password() -> Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("password again: ")?;
        if first != again {
            bail!("the two passwords differ");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input (give it as the first line, e.g. from a password manager)");
    }
    Ok(password)
}

fn role(name: &str) -> Result<Role> {
    match serde_json::from_value::<Role>(serde_json::Value::String(name.to_owned())) {
        Ok(r) if !matches!(r, Role::Citizen | Role::System) => Ok(r),
        _ => bail!("unknown role `{name}`: admin, dispatcher, handler or supervisor"),
    }
}

pub fn run(args: AccountsArgs) -> Result<()> {
    if !args.data_dir.join("mailbox.db").exists() && !matches!(args.which, AccountsCommand::Create { .. }) {
        bail!("no database in {}", args.data_dir.display());
    }
    let org = crate::serve::load_organisation(args.org.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let (app, store) = crate::serve::open_app(&args.data_dir, org).await?;
        let admin = AccountAdmin { store: store.as_ref(), org: &app.org };
        let now = chrono::Utc::now();
        match args.which {
            AccountsCommand::Create { username, name, role: r, unit, phone, email } => {
                let new = NewAccount {
                    username,
                    display_name: name,
                    role: role(&r)?,
                    unit: unit.map(UnitId::new),
                    phone,
                    email,
                    oidc_subject: None,
                    must_change_password: false,
                };
                let password = read_password()?;
                let a = admin.create(new, &password).await?;
                println!("account {} created ({}, {})", a.username, a.display_name, a.role.label());
            }
            AccountsCommand::List => {
                for a in store.accounts().await? {
                    let unit = a.unit.as_ref().and_then(|u| app.org.unit(u)).map_or("", |u| u.name.as_str());
                    let state = match (a.disabled, a.must_change_password) {
                        (true, _) => "disabled",
                        (false, true) => "must change password",
                        (false, false) => "active",
                    };
                    println!("{:<16} {:<12} {:<10} {:<24} {state}", a.username, a.display_name, a.role.label(), unit);
                }
            }
            AccountsCommand::Disable { username } => {
                admin.set_disabled(&username, true, now).await?;
                println!("account {username} disabled; its sessions have ended");
            }
            AccountsCommand::Enable { username } => {
                admin.set_disabled(&username, false, now).await?;
                println!("account {username} enabled");
            }
            AccountsCommand::ResetPassword { username } => {
                let password = read_password()?;
                admin.reset_password(&username, &password, now).await?;
                println!(
                    "password of {username} reset; its sessions have ended, and it must choose a new one at sign-in"
                );
            }
        }
        anyhow::Ok(())
    })
}
