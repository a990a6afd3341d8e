//! The LDAP operations the connector sends, as data: rendered LDIF-style for `explain`, and
//! executed by the same values, so what `explain` shows is what runs.

use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use ldap3::controls::RawControl;
use ldap3::{Ldap, LdapResult, Mod, Scope};

/// OIDs of the controls and extended operations the connector uses.
pub mod oid {
    pub const PAGED_RESULTS: &str = "1.2.840.113556.1.4.319";
    pub const SORT: &str = "1.2.840.113556.1.4.473";
    pub const PERMISSIVE_MODIFY: &str = "1.2.840.113556.1.4.1413";
    pub const ASSERTION: &str = "1.3.6.1.1.12";
    pub const PASSWORD_MODIFY: &str = "1.3.6.1.4.1.4203.1.11.1";
    pub const START_TLS: &str = "1.3.6.1.4.1.1466.20037";
    /// `supportedCapabilities` of Active Directory (LDAP_CAP_ACTIVE_DIRECTORY_OID).
    pub const AD_CAPABILITY: &str = "1.2.840.113556.1.4.800";
}

/// One attribute value to write. A secret (a password) is never rendered.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Plain(Vec<u8>),
    Secret(Vec<u8>),
}

impl AttrValue {
    pub fn text(s: &str) -> AttrValue {
        AttrValue::Plain(s.as_bytes().to_vec())
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            AttrValue::Plain(b) | AttrValue::Secret(b) => b,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModKind {
    Add,
    Delete,
    Replace,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Modification {
    pub kind: ModKind,
    pub attr: String,
    pub values: Vec<AttrValue>,
}

impl Modification {
    pub fn new(kind: ModKind, attr: &str, values: Vec<AttrValue>) -> Self {
        Modification {
            kind,
            attr: attr.to_owned(),
            values,
        }
    }
}

/// A request control the connector sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// RFC 4528: the write happens only if the entry matches the filter.
    Assertion(String),
    /// Adding a present value or deleting an absent one is not an error (AD, OpenLDAP).
    PermissiveModify,
}

impl Control {
    fn raw(&self) -> RawControl {
        match self {
            Control::Assertion(filter) => {
                let mut c = ldap3::controls::Assertion::new(filter.as_str());
                c.crit = true;
                c
            }
            Control::PermissiveModify => RawControl {
                ctype: oid::PERMISSIVE_MODIFY.to_owned(),
                crit: false,
                val: None,
            },
        }
    }
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Control::Assertion(filter) => write!(f, "control: {} true {filter}", oid::ASSERTION),
            Control::PermissiveModify => write!(f, "control: {} false", oid::PERMISSIVE_MODIFY),
        }
    }
}

/// A server-side sort key (RFC 2891).
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub attr: String,
    pub reverse: bool,
    /// An explicit ordering rule (`caseIgnoreOrderingMatch`): slapd's sssvlv sorts only by
    /// an ordering rule, and `uid` or `cn` define none.
    pub rule: Option<String>,
}

/// A search, with the page size of the paged results control when the server offers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub base: String,
    pub scope: Scope,
    pub filter: String,
    pub attrs: Vec<String>,
    pub page_size: Option<i32>,
    pub sort: Vec<SortKey>,
}

impl Search {
    /// The request controls of one page: the sort, then paged results with `size` and `cookie`.
    pub fn controls(&self, size: Option<i32>, cookie: &[u8]) -> Vec<RawControl> {
        let mut out = Vec::new();
        if !self.sort.is_empty() {
            out.push(sort_control(&self.sort));
        }
        if let Some(size) = size {
            out.push(
                ldap3::controls::PagedResults {
                    size,
                    cookie: cookie.to_vec(),
                }
                .into(),
            );
        }
        out
    }
}

impl fmt::Display for Search {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = match self.scope {
            Scope::Base => "base",
            Scope::OneLevel => "one",
            Scope::Subtree => "sub",
        };
        write!(
            f,
            "search base=\"{}\" scope={scope} filter=\"{}\" attrs=[{}]",
            self.base,
            self.filter,
            self.attrs.join(", ")
        )?;
        if !self.sort.is_empty() {
            let keys: Vec<String> = self
                .sort
                .iter()
                .map(|k| {
                    let rule = k.rule.as_deref().map(|r| format!(":{r}")).unwrap_or_default();
                    format!("{}{}{rule}", if k.reverse { "-" } else { "" }, k.attr)
                })
                .collect();
            write!(f, " sort=[{}]", keys.join(", "))?;
        }
        if let Some(size) = self.page_size {
            write!(f, " paged={size}")?;
        }
        Ok(())
    }
}

