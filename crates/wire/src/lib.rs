//! The Kinesis Data Streams wire: which operations exist, the shapes of their requests and
//! responses, the AWS error model, the JSON 1.1 and AWS CBOR 1.1 codecs, and the model's
//! member constraints.
//!
//! This crate does no I/O, so a client can use it as well as the server. Shapes are plain
//! serde types; a codec (JSON 1.1 or AWS CBOR 1.1) turns bytes into shapes and back. Blobs and
//! timestamps carry their own encodings so every codec can share the shapes.

pub mod aggregation;
mod blob;
pub mod cbor;
mod channel_shapes;
mod codec;
pub mod constraints;
pub mod error;
pub mod eventstream;
pub mod json;
mod json_put_records;
mod json_records;
mod maps_only;
mod operation;
mod queue_shapes;
pub mod shapes;
pub mod sigv4;
mod timestamp;
pub mod validate;

pub use blob::Blob;
pub use bytestring::ByteString;
pub use codec::Codec;
pub use constraints::Validate;
pub use error::{ApiError, ErrorCode};
pub use operation::Operation;
pub use shapes::{SequenceText, ShardIdText};
pub use timestamp::Timestamp;

/// Prefix of the `X-Amz-Target` header for every Kinesis operation.
pub const TARGET_PREFIX: &str = "Kinesis_20131202.";
