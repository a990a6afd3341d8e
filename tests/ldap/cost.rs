//! The LDAP operations of one membership PATCH do not depend on the group's size
//! (connectors/SPEC.md §8): counted by slapd itself (cn=Monitor), for a group of 10 and a
//! group of 2,000 members, on a server of the test's own.

use std::collections::BTreeMap;

use serde_json::json;

use crate::slapd::{self, Slapd};
use crate::{gateway, member_ids};

const BIG: usize = 2000;
const SMALL: usize = 10;

fn seed() -> String {
    let mut s = slapd::bulk_users_ldif(slapd::PEOPLE, "cost-", BIG + 4);
    for (name, n) in [("big", BIG), ("small", SMALL)] {
        s.push_str(&format!(
            "dn: cn={name},{}\nobjectClass: groupOfNames\ncn: {name}\n",
            slapd::GROUPS
        ));
        for i in 0..n {
            s.push_str(&format!("member: uid=cost-{i:05},{}\n", slapd::PEOPLE));
        }
        s.push('\n');
    }
    s
}

async fn id_of(gw: &crate::harness::Gateway, resource: &str, filter: &str) -> String {
    let r = gw.filter(resource, filter).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["Resources"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{filter}: {}", r.body))
        .to_owned()
}

/// Operations per type that slapd completed between two readings.
fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_patch_cost_does_not_depend_on_group_size() {
    if !slapd::available_or_skip("operation count test") {
        return;
    }
    let s = tokio::task::spawn_blocking(|| {
        Slapd::start_with(slapd::Options {
            seed: seed(),
            ..Default::default()
        })
    })
    .await
    .expect("start slapd");
    let gw = gateway(&s).await;
    let big = id_of(&gw, "/Groups", "displayName eq \"big\"").await;
    let small = id_of(&gw, "/Groups", "displayName eq \"small\"").await;
    assert_eq!(member_ids(&gw, &small).await.len(), SMALL);
    let newcomers = [
        id_of(&gw, "/Users", &format!("userName eq \"cost-{:05}\"", BIG)).await,
        id_of(&gw, "/Users", &format!("userName eq \"cost-{:05}\"", BIG + 1)).await,
    ];
    let leaver = id_of(&gw, "/Users", "userName eq \"cost-00003\"").await;

    let mut counts = Vec::new();
    for group in [&small, &big] {
        // The same delta on each group: add two, remove one.
        let ops = json!([
            {"op": "add", "path": "members", "value": [{"value": newcomers[0]}, {"value": newcomers[1]}]},
            {"op": "remove", "path": "members", "value": [{"value": leaver}]}
        ]);
        // Warm the gateway's pool so connection set-up (binds) is not counted.
        assert_eq!(
            gw.get(&format!("/Groups/{group}?excludedAttributes=members"))
                .await
                .status,
            200
        );
        let before = s.op_counts().await;
        let r = gw.patch_ops(&format!("/Groups/{group}"), ops).await;
        // slapd counts an operation as completed a moment after it sends the result (seen
        // with memberof on a 2,000-member group): let the counters settle before reading.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let after = s.op_counts().await;
        assert!(r.status.is_success(), "PATCH: {} {}", r.status, r.body);
        let d = delta(&before, &after);
        eprintln!("membership PATCH on {group}: {d:?}");
        counts.push(d);
    }
    assert_eq!(
        counts[0], counts[1],
        "LDAP operations per membership PATCH: group of {SMALL} {:?} vs group of {BIG} {:?}",
        counts[0], counts[1]
    );
    // SPEC §8: a function of the delta's size only. One modify carries the whole delta (a
    // compare may check the placeholder first); a second one is allowed for a version guard.
    let modifies = counts[0].get("Modify").copied().unwrap_or(0);
    assert!(
        (1..=2).contains(&modifies),
        "modifies per PATCH of a 3-value delta: {:?}",
        counts[0]
    );
    let searches = counts[0].get("Search").copied().unwrap_or(0);
    assert!(
        searches <= 6,
        "searches per PATCH (monitor reading included): {:?}",
        counts[0]
    );
    // The changes are right.
    let big_members = member_ids(&gw, &big).await;
    assert_eq!(big_members.len(), BIG + 1, "2000 + 2 - 1");
    assert!(newcomers.iter().all(|n| big_members.contains(n)));
    assert!(!big_members.contains(&leaver));
    // Reading a big group without members costs no member reads (excludedAttributes).
    let before = s.op_counts().await;
    let r = gw.filter("/Groups", "displayName eq \"big\"").await;
    assert_eq!(r.status, 200);
    let r2 = gw
        .get(&format!(
            "/Groups?filter={}&excludedAttributes=members",
            crate::harness::enc("displayName eq \"big\"")
        ))
        .await;
    let after = s.op_counts().await;
    assert!(r2.body["Resources"][0].get("members").is_none());
    eprintln!("group reads: {:?}", delta(&before, &after));
}
