//! Membership deltas, the empty-group placeholder, renames (ModifyDN).

use serde_json::json;

use crate::harness::ids;
use crate::{attr, attr_all, create_group, create_user, dn_eq, gateway, ldap_by_id, member_ids, server, slapd, tag};

async fn users(gw: &crate::harness::Gateway, t: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..n {
        let u = create_user(gw, crate::user_body(&format!("{t}u{i}"))).await;
        out.push(u["id"].as_str().unwrap().to_owned());
    }
    out
}

fn sorted(v: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_and_remove_a_subset_of_members() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("subset");
    let u = users(&gw, &t, 6).await;
    let g = create_group(&gw, &format!("{t}g"), &[&u[0], &u[1], &u[2], &u[3], &u[4]]).await;
    let gid = g["id"].as_str().unwrap().to_owned();
    // Entra: remove with a value array removes only those.
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "Remove", "path": "members", "value": [{"value": u[1]}, {"value": u[3]}]}]),
        )
        .await;
    assert!(r.status == 204 || r.status == 200, "{} {}", r.status, r.body);
    assert_eq!(member_ids(&gw, &gid).await, sorted(&[&u[0], &u[2], &u[4]]));
    // Add one new and one existing (idempotent), remove one by filter path.
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([
                {"op": "add", "path": "members", "value": [{"value": u[5]}, {"value": u[0]}]},
                {"op": "remove", "path": format!("members[value eq \"{}\"]", u[2])}
            ]),
        )
        .await;
    assert!(r.status == 204 || r.status == 200, "{} {}", r.status, r.body);
    assert_eq!(member_ids(&gw, &gid).await, sorted(&[&u[0], &u[4], &u[5]]));
    let (_, a) = ldap_by_id(s, &gid).await.expect("group");
    assert_eq!(
        attr_all(&a, "member").len(),
        3,
        "no duplicate member values: {:?}",
        attr_all(&a, "member")
    );
    // The users' side (memberOf).
    for (i, id) in u.iter().enumerate() {
        let r = gw.get(&format!("/Users/{id}")).await;
        let in_group = r.body["groups"]
            .as_array()
            .is_some_and(|a| a.iter().any(|g| g["value"] == json!(gid)));
        assert_eq!(in_group, [0, 4, 5].contains(&i), "user {i} groups: {}", r.body);
    }
    // Filter on membership.
    let r = gw.filter("/Groups", &format!("members.value eq \"{}\"", u[5])).await;
    assert_eq!(ids(&r.body), vec![gid.clone()], "{}", r.body);
    let r = gw.filter("/Users", &format!("groups.value eq \"{gid}\"")).await;
    assert_eq!(ids(&r.body).len(), 3, "{}", r.body);
    // Adding a user that does not exist is a 400 and changes nothing.
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "add", "path": "members", "value": [{"value": "00000000-0000-4000-8000-000000000000"}]}]),
        )
        .await;
    assert_eq!(r.status, 400, "dangling member: {}", r.body);
    assert_eq!(member_ids(&gw, &gid).await, sorted(&[&u[0], &u[4], &u[5]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_group_placeholder_is_managed_and_never_shown() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("empty");
    let u = users(&gw, &t, 2).await;
    let is_placeholder = |v: &[String]| v.len() == 1 && dn_eq(&v[0], slapd::PLACEHOLDER);

    // Created empty: the placeholder holds the required member value.
    let g = create_group(&gw, &format!("{t}g"), &[]).await;
    let gid = g["id"].as_str().unwrap().to_owned();
    assert!(
        g.get("members")
            .is_none_or(|m| m.as_array().is_some_and(|a| a.is_empty())),
        "the placeholder is never shown: {g}"
    );
    let (_, a) = ldap_by_id(s, &gid).await.expect("group");
    assert!(
        is_placeholder(&attr_all(&a, "member")),
        "member: {:?}",
        attr_all(&a, "member")
    );
    assert_eq!(member_ids(&gw, &gid).await, Vec::<String>::new());

    // A member arrives: the placeholder goes.
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "add", "path": "members", "value": [{"value": u[0]}, {"value": u[1]}]}]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let (_, a) = ldap_by_id(s, &gid).await.expect("group");
    let members = attr_all(&a, "member");
    assert_eq!(members.len(), 2, "placeholder dropped: {members:?}");
    assert!(!members.iter().any(|m| dn_eq(m, slapd::PLACEHOLDER)));

    // Remove one, then the last: the placeholder comes back with the last removal.
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", u[0])}]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(member_ids(&gw, &gid).await, vec![u[1].clone()]);
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "remove", "path": "members", "value": [{"value": u[1]}]}]),
        )
        .await;
    assert!(r.status.is_success(), "removing the last member: {}", r.body);
    let (_, a) = ldap_by_id(s, &gid).await.expect("group");
    assert!(
        is_placeholder(&attr_all(&a, "member")),
        "member after the last removal: {:?}",
        attr_all(&a, "member")
    );
    assert_eq!(member_ids(&gw, &gid).await, Vec::<String>::new());

    // Replace with nothing, then replace with a member.
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "replace", "path": "members", "value": [{"value": u[0]}]}]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(member_ids(&gw, &gid).await, vec![u[0].clone()]);
    let r = gw
        .patch_ops(&format!("/Groups/{gid}"), json!([{"op": "remove", "path": "members"}]))
        .await;
    assert!(r.status.is_success(), "remove all: {}", r.body);
    let (_, a) = ldap_by_id(s, &gid).await.expect("group");
    assert!(
        is_placeholder(&attr_all(&a, "member")),
        "after remove all: {:?}",
        attr_all(&a, "member")
    );

    // Deleting the only member's entry (refint) must not leave a group without member.
    let r = gw
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "add", "path": "members", "value": [{"value": u[1]}]}]),
        )
        .await;
    assert!(r.status.is_success());
    assert_eq!(gw.delete(&format!("/Users/{}", u[1])).await.status, 204);
    let got = gw.get(&format!("/Groups/{gid}")).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(member_ids(&gw, &gid).await, Vec::<String>::new());

    // `members pr` does not count the placeholder.
    let r = gw
        .filter("/Groups", &format!("displayName eq \"{t}g\" and members pr"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(ids(&r.body).is_empty(), "an empty group matched members pr: {}", r.body);
    // The placeholder is not a user.
    let r = gw.filter("/Users", "userName eq \"empty-membership\"").await;
    assert!(ids(&r.body).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_rename_is_a_modify_dn_and_keeps_the_id() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("ren");
    let u = create_user(&gw, crate::user_body(&format!("{t}before"))).await;
    let id = u["id"].as_str().unwrap().to_owned();
    let g = create_group(&gw, &format!("{t}g"), &[&id]).await;
    let gid = g["id"].as_str().unwrap().to_owned();
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "userName", "value": format!("{t}after")}]),
        )
        .await;
    assert!(r.status.is_success(), "rename: {}", r.body);
    let got = gw.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["id"], json!(id));
    assert_eq!(got.body["userName"], json!(format!("{t}after")));
    let (dn, a) = ldap_by_id(s, &id).await.expect("entry");
    assert!(dn_eq(&dn, &format!("uid={t}after,{}", slapd::PEOPLE)), "{dn}");
    assert_eq!(
        attr_all(&a, "uid"),
        vec![format!("{t}after")],
        "the old uid value is gone"
    );
    assert_eq!(
        member_ids(&gw, &gid).await,
        vec![id.clone()],
        "refint kept the membership"
    );
    let r = gw.filter("/Users", &format!("userName eq \"{t}before\"")).await;
    assert!(ids(&r.body).is_empty());
    // Renaming onto a taken name is 409.
    create_user(&gw, crate::user_body(&format!("{t}taken"))).await;
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "userName", "value": format!("{t}TAKEN")}]),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    // A rename together with another change applies both.
    let r = gw
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"userName": format!("{t}third"), "title": "Renamed"}}]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let (dn, a) = ldap_by_id(s, &id).await.expect("entry");
    assert!(dn_eq(&dn, &format!("uid={t}third,{}", slapd::PEOPLE)), "{dn}");
    assert_eq!(attr(&a, "title"), Some("Renamed"));
}
