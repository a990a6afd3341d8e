//! §6.1: the filter tree's required semantics.

use scimgate::connector::{CompareOp, ConnectorError, Filter, NewRecord, Row, Value};

use crate::fixture::{Fixture, cmp, not, present, query, set, tag, text};

use CompareOp::{Contains, EndsWith, Eq, Ge, Gt, Le, Lt, Ne, StartsWith};

/// alice: title "Engineer", displayName "Alice A"; bob: title "engineer"; carol: no title.
async fn people(f: &Fixture) -> String {
    let t = tag();
    f.user(&t, "Alice", &[(&f.title, "Engineer"), (&f.display_name, "Alice A")])
        .await;
    f.user(&t, "bob", &[(&f.title, "engineer")]).await;
    f.user(&t, "carol", &[]).await;
    t
}

pub async fn s06_1_eq_ignore_case(f: &Fixture) {
    let t = people(f).await;
    let title = &f.title;
    assert_eq!(
        f.find_users(&t, cmp(title, Eq, "ENGINEER", true)).await,
        set(&["Alice", "bob"]),
        "[{}] title eq \"ENGINEER\" ignore_case",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, cmp(&f.user_name, Eq, &format!("{}ALICE", t.to_uppercase()), true))
            .await,
        set(&["Alice"]),
        "[{}] userName eq ignore_case",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, cmp(title, Eq, "Engineers", true)).await,
        set(&[]),
        "[{}] eq is not a prefix match",
        f.kind
    );
}

pub async fn s06_1_eq_case_sensitive(f: &Fixture) {
    let t = people(f).await;
    let title = &f.title;
    assert_eq!(
        f.find_users(&t, cmp(title, Eq, "Engineer", false)).await,
        set(&["Alice"]),
        "[{}] title eq \"Engineer\" case-sensitive",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, cmp(title, Eq, "ENGINEER", false)).await,
        set(&[]),
        "[{}] title eq \"ENGINEER\" case-sensitive must not match other case",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, cmp(&f.user_name, Eq, &format!("{t}alice"), false))
            .await,
        set(&[]),
        "[{}] userName eq case-sensitive must not match \"Alice\"",
        f.kind
    );
}

pub async fn s06_1_ne_includes_absent(f: &Fixture) {
    let t = people(f).await;
    let title = &f.title;
    assert_eq!(
        f.find_users(&t, cmp(title, Ne, "Engineer", false)).await,
        set(&["bob", "carol"]),
        "[{}] title ne \"Engineer\" must include entries without a title",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, cmp(title, Ne, "engineer", true)).await,
        set(&["carol"]),
        "[{}] title ne \"engineer\" ignore_case",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, cmp(&f.display_name, Ne, "nobody", false)).await,
        set(&["Alice", "bob", "carol"]),
        "[{}] displayName ne",
        f.kind
    );
}

/// gt/ge/lt/le on text; an absent value is unknown (false).
pub async fn s06_1_ordering_ops(f: &Fixture) {
    let t = people(f).await;
    let name = |s: &str| format!("{t}{s}");
    let un = &f.user_name;
    if !f.text_ordering {
        // No ORDERING rule for the text fields (LDAP's standard schema): each ordering term
        // must be listed by `unsupported` and refused by `search`, never answered wrongly.
        for op in [Ge, Gt, Le, Lt] {
            for field in [un, &f.title] {
                let term = cmp(field, op, &name("bob"), false);
                assert!(
                    !f.connector.unsupported(f.users, &term).is_empty(),
                    "[{}] {field} {} without an ordering rule must be listed by unsupported()",
                    f.kind,
                    op.as_str()
                );
                let r = f.connector.search(f.users, &query(term)).await;
                assert!(
                    matches!(r, Err(ConnectorError::Unsupported(_))),
                    "[{}] {field} {}: search must be Unsupported, got {r:?}",
                    f.kind,
                    op.as_str()
                );
            }
        }
        return;
    }
    assert_eq!(
        f.find_users(&t, cmp(un, Ge, &name("bob"), false)).await,
        set(&["bob", "carol"]),
        "[{}] userName ge",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, cmp(un, Gt, &name("bob"), false)).await,
        set(&["carol"]),
        "[{}] userName gt",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, cmp(un, Le, &name("bob"), false)).await,
        set(&["Alice", "bob"]),
        "[{}] userName le",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, cmp(un, Lt, &name("bob"), false)).await,
        set(&["Alice"]),
        "[{}] userName lt",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, cmp(&f.title, Lt, "zzz", true)).await,
        set(&["Alice", "bob"]),
        "[{}] title lt \"zzz\" must not match an absent title",
        f.kind
    );
}

