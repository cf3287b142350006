//! The embedded host's attachment files: content-addressed under `<data>/attachments/ab/cdef…`
//! (the SHA-256 of the bytes, split after two digits so no folder grows too large). A file is
//! written to a temporary name, flushed to disk and renamed into place, so a crash never leaves a
//! half-written file under a real id. Files are never changed or removed by the application.

use async_trait::async_trait;
use mailbox_app::attachments::AttachmentStore;
use mailbox_app::ports::{StoreError, StoreResult};
use mailbox_domain::case::{Attachment, AttachmentKind};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct FileAttachments {
    dir: PathBuf,
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("attachment files: {e}"))
}

impl FileAttachments {
    /// The folder `dir` (created when missing).
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<FileAttachments> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(FileAttachments { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of a valid id; an id that is not one never becomes a path.
    fn path(&self, id: &str) -> StoreResult<PathBuf> {
        if !Attachment::valid_id(id) {
            return Err(StoreError::Corrupt("not an attachment id".into()));
        }
        Ok(self.dir.join(&id[..2]).join(&id[2..]))
    }
}

fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let folder = path.parent().expect("an attachment path has a folder");
    std::fs::create_dir_all(folder)?;
    let mut tmp = tempfile::NamedTempFile::new_in(folder)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The rename itself reaches the disk with the folder.
    std::fs::File::open(folder)?.sync_all()
}

#[async_trait]
impl AttachmentStore for FileAttachments {
    async fn share_export(&self, _file: &std::fs::File, _name: &str, _type: &str) -> StoreResult<Option<String>> {
        // One process serves the file itself, streaming it.
        Ok(None)
    }

    async fn put(&self, id: &str, _kind: AttachmentKind, bytes: Vec<u8>) -> StoreResult<()> {
        let path = self.path(id)?;
        tokio::task::spawn_blocking(move || write_new(&path, &bytes))
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
            .map_err(io)
    }

    async fn get(&self, id: &str) -> StoreResult<Option<Vec<u8>>> {
        let path = self.path(id)?;
        tokio::task::spawn_blocking(move || match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }

    /// None: the host serves the files itself.
    async fn link(&self, id: &str, _kind: AttachmentKind, _file_name: &str) -> StoreResult<Option<String>> {
        self.path(id).map(|_| None)
    }
}
