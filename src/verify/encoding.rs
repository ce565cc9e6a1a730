//! The text forms of a 32-byte MAC in signature headers, decoded strictly: one spelling per
//! MAC, so a signature's text can never pass for another's.

use base64::{Engine, engine::general_purpose::STANDARD};

/// The length of a padded standard base64 encoding of 32 bytes.
const BASE64_LEN: usize = 44;

/// A MAC from exactly 44 characters of canonical padded standard base64 (`+`, `/`, `=`);
/// `None` for any other length, URL-safe or unpadded text, or non-zero trailing bits.
pub(crate) fn base64_mac(text: &[u8]) -> Option<[u8; 32]> {
    if text.len() != BASE64_LEN {
        return None;
    }
    let mut buf = [0u8; 33];
    // STANDARD refuses non-canonical padding and non-zero trailing bits.
    let n = STANDARD.decode_slice(text, &mut buf).ok()?;
    let mut mac = [0u8; 32];
    mac.copy_from_slice(buf.get(..n).filter(|b| b.len() == 32)?);
    Some(mac)
}

/// A MAC from exactly 64 hexadecimal digits, either case.
pub(crate) fn hex_mac(text: &[u8]) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut mac = [0u8; 32];
    for (out, pair) in mac.iter_mut().zip(text.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        *out = (hex_digit(*hi)? << 4) | hex_digit(*lo)?;
    }
    Some(mac)
}

/// The value of one hex digit, either case (signatures in hex, percent escapes).
pub(crate) fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mac_has_one_spelling() {
        let b64 = b"plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ0=";
        let mac = base64_mac(b64).unwrap();
        for bad in [
            &b"plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ0"[..],
            b"plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ1=",
            b"plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwt-Z0=",
            b"",
        ] {
            assert_eq!(base64_mac(bad), None, "{bad:?}");
        }
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex_mac(hex.as_bytes()), Some(mac));
        assert_eq!(hex_mac(hex.to_ascii_uppercase().as_bytes()), Some(mac));
        assert_eq!(hex_mac(&hex.as_bytes()[..62]), None);
        assert_eq!(hex_mac(hex.replace('a', "g").as_bytes()), None);
    }
}
