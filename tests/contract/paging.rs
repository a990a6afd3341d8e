//! §6.2 Sort and §6.3 Paging.

use std::collections::{BTreeSet, HashMap};

use scimgate::connector::{ConnectorError, FieldRef, PageRequest, Query, Record, SearchPage, SortKey};

use crate::fixture::{Fixture, query, tag, text_of};

/// Seven users; titles with ties and gaps: u1 a, u2 b, u3 b, u4 -, u5 a, u6 b, u7 -.
/// Created in shuffled order so that creation order is not name order.
async fn seven(f: &Fixture) -> String {
    let t = tag();
    for (name, title) in [
        ("u3", Some("b")),
        ("u1", Some("a")),
        ("u6", Some("b")),
        ("u2", Some("b")),
        ("u7", None),
        ("u5", Some("a")),
        ("u4", None),
    ] {
        let extra: Vec<(&str, &str)> = title.map(|v| (f.title.as_str(), v)).into_iter().collect();
        f.user(&t, name, &extra).await;
    }
    t
}

fn sort(field: &str, descending: bool, ignore_case: bool) -> Option<SortKey> {
    Some(SortKey {
        field: FieldRef::Field(field.to_owned()),
        descending,
        ignore_case,
    })
}

async fn run(f: &Fixture, q: &Query) -> SearchPage {
    f.connector
        .search(f.users, q)
        .await
        .unwrap_or_else(|e| panic!("[{}] search {q:?}: {e:?}", f.kind))
}

fn names(f: &Fixture, t: &str, records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| text_of(r, &f.user_name).unwrap_or("").trim_start_matches(t).to_owned())
        .collect()
}

fn ids(records: &[Record]) -> Vec<String> {
    records.iter().map(|r| r.id.clone()).collect()
}

/// Every tagged user, in the order of `sort`, in one page.
async fn full(f: &Fixture, t: &str, sort: Option<SortKey>) -> Vec<Record> {
    let mut q = query(f.tagged(t));
    q.sort = sort;
    run(f, &q).await.records
}

pub async fn s06_2_sort_by_field(f: &Fixture) {
    let t = seven(f).await;
    let asc: Vec<String> = (1..=7).map(|i| format!("u{i}")).collect();
    let desc: Vec<String> = asc.iter().rev().cloned().collect();
    for ic in [false, true] {
        assert_eq!(
            names(f, &t, &full(f, &t, sort(&f.user_name, false, ic)).await),
            asc,
            "[{}] sort userName ascending (ignore_case {ic})",
            f.kind
        );
        assert_eq!(
            names(f, &t, &full(f, &t, sort(&f.user_name, true, ic)).await),
            desc,
            "[{}] sort userName descending (ignore_case {ic})",
            f.kind
        );
    }
    // ignore_case folds text.
    let t2 = tag();
    for n in ["B", "a", "c"] {
        f.user(&t2, n, &[]).await;
    }
    assert_eq!(
        names(f, &t2, &full(f, &t2, sort(&f.user_name, false, true)).await),
        ["a", "B", "c"],
        "[{}] sort userName ascending ignore_case must fold case",
        f.kind
    );
    assert_eq!(
        names(f, &t2, &full(f, &t2, sort(&f.user_name, true, true)).await),
        ["c", "B", "a"],
        "[{}] sort userName descending ignore_case must fold case",
        f.kind
    );
}

/// Ties are ordered by id; missing values sort last ascending, first descending. The id
/// order is taken from the unsorted search ("with no sort key, the order is by id").
pub async fn s06_2_sort_ties_and_missing(f: &Fixture) {
    let t = seven(f).await;
    let by_id = full(f, &t, None).await;
    assert_eq!(by_id.len(), 7, "[{}] unsorted search", f.kind);
    let rank: HashMap<String, usize> = by_id.iter().enumerate().map(|(i, r)| (r.id.clone(), i)).collect();
    let title_of = |r: &Record| text_of(r, &f.title).map(str::to_owned);
    for descending in [false, true] {
        let sorted = full(f, &t, sort(&f.title, descending, false)).await;
        let keys: Vec<Option<String>> = sorted.iter().map(title_of).collect();
        let expected: Vec<Option<String>> = if descending {
            vec![None, None, Some("b"), Some("b"), Some("b"), Some("a"), Some("a")]
        } else {
            vec![Some("a"), Some("a"), Some("b"), Some("b"), Some("b"), None, None]
        }
        .into_iter()
        .map(|o| o.map(str::to_owned))
        .collect();
        assert_eq!(
            keys, expected,
            "[{}] sort title (descending {descending}): missing values last ascending, first descending",
            f.kind
        );
        // Within each run of equal keys the ids are in id order, in one direction throughout.
        let mut directions = BTreeSet::new();
        for w in sorted.windows(2) {
            if title_of(&w[0]) == title_of(&w[1]) {
                directions.insert(rank[&w[0].id] < rank[&w[1].id]);
            }
        }
        assert!(
            directions.len() == 1 && (descending || directions.contains(&true)),
            "[{}] sort title (descending {descending}): ties must be broken by the id ({}), got {:?}",
            f.kind,
            if descending { "one direction" } else { "ascending" },
            names(f, &t, &sorted)
        );
        // Stable: the same query returns the same order.
        assert_eq!(
            ids(&full(f, &t, sort(&f.title, descending, false)).await),
            ids(&sorted),
            "[{}] sort is not stable",
            f.kind
        );
    }
}

