//! CloudWatch's three wire protocols, as one request tree in and one answer tree out:
//!
//! - `smithy-rpc-v2-cbor` (botocore's first choice): `POST /service/GraniteServiceVersion20100801/operation/<Op>`,
//!   CBOR both ways, timestamps as tag 1 (epoch seconds);
//! - `awsJson1_0`: `X-Amz-Target: GraniteServiceVersion20100801.<Op>`, timestamps as epoch seconds;
//! - `awsQuery`: form-encoded `Action=<Op>&Version=2010-08-01&…` with lists as `Name.member.N`,
//!   answered in XML with ISO 8601 timestamps (older SDKs, the KPL and the Kinesis Agent).
//!
//! Requests become a `serde_json::Value` (numbers and booleans stay strings in the query form;
//! the operations read both), answers are built as [`Out`] and encoded for the protocol asked.

use std::collections::BTreeMap;

use ciborium::value::Value as Cbor;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The service name in the rpc-v2 path and the JSON target prefix.
pub const SERVICE: &str = "GraniteServiceVersion20100801";
/// The query protocol's XML namespace.
pub const XML_NAMESPACE: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";

/// Which protocol a request came in, and so how to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Cbor,
    Json,
    Query,
}

impl Protocol {
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Protocol::Cbor => "application/cbor",
            Protocol::Json => "application/x-amz-json-1.0",
            Protocol::Query => "text/xml",
        }
    }
}

/// An answer, before encoding.
#[derive(Clone, Debug, PartialEq)]
pub enum Out {
    Str(String),
    Num(f64),
    /// Seconds since the epoch.
    Time(f64),
    List(Vec<Out>),
    Struct(Vec<(&'static str, Out)>),
}

/// A request body that is not what its protocol says it is.
#[derive(Debug)]
pub struct Malformed(pub String);

/// Decodes a CBOR body (an empty body is an empty structure).
///
/// # Errors
/// A body that is not one CBOR map.
pub fn decode_cbor(body: &[u8]) -> Result<Value, Malformed> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let v: Cbor = ciborium::from_reader(body).map_err(|e| Malformed(e.to_string()))?;
    match cbor_to_json(v) {
        v @ Value::Object(_) => Ok(v),
        _ => Err(Malformed("the body is not a CBOR map".into())),
    }
}

fn cbor_to_json(v: Cbor) -> Value {
    match v {
        Cbor::Integer(i) => {
            let i = i128::from(i);
            i64::try_from(i).map_or_else(|_| Value::from(i as f64), Value::from)
        }
        Cbor::Float(f) => serde_json::Number::from_f64(f)
            .map_or_else(|| Value::String(non_finite(f)), Value::Number),
        Cbor::Text(s) => Value::String(s),
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Null => Value::Null,
        Cbor::Tag(_, inner) => cbor_to_json(*inner),
        Cbor::Array(a) => Value::Array(a.into_iter().map(cbor_to_json).collect()),
        Cbor::Map(m) => Value::Object(
            m.into_iter()
                .filter_map(|(k, v)| match k {
                    Cbor::Text(k) => Some((k, cbor_to_json(v))),
                    _ => None,
                })
                .collect(),
        ),
        Cbor::Bytes(b) => Value::String(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            b,
        )),
        _ => Value::Null,
    }
}

/// NaN and infinities as the query protocol spells them, so the operations can refuse them.
fn non_finite(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f > 0.0 {
        "Infinity".into()
    } else {
        "-Infinity".into()
    }
}

/// Decodes a JSON 1.0 body (an empty body is an empty structure).
///
/// # Errors
/// A body that is not one JSON object.
pub fn decode_json(body: &[u8]) -> Result<Value, Malformed> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(Malformed("the body is not a JSON object".into())),
        Err(e) => Err(Malformed(e.to_string())),
    }
}

/// A node of a query-form request while it is put together.
enum Node {
    Leaf(String),
    Struct(BTreeMap<String, Node>),
    List(BTreeMap<u32, Node>),
}

impl Node {
    fn into_value(self) -> Value {
        match self {
            Node::Leaf(s) => Value::String(s),
            Node::Struct(m) => {
                Value::Object(m.into_iter().map(|(k, v)| (k, v.into_value())).collect())
            }
            Node::List(m) => Value::Array(m.into_values().map(Node::into_value).collect()),
        }
    }
}

