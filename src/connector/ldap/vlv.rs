//! Offset paging with the Virtual List View controls (draft-ietf-ldapext-ldapv3-vlv-09), where
//! the rootDSE offers them together with server-side sort (VLV needs a sort in the request).
//!
//! `startIndex=N&count=M` becomes one search for the window `N .. N+M-1` of the sorted list:
//! the server sends M entries instead of N+M-1, and its `contentCount` is the total, so no
//! counting search follows. The list is sorted by `sortBy` (the id breaks ties), or by the id
//! alone when there is no `sortBy` and the id has an ORDERING rule in the subschema
//! (`entryUUID`: UUIDOrderingMatch). Every page of one listing must come in the same order,
//! so once the id order is used for some pages it is used for all of them:
//!
//! * `startIndex > 1`: VLV.
//! * `startIndex = 1`: the paged search first, unsorted (Entra's lookups by `userName` match
//!   one entry and need no sort, which would take one of slapd's few sort slots). When that
//!   page holds every match it is sorted in memory by the id, the order the server would give
//!   (UUIDOrderingMatch compares the UUID's bytes, which order like its lower-case hex text).
//!   Otherwise the list goes on past this page and the page is read again as a VLV window.
//!
//! A window that the server refuses (result code 76 virtualListViewError, 51 busy, 4 the size
//! limit), answers without the response control, or answers with a target or an entry count
//! that does not match the request is read again the old way: the paged search skipping
//! `startIndex-1` entries, sorted the same way. A page is never returned short.
//!
//! slapd's sssvlv overlay keeps each VLV search's sorted list on the connection until the
//! connection closes (a request without a context ID starts a new one, and nothing frees it),
//! and refuses more than `olcSssVlvMaxPerConn` (5) of them per connection, or more than
//! `olcSssVlvMax` (half the server's threads) in all, with 51 busy. So a connection that sent
//! a VLV search is closed after the request instead of going back to the pool, and a page
//! takes at most [`MAX_WINDOWS`] windows (a window is at most `page_size` entries: the
//! server's size limit applies to the entries of a window).

use bytes::BytesMut;
use ldap3::asn1::{ASNTag, Integer, Sequence, Tag, TagClass, Types, parse_tag, parse_uint, write};
use ldap3::controls::RawControl;
use ldap3::{Ldap, LdapResult};

use super::ops::{RawEntry, Search, SortKey, parse_entry, sort_control};
use super::{LdapConnector, Paging, errors, pool};
use crate::connector::ConnectorError;

pub const REQUEST_OID: &str = "2.16.840.1.113730.3.4.9";
pub const RESPONSE_OID: &str = "2.16.840.1.113730.3.4.10";

/// The LDAP result code of a failed VLV search.
pub const VIRTUAL_LIST_VIEW_ERROR: u32 = 76;
/// `offsetRangeError` of the draft's virtualListViewResult.
pub const OFFSET_RANGE_ERROR: u32 = 61;
/// What slapd sends instead of `offsetRangeError` (its LDAP_VLV_RANGE_ERROR).
pub const SLAPD_RANGE_ERROR: u32 = 77;

/// Windows per page: one less than slapd's default `olcSssVlvMaxPerConn` (5), so that the
/// sorted paged search of a fallback still finds a free slot on the connection.
pub const MAX_WINDOWS: u64 = 4;

/// The draft's `maxInt` (2^31 - 1): the bound of every INTEGER of the controls.
const MAX_INT: u64 = i32::MAX as u64;

/// `count` entries from the 1-based position `offset`: `beforeCount` 0, `afterCount`
/// `count - 1`, target `byOffset` with `contentCount` 0 (the offset is an absolute position).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub offset: u64,
    pub count: u64,
}

impl Window {
    /// `None` when the window is empty or does not fit the control's integers.
    pub fn new(offset: u64, count: u64) -> Option<Window> {
        ((1..=MAX_INT).contains(&offset) && (1..=MAX_INT + 1).contains(&count)).then_some(Window { offset, count })
    }

