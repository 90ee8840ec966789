use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue};
use shardline_wire::{ApiError, ErrorCode};

use super::*;
use shardline_wire::sigv4::*;

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const ACCOUNT: &str = "111111111111";
const DATE: &str = "20240102T030405Z";
const VECTOR_SIGNATURE: &str = "ce06bbc52a0da2dc2e4168539f938c3188f14dd8a8af44ec8fdedcf1354e4abc";
const VECTOR_CANONICAL: &str = "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:localhost:4567\nx-amz-date:20240102T030405Z\nx-amz-target:Kinesis_20131202.ListStreams\n\ncontent-type;host;x-amz-date;x-amz-target\n44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
const VECTOR_STS: &str = "AWS4-HMAC-SHA256\n20240102T030405Z\n20240102/us-east-1/kinesis/aws4_request\n4c91ffe3ee28f8b3069661cd35b360c9bcf3f8ad88315994d84608152c99edc8";

fn at(date: &str) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(parse_amz_date(date).expect("valid date") as u64)
}

fn now() -> SystemTime {
    at(DATE)
}

fn creds() -> Credentials {
    Credentials::from_entries([AccessKey::new(AKID, SECRET, ACCOUNT)]).unwrap()
}

fn signer() -> Signer<'static> {
    Signer::new(AKID, SECRET, "us-east-1")
}

struct Req {
    method: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    authority: Option<String>,
    body: Vec<u8>,
}

impl Req {
    fn new(headers: &[(&str, &str)], body: &str) -> Self {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Req {
            method: "POST".into(),
            path: "/".into(),
            query: None,
            headers: map,
            authority: None,
            body: body.as_bytes().to_vec(),
        }
    }

    /// An unsigned ListStreams call as botocore builds it.
    fn list_streams() -> Self {
        Req::new(
            &[
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", "Kinesis_20131202.ListStreams"),
                ("host", "localhost:4567"),
            ],
            "{}",
        )
    }

    /// A ListStreams request exactly as botocore 1.x signed it (key AKIDEXAMPLE, 2024-01-02).
    fn vector() -> Self {
        let mut r = Req::list_streams();
        r.set("x-amz-date", DATE);
        r.set(
            "authorization",
            &format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={VECTOR_SIGNATURE}"),
        );
        r
    }

    fn set(&mut self, name: &str, value: &str) {
        self.headers.insert(
            http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }

    fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
            authority: self.authority.as_deref(),
            body: &self.body,
        }
    }

    fn sign_with(&mut self, signer: &Signer<'_>, time: SystemTime) {
        self.headers = signer.sign(&self.parts(), time);
    }

    fn sign(&mut self) {
        self.sign_with(&signer(), now());
    }

    fn presign(&mut self, expires: Option<u64>, time: SystemTime) {
        self.query = Some(signer().presign(&self.parts(), expires, time));
    }

    fn verify_with(&self, creds: &Credentials, time: SystemTime) -> Result<Verified, ApiError> {
        verify(creds, &self.parts(), time)
    }

    fn verify(&self) -> Result<Verified, ApiError> {
        self.verify_with(&creds(), now())
    }
}

fn verified() -> Verified {
    Verified {
        access_key_id: AKID.into(),
        account_id: ACCOUNT.into(),
        region: "us-east-1".into(),
        admin: false,
    }
}

#[track_caller]
fn assert_err(result: Result<Verified, ApiError>, code: ErrorCode, message: &str) {
    let e = result.expect_err("verification should fail");
    assert_eq!(e.code, code, "{e}");
    assert_eq!(e.message.as_deref(), Some(message));
}

#[track_caller]
fn assert_mismatch(result: Result<Verified, ApiError>) -> String {
    let e = result.expect_err("verification should fail");
    assert_eq!(e.code, ErrorCode::InvalidSignature, "{e}");
    let m = e.message.unwrap();
    assert!(m.starts_with(SIGNATURE_MISMATCH), "{m}");
    m
}

// ---- the reference vector ------------------------------------------------------------------

#[test]
fn reference_vector_verifies() {
    assert_eq!(Req::vector().verify(), Ok(verified()));
}

