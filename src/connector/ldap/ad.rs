//! Active Directory encodings: `objectGUID` ↔ the GUID string AD shows, `unicodePwd`,
//! `userAccountControl` bits.

/// `userAccountControl`: the account is disabled.
pub const UAC_ACCOUNTDISABLE: i64 = 0x0002;
/// `userAccountControl`: a normal account.
pub const UAC_NORMAL_ACCOUNT: i64 = 0x0200;

/// The canonical string of a 16-byte `objectGUID`, as AD shows it
/// (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower case, no braces). The first three
/// groups are little-endian in the binary form, the last two big-endian.
pub fn guid_to_string(bytes: &[u8]) -> Option<String> {
    let b: &[u8; 16] = bytes.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    ))
}

/// The 16 bytes of a GUID string (canonical form, either case; braces not accepted).
/// `None` when the text is not a GUID.
pub fn guid_from_string(text: &str) -> Option<[u8; 16]> {
    let t = text.as_bytes();
    if t.len() != 36 || [8, 13, 18, 23].iter().any(|&i| t[i] != b'-') {
        return None;
    }
    let hex: Vec<u8> = t.iter().copied().filter(|&c| c != b'-').collect();
    if hex.len() != 32 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut v = [0u8; 16];
    for (i, byte) in v.iter_mut().enumerate() {
        let s = std::str::from_utf8(&hex[2 * i..2 * i + 2]).ok()?;
        *byte = u8::from_str_radix(s, 16).ok()?;
    }
    // text order → binary order: reverse the first three groups
    Some([
        v[3], v[2], v[1], v[0], v[5], v[4], v[7], v[6], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15],
    ])
}

/// Whether `text` is a UUID in the canonical hyphenated form (entryUUID).
pub fn is_uuid(text: &str) -> bool {
    guid_from_string(text).is_some()
}

/// The `unicodePwd` value of a password: the password in double quotes, UTF-16LE.
pub fn unicode_pwd(password: &str) -> Vec<u8> {
    format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_byte_order_round_trip() {
        // MS-DTYP 2.3.4: {6B29FC40-CA47-1067-B31D-00DD010662DA} is stored as
        // 40 FC 29 6B 47 CA 67 10 B3 1D 00 DD 01 06 62 DA.
        let bytes = [
            0x40, 0xFC, 0x29, 0x6B, 0x47, 0xCA, 0x67, 0x10, 0xB3, 0x1D, 0x00, 0xDD, 0x01, 0x06, 0x62, 0xDA,
        ];
        assert_eq!(guid_to_string(&bytes).unwrap(), "6b29fc40-ca47-1067-b31d-00dd010662da");
        assert_eq!(guid_from_string("6B29FC40-CA47-1067-B31D-00DD010662DA").unwrap(), bytes);
        assert_eq!(guid_from_string("6b29fc40-ca47-1067-b31d-00dd010662da").unwrap(), bytes);
        assert_eq!(guid_to_string(&bytes[..15]), None);
        for bad in [
            "{6b29fc40-ca47-1067-b31d-00dd010662da}",
            "6b29fc40ca471067b31d00dd010662da",
            "6b29fc40-ca47-1067-b31d-00dd010662dz",
            "abc",
            "",
            "6b29fc40-ca47-1067-b31d+00dd010662da",
        ] {
            assert_eq!(guid_from_string(bad), None, "{bad}");
        }
    }

    #[test]
    fn unicode_pwd_is_quoted_utf16le() {
        assert_eq!(unicode_pwd("ab"), vec![0x22, 0, 0x61, 0, 0x62, 0, 0x22, 0]);
        assert_eq!(unicode_pwd("é"), vec![0x22, 0, 0xE9, 0, 0x22, 0]);
        assert_eq!(unicode_pwd("😀").len(), 8);
    }
}
