//! Where the client commands (`shardline faults`, `shardline produce`) find the key to sign
//! with: the flags, else `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`(/`AWS_SESSION_TOKEN`), else
//! the profile (`--profile`, `AWS_PROFILE`, or `default`) of `~/.aws/credentials` or
//! `~/.aws/config` (or the files `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE` name).

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

/// Where a client command finds the key to sign with.
#[derive(Args, Debug, Clone)]
pub struct CredentialArgs {
    /// Access key to sign with (a key marked admin when the server authenticates)
    #[arg(long, env = "AWS_ACCESS_KEY_ID", global = true, hide_env_values = true)]
    pub access_key_id: Option<String>,
    /// Its secret
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        global = true,
        hide_env_values = true
    )]
    pub secret_access_key: Option<String>,
    /// Session token, for temporary keys
    #[arg(long, env = "AWS_SESSION_TOKEN", global = true, hide_env_values = true)]
    pub session_token: Option<String>,
    /// Profile of ~/.aws/credentials or ~/.aws/config to take the key from
    #[arg(long, env = "AWS_PROFILE", global = true)]
    pub profile: Option<String>,
    /// Region of the signature's scope
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1", global = true)]
    pub region: String,
}

/// A key to sign with.
pub struct Key {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl CredentialArgs {
    /// The flags or environment, else the profile; `None` when neither has a key.
    pub fn resolve(&self) -> anyhow::Result<Option<Key>> {
        if let (Some(id), Some(secret)) = (&self.access_key_id, &self.secret_access_key) {
            return Ok(Some(Key {
                access_key_id: id.clone(),
                secret_access_key: secret.clone(),
                session_token: self.session_token.clone(),
            }));
        }
        let profile = self.profile.as_deref().unwrap_or("default");
        let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
            return Ok(None);
        };
        let files = [
            std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
                .map_or_else(|| home.join(".aws/credentials"), PathBuf::from),
            std::env::var_os("AWS_CONFIG_FILE")
                .map_or_else(|| home.join(".aws/config"), PathBuf::from),
        ];
        for (i, path) in files.iter().enumerate() {
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            // ~/.aws/config names profiles `[profile x]`, except `[default]`.
            let section = if i == 1 && profile != "default" {
                format!("profile {profile}")
            } else {
                profile.to_string()
            };
            let values = profile_section(&text, &section);
            let get = |k: &str| values.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            if let (Some(id), Some(secret)) =
                (get("aws_access_key_id"), get("aws_secret_access_key"))
            {
                return Ok(Some(Key {
                    access_key_id: id,
                    secret_access_key: secret,
                    session_token: get("aws_session_token"),
                }));
            }
        }
        if self.profile.is_some() {
            bail!("profile {profile} has no aws_access_key_id and aws_secret_access_key");
        }
        Ok(None)
    }
}

/// The `key = value` pairs of one `[section]` of an AWS shared config or credentials file.
fn profile_section(text: &str, section: &str) -> Vec<(String, String)> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == section;
            continue;
        }
        if inside {
            if let Some((k, v)) = line.split_once('=') {
                out.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
    }
    out
}

impl CredentialArgs {
    /// An `aws-sdk-kinesis` client for `endpoint`, signing with the key found (or a
    /// placeholder, which a server without `--auth sigv4` accepts). The SDK's own retries are
    /// off: the libraries on top retry as they see fit.
    pub fn kinesis_client(&self, endpoint: &str) -> anyhow::Result<aws_sdk_kinesis::Client> {
        use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
        let key = self.resolve()?.unwrap_or(Key {
            access_key_id: "shardline".into(),
            secret_access_key: "shardline".into(),
            session_token: None,
        });
        let config = aws_sdk_kinesis::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new(
                key.access_key_id,
                key.secret_access_key,
                key.session_token,
                None,
                "shardline",
            ))
            .retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled())
            .build();
        Ok(aws_sdk_kinesis::Client::from_conf(config))
    }
}

impl CredentialArgs {
    /// An `aws-sdk-dynamodb` client (for a consumer's lease table) signing with the same key,
    /// at `endpoint` or AWS's own for the region.
    pub fn dynamodb_client(
        &self,
        endpoint: Option<&str>,
    ) -> anyhow::Result<aws_sdk_dynamodb::Client> {
        use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
        let key = self.resolve()?.unwrap_or(Key {
            access_key_id: "shardline".into(),
            secret_access_key: "shardline".into(),
            session_token: None,
        });
        let mut config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .credentials_provider(Credentials::new(
                key.access_key_id,
                key.secret_access_key,
                key.session_token,
                None,
                "shardline",
            ));
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint);
        }
        Ok(aws_sdk_dynamodb::Client::from_conf(config.build()))
    }
}