#[test]
fn reference_vector_intermediate_strings() {
    let r = Req::vector();
    let signed: Vec<String> = ["content-type", "host", "x-amz-date", "x-amz-target"]
        .map(String::from)
        .to_vec();
    let creq = canonical_request(
        "POST",
        &canonical_uri("/"),
        &canonical_query(&[], None),
        &canonical_headers(&r.headers, None, &signed),
        "content-type;host;x-amz-date;x-amz-target",
        &sha256_hex(b"{}"),
    );
    assert_eq!(creq, VECTOR_CANONICAL);
    let sts = string_to_sign(DATE, "20240102/us-east-1/kinesis/aws4_request", &creq);
    assert_eq!(sts, VECTOR_STS);
    let key = signing_key(SECRET, "20240102", "us-east-1", "kinesis");
    assert_eq!(signature(&key, &sts), VECTOR_SIGNATURE);
}

#[test]
fn signer_reproduces_reference_vector() {
    let mut r = Req::list_streams();
    r.sign();
    let auth = r.headers.get("authorization").unwrap().to_str().unwrap();
    assert_eq!(
        auth,
        Req::vector()
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap()
    );
}

#[test]
fn mismatch_message_carries_canonical_request_and_string_to_sign() {
    let mut r = Req::vector();
    r.body = b"{ }".to_vec();
    let m = assert_mismatch(r.verify());
    let body_hash = sha256_hex(b"{ }");
    let creq = VECTOR_CANONICAL.replace(
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        &body_hash,
    );
    let sts = string_to_sign(DATE, "20240102/us-east-1/kinesis/aws4_request", &creq);
    assert_eq!(
        m,
        format!("{SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have been\n'{creq}'\n\nThe String-to-Sign should have been\n'{sts}'\n")
    );
}

// ---- tampering -----------------------------------------------------------------------------

#[test]
fn tampered_body_fails() {
    let mut r = Req::vector();
    r.body = b"{\"Limit\":1}".to_vec();
    assert_mismatch(r.verify());
}

#[test]
fn tampered_signed_header_fails() {
    let mut r = Req::vector();
    r.set("x-amz-target", "Kinesis_20131202.DeleteStream");
    assert_mismatch(r.verify());
    let mut r = Req::vector();
    r.set("host", "localhost:4568");
    assert_mismatch(r.verify());
}

#[test]
fn tampered_date_fails() {
    let mut r = Req::vector();
    r.set("x-amz-date", "20240102T030406Z");
    assert_mismatch(r.verify());
}

#[test]
fn tampered_signature_fails() {
    let mut r = Req::vector();
    let auth = r.headers["authorization"]
        .to_str()
        .unwrap()
        .replace("ce06", "ce07");
    r.set("authorization", &auth);
    assert_mismatch(r.verify());
    // Case matters: AWS signatures are lowercase hex.
    let mut r = Req::vector();
    let auth = r.headers["authorization"]
        .to_str()
        .unwrap()
        .replace("ce06bb", "CE06BB");
    r.set("authorization", &auth);
    assert_mismatch(r.verify());
}

#[test]
fn wrong_secret_fails() {
    let other =
        Credentials::from_entries([AccessKey::new(AKID, "not-the-secret", ACCOUNT)]).unwrap();
    assert_mismatch(Req::vector().verify_with(&other, now()));
}

#[test]
fn wrong_method_or_path_or_query_fails() {
    let mut r = Req::vector();
    r.method = "PUT".into();
    assert_mismatch(r.verify());
    let mut r = Req::vector();
    r.path = "/x".into();
    assert_mismatch(r.verify());
    let mut r = Req::vector();
    r.query = Some("a=b".into());
    assert_mismatch(r.verify());
}

#[test]
fn unsigned_header_may_be_added() {
    let mut r = Req::vector();
    r.set("user-agent", "added-after-signing");
    assert_eq!(r.verify(), Ok(verified()));
}

// ---- missing and incomplete ----------------------------------------------------------------

#[test]
fn no_authentication_at_all() {
    assert_err(
        Req::list_streams().verify(),
        ErrorCode::MissingAuthenticationToken,
        "Missing Authentication Token",
    );
    // An empty Authorization header counts as none.
    let mut r = Req::list_streams();
    r.set("authorization", "  ");
    assert_err(
        r.verify(),
        ErrorCode::MissingAuthenticationToken,
        "Missing Authentication Token",
    );
}

#[test]
fn header_and_query_both() {
    let mut r = Req::vector();
    r.query = Some("X-Amz-Algorithm".into());
    assert_err(
        r.verify(),
        ErrorCode::InvalidSignature,
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
    );
}