/// Display names with every wildcard of LIKE, GLOB, and LDAP filters, each next to a
/// look-alike where the wildcard is replaced by `X`.
const SPECIALS: &[&str] = &[
    "50%off", "50Xoff", "a_b", "aXb", "c\\d", "cXd", "e*f", "eXf", "g?h", "gXh", "[i]", "Xi]", "(j)", "Xj)",
];

pub async fn s06_1_co_sw_ew_literal_wildcards(f: &Fixture) {
    let t = tag();
    for (i, d) in SPECIALS.iter().enumerate() {
        f.user(&t, &format!("s{i:02}"), &[(&f.display_name, d)]).await;
    }
    let cases: &[(CompareOp, &str, &[&str])] = &[
        (Contains, "%", &["50%off"]),
        (Contains, "0%o", &["50%off"]),
        (StartsWith, "50%", &["50%off"]),
        (EndsWith, "%off", &["50%off"]),
        (Contains, "_", &["a_b"]),
        (Contains, "a_b", &["a_b"]),
        (StartsWith, "a_", &["a_b"]),
        (EndsWith, "_b", &["a_b"]),
        (Contains, "\\", &["c\\d"]),
        (StartsWith, "c\\", &["c\\d"]),
        (EndsWith, "\\d", &["c\\d"]),
        (Contains, "*", &["e*f"]),
        (Contains, "e*f", &["e*f"]),
        (StartsWith, "e*", &["e*f"]),
        (EndsWith, "*f", &["e*f"]),
        (Contains, "?", &["g?h"]),
        (EndsWith, "?h", &["g?h"]),
        (StartsWith, "[", &["[i]"]),
        (Contains, "[i]", &["[i]"]),
        (EndsWith, "i]", &["[i]", "Xi]"]),
        (StartsWith, "(", &["(j)"]),
        (Contains, "(j)", &["(j)"]),
        (EndsWith, ")", &["(j)", "Xj)"]),
        (Contains, "j)", &["(j)", "Xj)"]),
        (Contains, "X", &["50Xoff", "aXb", "cXd", "eXf", "gXh", "Xi]", "Xj)"]),
    ];
    for &(op, value, expected) in cases {
        for ignore_case in [false, true] {
            let got = find_display(f, &t, cmp(&f.display_name, op, value, ignore_case)).await;
            assert_eq!(
                got,
                set(expected),
                "[{}] displayName {} {value:?} (ignore_case {ignore_case}) must treat wildcards literally",
                f.kind,
                op.as_str()
            );
        }
    }
    // Case: a case-sensitive substring match must not fold case; an insensitive one must.
    // A backend with no case-exact substring match (LDAP filters cannot name a matching rule
    // for substrings) must list the term in `unsupported`, never fold it silently (§15).
    let cs = cmp(&f.display_name, Contains, "x", false);
    if f.case_exact_substrings {
        assert_eq!(
            find_display(f, &t, cs).await,
            set(&[]),
            "[{}] co \"x\" case-sensitive must not match \"X\"",
            f.kind
        );
    } else {
        let listed = f.connector.unsupported(f.users, &cs);
        assert!(
            !listed.is_empty(),
            "[{}] a case-sensitive co it cannot evaluate must be listed by unsupported(), not folded",
            f.kind
        );
    }
    assert_eq!(
        find_display(f, &t, cmp(&f.display_name, StartsWith, "x", true)).await,
        set(&["Xi]", "Xj)"]),
        "[{}] sw \"x\" ignore_case",
        f.kind
    );
    assert_eq!(
        find_display(f, &t, cmp(&f.display_name, EndsWith, "OFF", true)).await,
        set(&["50%off", "50Xoff"]),
        "[{}] ew \"OFF\" ignore_case",
        f.kind
    );
}

