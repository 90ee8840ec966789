//! The summaries: a human one (stdout), or JSON with `--json` (stdout, nothing else there).
//! Latencies are in milliseconds with 3 decimals; MiB is 2^20 bytes of record data.

use std::fmt::Write as _;

use serde::Serialize;

use super::stats::{round3, ErrorTally, LatencySummary, LoadResult, ReadResult};
use super::Common;

/// Above this share of the client's own ceiling, the run is called client-bound.
pub const CLIENT_BOUND_SHARE: f64 = 0.7;

const MIB: f64 = 1024.0 * 1024.0;

/// Prints `report` as JSON or as the human summary.
pub fn emit<R: Serialize>(report: &R, json: bool, human: fn(&R) -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{}", human(report));
    }
    Ok(())
}

fn per_sec(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn rate(x: f64) -> String {
    let whole = x.trunc() as u64;
    format!("{}.{}", thousands(whole), ((x - x.trunc()) * 10.0) as u64)
}

fn latency_line(l: &LatencySummary) -> String {
    format!(
        "p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  (min {:.3}, mean {:.3}, max {:.3}; n={})",
        l.p50,
        l.p90,
        l.p99,
        l.p999,
        l.min,
        l.mean,
        l.max,
        thousands(l.count)
    )
}

fn codes(t: &ErrorTally) -> String {
    if t.0.is_empty() {
        return String::new();
    }
    let list: Vec<String> = t.0.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!(" ({})", list.join(", "))
}

/// The client's own ceiling, measured against an in-process mock.
#[derive(Clone, Debug, Serialize)]
pub struct Ceiling {
    pub requests_per_sec: f64,
    pub records_per_sec: f64,
    pub mib_per_sec: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Ceiling {
    fn note(tls: bool) -> Option<String> {
        tls.then(|| "measured over plain HTTP: the ceiling leaves out TLS".to_owned())
    }

    pub fn from_load(r: &LoadResult, tls: bool) -> Ceiling {
        let secs = r.elapsed.as_secs_f64();
        Ceiling {
            requests_per_sec: round3(per_sec(r.requests, secs)),
            records_per_sec: round3(per_sec(r.records, secs)),
            mib_per_sec: round3(per_sec(r.bytes, secs) / MIB),
            note: Ceiling::note(tls),
        }
    }

    pub fn from_read(r: &ReadResult, tls: bool) -> Ceiling {
        let secs = r.elapsed.as_secs_f64();
        Ceiling {
            requests_per_sec: round3(per_sec(r.requests, secs)),
            records_per_sec: round3(per_sec(r.records, secs)),
            mib_per_sec: round3(per_sec(r.bytes, secs) / MIB),
            note: Ceiling::note(tls),
        }
    }
}

/// How many of the counted errors are throttling.
fn throttled_count(t: &ErrorTally) -> u64 {
    t.0.iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "ProvisionedThroughputExceededException"
                    | "LimitExceededException"
                    | "ThrottlingException"
            )
        })
        .map(|(_, v)| v)
        .sum()
}

/// Whether the client limited the run: (client_bound, share of the ceiling used, verdict).
fn judge(
    measured: f64,
    ceiling: Option<f64>,
    unit: &str,
    paced: Option<(f64, f64)>,
) -> (Option<bool>, Option<f64>, String) {
    let Some(ceiling) = ceiling.filter(|c| *c > 0.0) else {
        return (None, None, "client ceiling not measured".into());
    };
    let share = measured / ceiling;
    let pct = share * 100.0;
    if let Some((achieved, wanted)) = paced {
        if achieved >= 0.9 * wanted {
            return (
                Some(false),
                Some(round3(share)),
                format!(
                    "paced: the run held the requested {} records/s ({pct:.0}% of the client's \
                     ceiling of {} {unit}/s)",
                    rate(wanted),
                    rate(ceiling)
                ),
            );
        }
    }
    if share >= CLIENT_BOUND_SHARE {
        (
            Some(true),
            Some(round3(share)),
            format!(
                "client-bound: results understate the server (the run reached {pct:.0}% of the \
                 client's own ceiling of {} {unit}/s)",
                rate(ceiling)
            ),
        )
    } else {
        (
            Some(false),
            Some(round3(share)),
            format!(
                "server-bound: the run reached {pct:.0}% of the client's own ceiling of {} \
                 {unit}/s",
                rate(ceiling)
            ),
        )
    }
}

