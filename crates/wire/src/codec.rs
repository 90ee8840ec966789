//! Choosing the body format by `Content-Type`: JSON 1.1 or AWS-CBOR 1.1. A response uses
//! the request's format, errors included.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::shapes::{GetRecordsOutput, PutRecordsInput, PutRecordsOutput};
use crate::{cbor, json, json_put_records, json_records, ApiError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Json,
    Cbor,
}

impl Codec {
    /// The codec for a `Content-Type` value (parameters after `;` ignored); `None` if neither.
    pub fn for_content_type(content_type: &str) -> Option<Codec> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            json::CONTENT_TYPE => Some(Codec::Json),
            cbor::CONTENT_TYPE => Some(Codec::Cbor),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Codec::Json => json::CONTENT_TYPE,
            Codec::Cbor => cbor::CONTENT_TYPE,
        }
    }

    /// Whether `body` is one well-formed object (map) of this format, whatever it holds: what
    /// AWS checks before it looks at the target or the signature.
    pub fn is_object(self, body: &[u8]) -> bool {
        match self {
            Codec::Json => {
                body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
                    && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
            }
            Codec::Cbor => matches!(
                ciborium::from_reader::<ciborium::Value, _>(body),
                Ok(ciborium::Value::Map(_))
            ),
        }
    }

    /// # Errors
    /// `SerializationException` for a body that is not a valid instance of the shape.
    pub fn decode<T: DeserializeOwned>(self, body: &[u8]) -> Result<T, ApiError> {
        match self {
            Codec::Json => json::decode(body),
            Codec::Cbor => cbor::decode(body),
        }
    }

    /// [`Codec::decode`] for PutRecords, whose JSON bodies usually take a fast path (see
    /// `json_put_records.rs`).
    ///
    /// # Errors
    /// As [`Codec::decode`].
    pub fn decode_put_records(self, body: &[u8]) -> Result<PutRecordsInput, ApiError> {
        match self {
            Codec::Json => json_put_records::parse(body).map_or_else(|| json::decode(body), Ok),
            Codec::Cbor => cbor::decode(body),
        }
    }

    pub fn encode<T: Serialize>(self, value: &T) -> Vec<u8> {
        match self {
            Codec::Json => json::encode(value),
            Codec::Cbor => cbor::encode(value),
        }
    }

    /// [`Codec::encode`] for the answer that carries the most records (see `json_records.rs`).
    pub fn encode_get_records(self, out: &GetRecordsOutput) -> Vec<u8> {
        match self {
            Codec::Json => json_records::encode_get_records(out),
            Codec::Cbor => cbor::encode(out),
        }
    }

    /// [`Codec::encode`] for PutRecords answers (see `json_records.rs`).
    pub fn encode_put_records(self, out: &PutRecordsOutput) -> Vec<u8> {
        match self {
            Codec::Json => json_records::encode_put_records(out),
            Codec::Cbor => cbor::encode(out),
        }
    }

    pub fn encode_error(self, err: &ApiError) -> Vec<u8> {
        match self {
            Codec::Json => json::encode_error(err),
            Codec::Cbor => cbor::encode_error(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            Codec::for_content_type("application/x-amz-json-1.1"),
            Some(Codec::Json)
        );
        assert_eq!(
            Codec::for_content_type("  application/x-amz-cbor-1.1 ; charset=x"),
            Some(Codec::Cbor)
        );
        assert_eq!(Codec::for_content_type("text/plain"), None);
    }
}
