//! §7 Create, §8 Modify, §9 Versions, §10 Delete, §11 Atomicity, §12 Errors.

use scimgate::connector::{ChangeSet, ConnectorError, NewRecord, ReadSet, Record, Row, Value};

use crate::fixture::{Fixture, present, read_children, set, tag, text, text_of};

fn change(field: &str, values: Vec<Value>) -> ChangeSet {
    let mut c = ChangeSet::default();
    c.fields.insert(field.to_owned(), values);
    c
}

/// §8: exactly the listed fields change; the version changes; the rest is untouched.
pub async fn s08_modify_changes_only_listed_fields(f: &Fixture) {
    let t = tag();
    let a = f
        .user(&t, "ann", &[(&f.display_name, "Ann A"), (&f.title, "Engineer")])
        .await;
    let other = f.user(&t, "other", &[(&f.title, "Engineer")]).await;
    f.modify(f.users, &a.id, &change(&f.title, text("Manager")), None)
        .await
        .unwrap_or_else(|e| panic!("[{}] modify title: {e:?}", f.kind));
    let got = f.must_get(f.users, &a.id, &ReadSet::default()).await;
    let mut expected = a.fields.clone();
    expected.insert(f.title.clone(), text("Manager"));
    assert_eq!(
        got.fields, expected,
        "[{}] modify must change only the listed field",
        f.kind
    );
    assert_ne!(
        got.meta.version, a.meta.version,
        "[{}] modify must change the version",
        f.kind
    );
    assert_eq!(got.meta.created, a.meta.created, "[{}] modify changed created", f.kind);
    assert!(got.meta.modified.is_some(), "[{}] modify lost modified", f.kind);
    let o = f.must_get(f.users, &other.id, &ReadSet::default()).await;
    assert_eq!(o.fields, other.fields, "[{}] modify changed another entry", f.kind);
    assert_eq!(
        o.meta.version, other.meta.version,
        "[{}] modify bumped another entry's version",
        f.kind
    );

    // Two fields at once.
    let mut c = change(&f.title, text("Director"));
    c.fields.insert(f.display_name.clone(), text("Ann B"));
    f.modify(f.users, &a.id, &c, None)
        .await
        .unwrap_or_else(|e| panic!("[{}] {e:?}", f.kind));
    let got2 = f.must_get(f.users, &a.id, &ReadSet::default()).await;
    expected.insert(f.title.clone(), text("Director"));
    expected.insert(f.display_name.clone(), text("Ann B"));
    assert_eq!(got2.fields, expected, "[{}] modify of two fields", f.kind);
    assert_ne!(
        got2.meta.version, got.meta.version,
        "[{}] second modify kept the version",
        f.kind
    );
}

/// §8: an empty list clears the field, which is then absent.
pub async fn s08_empty_list_clears_field(f: &Fixture) {
    let t = tag();
    let a = f
        .user(&t, "ann", &[(&f.display_name, "Ann A"), (&f.title, "Engineer")])
        .await;
    f.modify(f.users, &a.id, &change(&f.title, vec![]), None)
        .await
        .unwrap_or_else(|e| panic!("[{}] clear title: {e:?}", f.kind));
    let got = f.must_get(f.users, &a.id, &ReadSet::default()).await;
    assert!(
        !got.fields.contains_key(&f.title),
        "[{}] a cleared field must be absent from the record, got {:?}",
        f.kind,
        got.fields.get(&f.title)
    );
    assert_eq!(
        text_of(&got, &f.display_name),
        Some("Ann A"),
        "[{}] clearing touched another field",
        f.kind
    );
    assert_ne!(
        got.meta.version, a.meta.version,
        "[{}] clearing must change the version",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, present(&f.title)).await,
        set(&[]),
        "[{}] cleared field still pr",
        f.kind
    );
    // Clearing an absent field is fine too.
    f.modify(f.users, &a.id, &change(&f.title, vec![]), None)
        .await
        .unwrap_or_else(|e| panic!("[{}] clear an absent field: {e:?}", f.kind));
}

