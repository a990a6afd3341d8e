//! Distinguished names (RFC 4514): escaping attribute values, parsing, and a normal form
//! for comparing the DNs a server returns (slapd lower-cases them, AD keeps the case).

/// Escapes an attribute value for use in a DN (RFC 4514 §2.4): `,` `+` `"` `\` `<` `>` `;`
/// and `=` with a backslash, a leading `#` or space, a trailing space, and NUL as `\00`.
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// One attribute type and value assertion of an RDN, the value unescaped.
pub type Ava = (String, String);

/// Parses a DN into its RDNs (leftmost first), each a list of AVAs (several for a
/// multi-valued RDN joined by `+`). Values are unescaped (`\,`, `\2C`, UTF-8 hex pairs).
pub fn parse(dn: &str) -> Result<Vec<Vec<Ava>>, String> {
    let bytes = dn.as_bytes();
    let mut rdns: Vec<Vec<Ava>> = Vec::new();
    if dn.trim().is_empty() {
        return Ok(rdns);
    }
    let mut i = 0;
    let mut rdn: Vec<Ava> = Vec::new();
    loop {
        // attribute type
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' {
            if matches!(bytes[i], b',' | b'+') {
                return Err(format!("`{dn}` is not a DN: an RDN has no `=`"));
            }
            i += 1;
        }
        if i >= bytes.len() {
            return Err(format!("`{dn}` is not a DN: an RDN has no `=`"));
        }
        let attr = dn[start..i].trim().to_owned();
        if attr.is_empty() {
            return Err(format!("`{dn}` is not a DN: empty attribute type"));
        }
        i += 1;
        // value
        let mut value: Vec<u8> = Vec::new();
        // trailing unescaped spaces are not part of the value
        let mut significant = 0;
        let mut end = None;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => {
                    let next = *bytes
                        .get(i + 1)
                        .ok_or_else(|| format!("`{dn}` is not a DN: it ends with `\\`"))?;
                    let hex = bytes.get(i + 2).filter(|_| next.is_ascii_hexdigit());
                    match hex {
                        Some(h) if h.is_ascii_hexdigit() => {
                            let s = std::str::from_utf8(&bytes[i + 1..i + 3]).map_err(|e| e.to_string())?;
                            value.push(u8::from_str_radix(s, 16).map_err(|e| e.to_string())?);
                            i += 3;
                        }
                        _ => {
                            value.push(next);
                            i += 2;
                        }
                    }
                    significant = value.len();
                }
                b',' | b';' | b'+' => {
                    end = Some(bytes[i]);
                    i += 1;
                    break;
                }
                b' ' if value.is_empty() => i += 1,
                b => {
                    value.push(b);
                    if b != b' ' {
                        significant = value.len();
                    }
                    i += 1;
                }
            }
        }
        value.truncate(significant);
        let value = String::from_utf8(value).map_err(|_| format!("`{dn}` is not a DN: a value is not UTF-8"))?;
        rdn.push((attr, value));
        match end {
            Some(b'+') => continue,
            Some(_) => rdns.push(std::mem::take(&mut rdn)),
            None => {
                rdns.push(rdn);
                return Ok(rdns);
            }
        }
    }
}