/// One LDAP operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Search(Search),
    Add {
        dn: String,
        attrs: Vec<(String, Vec<AttrValue>)>,
    },
    Modify {
        dn: String,
        mods: Vec<Modification>,
        controls: Vec<Control>,
    },
    /// A rename (`new_rdn`), a move (`new_superior`), or both; the old RDN value is deleted.
    ModifyDn {
        dn: String,
        new_rdn: String,
        new_superior: Option<String>,
        controls: Vec<Control>,
    },
    Delete {
        dn: String,
        controls: Vec<Control>,
    },
    /// Whether `dn` holds `attr: value` (one indexed check, whatever the attribute's size).
    Compare {
        dn: String,
        attr: String,
        value: String,
    },
    /// RFC 3062 Password Modify on `dn`.
    PasswordModify {
        dn: String,
        password: String,
    },
}

fn write_value(f: &mut fmt::Formatter<'_>, attr: &str, value: &AttrValue) -> fmt::Result {
    match value {
        AttrValue::Secret(_) => write!(f, "\n{attr}: <password>"),
        AttrValue::Plain(bytes) => match std::str::from_utf8(bytes) {
            // LDIF (RFC 2849): safe strings as is, anything else base64.
            // `<dn of id …>` placeholders of dry runs print as they are.
            Ok(s) if s.starts_with("<dn of id ") && s.ends_with('>') => write!(f, "\n{attr}: {s}"),
            Ok(s)
                if !s.starts_with([' ', ':', '<'])
                    && !s.ends_with(' ')
                    && s.chars().all(|c| c != '\n' && c != '\r' && c != '\0') =>
            {
                write!(f, "\n{attr}: {s}")
            }
            _ => write!(
                f,
                "\n{attr}:: {}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            ),
        },
    }
}

fn write_controls(f: &mut fmt::Formatter<'_>, controls: &[Control]) -> fmt::Result {
    controls.iter().try_for_each(|c| write!(f, "\n{c}"))
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Search(s) => s.fmt(f),
            Op::Add { dn, attrs } => {
                write!(f, "dn: {dn}\nchangetype: add")?;
                for (attr, values) in attrs {
                    values.iter().try_for_each(|v| write_value(f, attr, v))?;
                }
                Ok(())
            }
            Op::Modify { dn, mods, controls } => {
                write!(f, "dn: {dn}")?;
                write_controls(f, controls)?;
                write!(f, "\nchangetype: modify")?;
                for m in mods {
                    let kind = match m.kind {
                        ModKind::Add => "add",
                        ModKind::Delete => "delete",
                        ModKind::Replace => "replace",
                    };
                    write!(f, "\n{kind}: {}", m.attr)?;
                    m.values.iter().try_for_each(|v| write_value(f, &m.attr, v))?;
                    write!(f, "\n-")?;
                }
                Ok(())
            }
            Op::ModifyDn {
                dn,
                new_rdn,
                new_superior,
                controls,
            } => {
                write!(f, "dn: {dn}")?;
                write_controls(f, controls)?;
                write!(f, "\nchangetype: modrdn\nnewrdn: {new_rdn}\ndeleteoldrdn: 1")?;
                match new_superior {
                    Some(parent) => write!(f, "\nnewsuperior: {parent}"),
                    None => Ok(()),
                }
            }
            Op::Delete { dn, controls } => {
                write!(f, "dn: {dn}")?;
                write_controls(f, controls)?;
                write!(f, "\nchangetype: delete")
            }
            Op::Compare { dn, attr, value } => write!(f, "compare dn=\"{dn}\" {attr}={value}"),
            Op::PasswordModify { dn, .. } => {
                write!(f, "extended {} on {dn} newPasswd=<password>", oid::PASSWORD_MODIFY)
            }
        }
    }
}

fn value_set(values: &[AttrValue]) -> HashSet<Vec<u8>> {
    values.iter().map(|v| v.bytes().to_vec()).collect()
}

