//! Paging past the server's size limit (500), totals, cursor paging and server-side sort,
//! over the users seeded offline under `ou=bulk,ou=people`.

use std::collections::BTreeSet;

use serde_json::json;

use crate::harness::{enc, ids, user_names};
use crate::{BULK_PREFIX, BULK_USERS, Setup, gateway_with, server, slapd};

const SERVER: &str = "max_results = 1000";

fn bulk_filter() -> String {
    enc(&format!("userName sw \"{BULK_PREFIX}\""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totals_and_pages_past_the_size_limit() {
    let Some(s) = server() else { return };
    let gw = paging_gateway(s).await;
    const { assert!(BULK_USERS > slapd::SIZE_LIMIT) };
    // count=0: the total only.
    let r = gw.get(&format!("/Users?filter={}&count=0", bulk_filter())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], json!(BULK_USERS), "{}", r.body);
    assert_eq!(r.body["Resources"].as_array().map_or(0, Vec::len), 0);

    // One page larger than the server's size limit.
    let r = gw.get(&format!("/Users?filter={}&count=1000", bulk_filter())).await;
    assert_eq!(r.status, 200, "a page past the size limit: {}", r.body);
    assert_eq!(r.body["totalResults"], json!(BULK_USERS));
    let all = ids(&r.body);
    assert_eq!(all.len(), BULK_USERS, "every match in one page past the size limit");
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), BULK_USERS, "duplicates");

    // Index pages of 170 concatenate to the same list, in the same order.
    let mut paged = Vec::new();
    let mut start = 1;
    while start <= BULK_USERS {
        let r = gw
            .get(&format!("/Users?filter={}&startIndex={start}&count=170", bulk_filter()))
            .await;
        assert_eq!(r.status, 200, "startIndex {start}: {}", r.body);
        assert_eq!(r.body["startIndex"], json!(start));
        assert_eq!(r.body["totalResults"], json!(BULK_USERS), "total at startIndex {start}");
        let page = ids(&r.body);
        assert_eq!(page.len(), 170.min(BULK_USERS + 1 - start), "page at {start}");
        paged.extend(page);
        start += 170;
    }
    assert_eq!(paged, all, "index pages concatenated differ from the one-page list");

    // Beyond the end.
    let r = gw
        .get(&format!(
            "/Users?filter={}&startIndex={}&count=10",
            bulk_filter(),
            BULK_USERS + 1
        ))
        .await;
    assert_eq!(r.status, 200);
    assert!(ids(&r.body).is_empty());
    assert_eq!(r.body["totalResults"], json!(BULK_USERS));

    // An unfiltered list also pages past the limit (the whole directory's users).
    let r = gw.get("/Users?count=0").await;
    assert!(
        r.body["totalResults"].as_u64().is_some_and(|n| n >= BULK_USERS as u64),
        "{}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_paging_when_offered() {
    let Some(s) = server() else { return };
    let gw = paging_gateway(s).await;
    let spc = gw.get("/ServiceProviderConfig").await;
    if spc.body["pagination"]["cursor"] != json!(true) {
        eprintln!(
            "SKIPPED cursor paging: the LDAP connector does not offer it ({})",
            spc.body["pagination"]
        );
        let r = gw
            .get(&format!("/Users?filter={}&cursor=&count=10", bulk_filter()))
            .await;
        assert_eq!(r.status, 400, "cursor paging not offered must be refused: {}", r.body);
        return;
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..20 {
        let r = gw
            .get(&format!(
                "/Users?filter={}&cursor={}&count=250",
                bulk_filter(),
                enc(&cursor)
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        seen.extend(ids(&r.body));
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), BULK_USERS, "cursor pages cover every match");
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>().len(),
        BULK_USERS,
        "duplicates across cursor pages"
    );
    let r = gw
        .get(&format!("/Users?filter={}&cursor=garbage!&count=10", bulk_filter()))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.scim_type(), Some("invalidCursor"));
}

/// slapd offers server-side sort (sssvlv). uid has no ORDERING rule in the standard schema,
/// so a sort must name a matching rule or be refused; it must never come back unsorted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sort_is_right_or_refused() {
    let Some(s) = server() else { return };
    let gw = paging_gateway(s).await;
    let sorted_offered = gw.get("/ServiceProviderConfig").await.body["sort"]["supported"] == json!(true);
    for (order, first, last) in [
        (
            "ascending",
            format!("{BULK_PREFIX}00000"),
            format!("{BULK_PREFIX}00599"),
        ),
        (
            "descending",
            format!("{BULK_PREFIX}00599"),
            format!("{BULK_PREFIX}00000"),
        ),
    ] {
        let r = gw
            .get(&format!(
                "/Users?filter={}&sortBy=userName&sortOrder={order}&count=1000",
                bulk_filter()
            ))
            .await;
        if !sorted_offered {
            assert_eq!(r.status, 400, "sort not offered must be refused: {}", r.body);
            continue;
        }
        assert_eq!(r.status, 200, "sortBy=userName {order}: {}", r.body);
        let names = user_names(&r.body);
        assert_eq!(names.len(), BULK_USERS);
        assert_eq!(names.first(), Some(&first), "{order}");
        assert_eq!(names.last(), Some(&last), "{order}");
        let mut want = names.clone();
        want.sort();
        if order == "descending" {
            want.reverse();
        }
        assert_eq!(names, want, "sortBy=userName {order} over {} entries", BULK_USERS);
        // A window of a sorted list.
        let r = gw
            .get(&format!(
                "/Users?filter={}&sortBy=userName&sortOrder={order}&startIndex=501&count=50",
                bulk_filter()
            ))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(user_names(&r.body), want[500..550].to_vec(), "window 501..550 {order}");
    }
    // Sorting by a timestamp (generalizedTimeOrderingMatch exists).
    let r = gw
        .get(&format!(
            "/Users?filter={}&sortBy=meta.lastModified&count=5",
            bulk_filter()
        ))
        .await;
    if sorted_offered {
        assert_eq!(r.status, 200, "sortBy=meta.lastModified: {}", r.body);
    }
}

