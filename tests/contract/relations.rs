//! §5 read sets, §8 relation deltas and touch, §10 delete cascades, §12 dangling references.

use scimgate::connector::{ChangeSet, ConnectorError, Filter, ReadSet, RelationDelta};

use crate::fixture::{Fixture, query, read_children, read_relations, set, sorted, tag};

fn delta(f: &Fixture, add: &[&str], remove: &[&str], remove_all: bool) -> ChangeSet {
    let mut c = ChangeSet::default();
    c.relations.insert(
        f.members.clone(),
        RelationDelta {
            remove_all,
            add: add.iter().map(|s| s.to_string()).collect(),
            remove: remove.iter().map(|s| s.to_string()).collect(),
        },
    );
    c
}

/// §8: adds and removes are idempotent; remove_all, then remove, then add.
pub async fn s08_relation_deltas(f: &Fixture) {
    let t = tag();
    let u1 = f.user(&t, "u1", &[]).await;
    let u2 = f.user(&t, "u2", &[]).await;
    let u3 = f.user(&t, "u3", &[]).await;
    let g = f.group(&t, "g", &[]).await;
    let (a, b, c) = (u1.id.as_str(), u2.id.as_str(), u3.id.as_str());
    let steps: Vec<(&str, ChangeSet, Vec<String>)> = vec![
        ("add u1 u2", delta(f, &[a, b], &[], false), sorted(&[a, b])),
        ("add u1 again (idempotent)", delta(f, &[a], &[], false), sorted(&[a, b])),
        (
            "add u2 u3 (u2 exists)",
            delta(f, &[b, c], &[], false),
            sorted(&[a, b, c]),
        ),
        (
            "add u3 twice in one delta",
            delta(f, &[c, c], &[], false),
            sorted(&[a, b, c]),
        ),
        ("remove u2", delta(f, &[], &[b], false), sorted(&[a, c])),
        (
            "remove u2 again (idempotent)",
            delta(f, &[], &[b], false),
            sorted(&[a, c]),
        ),
        ("remove u2 and add u2", delta(f, &[b], &[b], false), sorted(&[a, b, c])),
        ("remove_all", delta(f, &[], &[], true), vec![]),
        ("remove_all on an empty relation", delta(f, &[], &[], true), vec![]),
        ("remove_all then add u2", delta(f, &[b], &[], true), sorted(&[b])),
        (
            "remove_all, remove u2, add u2 u3",
            delta(f, &[b, c], &[b], true),
            sorted(&[b, c]),
        ),
    ];
    for (what, change, expected) in steps {
        let r = f.modify(f.groups, &g.id, &change, None).await;
        assert!(r.is_ok(), "[{}] {what}: must succeed, got {r:?}", f.kind);
        let got = f.must_get(f.groups, &g.id, &read_relations(&[&f.members])).await;
        let links = got.relations.get(&f.members).cloned().unwrap_or_default();
        let mut links_sorted = links.clone();
        links_sorted.sort();
        assert_eq!(
            links_sorted, expected,
            "[{}] {what}: members (no duplicates) {links:?}",
            f.kind
        );
    }
    // The other side sees the same links.
    assert_eq!(
        f.linked(f.users, b, &f.user_groups).await,
        vec![g.id.clone()],
        "[{}] u2's groups",
        f.kind
    );
    assert_eq!(
        f.linked(f.users, a, &f.user_groups).await,
        Vec::<String>::new(),
        "[{}] u1's groups",
        f.kind
    );
}

/// §5: children and relations only when named in the ReadSet; present and empty when asked
/// for and there are none; unknown names are Unsupported.
pub async fn s05_read_set(f: &Fixture) {
    let t = tag();
    let u1 = f.user(&t, "u1", &[]).await;
    let u2 = f.user(&t, "u2", &[]).await;
    let g = f.group(&t, "full", &[&u1.id, &u2.id]).await;
    let e = f.group(&t, "empty", &[]).await;
    assert_eq!(
        sorted(
            &g.relations
                .get(&f.members)
                .map(|v| v.iter().map(String::as_str).collect::<Vec<_>>())
                .unwrap_or_default()
        ),
        sorted(&[&u1.id, &u2.id]),
        "[{}] create must return the links as stored",
        f.kind
    );
    let plain = f.must_get(f.groups, &g.id, &ReadSet::default()).await;
    assert!(
        plain.relations.is_empty() && plain.children.is_empty(),
        "[{}] get without the relation in the ReadSet returned relation data: {plain:?}",
        f.kind
    );
    assert_eq!(
        f.linked(f.groups, &g.id, &f.members).await,
        sorted(&[&u1.id, &u2.id]),
        "[{}] members",
        f.kind
    );
    let empty = f.must_get(f.groups, &e.id, &read_relations(&[&f.members])).await;
    assert_eq!(
        empty.relations.get(&f.members),
        Some(&vec![]),
        "[{}] a requested relation with no links must be present and empty",
        f.kind
    );
    // The same through search, for a whole page.
    let mut q = query(f.group_tagged(&t));
    q.read = read_relations(&[&f.members]);
    let page = f
        .connector
        .search(f.groups, &q)
        .await
        .unwrap_or_else(|e| panic!("[{}] search with relations: {e:?}", f.kind));
    assert_eq!(page.records.len(), 2, "[{}] search", f.kind);
    for r in &page.records {
        let mut links = r
            .relations
            .get(&f.members)
            .unwrap_or_else(|| panic!("[{}] search record without the requested relation: {r:?}", f.kind))
            .clone();
        links.sort();
        let want = if r.id == g.id {
            sorted(&[&u1.id, &u2.id])
        } else {
            vec![]
        };
        assert_eq!(links, want, "[{}] search relation of {}", f.kind, r.id);
    }
    let mut q = query(f.group_tagged(&t));
    q.read = ReadSet::default();
    let page = f
        .connector
        .search(f.groups, &q)
        .await
        .unwrap_or_else(|e| panic!("[{}] {e:?}", f.kind));
    assert!(
        page.records.iter().all(|r| r.relations.is_empty()),
        "[{}] search without the relation in the ReadSet returned relation data",
        f.kind
    );
    // Unknown names.
    for read in [read_relations(&["no_such_relation"]), read_children(&["no_such_child"])] {
        let r = f.connector.get(f.groups, &g.id, &read).await;
        assert!(
            matches!(r, Err(ConnectorError::Unsupported(_))),
            "[{}] get with unknown ReadSet name {read:?} must be Unsupported, got {r:?}",
            f.kind
        );
        let mut q = query(f.group_tagged(&t));
        q.read = read.clone();
        let r = f.connector.search(f.groups, &q).await;
        assert!(
            matches!(r, Err(ConnectorError::Unsupported(_))),
            "[{}] search with unknown ReadSet name {read:?} must be Unsupported, got {r:?}",
            f.kind
        );
    }
}

