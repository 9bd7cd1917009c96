//! Ed25519 keys: each device signs the contracts it records; the server countersigns what it
//! receives. Keys and signatures travel as lower-case hex.

use super::ContractError;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::RngCore;

/// A signing key pair (a device's or the server's).
#[derive(Clone)]
pub struct KeyPair(SigningKey);

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair({})", self.public_hex())
    }
}

impl KeyPair {
    /// A new random key from the operating system's generator.
    pub fn generate() -> KeyPair {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        KeyPair(SigningKey::from_bytes(&secret))
    }

    /// The key from its 32 secret bytes.
    pub fn from_secret(bytes: &[u8]) -> Result<KeyPair, ContractError> {
        let secret: [u8; 32] = bytes.try_into().map_err(|_| {
            ContractError::Key(format!("a secret key is 32 bytes, not {}", bytes.len()))
        })?;
        Ok(KeyPair(SigningKey::from_bytes(&secret)))
    }

    pub fn secret_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key, hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.0.verifying_key().as_bytes())
    }

    /// Signs `message`; the signature in hex.
    pub fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.0.sign(message).to_bytes())
    }
}

/// Why a signature does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadSignature {
    #[error("公钥格式无效 / the public key is malformed")]
    Key,
    #[error("签名格式无效 / the signature is malformed")]
    Format,
    #[error("签名与内容不符 / the signature does not match the content")]
    Mismatch,
}

/// Checks a hex public key.
pub fn parse_public_key(public_hex: &str) -> Result<VerifyingKey, BadSignature> {
    let bytes: [u8; 32] = hex::decode(public_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(BadSignature::Key)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| BadSignature::Key)
}

/// Verifies a hex signature over `message` with a hex public key (strict: no malleable or
/// small-order forms).
pub fn verify(public_hex: &str, message: &[u8], signature_hex: &str) -> Result<(), BadSignature> {
    let key = parse_public_key(public_hex)?;
    let sig: [u8; 64] = hex::decode(signature_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(BadSignature::Format)?;
    key.verify_strict(message, &Signature::from_bytes(&sig))
        .map_err(|_| BadSignature::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let k = KeyPair::generate();
        let sig = k.sign(b"text");
        assert_eq!(verify(&k.public_hex(), b"text", &sig), Ok(()));
        assert_eq!(
            verify(&k.public_hex(), b"texT", &sig),
            Err(BadSignature::Mismatch)
        );
        assert_eq!(verify("zz", b"text", &sig), Err(BadSignature::Key));
        assert_eq!(
            verify(&k.public_hex(), b"text", "00"),
            Err(BadSignature::Format)
        );
        let again = KeyPair::from_secret(&k.secret_bytes()).unwrap();
        assert_eq!(again.public_hex(), k.public_hex());
        assert!(KeyPair::from_secret(&[1, 2]).is_err());
    }
}