#[test]
fn authorization_header_with_nothing_in_it() {
    // kinesalite test/connection.js "should return IncompleteSignatureException if invalid auth".
    let mut r = Req::list_streams();
    r.set("authorization", "X");
    let want = "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=X";
    assert_err(r.verify(), ErrorCode::IncompleteSignature, want);
    // A query without X-Amz-Algorithm does not make it the query form.
    r.query = Some("X-Amz-Algorith".into());
    assert_err(r.verify(), ErrorCode::IncompleteSignature, want);
}

#[test]
fn authorization_header_missing_signed_headers() {
    for header in [
        "AWS4- Signature=b Credential=a",
        "AWS4- Signature=b,Credential=a",
        "AWS4- Signature=b, Credential=a",
    ] {
        let mut r = Req::list_streams();
        r.set("authorization", header);
        r.set("date", "a");
        assert_err(
            r.verify(),
            ErrorCode::IncompleteSignature,
            &format!(
                "Authorization header requires 'SignedHeaders' parameter. Authorization={header}"
            ),
        );
    }
}

#[test]
fn authorization_header_missing_each_piece() {
    let full = |drop: &str| {
        [
            "Credential=AKIDEXAMPLE/20240102/us-east-1/kinesis/aws4_request",
            "SignedHeaders=host;x-amz-date",
            "Signature=abc",
        ]
        .into_iter()
        .filter(|p| !p.starts_with(drop))
        .collect::<Vec<_>>()
        .join(", ")
    };
    for (drop, text) in [
        (
            "Credential",
            "Authorization header requires 'Credential' parameter.",
        ),
        (
            "Signature",
            "Authorization header requires 'Signature' parameter.",
        ),
        (
            "SignedHeaders",
            "Authorization header requires 'SignedHeaders' parameter.",
        ),
    ] {
        let header = format!("AWS4-HMAC-SHA256 {}", full(drop));
        let mut r = Req::list_streams();
        r.set("x-amz-date", DATE);
        r.set("authorization", &header);
        assert_err(
            r.verify(),
            ErrorCode::IncompleteSignature,
            &format!("{text} Authorization={header}"),
        );
    }
    // No date at all.
    let header = format!("AWS4-HMAC-SHA256 {}", full("-"));
    let mut r = Req::list_streams();
    r.set("authorization", &header);
    assert_err(
        r.verify(),
        ErrorCode::IncompleteSignature,
        &format!("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={header}"),
    );
    // An empty value counts as missing.
    let header = "AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=abc";
    r.set("authorization", header);
    r.set("x-amz-date", DATE);
    assert_err(
        r.verify(),
        ErrorCode::IncompleteSignature,
        &format!("Authorization header requires 'Credential' parameter. Authorization={header}"),
    );
}

#[test]
fn authorization_parameter_without_equal_sign() {
    // The shape of aws/aws-sdk-go#289: a space inside the credential.
    let header = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE /20240102/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
    let mut r = Req::list_streams();
    r.set("x-amz-date", DATE);
    r.set("authorization", header);
    assert_err(
        r.verify(),
        ErrorCode::IncompleteSignature,
        &format!("'/20240102/us-east-1/kinesis/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header: '{header}'."),
    );
}

#[test]
fn presigned_query_missing_parameters() {
    let mut r = Req::list_streams();
    r.query = Some("X-Amz-Algorithm".into());
    assert_err(
        r.verify(),
        ErrorCode::IncompleteSignature,
        "AWS query-string parameters must include 'X-Amz-Algorithm'. AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters.",
    );
    r.query = Some("X-Amz-Algorithm=a&X-Amz-Credential=b&X-Amz-Signature=c&X-Amz-Date=d".into());
    assert_err(
        r.verify(),
        ErrorCode::IncompleteSignature,
        "AWS query-string parameters must include 'X-Amz-SignedHeaders'. Re-examine the query-string parameters.",
    );
    // Without X-Amz-Algorithm the other parameters do not make a signature.
    r.query =
        Some("X-Amz-Credential=a&X-Amz-Signature=b&X-Amz-SignedHeaders=c&X-Amz-Date=d".into());
    assert_err(
        r.verify(),
        ErrorCode::MissingAuthenticationToken,
        "Missing Authentication Token",
    );
}