/// Decodes a query-form body: `Action`, then the parameters as a tree (`A.member.2.B=x` →
/// `{"A":[…, {"B":"x"}]}`; `Version` and unparseable keys are dropped).
#[must_use]
pub fn decode_query(body: &[u8]) -> (Option<String>, Value) {
    let mut action = None;
    let mut root = Node::Struct(BTreeMap::new());
    for (k, v) in form_urlencoded::parse(body) {
        if k == "Action" {
            action = Some(v.into_owned());
            continue;
        }
        if k == "Version" {
            continue;
        }
        let parts: Vec<&str> = k.split('.').collect();
        insert(&mut root, &parts, v.into_owned());
    }
    (action, root.into_value())
}

fn insert(node: &mut Node, path: &[&str], value: String) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Node::Struct(fields) = node else {
        return;
    };
    // `Name.member.N…`: a list.
    if let (Some(&"member"), Some(n)) = (rest.first(), rest.get(1)) {
        let Ok(n) = n.parse::<u32>() else {
            return;
        };
        let list = fields
            .entry((*first).to_owned())
            .or_insert_with(|| Node::List(BTreeMap::new()));
        let Node::List(items) = list else {
            return;
        };
        let tail = &rest[2..];
        if tail.is_empty() {
            items.insert(n, Node::Leaf(value));
        } else {
            let item = items
                .entry(n)
                .or_insert_with(|| Node::Struct(BTreeMap::new()));
            insert(item, tail, value);
        }
        return;
    }
    if rest.is_empty() {
        fields.insert((*first).to_owned(), Node::Leaf(value));
    } else {
        let child = fields
            .entry((*first).to_owned())
            .or_insert_with(|| Node::Struct(BTreeMap::new()));
        insert(child, rest, value);
    }
}

/// Encodes an answer for the rpc-v2 CBOR protocol.
#[must_use]
pub fn encode_cbor(out: &Out) -> Vec<u8> {
    fn conv(o: &Out) -> Cbor {
        match o {
            Out::Str(s) => Cbor::Text(s.clone()),
            Out::Num(n) => Cbor::Float(*n),
            Out::Time(t) => Cbor::Tag(1, Box::new(Cbor::Float(*t))),
            Out::List(l) => Cbor::Array(l.iter().map(conv).collect()),
            Out::Struct(f) => Cbor::Map(
                f.iter()
                    .map(|(k, v)| (Cbor::Text((*k).to_owned()), conv(v)))
                    .collect(),
            ),
        }
    }
    let mut buf = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = ciborium::into_writer(&conv(out), &mut buf);
    buf
}

/// Encodes an answer for JSON 1.0.
#[must_use]
pub fn encode_json(out: &Out) -> Vec<u8> {
    fn conv(o: &Out) -> Value {
        match o {
            Out::Str(s) => Value::String(s.clone()),
            Out::Num(n) | Out::Time(n) => number(*n),
            Out::List(l) => Value::Array(l.iter().map(conv).collect()),
            Out::Struct(f) => {
                Value::Object(f.iter().map(|(k, v)| ((*k).to_owned(), conv(v))).collect())
            }
        }
    }
    serde_json::to_vec(&conv(out)).unwrap_or_default()
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// ISO 8601 in UTC, as the query protocol writes timestamps (`2026-12-05T03:04:00Z`).
#[must_use]
pub fn iso8601(secs: f64) -> String {
    let nanos = (secs * 1e9).round() as i128;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Parses an ISO 8601 (RFC 3339) timestamp into seconds since the epoch.
#[must_use]
pub fn parse_iso8601(s: &str) -> Option<f64> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339).ok()?;
    Some(t.unix_timestamp_nanos() as f64 / 1e9)
}

fn xml_escape(s: &str, into: &mut String) {
    for c in s.chars() {
        match c {
            '&' => into.push_str("&amp;"),
            '<' => into.push_str("&lt;"),
            '>' => into.push_str("&gt;"),
            '"' => into.push_str("&quot;"),
            '\'' => into.push_str("&apos;"),
            c => into.push(c),
        }
    }
}

fn xml_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        format!("{:.1}", n)
    } else {
        format!("{n}")
    }
}

