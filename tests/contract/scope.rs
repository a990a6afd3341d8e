//! §4 Scope: ANDed into every operation; create reads back through it.

use scimgate::connector::{ChangeSet, CompareOp, ConnectorError, FieldRef, Filter, NewRecord, ReadSet, Value};

use crate::fixture::{Fixture, set, tag, text};

/// §4: an entry outside the scope does not exist: get → None, writes → NotFound, search
/// (and its count) excludes it.
pub async fn s04_scope_hides_entries(f: &Fixture) {
    let Some(scope) = &f.scope else {
        return;
    };
    let t = tag();
    let a = f.user(&t, "a", &[]).await;
    f.user(&t, "b", &[]).await;
    let v1 = a.meta.version.clone().expect("version");
    // Move `a` out of the scope: the write is allowed while it is still inside.
    let mut c = ChangeSet::default();
    c.fields.insert(scope.field.clone(), text(&scope.outside));
    f.modify(f.users, &a.id, &c, None)
        .await
        .unwrap_or_else(|e| panic!("[{}] moving an entry out of the scope: {e:?}", f.kind));
    let got = f.connector.get(f.users, &a.id, &ReadSet::default()).await;
    assert!(
        matches!(got, Ok(None)),
        "[{}] get of an out-of-scope entry must be Ok(None), got {got:?}",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, Filter::True).await,
        set(&["b"]),
        "[{}] search sees an out-of-scope entry",
        f.kind
    );
    assert_eq!(
        f.count_users(&t).await,
        1,
        "[{}] the count includes an out-of-scope entry",
        f.kind
    );
    let by_id = Filter::Compare {
        field: FieldRef::Id,
        op: CompareOp::Eq,
        value: Value::Text(a.id.clone()),
        ignore_case: false,
    };
    assert_eq!(
        f.find_users(&t, by_id).await,
        set(&[]),
        "[{}] search by id sees an out-of-scope entry",
        f.kind
    );
    let mut back = ChangeSet::default();
    back.fields.insert(scope.field.clone(), vec![]);
    let versions: Vec<Option<&str>> = vec![None, Some(v1.as_str()), Some("999999")];
    for v in versions {
        let r = f.modify(f.users, &a.id, &back, v).await;
        assert!(
            matches!(r, Err(ConnectorError::NotFound)),
            "[{}] modify of an out-of-scope entry (version {v:?}) must be NotFound, got {r:?}",
            f.kind
        );
        let r = f.modify(f.users, &a.id, &ChangeSet::default(), v).await;
        assert!(
            matches!(r, Err(ConnectorError::NotFound)),
            "[{}] empty modify of an out-of-scope entry (version {v:?}) must be NotFound, got {r:?}",
            f.kind
        );
        let r = f.connector.delete(f.users, &a.id, v).await;
        assert!(
            matches!(r, Err(ConnectorError::NotFound)),
            "[{}] delete of an out-of-scope entry (version {v:?}) must be NotFound, got {r:?}",
            f.kind
        );
    }
    // A group may link to it, but reading the user through the relation filter does not see it.
    let g = f.group(&t, "g", &[]).await;
    let related = Filter::Related {
        relation: f.user_groups.clone(),
        ids: Some(vec![g.id.clone()]),
    };
    assert_eq!(f.find_users(&t, related).await, set(&[]), "[{}] related", f.kind);
}

/// §4: create reads the new entry back through the scope; outside it, the create is undone
/// and fails with InvalidValue.
pub async fn s04_scope_create_read_back(f: &Fixture) {
    let Some(scope) = &f.scope else {
        return;
    };
    let t = tag();
    let mut rec = NewRecord::default();
    rec.fields.insert(f.user_name.clone(), text(&format!("{t}out")));
    rec.fields.insert(scope.field.clone(), text(&scope.outside));
    let r = f.connector.create(f.users, &rec).await;
    assert!(
        matches!(&r, Err(ConnectorError::InvalidValue { detail, .. }) if detail.contains("scope")),
        "[{}] creating an entry outside the scope must be InvalidValue (\"…scope…\"), got {r:?}",
        f.kind
    );
    // Nothing was committed: the same name can be created inside the scope (no Conflict).
    let inside = f.user(&t, "out", &[]).await;
    assert_eq!(
        f.find_users(&t, Filter::True).await,
        set(&["out"]),
        "[{}] after a scoped create",
        f.kind
    );
    f.connector
        .delete(f.users, &inside.id, None)
        .await
        .unwrap_or_else(|e| panic!("[{}] delete: {e:?}", f.kind));
}
