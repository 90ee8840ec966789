//! The AWS error model: an error type name, an HTTP status, and a message.

use std::fmt;

/// Error types a Kinesis endpoint answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    AccessDenied,
    DryRunOperation,
    ExpiredIterator,
    ExpiredNextToken,
    InternalFailure,
    InvalidArgument,
    KmsAccessDenied,
    KmsDisabled,
    KmsInvalidState,
    KmsNotFound,
    KmsOptInRequired,
    KmsThrottling,
    LimitExceeded,
    ProvisionedThroughputExceeded,
    ResourceInUse,
    ResourceNotFound,
    Validation,
    // Protocol-level errors, raised before an operation runs.
    Serialization,
    UnknownOperation,
    MissingAuthenticationToken,
    IncompleteSignature,
    InvalidSignature,
    UnrecognizedClient,
}

impl ErrorCode {
    /// The `__type` value (bare shape name, as AWS sends for JSON 1.1 services).
    pub fn type_name(self) -> &'static str {
        match self {
            ErrorCode::AccessDenied => "AccessDeniedException",
            ErrorCode::DryRunOperation => "DryRunOperationException",
            ErrorCode::ExpiredIterator => "ExpiredIteratorException",
            ErrorCode::ExpiredNextToken => "ExpiredNextTokenException",
            ErrorCode::InternalFailure => "InternalFailureException",
            ErrorCode::InvalidArgument => "InvalidArgumentException",
            ErrorCode::KmsAccessDenied => "KMSAccessDeniedException",
            ErrorCode::KmsDisabled => "KMSDisabledException",
            ErrorCode::KmsInvalidState => "KMSInvalidStateException",
            ErrorCode::KmsNotFound => "KMSNotFoundException",
            ErrorCode::KmsOptInRequired => "KMSOptInRequired",
            ErrorCode::KmsThrottling => "KMSThrottlingException",
            ErrorCode::LimitExceeded => "LimitExceededException",
            ErrorCode::ProvisionedThroughputExceeded => "ProvisionedThroughputExceededException",
            ErrorCode::ResourceInUse => "ResourceInUseException",
            ErrorCode::ResourceNotFound => "ResourceNotFoundException",
            ErrorCode::Validation => "ValidationException",
            ErrorCode::Serialization => "SerializationException",
            ErrorCode::UnknownOperation => "UnknownOperationException",
            ErrorCode::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ErrorCode::IncompleteSignature => "IncompleteSignatureException",
            ErrorCode::InvalidSignature => "InvalidSignatureException",
            ErrorCode::UnrecognizedClient => "UnrecognizedClientException",
        }
    }

    /// The code whose `__type` is `name` (also accepting AWS's short `InternalFailure`).
    pub fn from_type_name(name: &str) -> Option<ErrorCode> {
        const ALL: [ErrorCode; 23] = [
            ErrorCode::AccessDenied,
            ErrorCode::DryRunOperation,
            ErrorCode::ExpiredIterator,
            ErrorCode::ExpiredNextToken,
            ErrorCode::InternalFailure,
            ErrorCode::InvalidArgument,
            ErrorCode::KmsAccessDenied,
            ErrorCode::KmsDisabled,
            ErrorCode::KmsInvalidState,
            ErrorCode::KmsNotFound,
            ErrorCode::KmsOptInRequired,
            ErrorCode::KmsThrottling,
            ErrorCode::LimitExceeded,
            ErrorCode::ProvisionedThroughputExceeded,
            ErrorCode::ResourceInUse,
            ErrorCode::ResourceNotFound,
            ErrorCode::Validation,
            ErrorCode::Serialization,
            ErrorCode::UnknownOperation,
            ErrorCode::MissingAuthenticationToken,
            ErrorCode::IncompleteSignature,
            ErrorCode::InvalidSignature,
            ErrorCode::UnrecognizedClient,
        ];
        if name == "InternalFailure" {
            return Some(ErrorCode::InternalFailure);
        }
        ALL.into_iter().find(|c| c.type_name() == name)
    }

    /// HTTP status: every client error is 400; only InternalFailure (a model `fault`) is 500.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InternalFailure => 500,
            _ => 400,
        }
    }
}

/// An error as the client sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: Some(message.into()),
        }
    }

    /// What a call with `DryRun` set answers once every check passed.
    pub fn dry_run() -> Self {
        Self::new(
            ErrorCode::DryRunOperation,
            "The request was rejected because the DryRun parameter was specified.",
        )
    }

    pub fn bare(code: ErrorCode) -> Self {
        ApiError {
            code,
            message: None,
        }
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }

    pub fn resource_not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceNotFound, message)
    }

    pub fn resource_in_use(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceInUse, message)
    }

    pub fn internal() -> Self {
        Self::new(ErrorCode::InternalFailure, "Internal service failure.")
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => write!(f, "{}: {m}", self.code.type_name()),
            None => f.write_str(self.code.type_name()),
        }
    }
}

impl std::error::Error for ApiError {}
