//! The credentials file: which access keys the server accepts, and the account each acts as.
//!
//! Format (TOML); every field is required except `session_token` and `admin`, and unknown
//! fields are rejected so that typos do not silently weaken authentication:
//!
//! ```toml
//! [[key]]
//! access_key_id = "AKIDEXAMPLE"
//! secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
//! account_id = "111111111111"
//! # Optional: this key may also use the server's own endpoints (fault rules, the test
//! # clock) and read every account's metrics.
//! admin = true
//!
//! [[key]]
//! access_key_id = "ASIATEMPORARY"
//! secret_access_key = "..."
//! account_id = "222222222222"
//! # Optional: requests signed with this key must then carry exactly this
//! # X-Amz-Security-Token (header or query). Without it, a token sent is ignored.
//! session_token = "..."
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

/// One accepted access key.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The 12-digit account the key's requests act as.
    pub account_id: String,
    #[serde(default)]
    pub session_token: Option<String>,
    /// May use the server's own endpoints (`/_shardline/…`) and read every account's metrics.
    #[serde(default)]
    pub admin: bool,
}

impl AccessKey {
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        account_id: impl Into<String>,
    ) -> Self {
        AccessKey {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            account_id: account_id.into(),
            session_token: None,
            admin: false,
        }
    }

    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }

    /// Makes the key an administrator of the server.
    pub fn admin(mut self) -> Self {
        self.admin = true;
        self
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("account_id", &self.account_id)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("admin", &self.admin)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    key: Vec<AccessKey>,
}

/// The accepted access keys, by access key id.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    keys: HashMap<String, AccessKey>,
}

impl Credentials {
    /// Reads and checks a credentials file (format in the module docs).
    ///
    /// # Errors
    /// A message naming the file if it cannot be read, is not valid TOML of this format, has
    /// no key, or has an invalid or duplicate entry.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read credentials file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("credentials file {}: {e}", path.display()))
    }

    /// Parses the text of a credentials file.
    ///
    /// # Errors
    /// As [`Credentials::load`].
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        if file.key.is_empty() {
            return Err("no [[key]] entry".into());
        }
        Self::from_entries(file.key)
    }

    /// Builds the set from entries, checking each.
    ///
    /// # Errors
    /// An empty access key id or secret, an access key id with `/` or whitespace (it could not
    /// appear in a credential scope), an account id that is not 12 digits, or a duplicate id.
    pub fn from_entries(entries: impl IntoIterator<Item = AccessKey>) -> Result<Self, String> {
        let mut keys = HashMap::new();
        for key in entries {
            let id = &key.access_key_id;
            if id.is_empty() || id.contains('/') || id.contains(|c: char| c.is_whitespace()) {
                return Err(format!(
                    "invalid access_key_id {id:?}: must be non-empty, without '/' or whitespace"
                ));
            }
            if key.secret_access_key.is_empty() {
                return Err(format!("access key {id}: empty secret_access_key"));
            }
            if key.account_id.len() != 12 || !key.account_id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "access key {id}: account_id {:?} is not 12 digits",
                    key.account_id
                ));
            }
            if key.session_token.as_deref() == Some("") {
                return Err(format!("access key {id}: empty session_token"));
            }
            if keys.contains_key(id) {
                return Err(format!("duplicate access_key_id {id}"));
            }
            keys.insert(id.clone(), key);
        }
        Ok(Credentials { keys })
    }

    pub fn get(&self, access_key_id: &str) -> Option<&AccessKey> {
        self.keys.get(access_key_id)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
