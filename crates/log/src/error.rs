use std::io;

use crate::PartitionId;

/// Errors of the storage layer. The engine turns them into Kinesis errors in one place.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("partition {0} does not exist")]
    NoSuchPartition(PartitionId),
    #[error("partition {0} already exists")]
    PartitionExists(PartitionId),
    #[error("entry of {size} bytes is larger than the limit of {limit} bytes")]
    EntryTooLarge { size: usize, limit: usize },
    #[error("corrupt data in {what}: {detail}")]
    Corrupt { what: String, detail: String },
    #[error("storage is shut down")]
    Closed,
    /// The process ran out of file descriptors, even after closing cached segment files: a
    /// retry may well succeed once connections or files close.
    #[error("out of file descriptors")]
    OutOfFiles,
    #[error("storage I/O failed: {0}")]
    Io(#[from] io::Error),
    /// A write that did not happen (a full disk, say): unlike a failed fsync it leaves nothing
    /// in doubt, so the storage goes on taking writes once the cause is gone.
    #[error("storage write failed: {0}")]
    Unwritten(io::Error),
}

impl Clone for LogError {
    // Group commit hands one failure to many waiters, so errors must be cloneable.
    fn clone(&self) -> Self {
        match self {
            LogError::NoSuchPartition(p) => LogError::NoSuchPartition(*p),
            LogError::PartitionExists(p) => LogError::PartitionExists(*p),
            LogError::EntryTooLarge { size, limit } => LogError::EntryTooLarge {
                size: *size,
                limit: *limit,
            },
            LogError::Corrupt { what, detail } => LogError::Corrupt {
                what: what.clone(),
                detail: detail.clone(),
            },
            LogError::Closed => LogError::Closed,
            LogError::OutOfFiles => LogError::OutOfFiles,
            LogError::Io(e) => LogError::Io(io::Error::new(e.kind(), e.to_string())),
            LogError::Unwritten(e) => LogError::Unwritten(io::Error::new(e.kind(), e.to_string())),
        }
    }
}
