//! The delivery providers of the tests, real servers on loopback started from the virtual
//! environment: an SMTP server (`scripts/smtp-sink.py`, aiosmtpd) and an SMS gateway stand-in
//! (`scripts/sms-gateway-standin.py`) that checks each request's signature as the provider documents
//! it. Each records what it accepted as JSON lines; both are killed when dropped.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The SMS gateway stand-in's credentials and signature, as the tests configure the adapter.
pub const SMS_KEY_ID: &str = "test-key-id";
pub const SMS_SECRET: &str = "test-key-secret";
pub const SMS_SIGN_NAME: &str = "广安市长信箱";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A started helper server and the file it records to.
pub struct Standin {
    child: Child,
    pub port: u16,
    pub out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Standin {
    fn start(script: &str, args: &[String]) -> Standin {
        let dir = tempfile::Builder::new().prefix("mailbox-standin-").tempdir().unwrap();
        let out = dir.path().join("received.jsonl");
        let port = free_port();
        let mut cmd = Command::new(workspace().join(".venv/bin/python"));
        cmd.arg(workspace().join("scripts").join(script))
            .args(["--port", &port.to_string(), "--out", out.to_str().unwrap()])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{script} starts (scripts/test installs .venv): {e}"));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        assert_eq!(first, "listening", "{script} did not start");
        std::thread::spawn(move || for _ in lines {});
        Standin { child, port, out, _dir: dir }
    }

    /// An SMTP server; the first `fail_first` messages get a temporary failure (451).
    pub fn smtp(fail_first: u32) -> Standin {
        Standin::start("smtp-sink.py", &["--fail-first".into(), fail_first.to_string()])
    }

    /// An SMTP server that refuses every message for good (550).
    pub fn smtp_refusing() -> Standin {
        Standin::start("smtp-sink.py", &["--refuse".into()])
    }

    /// The SMS gateway stand-in knowing the default template codes; the first `fail_first` valid
    /// requests get the provider's temporary error.
    pub fn sms(fail_first: u32) -> Standin {
        let templates: Vec<&str> = mailbox_app::delivery::SmsTemplate::ALL.iter().map(|t| t.default_code()).collect();
        let args = [
            "--key-id",
            SMS_KEY_ID,
            "--secret",
            SMS_SECRET,
            "--sign-name",
            SMS_SIGN_NAME,
            "--templates",
            &templates.join(","),
            "--fail-first",
            &fail_first.to_string(),
        ];
        Standin::start("sms-gateway-standin.py", &args.map(str::to_owned))
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// What it accepted so far, oldest first.
    pub fn received(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