/// Sends a write operation (not a search) and returns the server's result, whatever its
/// code: callers decide which codes are errors.
pub async fn send(ldap: &mut Ldap, op: &Op) -> Result<LdapResult, ldap3::LdapError> {
    let raw = |controls: &[Control]| controls.iter().map(Control::raw).collect::<Vec<_>>();
    match op {
        Op::Search(_) => unreachable_search(),
        Op::Add { dn, attrs } => {
            let attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)> = attrs
                .iter()
                .map(|(a, v)| (a.as_bytes().to_vec(), value_set(v)))
                .collect();
            ldap.add(dn, attrs).await
        }
        Op::Modify { dn, mods, controls } => {
            let mods: Vec<Mod<Vec<u8>>> = mods
                .iter()
                .map(|m| {
                    let attr = m.attr.as_bytes().to_vec();
                    let set = value_set(&m.values);
                    match m.kind {
                        ModKind::Add => Mod::Add(attr, set),
                        ModKind::Delete => Mod::Delete(attr, set),
                        ModKind::Replace => Mod::Replace(attr, set),
                    }
                })
                .collect();
            ldap.with_controls(raw(controls)).modify(dn, mods).await
        }
        Op::ModifyDn {
            dn,
            new_rdn,
            new_superior,
            controls,
        } => {
            ldap.with_controls(raw(controls))
                .modifydn(dn, new_rdn, true, new_superior.as_deref())
                .await
        }
        Op::Delete { dn, controls } => ldap.with_controls(raw(controls)).delete(dn).await,
        Op::Compare { dn, attr, value } => ldap.compare(dn, attr, value.as_bytes()).await.map(|r| r.0),
        Op::PasswordModify { dn, password } => {
            let exop = ldap3::exop::PasswordModify {
                user_id: Some(dn),
                old_pass: None,
                new_pass: Some(password),
            };
            ldap.extended(exop).await.map(|r| r.1)
        }
    }
}

fn unreachable_search() -> Result<LdapResult, ldap3::LdapError> {
    Ok(LdapResult {
        rc: 80,
        matched: String::new(),
        text: "internal: a search sent as a write".into(),
        refs: Vec::new(),
        ctrls: Vec::new(),
    })
}

/// An entry as returned: its DN and every attribute's raw values, in the server's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawEntry {
    pub dn: String,
    pub attrs: Vec<(String, Vec<Vec<u8>>)>,
}

impl RawEntry {
    /// The values of an attribute (case-insensitive, options ignored).
    pub fn get(&self, attr: &str) -> Option<&Vec<Vec<u8>>> {
        self.attrs
            .iter()
            .find(|(a, _)| a.split(';').next().unwrap_or(a).eq_ignore_ascii_case(attr))
            .map(|(_, v)| v)
    }

