//! What a case knows about a backend, and helpers shared by the cases.

use std::any::Any;
use std::collections::BTreeSet;
use std::sync::Arc;

use scimgate::connector::{
    Capabilities, CompareOp, Connector, ConnectorError, EntityId, FieldRef, Filter, NewRecord, PageRequest, Query,
    ReadSet, Record, Value,
};

/// A child table that holds `emails`, by its backend names.
#[derive(Debug, Clone)]
pub struct ChildInfo {
    /// The name the connector knows it by (`ReadSet`, `Filter::Child`, `ChangeSet`).
    pub name: String,
    /// The owner key column, which read rows must not contain.
    pub key: String,
    /// The column holding `value`.
    pub value: String,
    /// The column holding `type`, if mapped.
    pub kind: Option<String>,
}

/// A user scope: users whose `field` holds `outside` are outside the mapping's scope.
#[derive(Debug, Clone)]
pub struct ScopeInfo {
    pub field: String,
    pub outside: String,
}

/// One backend under test, with the backend names the cases use.
pub struct Fixture {
    pub kind: &'static str,
    pub connector: Arc<dyn Connector>,
    pub users: EntityId,
    pub groups: EntityId,
    /// User fields: where `userName`, `displayName` and `title` live.
    pub user_name: String,
    pub display_name: String,
    pub title: String,
    /// The group field `displayName` maps to.
    pub group_name: String,
    /// The child table of `emails`, when the backend stores them as rows.
    pub emails: Option<ChildInfo>,
    /// Relation names: `members` on Group, `groups` on User.
    pub members: String,
    pub user_groups: String,
    /// The user name index folds case (the quickstart's `lower(user_name)` index).
    pub case_insensitive_unique: bool,
    /// User fields the connector maintains (key, version, timestamps): writes must refuse them.
    pub managed_user_fields: Vec<String>,
    /// The user entity's scope, when the fixture's mapping has one.
    pub scope: Option<ScopeInfo>,
    /// The backend can match substrings (`co`/`sw`/`ew`) case-sensitively. LDAP cannot
    /// (a substring filter cannot name a matching rule): it must report such terms in
    /// `unsupported` instead.
    pub case_exact_substrings: bool,
    /// `gt`/`ge`/`lt`/`le` work on the text fields. LDAP attributes such as `uid` and `title`
    /// have no ORDERING rule in the standard schema: such terms must be `unsupported` instead.
    pub text_ordering: bool,
    /// Fields hold one value (SQL columns); LDAP attributes may hold many.
    pub single_valued_fields: bool,
    /// The capabilities this fixture's configuration must report, when known.
    pub expected_capabilities: Option<Capabilities>,
    /// Keeps temporary files alive for the fixture's lifetime.
    pub _keep: Box<dyn Any + Send + Sync>,
}

/// A prefix unique to one case run: every entry a case makes starts with it.
pub fn tag() -> String {
    format!("ct{}-", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

pub fn text(s: &str) -> Vec<Value> {
    vec![Value::Text(s.to_owned())]
}

pub fn cmp(field: &str, op: CompareOp, value: &str, ignore_case: bool) -> Filter {
    Filter::Compare {
        field: FieldRef::Field(field.to_owned()),
        op,
        value: Value::Text(value.to_owned()),
        ignore_case,
    }
}

pub fn present(field: &str) -> Filter {
    Filter::Present(FieldRef::Field(field.to_owned()))
}

pub fn not(f: Filter) -> Filter {
    Filter::Not(Box::new(f))
}

pub fn query(filter: Filter) -> Query {
    Query {
        filter,
        sort: None,
        page: PageRequest::Offset { offset: 0, count: 1000 },
        read: ReadSet::default(),
        want_total: false,
    }
}

pub fn read_children(names: &[&str]) -> ReadSet {
    ReadSet {
        children: names.iter().map(|s| s.to_string()).collect(),
        relations: BTreeSet::new(),
    }
}

pub fn read_relations(names: &[&str]) -> ReadSet {
    ReadSet {
        children: BTreeSet::new(),
        relations: names.iter().map(|s| s.to_string()).collect(),
    }
}

/// The first text value of a field, `None` when the field is absent.
pub fn text_of<'a>(r: &'a Record, field: &str) -> Option<&'a str> {
    r.fields.get(field).and_then(|v| v.first()).and_then(Value::as_text)
}

pub fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

