//! The `application/x-amz-json-1.1` codec.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::blob::BASE64_ERROR_MARK;
use crate::{ApiError, ErrorCode};

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Parses a request body into an input shape.
///
/// # Errors
/// `SerializationException` for an empty or malformed body, a member of the wrong type, or
/// bad base64 in a blob.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        None => return Err(ApiError::bare(ErrorCode::Serialization)),
        // serde would read a top-level array positionally as the input structure.
        Some(b'[') => {
            return Err(ApiError::new(
                ErrorCode::Serialization,
                "Start of list found where not expected",
            ))
        }
        // A body that is not an object is not a request at all: AWS says no more.
        Some(b) if *b != b'{' => return Err(ApiError::bare(ErrorCode::Serialization)),
        _ => {}
    }
    serde_json::from_slice(body).map_err(|e| serialization_error(&e))
}

fn serialization_error(err: &serde_json::Error) -> ApiError {
    if err.is_syntax() || err.is_eof() {
        // AWS answers unparsable JSON with a bare SerializationException.
        return ApiError::bare(ErrorCode::Serialization);
    }
    let text = err.to_string();
    // serde_json appends " at line L column C"; AWS's texts carry no position.
    let text = text
        .rfind(" at line ")
        .map_or(text.as_str(), |i| &text[..i]);
    let message = match text.find(BASE64_ERROR_MARK) {
        Some(i) => text[i + BASE64_ERROR_MARK.len()..].to_string(),
        None => java_type_message(text).unwrap_or_else(|| text.to_string()),
    };
    ApiError::new(ErrorCode::Serialization, message)
}

/// Renders serde's "invalid type: X, expected Y" as the texts AWS's Java front end sends.
/// Shared with the CBOR codec, whose decoder names what it expected in its own words
/// ("byte buffer", "integer", "string", "map").
pub(crate) fn java_type_message(text: &str) -> Option<String> {
    let rest = text.strip_prefix("invalid type: ")?;
    let (got, expected) = rest.split_once(", expected ")?;
    if got.starts_with("map") {
        return Some("Start of structure or map found where not expected.".into());
    }
    if got.starts_with("sequence") {
        return Some("Start of list found where not expected".into());
    }
    if expected.starts_with("a sequence") || expected == "array" {
        return Some("Expected list or null".into());
    }
    // serde_json names a map member's expectation "a map" and a structure's "struct X";
    // ciborium says "map" for both, so CBOR keeps the structure's text.
    if expected.starts_with("a map") {
        return Some("Expected map or null".into());
    }
    if expected.starts_with("struct") || expected == "map" {
        return Some("Expected null".into());
    }
    let class = if got.starts_with("string") {
        "java.lang.String"
    } else if got.starts_with("boolean") {
        "java.lang.Boolean"
    } else {
        "com.amazon.coral.value.json.numbers.TruncatingBigNumber"
    };
    let target = if expected.contains("base64") || expected.contains("byte") {
        "a Blob"
    } else if expected.contains("timestamp") {
        "milliseconds since epoch"
    } else if expected.contains("bool") {
        "an Boolean"
    } else if expected.contains("string") {
        "an String"
    } else {
        "an Integer"
    };
    Some(format!("class {class} can not be converted to {target}"))
}

/// Encodes an output shape.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing plain shapes to a Vec cannot fail (no maps with non-string keys).
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}

/// Encodes an error body: `{"__type": ..., "message": ...}`.
pub fn encode_error(err: &ApiError) -> Vec<u8> {
    let mut body = serde_json::Map::new();
    body.insert("__type".into(), err.code.type_name().into());
    if let Some(message) = &err.message {
        // AWS's SerializationException uses a capitalised key; every other error lower case.
        let key = if err.code == ErrorCode::Serialization {
            "Message"
        } else {
            "message"
        };
        body.insert(key.into(), message.clone().into());
    }
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shapes::{PutRecordInput, PutRecordsInput};

    #[test]
    fn malformed_and_empty_bodies_are_serialization_errors() {
        for body in [&b""[..], b"   ", b"{", b"{\"StreamName\": }", b"[1,2"] {
            let err = decode::<PutRecordInput>(body).unwrap_err();
            assert_eq!(err.code, ErrorCode::Serialization, "{body:?}");
        }
        let err = decode::<PutRecordInput>(br#"{"StreamName": 5}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::Serialization);
        assert_eq!(
            err.message.as_deref(),
            Some("class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String")
        );
        let err = decode::<PutRecordsInput>(br#"{"Records": {}}"#).unwrap_err();
        assert_eq!(
            err.message.as_deref(),
            Some("Start of structure or map found where not expected.")
        );
    }

    #[test]
    fn bad_base64_is_a_serialization_error_with_a_message() {
        let err = decode::<PutRecordsInput>(
            br#"{"StreamName":"s","Records":[{"Data":"%%%","PartitionKey":"a"}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::Serialization);
        assert!(err
            .message
            .unwrap()
            .starts_with("'%%%' can not be converted to a Blob"));
    }

    #[test]
    fn error_bodies_follow_the_aws_shape() {
        let body = encode_error(&ApiError::resource_not_found(
            "Stream x under account 1 not found.",
        ));
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"__type":"ResourceNotFoundException","message":"Stream x under account 1 not found."}"#
        );
        let body = encode_error(&ApiError::new(ErrorCode::Serialization, "bad"));
        assert!(String::from_utf8(body)
            .unwrap()
            .contains(r#""Message":"bad""#));
    }
}
