//! Member constraints of the Kinesis model, checked before an operation runs, answered as
//! AWS's `ValidationException`:
//! `2 validation errors detected: Value '' at 'streamName' failed to satisfy constraint:
//! Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '' at …`.
//! Paths are lowerCamel member names; list members are `records.1.member.partitionKey`.

use std::fmt::Display;

use crate::{ApiError, ErrorCode};

/// At most this many violations are listed, as AWS does.
const MAX_LISTED: usize = 10;

/// Collects constraint violations for one request.
#[derive(Default)]
pub struct Violations {
    items: Vec<String>,
}

/// How a value is rendered in a violation.
pub enum Shown<'a> {
    Null,
    Str(&'a str),
    Int(i64),
    Raw(String),
}

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, value: Shown<'_>, path: impl Display, constraint: &str) {
        self.push_constraint(value, path, &format!("Member must {constraint}"));
    }

    /// A violation whose constraint text is given whole (e.g. `Map keys must satisfy …`).
    pub fn push_constraint(&mut self, value: Shown<'_>, path: impl Display, constraint: &str) {
        let value = match value {
            Shown::Null => "null".to_string(),
            Shown::Str(s) => format!("'{s}'"),
            Shown::Int(i) => format!("'{i}'"),
            Shown::Raw(s) => format!("'{s}'"),
        };
        self.items.push(format!(
            "Value {value} at '{path}' failed to satisfy constraint: {constraint}"
        ));
    }

    pub fn required<T>(&mut self, path: impl Display, value: Option<&T>) {
        if value.is_none() {
            self.push(Shown::Null, path, "not be null");
        }
    }

    /// Length bounds (in UTF-16 units, as AWS's Java validators count) and an optional pattern.
    pub fn string(
        &mut self,
        path: impl Display,
        value: Option<&str>,
        min: usize,
        max: usize,
        pattern: Option<Pattern>,
    ) {
        let Some(s) = value else { return };
        if let Some(p) = pattern {
            if !(p.matches)(s) {
                self.push(
                    Shown::Str(s),
                    &path,
                    &format!("satisfy regular expression pattern: {}", p.regex),
                );
            }
        }
        // ASCII (nearly every key and name) is one unit a byte; the check is much cheaper.
        let len = if s.is_ascii() {
            s.len()
        } else {
            s.encode_utf16().count()
        };
        if len < min {
            self.push(
                Shown::Str(s),
                &path,
                &format!("have length greater than or equal to {min}"),
            );
        }
        if len > max {
            self.push(
                Shown::Str(s),
                &path,
                &format!("have length less than or equal to {max}"),
            );
        }
    }

    pub fn int(
        &mut self,
        path: impl Display,
        value: Option<i64>,
        min: Option<i64>,
        max: Option<i64>,
    ) {
        let Some(v) = value else { return };
        if let Some(min) = min.filter(|m| v < *m) {
            self.push(
                Shown::Int(v),
                &path,
                &format!("have value greater than or equal to {min}"),
            );
        }
        if let Some(max) = max.filter(|m| v > *m) {
            self.push(
                Shown::Int(v),
                &path,
                &format!("have value less than or equal to {max}"),
            );
        }
    }

    pub fn one_of(&mut self, path: impl Display, value: Option<&str>, allowed: &[&str]) {
        let Some(s) = value else { return };
        if !allowed.contains(&s) {
            self.push(
                Shown::Str(s),
                path,
                &format!("satisfy enum value set: [{}]", allowed.join(", ")),
            );
        }
    }

    /// `shown` renders the list as AWS prints it; only called when a bound is violated.
    pub fn list_len(
        &mut self,
        path: impl Display,
        shown: impl FnOnce() -> String,
        len: usize,
        min: usize,
        max: usize,
    ) {
        if len < min {
            self.push(
                Shown::Raw(shown()),
                path,
                &format!("have length greater than or equal to {min}"),
            );
        } else if len > max {
            self.push(
                Shown::Raw(shown()),
                path,
                &format!("have length less than or equal to {max}"),
            );
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The ValidationException for what was collected, if anything was.
    pub fn into_error(self) -> Option<ApiError> {
        // AWS lists at most ten and counts only those it lists.
        let n = self.items.len().min(MAX_LISTED);
        if n == 0 {
            return None;
        }
        let listed: Vec<&str> = self.items.iter().take(n).map(String::as_str).collect();
        let noun = if n == 1 { "error" } else { "errors" };
        Some(ApiError::new(
            ErrorCode::Validation,
            format!("{n} validation {noun} detected: {}", listed.join("; ")),
        ))
    }
}

/// A model pattern: its regex as AWS prints it, and a matcher for it.
#[derive(Clone, Copy)]
pub struct Pattern {
    pub regex: &'static str,
    pub matches: fn(&str) -> bool,
}

fn name_chars(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

fn canonical_decimal(s: &str, max_digits: usize) -> bool {
    s == "0"
        || (!s.is_empty()
            && s.len() <= max_digits
            && s.bytes().all(|b| b.is_ascii_digit())
            && !s.starts_with('0'))
}

pub const NAME: Pattern = Pattern {
    regex: "[a-zA-Z0-9_.-]+",
    matches: name_chars,
};

pub const HASH_KEY: Pattern = Pattern {
    regex: "0|([1-9]\\d{0,38})",
    matches: |s| canonical_decimal(s, 39),
};

pub const SEQUENCE_NUMBER: Pattern = Pattern {
    regex: "0|([1-9]\\d{0,128})",
    matches: |s| canonical_decimal(s, 129),
};

pub const STREAM_ARN: Pattern = Pattern {
    regex: "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+",
    matches: stream_arn_matches,
};

/// `StreamId` (reserved by AWS): `[a-z0-9]{20}-[a-z0-9]{3}`.
pub const STREAM_ID: Pattern = Pattern {
    regex: "[a-z0-9]{20}-[a-z0-9]{3}",
    matches: |s| {
        let lower = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let b = s.as_bytes();
        b.len() == 24 && b[20] == b'-' && b[..20].iter().all(lower) && b[21..].iter().all(lower)
    },
};

pub const QUEUE_ARN: Pattern = Pattern {
    regex: "arn:aws.*:kinesis:.*:\\d{12}:queue/\\S+",
    matches: |s| arn_matches(s, ":queue/"),
};

fn stream_arn_matches(s: &str) -> bool {
    arn_matches(s, ":stream/")
}

fn arn_matches(s: &str, kind: &str) -> bool {
    // arn:aws<any>:kinesis:<any>:<12 digits><kind><non-space>+
    let Some(rest) = s.strip_prefix("arn:aws") else {
        return false;
    };
    let Some(kin) = rest.find(":kinesis:") else {
        return false;
    };
    let after = &rest[kin + ":kinesis:".len()..];
    // Find ":<12 digits>:stream/" anywhere after.
    let bytes = after.as_bytes();
    (0..bytes.len()).any(|i| {
        bytes[i] == b':'
            && bytes.len() > i + 13
            && bytes[i + 1..i + 13].iter().all(u8::is_ascii_digit)
            && after[i + 13..].starts_with(kind)
            && {
                let name = &after[i + 13 + kind.len()..];
                !name.is_empty() && !name.chars().any(char::is_whitespace)
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_the_coral_format() {
        let mut v = Violations::new();
        v.string("streamName", Some(""), 1, 128, Some(NAME));
        let err = v.into_error().unwrap();
        assert_eq!(
            err.message.unwrap(),
            "2 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '' at \
             'streamName' failed to satisfy constraint: Member must have length greater than or \
             equal to 1"
        );
        let mut v = Violations::new();
        v.required::<String>("shardId", None);
        assert_eq!(
            v.into_error().unwrap().message.unwrap(),
            "1 validation error detected: Value null at 'shardId' failed to satisfy constraint: \
             Member must not be null"
        );
    }

    #[test]
    fn patterns() {
        assert!((HASH_KEY.matches)("0"));
        assert!((HASH_KEY.matches)(
            "340282366920938463463374607431768211455"
        ));
        assert!(!(HASH_KEY.matches)("01"));
        assert!(!(HASH_KEY.matches)("-1"));
        assert!((STREAM_ARN.matches)(
            "arn:aws:kinesis:us-east-1:000000000000:stream/foo"
        ));
        assert!(!(STREAM_ARN.matches)(
            "arn:aws:kinesis:us-east-1:0000:stream/foo"
        ));
        assert!(!(NAME.matches)("a b"));
    }
}