impl Fixture {
    /// Creates a user named `tag + name` with extra text fields `(field, value)`.
    pub async fn user(&self, tag: &str, name: &str, extra: &[(&str, &str)]) -> Record {
        let mut rec = NewRecord::default();
        rec.fields.insert(self.user_name.clone(), text(&format!("{tag}{name}")));
        for (field, value) in extra {
            rec.fields.insert((*field).to_owned(), text(value));
        }
        self.connector
            .create(self.users, &rec)
            .await
            .unwrap_or_else(|e| panic!("[{}] create user {tag}{name}: {e:?}", self.kind))
    }

    /// Creates a group named `tag + name` with the given member ids.
    pub async fn group(&self, tag: &str, name: &str, members: &[&str]) -> Record {
        let mut rec = NewRecord::default();
        rec.fields
            .insert(self.group_name.clone(), text(&format!("{tag}{name}")));
        if !members.is_empty() {
            rec.relations
                .insert(self.members.clone(), members.iter().map(|s| s.to_string()).collect());
        }
        self.connector
            .create(self.groups, &rec)
            .await
            .unwrap_or_else(|e| panic!("[{}] create group {tag}{name}: {e:?}", self.kind))
    }

    /// Users whose name starts with `tag` (case-sensitively).
    pub fn tagged(&self, tag: &str) -> Filter {
        cmp(&self.user_name, CompareOp::StartsWith, tag, false)
    }

    pub fn group_tagged(&self, tag: &str) -> Filter {
        cmp(&self.group_name, CompareOp::StartsWith, tag, false)
    }

    /// Runs a user search restricted to `tag` and returns the matching names without the tag.
    pub async fn find_users(&self, tag: &str, filter: Filter) -> BTreeSet<String> {
        let q = query(Filter::And(vec![self.tagged(tag), filter.clone()]));
        let page = self
            .connector
            .search(self.users, &q)
            .await
            .unwrap_or_else(|e| panic!("[{}] search users {filter:?}: {e:?}", self.kind));
        self.names(tag, &page.records, &self.user_name)
    }

    pub async fn find_groups(&self, tag: &str, filter: Filter) -> BTreeSet<String> {
        let q = query(Filter::And(vec![self.group_tagged(tag), filter.clone()]));
        let page = self
            .connector
            .search(self.groups, &q)
            .await
            .unwrap_or_else(|e| panic!("[{}] search groups {filter:?}: {e:?}", self.kind));
        self.names(tag, &page.records, &self.group_name)
    }

    fn names(&self, tag: &str, records: &[Record], field: &str) -> BTreeSet<String> {
        records
            .iter()
            .map(|r| {
                let name = text_of(r, field).unwrap_or_else(|| panic!("[{}] record without {field}: {r:?}", self.kind));
                name.strip_prefix(tag).unwrap_or(name).to_owned()
            })
            .collect()
    }

    pub async fn get(&self, entity: EntityId, id: &str, read: &ReadSet) -> Option<Record> {
        self.connector
            .get(entity, id, read)
            .await
            .unwrap_or_else(|e| panic!("[{}] get {id:?}: {e:?}", self.kind))
    }

    /// Reads an entry that must exist.
    pub async fn must_get(&self, entity: EntityId, id: &str, read: &ReadSet) -> Record {
        self.get(entity, id, read)
            .await
            .unwrap_or_else(|| panic!("[{}] entry {id:?} should exist", self.kind))
    }

    /// The linked ids of one relation of an entry, sorted.
    pub async fn linked(&self, entity: EntityId, id: &str, relation: &str) -> Vec<String> {
        let r = self.must_get(entity, id, &read_relations(&[relation])).await;
        let mut ids = r
            .relations
            .get(relation)
            .unwrap_or_else(|| panic!("[{}] requested relation {relation} missing from {r:?}", self.kind))
            .clone();
        ids.sort();
        ids
    }

    pub async fn modify(
        &self,
        entity: EntityId,
        id: &str,
        changes: &scimgate::connector::ChangeSet,
        expected_version: Option<&str>,
    ) -> Result<(), ConnectorError> {
        self.connector.modify(entity, id, changes, expected_version).await
    }

    /// The number of users whose name starts with `tag`, counted by the backend.
    pub async fn count_users(&self, tag: &str) -> u64 {
        let mut q = query(self.tagged(tag));
        q.want_total = true;
        let page = self
            .connector
            .search(self.users, &q)
            .await
            .unwrap_or_else(|e| panic!("[{}] count: {e:?}", self.kind));
        page.total.unwrap_or(page.records.len() as u64)
    }
}

/// Sorted ids, for comparing link lists.
pub fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}
