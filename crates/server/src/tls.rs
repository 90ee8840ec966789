//! TLS for the HTTPS listener (the KPL only speaks HTTPS): rustls with ALPN `h2` and
//! `http/1.1`, from given PEM files or a self-signed certificate made on first start.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Builds the acceptor from a PEM certificate chain and a PEM private key.
///
/// # Errors
/// A message saying what in the PEM data is unusable.
pub fn acceptor(cert_pem: &[u8], key_pem: &[u8]) -> Result<TlsAcceptor, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("reading the certificate: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate found in the PEM data".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| format!("reading the private key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key don't fit together: {e}"))?;
    // HTTP/2 first: the Java SDK and KCL use it for every call when offered.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A self-signed certificate for localhost, 127.0.0.1 and ::1, as (certificate, key) PEM.
/// With a directory it is kept there (`cert.pem`, `key.pem`) and reused on later starts.
///
/// # Errors
/// Failure to read, write or generate the files.
pub fn self_signed(dir: Option<&Path>) -> Result<(Vec<u8>, Vec<u8>), String> {
    if let Some(dir) = dir {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        if cert.exists() && key.exists() {
            let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
            return Ok((read(&cert)?, read(&key)?));
        }
        let (c, k) = generate()?;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        std::fs::write(&key, &k).map_err(|e| format!("{}: {e}", key.display()))?;
        std::fs::write(&cert, &c).map_err(|e| format!("{}: {e}", cert.display()))?;
        return Ok((c, k));
    }
    generate()
}

fn generate() -> Result<(Vec<u8>, Vec<u8>), String> {
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| e.to_string())?;
    Ok((
        certified.cert.pem().into_bytes(),
        certified.key_pair.serialize_pem().into_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_certificates_are_kept_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (c1, k1) = self_signed(Some(dir.path())).unwrap();
        let (c2, k2) = self_signed(Some(dir.path())).unwrap();
        assert_eq!((c1.clone(), k1.clone()), (c2, k2));
        assert!(acceptor(&c1, &k1).is_ok());
        assert!(acceptor(b"junk", &k1).is_err());
    }
}
