//! SigV4 request authentication, as Kinesis does it.
//!
//! One call: `auth::verify(&credentials, &RequestParts::new(&parts, &body), SystemTime::now())`
//! gives the caller's access key, account and region, or the AWS error to answer with.
//!
//! Checks, in AWS's order (mhart/dynalite's notes of real coral answers, and mhart/kinesalite's
//! tests run against real Kinesis):
//! 1. `Authorization` header and `X-Amz-Algorithm` query parameter both present →
//!    InvalidSignatureException; neither → MissingAuthenticationTokenException.
//! 2. Header form: every parameter `key=value`, then Credential, Signature, SignedHeaders and a
//!    date (X-Amz-Date or Date) present; query form: the five `X-Amz-*` parameters present →
//!    IncompleteSignatureException.
//! 3. The date is `YYYYMMDD'T'HHMMSS'Z'` → IncompleteSignatureException.
//! 4. The date is within [`MAX_CLOCK_SKEW`] of now (presigned: not in the future beyond it, and
//!    not older than `X-Amz-Expires` if given) → InvalidSignatureException.
//! 5. `host` (or `:authority`) is signed → InvalidSignatureException.
//! 6. The algorithm is AWS4-HMAC-SHA256 → IncompleteSignatureException (header form) or
//!    MissingAuthenticationTokenException (query form).
//! 7. The credential has 5 parts → IncompleteSignatureException; its scope names a region,
//!    `kinesis`, `aws4_request` and the date's day → InvalidSignatureException.
//! 8. The access key is known → UnrecognizedClientException.
//! 9. The signature matches (constant-time) → InvalidSignatureException, with the canonical
//!    request and string to sign in the message as AWS does.
//! 10. A session token configured for the key matches → UnrecognizedClientException.
//!
//! The payload hash is `x-amz-content-sha256` when it is `UNSIGNED-PAYLOAD`, otherwise the
//! SHA-256 of the body (so a header claiming another hash cannot vouch for a tampered body).
//! A presigned request without that header may have signed either the body's hash or
//! `UNSIGNED-PAYLOAD` (botocore's presigning default); both are tried.

mod credentials;
mod errors;
mod params;

#[cfg(test)]
mod tests;

use std::time::{Duration, SystemTime};

use shardline_wire::ApiError;

pub use credentials::{AccessKey, Credentials};
pub use errors::{SIGNATURE_MISMATCH, UNKNOWN_ACCESS_KEY};

use params::{AuthParams, Form};
use shardline_wire::sigv4::{self, RequestParts, ALGORITHM, SERVICE, UNSIGNED_PAYLOAD};

/// How far a request's timestamp may be from the server's clock. Kinesis answers "Signature
/// expired: ... (... - 5 min.)" (awslabs/amazon-kinesis-producer#41, #222; s12v/awsbeats#48),
/// although SigV4 documentation and DynamoDB use 15 minutes.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// Longest `X-Amz-Expires` accepted (a week, as S3).
pub const MAX_EXPIRES_SECS: i64 = 604_800;

/// Who signed a request that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub access_key_id: String,
    pub account_id: String,
    /// The region of the credential scope (the client's region).
    pub region: String,
    /// The key may use the server's own endpoints and read every account's metrics.
    pub admin: bool,
}

/// Verifies a request's SigV4 signature, in the header or the presigned query form.
///
/// # Errors
/// The AWS error to answer with (all 400s): MissingAuthenticationToken, IncompleteSignature,
/// InvalidSignature or UnrecognizedClient, with AWS's message texts.
pub fn verify(
    creds: &Credentials,
    req: &RequestParts<'_>,
    now: SystemTime,
) -> Result<Verified, ApiError> {
    verify_for(creds, req, now, SERVICE)
}

