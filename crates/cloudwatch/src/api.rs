//! The four metric operations over a [`History`], with CloudWatch's validation and messages.
//! Inputs are the decoded request trees of [`crate::codec`]; outputs are [`Out`] trees.

use std::collections::HashSet;

use base64::Engine as _;
use serde_json::Value;

use crate::codec::{parse_iso8601, Out};
use crate::history::{now_secs, History, SeriesKey, Stats};

/// The operations served.
pub const OPERATIONS: [&str; 4] = [
    "GetMetricData",
    "GetMetricStatistics",
    "ListMetrics",
    "PutMetricData",
];

/// An error as CloudWatch sends it: the query protocol's code, the shape's name (JSON and CBOR
/// `__type`), whose fault it is, and the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CwError {
    pub code: &'static str,
    pub type_name: &'static str,
    pub status: u16,
    pub sender: bool,
    pub message: String,
}

impl CwError {
    #[must_use]
    pub fn invalid_value(message: impl Into<String>) -> Self {
        CwError {
            code: "InvalidParameterValue",
            type_name: "InvalidParameterValueException",
            status: 400,
            sender: true,
            message: message.into(),
        }
    }

    #[must_use]
    pub fn missing(parameter: &str) -> Self {
        CwError {
            code: "MissingParameter",
            type_name: "MissingRequiredParameterException",
            status: 400,
            sender: true,
            message: format!("The parameter {parameter} is required."),
        }
    }

    #[must_use]
    pub fn combination(message: impl Into<String>) -> Self {
        CwError {
            code: "InvalidParameterCombination",
            type_name: "InvalidParameterCombinationException",
            status: 400,
            sender: true,
            message: message.into(),
        }
    }

    #[must_use]
    pub fn validation(message: impl Into<String>) -> Self {
        CwError {
            code: "ValidationError",
            type_name: "ValidationError",
            status: 400,
            sender: true,
            message: message.into(),
        }
    }

    #[must_use]
    pub fn invalid_next_token() -> Self {
        CwError {
            code: "InvalidNextToken",
            type_name: "InvalidNextToken",
            status: 400,
            sender: true,
            message: "The service couldn't process your request because the next token is invalid."
                .into(),
        }
    }

    /// An operation this server does not serve (the query protocol's `InvalidAction`).
    #[must_use]
    pub fn unknown_operation(name: &str) -> Self {
        CwError {
            code: "InvalidAction",
            type_name: "UnknownOperationException",
            status: 400,
            sender: true,
            message: format!("The action {name} is not valid for this web service."),
        }
    }

    /// A body that does not parse.
    #[must_use]
    pub fn serialization(message: impl Into<String>) -> Self {
        CwError {
            code: "SerializationException",
            type_name: "SerializationException",
            status: 400,
            sender: true,
            message: message.into(),
        }
    }
}

/// CloudWatch's units.
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

const STATISTICS: [&str; 5] = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

/// Most datapoints GetMetricStatistics returns.
const MAX_DATAPOINTS: i64 = 1440;
/// Most datapoints GetMetricData returns in one call (over all its queries).
const MAX_DATA_POINTS_PER_CALL: usize = 100_800;
/// Metrics per ListMetrics page.
const LIST_PAGE: usize = 500;

/// Runs `operation` for `account`.
///
/// # Errors
/// CloudWatch's error for a bad request, or an unknown operation.
pub fn call(
    history: &History,
    account: &str,
    operation: &str,
    input: &Value,
) -> Result<Out, CwError> {
    match operation {
        "GetMetricStatistics" => get_metric_statistics(history, account, input),
        "GetMetricData" => get_metric_data(history, account, input),
        "ListMetrics" => list_metrics(history, account, input),
        "PutMetricData" => put_metric_data(history, account, input),
        other => Err(CwError::unknown_operation(other)),
    }
}

fn text<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

fn required_text<'a>(v: &'a Value, name: &str, path: &str) -> Result<&'a str, CwError> {
    match v.get(name) {
        None | Some(Value::Null) => Err(CwError::missing(path)),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(CwError::invalid_value(format!(
            "The value {other} for parameter {path} is invalid."
        ))),
    }
}

/// A number, from JSON/CBOR or from the query form's text.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

