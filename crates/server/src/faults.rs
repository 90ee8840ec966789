//! Fault injection, for testing clients' retries and timeouts: rules that make matching
//! requests fail with an AWS error or answer late. Rules come from `shardline.toml`
//! (`[[fault]]`) and can be changed at run time through the admin endpoint
//! (`GET/POST/DELETE /_shardline/faults`, used by `shardline faults …`).
//!
//! A rule matches by operation, stream and shard (each optional), then fires with a
//! probability or on every Nth matching call (the first included), until it expires.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use shardline_wire::{ApiError, ErrorCode, Operation};

/// A rule as written in `shardline.toml` or posted to the admin endpoint.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Operation name (e.g. `PutRecord`); any operation if absent.
    pub operation: Option<String>,
    /// Stream name; any stream if absent.
    pub stream: Option<String>,
    /// Shard id; any shard if absent.
    pub shard: Option<String>,
    /// Fire with this probability (0..1).
    pub probability: Option<f64>,
    /// Fire on every Nth matching call, starting with the first.
    pub every: Option<u64>,
    /// AWS error type to answer with, e.g. `ProvisionedThroughputExceededException`.
    pub error: Option<String>,
    /// Delay added before the request is handled.
    pub latency_ms: Option<u64>,
    /// The rule expires this long after it was added; never if absent.
    pub duration_secs: Option<u64>,
}

impl FaultSpec {
    /// Checks the spec makes sense.
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(op) = &self.operation {
            if !Operation::ALL.iter().any(|o| o.name() == op) {
                return Err(format!("unknown operation {op}"));
            }
        }
        if let Some(e) = &self.error {
            if ErrorCode::from_type_name(e).is_none() {
                return Err(format!("unknown error type {e}"));
            }
        }
        if self.error.is_none() && self.latency_ms.is_none() {
            return Err("a rule needs an error, a latency_ms, or both".into());
        }
        if self.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            return Err("probability must be between 0 and 1".into());
        }
        if self.every == Some(0) {
            return Err("every must be at least 1".into());
        }
        Ok(())
    }
}

#[derive(Debug, Serialize)]
pub struct Rule {
    pub id: u64,
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// How many times the rule fired.
    pub fired: u64,
    #[serde(skip)]
    matched: u64,
    #[serde(skip)]
    expires: Option<Instant>,
}

/// What a request should suffer.
#[derive(Debug, Default)]
pub struct Effect {
    pub delay: Duration,
    pub error: Option<ApiError>,
}

#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<Rule>>,
    next_id: AtomicU64,
}

impl Faults {
    pub fn add(&self, spec: FaultSpec) -> Result<u64, String> {
        spec.validate()?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let expires = spec
            .duration_secs
            .map(|s| Instant::now() + Duration::from_secs(s));
        self.rules.lock().push(Rule {
            id,
            spec,
            fired: 0,
            matched: 0,
            expires,
        });
        Ok(id)
    }

    pub fn remove(&self, id: u64) -> bool {
        let mut rules = self.rules.lock();
        let before = rules.len();
        rules.retain(|r| r.id != id);
        rules.len() != before
    }

    pub fn clear(&self) {
        self.rules.lock().clear();
    }

    /// The live rules as JSON.
    pub fn list_json(&self) -> String {
        let mut rules = self.rules.lock();
        let now = Instant::now();
        rules.retain(|r| r.expires.is_none_or(|e| e > now));
        serde_json::to_string_pretty(&*rules).unwrap_or_else(|_| "[]".into())
    }

    pub fn is_empty(&self) -> bool {
        self.rules.lock().is_empty()
    }

    /// Decides what happens to a request; rules are tried in order and effects add up.
    pub fn effect(&self, op: Operation, stream: Option<&str>, shard: Option<&str>) -> Effect {
        let mut rules = self.rules.lock();
        let now = Instant::now();
        rules.retain(|r| r.expires.is_none_or(|e| e > now));
        let mut effect = Effect::default();
        for r in rules.iter_mut() {
            let s = &r.spec;
            let matches = s.operation.as_deref().is_none_or(|o| o == op.name())
                && s.stream.as_deref().is_none_or(|x| Some(x) == stream)
                && s.shard.as_deref().is_none_or(|x| Some(x) == shard);
            if !matches {
                continue;
            }
            r.matched += 1;
            let fires = match (s.every, s.probability) {
                (Some(n), _) => (r.matched - 1) % n == 0,
                (None, Some(p)) => rand::random::<f64>() < p,
                (None, None) => true,
            };
            if !fires {
                continue;
            }
            r.fired += 1;
            effect.delay += Duration::from_millis(s.latency_ms.unwrap_or(0));
            if effect.error.is_none() {
                if let Some(code) = s.error.as_deref().and_then(ErrorCode::from_type_name) {
                    effect.error = Some(ApiError::new(
                        code,
                        format!("Injected fault (rule {}) for {}.", r.id, op.name()),
                    ));
                }
            }
        }
        effect
    }
}

/// The stream and shard a request names, read only when rules exist.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Target {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub shard_id: Option<String>,
    /// GetRecords names its stream and shard only through its iterator.
    pub shard_iterator: Option<String>,
}

impl Target {
    pub fn stream(&self) -> Option<&str> {
        self.stream_name.as_deref().or_else(|| {
            self.stream_arn
                .as_deref()
                .and_then(|a| a.split_once(":stream/").map(|(_, n)| n))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth_and_matching() {
        let f = Faults::default();
        f.add(FaultSpec {
            operation: Some("PutRecord".into()),
            every: Some(2),
            error: Some("ProvisionedThroughputExceededException".into()),
            ..FaultSpec::default()
        })
        .unwrap();
        let hits: Vec<bool> = (0..4)
            .map(|_| {
                f.effect(Operation::PutRecord, Some("s"), None)
                    .error
                    .is_some()
            })
            .collect();
        assert_eq!(hits, [true, false, true, false]);
        assert!(f.effect(Operation::GetRecords, None, None).error.is_none());
    }

    #[test]
    fn specs_are_checked_and_rules_expire() {
        assert!(FaultSpec {
            operation: Some("Nope".into()),
            latency_ms: Some(1),
            ..FaultSpec::default()
        }
        .validate()
        .is_err());
        assert!(FaultSpec::default().validate().is_err());
        let f = Faults::default();
        f.add(FaultSpec {
            latency_ms: Some(5),
            duration_secs: Some(0),
            ..FaultSpec::default()
        })
        .unwrap();
        assert_eq!(
            f.effect(Operation::ListStreams, None, None).delay,
            Duration::ZERO
        );
    }
}