/// §8: an empty change set still checks existence and version.
pub async fn s08_empty_change_set(f: &Fixture) {
    let t = tag();
    let a = f.user(&t, "ann", &[(&f.title, "Engineer")]).await;
    let empty = ChangeSet::default();
    let r = f.modify(f.users, &a.id, &empty, None).await;
    assert!(
        r.is_ok(),
        "[{}] empty change set on an existing entry must be Ok, got {r:?}",
        f.kind
    );
    let got = f.must_get(f.users, &a.id, &ReadSet::default()).await;
    assert_eq!(got.fields, a.fields, "[{}] empty change set changed fields", f.kind);
    let r = f.modify(f.users, "no-such-entry", &empty, None).await;
    assert!(
        matches!(r, Err(ConnectorError::NotFound)),
        "[{}] empty change set on an unknown id must be NotFound, got {r:?}",
        f.kind
    );
    if f.connector.capabilities(f.users).native_version_check {
        let current = got.meta.version.clone().expect("version");
        let r = f.modify(f.users, &a.id, &empty, Some(&current)).await;
        assert!(
            r.is_ok(),
            "[{}] empty change set with the current version must be Ok, got {r:?}",
            f.kind
        );
        let r = f.modify(f.users, &a.id, &empty, Some("999999")).await;
        assert!(
            matches!(r, Err(ConnectorError::VersionMismatch)),
            "[{}] empty change set with a stale version must be VersionMismatch, got {r:?}",
            f.kind
        );
    }
}

/// §9: expected_version is checked at write time: current → Ok, stale → VersionMismatch.
pub async fn s09_expected_version(f: &Fixture) {
    if !f.connector.capabilities(f.users).native_version_check {
        eprintln!(
            "SKIPPED [{}] s09_expected_version: native_version_check is false",
            f.kind
        );
        return;
    }
    let t = tag();
    let a = f.user(&t, "ann", &[(&f.title, "v1")]).await;
    let v1 = a.meta.version.clone().expect("version");
    f.modify(f.users, &a.id, &change(&f.title, text("v2")), Some(&v1))
        .await
        .unwrap_or_else(|e| panic!("[{}] modify with the current version: {e:?}", f.kind));
    let v2 = f
        .must_get(f.users, &a.id, &ReadSet::default())
        .await
        .meta
        .version
        .expect("version");
    assert_ne!(v1, v2, "[{}] the version did not change", f.kind);
    let r = f
        .modify(f.users, &a.id, &change(&f.title, text("stale")), Some(&v1))
        .await;
    assert!(
        matches!(r, Err(ConnectorError::VersionMismatch)),
        "[{}] modify with a stale version must be VersionMismatch, got {r:?}",
        f.kind
    );
    let got = f.must_get(f.users, &a.id, &ReadSet::default()).await;
    assert_eq!(
        text_of(&got, &f.title),
        Some("v2"),
        "[{}] a stale modify was applied",
        f.kind
    );
    assert_eq!(
        got.meta.version.as_deref(),
        Some(v2.as_str()),
        "[{}] a stale modify bumped the version",
        f.kind
    );
    // A children- or relations-only change is checked too (no main-row update to guard it).
    let g = f.group(&t, "g", &[]).await;
    let gv = g.meta.version.clone().expect("group version");
    let mut rel = ChangeSet::default();
    rel.relations.insert(
        f.members.clone(),
        scimgate::connector::RelationDelta {
            add: vec![a.id.clone()],
            ..Default::default()
        },
    );
    f.modify(f.groups, &g.id, &rel, Some(&gv))
        .await
        .unwrap_or_else(|e| panic!("[{}] relations-only modify with the current version: {e:?}", f.kind));
    let r = f.modify(f.groups, &g.id, &rel, Some(&gv)).await;
    assert!(
        matches!(r, Err(ConnectorError::VersionMismatch)),
        "[{}] relations-only modify with a stale version must be VersionMismatch, got {r:?}",
        f.kind
    );
    if let Some(emails) = &f.emails {
        let mut c = ChangeSet::default();
        c.children.insert(emails.name.clone(), vec![]);
        let r = f.modify(f.users, &a.id, &c, Some(&v1)).await;
        assert!(
            matches!(r, Err(ConnectorError::VersionMismatch)),
            "[{}] children-only modify with a stale version must be VersionMismatch, got {r:?}",
            f.kind
        );
    }
    f.modify(f.users, &a.id, &change(&f.title, text("v3")), Some(&v2))
        .await
        .unwrap_or_else(|e| panic!("[{}] modify with the new current version: {e:?}", f.kind));
}

