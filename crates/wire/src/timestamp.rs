//! Timestamp members: epoch seconds (fractional allowed) in JSON, epoch milliseconds in CBOR.

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
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_f64(self.millis as f64 / 1000.0)
        } else {
            serializer.serialize_i64(self.millis)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimestampVisitor {
            unit_ms: f64,
        }
        impl Visitor<'_> for TimestampVisitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an epoch timestamp number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                self.visit_f64(v as f64)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                self.visit_f64(v as f64)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
                let millis = (v * self.unit_ms).round();
                if !millis.is_finite() || millis.abs() > 9.0e15 {
                    return Err(E::custom("timestamp out of range"));
                }
                Ok(Timestamp {
                    millis: millis as i64,
                })
            }
        }
        let unit_ms = if deserializer.is_human_readable() {
            1000.0
        } else {
            1.0
        };
        deserializer.deserialize_any(TimestampVisitor { unit_ms })
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