/// The display names of tagged users matching `filter`.
async fn find_display(f: &Fixture, t: &str, filter: Filter) -> std::collections::BTreeSet<String> {
    let q = query(Filter::And(vec![f.tagged(t), filter.clone()]));
    let page = f
        .connector
        .search(f.users, &q)
        .await
        .unwrap_or_else(|e| panic!("[{}] search {filter:?}: {e:?}", f.kind));
    page.records
        .iter()
        .filter_map(|r| crate::fixture::text_of(r, &f.display_name).map(str::to_owned))
        .collect()
}

pub async fn s06_1_present(f: &Fixture) {
    let t = people(f).await;
    assert_eq!(
        f.find_users(&t, present(&f.title)).await,
        set(&["Alice", "bob"]),
        "[{}] title pr",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, present(&f.display_name)).await,
        set(&["Alice"]),
        "[{}] displayName pr",
        f.kind
    );
    // An empty string counts as absent, where the backend can store one.
    let mut rec = NewRecord::default();
    rec.fields.insert(f.user_name.clone(), text(&format!("{t}empty")));
    rec.fields.insert(f.title.clone(), text(""));
    match f.connector.create(f.users, &rec).await {
        Ok(_) => {
            assert_eq!(
                f.find_users(&t, present(&f.title)).await,
                set(&["Alice", "bob"]),
                "[{}] title pr must not match an empty string",
                f.kind
            );
            assert_eq!(
                f.find_users(&t, not(present(&f.title))).await,
                set(&["carol", "empty"]),
                "[{}] not (title pr) must match an empty string",
                f.kind
            );
        }
        Err(ConnectorError::InvalidValue { .. }) => {}
        Err(e) => panic!("[{}] create with an empty title: {e:?}", f.kind),
    }
}

pub async fn s06_1_and_or_not(f: &Fixture) {
    let t = people(f).await;
    let title = &f.title;
    let eng_cs = || cmp(title, Eq, "Engineer", false);
    let eng_ic = || cmp(title, Eq, "engineer", true);
    let cases: Vec<(&str, Filter, &[&str])> = vec![
        (
            "title eq engineer (ic) and displayName pr",
            Filter::And(vec![eng_ic(), present(&f.display_name)]),
            &["Alice"],
        ),
        (
            "title eq Engineer or not (title pr)",
            Filter::Or(vec![eng_cs(), not(present(title))]),
            &["Alice", "carol"],
        ),
        ("not (title eq Engineer)", not(eng_cs()), &["bob", "carol"]),
        ("not (title eq engineer (ic))", not(eng_ic()), &["carol"]),
        ("not not (title eq Engineer)", not(not(eng_cs())), &["Alice"]),
        (
            "not (title ne Engineer)",
            not(cmp(title, Ne, "Engineer", false)),
            &["Alice"],
        ),
        ("not (title pr)", not(present(title)), &["carol"]),
        (
            "not (title eq engineer (ic) and displayName pr)",
            not(Filter::And(vec![eng_ic(), present(&f.display_name)])),
            &["bob", "carol"],
        ),
        (
            "not (title eq Engineer or displayName eq x)",
            not(Filter::Or(vec![eng_cs(), cmp(&f.display_name, Eq, "x", false)])),
            &["bob", "carol"],
        ),
        (
            "(title eq Engineer or title eq engineer) and not displayName pr",
            Filter::And(vec![
                Filter::Or(vec![eng_cs(), cmp(title, Eq, "engineer", false)]),
                not(present(&f.display_name)),
            ]),
            &["bob"],
        ),
    ];
    for (what, filter, expected) in cases {
        assert_eq!(f.find_users(&t, filter).await, set(expected), "[{}] {what}", f.kind);
    }
    // Ordering needs an ORDERING rule; a directory without one must say so, not guess.
    let lt = not(cmp(title, Lt, "zzz", true));
    if f.text_ordering {
        assert_eq!(
            f.find_users(&t, lt).await,
            set(&["carol"]),
            "[{}] not (title lt zzz)",
            f.kind
        );
    } else {
        assert!(
            !f.connector.unsupported(f.users, &lt).is_empty(),
            "[{}] not (title lt zzz)",
            f.kind
        );
    }
}

