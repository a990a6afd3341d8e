//! §3 Identity and §7 Create: ids are opaque, immutable, and impossible ids are not errors.

use scimgate::connector::{ChangeSet, CompareOp, ConnectorError, FieldRef, Filter, Operation, ReadSet, Value};

use crate::fixture::{Fixture, set, tag, text, text_of};

/// §7: create returns the entry as stored; get returns the same; ids are opaque strings.
pub async fn s07_create_returns_entry_as_stored(f: &Fixture) {
    let t = tag();
    let a = f
        .user(&t, "ann", &[(&f.display_name, "Ann A"), (&f.title, "Engineer")])
        .await;
    assert!(!a.id.is_empty(), "[{}] create returned an empty id: {a:?}", f.kind);
    let version = a.meta.version.as_deref().unwrap_or("");
    assert!(!version.is_empty(), "[{}] create returned no version: {a:?}", f.kind);
    assert!(
        a.meta.created.is_some(),
        "[{}] create returned no created: {a:?}",
        f.kind
    );
    assert!(
        a.meta.modified.is_some(),
        "[{}] create returned no modified: {a:?}",
        f.kind
    );
    assert_eq!(
        a.fields.get(&f.user_name),
        Some(&text(&format!("{t}ann"))),
        "[{}] {a:?}",
        f.kind
    );
    assert_eq!(
        a.fields.get(&f.display_name),
        Some(&text("Ann A")),
        "[{}] {a:?}",
        f.kind
    );
    assert_eq!(a.fields.get(&f.title), Some(&text("Engineer")), "[{}] {a:?}", f.kind);
    for (field, values) in &a.fields {
        assert!(
            !values.is_empty(),
            "[{}] field {field} is present with no value: {a:?}",
            f.kind
        );
    }

    let got = f.must_get(f.users, &a.id, &ReadSet::default()).await;
    assert_eq!(got.id, a.id, "[{}] get returned another id", f.kind);
    assert_eq!(got.meta, a.meta, "[{}] get's meta differs from create's", f.kind);
    assert_eq!(got.fields, a.fields, "[{}] get's fields differ from create's", f.kind);
    assert!(
        got.children.is_empty() && got.relations.is_empty(),
        "[{}] get with an empty ReadSet returned children or relations: {got:?}",
        f.kind
    );

    // Ids are assigned by the backend, unique, and not derived from a field.
    let b = f.user(&t, "bob", &[]).await;
    assert_ne!(a.id, b.id, "[{}] two entries got the same id", f.kind);
    assert!(
        !a.id.contains(&t) && !b.id.contains(&t),
        "[{}] the id is derived from the name: {}",
        f.kind,
        a.id
    );

    // Groups too.
    let g = f.group(&t, "g", &[]).await;
    assert!(
        !g.id.is_empty() && g.meta.version.is_some(),
        "[{}] group create: {g:?}",
        f.kind
    );
    let got = f.must_get(f.groups, &g.id, &ReadSet::default()).await;
    assert_eq!(got.fields, g.fields, "[{}] group get differs from create", f.kind);
}

fn impossible_ids() -> Vec<String> {
    vec![
        "x'; --".into(),
        "../".into(),
        "x".repeat(500),
        "\" OR 1=1 --".into(),
        "*)(uid=*".into(),
        "%".into(),
        "00000000-0000-4000-8000-000000000000".into(),
        "-1".into(),
        "no-such-entry".into(),
    ]
}