    /// The request control, critical: a server that ignored it would send the whole list.
    pub fn control(&self) -> RawControl {
        let int = |v: u64| {
            Tag::Integer(Integer {
                inner: i64::try_from(v).unwrap_or(i64::MAX),
                ..Default::default()
            })
        };
        let value = Tag::Sequence(Sequence {
            inner: vec![
                int(0),
                int(self.count - 1),
                Tag::Sequence(Sequence {
                    id: 0,
                    class: TagClass::Context,
                    inner: vec![int(self.offset), int(0)],
                }),
            ],
            ..Default::default()
        })
        .into_structure();
        let mut buf = BytesMut::with_capacity(24);
        write::encode_into(&mut buf, value).expect("BER into memory");
        RawControl {
            ctype: REQUEST_OID.to_owned(),
            crit: true,
            val: Some(buf.to_vec()),
        }
    }
}

/// `VirtualListViewResponse ::= SEQUENCE { targetPosition INTEGER, contentCount INTEGER,
/// virtualListViewResult ENUMERATED, contextID OCTET STRING OPTIONAL }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub target_position: u64,
    pub content_count: u64,
    pub result: u32,
}

impl Response {
    /// The response control of a search result; `None` when absent or malformed.
    pub fn of(result: &LdapResult) -> Option<Response> {
        let ctrl = result.ctrls.iter().find(|c| c.1.ctype == RESPONSE_OID)?;
        Response::decode(ctrl.1.val.as_deref()?)
    }

    pub fn decode(value: &[u8]) -> Option<Response> {
        let (rest, tag) = parse_tag(value).ok()?;
        if !rest.is_empty() {
            return None;
        }
        let mut parts = tag
            .match_class(TagClass::Universal)?
            .match_id(Types::Sequence as u64)?
            .expect_constructed()?
            .into_iter();
        let mut number = |id: Types| -> Option<u64> {
            let bytes = parts
                .next()?
                .match_class(TagClass::Universal)?
                .match_id(id as u64)?
                .expect_primitive()?;
            // Non-negative and at most 8 bytes (a leading zero keeps the sign bit clear).
            if bytes.is_empty() || bytes[0] & 0x80 != 0 || bytes.len() > 9 {
                return None;
            }
            parse_uint(&bytes).ok().map(|(_, v)| v)
        };
        Some(Response {
            target_position: number(Types::Integer)?,
            content_count: number(Types::Integer)?,
            result: u32::try_from(number(Types::Enumerated)?).ok()?,
        })
    }
}

/// What a VLV answer is worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The entries are exactly the window; `total` is the list's length.
    Window { total: u64 },
    /// The window starts after the last entry: the page is empty.
    PastTheEnd { total: u64 },
    /// Read the page the old way; the reason is logged.
    Fallback(String),
}

/// Judges a VLV answer: `rc` and `response` of the search result, `entries` received.
pub fn judge(window: Window, rc: u32, response: Option<&Response>, entries: usize) -> Verdict {
    let Some(r) = response else {
        return Verdict::Fallback(format!("result code {rc} without a VLV response control"));
    };
    let entries = entries as u64;
    match (rc, r.result) {
        (0, 0) if window.offset <= r.content_count => {
            let expected = window.count.min(r.content_count - window.offset + 1);
            if r.target_position != window.offset {
                Verdict::Fallback(format!(
                    "the server put the target at {} instead of {}",
                    r.target_position, window.offset
                ))
            } else if entries != expected {
                // Entries deleted since the sort, or hidden by access control: the window
                // would be short, and the content count is not what the client can see.
                Verdict::Fallback(format!("{entries} entries in a window of {expected}"))
            } else {
                Verdict::Window { total: r.content_count }
            }
        }
        // An empty list has no target (slapd: position 0, count 0).
        (0, 0) if r.content_count == 0 && entries == 0 => Verdict::PastTheEnd { total: 0 },
        (VIRTUAL_LIST_VIEW_ERROR, OFFSET_RANGE_ERROR | SLAPD_RANGE_ERROR)
            if window.offset > r.content_count && entries == 0 =>
        {
            Verdict::PastTheEnd { total: r.content_count }
        }
        (rc, result) => Verdict::Fallback(format!("result code {rc}, virtualListViewResult {result}")),
    }
}

