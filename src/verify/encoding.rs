//! The text forms of a 32-byte MAC in signature headers, decoded strictly: one spelling per
//! MAC, so a signature's text can never pass for another's.

/// The length of a padded standard base64 encoding of 32 bytes.
const BASE64_LEN: usize = 44;

/// Not a base64 digit: the high bit set, which no digit's value (0 to 63) has.
const NOT_A_DIGIT: u8 = 0xFF;

/// The value of each byte as a standard base64 digit (`A-Z a-z 0-9 + /`).
// `i` is below 64, so the cast is exact (`try_from` is not `const`).
#[allow(clippy::cast_possible_truncation)]
const DIGITS: [u8; 256] = {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut table = [NOT_A_DIGIT; 256];
    let mut i = 0;
    while i < alphabet.len() {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// A MAC from exactly 44 characters of canonical padded standard base64 (`+`, `/`, `=`);
/// `None` for any other length, URL-safe or unpadded text, or non-zero trailing bits.
///
/// The one spelling of 32 bytes is 43 digits and one `=`, the last digit carrying 4 bits
/// and two zero bits. Decoded here for that shape alone: the general decoder (the `base64`
/// crate, which a test holds this one to, byte for byte) costs twice as much on the path
/// of every request.
pub(crate) fn base64_mac(text: &[u8]) -> Option<[u8; 32]> {
    let text: &[u8; BASE64_LEN] = text.try_into().ok()?;
    let (digits, padding) = text.split_at(BASE64_LEN - 1);
    if padding != b"=" {
        return None;
    }
    let digit = |b: u8| DIGITS[usize::from(b)];
    let mut mac = [0u8; 32];
    // The high bit of any value that is not a digit.
    let mut invalid = 0u8;
    let (groups, last) = digits.split_at(40);
    for (group, out) in groups.chunks_exact(4).zip(mac.chunks_exact_mut(3)) {
        let (a, b, c, d) = (
            digit(group[0]),
            digit(group[1]),
            digit(group[2]),
            digit(group[3]),
        );
        invalid |= a | b | c | d;
        let bits = u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6 | u32::from(d);
        out.copy_from_slice(&bits.to_be_bytes()[1..]);
    }
    let (a, b, c) = (digit(last[0]), digit(last[1]), digit(last[2]));
    invalid |= a | b | c;
    if invalid & 0x80 != 0 || c & 0b11 != 0 {
        return None;
    }
    let bits = u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6;
    mac[30..].copy_from_slice(&bits.to_be_bytes()[1..3]);
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
    use base64::{Engine, engine::general_purpose::STANDARD};

    use super::*;

    /// What the general decoder accepts as the one spelling of 32 bytes.
    fn reference(text: &[u8]) -> Option<[u8; 32]> {
        if text.len() != BASE64_LEN {
            return None;
        }
        let mut buf = [0u8; 33];
        let n = STANDARD.decode_slice(text, &mut buf).ok()?;
        <[u8; 32]>::try_from(buf.get(..n)?).ok()
    }

    #[test]
    fn decodes_exactly_what_the_strict_general_decoder_does() {
        let macs = [
            [0u8; 32],
            [0xFF; 32],
            std::array::from_fn(|i| u8::try_from((i * 37 + 11) % 256).unwrap()),
        ];
        for mac in macs {
            let text = STANDARD.encode(mac).into_bytes();
            assert_eq!(base64_mac(&text), Some(mac));
            // Every byte value at every position, against the reference.
            for pos in 0..text.len() {
                for b in 0..=255u8 {
                    let mut changed = text.clone();
                    changed[pos] = b;
                    assert_eq!(base64_mac(&changed), reference(&changed), "{changed:?}");
                }
            }
            // And the lengths around 44.
            for len in [0, 1, 42, 43, 45, 46, 88] {
                let mut other = text.clone();
                other.resize(len, b'A');
                assert_eq!(base64_mac(&other), reference(&other), "{other:?}");
            }
        }
    }

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
