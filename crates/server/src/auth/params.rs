//! Where a request's signature parameters travel, read back: the `Authorization` header, or a
//! presigned query string.

use http::HeaderMap;
use shardline_wire::sigv4::{
    QP_ALGORITHM, QP_CREDENTIAL, QP_DATE, QP_EXPIRES, QP_SECURITY_TOKEN, QP_SIGNATURE,
    QP_SIGNED_HEADERS,
};
use shardline_wire::ApiError;

use super::errors;

/// Which form a request's signature came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    Header,
    Query,
}

/// The signature parameters of a request, whichever form they came in.
#[derive(Clone, Debug)]
pub struct AuthParams {
    pub form: Form,
    pub algorithm: String,
    pub credential: String,
    pub signed_headers: String,
    pub signature: String,
    /// The timestamp as sent (X-Amz-Date, or Date for the header form).
    pub date: String,
    /// `X-Amz-Expires` of the presigned form, as sent.
    pub expires: Option<String>,
    pub security_token: Option<String>,
}

fn first_header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
}

/// Parses `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` (`header` is the
/// trimmed value). Parameters may be separated by commas and/or spaces; a repeated parameter
/// keeps its last value. The date comes from X-Amz-Date, else Date.
///
/// # Errors
/// IncompleteSignatureException with AWS's texts for a parameter without `=` or missing pieces.
pub fn parse_authorization(header: &str, headers: &HeaderMap) -> Result<AuthParams, ApiError> {
    let mut tokens = header
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|t| !t.is_empty());
    let algorithm = tokens.next().unwrap_or_default().to_owned();
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for token in tokens {
        let Some((k, v)) = token.split_once('=') else {
            return Err(errors::not_key_value(token, header));
        };
        match k {
            "Credential" => credential = Some(v.to_owned()),
            "SignedHeaders" => signed_headers = Some(v.to_owned()),
            "Signature" => signature = Some(v.to_owned()),
            _ => {}
        }
    }
    // An empty Credential or Signature counts as missing; an empty SignedHeaders does not (it
    // fails the host check later), as AWS does.
    let credential = credential.filter(|v| !v.is_empty());
    let signature = signature.filter(|v| !v.is_empty());
    let date = first_header(headers, "x-amz-date").or_else(|| first_header(headers, "date"));

    let mut msg = String::new();
    for (missing, text) in [
        (credential.is_none(), errors::HEADER_REQUIRES_CREDENTIAL),
        (signature.is_none(), errors::HEADER_REQUIRES_SIGNATURE),
        (
            signed_headers.is_none(),
            errors::HEADER_REQUIRES_SIGNED_HEADERS,
        ),
        (date.is_none(), errors::HEADER_REQUIRES_DATE),
    ] {
        if missing {
            msg.push_str(text);
            msg.push(' ');
        }
    }
    if !msg.is_empty() {
        msg.push_str("Authorization=");
        msg.push_str(header);
        return Err(errors::incomplete(msg));
    }
    Ok(AuthParams {
        form: Form::Header,
        algorithm,
        credential: credential.unwrap_or_default(),
        signed_headers: signed_headers.unwrap_or_default(),
        signature: signature.unwrap_or_default(),
        date: date.unwrap_or_default(),
        expires: None,
        security_token: first_header(headers, "x-amz-security-token"),
    })
}

/// Reads the presigned form's parameters (decoded query pairs; the first of a repeated
/// parameter counts).
///
/// # Errors
/// IncompleteSignatureException naming every missing or empty parameter.
pub fn parse_query_auth(params: &[(String, String)]) -> Result<AuthParams, ApiError> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let names = [
        QP_ALGORITHM,
        QP_CREDENTIAL,
        QP_SIGNATURE,
        QP_SIGNED_HEADERS,
        QP_DATE,
    ];
    let values: Vec<Option<String>> = names.iter().map(|n| get(n)).collect();
    let missing: Vec<&str> = names
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        return Err(errors::query_missing(&missing));
    }
    let mut values = values.into_iter().map(Option::unwrap_or_default);
    let mut next = || values.next().unwrap_or_default();
    Ok(AuthParams {
        form: Form::Query,
        algorithm: next(),
        credential: next(),
        signature: next(),
        signed_headers: next(),
        date: next(),
        expires: params
            .iter()
            .find(|(k, _)| k == QP_EXPIRES)
            .map(|(_, v)| v.clone()),
        security_token: get(QP_SECURITY_TOKEN),
    })
}