/// Whether the server's rootDSE offers Virtual List View and server-side sort.
async fn vlv_offered(s: &slapd::Slapd) -> bool {
    use ldap3::{Scope, SearchEntry};
    let mut ldap = s.admin().await;
    let (entries, _) = ldap
        .search("", Scope::Base, "(objectClass=*)", vec!["supportedControl"])
        .await
        .expect("rootDSE")
        .success()
        .expect("rootDSE result");
    let _ = ldap.unbind().await;
    let controls = entries
        .into_iter()
        .next()
        .map(SearchEntry::construct)
        .and_then(|e| e.attrs.get("supportedControl").cloned())
        .unwrap_or_default();
    ["2.16.840.1.113730.3.4.9", "1.2.840.113556.1.4.473"]
        .iter()
        .all(|oid| controls.iter().any(|c| c == oid))
}

/// Entries slapd has sent on all connections (`cn=Entries,cn=Statistics,cn=Monitor`). The
/// reading itself is one entry, counted in the next reading.
async fn entries_sent(s: &slapd::Slapd) -> u64 {
    use ldap3::{Scope, SearchEntry};
    let mut ldap = s.admin().await;
    let (entries, _) = ldap
        .search(
            "cn=Entries,cn=Statistics,cn=Monitor",
            Scope::Base,
            "(objectClass=*)",
            vec!["monitorCounter"],
        )
        .await
        .expect("monitor search")
        .success()
        .expect("monitor search result");
    let _ = ldap.unbind().await;
    entries
        .into_iter()
        .next()
        .map(SearchEntry::construct)
        .and_then(|e| e.attrs.get("monitorCounter")?.first()?.parse().ok())
        .expect("monitorCounter")
}

/// `startIndex`/`count` windows, the end of the list inside a window, one past it, far past it.
const WINDOWS: [(usize, usize); 9] = [
    (2, 10),
    (101, 50),
    (171, 170),
    (495, 20),
    (591, 20),
    (600, 5),
    (301, 0),
    (601, 10),
    (1000, 10),
];