pub async fn s06_1_true_false(f: &Fixture) {
    let t = people(f).await;
    let all = set(&["Alice", "bob", "carol"]);
    assert_eq!(f.find_users(&t, Filter::True).await, all, "[{}] True", f.kind);
    assert_eq!(f.find_users(&t, Filter::False).await, set(&[]), "[{}] False", f.kind);
    assert_eq!(
        f.find_users(&t, not(Filter::False)).await,
        all,
        "[{}] not False",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, not(Filter::True)).await,
        set(&[]),
        "[{}] not True",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, Filter::Or(vec![Filter::False, Filter::True])).await,
        all,
        "[{}] False or True",
        f.kind
    );
    let caps = f.connector.capabilities(f.users).clone();
    let mut q = query(Filter::False);
    q.want_total = true;
    let page = f
        .connector
        .search(f.users, &q)
        .await
        .unwrap_or_else(|e| panic!("[{}] search False: {e:?}", f.kind));
    assert!(page.records.is_empty(), "[{}] bare False returned records", f.kind);
    if caps.total {
        assert_eq!(page.total, Some(0), "[{}] bare False total", f.kind);
    }
    let mut q = query(Filter::True);
    q.want_total = true;
    let page = f
        .connector
        .search(f.users, &q)
        .await
        .unwrap_or_else(|e| panic!("[{}] search True: {e:?}", f.kind));
    if caps.total {
        assert!(
            page.total.is_some_and(|n| n >= 3),
            "[{}] bare True total {:?}",
            f.kind,
            page.total
        );
    }
}

pub async fn s06_1_child(f: &Fixture) {
    let Some(emails) = &f.emails else {
        eprintln!("SKIPPED [{}] s06_1_child: no child table for emails", f.kind);
        return;
    };
    let t = tag();
    let row = |value: &str, kind: &str| -> Row {
        let mut r = Row::new();
        r.insert(emails.value.clone(), Value::Text(value.to_owned()));
        if let Some(k) = &emails.kind {
            r.insert(k.clone(), Value::Text(kind.to_owned()));
        }
        r
    };
    for (name, rows) in [
        (
            "a",
            vec![row("a-work@example.com", "work"), row("a-home@example.com", "home")],
        ),
        ("b", vec![row("b-work@example.com", "work")]),
        ("c", vec![]),
    ] {
        let mut rec = NewRecord::default();
        rec.fields.insert(f.user_name.clone(), text(&format!("{t}{name}")));
        rec.children.insert(emails.name.clone(), rows);
        f.connector
            .create(f.users, &rec)
            .await
            .unwrap_or_else(|e| panic!("[{}] create with emails: {e:?}", f.kind));
    }
    let child = |filter: Filter| Filter::Child {
        child: emails.name.clone(),
        filter: Box::new(filter),
    };
    let v = &emails.value;
    assert_eq!(
        f.find_users(&t, child(cmp(v, Eq, "A-HOME@example.com", true))).await,
        set(&["a"]),
        "[{}] emails[value eq (ic)]",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, child(cmp(v, Eq, "A-HOME@example.com", false))).await,
        set(&[]),
        "[{}] emails[value eq (cs)] with another case",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, child(cmp(v, EndsWith, "@example.com", false))).await,
        set(&["a", "b"]),
        "[{}] emails[value ew]",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, child(Filter::True)).await,
        set(&["a", "b"]),
        "[{}] emails[True]: some row exists",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, not(child(cmp(v, Contains, "work", false)))).await,
        set(&["c"]),
        "[{}] not emails[value co work]",
        f.kind
    );
    if let Some(k) = &emails.kind {
        assert_eq!(
            f.find_users(
                &t,
                child(Filter::And(vec![
                    cmp(k, Eq, "work", false),
                    cmp(v, Eq, "a-home@example.com", false)
                ]))
            )
            .await,
            set(&[]),
            "[{}] emails[type eq work and value eq a-home]: the terms must hold on one row",
            f.kind
        );
        assert_eq!(
            f.find_users(
                &t,
                child(Filter::And(vec![
                    cmp(k, Eq, "home", false),
                    cmp(v, Eq, "a-home@example.com", false)
                ]))
            )
            .await,
            set(&["a"]),
            "[{}] emails[type eq home and value eq a-home]",
            f.kind
        );
    }
}