// ---- later checks, in order ----------------------------------------------------------------

fn header_with(credential: &str, signed_headers: &str, algorithm: &str) -> Req {
    let mut r = Req::list_streams();
    r.set("x-amz-date", DATE);
    r.set(
        "authorization",
        &format!(
            "{algorithm} Credential={credential}, SignedHeaders={signed_headers}, Signature=abc"
        ),
    );
    r
}

const CRED: &str = "AKIDEXAMPLE/20240102/us-east-1/kinesis/aws4_request";

#[test]
fn date_not_basic_format() {
    for bad in [
        "a",
        "2024-01-02T03:04:05Z",
        "20241302T030405Z",
        "20240230T030405Z",
        "20240102T250405Z",
    ] {
        let mut r = header_with(CRED, "host;x-amz-date", ALGORITHM);
        r.set("x-amz-date", bad);
        assert_err(
            r.verify(),
            ErrorCode::IncompleteSignature,
            &format!("Date must be in ISO-8601 'basic format'. Got '{bad}'. See http://en.wikipedia.org/wiki/ISO_8601"),
        );
    }
}

#[test]
fn date_header_is_used_without_x_amz_date() {
    // Signed by hand with the Date header and no X-Amz-Date.
    let mut r = Req::list_streams();
    r.set("date", DATE);
    let names: Vec<String> = ["content-type", "date", "host", "x-amz-target"]
        .map(String::from)
        .to_vec();
    let creq = canonical_request(
        "POST",
        "/",
        "",
        &canonical_headers(&r.headers, None, &names),
        &names.join(";"),
        &sha256_hex(b"{}"),
    );
    let sts = string_to_sign(DATE, "20240102/us-east-1/kinesis/aws4_request", &creq);
    let sig = signature(
        &signing_key(SECRET, "20240102", "us-east-1", "kinesis"),
        &sts,
    );
    r.set(
        "authorization",
        &format!(
            "AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders={}, Signature={sig}",
            names.join(";")
        ),
    );
    assert_eq!(r.verify(), Ok(verified()));
}

#[test]
fn host_must_be_signed() {
    for signed in ["content-type;x-amz-date", ""] {
        assert_err(
            header_with(CRED, signed, ALGORITHM).verify(),
            ErrorCode::InvalidSignature,
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        );
    }
}

#[test]
fn unsupported_algorithm() {
    assert_err(
        header_with(CRED, "host", "AWS4-HMAC-SHA512").verify(),
        ErrorCode::IncompleteSignature,
        "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). ",
    );
}

#[test]
fn credential_must_have_five_parts() {
    assert_err(
        header_with("AKIDEXAMPLE/20240102/us-east-1/kinesis", "host", ALGORITHM).verify(),
        ErrorCode::IncompleteSignature,
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDEXAMPLE/20240102/us-east-1/kinesis'",
    );
}

#[test]
fn credential_scope_checks() {
    assert_err(
        header_with(
            "AKIDEXAMPLE/20240102/us-east-1/dynamodb/aws4_request",
            "host",
            ALGORITHM,
        )
        .verify(),
        ErrorCode::InvalidSignature,
        "Credential should be scoped to correct service: 'kinesis'. ",
    );
    assert_err(
        header_with("AKIDEXAMPLE/20240101//kinesis2/aws5_request", "host", ALGORITHM).verify(),
        ErrorCode::InvalidSignature,
        "Credential should be scoped to a valid region, not ''. Credential should be scoped to correct service: 'kinesis'. Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240101' != '20240102', from '20240102T030405Z'.",
    );
}

#[test]
fn any_region_is_accepted_and_reported() {
    let mut r = Req::list_streams();
    r.sign_with(&Signer::new(AKID, SECRET, "eu-west-3"), now());
    assert_eq!(
        r.verify().unwrap(),
        Verified {
            region: "eu-west-3".into(),
            ..verified()
        }
    );
}

#[test]
fn unknown_access_key() {
    let mut r = Req::list_streams();
    r.sign_with(&Signer::new("AKIDUNKNOWN", SECRET, "us-east-1"), now());
    assert_err(
        r.verify(),
        ErrorCode::UnrecognizedClient,
        "The security token included in the request is invalid.",
    );
}

