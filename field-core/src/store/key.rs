//! The store's key. The app holds one secret (in the Android Keystore or the iOS Keychain) and
//! hands it over on every open; from it HKDF-SHA256 derives three independent keys: SQLCipher's
//! raw database key, the key sealing blob files and the key naming them. The secret itself is
//! never written anywhere by the store.

use super::StoreError;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

/// Shortest secret accepted (128 bits).
pub const MIN_SECRET_BYTES: usize = 16;
/// Longest secret accepted.
pub const MAX_SECRET_BYTES: usize = 1024;

/// What a derived key is for (the HKDF `info`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose {
    Database,
    BlobSeal,
    BlobName,
}

impl Purpose {
    fn info(self) -> &'static [u8] {
        match self {
            Purpose::Database => b"fieldline store v1: sqlcipher database key",
            Purpose::BlobSeal => b"fieldline store v1: blob file key",
            Purpose::BlobName => b"fieldline store v1: blob name key",
        }
    }
}

/// The secret a store is encrypted with. Zeroed when dropped; never printed.
#[derive(Clone)]
pub struct StoreKey {
    secret: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(…)")
    }
}

impl StoreKey {
    /// A key from the app's secret: 16 to 1,024 bytes, best 32 random bytes kept by the
    /// platform's keystore.
    pub fn new(secret: &[u8]) -> Result<StoreKey, StoreError> {
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&secret.len()) {
            return Err(StoreError::BadKey(format!(
                "{} bytes; {MIN_SECRET_BYTES}..={MAX_SECRET_BYTES} expected",
                secret.len()
            )));
        }
        Ok(StoreKey {
            secret: Zeroizing::new(secret.to_vec()),
        })
    }

    /// A fresh random 32-byte secret (the app stores [`StoreKey::secret`] in its keystore).
    pub fn generate() -> StoreKey {
        let mut secret = Zeroizing::new(vec![0u8; 32]);
        rand::RngCore::fill_bytes(&mut rand::rng(), secret.as_mut_slice());
        StoreKey { secret }
    }

    /// The secret, for the app to keep in its keystore.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    pub(crate) fn derive(&self, purpose: Purpose) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(Some(b"fieldline-store"), &self.secret);
        let mut out = Zeroizing::new([0u8; 32]);
        hk.expand(purpose.info(), out.as_mut_slice())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        out
    }

    /// SQLCipher's raw-key form (`x'<64 hex>'`): used as is, with no PBKDF2 on open, since
    /// the secret is already random. Tools that open the database directly (the `sqlcipher`
    /// shell, support scripts) give it as `PRAGMA key = "…"` before anything else.
    pub fn sqlcipher_key(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "x'{}'",
            hex::encode(*self.derive(Purpose::Database))
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_purpose_and_secret() {
        let a = StoreKey::new(&[1; 32]).unwrap();
        let b = StoreKey::new(&[2; 32]).unwrap();
        assert_ne!(*a.derive(Purpose::Database), *a.derive(Purpose::BlobSeal));
        assert_ne!(*a.derive(Purpose::BlobSeal), *a.derive(Purpose::BlobName));
        assert_ne!(*a.derive(Purpose::Database), *b.derive(Purpose::Database));
        assert_eq!(
            *a.derive(Purpose::Database),
            *a.clone().derive(Purpose::Database)
        );
        assert_eq!(a.sqlcipher_key().len(), 67);
        assert_eq!(format!("{a:?}"), "StoreKey(…)");
    }

    #[test]
    fn short_and_long_secrets_are_refused() {
        assert!(StoreKey::new(&[0; 15]).is_err());
        assert!(StoreKey::new(&[0; 1025]).is_err());
        assert!(StoreKey::new(&[0; 16]).is_ok());
        assert_eq!(StoreKey::generate().secret().len(), 32);
        assert_ne!(StoreKey::generate().secret(), StoreKey::generate().secret());
    }
}
