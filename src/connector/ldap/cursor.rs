//! RFC 9865 cursors over the Simple Paged Results control (RFC 2696).
//!
//! A paged-results cookie belongs to the connection whose search produced it (OpenLDAP
//! numbers them per connection; AD keeps the state per connection too), and a pool hands
//! out any connection. So the connector keeps **live paged searches**: when a cursor page
//! leaves entries behind, its connection is taken out of the pool and parked here with the
//! cookie and the one look-ahead entry, under a random token, for [`IDLE`] at most and
//! [`MAX_SESSIONS`] at a time (the least recently used is closed first).
//!
//! The cursor carries the offset of the next entry, the token and the cookie:
//! `p` + URL-safe base64 (no padding) of `1 ‖ offset (u64 BE) ‖ token (16 bytes) ‖ cookie`.
//! The next page continues the parked search in O(page). When the session is gone
//! (expired, evicted, another gateway instance, a restart) or does not match (the cursor
//! was used before), the connector re-runs the search and skips `offset` entries: slower,
//! O(offset), but the same answer as long as the directory did not change. A cursor is
//! therefore never "expired" for the client.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ldap3::Ldap;

use super::ops::RawEntry;
use crate::connector::ConnectorError;

pub const MAX_SESSIONS: usize = 16;
pub const IDLE: Duration = Duration::from_secs(120);

pub type Token = [u8; 16];

#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub offset: u64,
    pub token: Token,
    pub cookie: Vec<u8>,
}

pub fn invalid_cursor(why: &str) -> ConnectorError {
    ConnectorError::InvalidValue {
        field: None,
        detail: format!("invalid cursor: {why}"),
    }
}

impl Cursor {
    pub fn encode(&self) -> String {
        let mut raw = Vec::with_capacity(25 + self.cookie.len());
        raw.push(1u8);
        raw.extend_from_slice(&self.offset.to_be_bytes());
        raw.extend_from_slice(&self.token);
        raw.extend_from_slice(&self.cookie);
        format!("p{}", URL_SAFE_NO_PAD.encode(raw))
    }

    pub fn decode(text: &str) -> Result<Cursor, ConnectorError> {
        let body = text.strip_prefix('p').ok_or_else(|| invalid_cursor("unknown form"))?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| invalid_cursor("not base64url"))?;
        if raw.len() < 25 || raw[0] != 1 {
            return Err(invalid_cursor("truncated or unknown version"));
        }
        let offset = u64::from_be_bytes(raw[1..9].try_into().map_err(|_| invalid_cursor("offset"))?);
        let token: Token = raw[9..25].try_into().map_err(|_| invalid_cursor("token"))?;
        Ok(Cursor {
            offset,
            token,
            cookie: raw[25..].to_vec(),
        })
    }
}

pub fn new_token() -> Token {
    *uuid::Uuid::new_v4().as_bytes()
}

/// A paged search in progress on a dedicated connection.
pub struct Session {
    /// `None` when the search is complete and only buffered entries remain.
    pub conn: Option<Ldap>,
    /// Entity, filter, sort and attributes: a cursor continues only its own search.
    pub fingerprint: String,
    pub cookie: Vec<u8>,
    pub buffer: VecDeque<RawEntry>,
    /// Offset of the first buffered entry.
    pub offset: u64,
    touched: Instant,
}

impl Session {
    pub fn new(
        conn: Option<Ldap>,
        fingerprint: String,
        cookie: Vec<u8>,
        buffer: VecDeque<RawEntry>,
        offset: u64,
    ) -> Session {
        Session {
            conn,
            fingerprint,
            cookie,
            buffer,
            offset,
            touched: Instant::now(),
        }
    }
}

#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<Token, Session>>,
}

impl Sessions {
    /// Takes the session of a cursor out (exclusive use), if it is live and matches.
    pub fn take(&self, cursor: &Cursor, fingerprint: &str) -> Option<Session> {
        let mut map = self.map.lock().ok()?;
        map.retain(|_, s| s.touched.elapsed() < IDLE);
        let s = map.remove(&cursor.token)?;
        (s.fingerprint == fingerprint && s.offset == cursor.offset && s.cookie == cursor.cookie).then_some(s)
    }

    /// Parks a session; evicts the least recently used beyond [`MAX_SESSIONS`]. Dropping a
    /// session's `Ldap` handle closes its connection, which ends the search on the server.
    pub fn put(&self, token: Token, session: Session) {
        let Ok(mut map) = self.map.lock() else {
            return;
        };
        map.retain(|_, s| s.touched.elapsed() < IDLE);
        while map.len() >= MAX_SESSIONS {
            let Some(oldest) = map.iter().min_by_key(|(_, s)| s.touched).map(|(k, _)| *k) else {
                break;
            };
            map.remove(&oldest);
        }
        map.insert(token, session);
    }

    #[cfg(test)]
    pub fn count(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        let c = Cursor {
            offset: 300,
            token: [7; 16],
            cookie: vec![0, 1, 0xfe, 0xff],
        };
        let text = c.encode();
        assert!(text.starts_with('p'));
        assert!(
            text[1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(Cursor::decode(&text).unwrap(), c);
        assert_eq!(
            Cursor {
                offset: 1,
                token: [0; 16],
                cookie: vec![]
            }
            .encode(),
            "pAQAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAA"
        );
        for bad in ["", "x", "p", "p!!!", "pAQ", "k00"] {
            let e = Cursor::decode(bad).unwrap_err();
            assert!(e.to_string().contains("cursor"), "{bad}: {e}");
        }
    }

    #[test]
    fn sessions_match_their_cursor_only() {
        let s = Sessions::default();
        let c = Cursor {
            offset: 10,
            token: [1; 16],
            cookie: vec![9],
        };
        s.put(c.token, Session::new(None, "f".into(), vec![9], VecDeque::new(), 10));
        assert!(s.take(&c, "other").is_none(), "another search's cursor");
        s.put(c.token, Session::new(None, "f".into(), vec![9], VecDeque::new(), 10));
        assert!(
            s.take(
                &Cursor {
                    offset: 20,
                    ..c.clone()
                },
                "f"
            )
            .is_none()
        );
        s.put(c.token, Session::new(None, "f".into(), vec![9], VecDeque::new(), 10));
        assert!(s.take(&c, "f").is_some());
        assert!(s.take(&c, "f").is_none(), "taken once");
        for i in 0..(MAX_SESSIONS + 5) {
            s.put(
                [i as u8; 16],
                Session::new(None, "f".into(), vec![], VecDeque::new(), 0),
            );
        }
        assert_eq!(s.count(), MAX_SESSIONS);
    }
}