#[test]
fn several_keys_map_to_their_accounts() {
    let creds = Credentials::from_entries([
        AccessKey::new(AKID, SECRET, ACCOUNT),
        AccessKey::new("AKIDOTHER", "other-secret", "222222222222"),
    ])
    .unwrap();
    let mut r = Req::list_streams();
    r.sign_with(
        &Signer::new("AKIDOTHER", "other-secret", "us-west-2"),
        now(),
    );
    assert_eq!(
        r.verify_with(&creds, now()),
        Ok(Verified {
            access_key_id: "AKIDOTHER".into(),
            account_id: "222222222222".into(),
            region: "us-west-2".into(),
            admin: false,
        })
    );
    // The other key's secret does not sign for this one.
    let mut r = Req::list_streams();
    r.sign_with(&Signer::new("AKIDOTHER", SECRET, "us-west-2"), now());
    assert_mismatch(r.verify_with(&creds, now()));
}

// ---- clock skew ----------------------------------------------------------------------------

#[test]
fn clock_skew_window_edges() {
    let r = Req::vector();
    assert!(r.verify_with(&creds(), at("20240102T030905Z")).is_ok());
    assert!(r.verify_with(&creds(), at("20240102T025905Z")).is_ok());
}

#[test]
fn signature_expired() {
    assert_err(
        Req::vector().verify_with(&creds(), at("20240102T030906Z")),
        ErrorCode::InvalidSignature,
        "Signature expired: 20240102T030405Z is now earlier than 20240102T030406Z (20240102T030906Z - 5 min.)",
    );
}

#[test]
fn signature_not_yet_current() {
    assert_err(
        Req::vector().verify_with(&creds(), at("20240102T025904Z")),
        ErrorCode::InvalidSignature,
        "Signature not yet current: 20240102T030405Z is still later than 20240102T030404Z (20240102T025904Z + 5 min.)",
    );
}

// ---- HTTP/2, repeated headers, whitespace --------------------------------------------------

#[test]
fn http2_authority_stands_in_for_host() {
    // The reference request over HTTP/2: no Host header, the same value as :authority.
    let mut r = Req::vector();
    r.headers.remove("host");
    assert_mismatch(r.verify());
    r.authority = Some("localhost:4567".into());
    assert_eq!(r.verify(), Ok(verified()));
    r.authority = Some("localhost:4568".into());
    assert_mismatch(r.verify());
    // A client that signs with the authority verifies too.
    let mut r = Req::list_streams();
    r.headers.remove("host");
    r.authority = Some("kinesis.local:443".into());
    r.sign();
    assert_eq!(r.verify(), Ok(verified()));
    // With both, the Host header wins.
    let mut r = Req::vector();
    r.authority = Some("elsewhere:1".into());
    assert_eq!(r.verify(), Ok(verified()));
}

#[test]
fn repeated_headers_are_comma_joined_in_order() {
    let mut r = Req::list_streams();
    r.headers.append("x-custom", HeaderValue::from_static("a"));
    r.headers
        .append("x-custom", HeaderValue::from_static(" b "));
    assert_eq!(
        canonical_headers(&r.headers, None, &["x-custom".to_string()]),
        "x-custom:a,b\n"
    );
    r.sign();
    assert!(r.headers["authorization"]
        .to_str()
        .unwrap()
        .contains("x-custom"));
    assert_eq!(r.verify(), Ok(verified()));
    // Another order of the values is another request.
    let mut swapped = r.headers.clone();
    swapped.remove("x-custom");
    swapped.append("x-custom", HeaderValue::from_static("b"));
    swapped.append("x-custom", HeaderValue::from_static("a"));
    r.headers = swapped;
    assert_mismatch(r.verify());
}

#[test]
fn header_whitespace_is_trimmed_and_collapsed() {
    let mut r = Req::list_streams();
    r.set("x-custom", "  a   b \t c  ");
    assert_eq!(
        canonical_headers(&r.headers, None, &["x-custom".to_string()]),
        "x-custom:a b c\n"
    );
    r.sign();
    assert_eq!(r.verify(), Ok(verified()));
    // The same value with other spacing has the same canonical form.
    r.set("x-custom", "a b c");
    assert_eq!(r.verify(), Ok(verified()));
    // Different words do not.
    r.set("x-custom", "a bc");
    assert_mismatch(r.verify());
}

#[test]
fn signed_header_missing_from_request_fails() {
    let mut r = Req::list_streams();
    r.set("x-custom", "v");
    r.sign();
    r.headers.remove("x-custom");
    assert_mismatch(r.verify());
}