/// §9: a missing entry is NotFound, with or without an expected version.
pub async fn s09_modify_unknown_id(f: &Fixture) {
    let t = tag();
    let a = f.user(&t, "gone", &[]).await;
    f.connector
        .delete(f.users, &a.id, None)
        .await
        .unwrap_or_else(|e| panic!("[{}] delete: {e:?}", f.kind));
    let versions: &[Option<&str>] = if f.connector.capabilities(f.users).native_version_check {
        &[None, Some("1")]
    } else {
        &[None]
    };
    for &version in versions {
        for id in [a.id.as_str(), "no-such-entry"] {
            let r = f.modify(f.users, id, &change(&f.title, text("x")), version).await;
            assert!(
                matches!(r, Err(ConnectorError::NotFound)),
                "[{}] modify of missing {id:?} (version {version:?}) must be NotFound, got {r:?}",
                f.kind
            );
        }
    }
    assert_eq!(
        f.find_users(&t, scimgate::connector::Filter::True).await,
        set(&[]),
        "[{}] modify created an entry",
        f.kind
    );
}

/// §7: a field with several values on a single-valued backend field → InvalidValue.
pub async fn s07_multiple_values_single_valued_field(f: &Fixture) {
    if !f.single_valued_fields {
        return;
    }
    let t = tag();
    let mut rec = NewRecord::default();
    rec.fields.insert(f.user_name.clone(), text(&format!("{t}multi")));
    rec.fields.insert(
        f.title.clone(),
        vec![Value::Text("one".into()), Value::Text("two".into())],
    );
    let r = f.connector.create(f.users, &rec).await;
    assert!(
        matches!(r, Err(ConnectorError::InvalidValue { .. })),
        "[{}] create with two values for one column must be InvalidValue, got {r:?}",
        f.kind
    );
    assert_eq!(
        f.count_users(&t).await,
        0,
        "[{}] a rejected create left an entry",
        f.kind
    );
    let a = f.user(&t, "single", &[(&f.title, "one")]).await;
    let r = f
        .modify(
            f.users,
            &a.id,
            &change(&f.title, vec![Value::Text("one".into()), Value::Text("two".into())]),
            None,
        )
        .await;
    assert!(
        matches!(r, Err(ConnectorError::InvalidValue { .. })),
        "[{}] modify with two values for one column must be InvalidValue, got {r:?}",
        f.kind
    );
}

fn email_values(f: &Fixture, r: &Record) -> Vec<String> {
    let emails = f.emails.as_ref().expect("emails");
    let rows = r
        .children
        .get(&emails.name)
        .unwrap_or_else(|| panic!("[{}] requested child {} missing from {r:?}", f.kind, emails.name));
    for row in rows {
        assert!(
            !row.contains_key(&emails.key),
            "[{}] child rows must not contain the owner key {}: {row:?}",
            f.kind,
            emails.key
        );
    }
    rows.iter()
        .map(|row| {
            row.get(&emails.value)
                .and_then(Value::as_text)
                .unwrap_or_else(|| panic!("[{}] child row without value: {row:?}", f.kind))
                .to_owned()
        })
        .collect()
}

