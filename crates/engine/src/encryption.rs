//! Encryption at rest (StartStreamEncryption / StopStreamEncryption). There is no KMS here:
//! the server holds one master key (a file in the data directory, or `--master-key-file`),
//! each stream gets a random 256-bit data key when encryption starts, kept in the manifest
//! wrapped (AES-256-GCM) under the master key, and every record written while encryption is
//! on is sealed with AES-256-GCM under that data key. Old data keys stay, so records written
//! under them still read after encryption stops or the key changes.
//!
//! KMS key ids are accepted as AWS accepts them (key id, key ARN, alias name, alias ARN);
//! known keys are `alias/aws/kinesis` and those configured with `--kms-key`; any other id is
//! refused with KMSNotFoundException.

use std::collections::HashMap;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use parking_lot::RwLock;
use rand::RngCore;
use serde::{Deserialize, Serialize};

const NONCE_LEN: usize = 12;
pub const AWS_MANAGED_KEY: &str = "alias/aws/kinesis";

/// A data key as kept in the manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DataKey {
    pub id: u64,
    /// base64 of nonce || AES-256-GCM(master key, data key)
    pub wrapped: String,
}

/// Unwraps data keys on first use and keeps them ready.
pub struct Keyring {
    master: Aes256Gcm,
    ciphers: RwLock<HashMap<u64, Aes256Gcm>>,
}

impl Keyring {
    pub fn new(master_key: &[u8; 32]) -> Self {
        Keyring {
            master: Aes256Gcm::new(master_key.into()),
            ciphers: RwLock::new(HashMap::new()),
        }
    }

    /// A new random data key, wrapped under the master key.
    pub fn new_data_key(&self, id: u64) -> Option<DataKey> {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        let sealed = seal(&self.master, &key)?;
        self.ciphers
            .write()
            .insert(id, Aes256Gcm::new((&key).into()));
        Some(DataKey {
            id,
            wrapped: base64::engine::general_purpose::STANDARD.encode(sealed),
        })
    }

    fn cipher(&self, key: &DataKey) -> Option<Aes256Gcm> {
        if let Some(c) = self.ciphers.read().get(&key.id) {
            return Some(c.clone());
        }
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(&key.wrapped)
            .ok()?;
        let raw = open(&self.master, &sealed)?;
        let cipher = Aes256Gcm::new_from_slice(&raw).ok()?;
        self.ciphers.write().insert(key.id, cipher.clone());
        Some(cipher)
    }

    /// Encrypts `plain` under the data key: nonce || ciphertext+tag.
    pub fn encrypt(&self, key: &DataKey, plain: &[u8]) -> Option<Vec<u8>> {
        seal(&self.cipher(key)?, plain)
    }

    pub fn decrypt(&self, key: &DataKey, sealed: &[u8]) -> Option<Vec<u8>> {
        open(&self.cipher(key)?, sealed)
    }
}

fn seal(cipher: &Aes256Gcm, plain: &[u8]) -> Option<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    let ct = cipher.encrypt(Nonce::from_slice(&nonce), plain).ok()?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Some(out)
}

fn open(cipher: &Aes256Gcm, sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    cipher.decrypt(Nonce::from_slice(nonce), ct).ok()
}

/// The canonical form of a KMS key id for comparison: alias ARNs become `alias/<name>`, key
/// ARNs become the bare key id.
pub fn canonical_key_id(key_id: &str) -> String {
    if let Some(rest) = key_id.strip_prefix("arn:") {
        if let Some((_, resource)) = rest.rsplit_once(':') {
            if let Some(key) = resource.strip_prefix("key/") {
                return key.to_string();
            }
            if resource.starts_with("alias/") {
                return resource.to_string();
            }
        }
    }
    key_id.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rewrap_from_the_manifest() {
        let ring = Keyring::new(&[9; 32]);
        let key = ring.new_data_key(7).unwrap();
        let sealed = ring.encrypt(&key, b"secret record").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        // A fresh keyring (a restart) unwraps the key from its manifest form.
        let again = Keyring::new(&[9; 32]);
        assert_eq!(again.decrypt(&key, &sealed).unwrap(), b"secret record");
        // The wrong master key cannot.
        assert!(Keyring::new(&[8; 32]).decrypt(&key, &sealed).is_none());
    }

    #[test]
    fn key_ids() {
        assert_eq!(
            canonical_key_id("arn:aws:kms:us-east-1:000000000000:alias/aws/kinesis"),
            "alias/aws/kinesis"
        );
        assert_eq!(
            canonical_key_id("arn:aws:kms:us-east-1:000000000000:key/1234-ab"),
            "1234-ab"
        );
        assert_eq!(canonical_key_id("alias/x"), "alias/x");
    }
}