/// Renders parsed RDNs back to a DN string, values escaped.
pub fn render(rdns: &[Vec<Ava>]) -> String {
    rdns.iter()
        .map(|rdn| {
            rdn.iter()
                .map(|(a, v)| format!("{a}={}", escape_value(v)))
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A DN's normal form for comparisons: parsed, attribute types and values lower-cased,
/// the AVAs of a multi-valued RDN sorted, re-escaped. An unparsable DN is lower-cased.
pub fn normalize(dn: &str) -> String {
    match parse(dn) {
        Ok(rdns) => {
            let lowered: Vec<Vec<Ava>> = rdns
                .into_iter()
                .map(|rdn| {
                    let mut r: Vec<Ava> = rdn
                        .into_iter()
                        .map(|(a, v)| (a.to_lowercase(), v.to_lowercase()))
                        .collect();
                    r.sort();
                    r
                })
                .collect();
            render(&lowered)
        }
        Err(_) => dn.trim().to_lowercase(),
    }
}

/// The parent of a DN (everything after the first RDN), as written.
pub fn parent(dn: &str) -> Option<String> {
    let rdns = parse(dn).ok()?;
    if rdns.len() < 2 {
        return None;
    }
    Some(render(&rdns[1..]))
}

/// Whether `dn` is `base` or below it (normalised comparison).
pub fn is_under(dn: &str, base: &str) -> bool {
    let (Ok(d), Ok(b)) = (parse(dn), parse(base)) else {
        return false;
    };
    if b.len() > d.len() {
        return false;
    }
    let tail = &d[d.len() - b.len()..];
    normalize(&render(tail)) == normalize(&render(&b))
}

/// `<attr>=<escaped value>`: the RDN of a new or renamed entry.
pub fn rdn(attr: &str, value: &str) -> String {
    format!("{attr}={}", escape_value(value))
}

/// `<rdn>,<parent>`.
pub fn child(rdn: &str, parent: &str) -> String {
    if parent.is_empty() {
        rdn.to_owned()
    } else {
        format!("{rdn},{parent}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(escape_value("Sales, EMEA + APAC"), "Sales\\, EMEA \\+ APAC");
        assert_eq!(escape_value(r#"a"b\c<d>e;f=g"#), r#"a\"b\\c\<d\>e\;f\=g"#);
        assert_eq!(escape_value("#hash"), "\\#hash");
        assert_eq!(escape_value("mid#dle"), "mid#dle");
        assert_eq!(escape_value(" lead"), "\\ lead");
        assert_eq!(escape_value("trail "), "trail\\ ");
        assert_eq!(escape_value(" "), "\\ ");
        assert_eq!(escape_value("in side"), "in side");
        assert_eq!(escape_value("nul\0x"), "nul\\00x");
        assert_eq!(escape_value("Zoë"), "Zoë");
        assert_eq!(escape_value(""), "");
    }

    #[test]
    fn parses_escaped_values_back() {
        let dn = "cn=Sales\\, EMEA \\+ APAC,ou=groups,dc=example,dc=org";
        let rdns = parse(dn).unwrap();
        assert_eq!(rdns.len(), 4);
        assert_eq!(rdns[0], vec![("cn".to_owned(), "Sales, EMEA + APAC".to_owned())]);
        assert_eq!(render(&rdns), dn);
        for v in ["a\"b\\c<d>e;f=g", "#hash", " lead", "trail ", "nul\0x", "Zoë", "x,y+z"] {
            let dn = format!("cn={},dc=org", escape_value(v));
            assert_eq!(parse(&dn).unwrap()[0][0].1, v, "round trip of {v:?}");
        }
    }

    #[test]
    fn parses_hex_pairs_and_multi_valued_rdns() {
        let rdns = parse("cn=Sales\\2C EMEA+uid=x\\C3\\AB,dc=org").unwrap();
        assert_eq!(
            rdns[0],
            vec![
                ("cn".to_owned(), "Sales, EMEA".to_owned()),
                ("uid".to_owned(), "xë".to_owned())
            ]
        );
        assert_eq!(rdns[1], vec![("dc".to_owned(), "org".to_owned())]);
        assert!(parse("nonsense").is_err());
        assert!(parse("cn=x\\").is_err());
        assert_eq!(parse("").unwrap(), Vec::<Vec<Ava>>::new());
    }

    #[test]
    fn normalises_case_spaces_and_escapes() {
        assert_eq!(
            normalize("CN=Sales\\2c EMEA, OU=Groups,DC=Example,DC=org"),
            "cn=sales\\, emea,ou=groups,dc=example,dc=org"
        );
        assert_eq!(normalize("uid=b+cn=a,dc=x"), normalize("CN=A+UID=B,dc=x"));
        assert_eq!(parent("uid=a,ou=people,dc=x").as_deref(), Some("ou=people,dc=x"));
        assert!(is_under("uid=a,OU=People,dc=x", "ou=people,dc=x"));
        assert!(!is_under("uid=a,ou=groups,dc=x", "ou=people,dc=x"));
        assert_eq!(child(&rdn("cn", " x,"), "dc=x"), "cn=\\ x\\,,dc=x");
    }
}