fn sorts(f: &Fixture) -> Vec<(&'static str, Option<SortKey>)> {
    vec![
        ("unsorted", None),
        ("userName asc", sort(&f.user_name, false, false)),
        ("userName desc", sort(&f.user_name, true, true)),
        ("title asc (ties, missing)", sort(&f.title, false, false)),
        ("title desc (ties, missing)", sort(&f.title, true, true)),
    ]
}

pub async fn s06_3_offset_pages(f: &Fixture) {
    let t = seven(f).await;
    let total = f.connector.capabilities(f.users).total;
    for (what, key) in sorts(f) {
        let all = ids(&full(f, &t, key.clone()).await);
        assert_eq!(all.len(), 7, "[{}] {what}: full list", f.kind);
        for count in [1u64, 3, 7, 10] {
            let mut got = Vec::new();
            let mut offset = 0;
            while offset < 7 {
                let mut q = query(f.tagged(&t));
                q.sort = key.clone();
                q.page = PageRequest::Offset { offset, count };
                q.want_total = true;
                let page = run(f, &q).await;
                assert_eq!(
                    page.records.len() as u64,
                    count.min(7 - offset),
                    "[{}] {what}: page at offset {offset} count {count}",
                    f.kind
                );
                assert_eq!(
                    page.next_cursor, None,
                    "[{}] offset paging must not return a cursor",
                    f.kind
                );
                if total {
                    assert_eq!(page.total, Some(7), "[{}] {what}: total at offset {offset}", f.kind);
                }
                got.extend(ids(&page.records));
                offset += count;
            }
            assert_eq!(
                got, all,
                "[{}] {what}: offset pages of {count} concatenated must equal the full list",
                f.kind
            );
        }
    }
    // count 0: no records, total still known.
    let mut q = query(f.tagged(&t));
    q.page = PageRequest::Offset { offset: 0, count: 0 };
    q.want_total = true;
    let page = run(f, &q).await;
    assert!(page.records.is_empty(), "[{}] count 0 returned records", f.kind);
    if total {
        assert_eq!(page.total, Some(7), "[{}] count 0 total", f.kind);
    }
}

pub async fn s06_3_offset_beyond_end(f: &Fixture) {
    let t = seven(f).await;
    let total = f.connector.capabilities(f.users).total;
    for (what, key) in sorts(f) {
        for offset in [7u64, 8, 1000] {
            let mut q = query(f.tagged(&t));
            q.sort = key.clone();
            q.page = PageRequest::Offset { offset, count: 5 };
            q.want_total = true;
            let page = run(f, &q).await;
            assert!(
                page.records.is_empty(),
                "[{}] {what}: offset {offset} beyond the end",
                f.kind
            );
            assert_eq!(page.next_cursor, None, "[{}] offset {offset}: next_cursor", f.kind);
            if total {
                assert_eq!(page.total, Some(7), "[{}] {what}: total at offset {offset}", f.kind);
            }
        }
    }
}

/// Follows `next_cursor` from the first page; returns the ids of every page.
/// With `expect_total`, every page must report that total.
pub async fn cursor_run(
    f: &Fixture,
    t: &str,
    key: Option<SortKey>,
    count: u64,
    expect_total: Option<u64>,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let mut q = query(f.tagged(t));
        q.sort = key.clone();
        q.page = PageRequest::Cursor { cursor, count };
        q.want_total = true;
        let page = run(f, &q).await;
        if let Some(n) = expect_total {
            assert_eq!(page.total, Some(n), "[{}] cursor page {}: total", f.kind, pages.len());
        }
        pages.push(ids(&page.records));
        assert!(pages.len() <= 20, "[{}] cursor paging does not end", f.kind);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return pages,
        }
    }
}

