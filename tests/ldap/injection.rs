//! Injection: DN metacharacters in names (RFC 4514) and filter metacharacters in ids.

use serde_json::json;

use crate::harness::{enc, ids};
use crate::{attr, attr_all, create_group, create_user, dn_eq, gateway, ldap_by_id, member_ids, server, slapd, tag};

/// Groups whose names need DN escaping: created, read, found, renamed, deleted; the cn in
/// the directory is the name exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_names_with_dn_metacharacters() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("dn");
    let u = create_user(&gw, crate::user_body(&format!("{t}member"))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let names = [
        // The exact names (one slapd per test binary run, and only this test makes them).
        "Sales, EMEA + APAC".to_string(),
        "#lead ".to_string(),
        format!(" {t} leading and trailing spaces "),
        format!("{t}quote\"semi;less<greater>back\\slash=eq"),
        format!("{t}(paren)*star"),
    ];
    for name in &names {
        let g = create_group(&gw, name, &[&u]).await;
        let gid = g["id"].as_str().unwrap().to_owned();
        assert_eq!(g["displayName"], json!(name), "create returns the exact name");
        let (dn, a) = ldap_by_id(s, &gid).await.unwrap_or_else(|| panic!("entry of {name:?}"));
        assert_eq!(attr_all(&a, "cn"), vec![name.clone()], "cn of {name:?} (DN {dn})");
        assert!(
            dn_eq(&dn, &format!("cn={},{}", slapd::dn_escape(name), slapd::GROUPS))
                || dn.to_lowercase().ends_with(slapd::GROUPS),
            "DN {dn}"
        );
        let got = gw.get(&format!("/Groups/{gid}")).await;
        assert_eq!(got.status, 200, "{name:?}: {}", got.body);
        assert_eq!(got.body["displayName"], json!(name));
        assert_eq!(member_ids(&gw, &gid).await, vec![u.clone()], "{name:?}");
        let filter = format!("displayName eq \"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""));
        let found = gw.filter("/Groups", &filter).await;
        assert_eq!(found.status, 200, "{filter}: {}", found.body);
        assert_eq!(ids(&found.body), vec![gid.clone()], "{filter}");
        // Rename to another awkward name and back.
        let renamed = format!("{name}, renamed + again");
        let r = gw
            .patch_ops(
                &format!("/Groups/{gid}"),
                json!([{"op": "replace", "path": "displayName", "value": renamed}]),
            )
            .await;
        assert!(r.status.is_success(), "rename {name:?}: {}", r.body);
        let (_, a) = ldap_by_id(s, &gid).await.expect("entry after rename");
        assert_eq!(attr_all(&a, "cn"), vec![renamed.clone()], "the old cn value is gone");
        assert_eq!(
            gw.get(&format!("/Groups/{gid}")).await.body["displayName"],
            json!(renamed)
        );
        assert_eq!(
            member_ids(&gw, &gid).await,
            vec![u.clone()],
            "members after renaming {name:?}"
        );
        assert_eq!(
            gw.delete(&format!("/Groups/{gid}")).await.status,
            204,
            "delete {name:?}"
        );
        assert!(ldap_by_id(s, &gid).await.is_none());
    }
}

/// User names with DN and filter metacharacters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_names_with_metacharacters() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    let t = tag("un");
    for suffix in ["o'brien,x+y", "a\"b\\c", "star*(x)", "#hash", "semi;colon=eq<gt>"] {
        let name = format!("{t}{suffix}");
        let u = create_user(&gw, crate::user_body(&name)).await;
        let id = u["id"].as_str().unwrap().to_owned();
        let (_, a) = ldap_by_id(s, &id).await.expect("entry");
        assert_eq!(attr(&a, "uid"), Some(name.as_str()));
        let filter = format!("userName eq \"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""));
        let found = gw.filter("/Users", &filter).await;
        assert_eq!(ids(&found.body), vec![id.clone()], "{filter}: {}", found.body);
        let renamed = format!("{name}+2");
        let r = gw
            .patch_ops(
                &format!("/Users/{id}"),
                json!([{"op": "replace", "path": "userName", "value": renamed}]),
            )
            .await;
        assert!(r.status.is_success(), "rename {name:?}: {}", r.body);
        assert_eq!(gw.get(&format!("/Users/{id}")).await.body["userName"], json!(renamed));
        assert_eq!(gw.delete(&format!("/Users/{id}")).await.status, 204);
    }
    // NUL in a name: refused (4xx), or stored and read back exactly (slapd escapes it as \00
    // in the DN); never a 500 or a mangled name.
    let name = format!("{t}nul\u{0}byte");
    let r = gw.post("/Users", &crate::user_body(&name)).await;
    if r.status == 201 {
        let id = r.id();
        let got = gw.get(&format!("/Users/{id}")).await;
        assert_eq!(got.body["userName"], json!(name), "NUL round trip: {}", got.body);
        let found = gw.filter("/Users", &format!("userName eq \"{t}nul\\u0000byte\"")).await;
        assert_eq!(found.status, 200, "{}", found.body);
        assert_eq!(gw.delete(&format!("/Users/{id}")).await.status, 204);
    } else {
        assert!(r.status.is_client_error(), "NUL in userName: {} {}", r.status, r.body);
    }
}

/// Ids that look like filters or DNs: 404, never a match, never a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_that_look_like_filters_or_dns() {
    let Some(s) = server() else { return };
    let gw = gateway(s).await;
    for id in [
        "*",
        "*)(uid=*",
        "uid=admin,dc=example,dc=org",
        "\\2a",
        "x)(|(objectClass=*)",
        "../",
    ] {
        let path = format!("/Users/{}", enc(id));
        let r = gw.get(&path).await;
        assert_eq!(r.status, 404, "GET {id:?}: {}", r.body);
        let r = gw.delete(&path).await;
        assert_eq!(r.status, 404, "DELETE {id:?}: {}", r.body);
        let r = gw
            .filter("/Users", &format!("id eq \"{}\"", id.replace('\\', "\\\\")))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["totalResults"], json!(0), "id eq {id:?}");
        let r = gw
            .filter("/Groups", &format!("members.value eq \"{}\"", id.replace('\\', "\\\\")))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["totalResults"], json!(0), "members.value eq {id:?}");
    }
}
