use shardline_log::LogError;
use shardline_wire::{ApiError, ErrorCode, Operation};

/// Errors of the engine: a Kinesis error decided here, or a storage failure below.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Kinesis(#[from] ApiError),
    #[error("storage: {0}")]
    Storage(#[from] LogError),
    #[error("metadata: {0}")]
    Metadata(String),
    /// A stored entry whose payload is not a record the engine wrote (or does not decrypt).
    #[error("record {offset} of partition {partition}: {detail}")]
    UnreadableRecord {
        partition: u64,
        offset: u64,
        detail: &'static str,
    },
}

impl EngineError {
    /// The error the client sees. Failures below the engine become InternalFailure; this is
    /// the one place where that happens, and where they are logged.
    pub fn into_api_error(self) -> ApiError {
        self.into_api_error_for(None)
    }

    /// [`EngineError::into_api_error`] for a call of `operation`: a server short of file
    /// descriptors answers the throttling error of that operation, which SDKs retry (the
    /// data path's ProvisionedThroughputExceededException, else LimitExceededException).
    pub fn into_api_error_for(self, operation: impl Into<Option<Operation>>) -> ApiError {
        match self {
            EngineError::Kinesis(e) => e,
            EngineError::Storage(LogError::OutOfFiles) => {
                tracing::warn!("a request found the server out of file descriptors");
                let code = match operation.into() {
                    Some(
                        Operation::PutRecord
                        | Operation::PutRecords
                        | Operation::GetRecords
                        | Operation::GetShardIterator
                        | Operation::SubscribeToShard,
                    ) => ErrorCode::ProvisionedThroughputExceeded,
                    _ => ErrorCode::LimitExceeded,
                };
                ApiError::new(code, OUT_OF_FILES)
            }
            other => {
                tracing::error!(error = %other, "request failed inside shardline");
                ApiError::internal()
            }
        }
    }
}

/// What a client is told when the server is short of file descriptors.
pub const OUT_OF_FILES: &str =
    "The server is short of file descriptors right now; retry the request.";

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
