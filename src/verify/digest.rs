//! The digest a [`BindingCache`](super::BindingCache) remembers of each body.

use std::fmt;

use aes::{
    Aes128,
    cipher::{BlockEncrypt, KeyInit},
};
use polyval::{Polyval, universal_hash::UniversalHash};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::config::{ConfigError, ConfigErrorKind};

/// How a binding digests the body it binds a signature to.
///
/// Binding needs only that no one can find a second body with the digest of the first. Two
/// functions give that:
///
/// - [`keyed`](Self::keyed) (the default, [`random`](Self::random)): a pseudorandom function
///   under a secret 256-bit key, `AES-128(k₁, POLYVAL(k₂, body ‖ length))`: the hash-then-
///   encrypt construction of AES-GCM-SIV's tag. POLYVAL is a universal hash over GF(2¹²⁸),
///   so two distinct bodies of up to ℓ blocks collide with probability at most ℓ/2¹²⁸
///   for a key nobody knows, and the block cipher on top makes the output a PRF, so even a
///   digest that leaked would tell nothing of the key. With carry-less multiply and AES
///   instructions it costs about a quarter of SHA-256 on a 1.7 KB body (0.21 against
///   0.86 µs with SHA-NI, BENCHMARKS.md), which is most of the binding's cost.
/// - [`sha256`](Self::sha256): unkeyed, for stores shared by processes that hold no common
///   secret.
///
/// Replicas that share one binding store must compute the same digest: give them the same
/// key ([`keyed`](Self::keyed)) or use SHA-256. The in-memory cache is per process, so a key
/// drawn at random when it is built is right for it.
///
/// ```
/// use vocals_callback::verify::BodyDigest;
///
/// let digest = BodyDigest::random()?;
/// let a = digest.digest(b"{\"a\":1}");
/// assert!(a.matches(&digest.digest(b"{\"a\":1}")));
/// assert!(!a.matches(&digest.digest(b"{\"a\":2}")));
///
/// // Another key digests differently: replicas sharing a store need one key, or SHA-256.
/// let other = BodyDigest::random()?;
/// assert!(!a.matches(&other.digest(b"{\"a\":1}")));
/// # Ok::<(), vocals_callback::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct BodyDigest(Function);

#[derive(Clone)]
enum Function {
    // Boxed: the expanded AES key schedule and the POLYVAL key are a few hundred bytes.
    Keyed(Box<Keyed>),
    Sha256,
}

#[derive(Clone)]
struct Keyed {
    cipher: Aes128,
    /// A POLYVAL instance keyed and not yet fed: cloned for each body, so the key is
    /// expanded once.
    hash: Polyval,
}

/// A body's digest: 16 bytes of a keyed PRF or the first 16 of SHA-256 (128 bits, as
/// second-preimage resistant as needed: the attacker must match one given body's digest).
#[derive(Clone, Copy)]
pub struct Digested([u8; 16]);