    pub fn first_text(&self, attr: &str) -> Option<String> {
        self.get(attr)
            .and_then(|v| v.first())
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

/// Parses a search result entry without panicking on malformed BER (`SearchEntry::construct`
/// would), keeping raw bytes.
pub fn parse_entry(entry: ldap3::ResultEntry) -> Option<RawEntry> {
    let mut tags = entry.0.match_id(4)?.expect_constructed()?.into_iter();
    let dn = String::from_utf8(tags.next()?.expect_primitive()?).ok()?;
    let mut attrs = Vec::new();
    for pa in tags.next()?.expect_constructed()? {
        let mut parts = pa.expect_constructed()?.into_iter();
        let name = String::from_utf8(parts.next()?.expect_primitive()?).ok()?;
        let values = parts
            .next()?
            .expect_constructed()?
            .into_iter()
            .map(|t| t.expect_primitive())
            .collect::<Option<Vec<_>>>()?;
        attrs.push((name, values));
    }
    Some(RawEntry { dn, attrs })
}

/// The cookie of a paged results response control; `None` when there is none.
pub fn paged_cookie(result: &LdapResult) -> Option<Vec<u8>> {
    let ctrl = result.ctrls.iter().find(|c| c.1.ctype == oid::PAGED_RESULTS)?;
    let val = ctrl.1.val.as_deref()?;
    let (_, tag) = ldap3::asn1::parse_tag(val).ok()?;
    let mut parts = tag.expect_constructed()?.into_iter();
    let _size = parts.next()?;
    parts.next()?.expect_primitive()
}

/// DER length octets.
fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
}

fn der(tag: u8, content: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    der_len(content.len(), out);
    out.extend_from_slice(content);
}

/// The server-side sort request control (RFC 2891), critical: results are never silently
/// unsorted. `SortKeyList ::= SEQUENCE OF SEQUENCE { attributeType, reverseOrder [1] BOOLEAN }`.
pub fn sort_control(keys: &[SortKey]) -> RawControl {
    let mut list = Vec::new();
    for k in keys {
        let mut key = Vec::new();
        der(0x04, k.attr.as_bytes(), &mut key);
        if let Some(rule) = &k.rule {
            der(0x80, rule.as_bytes(), &mut key);
        }
        if k.reverse {
            der(0x81, &[0xff], &mut key);
        }
        der(0x30, &key, &mut list);
    }
    let mut val = Vec::new();
    der(0x30, &list, &mut val);
    RawControl {
        ctype: oid::SORT.to_owned(),
        crit: true,
        val: Some(val),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_ldif() {
        let add = Op::Add {
            dn: "uid=ann,ou=people,dc=example,dc=org".into(),
            attrs: vec![
                (
                    "objectClass".into(),
                    vec![AttrValue::text("top"), AttrValue::text("person")],
                ),
                ("uid".into(), vec![AttrValue::text("ann")]),
                ("userPassword".into(), vec![AttrValue::Secret(b"s3cret".to_vec())]),
                ("jpegPhoto".into(), vec![AttrValue::Plain(vec![0xff, 0xd8])]),
            ],
        };
        assert_eq!(
            add.to_string(),
            "dn: uid=ann,ou=people,dc=example,dc=org\nchangetype: add\nobjectClass: top\nobjectClass: person\nuid: ann\nuserPassword: <password>\njpegPhoto:: /9g="
        );
        let modify = Op::Modify {
            dn: "uid=ann,dc=x".into(),
            mods: vec![
                Modification::new(ModKind::Replace, "mail", vec![AttrValue::text("a@x")]),
                Modification::new(ModKind::Replace, "title", vec![]),
                Modification::new(ModKind::Add, "member", vec![AttrValue::text("uid=b,dc=x")]),
            ],
            controls: vec![Control::Assertion("(entryCSN=1)".into()), Control::PermissiveModify],
        };
        assert_eq!(
            modify.to_string(),
            "dn: uid=ann,dc=x\ncontrol: 1.3.6.1.1.12 true (entryCSN=1)\ncontrol: 1.2.840.113556.1.4.1413 false\nchangetype: modify\nreplace: mail\nmail: a@x\n-\nreplace: title\n-\nadd: member\nmember: uid=b,dc=x\n-"
        );
        let rename = Op::ModifyDn {
            dn: "cn=a,dc=x".into(),
            new_rdn: "cn=Sales\\, EMEA".into(),
            new_superior: None,
            controls: vec![],
        };
        assert_eq!(
            rename.to_string(),
            "dn: cn=a,dc=x\nchangetype: modrdn\nnewrdn: cn=Sales\\, EMEA\ndeleteoldrdn: 1"
        );
        let moved = Op::ModifyDn {
            dn: "cn=a,ou=x,dc=x".into(),
            new_rdn: "cn=a".into(),
            new_superior: Some("ou=y,dc=x".into()),
            controls: vec![],
        };
        assert_eq!(
            moved.to_string(),
            "dn: cn=a,ou=x,dc=x\nchangetype: modrdn\nnewrdn: cn=a\ndeleteoldrdn: 1\nnewsuperior: ou=y,dc=x"
        );
        let exop = Op::PasswordModify {
            dn: "uid=ann,dc=x".into(),
            password: "s3cret".into(),
        };
        assert_eq!(
            exop.to_string(),
            "extended 1.3.6.1.4.1.4203.1.11.1 on uid=ann,dc=x newPasswd=<password>"
        );
        assert!(!exop.to_string().contains("s3cret"));
        let search = Op::Search(Search {
            base: "ou=people,dc=x".into(),
            scope: Scope::Subtree,
            filter: "(&(objectClass=inetOrgPerson)(uid=ann))".into(),
            attrs: vec!["uid".into(), "mail".into()],
            page_size: Some(500),
            sort: vec![SortKey {
                attr: "cn".into(),
                reverse: true,
                rule: None,
            }],
        });
        assert_eq!(
            search.to_string(),
            "search base=\"ou=people,dc=x\" scope=sub filter=\"(&(objectClass=inetOrgPerson)(uid=ann))\" attrs=[uid, mail] sort=[-cn] paged=500"
        );
    }

    #[test]
    fn encodes_the_sort_control() {
        let c = sort_control(&[
            SortKey {
                attr: "cn".into(),
                reverse: false,
                rule: None,
            },
            SortKey {
                attr: "uid".into(),
                reverse: true,
                rule: None,
            },
        ]);
        assert_eq!(
            c.val.unwrap(),
            vec![
                0x30, 0x10, 0x30, 0x04, 0x04, 0x02, b'c', b'n', 0x30, 0x08, 0x04, 0x03, b'u', b'i', b'd', 0x81, 0x01,
                0xff
            ]
        );
        assert!(c.crit);
    }
}
