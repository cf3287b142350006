//! A moto server (the local AWS emulator, PyPI `moto[server]`) for the tests, started once per test
//! binary on a free loopback port and killed with it, through `scripts/moto-atomic.py` (DynamoDB
//! requests one at a time, so that conditional writes are atomic as on DynamoDB).

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The workspace's root: this crate is shared/conformance, two levels below it.
fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The virtual environment's Python, which has moto (`MOTO_PYTHON` overrides).
fn python() -> PathBuf {
    let path =
        std::env::var_os("MOTO_PYTHON").map(PathBuf::from).unwrap_or_else(|| workspace().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "{} is missing: scripts/test installs it (pip install -r scripts/requirements.txt)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The endpoint URL of the shared moto server.
pub fn moto() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        // The server is started from a thread that lives as long as the test process: the child
        // gets SIGKILL when its parent thread dies (PR_SET_PDEATHSIG), so no emulator outlives us.
        std::thread::spawn(move || {
            let port = free_port();
            // moto's server with DynamoDB requests made atomic, as DynamoDB's are (see the script).
            let mut cmd = Command::new(python());
            cmd.arg(workspace().join("scripts/moto-atomic.py"))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let mut child = cmd.spawn().expect("moto_server starts");
            let stderr = child.stderr.take().unwrap();
            std::thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
            let url = format!("http://127.0.0.1:{port}");
            for _ in 0..200 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            tx.send(url).unwrap();
            let _ = child.wait();
        });
        rx.recv_timeout(Duration::from_secs(30)).expect("moto_server listening")
    })
}

pub fn unique(label: &str) -> String {
    format!("{label}-{}", hex::encode(rand::random::<[u8; 5]>()))
}