impl Digested {
    /// The 16 bytes, for a store that keeps them (Redis, say). A keyed digest reveals
    /// nothing of its key (it is a PRF's output), but keep it out of logs all the same.
    ///
    /// ```
    /// # use vocals_callback::verify::BodyDigest;
    /// assert_eq!(BodyDigest::sha256().digest(b"abc").as_bytes()[..4], [0xba, 0x78, 0x16, 0xbf]);
    /// ```
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// `true` when both digests are equal, compared in constant time (a timing oracle on a
    /// keyed digest would be a step towards learning it).
    #[must_use]
    pub fn matches(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for Digested {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not printed: a keyed digest is secret material.
        f.write_str("Digested(..)")
    }
}

impl BodyDigest {
    /// The keyed PRF under a key drawn from the operating system's random source.
    ///
    /// # Errors
    ///
    /// [`NoRandomness`](ConfigErrorKind::NoRandomness) when the operating system gives no
    /// random bytes.
    pub fn random() -> Result<Self, ConfigError> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut_slice()).map_err(|_| {
            ConfigError::new(
                ConfigErrorKind::NoRandomness,
                "no random bytes for the binding digest's key",
            )
        })?;
        Ok(Self::keyed(&key))
    }

    /// The keyed PRF under `key` (its first half keys AES-128, its second POLYVAL). Give
    /// every replica sharing a binding store the same key, and keep it as secret as the
    /// signing key: anyone who has it can search for colliding bodies.
    #[must_use]
    pub fn keyed(key: &[u8; 32]) -> Self {
        let mut cipher_key = Zeroizing::new([0u8; 16]);
        let mut hash_key = Zeroizing::new([0u8; 16]);
        cipher_key.copy_from_slice(&key[..16]);
        hash_key.copy_from_slice(&key[16..]);
        Self(Function::Keyed(Box::new(Keyed {
            cipher: Aes128::new(&(*cipher_key).into()),
            hash: Polyval::new(&(*hash_key).into()),
        })))
    }

    /// Unkeyed SHA-256, truncated to 128 bits.
    #[must_use]
    pub fn sha256() -> Self {
        Self(Function::Sha256)
    }

    /// The digest of `body`.
    #[must_use]
    pub fn digest(&self, body: &[u8]) -> Digested {
        let mut out = [0u8; 16];
        match &self.0 {
            Function::Keyed(keyed) => {
                let mut hash = keyed.hash.clone();
                hash.update_padded(body);
                // The length block makes zero padding unambiguous: without it, a body and
                // the same body with trailing zero bytes would collide under every key.
                let mut length = [0u8; 16];
                length[..8].copy_from_slice(&(body.len() as u64).to_le_bytes());
                hash.update_padded(&length);
                let tag: [u8; 16] = hash.finalize().into();
                let mut block = tag.into();
                keyed.cipher.encrypt_block(&mut block);
                out.copy_from_slice(&block);
            }
            Function::Sha256 => out.copy_from_slice(&Sha256::digest(body)[..16]),
        }
        Digested(out)
    }
}

impl fmt::Debug for BodyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Function::Keyed(_) => "BodyDigest::Keyed(..)",
            Function::Sha256 => "BodyDigest::Sha256",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_gives_one_function_and_bodies_are_told_apart() {
        let key = [9u8; 32];
        let a = BodyDigest::keyed(&key);
        let b = BodyDigest::keyed(&key);
        assert!(a.digest(b"body").matches(&b.digest(b"body")));
        assert!(!a.digest(b"body").matches(&a.digest(b"bodx")));
        assert!(!a.digest(b"").matches(&a.digest(b"\0")));
        // Zero padding is not a collision: the length is hashed.
        assert!(!a.digest(b"abc").matches(&a.digest(b"abc\0\0\0")));
        assert!(!a.digest(&[0u8; 16]).matches(&a.digest(&[0u8; 32])));
        // A different key is a different function.
        let mut other = key;
        other[31] ^= 1;
        assert!(
            !a.digest(b"body")
                .matches(&BodyDigest::keyed(&other).digest(b"body"))
        );
    }

    #[test]
    fn the_keyed_function_matches_aes_gcm_sivs_building_blocks() {
        // POLYVAL's test vector from RFC 8452, appendix A: H and X_1, X_2 give this S.
        let h: [u8; 16] = hex("25629347589242761d31f826ba4b757b");
        let x: [u8; 32] = hex("4f4f95668c83dfb6401762bb2d01a262d1a24ddd2721d006bbe45f20d3c9f362");
        let mut p = Polyval::new(&h.into());
        p.update_padded(&x);
        assert_eq!(
            p.finalize()[..],
            hex::<16>("f7a3b47b846119fae5b7866cf5e5b77e")[..]
        );
        // AES-128 from FIPS-197, appendix C.1.
        let cipher = Aes128::new(&hex::<16>("000102030405060708090a0b0c0d0e0f").into());
        let mut block = hex::<16>("00112233445566778899aabbccddeeff").into();
        cipher.encrypt_block(&mut block);
        assert_eq!(block[..], hex::<16>("69c4e0d86a7b0430d8cdb78070b4c55a")[..]);
    }

    #[test]
    fn sha256_is_its_truncated_standard_digest() {
        let d = BodyDigest::sha256().digest(b"abc");
        let expected = Digested(hex("ba7816bf8f01cfea414140de5dae2223"));
        assert!(d.matches(&expected));
    }

    #[test]
    fn random_keys_differ() {
        let a = BodyDigest::random().unwrap();
        let b = BodyDigest::random().unwrap();
        assert!(!a.digest(b"body").matches(&b.digest(b"body")));
    }

    fn hex<const N: usize>(s: &str) -> [u8; N] {
        let mut out = [0u8; N];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }
}
