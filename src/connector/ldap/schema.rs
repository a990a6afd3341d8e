//! Which attributes can be compared by order (`gt`, `ge`, `lt`, `le`): those whose type, or
//! a supertype, has an ORDERING rule in the server's subschema. slapd evaluates `(uid>=x)`
//! on an attribute without one as Undefined, which would silently match nothing, so such
//! terms are reported by `unsupported` instead. AD publishes no matching rules and orders
//! every syntax: there, nothing is checked.

use std::collections::{HashMap, HashSet};

/// What the subschema says about matching, by lower-cased attribute name (supertypes
/// followed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    /// Attributes with an ORDERING rule.
    pub ordered: HashSet<String>,
    /// The EQUALITY rule of each attribute that has one, lower-cased.
    pub equality: HashMap<String, String>,
    /// The SUBSTR rule of each attribute that has one, lower-cased.
    pub substr: HashMap<String, String>,
}

/// Lower-cased names of the attribute types that have an ORDERING rule, own or inherited.
pub fn ordered_attributes<'a>(definitions: impl IntoIterator<Item = &'a str>) -> HashSet<String> {
    parse(definitions).ordered
}

/// Reads `attributeTypes` definitions (RFC 4512).
pub fn parse<'a>(definitions: impl IntoIterator<Item = &'a str>) -> Schema {
    struct Type {
        names: Vec<String>,
        sup: Option<String>,
        ordering: bool,
        equality: Option<String>,
        substr: Option<String>,
    }
    let types: Vec<Type> = definitions
        .into_iter()
        .map(|d| {
            let tokens = tokenize(d);
            let mut t = Type {
                names: Vec::new(),
                sup: None,
                ordering: false,
                equality: None,
                substr: None,
            };
            let mut i = 0;
            while i < tokens.len() {
                match tokens[i].as_str() {
                    "NAME" => {
                        if tokens.get(i + 1).map(String::as_str) == Some("(") {
                            i += 2;
                            while i < tokens.len() && tokens[i] != ")" {
                                t.names.push(tokens[i].to_ascii_lowercase());
                                i += 1;
                            }
                        } else if let Some(n) = tokens.get(i + 1) {
                            t.names.push(n.to_ascii_lowercase());
                            i += 1;
                        }
                    }
                    "SUP" => {
                        t.sup = tokens.get(i + 1).map(|s| s.to_ascii_lowercase());
                        i += 1;
                    }
                    "ORDERING" => t.ordering = true,
                    "EQUALITY" => {
                        t.equality = tokens.get(i + 1).map(|s| s.to_ascii_lowercase());
                        i += 1;
                    }
                    "SUBSTR" => {
                        t.substr = tokens.get(i + 1).map(|s| s.to_ascii_lowercase());
                        i += 1;
                    }
                    "DESC" => i += 1,
                    _ => {}
                }
                i += 1;
            }
            t
        })
        .collect();
    let by_name: HashMap<&str, &Type> = types
        .iter()
        .flat_map(|t| t.names.iter().map(move |n| (n.as_str(), t)))
        .collect();
    let mut out = Schema::default();
    for t in &types {
        // Each rule is inherited from the nearest supertype that defines it.
        let mut ordering = false;
        let mut equality = None;
        let mut substr = None;
        let mut cur = Some(t);
        let mut hops = 0;
        while let Some(c) = cur {
            ordering |= c.ordering;
            equality = equality.or_else(|| c.equality.clone());
            substr = substr.or_else(|| c.substr.clone());
            hops += 1;
            cur = c
                .sup
                .as_deref()
                .and_then(|s| by_name.get(s).copied())
                .filter(|_| hops < 16);
        }
        for n in &t.names {
            if ordering {
                out.ordered.insert(n.clone());
            }
            if let Some(e) = &equality {
                out.equality.insert(n.clone(), e.clone());
            }
            if let Some(s) = &substr {
                out.substr.insert(n.clone(), s.clone());
            }
        }
    }
    out
}

/// Words, parentheses and quoted strings (quotes removed) of a schema definition.
fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '(' | ')' => out.push(c.to_string()),
            '\'' => {
                let mut s = String::new();
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    s.push(c);
                }
                out.push(s);
            }
            c if c.is_whitespace() => {}
            c => {
                let mut s = c.to_string();
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || n == '(' || n == ')' || n == '\'' {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                out.push(s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ordering_rules_and_inherits_them() {
        let defs = [
            "( 2.5.4.41 NAME 'name' DESC 'RFC4519: (ORDERING none)' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{32768} )",
            "( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name )",
            "( 0.9.2342.19200300.100.1.1 NAME ( 'uid' 'userid' ) EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
            "( 2.5.18.1 NAME 'createTimestamp' EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
            "( 1.1 NAME 'base' ORDERING integerOrderingMatch )",
            "( 1.2 NAME 'derived' SUP base )",
        ];
        let got = ordered_attributes(defs);
        assert!(got.contains("createtimestamp"));
        assert!(got.contains("derived") && got.contains("base"));
        assert!(
            !got.contains("uid") && !got.contains("cn") && !got.contains("name"),
            "{got:?}"
        );
    }
}