/// Every offset window is the slice of the full listing in the same order, with or without
/// `sortBy`, ascending and descending, and the total is right; past the end the page is empty.
/// Where slapd offers VLV (sssvlv), pages without `sortBy` come in id order, so a complete
/// listing is sorted by id too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_windows_are_slices_of_the_full_listing() {
    let Some(s) = server() else { return };
    let gw = paging_gateway(s).await;
    let vlv = vlv_offered(s).await;
    for sort in ["", "&sortBy=userName", "&sortBy=userName&sortOrder=descending"] {
        let r = gw
            .get(&format!("/Users?filter={}{sort}&count=1000", bulk_filter()))
            .await;
        assert_eq!(r.status, 200, "{sort}: {}", r.body);
        let full = ids(&r.body);
        assert_eq!(full.len(), BULK_USERS, "{sort}");
        if sort.is_empty() && vlv {
            let mut by_id = full.clone();
            by_id.sort();
            assert_eq!(
                full, by_id,
                "without sortBy the listing is in id order where VLV is offered"
            );
        }
        if sort.contains("descending") {
            let names = user_names(&r.body);
            assert_eq!(names.first(), Some(&format!("{BULK_PREFIX}00599")));
        }
        for (start, count) in WINDOWS {
            let r = gw
                .get(&format!(
                    "/Users?filter={}{sort}&startIndex={start}&count={count}",
                    bulk_filter()
                ))
                .await;
            assert_eq!(r.status, 200, "{sort} startIndex={start} count={count}: {}", r.body);
            assert_eq!(r.body["totalResults"], json!(BULK_USERS), "{sort} startIndex={start}");
            assert_eq!(r.body["startIndex"], json!(start));
            let from = (start - 1).min(BULK_USERS);
            let to = (start - 1 + count).min(BULK_USERS);
            assert_eq!(
                ids(&r.body),
                full[from..to].to_vec(),
                "{sort} startIndex={start} count={count}"
            );
        }
    }
    // A filter that matches nothing, past its end.
    let r = gw
        .get(&format!(
            "/Users?filter={}&startIndex=5&count=10",
            enc("userName eq \"no-such-user-anywhere\"")
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], json!(0));
    assert!(ids(&r.body).is_empty());
}

/// With VLV, a window costs the entries of the window, not the ones before it: counted by
/// slapd itself (cn=Monitor) on a server of the test's own. More pages than slapd allows
/// sorted lists per connection (olcSssVlvMaxPerConn, 5) run in a row, with a pool of two
/// connections: the connections that sent a VLV search are closed, never reused. With
/// `page_size = 100`, a window of 250 is read as three VLV windows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vlv_windows_do_not_transfer_the_skipped_entries() {
    if !slapd::available_or_skip("VLV transfer test") {
        return;
    }
    let s = tokio::task::spawn_blocking(|| {
        slapd::Slapd::start_with(slapd::Options {
            seed: slapd::bulk_users_ldif(slapd::PEOPLE, BULK_PREFIX, BULK_USERS),
            ..Default::default()
        })
    })
    .await
    .expect("start slapd");
    if !vlv_offered(&s).await {
        eprintln!("SKIPPED: slapd offers no VLV (sssvlv not loaded)");
        return;
    }
    let gw = gateway_with(
        &s,
        Setup {
            server: SERVER,
            connector: "pool_size = 2\npage_size = 100",
            ..Default::default()
        },
    )
    .await;
    let all = gw.get(&format!("/Users?filter={}&count=1000", bulk_filter())).await;
    assert_eq!(all.status, 200, "{}", all.body);
    let all_ids = ids(&all.body);
    let all_names = {
        let mut n = user_names(&all.body);
        n.sort();
        n
    };
    assert_eq!(all_ids.len(), BULK_USERS);
    let cases = [
        ("", 501, 10),
        ("&sortBy=userName", 401, 20),
        ("&sortBy=userName&sortOrder=descending", 551, 10),
        ("", 2, 10),
        ("", 591, 10),
        ("", 301, 250),
        ("&sortBy=userName", 120, 5),
        ("", 560, 1),
    ];
    for (sort, start, count) in cases {
        let before = entries_sent(&s).await;
        let r = gw
            .get(&format!(
                "/Users?filter={}{sort}&startIndex={start}&count={count}",
                bulk_filter()
            ))
            .await;
        let sent = entries_sent(&s).await - before;
        assert_eq!(r.status, 200, "{sort} {start}: {}", r.body);
        assert_eq!(r.body["totalResults"], json!(BULK_USERS));
        let want = count.min(BULK_USERS + 1 - start);
        if sort.is_empty() {
            assert_eq!(ids(&r.body), all_ids[start - 1..start - 1 + want].to_vec(), "{start}");
        } else {
            let mut expected = all_names.clone();
            if sort.contains("descending") {
                expected.reverse();
            }
            assert_eq!(
                user_names(&r.body),
                expected[start - 1..start - 1 + want].to_vec(),
                "{sort} {start}"
            );
        }
        // The window, plus the previous monitor reading.
        assert!(
            sent <= want as u64 + 1,
            "{sort} startIndex={start} count={count}: slapd sent {sent} entries"
        );
    }
}

/// The shipped profile with the paging limits of [`SERVER`].
async fn paging_gateway(s: &crate::slapd::Slapd) -> crate::harness::Gateway {
    gateway_with(
        s,
        Setup {
            server: SERVER,
            ..Default::default()
        },
    )
    .await
}