// ---- payload hash --------------------------------------------------------------------------

#[test]
fn unsigned_payload_leaves_the_body_out() {
    let mut r = Req::list_streams();
    r.set("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    r.sign();
    r.body = b"{\"anything\":1}".to_vec();
    assert_eq!(r.verify(), Ok(verified()));
}

#[test]
fn content_sha256_header_cannot_vouch_for_another_body() {
    let mut r = Req::list_streams();
    r.set("x-amz-content-sha256", &sha256_hex(b"{}"));
    r.sign();
    assert_eq!(r.verify(), Ok(verified()));
    r.body = b"{\"Limit\":1}".to_vec();
    assert_mismatch(r.verify());
}

// ---- presigned query form ------------------------------------------------------------------

#[test]
fn presigned_request_verifies() {
    let mut r = Req::list_streams();
    r.presign(Some(300), now());
    let q = r.query.clone().unwrap();
    assert!(q.contains("X-Amz-Algorithm=AWS4-HMAC-SHA256"), "{q}");
    assert!(
        q.contains("X-Amz-Credential=AKIDEXAMPLE%2F20240102%2Fus-east-1%2Fkinesis%2Faws4_request"),
        "{q}"
    );
    assert_eq!(r.verify(), Ok(verified()));
    // The body is not signed (UNSIGNED-PAYLOAD).
    r.body = b"{\"Limit\":1}".to_vec();
    assert_eq!(r.verify(), Ok(verified()));
}

#[test]
fn presigned_request_keeps_other_query_parameters_signed() {
    let mut r = Req::list_streams();
    r.query = Some("b=2&a=x%20y".into());
    r.presign(None, now());
    assert_eq!(r.verify(), Ok(verified()));
    let q = r.query.clone().unwrap();
    r.query = Some(q.replace("b=2", "b=3"));
    assert_mismatch(r.verify());
    r.query = Some(format!("{q}&c=1"));
    assert_mismatch(r.verify());
}

#[test]
fn presigned_tampering_fails() {
    let mut r = Req::list_streams();
    r.presign(None, now());
    let q = r.query.clone().unwrap();
    let sig_at = q.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut bad = q.clone();
    let c = if &q[sig_at..=sig_at] == "0" { "1" } else { "0" };
    bad.replace_range(sig_at..=sig_at, c);
    r.query = Some(bad);
    assert_mismatch(r.verify());
    r.query = Some(q);
    r.set("x-amz-target", "Kinesis_20131202.DeleteStream");
    assert_mismatch(r.verify());
}

#[test]
fn presigned_with_body_hash_verifies() {
    // Some signers presign with the body's hash instead of UNSIGNED-PAYLOAD.
    let mut r = Req::list_streams();
    let names = vec!["host".to_string()];
    let mut params = vec![
        ("X-Amz-Algorithm".to_string(), ALGORITHM.to_string()),
        ("X-Amz-Credential".to_string(), CRED.to_string()),
        ("X-Amz-Date".to_string(), DATE.to_string()),
        ("X-Amz-SignedHeaders".to_string(), "host".to_string()),
    ];
    let creq = canonical_request(
        "POST",
        "/",
        &canonical_query(&params, None),
        &canonical_headers(&r.headers, None, &names),
        "host",
        &sha256_hex(b"{}"),
    );
    let sts = string_to_sign(DATE, "20240102/us-east-1/kinesis/aws4_request", &creq);
    params.push((
        "X-Amz-Signature".into(),
        signature(
            &signing_key(SECRET, "20240102", "us-east-1", "kinesis"),
            &sts,
        ),
    ));
    r.query = Some(
        params
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace('/', "%2F")))
            .collect::<Vec<_>>()
            .join("&"),
    );
    assert_eq!(r.verify(), Ok(verified()));
    r.body = b"{ }".to_vec();
    assert_mismatch(r.verify());
}