/// §5, §7, §8: child rows are written with the entry, replaced as a whole, read in order.
pub async fn s07_s08_children(f: &Fixture) {
    let Some(emails) = &f.emails else {
        eprintln!("SKIPPED [{}] s07_s08_children: no child table for emails", f.kind);
        return;
    };
    let t = tag();
    let row = |v: &str| -> Row {
        [(emails.value.clone(), Value::Text(v.to_owned()))]
            .into_iter()
            .collect()
    };
    let mut rec = NewRecord::default();
    rec.fields.insert(f.user_name.clone(), text(&format!("{t}ann")));
    rec.fields.insert(f.title.clone(), text("Engineer"));
    rec.children
        .insert(emails.name.clone(), vec![row("z@example.com"), row("a@example.com")]);
    let a = f
        .connector
        .create(f.users, &rec)
        .await
        .unwrap_or_else(|e| panic!("[{}] create with emails: {e:?}", f.kind));
    assert_eq!(
        email_values(f, &a),
        ["z@example.com", "a@example.com"],
        "[{}] create must return the child rows as stored, in insertion order",
        f.kind
    );
    let read = read_children(&[&emails.name]);
    let got = f.must_get(f.users, &a.id, &read).await;
    assert_eq!(
        email_values(f, &got),
        ["z@example.com", "a@example.com"],
        "[{}] get must return the child rows in insertion order",
        f.kind
    );
    let plain = f.must_get(f.users, &a.id, &ReadSet::default()).await;
    assert!(
        plain.children.is_empty(),
        "[{}] get without the child read it: {plain:?}",
        f.kind
    );

    // Replace the whole list.
    let mut c = ChangeSet::default();
    c.children.insert(
        emails.name.clone(),
        vec![row("m@example.com"), row("z@example.com"), row("b@example.com")],
    );
    f.modify(f.users, &a.id, &c, None)
        .await
        .unwrap_or_else(|e| panic!("[{}] replace emails: {e:?}", f.kind));
    let got = f.must_get(f.users, &a.id, &read).await;
    assert_eq!(
        email_values(f, &got),
        ["m@example.com", "z@example.com", "b@example.com"],
        "[{}] a child list must be replaced as a whole and read back in order",
        f.kind
    );
    assert_eq!(
        got.fields, a.fields,
        "[{}] a children-only change touched the fields",
        f.kind
    );

    // Search reads children too, for the whole page.
    let mut q = crate::fixture::query(f.tagged(&t));
    q.read = read.clone();
    let page = f
        .connector
        .search(f.users, &q)
        .await
        .unwrap_or_else(|e| panic!("[{}] {e:?}", f.kind));
    assert_eq!(page.records.len(), 1, "[{}] search", f.kind);
    assert_eq!(
        email_values(f, &page.records[0]),
        ["m@example.com", "z@example.com", "b@example.com"],
        "[{}] search must read the requested children",
        f.kind
    );

    // An empty list removes every row; the requested part is present and empty.
    let mut c = ChangeSet::default();
    c.children.insert(emails.name.clone(), vec![]);
    f.modify(f.users, &a.id, &c, None)
        .await
        .unwrap_or_else(|e| panic!("[{}] clear emails: {e:?}", f.kind));
    let got = f.must_get(f.users, &a.id, &read).await;
    assert_eq!(
        email_values(f, &got),
        Vec::<String>::new(),
        "[{}] cleared child list",
        f.kind
    );
}

/// §10: after delete, get is None and a second delete is NotFound.
pub async fn s10_delete(f: &Fixture) {
    let t = tag();
    let a = f.user(&t, "ann", &[]).await;
    let b = f.user(&t, "bob", &[]).await;
    f.connector
        .delete(f.users, &a.id, None)
        .await
        .unwrap_or_else(|e| panic!("[{}] delete: {e:?}", f.kind));
    assert!(
        f.get(f.users, &a.id, &ReadSet::default()).await.is_none(),
        "[{}] deleted entry still readable",
        f.kind
    );
    let r = f.connector.delete(f.users, &a.id, None).await;
    assert!(
        matches!(r, Err(ConnectorError::NotFound)),
        "[{}] deleting twice must be NotFound, got {r:?}",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, scimgate::connector::Filter::True).await,
        set(&["bob"]),
        "[{}] search after delete",
        f.kind
    );
    assert!(
        f.get(f.users, &b.id, &ReadSet::default()).await.is_some(),
        "[{}] delete removed another entry",
        f.kind
    );
    // The name is free again.
    f.user(&t, "ann", &[]).await;
}