fn xml_fields(fields: &[(&'static str, Out)], into: &mut String) {
    for (k, v) in fields {
        into.push('<');
        into.push_str(k);
        into.push('>');
        xml_value(v, into);
        into.push_str("</");
        into.push_str(k);
        into.push('>');
    }
}

fn xml_value(v: &Out, into: &mut String) {
    match v {
        Out::Str(s) => xml_escape(s, into),
        Out::Num(n) => into.push_str(&xml_number(*n)),
        Out::Time(t) => into.push_str(&iso8601(*t)),
        Out::List(items) => {
            for i in items {
                into.push_str("<member>");
                xml_value(i, into);
                into.push_str("</member>");
            }
        }
        Out::Struct(f) => xml_fields(f, into),
    }
}

/// Encodes an answer for the query protocol: `<OpResponse><OpResult>…</OpResult><ResponseMetadata>…`
/// (no result element for an operation without output).
#[must_use]
pub fn encode_xml(operation: &str, out: &Out, request_id: &str) -> Vec<u8> {
    let mut s = String::with_capacity(512);
    s.push('<');
    s.push_str(operation);
    s.push_str("Response xmlns=\"");
    s.push_str(XML_NAMESPACE);
    s.push_str("\">\n");
    if let Out::Struct(fields) = out {
        if !fields.is_empty() || operation != "PutMetricData" {
            s.push_str("  <");
            s.push_str(operation);
            s.push_str("Result>");
            xml_fields(fields, &mut s);
            s.push_str("</");
            s.push_str(operation);
            s.push_str("Result>\n");
        }
    }
    s.push_str("  <ResponseMetadata>\n    <RequestId>");
    xml_escape(request_id, &mut s);
    s.push_str("</RequestId>\n  </ResponseMetadata>\n</");
    s.push_str(operation);
    s.push_str("Response>\n");
    s.into_bytes()
}

/// An error as the query protocol writes it.
#[must_use]
pub fn encode_xml_error(code: &str, message: &str, sender: bool, request_id: &str) -> Vec<u8> {
    let mut s = String::with_capacity(256);
    s.push_str("<ErrorResponse xmlns=\"");
    s.push_str(XML_NAMESPACE);
    s.push_str("\">\n  <Error>\n    <Type>");
    s.push_str(if sender { "Sender" } else { "Receiver" });
    s.push_str("</Type>\n    <Code>");
    xml_escape(code, &mut s);
    s.push_str("</Code>\n    <Message>");
    xml_escape(message, &mut s);
    s.push_str("</Message>\n  </Error>\n  <RequestId>");
    xml_escape(request_id, &mut s);
    s.push_str("</RequestId>\n</ErrorResponse>\n");
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_forms_become_trees_with_lists_in_order() {
        let body = b"Action=PutMetricData&Version=2010-08-01&Namespace=App&MetricData.member.2.MetricName=B\
&MetricData.member.1.MetricName=A&MetricData.member.1.Dimensions.member.1.Name=Host\
&MetricData.member.1.Dimensions.member.1.Value=h%201&MetricData.member.1.Values.member.1=2.5";
        let (action, v) = decode_query(body);
        assert_eq!(action.as_deref(), Some("PutMetricData"));
        assert_eq!(
            v,
            serde_json::json!({
                "Namespace": "App",
                "MetricData": [
                    {"MetricName": "A", "Dimensions": [{"Name": "Host", "Value": "h 1"}], "Values": ["2.5"]},
                    {"MetricName": "B"}
                ]
            })
        );
    }

    #[test]
    fn answers_encode_in_each_protocol() {
        let out = Out::Struct(vec![
            ("Label", Out::Str("a<b".into())),
            (
                "Datapoints",
                Out::List(vec![Out::Struct(vec![
                    ("Timestamp", Out::Time(1_764_903_600.0)),
                    ("Sum", Out::Num(3.0)),
                ])]),
            ),
        ]);
        let json: Value = serde_json::from_slice(&encode_json(&out)).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"Label": "a<b", "Datapoints": [{"Timestamp": 1_764_903_600, "Sum": 3}]})
        );
        let xml =
            String::from_utf8(encode_xml("GetMetricStatistics", &out, "r1")).unwrap_or_default();
        assert!(xml.contains("<Label>a&lt;b</Label><Datapoints><member><Timestamp>2025-12-05T03:00:00Z</Timestamp><Sum>3.0</Sum></member></Datapoints>"), "{xml}");
        let cbor: Cbor = ciborium::from_reader(&encode_cbor(&out)[..]).unwrap_or(Cbor::Null);
        let back = cbor_to_json(cbor);
        assert_eq!(
            back["Datapoints"][0]["Timestamp"].as_f64(),
            Some(1_764_903_600.0)
        );
        assert_eq!(parse_iso8601("2025-12-05T03:00:00Z"), Some(1_764_903_600.0));
        assert_eq!(
            parse_iso8601("2025-12-05T03:00:00.500Z"),
            Some(1_764_903_600.5)
        );
    }
}