#[test]
fn presigned_expiry() {
    let mut r = Req::list_streams();
    r.presign(Some(60), now());
    assert!(r.verify_with(&creds(), at("20240102T030505Z")).is_ok());
    assert_err(
        r.verify_with(&creds(), at("20240102T030506Z")),
        ErrorCode::InvalidSignature,
        "Signature expired: 20240102T030405Z is now earlier than 20240102T030406Z (20240102T030506Z - 1 min.)",
    );
    // A week-long URL is good for longer than the clock skew.
    let mut r = Req::list_streams();
    r.presign(Some(604_800), now());
    assert!(r.verify_with(&creds(), at("20240108T030405Z")).is_ok());
    // Without X-Amz-Expires the clock-skew window applies.
    let mut r = Req::list_streams();
    r.presign(None, now());
    assert_err(
        r.verify_with(&creds(), at("20240102T030906Z")),
        ErrorCode::InvalidSignature,
        "Signature expired: 20240102T030405Z is now earlier than 20240102T030406Z (20240102T030906Z - 5 min.)",
    );
    // Presigned for the future.
    assert_err(
        r.verify_with(&creds(), at("20240102T025904Z")),
        ErrorCode::InvalidSignature,
        "Signature not yet current: 20240102T030405Z is still later than 20240102T030404Z (20240102T025904Z + 5 min.)",
    );
}

#[test]
fn presigned_bad_expires() {
    for (expires, text) in [
        ("soon", "X-Amz-Expires should be a number"),
        ("-1", "X-Amz-Expires must be non-negative"),
        (
            "604801",
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ),
    ] {
        let mut r = Req::list_streams();
        r.presign(None, now());
        r.query = Some(format!(
            "{}&X-Amz-Expires={expires}",
            r.query.as_deref().unwrap()
        ));
        assert_err(r.verify(), ErrorCode::IncompleteSignature, text);
    }
}

#[test]
fn presigned_wrong_algorithm() {
    let mut r = Req::list_streams();
    r.presign(None, now());
    r.query = Some(
        r.query
            .as_deref()
            .unwrap()
            .replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"),
    );
    assert_err(
        r.verify(),
        ErrorCode::MissingAuthenticationToken,
        "Missing Authentication Token",
    );
}

// ---- session tokens ------------------------------------------------------------------------

#[test]
fn session_token_configured_must_match() {
    let creds =
        Credentials::from_entries(
            [AccessKey::new(AKID, SECRET, ACCOUNT).with_session_token("tok")],
        )
        .unwrap();
    let sign = |token: Option<&'static str>| {
        let mut r = Req::list_streams();
        r.sign_with(
            &Signer {
                session_token: token,
                ..signer()
            },
            now(),
        );
        r
    };
    assert_eq!(sign(Some("tok")).verify_with(&creds, now()), Ok(verified()));
    for token in [Some("other"), None] {
        assert_err(
            sign(token).verify_with(&creds, now()),
            ErrorCode::UnrecognizedClient,
            "The security token included in the request is invalid",
        );
    }
    // A key without a configured token ignores a token sent.
    assert_eq!(sign(Some("whatever")).verify(), Ok(verified()));
    // In the presigned form too.
    let mut r = Req::list_streams();
    r.query = Some(
        Signer {
            session_token: Some("tok"),
            ..signer()
        }
        .presign(&r.parts(), None, now()),
    );
    assert_eq!(r.verify_with(&creds, now()), Ok(verified()));
}

// ---- building blocks -----------------------------------------------------------------------

#[test]
fn amz_dates() {
    assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
    assert_eq!(parse_amz_date(DATE), Some(1_704_164_645));
    assert_eq!(
        parse_amz_date("20240229T235959Z")
            .map(format_amz_date)
            .as_deref(),
        Some("20240229T235959Z")
    );
    assert_eq!(parse_amz_date("20230229T000000Z"), None);
    assert_eq!(parse_amz_date("20240102T030405"), None);
    assert_eq!(parse_amz_date("2024010xT030405Z"), None);
    assert_eq!(parse_amz_date("+0240102T030405Z"), None);
    assert_eq!(format_amz_date(1_704_164_645), DATE);
}

#[test]
fn canonical_uris() {
    assert_eq!(canonical_uri(""), "/");
    assert_eq!(canonical_uri("/"), "/");
    assert_eq!(canonical_uri("/a/./b/../c"), "/a/c");
    assert_eq!(canonical_uri("/a/b/.."), "/a/");
    assert_eq!(canonical_uri("/.."), "/");
    // Non-S3 services encode the (already encoded) path once more.
    assert_eq!(canonical_uri("/a%20b/~c"), "/a%2520b/~c");
}

