//! Online backup and restore of the embedded deployment's one database file.
//!
//! A backup is `VACUUM INTO` a new file from a read-only connection: one read transaction, so the
//! copy is the database as it was at one commit, while the server goes on writing (WAL readers do
//! not block the writer, and the writer does not block them). The copy is written under a
//! temporary name, checked (`PRAGMA integrity_check`), and only then renamed into place, so a
//! backup file that exists is whole.

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};

/// The database file's name inside a data folder.
pub const DATABASE_FILE: &str = "mailbox.db";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("no database at {0}")]
    NoDatabase(PathBuf),
    #[error("{0} already exists; choose a new file name")]
    TargetExists(PathBuf),
    #[error("{0} is not empty (it holds {1}); restore into an empty folder, or pass --force to replace it")]
    FolderNotEmpty(PathBuf, String),
    #[error("{0} is not a mailbox backup: {1}")]
    NotABackup(PathBuf, String),
    #[error("the copy failed its integrity check: {0}")]
    Damaged(String),
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What a backup or restore wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub bytes: u64,
    pub cases: i64,
    pub schema_version: i64,
}

fn temporary(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".partial-{}", std::process::id()));
    path.with_file_name(name)
}

/// Checks a database file: whole, and a mailbox database (it has the schema's tables).
fn check(path: &Path) -> Result<BackupSummary, BackupError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| BackupError::NotABackup(path.to_owned(), e.to_string()))?;
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| BackupError::NotABackup(path.to_owned(), e.to_string()))?;
    if integrity != "ok" {
        return Err(BackupError::Damaged(integrity));
    }
    let schema_version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let cases: i64 = conn
        .query_row("SELECT count(*) FROM cases", [], |r| r.get(0))
        .map_err(|_| BackupError::NotABackup(path.to_owned(), "it has no cases table".into()))?;
    if schema_version < 1 {
        return Err(BackupError::NotABackup(path.to_owned(), "it has no mailbox schema".into()));
    }
    Ok(BackupSummary { bytes: std::fs::metadata(path)?.len(), cases, schema_version })
}

/// Copies the database of `data_dir` to the new file `to` while the server may be writing to it.
pub fn backup(data_dir: &Path, to: &Path) -> Result<BackupSummary, BackupError> {
    let source = data_dir.join(DATABASE_FILE);
    if !source.is_file() {
        return Err(BackupError::NoDatabase(source));
    }
    if to.exists() {
        return Err(BackupError::TargetExists(to.to_owned()));
    }
    let partial = temporary(to);
    let _ = std::fs::remove_file(&partial);
    let result = (|| {
        let conn = Connection::open_with_flags(&source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let target = partial.to_str().ok_or_else(|| {
            BackupError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "the backup path is not UTF-8"))
        })?;
        conn.execute("VACUUM INTO ?1", [target])?;
        drop(conn);
        std::fs::File::open(&partial)?.sync_all()?;
        let summary = check(&partial)?;
        // Not over a file made meanwhile: hard-link then remove, which fails if `to` exists.
        std::fs::hard_link(&partial, to).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => BackupError::TargetExists(to.to_owned()),
            _ => BackupError::Io(e),
        })?;
        Ok(summary)
    })();
    let _ = std::fs::remove_file(&partial);
    result
}

/// Puts the backup `from` in place as the database of `data_dir`. Refuses a folder that already
/// holds anything unless `force` (then its database and WAL files are replaced; the server must be
/// stopped). The backup is checked first, so a damaged file never replaces a database.
pub fn restore(from: &Path, data_dir: &Path, force: bool) -> Result<BackupSummary, BackupError> {
    if !from.is_file() {
        return Err(BackupError::NotABackup(from.to_owned(), "no such file".into()));
    }
    check(from)?;
    std::fs::create_dir_all(data_dir)?;
    let present: Vec<String> = std::fs::read_dir(data_dir)?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    if !present.is_empty() && !force {
        return Err(BackupError::FolderNotEmpty(data_dir.to_owned(), present.join(", ")));
    }
    let target = data_dir.join(DATABASE_FILE);
    let partial = temporary(&target);
    std::fs::copy(from, &partial)?;
    std::fs::File::open(&partial)?.sync_all()?;
    // The old database's WAL must not be replayed over the restored file.
    for suffix in ["-wal", "-shm"] {
        let stale = data_dir.join(format!("{DATABASE_FILE}{suffix}"));
        if stale.exists() {
            std::fs::remove_file(stale)?;
        }
    }
    std::fs::rename(&partial, &target)?;
    check(&target)
}