pub async fn s06_3_cursor_pages(f: &Fixture) {
    if !f.connector.capabilities(f.users).cursor_paging {
        eprintln!("SKIPPED [{}] s06_3_cursor_pages: cursor_paging is false", f.kind);
        return;
    }
    let t = seven(f).await;
    let total = f.connector.capabilities(f.users).total.then_some(7);
    for (what, key) in sorts(f) {
        let all = ids(&full(f, &t, key.clone()).await);
        for count in [1u64, 2, 3, 7, 10] {
            let pages = cursor_run(f, &t, key.clone(), count, total).await;
            let expected_pages = 7u64.div_ceil(count) as usize;
            assert_eq!(
                pages.len(),
                expected_pages,
                "[{}] {what}, count {count}: pages {pages:?} (next_cursor must be None on the last page, even when full)",
                f.kind
            );
            for (i, p) in pages.iter().enumerate() {
                let want = if i + 1 < pages.len() {
                    count
                } else {
                    7 - count * i as u64
                };
                assert_eq!(
                    p.len() as u64,
                    want,
                    "[{}] {what}, count {count}: page {i} size",
                    f.kind
                );
            }
            let got: Vec<String> = pages.concat();
            let unique: BTreeSet<&String> = got.iter().collect();
            assert_eq!(
                unique.len(),
                got.len(),
                "[{}] {what}, count {count}: duplicates",
                f.kind
            );
            assert_eq!(
                got, all,
                "[{}] {what}, count {count}: cursor pages must cover every match once, in order",
                f.kind
            );
        }
    }
}

pub async fn s06_3_invalid_cursor(f: &Fixture) {
    if !f.connector.capabilities(f.users).cursor_paging {
        eprintln!("SKIPPED [{}] s06_3_invalid_cursor: cursor_paging is false", f.kind);
        return;
    }
    let t = tag();
    f.user(&t, "a", &[]).await;
    for key in [None, sort(&f.user_name, false, false)] {
        for cursor in ["not a cursor!", "%%%", "x'; --", "\u{1F600}"] {
            let mut q = query(f.tagged(&t));
            q.sort = key.clone();
            q.page = PageRequest::Cursor {
                cursor: Some(cursor.to_owned()),
                count: 5,
            };
            let r = f.connector.search(f.users, &q).await;
            assert!(
                matches!(&r, Err(ConnectorError::InvalidValue { field: None, detail }) if detail.contains("cursor")),
                "[{}] cursor {cursor:?} (sort {key:?}) must be InvalidValue {{ field: None, detail: \"…cursor…\" }}, got {r:?}",
                f.kind
            );
        }
    }
}

/// §6.3: unsorted cursor pages are keyset pages on the id, so deleting an entry already
/// returned neither skips nor repeats the following ones.
pub async fn s06_3_cursor_keyset_survives_deletes(f: &Fixture) {
    if !f.connector.capabilities(f.users).cursor_paging {
        eprintln!(
            "SKIPPED [{}] s06_3_cursor_keyset_survives_deletes: cursor_paging is false",
            f.kind
        );
        return;
    }
    let t = seven(f).await;
    let all = ids(&full(f, &t, None).await);
    let mut q = query(f.tagged(&t));
    q.page = PageRequest::Cursor { cursor: None, count: 2 };
    let first = run(f, &q).await;
    assert_eq!(ids(&first.records), all[..2], "[{}] first cursor page", f.kind);
    for id in &all[..2] {
        f.connector
            .delete(f.users, id, None)
            .await
            .unwrap_or_else(|e| panic!("[{}] delete: {e:?}", f.kind));
    }
    let mut rest = Vec::new();
    let mut cursor = first.next_cursor;
    while let Some(c) = cursor {
        q.page = PageRequest::Cursor {
            cursor: Some(c),
            count: 2,
        };
        let page = run(f, &q).await;
        rest.extend(ids(&page.records));
        cursor = page.next_cursor;
        assert!(rest.len() <= 10, "[{}] cursor paging does not end", f.kind);
    }
    assert_eq!(
        rest,
        all[2..],
        "[{}] after deleting the first page's entries, the next unsorted cursor pages must still return every later entry once",
        f.kind
    );
}
