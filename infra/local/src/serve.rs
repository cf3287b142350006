//! `mailbox serve`: the whole system in one process — HTTP API, event relay, queue workers,
//! deadline scheduler — on one SQLite file.

use anyhow::{Context as _, Result};
use clap::Args;
use mailbox_app::accounts::{seed_demo_accounts, AccountStore, LocalAuth, DEMO_ACCOUNTS, DEMO_PASSWORD};
use mailbox_app::calendar::JOBS_QUEUE;
use mailbox_app::delivery::DeliveryStore;
use mailbox_app::events::{relay_outbox, rules, LocalBus};
use mailbox_app::http::extract::{client_behind, ServedOverHttps, SourceIp};
use mailbox_app::http::{router, AppState, SessionAuthenticator};
use mailbox_app::notify::Delivering;
use mailbox_app::ports::{AttemptStore, CaseStore, Clock, EventOutbox};
use mailbox_app::ports::{HandoffQueue, SystemClock};
use mailbox_app::service::{queue_names, NOTIFY_QUEUE, TRIAGE_QUEUE};
use mailbox_app::Adapters;
use mailbox_app::App;
use mailbox_domain::{Calendar, Organisation};
use mailbox_store_sqlite::{QueueConfig, SqliteStore};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    /// Folder of the database (created on first start).
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Seconds between deadline checks.
    #[arg(long, default_value_t = 60)]
    sweep_interval: u64,
    /// A reverse proxy in front of this server (an address or a network, e.g. 10.0.0.0/8;
    /// repeatable). Only for connections from these is the client's address taken from
    /// X-Forwarded-For — else every citizen would share the proxy's address in the limits.
    #[arg(long = "trusted-proxy", value_name = "CIDR", value_parser = parse_network)]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// The demo: the Guang'an organisation and its demo staff accounts (password printed at start),
    /// created when the database has no account yet. Never for a real city.
    #[arg(long, conflicts_with = "org")]
    demo: bool,
    /// The city's organisation file (TOML: jurisdictions, units, mailboxes, deadline policy; see
    /// shared/domain/config/guangan.toml). Without it, the Guang'an organisation.
    #[arg(long, value_name = "FILE")]
    org: Option<PathBuf>,
    /// Deliver notifications by e-mail through this SMTP server: smtp://HOST:PORT (plain),
    /// smtp://HOST:587?tls=required (STARTTLS), smtps://HOST:465; user:password@ before the host.
    #[arg(long, value_name = "URL")]
    smtp: Option<String>,
    /// The sender of those e-mails.
    #[arg(long, value_name = "ADDR", default_value = mailbox_notify::DEFAULT_MAIL_FROM)]
    mail_from: String,
    /// Deliver SMS through this SMS gateway's SendSms endpoint; SMS_KEY_ID and SMS_KEY_SECRET give
    /// its key, SMS_SIGN_NAME the registered signature (default 广安市长信箱), SMS_TEMPLATES the
    /// template codes the provider assigned (name=code,…).
    #[arg(long, value_name = "URL")]
    sms_gateway: Option<String>,
}

/// The organisation of `file`, or Guang'an's; an error names the file, the line and the field.
pub fn load_organisation(file: Option<&std::path::Path>) -> Result<Organisation> {
    mailbox_app::load_organisation(file).map_err(anyhow::Error::msg)
}

