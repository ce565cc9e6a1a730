//! Secrets: keys and tokens that must never reach a log.

use std::fmt;

use zeroize::Zeroizing;

use crate::config::ConfigError;

/// A key or token: redacted in `Debug`, no `Display`, wiped from memory when dropped.
///
/// Built from text with [`Secret::new`], which refuses an empty secret and one with
/// surrounding whitespace (almost always a copy-paste or `.env` mistake that would make
/// every signature fail), or from raw bytes with [`Secret::from_bytes`].
///
/// ```
/// use vocals_callback::Secret;
///
/// let key = Secret::new("test-webhook-hmac-key").unwrap();
/// assert_eq!(format!("{key:?}"), "Secret([redacted])");
/// assert!(Secret::new("").is_err());
/// assert!(Secret::new(" key\n").is_err());
/// ```
#[derive(Clone)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// A secret from text; its bytes are the UTF-8 bytes of `text`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when `text` is empty, only whitespace, or has leading or trailing
    /// whitespace.
    pub fn new(text: impl Into<String>) -> Result<Self, ConfigError> {
        let text = Zeroizing::new(text.into());
        if text.trim().is_empty() {
            return Err(ConfigError::empty_secret());
        }
        if text.trim() != text.as_str() {
            return Err(ConfigError::padded_secret());
        }
        Ok(Self(Zeroizing::new(text.as_bytes().to_vec())))
    }

    /// A secret from raw bytes (for keys that are not text, such as a decoded `whsec_` key).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when `bytes` is empty.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self, ConfigError> {
        let bytes = Zeroizing::new(bytes.into());
        if bytes.is_empty() {
            return Err(ConfigError::empty_secret());
        }
        Ok(Self(bytes))
    }

    /// The secret's bytes, for the crate's MACs and comparisons only.
    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}