fn optional_number(v: &Value, name: &str, path: &str) -> Result<Option<f64>, CwError> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => match number(x) {
            Some(n) => Ok(Some(n)),
            None => Err(CwError::invalid_value(format!(
                "The value {} for parameter {path} is invalid.",
                shown(x)
            ))),
        },
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A timestamp: epoch seconds (JSON, CBOR) or ISO 8601 (query).
fn timestamp(v: &Value, name: &str, path: &str) -> Result<Option<f64>, CwError> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) => parse_iso8601(s)
            .or_else(|| s.trim().parse::<f64>().ok())
            .map(Some)
            .ok_or_else(|| {
                CwError::invalid_value(format!("The value {s} for parameter {path} is invalid."))
            }),
        Some(other) => Err(CwError::invalid_value(format!(
            "The value {other} for parameter {path} is invalid."
        ))),
    }
}

fn list<'a>(v: &'a Value, name: &str) -> &'a [Value] {
    v.get(name)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `Dimensions` of a metric: (name, value) pairs.
fn dimensions(v: &Value, path: &str) -> Result<Vec<(String, String)>, CwError> {
    let dims = list(v, "Dimensions");
    if dims.len() > 30 {
        return Err(CwError::invalid_value(format!(
            "The collection {path}.Dimensions must not have a size greater than 30."
        )));
    }
    let mut out = Vec::with_capacity(dims.len());
    let mut seen = HashSet::new();
    for (i, d) in dims.iter().enumerate() {
        let at = format!("{path}.Dimensions.member.{}", i + 1);
        let name = required_text(d, "Name", &format!("{at}.Name"))?;
        let value = required_text(d, "Value", &format!("{at}.Value"))?;
        if name.is_empty() || name.len() > 255 {
            return Err(CwError::invalid_value(format!(
                "The value {name} for parameter {at}.Name is invalid."
            )));
        }
        if value.is_empty() || value.len() > 1024 {
            return Err(CwError::invalid_value(format!(
                "The value {value} for parameter {at}.Value is invalid."
            )));
        }
        if !seen.insert(name.to_owned()) {
            return Err(CwError::invalid_value(format!(
                "No Metric may specify the same dimension name twice: {name}"
            )));
        }
        out.push((name.to_owned(), value.to_owned()));
    }
    Ok(out)
}

fn unit_of(v: &Value, path: &str) -> Result<Option<String>, CwError> {
    match text(v, "Unit") {
        None => Ok(None),
        Some(u) if UNITS.contains(&u) => Ok(Some(u.to_owned())),
        Some(u) => Err(CwError::invalid_value(format!(
            "The value {u} for parameter {path} is invalid."
        ))),
    }
}

/// Checks a period: 1, 5, 10, 30 or a multiple of 60.
fn period(v: &Value, path: &str) -> Result<i64, CwError> {
    let Some(p) = optional_number(v, "Period", path)? else {
        return Err(CwError::missing(path));
    };
    let whole = p.fract() == 0.0 && p >= 1.0 && p <= f64::from(i32::MAX);
    let p = p as i64;
    if !whole || !(matches!(p, 1 | 5 | 10 | 30) || p % 60 == 0) {
        return Err(CwError::invalid_value(format!(
            "The parameter {path} must be 1, 5, 10, 30, or a multiple of 60."
        )));
    }
    Ok(p)
}

/// Where the periods start: start rounded down to the period under a minute, to the minute
/// above it.
fn aligned_start(start: f64, period: i64) -> i64 {
    let s = start.floor() as i64;
    let unit = if period < 60 { period } else { 60 };
    s.div_euclid(unit) * unit
}

/// One statistic of a period's samples.
fn statistic(s: &Stats, name: &str) -> f64 {
    match name {
        "SampleCount" => s.count,
        "Sum" => s.sum,
        "Minimum" => s.min,
        "Maximum" => s.max,
        _ => s.average(),
    }
}