#[test]
fn signed_headers_are_normalized() {
    assert_eq!(
        sigv4::normalize_signed_headers("X-Amz-Date;host;;content-type;host"),
        ["content-type", "host", "x-amz-date"]
    );
    // So a list in another case or order verifies like the canonical one.
    let mut r = Req::vector();
    let auth = r.headers["authorization"].to_str().unwrap().replace(
        "content-type;host;x-amz-date;x-amz-target",
        "Host;content-type;x-amz-target;x-amz-date",
    );
    r.set("authorization", &auth);
    assert_eq!(r.verify(), Ok(verified()));
}

#[test]
fn canonical_queries() {
    assert_eq!(canonical_query(&parse_query(""), None), "");
    assert_eq!(
        canonical_query(&parse_query("b=2&a=1&a=0&c"), None),
        "a=0&a=1&b=2&c="
    );
    assert_eq!(
        canonical_query(&parse_query("k=a%2Fb+c&x=%7e*"), None),
        "k=a%2Fb%20c&x=~%2A"
    );
    assert_eq!(
        canonical_query(
            &parse_query("X-Amz-Signature=s&a=1"),
            Some("X-Amz-Signature")
        ),
        "a=1"
    );
}

// ---- credentials file ----------------------------------------------------------------------

#[test]
fn credentials_file_parses() {
    let creds = Credentials::parse(
        r#"
        [[key]]
        access_key_id = "AKIDEXAMPLE"
        secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        account_id = "111111111111"

        [[key]]
        access_key_id = "AKIDTWO"
        secret_access_key = "s2"
        account_id = "222222222222"
        session_token = "tok"
        "#,
    )
    .unwrap();
    assert_eq!(creds.len(), 2);
    assert_eq!(
        creds.get(AKID),
        Some(&AccessKey::new(AKID, SECRET, ACCOUNT))
    );
    assert_eq!(
        creds.get("AKIDTWO").unwrap().session_token.as_deref(),
        Some("tok")
    );
    assert_eq!(Req::vector().verify_with(&creds, now()), Ok(verified()));
}

#[test]
fn credentials_file_rejects_bad_entries() {
    let entry = |id: &str, secret: &str, account: &str, extra: &str| {
        format!("[[key]]\naccess_key_id = {id:?}\nsecret_access_key = {secret:?}\naccount_id = {account:?}\n{extra}\n")
    };
    let ok = entry("A", "s", "111111111111", "");
    assert!(Credentials::parse(&ok).is_ok());
    for (text, needle) in [
        (String::new(), "no [[key]]"),
        (entry("A", "s", "11111111111", ""), "not 12 digits"),
        (entry("A", "s", "11111111111x", ""), "not 12 digits"),
        (entry("", "s", "111111111111", ""), "invalid access_key_id"),
        (
            entry("A/B", "s", "111111111111", ""),
            "invalid access_key_id",
        ),
        (
            entry("A", "", "111111111111", ""),
            "empty secret_access_key",
        ),
        (
            entry("A", "s", "111111111111", "secret = \"typo\""),
            "unknown field",
        ),
        (
            entry("A", "s", "111111111111", "session_token = \"\""),
            "empty session_token",
        ),
        (format!("{ok}{ok}"), "duplicate access_key_id A"),
        ("[[key]]\naccess_key_id = \"A\"\n".into(), "missing field"),
    ] {
        let e = Credentials::parse(&text).unwrap_err();
        assert!(e.contains(needle), "{text:?}: {e}");
    }
}

#[test]
fn credentials_file_loads_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.toml");
    std::fs::write(
        &path,
        format!("[[key]]\naccess_key_id = \"{AKID}\"\nsecret_access_key = \"{SECRET}\"\naccount_id = \"{ACCOUNT}\"\n"),
    )
    .unwrap();
    let creds = Credentials::load(&path).unwrap();
    assert_eq!(Req::vector().verify_with(&creds, now()), Ok(verified()));
    let e = Credentials::load(&dir.path().join("absent.toml")).unwrap_err();
    assert!(e.contains("absent.toml"), "{e}");
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let creds = Credentials::from_entries([
        AccessKey::new(AKID, SECRET, ACCOUNT).with_session_token("tok-secret")
    ])
    .unwrap();
    let s = format!("{creds:?}");
    assert!(s.contains(AKID));
    assert!(!s.contains(SECRET) && !s.contains("tok-secret"), "{s}");
}
