//! Labelled HMAC-SHA256 keys, shared by every MAC scheme.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

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
            // Finalised once for every candidate (`verify_slice` would need a clone of
            // the state for each).
            let tag: [u8; 32] = signed.finalize().into_bytes().into();
            for mac in macs.clone() {
                if bool::from(ct_eq(&tag, &mac)) {
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

/// Two MACs equal, in constant time: word by word, with no early exit (as `subtle` does
/// for `hmac`'s `verify_slice`, in four steps instead of its thirty-two).
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> Choice {
    let (a, b) = (a.as_chunks::<8>().0, b.as_chunks::<8>().0);
    a.iter().zip(b).fold(Choice::from(1), |equal, (a, b)| {
        equal & u64::from_ne_bytes(*a).ct_eq(&u64::from_ne_bytes(*b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_equal_only_in_every_byte() {
        let a: [u8; 32] = std::array::from_fn(|i| u8::try_from(i).unwrap());
        assert!(bool::from(ct_eq(&a, &a)));
        for i in 0..32 {
            for bit in 0..8 {
                let mut b = a;
                b[i] ^= 1 << bit;
                assert!(!bool::from(ct_eq(&a, &b)), "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn finds_the_key_that_signed() {
        let mut keys = Keys::new(b"old");
        keys.add("new", b"new").unwrap();
        let mac = |key: &[u8]| -> [u8; 32] {
            let mut m = keyed(key);
            m.update(b"task.123");
            m.finalize().into_bytes().into()
        };
        let parts: [&[u8]; 3] = [b"task", b".", b"123"];
        assert_eq!(
            keys.find(&parts, &std::iter::once(mac(b"new"))).as_deref(),
            Some("new")
        );
        assert_eq!(
            keys.find(&parts, &std::iter::once(mac(b"old"))).as_deref(),
            Some("default")
        );
        assert_eq!(keys.find(&parts, &std::iter::once(mac(b"other"))), None);
        let both = [mac(b"other"), mac(b"old")];
        assert_eq!(
            keys.find(&parts, &both.into_iter()).as_deref(),
            Some("default")
        );
    }
}