fn get_metric_statistics(history: &History, account: &str, v: &Value) -> Result<Out, CwError> {
    let namespace = required_text(v, "Namespace", "Namespace")?;
    let name = required_text(v, "MetricName", "MetricName")?;
    let start =
        timestamp(v, "StartTime", "StartTime")?.ok_or_else(|| CwError::missing("StartTime"))?;
    let end = timestamp(v, "EndTime", "EndTime")?.ok_or_else(|| CwError::missing("EndTime"))?;
    let period = period(v, "Period")?;
    let stats: Vec<&str> = list(v, "Statistics")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let extended = list(v, "ExtendedStatistics");
    if stats.is_empty() && extended.is_empty() {
        return Err(CwError::combination(
            "Must specify either Statistics or ExtendedStatistics",
        ));
    }
    if !stats.is_empty() && !extended.is_empty() {
        return Err(CwError::combination(
            "The parameters Statistics and ExtendedStatistics are mutually exclusive and you have specified both.",
        ));
    }
    if stats.len() > 5 {
        return Err(CwError::invalid_value(
            "The collection Statistics must not have a size greater than 5.",
        ));
    }
    for (i, s) in stats.iter().enumerate() {
        if !STATISTICS.contains(s) {
            return Err(CwError::invalid_value(format!(
                "The value {s} for parameter Statistics.member.{} is invalid.",
                i + 1
            )));
        }
    }
    if let Some(p) = extended.first() {
        return Err(CwError::invalid_value(format!(
            "The value {} for parameter ExtendedStatistics.member.1 is not supported: shardline's \
             metrics history keeps the sample count, sum, minimum and maximum of each period, not percentiles.",
            shown(p)
        )));
    }
    let unit = unit_of(v, "Unit")?;
    if start >= end {
        return Err(CwError::invalid_value(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    let dims = dimensions(v, "")?;
    let from = aligned_start(start, period);
    let to = end.ceil() as i64;
    let wanted = ((end - start) / period as f64).ceil() as i64;
    if wanted > MAX_DATAPOINTS {
        return Err(CwError::combination(format!(
            "You have requested up to {wanted} datapoints, which exceeds the limit of {MAX_DATAPOINTS}. \
             You may reduce the datapoints requested by increasing Period, or decreasing the time range."
        )));
    }
    let key = SeriesKey::new(account, namespace, name, dims);
    let mut datapoints = Vec::new();
    if let Some(series) = history.get(&key) {
        let series_unit = series.unit().unwrap_or_else(|| "None".into());
        if unit.as_ref().is_none_or(|u| *u == series_unit) {
            for (at, s) in series.query(from, to, period) {
                let mut fields: Vec<(&'static str, Out)> =
                    vec![("Timestamp", Out::Time(at as f64))];
                for st in STATISTICS {
                    if stats.contains(&st) {
                        fields.push((st, Out::Num(statistic(&s, st))));
                    }
                }
                fields.push(("Unit", Out::Str(series_unit.clone())));
                datapoints.push(Out::Struct(fields));
            }
        }
    }
    Ok(Out::Struct(vec![
        ("Label", Out::Str(name.to_owned())),
        ("Datapoints", Out::List(datapoints)),
    ]))
}

/// True for an id GetMetricData accepts: a lowercase letter, then letters, digits, underscores.
fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && id.len() <= 255
}

fn get_metric_data(history: &History, account: &str, v: &Value) -> Result<Out, CwError> {
    let queries = list(v, "MetricDataQueries");
    if v.get("MetricDataQueries").is_none() {
        return Err(CwError::missing("MetricDataQueries"));
    }
    if queries.len() > 500 {
        return Err(CwError::invalid_value(
            "The collection MetricDataQueries must not have a size greater than 500.",
        ));
    }
    let start =
        timestamp(v, "StartTime", "StartTime")?.ok_or_else(|| CwError::missing("StartTime"))?;
    let end = timestamp(v, "EndTime", "EndTime")?.ok_or_else(|| CwError::missing("EndTime"))?;
    if start > end {
        return Err(CwError::validation(
            "The parameter EndTime must be greater than StartTime.",
        ));
    }
    if start == end {
        return Err(CwError::validation(
            "The parameter StartTime must not equal parameter EndTime.",
        ));
    }
    if text(v, "NextToken").is_some() {
        // Every answer is whole (no NextToken is ever given out), so no token is valid.
        return Err(CwError::invalid_next_token());
    }
    let ascending = match text(v, "ScanBy") {
        None | Some("TimestampDescending") => false,
        Some("TimestampAscending") => true,
        Some(other) => {
            return Err(CwError::invalid_value(format!(
                "The value {other} for parameter ScanBy is invalid."
            )))
        }
    };
    let max_points = optional_number(v, "MaxDatapoints", "MaxDatapoints")?
        .map_or(MAX_DATA_POINTS_PER_CALL, |n| n.max(1.0) as usize);
    let mut ids = HashSet::new();
    let mut results = Vec::new();
    let mut points = 0usize;
    for (i, q) in queries.iter().enumerate() {
        let at = format!("MetricDataQueries.member.{}", i + 1);
        let id = required_text(q, "Id", &format!("{at}.Id"))?;
        if !valid_id(id) {
            return Err(CwError::validation(format!(
                "The value {id} for parameter {at}.Id is invalid: it must start with a lowercase letter \
                 and hold only letters, digits and underscores."
            )));
        }
        if !ids.insert(id.to_owned()) {
            return Err(CwError::validation(format!(
                "The value {id} for parameter MetricDataQueries.member.Id is duplicated."
            )));
        }
        let stat = q.get("MetricStat").filter(|s| !s.is_null());
        let expression = text(q, "Expression");
        let (Some(stat), None) = (stat, expression) else {
            if expression.is_some() && stat.is_none() {
                return Err(CwError::validation(format!(
                    "{at}.Expression: metric math expressions are not supported by shardline; \
                     ask for each metric with MetricStat."
                )));
            }
            return Err(CwError::validation(format!(
                "Exactly one of {at}.MetricStat and {at}.Expression must be given."
            )));
        };
        let returned = match q.get("ReturnData") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s != "false",
            Some(_) => true,
        };
        let metric = stat
            .get("Metric")
            .ok_or_else(|| CwError::missing(&format!("{at}.MetricStat.Metric")))?;
        let namespace = required_text(
            metric,
            "Namespace",
            &format!("{at}.MetricStat.Metric.Namespace"),
        )?;
        let name = required_text(
            metric,
            "MetricName",
            &format!("{at}.MetricStat.Metric.MetricName"),
        )?;
        let dims = dimensions(metric, &format!("{at}.MetricStat.Metric"))?;
        let period = period(stat, &format!("{at}.MetricStat.Period"))?;
        let stat_name = required_text(stat, "Stat", &format!("{at}.MetricStat.Stat"))?;
        if !STATISTICS.contains(&stat_name) {
            return Err(CwError::invalid_value(format!(
                "The value {stat_name} for parameter {at}.MetricStat.Stat is not supported: shardline's \
                 metrics history answers SampleCount, Average, Sum, Minimum and Maximum."
            )));
        }
        let unit = unit_of(stat, &format!("{at}.MetricStat.Unit"))?;
        if !returned {
            continue;
        }
        let label = text(q, "Label").map_or_else(|| name.to_owned(), str::to_owned);
        let key = SeriesKey::new(account, namespace, name, dims);
        let mut rows: Vec<(i64, f64)> = Vec::new();
        if let Some(series) = history.get(&key) {
            let series_unit = series.unit().unwrap_or_else(|| "None".into());
            if unit.as_ref().is_none_or(|u| *u == series_unit) {
                let from = aligned_start(start, period);
                rows = series
                    .query(from, end.ceil() as i64, period)
                    .into_iter()
                    .map(|(t, s)| (t, statistic(&s, stat_name)))
                    .collect();
            }
        }
        if !ascending {
            rows.reverse();
        }
        let room = max_points.saturating_sub(points);
        let complete = rows.len() <= room;
        rows.truncate(room);
        points += rows.len();
        results.push(Out::Struct(vec![
            ("Id", Out::Str(id.to_owned())),
            ("Label", Out::Str(label)),
            (
                "Timestamps",
                Out::List(rows.iter().map(|(t, _)| Out::Time(*t as f64)).collect()),
            ),
            (
                "Values",
                Out::List(rows.iter().map(|(_, x)| Out::Num(*x)).collect()),
            ),
            (
                "StatusCode",
                Out::Str(if complete { "Complete" } else { "PartialData" }.into()),
            ),
        ]));
    }
    Ok(Out::Struct(vec![
        ("MetricDataResults", Out::List(results)),
        ("Messages", Out::List(Vec::new())),
    ]))
}

fn list_metrics(history: &History, account: &str, v: &Value) -> Result<Out, CwError> {
    let namespace = text(v, "Namespace");
    let name = text(v, "MetricName");
    let mut filters: Vec<(String, Option<String>)> = Vec::new();
    let given = list(v, "Dimensions");
    if given.len() > 10 {
        return Err(CwError::invalid_value(
            "The collection Dimensions must not have a size greater than 10.",
        ));
    }
    for (i, d) in given.iter().enumerate() {
        let n = required_text(d, "Name", &format!("Dimensions.member.{}.Name", i + 1))?;
        filters.push((n.to_owned(), text(d, "Value").map(str::to_owned)));
    }
    let recent = match text(v, "RecentlyActive") {
        None => false,
        Some("PT3H") => true,
        Some(other) => {
            return Err(CwError::invalid_value(format!(
                "The value {other} for parameter RecentlyActive is invalid."
            )))
        }
    };
    let skip = match text(v, "NextToken") {
        None => 0,
        Some(t) => base64::engine::general_purpose::STANDARD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.strip_prefix("list:")
                    .and_then(|n| n.parse::<usize>().ok())
            })
            .ok_or_else(CwError::invalid_next_token)?,
    };
    let since = now_secs() - 3 * 3600;
    let matching: Vec<SeriesKey> = history
        .of_account(account)
        .into_iter()
        .filter(|(k, s)| {
            namespace.is_none_or(|n| k.namespace == n)
                && name.is_none_or(|n| k.name == n)
                && filters.iter().all(|(fname, fvalue)| {
                    k.dimensions
                        .iter()
                        .any(|(dn, dv)| dn == fname && fvalue.as_ref().is_none_or(|fv| fv == dv))
                })
                && (!recent || s.last_sample() >= since)
                && s.last_sample() > 0
        })
        .map(|(k, _)| k)
        .collect();
    let page: Vec<Out> = matching
        .iter()
        .skip(skip)
        .take(LIST_PAGE)
        .map(|k| {
            Out::Struct(vec![
                ("Namespace", Out::Str(k.namespace.clone())),
                ("MetricName", Out::Str(k.name.clone())),
                (
                    "Dimensions",
                    Out::List(
                        k.dimensions
                            .iter()
                            .map(|(n, v)| {
                                Out::Struct(vec![
                                    ("Name", Out::Str(n.clone())),
                                    ("Value", Out::Str(v.clone())),
                                ])
                            })
                            .collect(),
                    ),
                ),
            ])
        })
        .collect();
    let mut fields = vec![("Metrics", Out::List(page))];
    if matching.len() > skip + LIST_PAGE {
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("list:{}", skip + LIST_PAGE));
        fields.push(("NextToken", Out::Str(token)));
    }
    Ok(Out::Struct(fields))
}