/// §9, §10: delete with a stale version → VersionMismatch and the entry stays.
pub async fn s10_delete_stale_version(f: &Fixture) {
    if !f.connector.capabilities(f.users).native_version_check {
        eprintln!(
            "SKIPPED [{}] s10_delete_stale_version: native_version_check is false",
            f.kind
        );
        return;
    }
    let t = tag();
    let a = f.user(&t, "ann", &[(&f.title, "v1")]).await;
    let v1 = a.meta.version.clone().expect("version");
    f.modify(f.users, &a.id, &change(&f.title, text("v2")), None)
        .await
        .unwrap_or_else(|e| panic!("[{}] {e:?}", f.kind));
    let r = f.connector.delete(f.users, &a.id, Some(&v1)).await;
    assert!(
        matches!(r, Err(ConnectorError::VersionMismatch)),
        "[{}] delete with a stale version must be VersionMismatch, got {r:?}",
        f.kind
    );
    let got = f.get(f.users, &a.id, &ReadSet::default()).await;
    assert!(got.is_some(), "[{}] a stale delete removed the entry", f.kind);
    let v2 = got.and_then(|r| r.meta.version).expect("version");
    f.connector
        .delete(f.users, &a.id, Some(&v2))
        .await
        .unwrap_or_else(|e| panic!("[{}] delete with the current version: {e:?}", f.kind));
    assert!(
        f.get(f.users, &a.id, &ReadSet::default()).await.is_none(),
        "[{}] not deleted",
        f.kind
    );
}

/// §11: a failing step rolls back the whole operation.
pub async fn s11_rollback_on_failure(f: &Fixture) {
    if !f.connector.capabilities(f.users).transactions {
        eprintln!("SKIPPED [{}] s11_rollback_on_failure: transactions is false", f.kind);
        return;
    }
    let t = tag();
    // A create whose link fails leaves nothing behind.
    let mut rec = NewRecord::default();
    rec.fields.insert(f.user_name.clone(), text(&format!("{t}ann")));
    rec.relations
        .insert(f.user_groups.clone(), vec!["no-such-group".into()]);
    let r = f.connector.create(f.users, &rec).await;
    assert!(
        r.is_err(),
        "[{}] a link to a missing group must fail, got {r:?}",
        f.kind
    );
    assert_eq!(
        f.count_users(&t).await,
        0,
        "[{}] a failed create was not rolled back",
        f.kind
    );
    // A modify whose link fails changes no field.
    let b = f.user(&t, "bob", &[(&f.title, "before")]).await;
    let mut c = change(&f.title, text("after"));
    c.relations.insert(
        f.user_groups.clone(),
        scimgate::connector::RelationDelta {
            add: vec!["no-such-group".into()],
            ..Default::default()
        },
    );
    let r = f.modify(f.users, &b.id, &c, None).await;
    assert!(
        r.is_err(),
        "[{}] a modify linking a missing group must fail, got {r:?}",
        f.kind
    );
    let got = f.must_get(f.users, &b.id, &ReadSet::default()).await;
    assert_eq!(
        text_of(&got, &f.title),
        Some("before"),
        "[{}] a failed modify was not rolled back",
        f.kind
    );
    assert_eq!(
        got.meta.version, b.meta.version,
        "[{}] a failed modify bumped the version",
        f.kind
    );
}

/// §12: a uniqueness violation is Conflict, and nothing is written.
pub async fn s12_uniqueness_conflict(f: &Fixture) {
    let t = tag();
    f.user(&t, "ann", &[]).await;
    let mut names = vec![format!("{t}ann")];
    if f.case_insensitive_unique {
        names.push(format!("{t}ANN"));
    }
    for name in &names {
        let mut rec = NewRecord::default();
        rec.fields.insert(f.user_name.clone(), text(name));
        let r = f.connector.create(f.users, &rec).await;
        assert!(
            matches!(r, Err(ConnectorError::Conflict { .. })),
            "[{}] creating a second user named {name:?} must be Conflict, got {r:?}",
            f.kind
        );
    }
    assert_eq!(
        f.count_users(&t).await,
        1,
        "[{}] a conflicting create left an entry",
        f.kind
    );
    // A rename onto a taken name.
    let b = f.user(&t, "bob", &[]).await;
    for name in &names {
        let r = f.modify(f.users, &b.id, &change(&f.user_name, text(name)), None).await;
        assert!(
            matches!(r, Err(ConnectorError::Conflict { .. })),
            "[{}] renaming onto {name:?} must be Conflict, got {r:?}",
            f.kind
        );
    }
    let got = f.must_get(f.users, &b.id, &ReadSet::default()).await;
    assert_eq!(
        got.fields, b.fields,
        "[{}] a conflicting rename changed the entry",
        f.kind
    );
}

