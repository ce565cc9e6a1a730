//! Labelled HMAC-SHA256 keys, shared by every MAC scheme.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::{ConfigError, ConfigErrorKind};

/// The keys of one verifier, each with its label and its MAC keyed once: cloning a keyed
/// MAC per request is cheaper than keying one.
#[derive(Clone)]
pub(crate) struct Keys(Vec<(Arc<str>, Hmac<Sha256>)>);

impl Keys {
    /// One key, labelled `default`.
    pub(crate) fn new(key: &[u8]) -> Self {
        Self(vec![(Arc::from("default"), keyed(key))])
    }

    /// Adds a key for rotation.
    pub(crate) fn add(&mut self, label: &str, key: &[u8]) -> Result<(), ConfigError> {
        if self.0.iter().any(|(l, _)| &**l == label) {
            return Err(ConfigError::new(
                ConfigErrorKind::DuplicateLabel,
                "two keys have the same label",
            ));
        }
        self.0.push((Arc::from(label), keyed(key)));
        Ok(())
    }

    /// The label of the first key whose MAC of `parts` (concatenated) equals one of `macs`,
    /// compared in constant time.
    pub(crate) fn find<I>(&self, parts: &[&[u8]], macs: &I) -> Option<Arc<str>>
    where
        I: Iterator<Item = [u8; 32]> + Clone,
    {
        for (label, key) in &self.0 {
            let mut signed = key.clone();
            for part in parts {
                signed.update(part);
            }
            for mac in macs.clone() {
                // The clone keeps the hashed message for the next candidate.
                if signed.clone().verify_slice(&mac).is_ok() {
                    return Some(label.clone());
                }
            }
        }
        None
    }

    /// The labels, for `Debug` (never the keys).
    pub(crate) fn labels(&self) -> Vec<&str> {
        self.0.iter().map(|(l, _)| &**l).collect()
    }
}

/// An HMAC-SHA256 keyed with `key`, for verifiers and for the testkit's signers alike.
pub(crate) fn keyed(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail; the fallback only
    // avoids a panic path.
    <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()))
}