#[derive(Debug, Serialize)]
pub struct PutSettings {
    pub endpoint: String,
    pub stream: String,
    pub shards: u64,
    pub api: &'static str,
    pub record_size: u64,
    pub batch: u64,
    pub keys: u64,
    pub concurrency: u64,
    pub rate: Option<f64>,
    pub signed: bool,
    pub http2: bool,
}

#[derive(Debug, Serialize)]
pub struct PutReport {
    pub command: &'static str,
    pub settings: PutSettings,
    pub elapsed_secs: f64,
    pub requests: u64,
    pub records: u64,
    pub bytes: u64,
    pub records_per_sec: f64,
    pub mib_per_sec: f64,
    pub requests_per_sec: f64,
    /// Request-level errors (non-2xx answers and transport failures).
    pub errors: u64,
    pub error_codes: ErrorTally,
    /// Records a successful PutRecords reported as failed.
    pub failed_records: u64,
    pub failed_record_codes: ErrorTally,
    /// Round trips of successful requests.
    pub latency_ms: LatencySummary,
    pub client_ceiling: Option<Ceiling>,
    pub client_ceiling_share: Option<f64>,
    pub client_bound: Option<bool>,
    pub verdict: String,
}

impl PutReport {
    pub fn new(settings: PutSettings, r: &LoadResult, ceiling: Option<Ceiling>) -> PutReport {
        let secs = r.elapsed.as_secs_f64();
        let requests_per_sec = per_sec(r.requests, secs);
        let records_per_sec = per_sec(r.records, secs);
        let (client_bound, share, verdict) = judge(
            requests_per_sec,
            ceiling.as_ref().map(|c| c.requests_per_sec),
            "requests",
            settings.rate.map(|wanted| (records_per_sec, wanted)),
        );
        let throttled = throttled_count(&r.failed_codes) + throttled_count(&r.errors);
        let verdict = if throttled > 0 {
            format!(
                "throttled: {} records or requests were refused for throughput limits, so the \
                 run measures those limits rather than the server's speed (AWS: 1 MiB/s and \
                 1,000 records/s in per shard; shardline lifts them with `serve --limits off`); \
                 {verdict}",
                thousands(throttled)
            )
        } else {
            verdict
        };
        PutReport {
            command: "put",
            settings,
            elapsed_secs: round3(secs),
            requests: r.requests,
            records: r.records,
            bytes: r.bytes,
            records_per_sec: round3(records_per_sec),
            mib_per_sec: round3(per_sec(r.bytes, secs) / MIB),
            requests_per_sec: round3(requests_per_sec),
            errors: r.errors.total(),
            error_codes: r.errors.clone(),
            failed_records: r.failed_records,
            failed_record_codes: r.failed_codes.clone(),
            latency_ms: r.latency.summary(),
            client_ceiling: ceiling,
            client_ceiling_share: share,
            client_bound,
            verdict,
        }
    }

    pub fn print_human(&self) -> String {
        let s = &self.settings;
        let mut o = String::new();
        let shape = if s.api == "PutRecords" {
            format!("{} × {} B records", s.batch, s.record_size)
        } else {
            format!("1 × {} B record", s.record_size)
        };
        let _ = writeln!(
            o,
            "bench put: {} of {shape}, {} keys, {} connections{} → {} ({} shards) at {}",
            s.api,
            thousands(s.keys),
            s.concurrency,
            s.rate
                .map(|r| format!(", paced to {} records/s", rate(r)))
                .unwrap_or_default(),
            s.stream,
            s.shards,
            s.endpoint
        );
        let _ = writeln!(o, "  elapsed      {:.3} s", self.elapsed_secs);
        let _ = writeln!(
            o,
            "  records      {} ({} records/s, {:.3} MiB/s)",
            thousands(self.records),
            rate(self.records_per_sec),
            self.mib_per_sec
        );
        let _ = writeln!(
            o,
            "  requests     {} ({} requests/s)",
            thousands(self.requests),
            rate(self.requests_per_sec)
        );
        let _ = writeln!(
            o,
            "  errors       {} requests{}, {} failed records{}",
            thousands(self.errors),
            codes(&self.error_codes),
            thousands(self.failed_records),
            codes(&self.failed_record_codes)
        );
        let _ = writeln!(o, "  latency ms   {}", latency_line(&self.latency_ms));
        ceiling_lines(&mut o, self.client_ceiling.as_ref(), &self.verdict);
        o
    }
}

