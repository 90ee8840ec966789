//! Resource policies: PutResourcePolicy / GetResourcePolicy / DeleteResourcePolicy, and the
//! check that lets one account reach another's stream only where the stream's policy allows
//! that action for it. Supported: `Effect` Allow/Deny (Deny wins), `Principal` `"*"` or
//! `{"AWS": …}` naming an account id or an ARN in that account, `Action` and `Resource`
//! with `*` wildcards. A statement with a `Condition` never applies (not evaluated here).

use serde_json::Value;
use shardline_wire::shapes::{
    DeleteResourcePolicyInput, Empty, GetResourcePolicyInput, GetResourcePolicyOutput,
    PutResourcePolicyInput,
};
use shardline_wire::{ApiError, ErrorCode};

use crate::error::Result;
use crate::resolve::parse_stream_arn;
use crate::{Caller, Engine};

/// Largest policy document accepted (AWS: 20 KiB).
const MAX_POLICY_BYTES: usize = 20 * 1024;

impl Engine {
    pub fn put_resource_policy(
        &self,
        caller: &Caller,
        input: PutResourcePolicyInput,
    ) -> Result<Empty> {
        let arn = input.resource_arn.unwrap_or_default();
        let policy = input.policy.unwrap_or_default();
        validate_document(&policy)?;
        let stream = self.owned_stream(caller, &arn)?;
        stream.write().meta.policy = Some(policy);
        self.persist()?;
        Ok(Empty {})
    }

    pub fn get_resource_policy(
        &self,
        caller: &Caller,
        input: GetResourcePolicyInput,
    ) -> Result<GetResourcePolicyOutput> {
        let arn = input.resource_arn.unwrap_or_default();
        let stream = self.owned_stream(caller, &arn)?;
        let policy = stream
            .read()
            .meta
            .policy
            .clone()
            .unwrap_or_else(|| "{}".into());
        Ok(GetResourcePolicyOutput { policy })
    }

    pub fn delete_resource_policy(
        &self,
        caller: &Caller,
        input: DeleteResourcePolicyInput,
    ) -> Result<Empty> {
        let arn = input.resource_arn.unwrap_or_default();
        let stream = self.owned_stream(caller, &arn)?;
        if stream.write().meta.policy.take().is_none() {
            return Err(ApiError::resource_not_found(format!(
                "No resource policy found for resource ARN {arn}."
            ))
            .into());
        }
        self.persist()?;
        Ok(Empty {})
    }

    /// The stream an ARN names, which must belong to the caller's account.
    fn owned_stream(&self, caller: &Caller, arn: &str) -> Result<crate::catalog::StreamRef> {
        let (account, name) = parse_stream_arn(arn).ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "Resource policies are supported on streams; {arn} is not a stream ARN."
            ))
        })?;
        if account != caller.account_id {
            return Err(access_denied(caller, arn).into());
        }
        self.catalog
            .get(account, name)
            .ok_or_else(|| crate::resolve::not_found(account, name).into())
    }

    /// Checks that `caller` may perform its operation on a stream of another account.
    pub(crate) fn authorize_cross_account(
        &self,
        caller: &Caller,
        account: &str,
        name: &str,
    ) -> Result<()> {
        let stream_arn = format!(
            "arn:aws:kinesis:{}:{account}:stream/{name}",
            self.config.region
        );
        let allowed = self.catalog.get(account, name).is_some_and(|s| {
            s.read().meta.policy.as_deref().is_some_and(|p| {
                allows(
                    p,
                    &caller.account_id,
                    &format!("kinesis:{}", caller.operation.name()),
                    &stream_arn,
                )
            })
        });
        if allowed {
            Ok(())
        } else {
            Err(access_denied(caller, &stream_arn).into())
        }
    }
}

pub(crate) fn access_denied(caller: &Caller, resource: &str) -> ApiError {
    let action = caller.operation.name();
    ApiError::new(
        ErrorCode::AccessDenied,
        format!(
            "User: arn:aws:iam::{}:root is not authorized to perform: kinesis:{action} on resource: {resource} because no resource-based policy allows the kinesis:{action} action",
            caller.account_id
        ),
    )
}