/// A metric put by PutMetricData, checked and ready to record.
pub struct Put {
    pub key: SeriesKey,
    pub at: f64,
    pub stats: Vec<Stats>,
    pub unit: Option<String>,
}

/// Checks a PutMetricData request and turns it into what to record.
///
/// # Errors
/// CloudWatch's error for the first thing wrong.
pub fn check_put(account: &str, v: &Value, now: f64) -> Result<Vec<Put>, CwError> {
    let namespace = required_text(v, "Namespace", "Namespace")?;
    if namespace.is_empty()
        || namespace.len() > 255
        || namespace.starts_with("AWS/")
        || namespace.starts_with(':')
    {
        return Err(CwError::invalid_value(format!(
            "The value {namespace} for parameter Namespace is invalid."
        )));
    }
    if v.get("MetricData").is_none() {
        return Err(CwError::missing("MetricData"));
    }
    let data = list(v, "MetricData");
    if data.len() > 1000 {
        return Err(CwError::invalid_value(
            "The collection MetricData must not have a size greater than 1000.",
        ));
    }
    let mut puts = Vec::with_capacity(data.len());
    for (i, d) in data.iter().enumerate() {
        let at = format!("MetricData.member.{}", i + 1);
        let name = required_text(d, "MetricName", &format!("{at}.MetricName"))?;
        if name.is_empty() || name.len() > 255 {
            return Err(CwError::invalid_value(format!(
                "The value {name} for parameter {at}.MetricName is invalid."
            )));
        }
        let dims = dimensions(d, &at)?;
        let unit = unit_of(d, &format!("{at}.Unit"))?;
        if let Some(r) =
            optional_number(d, "StorageResolution", &format!("{at}.StorageResolution"))?
        {
            if r != 1.0 && r != 60.0 {
                return Err(CwError::invalid_value(format!(
                    "The value {r} for parameter {at}.StorageResolution is invalid."
                )));
            }
        }
        let when = timestamp(d, "Timestamp", &format!("{at}.Timestamp"))?.unwrap_or(now);
        if when < now - 14.0 * 86_400.0 {
            return Err(CwError::invalid_value(format!(
                "The parameter {at}.Timestamp must specify a time no more than two weeks in the past."
            )));
        }
        if when > now + 2.0 * 3600.0 {
            return Err(CwError::invalid_value(format!(
                "The parameter {at}.Timestamp must specify a time no more than two hours in the future."
            )));
        }
        let finite = |x: f64, what: &str| -> Result<f64, CwError> {
            if x.is_finite()
                && x.abs() <= 2f64.powi(360)
                && (x == 0.0 || x.abs() >= 2f64.powi(-260))
            {
                Ok(x)
            } else {
                Err(CwError::invalid_value(format!(
                    "The value {x} for parameter {at}.{what} is invalid."
                )))
            }
        };
        let value = optional_number(d, "Value", &format!("{at}.Value"))?;
        let values = list(d, "Values");
        let counts = list(d, "Counts");
        let statistic_values = d.get("StatisticValues").filter(|s| !s.is_null());
        if value.is_some() && statistic_values.is_some() {
            return Err(CwError::combination(format!(
                "The parameters {at}.Value and {at}.StatisticValues are mutually exclusive and you have specified both."
            )));
        }
        if value.is_some() && !values.is_empty() {
            return Err(CwError::combination(format!(
                "The parameters {at}.Value and {at}.Values are mutually exclusive and you have specified both."
            )));
        }
        if !values.is_empty() && statistic_values.is_some() {
            return Err(CwError::combination(format!(
                "The parameters {at}.Values and {at}.StatisticValues are mutually exclusive and you have specified both."
            )));
        }
        if values.len() > 150 {
            return Err(CwError::invalid_value(format!(
                "The collection {at}.Values must not have a size greater than 150."
            )));
        }
        if !counts.is_empty() && counts.len() != values.len() {
            return Err(CwError::invalid_value(format!(
                "The parameters {at}.Values and {at}.Counts must be of the same size."
            )));
        }
        let mut stats = Vec::new();
        if let Some(x) = value {
            stats.push(Stats::one(finite(x, "Value")?));
        } else if let Some(sv) = statistic_values {
            let field = |f: &str| -> Result<f64, CwError> {
                let p = format!("{at}.StatisticValues.{f}");
                let x = optional_number(sv, f, &p)?.ok_or_else(|| CwError::missing(&p))?;
                finite(x, &format!("StatisticValues.{f}"))
            };
            let s = Stats {
                count: field("SampleCount")?,
                sum: field("Sum")?,
                min: field("Minimum")?,
                max: field("Maximum")?,
            };
            if s.count <= 0.0 || s.min > s.max {
                return Err(CwError::invalid_value(format!(
                    "The parameter {at}.StatisticValues is invalid: SampleCount must be positive and Minimum not above Maximum."
                )));
            }
            stats.push(s);
        } else if !values.is_empty() {
            for (j, x) in values.iter().enumerate() {
                let x = number(x).ok_or_else(|| {
                    CwError::invalid_value(format!(
                        "The value {} for parameter {at}.Values.member.{} is invalid.",
                        shown(x),
                        j + 1
                    ))
                })?;
                let x = finite(x, &format!("Values.member.{}", j + 1))?;
                let c = match counts.get(j) {
                    None => 1.0,
                    Some(c) => number(c)
                        .filter(|c| c.is_finite() && *c >= 0.0)
                        .ok_or_else(|| {
                            CwError::invalid_value(format!(
                                "The value {} for parameter {at}.Counts.member.{} is invalid.",
                                shown(c),
                                j + 1
                            ))
                        })?,
                };
                if c > 0.0 {
                    stats.push(Stats {
                        count: c,
                        sum: x * c,
                        min: x,
                        max: x,
                    });
                }
            }
        } else {
            return Err(CwError::missing(&format!("{at}.Value")));
        }
        puts.push(Put {
            key: SeriesKey::new(account, namespace, name, dims),
            at: when,
            stats,
            unit,
        });
    }
    Ok(puts)
}

fn put_metric_data(history: &History, account: &str, v: &Value) -> Result<Out, CwError> {
    record(history, &check_put(account, v, crate::history::now_f64())?);
    Ok(Out::Struct(Vec::new()))
}

/// Records what [`check_put`] accepted (PutMetricData's effect; its answer is empty).
pub fn record(history: &History, puts: &[Put]) {
    for p in puts {
        for s in &p.stats {
            history.record(&p.key, p.at, s, Some(p.unit.as_deref().unwrap_or("None")));
        }
    }
}