/// §3: a string that cannot be (or is not) a key: get → None, writes → NotFound, never an error.
pub async fn s03_impossible_ids(f: &Fixture) {
    let t = tag();
    let u = f.user(&t, "u", &[]).await;
    let mut change = ChangeSet::default();
    change.fields.insert(f.title.clone(), text("x"));
    for entity in [f.users, f.groups] {
        for id in impossible_ids() {
            let got = f.connector.get(entity, &id, &ReadSet::default()).await;
            assert!(
                matches!(got, Ok(None)),
                "[{}] get({entity:?}, {id:?}) must be Ok(None), got {got:?}",
                f.kind
            );
            let r = f.connector.modify(entity, &id, &ChangeSet::default(), None).await;
            assert!(
                matches!(r, Err(ConnectorError::NotFound)),
                "[{}] modify({id:?}) → {r:?}",
                f.kind
            );
            let r = f.connector.delete(entity, &id, None).await;
            assert!(
                matches!(r, Err(ConnectorError::NotFound)),
                "[{}] delete({id:?}) → {r:?}",
                f.kind
            );
            let r = f.connector.delete(entity, &id, Some("1")).await;
            assert!(
                matches!(r, Err(ConnectorError::NotFound)),
                "[{}] delete({id:?}, version 1) must be NotFound, got {r:?}",
                f.kind
            );
            let lines = f.connector.explain(entity, &Operation::Delete { id: &id });
            assert!(
                lines.as_ref().is_ok_and(|l| !l.is_empty()),
                "[{}] explain delete {id:?} → {lines:?}",
                f.kind
            );
        }
    }
    let r = f.connector.modify(f.users, "x'; --", &change, None).await;
    assert!(
        matches!(r, Err(ConnectorError::NotFound)),
        "[{}] modify fields of an impossible id → {r:?}",
        f.kind
    );
    // Nothing else was touched.
    let after = f.must_get(f.users, &u.id, &ReadSet::default()).await;
    assert_eq!(
        after.fields, u.fields,
        "[{}] an impossible id changed another entry",
        f.kind
    );
    assert_eq!(
        f.count_users(&t).await,
        1,
        "[{}] an impossible id changed the data",
        f.kind
    );
}

fn id_cmp(op: CompareOp, id: &str) -> Filter {
    Filter::Compare {
        field: FieldRef::Id,
        op,
        value: Value::Text(id.to_owned()),
        ignore_case: false,
    }
}

/// §3 + §6.1: `id` comparisons use the key; an impossible literal is false (`ne`: true).
pub async fn s03_id_filter(f: &Fixture) {
    let t = tag();
    let a = f.user(&t, "a", &[]).await;
    f.user(&t, "b", &[]).await;
    assert_eq!(
        f.find_users(&t, id_cmp(CompareOp::Eq, &a.id)).await,
        set(&["a"]),
        "[{}] id eq",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, id_cmp(CompareOp::Ne, &a.id)).await,
        set(&["b"]),
        "[{}] id ne",
        f.kind
    );
    for id in impossible_ids() {
        assert_eq!(
            f.find_users(&t, id_cmp(CompareOp::Eq, &id)).await,
            set(&[]),
            "[{}] id eq {id:?} must match nothing",
            f.kind
        );
        assert_eq!(
            f.find_users(&t, id_cmp(CompareOp::Ne, &id)).await,
            set(&["a", "b"]),
            "[{}] id ne {id:?} must match everything",
            f.kind
        );
    }
}

/// §3: the id survives renames.
pub async fn s03_id_survives_rename(f: &Fixture) {
    let t = tag();
    let a = f.user(&t, "before", &[]).await;
    let mut change = ChangeSet::default();
    change.fields.insert(f.user_name.clone(), text(&format!("{t}after")));
    f.modify(f.users, &a.id, &change, None)
        .await
        .unwrap_or_else(|e| panic!("[{}] rename: {e:?}", f.kind));
    let got = f.must_get(f.users, &a.id, &ReadSet::default()).await;
    assert_eq!(got.id, a.id, "[{}] the id changed on rename", f.kind);
    assert_eq!(
        text_of(&got, &f.user_name),
        Some(format!("{t}after").as_str()),
        "[{}] rename",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, Filter::True).await,
        set(&["after"]),
        "[{}] rename left a copy",
        f.kind
    );
}