pub async fn s06_1_related(f: &Fixture) {
    let t = tag();
    let u1 = f.user(&t, "u1", &[]).await;
    let u2 = f.user(&t, "u2", &[]).await;
    f.user(&t, "u3", &[]).await;
    f.group(&t, "g1", &[&u1.id, &u2.id]).await;
    let g2 = f.group(&t, "g2", &[&u2.id]).await;
    f.group(&t, "g3", &[]).await;
    let members = |ids: Option<&[&str]>| Filter::Related {
        relation: f.members.clone(),
        ids: ids.map(|v| v.iter().map(|s| s.to_string()).collect()),
    };
    let cases: Vec<(&str, Filter, &[&str])> = vec![
        ("members u1", members(Some(&[&u1.id])), &["g1"]),
        ("members u2", members(Some(&[&u2.id])), &["g1", "g2"]),
        ("members u1 or u2", members(Some(&[&u1.id, &u2.id])), &["g1", "g2"]),
        ("members any", members(None), &["g1", "g2"]),
        ("members of []", members(Some(&[])), &[]),
        ("members unknown id", members(Some(&["no-such-user"])), &[]),
        ("members impossible id", members(Some(&["x'; --"])), &[]),
        ("not members any", not(members(None)), &["g3"]),
        ("not members u1", not(members(Some(&[&u1.id]))), &["g2", "g3"]),
    ];
    for (what, filter, expected) in cases {
        assert_eq!(
            f.find_groups(&t, filter).await,
            set(expected),
            "[{}] groups: {what}",
            f.kind
        );
    }
    let groups = |ids: Option<&[&str]>| Filter::Related {
        relation: f.user_groups.clone(),
        ids: ids.map(|v| v.iter().map(|s| s.to_string()).collect()),
    };
    assert_eq!(
        f.find_users(&t, groups(Some(&[&g2.id]))).await,
        set(&["u2"]),
        "[{}] users in g2",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, groups(None)).await,
        set(&["u1", "u2"]),
        "[{}] users in any group",
        f.kind
    );
    assert_eq!(
        f.find_users(&t, not(groups(None))).await,
        set(&["u3"]),
        "[{}] users in no group",
        f.kind
    );
}

/// §6.1: `Created` / `Modified` address the timestamp fields; sorting on them and on the id works.
pub async fn s06_1_timestamps(f: &Fixture) {
    use scimgate::connector::{FieldRef, SortKey};
    let t = tag();
    let a = f.user(&t, "a", &[]).await;
    f.user(&t, "b", &[]).await;
    let stamp = |field: FieldRef, op: CompareOp, value: Value| Filter::Compare {
        field,
        op,
        value,
        ignore_case: false,
    };
    for field in [FieldRef::Created, FieldRef::Modified] {
        assert_eq!(
            f.find_users(&t, Filter::Present(field.clone())).await,
            set(&["a", "b"]),
            "[{}] {field} pr",
            f.kind
        );
        let value = if field == FieldRef::Created {
            &a.meta.created
        } else {
            &a.meta.modified
        };
        let value = value.clone().expect("timestamp");
        for op in [Le, Ge, Eq] {
            let got = f.find_users(&t, stamp(field.clone(), op, value.clone())).await;
            assert!(
                got.contains("a"),
                "[{}] {field} {} {value} must match a, got {got:?}",
                f.kind,
                op.as_str()
            );
        }
        assert!(
            !f.find_users(&t, stamp(field.clone(), Ne, value.clone()))
                .await
                .contains("a"),
            "[{}] {field} ne its own value matched",
            f.kind
        );
    }
    let unsorted: Vec<String> = {
        let page = f.connector.search(f.users, &query(f.tagged(&t))).await.expect("search");
        page.records.into_iter().map(|r| r.id).collect()
    };
    for field in [FieldRef::Id, FieldRef::Created, FieldRef::Modified] {
        let mut q = query(f.tagged(&t));
        q.sort = Some(SortKey {
            field: field.clone(),
            descending: false,
            ignore_case: false,
        });
        let page = f
            .connector
            .search(f.users, &q)
            .await
            .unwrap_or_else(|e| panic!("[{}] sort by {field}: {e:?}", f.kind));
        assert_eq!(page.records.len(), 2, "[{}] sort by {field}", f.kind);
        if field == FieldRef::Id {
            let ids: Vec<String> = page.records.into_iter().map(|r| r.id).collect();
            assert_eq!(
                ids, unsorted,
                "[{}] sort by id must equal the unsorted (id) order",
                f.kind
            );
        }
    }
}
