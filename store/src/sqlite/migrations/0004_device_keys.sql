-- Each device's ed25519 public key for contract signatures (registered at login).
ALTER TABLE devices ADD COLUMN public_key TEXT;