/// The entries of a complete listing in the order a server sorts them by the id
/// (UUIDOrderingMatch: the UUID's bytes, i.e. its lower-case hex text).
pub fn sort_by_id(entries: &mut [RawEntry], id_attr: &str) {
    entries.sort_by_cached_key(|e| {
        e.get(id_attr)
            .and_then(|v| v.first())
            .map(|b| b.to_ascii_lowercase())
            .unwrap_or_default()
    });
}

/// Closes a connection that sent a VLV search instead of returning it to the pool (slapd
/// frees the connection's sorted lists only when it closes).
pub async fn retire(conn: pool::Conn) {
    let mut ldap: Ldap = pool::Conn::take(conn);
    let _ = ldap.unbind().await;
}

/// A page read with VLV: the entries and the list's length.
pub struct VlvPage {
    pub entries: Vec<RawEntry>,
    pub total: u64,
}

impl LdapConnector {
    /// Whether offset pages of `search` are served with VLV, and the search sorted the way
    /// every page of the listing is then sorted: its own sort, or the id when it has none and
    /// the subschema gives the id an ORDERING rule.
    pub(super) fn vlv_order(&self, id_attr: &str, search: &Search) -> Option<Search> {
        if !self.root.virtual_list_view() {
            return None;
        }
        if !search.sort.is_empty() {
            return Some(search.clone());
        }
        let ordered = self
            .schema
            .as_ref()
            .is_some_and(|s| s.ordered.contains(&id_attr.to_ascii_lowercase()));
        ordered.then(|| Search {
            sort: vec![SortKey {
                attr: id_attr.to_owned(),
                reverse: false,
                rule: None,
            }],
            ..search.clone()
        })
    }

    /// The page `offset .. offset+count` (0-based) of `ordered` (from [`Self::vlv_order`]) by
    /// VLV; `plain` is the same search as the client asked it (unsorted without `sortBy`).
    /// `None`: read it the old way, with `ordered`. `sent` tells whether a VLV search went out
    /// on `ldap` (then the connection must be retired).
    pub(super) async fn vlv_offset_page(
        &self,
        ldap: &mut Ldap,
        plain: &Search,
        ordered: &Search,
        (offset, count): (u64, u64),
        sent: &mut bool,
    ) -> Result<Option<VlvPage>, ConnectorError> {
        if offset == 0 {
            let want = usize::try_from(count).unwrap_or(usize::MAX);
            let mut state = Paging::default();
            let (mut entries, _) = self.fill(ldap, plain, &mut state, 0, want).await?;
            if state.done && state.buffer.is_empty() {
                // Without `sortBy`, `ordered` sorts by the id alone.
                if let (true, Some(id)) = (plain.sort.is_empty(), ordered.sort.first()) {
                    sort_by_id(&mut entries, &id.attr);
                }
                let total = entries.len() as u64;
                return Ok(Some(VlvPage { entries, total }));
            }
            self.abandon(ldap, plain, &state).await;
        }
        let size = u64::try_from(ordered.page_size.unwrap_or(self.page_size).max(1)).unwrap_or(1);
        let windows = count.div_ceil(size).max(1);
        if windows > MAX_WINDOWS {
            return Ok(None);
        }
        let mut entries = Vec::new();
        let mut total = None;
        for i in 0..windows {
            let start = offset + 1 + i * size;
            let len = size.min(count - (i * size).min(count)).max(1);
            let Some(window) = Window::new(start, len) else {
                return Ok(None);
            };
            *sent = true;
            let (got, verdict) = self.vlv_window(ldap, ordered, window).await?;
            let t = match verdict {
                Verdict::Window { total } => {
                    entries.extend(got);
                    total
                }
                Verdict::PastTheEnd { total } => total,
                Verdict::Fallback(why) => {
                    tracing::debug!(target: "scimgate::connector::ldap", reason = %why, "VLV window refused; paging by skipping");
                    return Ok(None);
                }
            };
            if total.is_some_and(|before| before != t) {
                // The directory changed between two windows of one page.
                return Ok(None);
            }
            total = Some(t);
            if start + len > t {
                break;
            }
        }
        entries.truncate(usize::try_from(count).unwrap_or(usize::MAX));
        Ok(total.map(|total| VlvPage { entries, total }))
    }