/// §12: a name the entity does not have (field, child, relation, sort key) is Unsupported,
/// and nothing is written.
pub async fn s12_unknown_names_unsupported(f: &Fixture) {
    use scimgate::connector::{FieldRef, RelationDelta, SortKey};
    let t = tag();
    let a = f.user(&t, "a", &[]).await;
    let base = || {
        let mut rec = NewRecord::default();
        rec.fields.insert(f.user_name.clone(), text(&format!("{t}new")));
        rec
    };
    let mut creates = Vec::new();
    let mut r = base();
    r.fields.insert("no_such_field".into(), text("x"));
    creates.push(("field", r));
    let mut r = base();
    r.children.insert("no_such_child".into(), vec![]);
    creates.push(("child", r));
    let mut r = base();
    r.relations.insert("no_such_relation".into(), vec![]);
    creates.push(("relation", r));
    for (what, rec) in creates {
        let r = f.connector.create(f.users, &rec).await;
        assert!(
            matches!(r, Err(ConnectorError::Unsupported(_))),
            "[{}] create with an unknown {what} must be Unsupported, got {r:?}",
            f.kind
        );
    }
    assert_eq!(
        f.count_users(&t).await,
        1,
        "[{}] a rejected create left an entry",
        f.kind
    );
    let mut changes = Vec::new();
    changes.push(("field", change("no_such_field", text("x"))));
    let mut c = ChangeSet::default();
    c.children.insert("no_such_child".into(), vec![]);
    changes.push(("child", c));
    let mut c = ChangeSet::default();
    c.relations.insert(
        "no_such_relation".into(),
        RelationDelta {
            remove_all: true,
            ..Default::default()
        },
    );
    changes.push(("relation", c));
    for (what, c) in changes {
        let r = f.modify(f.users, &a.id, &c, None).await;
        assert!(
            matches!(r, Err(ConnectorError::Unsupported(_))),
            "[{}] modify with an unknown {what} must be Unsupported, got {r:?}",
            f.kind
        );
    }
    let got = f.must_get(f.users, &a.id, &ReadSet::default()).await;
    assert_eq!(
        got.meta.version, a.meta.version,
        "[{}] a rejected modify bumped the version",
        f.kind
    );
    let mut q = crate::fixture::query(f.tagged(&t));
    q.sort = Some(SortKey {
        field: FieldRef::Field("no_such_field".into()),
        descending: false,
        ignore_case: false,
    });
    let r = f.connector.search(f.users, &q).await;
    assert!(
        matches!(r, Err(ConnectorError::Unsupported(_))),
        "[{}] sort on an unknown field must be Unsupported, got {r:?}",
        f.kind
    );
}

/// §7: columns the connector maintains (key, version, timestamps) cannot be set. §7 says
/// InvalidValue; when the mapping does not map the column either, it is also an unknown
/// field (§12: Unsupported), and the SPEC does not say which wins, so both are accepted.
pub async fn s07_managed_fields_refused(f: &Fixture) {
    let refused = |r: &Result<_, ConnectorError>| {
        matches!(
            r,
            Err(ConnectorError::InvalidValue { .. } | ConnectorError::Unsupported(_))
        )
    };
    let t = tag();
    let a = f.user(&t, "a", &[]).await;
    for field in &f.managed_user_fields {
        let mut rec = NewRecord::default();
        rec.fields.insert(f.user_name.clone(), text(&format!("{t}new")));
        rec.fields.insert(field.clone(), text("7"));
        let r = f.connector.create(f.users, &rec).await.map(|_| ());
        assert!(
            refused(&r),
            "[{}] create setting the managed field {field} must be InvalidValue (or Unsupported), got {r:?}",
            f.kind
        );
        let r = f.modify(f.users, &a.id, &change(field, text("7")), None).await;
        assert!(
            refused(&r),
            "[{}] modify setting the managed field {field} must be InvalidValue (or Unsupported), got {r:?}",
            f.kind
        );
    }
    assert_eq!(
        f.count_users(&t).await,
        1,
        "[{}] a refused create left an entry",
        f.kind
    );
    let got = f.must_get(f.users, &a.id, &ReadSet::default()).await;
    assert_eq!(
        (&got.id, &got.meta),
        (&a.id, &a.meta),
        "[{}] a refused modify changed the entry",
        f.kind
    );
}
