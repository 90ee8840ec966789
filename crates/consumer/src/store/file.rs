//! Leases in a local JSON file, for one consumer process that needs nothing else: the memory
//! store, written out (to a temporary file, then renamed over the old one) after every change.
//! Two processes must not share one file; a DynamoDB table is for that.

use std::path::{Path, PathBuf};

use super::{Conditional, LeaseStore, MemoryStore, StoreError};
use crate::lease::{Checkpoint, Lease};

pub struct FileStore {
    path: PathBuf,
    memory: MemoryStore,
    /// Serialises writes of the file.
    write: tokio::sync::Mutex<()>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct FileContents {
    leases: Vec<Lease>,
}

impl FileStore {
    /// Opens (or starts) the lease file at `path`.
    ///
    /// # Errors
    /// The file exists but cannot be read or is not a lease file.
    pub fn open(path: impl AsRef<Path>) -> Result<FileStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let leases = match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice::<FileContents>(&bytes)
                    .map_err(|e| StoreError(format!("{}: not a lease file: {e}", path.display())))?
                    .leases
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(StoreError(format!("{}: {e}", path.display()))),
        };
        Ok(FileStore {
            path,
            memory: MemoryStore::with(leases),
            write: tokio::sync::Mutex::new(()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn save(&self) -> Result<(), StoreError> {
        let _guard = self.write.lock().await;
        let contents = FileContents {
            leases: self.memory.snapshot(),
        };
        let bytes = serde_json::to_vec_pretty(&contents).map_err(|e| StoreError(e.to_string()))?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, &bytes)?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &path)
        })
        .await
        .map_err(|e| StoreError(e.to_string()))?
        .map_err(|e| StoreError(format!("{}: {e}", self.path.display())))
    }

    async fn saved(&self, done: bool) -> Conditional {
        if done {
            self.save().await?;
        }
        Ok(done)
    }
}

impl LeaseStore for FileStore {
    async fn prepare(&self) -> Result<(), StoreError> {
        self.save().await
    }
    async fn list(&self) -> Result<Vec<Lease>, StoreError> {
        Ok(self.memory.snapshot())
    }
    async fn get(&self, key: &str) -> Result<Option<Lease>, StoreError> {
        Ok(self.memory.get_now(key))
    }
    async fn create_if_absent(&self, lease: &Lease) -> Conditional {
        self.saved(self.memory.create_now(lease)).await
    }
    async fn renew(&self, key: &str, counter: u64) -> Conditional {
        // Nobody else reads the file while this process runs: liveness need not be written.
        Ok(self.memory.renew_now(key, counter))
    }
    async fn take(&self, key: &str, counter: u64, owner: &str, switch: bool) -> Conditional {
        self.saved(self.memory.take_now(key, counter, owner, switch))
            .await
    }
    async fn release(&self, key: &str, counter: u64) -> Conditional {
        self.saved(self.memory.release_now(key, counter)).await
    }
    async fn checkpoint(&self, key: &str, counter: u64, checkpoint: &Checkpoint) -> Conditional {
        self.saved(self.memory.checkpoint_now(key, counter, checkpoint))
            .await
    }
    async fn set_children(&self, key: &str, children: &[String]) -> Conditional {
        self.saved(self.memory.set_children_now(key, children))
            .await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.memory.delete_now(key);
        self.save().await
    }
}
