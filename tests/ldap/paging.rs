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
    let gw = gateway_with(
        s,
        Setup {
            server: SERVER,
            ..Default::default()
        },
    )
    .await;
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
    let gw = gateway_with(
        s,
        Setup {
            server: SERVER,
            ..Default::default()
        },
    )
    .await;
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
    let gw = gateway_with(
        s,
        Setup {
            server: SERVER,
            ..Default::default()
        },
    )
    .await;
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
