//! §2 capabilities, §13 health, §14 explain, §15 unsupported.

use scimgate::connector::{
    ChangeSet, CompareOp, ConnectorError, FieldRef, Filter, NewRecord, Operation, PageRequest, ReadSet, RelationDelta,
    SortKey,
};

use crate::fixture::{Fixture, cmp, present, query, read_relations, tag, text, text_of};

/// §2: capabilities are true statements about the backend.
pub async fn s02_capabilities_consistent(f: &Fixture) {
    for entity in [f.users, f.groups] {
        let caps = f.connector.capabilities(entity).clone();
        if let Some(expected) = &f.expected_capabilities {
            assert_eq!(&caps, expected, "[{}] capabilities of {entity:?}", f.kind);
        }
    }
    let caps = f.connector.capabilities(f.users).clone();
    let t = tag();
    let a = f.user(&t, "a", &[(&f.title, "x")]).await;
    f.user(&t, "b", &[]).await;
    f.user(&t, "c", &[]).await;

    let mut q = query(f.tagged(&t));
    q.want_total = true;
    if caps.offset_paging {
        q.page = PageRequest::Offset { offset: 1, count: 1 };
    }
    if caps.sort {
        q.sort = Some(SortKey {
            field: FieldRef::Field(f.user_name.clone()),
            descending: true,
            ignore_case: false,
        });
    }
    let page = f
        .connector
        .search(f.users, &q)
        .await
        .unwrap_or_else(|e| panic!("[{}] search: {e:?}", f.kind));
    if caps.total {
        assert_eq!(
            page.total,
            Some(3),
            "[{}] total = true but want_total gave {:?}",
            f.kind,
            page.total
        );
    }
    if caps.offset_paging && caps.sort {
        assert_eq!(page.records.len(), 1, "[{}] offset paging", f.kind);
        assert_eq!(
            text_of(&page.records[0], &f.user_name),
            Some(format!("{t}b").as_str()),
            "[{}] offset 1 of a descending sort",
            f.kind
        );
    }
    if caps.cursor_paging {
        let pages = crate::paging::cursor_run(f, &t, None, 2, None).await;
        assert_eq!(
            pages.iter().map(Vec::len).collect::<Vec<_>>(),
            [2, 1],
            "[{}] cursor_paging = true but cursor paging gave {pages:?}",
            f.kind
        );
    }
    if caps.native_version_check {
        let mut c = ChangeSet::default();
        c.fields.insert(f.title.clone(), text("y"));
        let r = f.modify(f.users, &a.id, &c, Some("no-such-version")).await;
        assert!(
            matches!(r, Err(ConnectorError::VersionMismatch)),
            "[{}] native_version_check = true but a stale version gave {r:?}",
            f.kind
        );
    }
}

pub async fn s13_health(f: &Fixture) {
    let r = f.connector.health().await;
    assert!(r.is_ok(), "[{}] health must be Ok, got {r:?}", f.kind);
    assert!(!f.connector.kind().is_empty(), "[{}] kind", f.kind);
}

fn check_lines(f: &Fixture, what: &str, r: Result<Vec<String>, ConnectorError>) -> Vec<String> {
    let lines = r.unwrap_or_else(|e| panic!("[{}] explain {what}: {e:?}", f.kind));
    assert!(!lines.is_empty(), "[{}] explain {what} returned no lines", f.kind);
    for l in &lines {
        assert!(
            !l.trim().is_empty(),
            "[{}] explain {what} returned an empty line: {lines:?}",
            f.kind
        );
    }
    lines
}

