//! The error answers of request authentication, with AWS's exact texts.
//!
//! Sources (see the module docs of `auth` for the full list):
//! - [KL] `mhart/kinesalite` `index.js` + `test/connection.js` (tests run against real Kinesis);
//! - [DL] `mhart/dynalite` `index.js` comments: responses captured from real AWS (coral, 2013);
//! - [GH] real AWS answers quoted in public GitHub issues (named at each text).

use shardline_wire::{ApiError, ErrorCode};

/// [KL] No `Authorization` header and no `X-Amz-Algorithm` query parameter.
pub const MISSING_AUTHENTICATION_TOKEN: &str = "Missing Authentication Token";

/// [KL] Both forms of authentication in one request.
pub const FOUND_BOTH: &str =
    "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.";

/// [KL] Pieces of the `Authorization` header form; each is followed by a space, and the
/// whole message ends with `Authorization=<the header as received>`.
pub const HEADER_REQUIRES_CREDENTIAL: &str =
    "Authorization header requires 'Credential' parameter.";
pub const HEADER_REQUIRES_SIGNATURE: &str = "Authorization header requires 'Signature' parameter.";
pub const HEADER_REQUIRES_SIGNED_HEADERS: &str =
    "Authorization header requires 'SignedHeaders' parameter.";
pub const HEADER_REQUIRES_DATE: &str =
    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.";

/// [KL] Closing sentence of the presigned (query) form's IncompleteSignature message.
pub const REEXAMINE_QUERY: &str = "Re-examine the query-string parameters.";

/// [GH] aws/aws-sdk-php#2469 (newer wording of [DL]'s "'Host' must be a 'SignedHeader' ...").
pub const HOST_NOT_SIGNED: &str =
    "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.";

/// [DL] An access key id that is not in the credentials file.
pub const UNKNOWN_ACCESS_KEY: &str = "The security token included in the request is invalid.";

/// [DL] A session token that does not match (AWS leaves the final period out here).
pub const BAD_SECURITY_TOKEN: &str = "The security token included in the request is invalid";

/// [DL], [GH] awslabs/amazon-kinesis-producer#33, camel-k#1608 (Kinesis).
pub const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

pub fn missing_authentication_token() -> ApiError {
    ApiError::new(
        ErrorCode::MissingAuthenticationToken,
        MISSING_AUTHENTICATION_TOKEN,
    )
}

pub fn incomplete(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::IncompleteSignature, message)
}

pub fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidSignature, message)
}

pub fn unrecognized(message: &str) -> ApiError {
    ApiError::new(ErrorCode::UnrecognizedClient, message)
}

/// [KL] `'<k>' ... '<k>'. Re-examine the query-string parameters.`
pub fn query_missing(params: &[&str]) -> ApiError {
    let mut msg = String::new();
    for p in params {
        msg.push_str("AWS query-string parameters must include '");
        msg.push_str(p);
        msg.push_str("'. ");
    }
    msg.push_str(REEXAMINE_QUERY);
    incomplete(msg)
}

/// [GH] aws/aws-sdk-go#289 (CloudFormation), iann0036/cloud9-sync#10.
pub fn not_key_value(token: &str, header: &str) -> ApiError {
    incomplete(format!(
        "'{token}' not a valid key=value pair (missing equal-sign) in Authorization header: '{header}'."
    ))
}

/// [DL]; the same text in dacut/scratchstack-aws-signature.
pub fn bad_date(date: &str) -> ApiError {
    incomplete(format!(
        "Date must be in ISO-8601 'basic format'. Got '{date}'. See http://en.wikipedia.org/wiki/ISO_8601"
    ))
}

/// [GH] remind101/logspout-kinesis#21, awslabs/amazon-kinesis-producer#41 and #222 (Kinesis,
/// "- 5 min."), aws/aws-sdk-js#254 (DynamoDB, "- 15 min.").
pub fn expired(date: &str, limit: &str, now: &str, window: &str) -> ApiError {
    invalid(format!(
        "Signature expired: {date} is now earlier than {limit} ({now} - {window}.)"
    ))
}

/// [GH] s12v/awsbeats#48 and aws/aws-sdk-go#2194 (Kinesis, "+ 5 min."), serverless/enterprise#11.
pub fn not_yet_current(date: &str, limit: &str, now: &str, window: &str) -> ApiError {
    invalid(format!(
        "Signature not yet current: {date} is still later than {limit} ({now} + {window}.)"
    ))
}

/// [DL] (the trailing space is AWS's).
pub fn unsupported_algorithm(algorithm: &str) -> ApiError {
    incomplete(format!(
        "Unsupported AWS 'algorithm': '{algorithm}' (only AWS4-HMAC-SHA256 for now). "
    ))
}

/// [DL]; [GH] prometheus-community/yet-another-cloudwatch-exporter#169.
pub fn credential_parts(credential: &str) -> ApiError {
    incomplete(format!(
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
    ))
}

/// [DL] The credential-scope sentences, concatenated in this order. [GH] twitchscience/kinsumer#57
/// and patrobinson/gokini#13 show Kinesis's service sentence with its trailing space.
pub fn scope_region(region: &str) -> String {
    format!("Credential should be scoped to a valid region, not '{region}'. ")
}
pub fn scope_service(service: &str) -> String {
    format!("Credential should be scoped to correct service: '{service}'. ")
}
pub fn scope_terminator(terminator: &str) -> String {
    format!(
        "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
    )
}
pub fn scope_date(scope_date: &str, request_day: &str, request_date: &str) -> String {
    format!(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{request_day}', from '{request_date}'."
    )
}

/// [DL], [GH] awslabs/amazon-kinesis-producer#33: the mismatch message carries the canonical
/// request and the string to sign the server computed.
pub fn signature_mismatch(canonical_request: &str, string_to_sign: &str) -> ApiError {
    invalid(format!(
        "{SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
    ))
}

/// S3's texts for a bad `X-Amz-Expires` (AuthorizationQueryParametersError); no Kinesis text
/// is known, so the code is IncompleteSignatureException.
pub const EXPIRES_NOT_A_NUMBER: &str = "X-Amz-Expires should be a number";
pub const EXPIRES_NEGATIVE: &str = "X-Amz-Expires must be non-negative";
pub const EXPIRES_TOO_LARGE: &str =
    "X-Amz-Expires must be less than a week (in seconds) that is 604800";
