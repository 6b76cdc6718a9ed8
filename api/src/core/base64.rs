//! Standard base64 (RFC 4648, padded), as Kubernetes puts `[]byte` fields
//! such as Secret `data` on the wire. Small enough to keep in-tree.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encode bytes with padding.
pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decode padded standard base64. Line breaks (`\r`, `\n`) are skipped, as
/// Go's decoder does. The error names the first bad input byte the way Go
/// does: `illegal base64 data at input byte 4`.
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let bytes: Vec<(usize, u8)> = text
        .bytes()
        .enumerate()
        .filter(|(_, c)| *c != b'\r' && *c != b'\n')
        .collect();
    let illegal = |pos: usize| format!("illegal base64 data at input byte {pos}");
    let in_alphabet = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'=';
    // Bad characters are reported where they are, as Go's decoder reaches
    // them; only then does a short final group count.
    if let Some((pos, _)) = bytes.iter().find(|(_, c)| !in_alphabet(*c)) {
        return Err(illegal(*pos));
    }
    if !bytes.len().is_multiple_of(4) {
        return Err(illegal(text.len()));
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let groups = bytes.len() / 4;
    for (g, quad) in bytes.chunks(4).enumerate() {
        let mut n: u32 = 0;
        let mut pad = 0;
        for (k, (pos, c)) in quad.iter().enumerate() {
            let v = match *c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                // Padding only in the last two places of the last group.
                b'=' if g == groups - 1 && k >= 2 && (k == 3 || quad[3].1 == b'=') => {
                    pad += 1;
                    0
                }
                _ => return Err(illegal(*pos)),
            };
            if pad > 0 && *c != b'=' {
                return Err(illegal(*pos));
            }
            n = (n << 6) | u32::from(v);
        }
        let three = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&three[..3 - pad]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in [
            "",
            "f",
            "fo",
            "foo",
            "foob",
            "fooba",
            "foobar",
            "\u{0}\u{ff}",
        ] {
            let e = encode(s.as_bytes());
            assert_eq!(decode(&e).unwrap(), s.as_bytes(), "{s:?} -> {e}");
        }
        assert_eq!(encode(b"admin"), "YWRtaW4=");
        assert_eq!(decode("cGFzc3dvcmQ=").unwrap(), b"password");
        assert_eq!(decode("cGFz\nc3dv\r\ncmQ=").unwrap(), b"password");
    }

    #[test]
    fn rejects_what_go_rejects() {
        assert_eq!(
            decode("not base64!").unwrap_err(),
            "illegal base64 data at input byte 3"
        );
        assert!(decode("YWRtaW4").is_err(), "missing padding");
        assert!(decode("YW=taW4=").is_err(), "padding in the middle");
        assert!(decode("=AAA").is_err());
    }
}