/// §8 Touch: a relations-only or children-only change bumps the version.
pub async fn s08_touch_bumps_version(f: &Fixture) {
    let t = tag();
    let u = f.user(&t, "u", &[]).await;
    let g = f.group(&t, "g", &[]).await;
    f.modify(f.groups, &g.id, &delta(f, &[&u.id], &[], false), None)
        .await
        .unwrap_or_else(|e| panic!("[{}] add member: {e:?}", f.kind));
    let after = f.must_get(f.groups, &g.id, &ReadSet::default()).await;
    assert_ne!(
        after.meta.version, g.meta.version,
        "[{}] a relations-only change must bump the version (touch)",
        f.kind
    );
    if let Some(emails) = &f.emails {
        let mut c = ChangeSet::default();
        c.children.insert(emails.name.clone(), vec![]);
        f.modify(f.users, &u.id, &c, None)
            .await
            .unwrap_or_else(|e| panic!("[{}] replace children: {e:?}", f.kind));
        let after = f.must_get(f.users, &u.id, &ReadSet::default()).await;
        assert_ne!(
            after.meta.version, u.meta.version,
            "[{}] a children-only change must bump the version (touch)",
            f.kind
        );
    }
}

/// §10: deleting an entry removes every link to it, on both sides.
pub async fn s10_delete_removes_links(f: &Fixture) {
    let t = tag();
    let u1 = f.user(&t, "u1", &[]).await;
    let u2 = f.user(&t, "u2", &[]).await;
    let g = f.group(&t, "g", &[&u1.id, &u2.id]).await;
    let g2 = f.group(&t, "g2", &[&u2.id]).await;
    f.connector
        .delete(f.users, &u1.id, None)
        .await
        .unwrap_or_else(|e| panic!("[{}] delete user: {e:?}", f.kind));
    assert_eq!(
        f.linked(f.groups, &g.id, &f.members).await,
        vec![u2.id.clone()],
        "[{}] a deleted user must leave no group membership behind",
        f.kind
    );
    let related = Filter::Related {
        relation: f.members.clone(),
        ids: Some(vec![u1.id.clone()]),
    };
    assert_eq!(
        f.find_groups(&t, related).await,
        set(&[]),
        "[{}] groups still related to the deleted user",
        f.kind
    );
    // Deleting a group removes it from its members' groups.
    f.connector
        .delete(f.groups, &g.id, None)
        .await
        .unwrap_or_else(|e| panic!("[{}] delete group: {e:?}", f.kind));
    assert_eq!(
        f.linked(f.users, &u2.id, &f.user_groups).await,
        vec![g2.id.clone()],
        "[{}] a deleted group must leave no link behind",
        f.kind
    );
    // A new user gets none of the old links.
    let u3 = f.user(&t, "u1", &[]).await;
    assert_eq!(
        f.linked(f.users, &u3.id, &f.user_groups).await,
        Vec::<String>::new(),
        "[{}] stale links",
        f.kind
    );
}

/// §12: linking a missing entry is DanglingReference, and nothing is linked.
pub async fn s12_dangling_reference(f: &Fixture) {
    let t = tag();
    let u = f.user(&t, "u", &[]).await;
    let g = f.group(&t, "g", &[&u.id]).await;
    let r = f
        .modify(f.groups, &g.id, &delta(f, &["no-such-user"], &[], false), None)
        .await;
    assert!(
        matches!(r, Err(ConnectorError::DanglingReference(_))),
        "[{}] adding a missing member must be DanglingReference, got {r:?}",
        f.kind
    );
    assert_eq!(
        f.linked(f.groups, &g.id, &f.members).await,
        vec![u.id.clone()],
        "[{}] members changed",
        f.kind
    );
}