/// §14: explain renders without running: nothing is written.
pub async fn s14_explain_does_not_write(f: &Fixture) {
    let t = tag();
    let u = f.user(&t, "existing", &[(&f.title, "before")]).await;
    let g = f.group(&t, "g", &[]).await;
    let before = f.count_users(&t).await;
    assert_eq!(before, 1, "[{}] count", f.kind);

    let mut rec = NewRecord::default();
    rec.fields.insert(f.user_name.clone(), text(&format!("{t}new")));
    rec.fields.insert(f.title.clone(), text("t"));
    if let Some(emails) = &f.emails {
        rec.children.insert(
            emails.name.clone(),
            vec![
                [(
                    emails.value.clone(),
                    scimgate::connector::Value::Text("n@example.com".into()),
                )]
                .into(),
            ],
        );
    }
    rec.relations.insert(f.user_groups.clone(), vec![g.id.clone()]);
    check_lines(f, "create", f.connector.explain(f.users, &Operation::Create(&rec)));

    let mut q = query(cmp(&f.user_name, CompareOp::Eq, &format!("{t}new"), true));
    let plain = check_lines(f, "search", f.connector.explain(f.users, &Operation::Search(&q)));
    q.want_total = true;
    let counted = check_lines(
        f,
        "search with total",
        f.connector.explain(f.users, &Operation::Search(&q)),
    );
    if f.connector.capabilities(f.users).total {
        // The count may be its own line or folded into the page query; either way it shows.
        assert!(
            counted != plain && counted.join("\n").to_lowercase().contains("count"),
            "[{}] explain search with want_total must show the count query: {counted:?}",
            f.kind
        );
    }
    q.read = read_relations(&[&f.user_groups]);
    let with_rel = check_lines(
        f,
        "search with relations",
        f.connector.explain(f.users, &Operation::Search(&q)),
    );
    // SPEC §14 says one line per relation read; a connector may also fold the read into the
    // page query. Either way the output must change.
    assert_ne!(
        with_rel, counted,
        "[{}] explain search must show the relation read",
        f.kind
    );

    let mut c = ChangeSet::default();
    c.fields.insert(f.title.clone(), text("after"));
    c.relations.insert(
        f.user_groups.clone(),
        RelationDelta {
            add: vec![g.id.clone()],
            ..Default::default()
        },
    );
    let version = u.meta.version.clone();
    for expected_version in [None, version.as_deref()] {
        check_lines(
            f,
            "modify",
            f.connector.explain(
                f.users,
                &Operation::Modify {
                    id: &u.id,
                    changes: &c,
                    expected_version,
                },
            ),
        );
    }
    check_lines(
        f,
        "delete",
        f.connector.explain(f.users, &Operation::Delete { id: &u.id }),
    );
    check_lines(
        f,
        "delete group",
        f.connector.explain(f.groups, &Operation::Delete { id: &g.id }),
    );

    assert_eq!(
        f.count_users(&t).await,
        before,
        "[{}] explain wrote: the user count changed",
        f.kind
    );
    let after = f.must_get(f.users, &u.id, &read_relations(&[&f.user_groups])).await;
    assert_eq!(after.fields, u.fields, "[{}] explain modify wrote", f.kind);
    assert_eq!(
        after.meta.version, u.meta.version,
        "[{}] explain modify bumped the version",
        f.kind
    );
    assert_eq!(
        after.relations.get(&f.user_groups),
        Some(&vec![]),
        "[{}] explain linked",
        f.kind
    );
    assert!(
        f.get(f.groups, &g.id, &ReadSet::default()).await.is_some(),
        "[{}] explain deleted the group",
        f.kind
    );

    // An operation that could not run fails explain with the execution's error class.
    let bad = query(cmp("no_such_field", CompareOp::Eq, "x", false));
    let r = f.connector.explain(f.users, &Operation::Search(&bad));
    assert!(
        matches!(r, Err(ConnectorError::Unsupported(_))),
        "[{}] explain of a search on an unknown field must be Unsupported, got {r:?}",
        f.kind
    );
}

/// §15: `unsupported` agrees with `search`.
pub async fn s15_unsupported_agrees_with_search(f: &Fixture) {
    let t = tag();
    f.user(&t, "a", &[(&f.title, "x")]).await;
    let supported = vec![
        Filter::True,
        Filter::False,
        cmp(&f.title, CompareOp::Eq, "x", true),
        cmp(&f.title, CompareOp::Ne, "x", false),
        cmp(&f.display_name, CompareOp::Contains, "%_*", false),
        present(&f.title),
        Filter::Not(Box::new(present(&f.title))),
        Filter::Related {
            relation: f.user_groups.clone(),
            ids: None,
        },
        Filter::Compare {
            field: FieldRef::Id,
            op: CompareOp::Eq,
            value: scimgate::connector::Value::Text("x".into()),
            ignore_case: false,
        },
    ];
    for filter in supported {
        let u = f.connector.unsupported(f.users, &filter);
        assert!(u.is_empty(), "[{}] unsupported({filter:?}) = {u:?}", f.kind);
        let r = f
            .connector
            .search(f.users, &query(Filter::And(vec![f.tagged(&t), filter.clone()])))
            .await;
        assert!(
            r.is_ok(),
            "[{}] unsupported() is empty for {filter:?} but search failed: {r:?}",
            f.kind
        );
    }
    let unknown = vec![
        cmp("no_such_field", CompareOp::Eq, "x", false),
        Filter::Or(vec![present(&f.title), present("no_such_field")]),
        Filter::Related {
            relation: "no_such_relation".into(),
            ids: None,
        },
        Filter::Child {
            child: "no_such_child".into(),
            filter: Box::new(Filter::True),
        },
    ];
    for filter in unknown {
        let u = f.connector.unsupported(f.users, &filter);
        assert!(
            !u.is_empty(),
            "[{}] unsupported({filter:?}) must list the unknown name",
            f.kind
        );
        let r = f.connector.search(f.users, &query(filter.clone())).await;
        assert!(
            matches!(r, Err(ConnectorError::Unsupported(_))),
            "[{}] search with an unknown name {filter:?} must be Unsupported, got {r:?}",
            f.kind
        );
    }
}
