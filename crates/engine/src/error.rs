use shardline_log::LogError;
use shardline_wire::ApiError;

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
        match self {
            EngineError::Kinesis(e) => e,
            other => {
                tracing::error!(error = %other, "request failed inside shardline");
                ApiError::internal()
            }
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