    /// One VLV search. A sort key without an ordering rule (slapd: `uid`, `cn`) is retried
    /// as a case-insensitive string, as paged sorted searches are.
    async fn vlv_window(
        &self,
        ldap: &mut Ldap,
        search: &Search,
        window: Window,
    ) -> Result<(Vec<RawEntry>, Verdict), ConnectorError> {
        let shown = Search {
            page_size: None,
            ..search.clone()
        };
        self.trace(&format!("{shown} vlv={}+{}", window.offset, window.count));
        let attrs: Vec<&str> = search.attrs.iter().map(String::as_str).collect();
        let result = ldap
            .with_controls(vec![sort_control(&search.sort), window.control()])
            .search(&search.base, search.scope, &search.filter, attrs)
            .await
            .map_err(|e| errors::from_ldap(e, self.op_timeout))?;
        let ldap3::SearchResult(entries, res) = result;
        if res.rc == 18 && search.sort.first().is_some_and(|k| k.rule.is_none()) {
            let mut retry = search.clone();
            if let Some(k) = retry.sort.first_mut() {
                k.rule = Some("caseIgnoreOrderingMatch".to_owned());
            }
            return Box::pin(self.vlv_window(ldap, &retry, window)).await;
        }
        let entries: Vec<RawEntry> = entries.into_iter().filter_map(parse_entry).collect();
        let verdict = judge(window, res.rc, Response::of(&res).as_ref(), entries.len());
        Ok((entries, verdict))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_request_control() {
        // SEQUENCE { before 0, after 9, [0] { offset 101, contentCount 0 } }
        let c = Window::new(101, 10).unwrap().control();
        assert_eq!(c.ctype, "2.16.840.1.113730.3.4.9");
        assert!(c.crit);
        assert_eq!(
            c.val.unwrap(),
            vec![
                0x30, 0x0e, 0x02, 0x01, 0x00, 0x02, 0x01, 0x09, 0xa0, 0x06, 0x02, 0x01, 0x65, 0x02, 0x01, 0x00
            ]
        );
        // 200 and 499 need two octets; 0xc8 takes a leading zero to stay positive.
        assert_eq!(
            Window::new(200, 500).unwrap().control().val.unwrap(),
            vec![
                0x30, 0x10, 0x02, 0x01, 0x00, 0x02, 0x02, 0x01, 0xf3, 0xa0, 0x07, 0x02, 0x02, 0x00, 0xc8, 0x02, 0x01,
                0x00
            ]
        );
        // A window of one entry at the first position.
        assert_eq!(
            Window::new(1, 1).unwrap().control().val.unwrap(),
            vec![
                0x30, 0x0e, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0xa0, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00
            ]
        );
        // maxInt, the largest offset the control can carry.
        assert_eq!(
            Window::new(MAX_INT, 1).unwrap().control().val.unwrap(),
            vec![
                0x30, 0x11, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0xa0, 0x09, 0x02, 0x04, 0x7f, 0xff, 0xff, 0xff, 0x02,
                0x01, 0x00
            ]
        );
    }

    #[test]
    fn windows_fit_the_control() {
        assert!(Window::new(0, 1).is_none(), "offsets are 1-based");
        assert!(Window::new(1, 0).is_none(), "a window has its target");
        assert!(Window::new(MAX_INT + 1, 1).is_none());
        assert!(Window::new(1, MAX_INT + 2).is_none());
    }

    #[test]
    fn decodes_the_response_control() {
        // What slapd 2.5 sent for offset 3 of 600 (with its 8-byte context ID).
        let ok = [
            0x30, 0x14, 0x02, 0x01, 0x03, 0x02, 0x02, 0x02, 0x58, 0x0a, 0x01, 0x00, 0x04, 0x08, 0x00, 0x3a, 0x10, 0xc0,
            0xf1, 0x7f, 0x00, 0x00,
        ];
        assert_eq!(
            Response::decode(&ok),
            Some(Response {
                target_position: 3,
                content_count: 600,
                result: 0
            })
        );
        // Offset 700 of 600: slapd's range error (77), position 0.
        let range = [
            0x30, 0x14, 0x02, 0x01, 0x00, 0x02, 0x02, 0x02, 0x58, 0x0a, 0x01, 0x4d, 0x04, 0x08, 0xf0, 0x47, 0x10, 0xc0,
            0xf1, 0x7f, 0x00, 0x00,
        ];
        assert_eq!(
            Response::decode(&range),
            Some(Response {
                target_position: 0,
                content_count: 600,
                result: SLAPD_RANGE_ERROR
            })
        );
        // Without the optional context ID.
        assert_eq!(
            Response::decode(&[0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x0a, 0x01, 0x3d]),
            Some(Response {
                target_position: 1,
                content_count: 0,
                result: OFFSET_RANGE_ERROR
            })
        );
        for bad in [
            &[][..],
            &[0x30, 0x00],
            // an ENUMERATED where the count belongs
            &[0x30, 0x09, 0x02, 0x01, 0x01, 0x0a, 0x01, 0x00, 0x0a, 0x01, 0x00],
            // a negative position
            &[0x30, 0x09, 0x02, 0x01, 0xff, 0x02, 0x01, 0x00, 0x0a, 0x01, 0x00],
            // trailing bytes
            &[0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x0a, 0x01, 0x00, 0x00],
            // truncated
            &[0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01],
        ] {
            assert_eq!(Response::decode(bad), None, "{bad:02x?}");
        }
    }

    #[test]
    fn judges_answers() {
        let w = Window::new(101, 10).unwrap();
        let r = |target_position, content_count, result| Response {
            target_position,
            content_count,
            result,
        };
        assert_eq!(judge(w, 0, Some(&r(101, 600, 0)), 10), Verdict::Window { total: 600 });
        // The end of the list falls inside the window.
        assert_eq!(judge(w, 0, Some(&r(101, 105, 0)), 5), Verdict::Window { total: 105 });
        assert_eq!(judge(w, 0, Some(&r(101, 101, 0)), 1), Verdict::Window { total: 101 });
        // Short windows, moved targets and missing controls are read again.
        assert!(matches!(judge(w, 0, Some(&r(101, 600, 0)), 9), Verdict::Fallback(_)));
        assert!(matches!(judge(w, 0, Some(&r(101, 105, 0)), 10), Verdict::Fallback(_)));
        assert!(matches!(judge(w, 0, Some(&r(100, 600, 0)), 10), Verdict::Fallback(_)));
        assert!(matches!(judge(w, 0, None, 10), Verdict::Fallback(_)));
        // A server that puts a target past the end on the last entry: not trusted.
        assert!(matches!(judge(w, 0, Some(&r(100, 100, 0)), 1), Verdict::Fallback(_)));
        // Past the end: slapd's and the draft's range errors.
        assert_eq!(
            judge(w, 76, Some(&r(0, 100, SLAPD_RANGE_ERROR)), 0),
            Verdict::PastTheEnd { total: 100 }
        );
        assert_eq!(
            judge(w, 76, Some(&r(0, 100, OFFSET_RANGE_ERROR)), 0),
            Verdict::PastTheEnd { total: 100 }
        );
        assert!(matches!(
            judge(w, 76, Some(&r(0, 600, SLAPD_RANGE_ERROR)), 0),
            Verdict::Fallback(_)
        ));
        // An empty list.
        assert_eq!(judge(w, 0, Some(&r(0, 0, 0)), 0), Verdict::PastTheEnd { total: 0 });
        // Busy, the size limit, sortControlMissing, unwilling.
        for (rc, result) in [(51, 0), (4, 0), (76, 60), (76, 76), (53, 53), (11, 11)] {
            assert!(
                matches!(judge(w, rc, Some(&r(0, 600, result)), 0), Verdict::Fallback(_)),
                "{rc}/{result}"
            );
        }
    }

    #[test]
    fn sorts_a_complete_page_by_the_id_text() {
        let entry = |id: &str| RawEntry {
            dn: format!("uid={id}"),
            attrs: vec![("entryUUID".into(), vec![id.as_bytes().to_vec()])],
        };
        let mut entries = vec![
            entry("f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
            entry("0A1D4FAE-7DEC-11D0-A765-00A0C91E6BF6"),
            entry("9b1d4fae-7dec-11d0-a765-00a0c91e6bf6"),
        ];
        sort_by_id(&mut entries, "entryuuid");
        let order: Vec<&str> = entries.iter().map(|e| &e.dn[4..6]).collect();
        assert_eq!(order, ["0A", "9b", "f8"]);
    }
}