fn ceiling_lines(o: &mut String, ceiling: Option<&Ceiling>, verdict: &str) {
    if let Some(c) = ceiling {
        let _ = writeln!(
            o,
            "  client       ceiling {} requests/s, {} records/s, {:.3} MiB/s (in-process mock){}",
            rate(c.requests_per_sec),
            rate(c.records_per_sec),
            c.mib_per_sec,
            c.note
                .as_ref()
                .map(|n| format!("; {n}"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(o, "  verdict      {verdict}");
}

#[derive(Debug, Serialize)]
pub struct GetSettings {
    pub endpoint: String,
    pub stream: String,
    pub shards: u64,
    pub limit: u32,
    pub signed: bool,
    pub http2: bool,
}

#[derive(Debug, Serialize)]
pub struct GetReport {
    pub command: &'static str,
    pub settings: GetSettings,
    pub elapsed_secs: f64,
    pub requests: u64,
    pub records: u64,
    pub bytes: u64,
    pub records_per_sec: f64,
    pub mib_per_sec: f64,
    pub requests_per_sec: f64,
    /// Shards read to their end before the time bound.
    pub shards_caught_up: u64,
    pub throttled: u64,
    pub errors: u64,
    pub error_codes: ErrorTally,
    /// Round trips of successful GetRecords calls.
    pub latency_ms: LatencySummary,
    pub client_ceiling: Option<Ceiling>,
    pub client_ceiling_share: Option<f64>,
    pub client_bound: Option<bool>,
    pub verdict: String,
}

impl GetReport {
    pub fn new(
        common: &Common,
        shards: u64,
        limit: u32,
        signed: bool,
        r: &ReadResult,
        ceiling: Option<Ceiling>,
    ) -> GetReport {
        let secs = r.elapsed.as_secs_f64();
        let records_per_sec = per_sec(r.records, secs);
        let (client_bound, share, verdict) = judge(
            records_per_sec,
            ceiling.as_ref().map(|c| c.records_per_sec),
            "records",
            None,
        );
        let verdict = if r.throttled > 0 {
            format!(
                "throttled: {} GetRecords calls were refused for throughput limits, so the run \
                 measures those limits rather than the server's speed (AWS: 5 calls/s and 2 \
                 MiB/s out per shard; shardline lifts them with `serve --limits off`); {verdict}",
                thousands(r.throttled)
            )
        } else {
            verdict
        };
        GetReport {
            command: "get",
            settings: GetSettings {
                endpoint: common.endpoint.clone(),
                stream: common.stream.clone(),
                shards,
                limit,
                signed,
                http2: common.http2,
            },
            elapsed_secs: round3(secs),
            requests: r.requests,
            records: r.records,
            bytes: r.bytes,
            records_per_sec: round3(records_per_sec),
            mib_per_sec: round3(per_sec(r.bytes, secs) / MIB),
            requests_per_sec: round3(per_sec(r.requests, secs)),
            shards_caught_up: r.caught_up,
            throttled: r.throttled,
            errors: r.errors.total(),
            error_codes: r.errors.clone(),
            latency_ms: r.latency.summary(),
            client_ceiling: ceiling,
            client_ceiling_share: share,
            client_bound,
            verdict,
        }
    }

    pub fn print_human(&self) -> String {
        let s = &self.settings;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "bench get: GetRecords (limit {}) from {} shards of {} at {}",
            s.limit, s.shards, s.stream, s.endpoint
        );
        let _ = writeln!(
            o,
            "  elapsed      {:.3} s ({} of {} shards caught up)",
            self.elapsed_secs, self.shards_caught_up, s.shards
        );
        let _ = writeln!(
            o,
            "  records      {} ({} records/s, {:.3} MiB/s)",
            thousands(self.records),
            rate(self.records_per_sec),
            self.mib_per_sec
        );
        let _ = writeln!(
            o,
            "  requests     {} ({} requests/s)",
            thousands(self.requests),
            rate(self.requests_per_sec)
        );
        let _ = writeln!(
            o,
            "  errors       {}{}, throttled {}",
            thousands(self.errors),
            codes(&self.error_codes),
            thousands(self.throttled)
        );
        let _ = writeln!(o, "  latency ms   {}", latency_line(&self.latency_ms));
        ceiling_lines(&mut o, self.client_ceiling.as_ref(), &self.verdict);
        o
    }
}

#[derive(Debug, Serialize)]
pub struct E2eSettings {
    pub endpoint: String,
    pub stream: String,
    pub shards: u64,
    pub rate: f64,
    pub duration_secs: f64,
    pub record_size: u64,
    pub consumer: Option<String>,
    pub poll_interval_ms: f64,
    pub signed: bool,
    pub http2: bool,
}

/// One read path of `e2e`.
#[derive(Debug, Serialize)]
pub struct PathReport {
    /// Distinct records of this run received.
    pub received: u64,
    /// Acknowledged puts never received (within the drain time).
    pub missing: u64,
    pub duplicates: u64,
    /// Reads refused for throughput limits (and retried after a pause, which adds latency).
    pub throttled: u64,
    pub errors: u64,
    pub error_codes: ErrorTally,
    /// Receive time − send time.
    pub latency_ms: LatencySummary,
}

#[derive(Debug, Serialize)]
pub struct E2eReport {
    pub command: &'static str,
    pub settings: E2eSettings,
    pub elapsed_secs: f64,
    /// Acknowledged puts.
    pub sent: u64,
    pub put_errors: u64,
    pub put_error_codes: ErrorTally,
    /// PutRecord round trips.
    pub put_latency_ms: LatencySummary,
    /// Put → visible to GetRecords.
    pub poll: Option<PathReport>,
    /// Put → delivered by SubscribeToShard.
    pub subscribe: Option<PathReport>,
}

impl E2eReport {
    pub fn print_human(&self) -> String {
        let s = &self.settings;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "bench e2e: PutRecord at {} records/s for {:.3} s, {} B records, {} shards of {} at {}",
            rate(s.rate),
            s.duration_secs,
            s.record_size,
            s.shards,
            s.stream,
            s.endpoint
        );
        let _ = writeln!(
            o,
            "  sent         {} acknowledged puts ({} records/s), {} errors{}",
            thousands(self.sent),
            rate(per_sec(self.sent, self.elapsed_secs)),
            thousands(self.put_errors),
            codes(&self.put_error_codes)
        );
        let _ = writeln!(o, "  put ms       {}", latency_line(&self.put_latency_ms));
        for (label, path) in [
            ("put→GetRecords", &self.poll),
            ("put→Subscribe", &self.subscribe),
        ] {
            if let Some(p) = path {
                let _ = writeln!(
                    o,
                    "  {label:<15} received {} of {}, missing {}, duplicates {}, throttled {}, \
                     errors {}{}",
                    thousands(p.received),
                    thousands(self.sent),
                    thousands(p.missing),
                    thousands(p.duplicates),
                    thousands(p.throttled),
                    thousands(p.errors),
                    codes(&p.error_codes)
                );
                let _ = writeln!(o, "  {:<15} ms {}", "", latency_line(&p.latency_ms));
            }
        }
        if self.poll.as_ref().is_some_and(|p| p.throttled > 0) {
            let _ = writeln!(
                o,
                "  note         GetRecords polls were throttled (AWS: 5 calls/s per shard) and \
                 paused 200 ms each time, which shows in put→GetRecords; shardline lifts the \
                 limits with `serve --limits off`"
            );
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(rate(1234.56), "1,234.5");
    }

    #[test]
    fn the_verdict_follows_the_share_of_the_ceiling() {
        let (bound, share, text) = judge(80.0, Some(100.0), "requests", None);
        assert_eq!(bound, Some(true));
        assert_eq!(share, Some(0.8));
        assert!(text.starts_with("client-bound: results understate the server"));
        let (bound, _, text) = judge(10.0, Some(100.0), "requests", None);
        assert_eq!(bound, Some(false));
        assert!(text.starts_with("server-bound"));
        let (bound, _, text) = judge(90.0, Some(100.0), "requests", Some((500.0, 500.0)));
        assert_eq!(bound, Some(false));
        assert!(text.starts_with("paced"));
        assert_eq!(judge(1.0, None, "requests", None).0, None);
    }
}
