//! Finding the stream a request names, and the messages AWS uses when it can't.

use shardline_wire::shapes::NamesStream;
use shardline_wire::ApiError;

use crate::catalog::StreamRef;
use crate::error::Result;
use crate::model::StreamStatus;
use crate::{Caller, Engine};

/// A stream's account and name, as a request gave them.
pub struct StreamName {
    pub account: String,
    pub name: String,
}

/// AWS's refusal of an operation that needs an ACTIVE stream.
pub fn not_active(account: &str, name: &str, status: StreamStatus) -> ApiError {
    ApiError::resource_in_use(format!(
        "Stream {name} under account {account} not ACTIVE, instead in state {}",
        status.as_str()
    ))
}

/// A stream that must be ACTIVE or UPDATING (readable) and is neither, in AWS's words (seen
/// from ListShards and RegisterStreamConsumer on a CREATING stream, aws/aws-sdk-java-v2#5949).
pub fn not_readable(account: &str, name: &str, status: StreamStatus) -> ApiError {
    ApiError::resource_in_use(format!(
        "Stream {name} under account {account} not ACTIVE or UPDATING, instead in state {}",
        status.as_str()
    ))
}

/// AUTO record distribution asked of a stream that is not on-demand (AWS documents
/// InvalidArgumentException; the wording is shardline's).
pub fn auto_needs_on_demand(account: &str, name: &str) -> ApiError {
    ApiError::invalid_argument(format!(
        "The AUTO record distribution strategy is only supported for streams in ON_DEMAND mode; \
         stream {name} under account {account} is PROVISIONED."
    ))
}

pub fn not_found(account: &str, name: &str) -> ApiError {
    ApiError::resource_not_found(format!("Stream {name} under account {account} not found."))
}

/// Splits `arn:aws:kinesis:<region>:<account>:stream/<name>` into (account, name).
pub fn parse_stream_arn(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (arn_, partition, service, _region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if arn_ != "arn" || !partition.starts_with("aws") || service != "kinesis" {
        return None;
    }
    let name = resource.strip_prefix("stream/")?;
    (!name.is_empty() && !name.contains('/')).then_some((account, name))
}

/// Splits a consumer ARN into (stream ARN, consumer name, creation seconds).
pub fn parse_consumer_arn(arn: &str) -> Option<(&str, &str, u64)> {
    let (stream_arn, rest) = arn.split_once("/consumer/")?;
    let (name, created) = rest.rsplit_once(':')?;
    Some((stream_arn, name, created.parse().ok()?))
}

impl Engine {
    /// The stream a request names by `StreamName` and/or `StreamARN`.
    pub(crate) fn stream_name(
        &self,
        caller: &Caller,
        input: &impl NamesStream,
    ) -> Result<StreamName> {
        let mut account = caller.account_id.clone();
        let from_arn = match input.stream_arn() {
            Some(arn) => {
                let (arn_account, name) = parse_stream_arn(arn).ok_or_else(|| {
                    ApiError::invalid_argument(format!("Invalid StreamARN: {arn}"))
                })?;
                if arn_account != caller.account_id {
                    // Another account's stream: only where its resource policy allows it.
                    self.authorize_cross_account(caller, arn_account, name)?;
                    account = arn_account.to_string();
                }
                Some(name)
            }
            None => None,
        };
        let name = match (input.stream_name(), from_arn) {
            (Some(n), Some(a)) if n != a => {
                return Err(ApiError::invalid_argument(format!(
                    "StreamName {n} and StreamARN {} refer to different streams.",
                    input.stream_arn().unwrap_or_default()
                ))
                .into())
            }
            (Some(n), _) => n,
            (None, Some(a)) => a,
            (None, None) => {
                return Err(ApiError::invalid_argument(
                    "Either StreamName or StreamARN should be provided.",
                )
                .into())
            }
        };
        Ok(StreamName {
            account,
            name: name.to_string(),
        })
    }

    /// The named stream, whatever its state.
    pub(crate) fn find_stream(
        &self,
        caller: &Caller,
        input: &impl NamesStream,
    ) -> Result<(StreamName, StreamRef)> {
        let n = self.stream_name(caller, input)?;
        match self.catalog.get(&n.account, &n.name) {
            Some(s) => Ok((n, s)),
            None => Err(not_found(&n.account, &n.name).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns() {
        assert_eq!(
            parse_stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/foo"),
            Some(("000000000000", "foo"))
        );
        assert_eq!(parse_stream_arn("arn:aws:s3:::bucket"), None);
        assert_eq!(
            parse_stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/"),
            None
        );
    }
}
