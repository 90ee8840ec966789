//! Binary members (`Data`): base64 text in JSON, byte strings in CBOR.

use std::fmt;

use base64::Engine as _;
use bytes::Bytes;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A blob member. Encodes as standard padded base64 in text formats, raw bytes otherwise.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Blob(pub Bytes);

/// Marks a serde error raised by a blob so the codec can answer AWS's base64 message.
pub(crate) const BASE64_ERROR_MARK: &str = "\u{1}base64\u{1}";

impl Blob {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BlobVisitor;
        impl Visitor<'_> for BlobVisitor {
            type Value = Blob;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a base64 string or a byte string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Blob, E> {
                decode_base64(v)
                    .map(|b| Blob(Bytes::from(b)))
                    .map_err(|m| E::custom(format!("{BASE64_ERROR_MARK}{m}")))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(Bytes::copy_from_slice(v)))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(Bytes::from(v)))
            }
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_str(BlobVisitor)
        } else {
            // `byte_buf`, not `bytes`: ciborium serves `deserialize_bytes` only for definite
            // strings that fit its 4 KiB scratch buffer, but `deserialize_byte_buf` for any
            // length and for indefinite-length (chunked) byte strings, handing over the Vec.
            deserializer.deserialize_byte_buf(BlobVisitor)
        }
    }
}

/// Decodes standard base64 as AWS does, with its error texts (padding is required; the last
/// character must not carry stray bits).
pub(crate) fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    // The strict decoder accepts exactly what AWS accepts (canonical padding, no stray bits),
    // so the checks below only run to explain a failure; every record's data passes through
    // here (see `simd_decoder_accepts_what_the_strict_engine_accepts`).
    if let Ok(bytes) = base64_simd::STANDARD.decode_to_vec(s) {
        return Ok(bytes);
    }
    let fail = |why: String| format!("'{s}' can not be converted to a Blob: {why}");
    if !s.len().is_multiple_of(4) {
        return Err(fail(format!(
            "Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            s.len()
        )));
    }
    let body = s.trim_end_matches('=');
    let pad = s.len() - body.len();
    if let Some(bad) = body
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '+' || *c == '/'))
    {
        return Err(fail(format!("Invalid Base64 character: '{bad}'")));
    }
    if pad > 2 {
        return Err(fail("Invalid Base64 character: '='".to_string()));
    }
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| fail("Invalid last non-pad Base64 character dectected".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_padded_and_unpadded_and_rejects_garbage() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert!(decode_base64("aGVsbG8")
            .unwrap_err()
            .ends_with("expected a multiple of 4 bytes but found: 7"));
        assert!(decode_base64("+/+=")
            .unwrap_err()
            .ends_with("character dectected"));
        assert!(decode_base64("=+/=")
            .unwrap_err()
            .ends_with("character: '='"));
        assert_eq!(decode_base64("").unwrap(), b"");
        assert!(decode_base64("aGV$bG8=").is_err());
        assert!(decode_base64("aGVsbG8===").is_err());
    }

    proptest::proptest! {
        // The hot paths use base64-simd; AWS's rules are what the strict `base64` engine
        // implements, so the two must agree on every string, valid or not.
        #[test]
        fn simd_decoder_accepts_what_the_strict_engine_accepts(
            s in "[A-Za-z0-9+/=]{0,40}|[A-Za-z0-9+/=$ _-]{0,12}",
        ) {
            let strict = base64::engine::general_purpose::STANDARD.decode(&s).ok();
            proptest::prop_assert_eq!(base64_simd::STANDARD.decode_to_vec(&s).ok(), strict);
        }

        #[test]
        fn simd_encoder_writes_what_the_strict_engine_writes(
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..100),
        ) {
            let mut out = b"prefix".to_vec();
            base64_simd::STANDARD.encode_append(&data, &mut out);
            let expected = format!("prefix{}", base64::engine::general_purpose::STANDARD.encode(&data));
            proptest::prop_assert_eq!(out, expected.into_bytes());
        }
    }

    #[test]
    fn json_round_trip_is_base64() {
        let blob = Blob(Bytes::from_static(b"hello"));
        let text = serde_json::to_string(&blob).unwrap();
        assert_eq!(text, "\"aGVsbG8=\"");
        let back: Blob = serde_json::from_str(&text).unwrap();
        assert_eq!(back, blob);
    }
}
