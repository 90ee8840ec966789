//! Timestamp members: epoch seconds (fractional allowed) in JSON, epoch milliseconds in CBOR
//! (tag 1 + integer on output; tagged or plain, integer or float, on input).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A point in time with millisecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    pub millis: i64,
}

impl Timestamp {
    pub fn from_millis(millis: i64) -> Self {
        Timestamp { millis }
    }

    /// Epoch seconds with a fraction: the JSON form.
    pub fn epoch_seconds(self) -> f64 {
        self.millis as f64 / 1000.0
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_f64(self.epoch_seconds())
        } else {
            // AWS CBOR: tag 1 followed by an *integer* count of epoch milliseconds. This is what
            // the Java SDK itself writes (v1/v2 `SdkCborGenerator.writeValue`: `writeTag(1);
            // writeNumber(toEpochMilli())`). On reading, Jackson's `CBORParser` hands a tag-1
            // integer over as a plain VALUE_NUMBER_INT (it acts only on bignum/stringref tags),
            // and the SDKs convert it with `Long.parseLong` (v2 `DateUtils.
            // parseUnixTimestampMillisInstant`, format UNIX_TIMESTAMP_MILLIS from
            // `AwsCborProtocolFactory`) or `getLongValue()` (v1 `DateCborUnmarshaller`). So the
            // tag is harmless and matches AWS, while a float here would break the client
            // ("Unable to parse date : 1.6E12"). ciborium emits the tag for `Required<_, 1>`.
            ciborium::tag::Required::<i64, 1>(self.millis).serialize(serializer)
        }
    }
}

/// Reads an epoch number (integer or float of any width) in units of `unit_ms` milliseconds.
struct TimestampVisitor {
    unit_ms: i64,
}

/// Timestamps beyond this many milliseconds from the epoch (~285,000 years) are refused; it
/// keeps every accepted value exact in an f64.
const MAX_ABS_MILLIS: f64 = 9.0e15;

impl Visitor<'_> for TimestampVisitor {
    type Value = Timestamp;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an epoch timestamp number")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
        match v.checked_mul(self.unit_ms) {
            Some(millis) if (millis as f64).abs() <= MAX_ABS_MILLIS => Ok(Timestamp { millis }),
            _ => Err(E::custom("timestamp out of range")),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
        match i64::try_from(v) {
            Ok(v) => self.visit_i64(v),
            Err(_) => Err(E::custom("timestamp out of range")),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
        let millis = (v * self.unit_ms as f64).round();
        if !millis.is_finite() || millis.abs() > MAX_ABS_MILLIS {
            return Err(E::custom("timestamp out of range"));
        }
        Ok(Timestamp {
            millis: millis as i64,
        })
    }
}

/// A CBOR timestamp's number, in milliseconds.
struct CborMillis(Timestamp);

impl<'de> Deserialize<'de> for CborMillis {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(TimestampVisitor { unit_ms: 1 })
            .map(CborMillis)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            // JSON: epoch seconds, integer or fractional.
            return deserializer.deserialize_any(TimestampVisitor { unit_ms: 1000 });
        }
        // CBOR: epoch milliseconds (`AwsCborProtocolFactory`: "CBOR uses epoch millis for
        // timestamps rather than epoch seconds"), as an integer under tag 1 the way the Java
        // SDK writes them, or untagged, or as a float of any width. ciborium reveals a tag
        // only through its `tag::Captured` wrapper; other tags are not timestamps.
        match ciborium::tag::Captured::<CborMillis>::deserialize(deserializer)? {
            ciborium::tag::Captured(None | Some(1), CborMillis(ts)) => Ok(ts),
            ciborium::tag::Captured(Some(tag), _) => Err(de::Error::custom(format!(
                "CBOR tag {tag} can not be converted to milliseconds since epoch"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_seconds_in_every_number_form() {
        for (text, millis) in [
            ("1459799926", 1_459_799_926_000),
            ("1459799926.48", 1_459_799_926_480),
            ("1.441215410867E9", 1_441_215_410_867),
        ] {
            let ts: Timestamp = serde_json::from_str(text).unwrap();
            assert_eq!(ts.millis, millis, "{text}");
        }
        assert_eq!(
            serde_json::to_string(&Timestamp::from_millis(1_572_297_168_123)).unwrap(),
            "1572297168.123"
        );
    }
}