fn validate_document(policy: &str) -> Result<()> {
    let invalid = |why: &str| ApiError::invalid_argument(format!("Invalid resource policy: {why}"));
    if policy.len() > MAX_POLICY_BYTES {
        return Err(invalid("the document is larger than 20 KiB").into());
    }
    let doc: Value =
        serde_json::from_str(policy).map_err(|e| invalid(&format!("not JSON ({e})")))?;
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) if !a.is_empty() => a.clone(),
        Some(o @ Value::Object(_)) => vec![o.clone()],
        _ => return Err(invalid("it needs a Statement").into()),
    };
    for s in &statements {
        match s.get("Effect").and_then(Value::as_str) {
            Some("Allow" | "Deny") => {}
            _ => return Err(invalid("each statement needs Effect Allow or Deny").into()),
        }
        for member in ["Principal", "Action", "Resource"] {
            if s.get(member).is_none() {
                return Err(invalid(&format!("each statement needs {member}")).into());
            }
        }
    }
    Ok(())
}

/// Whether the policy allows `action` on `resource` for principals of `account`.
pub fn allows(policy: &str, account: &str, action: &str, resource: &str) -> bool {
    let Ok(doc) = serde_json::from_str::<Value>(policy) else {
        return false;
    };
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => return false,
    };
    let applies = |s: &&Value| {
        s.get("Condition").is_none()
            && principal_matches(s.get("Principal"), account)
            && strings(s.get("Action"))
                .iter()
                .any(|p| glob(&p.to_ascii_lowercase(), &action.to_ascii_lowercase()))
            && strings(s.get("Resource")).iter().any(|p| glob(p, resource))
    };
    let effect = |s: &&Value| {
        s.get("Effect")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let matching: Vec<&Value> = statements.into_iter().filter(applies).collect();
    !matching.iter().any(|s| effect(s) == "Deny") && matching.iter().any(|s| effect(s) == "Allow")
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn principal_matches(p: Option<&Value>, account: &str) -> bool {
    match p {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(o)) => strings(o.get("AWS"))
            .iter()
            .any(|a| a == "*" || a == account || a.split(':').nth(4) == Some(account)),
        _ => false,
    }
}

/// `*` matches any run of characters, `?` any one.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:kinesis:us-east-1:111111111111:stream/s";

    #[test]
    fn grants_exactly_what_it_says() {
        let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"kinesis:DescribeStreamSummary","Resource":"arn:aws:kinesis:us-east-1:111111111111:stream/s"}]}"#;
        assert!(allows(
            p,
            "222222222222",
            "kinesis:DescribeStreamSummary",
            ARN
        ));
        assert!(!allows(p, "222222222222", "kinesis:PutRecord", ARN));
        assert!(!allows(
            p,
            "333333333333",
            "kinesis:DescribeStreamSummary",
            ARN
        ));
        assert!(!allows(
            p,
            "222222222222",
            "kinesis:DescribeStreamSummary",
            "arn:aws:kinesis:us-east-1:111111111111:stream/other"
        ));
    }

    #[test]
    fn wildcards_and_deny() {
        let p = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["222222222222"]},"Action":["kinesis:Get*","kinesis:Describe*"],"Resource":"*"},
                                {"Effect":"Deny","Principal":"*","Action":"kinesis:GetRecords","Resource":"*"}]}"#;
        assert!(allows(p, "222222222222", "kinesis:GetShardIterator", ARN));
        assert!(!allows(p, "222222222222", "kinesis:GetRecords", ARN));
        assert!(glob("kinesis:*", "kinesis:PutRecord"));
        assert!(!glob("kinesis:Put", "kinesis:PutRecord"));
    }

    #[test]
    fn documents_are_validated() {
        assert!(validate_document("nope").is_err());
        assert!(validate_document(r#"{"Statement":[]}"#).is_err());
        assert!(validate_document(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#
        )
        .is_ok());
    }
}