/// [`verify`] for a request signed for another service's name (`monitoring` for the
/// CloudWatch API the server also answers).
///
/// # Errors
/// As [`verify`].
pub fn verify_for(
    creds: &Credentials,
    req: &RequestParts<'_>,
    now: SystemTime,
    expected_service: &str,
) -> Result<Verified, ApiError> {
    let auth_header = req
        .headers
        .get(http::header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
        .filter(|v| !v.is_empty());
    let query = sigv4::parse_query(req.query.unwrap_or_default());
    let query_auth = query.iter().any(|(k, _)| k == sigv4::QP_ALGORITHM);

    let params = match (&auth_header, query_auth) {
        (Some(_), true) => return Err(errors::invalid(errors::FOUND_BOTH)),
        (None, false) => return Err(errors::missing_authentication_token()),
        (Some(h), false) => params::parse_authorization(h, req.headers)?,
        (None, true) => params::parse_query_auth(&query)?,
    };

    let date = sigv4::parse_amz_date(&params.date).ok_or_else(|| errors::bad_date(&params.date))?;
    check_time(&params, date, sigv4::epoch_secs(now))?;

    let signed = sigv4::normalize_signed_headers(&params.signed_headers);
    if !signed.iter().any(|h| h == "host" || h == ":authority") {
        return Err(errors::invalid(errors::HOST_NOT_SIGNED));
    }

    if params.algorithm != ALGORITHM {
        return Err(match params.form {
            Form::Header => errors::unsupported_algorithm(&params.algorithm),
            Form::Query => errors::missing_authentication_token(),
        });
    }

    let cred = params.credential.trim_end_matches('/');
    let parts: Vec<&str> = cred.split('/').collect();
    let [key_id, scope_date, region, service, terminator] = parts[..] else {
        return Err(errors::credential_parts(cred));
    };
    let mut scope_errors = String::new();
    if region.is_empty() {
        scope_errors.push_str(&errors::scope_region(region));
    }
    if service != expected_service {
        scope_errors.push_str(&errors::scope_service(expected_service));
    }
    if terminator != sigv4::TERMINATOR {
        scope_errors.push_str(&errors::scope_terminator(terminator));
    }
    if scope_date != &params.date[..8] {
        scope_errors.push_str(&errors::scope_date(
            scope_date,
            &params.date[..8],
            &params.date,
        ));
    }
    if !scope_errors.is_empty() {
        return Err(errors::invalid(scope_errors));
    }

    let Some(key) = creds.get(key_id) else {
        return Err(errors::unrecognized(errors::UNKNOWN_ACCESS_KEY));
    };

    let scope = Scope {
        date: scope_date,
        region,
        service: expected_service,
    };
    check_signature(req, &params, &query, &signed, key, &scope)?;

    if let Some(expected) = &key.session_token {
        let sent = params.security_token.as_deref().unwrap_or_default();
        if !sigv4::constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
            return Err(errors::unrecognized(errors::BAD_SECURITY_TOKEN));
        }
    }

    Ok(Verified {
        access_key_id: key.access_key_id.clone(),
        account_id: key.account_id.clone(),
        region: region.to_owned(),
        admin: key.admin,
    })
}

/// "5 min" / "90 sec", as AWS words the window.
fn window_text(secs: i64) -> String {
    if secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} sec")
    }
}

fn check_time(params: &AuthParams, date: i64, now: i64) -> Result<(), ApiError> {
    let skew = MAX_CLOCK_SKEW.as_secs() as i64;
    let past = match (&params.form, &params.expires) {
        (Form::Query, Some(raw)) => {
            let expires: i64 = raw
                .trim()
                .parse()
                .map_err(|_| errors::incomplete(errors::EXPIRES_NOT_A_NUMBER))?;
            if expires < 0 {
                return Err(errors::incomplete(errors::EXPIRES_NEGATIVE));
            }
            if expires > MAX_EXPIRES_SECS {
                return Err(errors::incomplete(errors::EXPIRES_TOO_LARGE));
            }
            expires
        }
        _ => skew,
    };
    let fmt = sigv4::format_amz_date;
    if date < now - past {
        return Err(errors::expired(
            &params.date,
            &fmt(now - past),
            &fmt(now),
            &window_text(past),
        ));
    }
    if date > now + skew {
        return Err(errors::not_yet_current(
            &params.date,
            &fmt(now + skew),
            &fmt(now),
            &window_text(skew),
        ));
    }
    Ok(())
}

/// A credential scope's parts.
struct Scope<'a> {
    date: &'a str,
    region: &'a str,
    service: &'a str,
}

fn check_signature(
    req: &RequestParts<'_>,
    params: &AuthParams,
    query: &[(String, String)],
    signed: &[String],
    key: &AccessKey,
    scope: &Scope<'_>,
) -> Result<(), ApiError> {
    let content_sha = req
        .headers
        .get("x-amz-content-sha256")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned());
    let body_hash = || sigv4::sha256_hex(req.body);
    let payload_hashes: Vec<String> = match (content_sha.as_deref(), params.form) {
        (Some(UNSIGNED_PAYLOAD), _) => vec![UNSIGNED_PAYLOAD.into()],
        (Some(_), _) | (None, Form::Header) => vec![body_hash()],
        (None, Form::Query) => vec![UNSIGNED_PAYLOAD.into(), body_hash()],
    };
    let exclude = (params.form == Form::Query).then_some(sigv4::QP_SIGNATURE);
    let canonical_uri = sigv4::canonical_uri(req.path);
    let canonical_query = sigv4::canonical_query(query, exclude);
    let canonical_headers = sigv4::canonical_headers(req.headers, req.authority, signed);
    let signed_list = signed.join(";");
    let k_signing = sigv4::signing_key(
        &key.secret_access_key,
        scope.date,
        scope.region,
        scope.service,
    );
    let scope = sigv4::scope(scope.date, scope.region, scope.service);

    let mut first = None;
    for payload_hash in &payload_hashes {
        let creq = sigv4::canonical_request(
            req.method,
            &canonical_uri,
            &canonical_query,
            &canonical_headers,
            &signed_list,
            payload_hash,
        );
        let sts = sigv4::string_to_sign(&params.date, &scope, &creq);
        let expected = sigv4::signature(&k_signing, &sts);
        if sigv4::constant_time_eq(expected.as_bytes(), params.signature.as_bytes()) {
            return Ok(());
        }
        first.get_or_insert((creq, sts));
    }
    let (creq, sts) = first.expect("at least one payload hash");
    Err(errors::signature_mismatch(&creq, &sts))
}