/// A network (`10.0.0.0/8`) or a single address (`10.0.0.2`).
fn parse_network(s: &str) -> Result<ipnet::IpNet, String> {
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{s}` is no address or network (e.g. 10.0.0.0/8)"))
}

/// Sets the client address of each request: the peer, or, from a trusted proxy, the client it
/// names in X-Forwarded-For (see `client_behind`).
async fn client_address(
    axum::extract::State(trusted): axum::extract::State<Arc<Vec<ipnet::IpNet>>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let peer = request.extensions().get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if let Some(peer) = peer {
        let forwarded: Vec<&str> =
            request.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
        let client = client_behind(peer, &forwarded, &trusted);
        request.extensions_mut().insert(SourceIp(client.to_string()));
        // A trusted proxy that terminated TLS says so; from anyone else the header is ignored.
        let proxied_https = trusted.iter().any(|net| net.contains(&peer))
            && request
                .headers()
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        if proxied_https {
            request.extensions_mut().insert(ServedOverHttps);
        }
    }
    next.run(request).await
}

/// The app on the database in `data_dir` (created if needed), with the stored holiday notices loaded.
pub async fn open_app(data_dir: &std::path::Path, org: Organisation) -> Result<(Arc<App>, Arc<SqliteStore>)> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let org = Arc::new(org);
    let db = data_dir.join("mailbox.db");
    let store = SqliteStore::open(&db, QueueConfig { queues: queue_names(&org), max_receives: 5 })
        .with_context(|| format!("cannot open {}", db.display()))?;
    let shared = Arc::new(store);
    let adapters = Adapters {
        store: shared.clone(),
        queue: shared.clone(),
        notifier: shared.clone(),
        clock: Arc::new(SystemClock),
        limits: shared.clone(),
        topics: shared.clone(),
        discussion: shared.clone(),
        desk: shared.clone(),
        api_keys: shared.clone(),
        attachments: Arc::new(
            mailbox_store_sqlite::FileAttachments::open(data_dir.join("attachments"))
                .with_context(|| format!("cannot create {}", data_dir.join("attachments").display()))?,
        ),
    };
    let app = Arc::new(App::new(org, Calendar::builtin().clone(), adapters));
    app.load_stored_notices().await?;
    Ok((app, shared))
}

pub async fn run(args: ServeArgs) -> Result<()> {
    let (app, shared) = open_app(&args.data_dir, load_organisation(args.org.as_deref())?).await?;
    let outside = app.references_outside_organisation().await?;
    if !outside.is_empty() {
        let list: Vec<String> = outside.iter().map(|(what, n)| format!("{what} ({n} open cases)")).collect();
        anyhow::bail!(
            "the organisation leaves out what open cases refer to: {}. Keep these in the organisation file \
             until their cases are closed (a renamed unit keeps its id and changes only its name); see docs/operations.md",
            list.join(", ")
        );
    }
    let channels = mailbox_notify::channels(args.smtp.as_deref(), &args.mail_from, args.sms_gateway.as_deref())
        .map_err(anyhow::Error::msg)?;
    let delivery = (channels.email.is_some(), channels.sms.is_some());
    app.set_delivery(Delivering { store: shared.clone(), accounts: shared.clone(), channels });
    let org = app.org.clone();
    let db = shared.path().to_path_buf();
    let seeded = args.demo && seed_demo_accounts(shared.as_ref()).await?;
    let no_accounts = shared.accounts().await?.is_empty();
    let clock = app.clock.clone();
    let local = Arc::new(LocalAuth { accounts: shared.clone(), limits: shared.clone() });
    let state = AppState {
        app: app.clone(),
        auth: Arc::new(SessionAuthenticator { local: local.clone(), clock }),
        local: Some(local),
        actions: None,
    };

    for queue in queue_names(&org) {
        tokio::spawn(queue_worker(app.clone(), shared.clone(), queue));
    }
    tokio::spawn(event_relay(
        shared.clone(),
        LocalBus { queue: shared.clone(), rules: rules(&org) },
        app.clock.clone(),
    ));
    tokio::spawn(scheduler(app.clone(), Duration::from_secs(args.sweep_interval.max(1))));
    tokio::spawn(housekeeping(shared.clone(), app.clock.clone()));
    tokio::spawn(republish(app.clone()));

    let listener =
        tokio::net::TcpListener::bind(&args.addr).await.with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    print_banner(addr, &db, seeded, no_accounts.then_some(args.data_dir.as_path()));
    print_delivery(delivery);
    let trusted = Arc::new(args.trusted_proxies.clone());
    let service = router(state)
        .layer(axum::middleware::from_fn_with_state(trusted, client_address))
        .into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service).with_graceful_shutdown(shutdown()).await?;
    Ok(())
}

fn print_banner(addr: SocketAddr, db: &std::path::Path, seeded: bool, without_accounts: Option<&std::path::Path>) {
    println!("市长信箱 listening on http://{addr}");
    println!("database: {}", db.display());
    if seeded {
        println!("demo staff accounts created (password for all: {DEMO_PASSWORD}):");
        for (username, name, role, _) in DEMO_ACCOUNTS {
            println!("  {username:<8} {name} ({})", role.label());
        }
        println!(
            "sign in: http://{addr}/console/login, or POST http://{addr}/api/v1/auth/login {{\"username\": \"xfj\", \"password\": \"{DEMO_PASSWORD}\"}}"
        );
    }
    if let Some(dir) = without_accounts {
        println!("no staff accounts yet. Create the first administrator (the password is read from standard input):");
        println!(
            "  mailbox accounts create --data-dir {} --username admin --name 系统管理员 --role admin",
            dir.display()
        );
        println!("then sign in at http://{addr}/console/login and create the other accounts there.");
    }
}

fn print_delivery((email, sms): (bool, bool)) {
    match (email, sms) {
        (false, false) => println!(
            "notifications: kept in the console's outbox only (no --smtp, no --sms-gateway): nobody is sent e-mail or SMS"
        ),
        (true, true) => println!("notifications: e-mail and SMS (failed sends are retried; dead ones in 系统管理)"),
        (true, false) => println!("notifications: e-mail (no --sms-gateway: no SMS)"),
        (false, true) => println!("notifications: SMS (no --smtp: no e-mail)"),
    }
}

/// Masks again the published texts of older masking rules (and, after an upgrade, those published
/// before texts were masked at publication), in the background: until then they are not listed.
async fn republish(app: Arc<App>) {
    let mut total = 0;
    loop {
        match app.republish_stale(mailbox_app::calendar::REPUBLISH_CHUNK).await {
            Ok(done) => {
                total += done.written;
                if !done.more(mailbox_app::calendar::REPUBLISH_CHUNK) {
                    break;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "published texts not masked again");
                return;
            }
        }
    }
    if total > 0 {
        tracing::info!(total, "published texts masked with the current rules");
    }
}

/// Consumes one queue with the same handler the AWS function uses (`triage` for the triage queue,
/// `handoff` for a jurisdiction's). A message that fails stays in the queue and is retried after its
/// visibility timeout; after five receives it moves to the dead-letter state.
async fn queue_worker(app: Arc<App>, queue: Arc<SqliteStore>, name: String) {
    loop {
        let batch = match queue.receive(&name, 10, Duration::from_secs(30)).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(queue = %name, error = %e, "cannot receive");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        for message in batch {
            let result = match name.as_str() {
                TRIAGE_QUEUE => app.take_triage(&message.body).await.map(|()| "triaged".to_owned()),
                NOTIFY_QUEUE => app.take_notify(&message.body).await.map(|()| "notified".to_owned()),
                JOBS_QUEUE => app.take_job(&message.body).await.map(|o| format!("{o:?}")),
                _ => app.take_handoff(&message.body).await.map(|o| format!("{o:?}")),
            };
            match result {
                Ok(outcome) => {
                    tracing::info!(queue = %name, id = %message.id, %outcome, "message taken in");
                    if let Err(e) = queue.delete(&name, &message.receipt).await {
                        tracing::error!(queue = %name, error = %e, "cannot delete message");
                    }
                }
                Err(e) => {
                    tracing::warn!(queue = %name, id = %message.id, receives = message.receive_count, error = %e, "message failed; will retry")
                }
            }
        }
    }
}

/// Publishes the domain events of the outbox on the embedded bus — into the queues its rules name —
/// as the table's stream and the `relay` function do on AWS. Events of a change stay in the outbox
/// until published, so a process stopped right after a commit publishes them when it starts again.
async fn event_relay(outbox: Arc<SqliteStore>, bus: LocalBus, clock: Arc<dyn Clock>) {
    loop {
        match relay_outbox(outbox.as_ref(), &bus, clock.now()).await {
            // A full page may have more behind it.
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "event relay failed; will retry"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Calls the deadline check and the due deliveries' retries periodically, and the daily digest once
/// a day from 09:00 China time, as the two EventBridge schedules do on AWS. Both handlers are idempotent, so a restart that
/// runs them again changes nothing.
async fn scheduler(app: Arc<App>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    let mut digest_done: Option<chrono::NaiveDate> = None;
    loop {
        ticks.tick().await;
        match app.deadline_sweep().await {
            Ok(report) if report.examined > 0 => tracing::info!(?report, "deadline sweep"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "deadline sweep failed"),
        }
        match app.retry_deliveries().await {
            Ok(report) if report != Default::default() => tracing::info!(?report, "deliveries retried"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "delivery retries failed"),
        }
        let local = app.now().with_timezone(&mailbox_domain::deadline::cst());
        let today = local.date_naive();
        if chrono::Timelike::hour(&local) >= 9 && digest_done != Some(today) {
            match app.daily_digest().await {
                Ok(report) => {
                    tracing::info!(?report, "daily digest");
                    digest_done = Some(today);
                }
                Err(e) => tracing::error!(error = %e, "daily digest failed"),
            }
        }
    }
}

/// Removes expired sessions, attempt counts, idempotency records and notifications once an hour (on AWS,
/// DynamoDB's TTL does this).
async fn housekeeping(store: Arc<SqliteStore>, clock: Arc<dyn Clock>) {
    let mut ticks = tokio::time::interval(Duration::from_secs(3600));
    loop {
        ticks.tick().await;
        let now = clock.now();
        let results = [
            ("sessions", store.purge_sessions(now).await),
            ("attempt counts", store.purge_expired(now).await),
            ("idempotency records", store.purge_idempotency(now).await),
            ("notifications", store.purge_notifications(now).await),
            ("published events", store.purge_published(now).await),
            ("deliveries", store.purge_deliveries(now).await),
        ];
        for (what, result) in results {
            match result {
                Ok(0) => {}
                Ok(removed) => tracing::info!(what, removed, "expired rows removed"),
                Err(e) => tracing::warn!(what, error = %e, "housekeeping failed"),
            }
        }
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
