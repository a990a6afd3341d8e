//! Bearer tokens and HTTP basic credentials, compared in constant time.

use base64::Engine;
use subtle::ConstantTimeEq;

use crate::secret::Secret;

/// Accepted credentials. Holds secrets only; `Debug` never shows them.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub tokens: Vec<Secret>,
    pub basic: Vec<(String, Secret)>,
}

fn same(a: &str, b: &str) -> bool {
    // `ct_eq` on slices of different lengths returns false without leaking where they differ;
    // the length itself is not secret.
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

impl Credentials {
    /// Checks an `Authorization` header value.
    pub fn check(&self, authorization: Option<&str>) -> bool {
        let Some(value) = authorization.map(str::trim) else {
            return false;
        };
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            // Evaluate every token so timing does not reveal which one matched.
            return self.tokens.iter().fold(false, |ok, t| same(t.expose(), rest) | ok);
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest) else {
                return false;
            };
            let Ok(text) = String::from_utf8(decoded) else {
                return false;
            };
            let Some((user, password)) = text.split_once(':') else {
                return false;
            };
            return self
                .basic
                .iter()
                .fold(false, |ok, (u, p)| (same(u, user) & same(p.expose(), password)) | ok);
        }
        false
    }

    /// The `WWW-Authenticate` challenge (RFC 6750 §3, RFC 7617).
    pub fn challenge(&self) -> String {
        let mut c = "Bearer realm=\"scimgate\"".to_owned();
        if !self.basic.is_empty() {
            c.push_str(", Basic realm=\"scimgate\", charset=\"UTF-8\"");
        }
        c
    }
}

/// A fresh random token for the quickstart: 32 bytes, base64url.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            tokens: vec![Secret::new("t0ken".into()), Secret::new("other".into())],
            basic: vec![("okta".into(), Secret::new("pw".into()))],
        }
    }

    #[test]
    fn bearer_and_basic_are_accepted_case_insensitively() {
        let c = creds();
        assert!(c.check(Some("Bearer t0ken")));
        assert!(c.check(Some("bearer other")));
        let basic = base64::engine::general_purpose::STANDARD.encode("okta:pw");
        assert!(c.check(Some(&format!("Basic {basic}"))));
    }

    #[test]
    fn wrong_or_missing_credentials_are_refused() {
        let c = creds();
        assert!(!c.check(None));
        assert!(!c.check(Some("Bearer t0ke")));
        assert!(!c.check(Some("Bearer ")));
        assert!(!c.check(Some("Token t0ken")));
        let basic = base64::engine::general_purpose::STANDARD.encode("okta:PW");
        assert!(!c.check(Some(&format!("Basic {basic}"))));
        assert!(!c.check(Some("Basic !!!")));
    }

    #[test]
    fn generated_tokens_differ() {
        assert_ne!(generate_token(), generate_token());
        assert_eq!(generate_token().len(), 43);
    }
}
