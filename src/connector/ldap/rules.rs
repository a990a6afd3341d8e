//! The mapping's error rules applied to directory results.
//!
//! Every failed result code reaches one of two places: [`LdapConnector::settle`] (a write)
//! or [`LdapConnector::settle_search`] (a search page). They describe the failure as a
//! neutral [`Fault`](crate::connector::faults::Fault), ask the entity's rules, and fall back
//! to [`errors::from_code`].
//!
//! The entity whose rules apply is the one the connector call serves. It is held in a
//! task-local [`Call`] set by the trait methods, because the operation helpers (`write`,
//! `page`, `search_all`) are shared by every create, modify, delete and read path: passing
//! the entity through all of them would touch each of their callers for one lookup.

use std::cell::Cell;
use std::future::Future;

use ldap3::Ldap;

use super::entity::Entity;
use super::ops::{ModKind, Op, RawEntry, Search};
use super::{LdapConnector, errors};
use crate::connector::faults::{self, OpKind, Verdict};
use crate::connector::{ConnectorError, EntityId};

/// The connector call an operation belongs to.
pub(super) struct Call {
    entity: EntityId,
    /// The trait method: decides whether a search is a `get` or a `search`.
    kind: OpKind,
    /// Retries spent in this call: a rule's `retry` is bounded per call, so one request
    /// waits at most the three back-offs.
    retries: Cell<u32>,
}

tokio::task_local! {
    static CALL: Call;
}

/// The role of a write, from its operation: a modify that only adds or deletes values of a
/// membership attribute is `add_member` (if it adds a real member) or `remove_member`.
pub(super) fn op_kind(e: &Entity, op: &Op) -> OpKind {
    match op {
        Op::Add { .. } => OpKind::Create,
        Op::Delete { .. } => OpKind::Delete,
        Op::ModifyDn { .. } | Op::PasswordModify { .. } => OpKind::Update,
        Op::Search(_) | Op::Compare { .. } => OpKind::Get,
        Op::Modify { mods, .. } => {
            let relation = |attr: &str| {
                e.spec
                    .relations
                    .iter()
                    .find(|r| r.attribute.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(attr)))
            };
            let mut adds = false;
            for m in mods {
                let Some(rel) = relation(&m.attr).filter(|_| m.kind != ModKind::Replace) else {
                    return OpKind::Update;
                };
                let placeholder = |v: &[u8]| rel.empty.as_deref().is_some_and(|p| p.as_bytes() == v);
                adds |= m.kind == ModKind::Add && m.values.iter().any(|v| !placeholder(v.bytes()));
            }
            if adds { OpKind::AddMember } else { OpKind::RemoveMember }
        }
    }
}

impl LdapConnector {
    /// Runs a connector call with `entity`'s rules in reach of every operation it sends.
    pub(super) async fn under_rules<T>(&self, entity: EntityId, kind: OpKind, call: impl Future<Output = T>) -> T {
        let call_state = Call {
            entity,
            kind,
            retries: Cell::new(0),
        };
        CALL.scope(call_state, call).await
    }

    /// What the rules make of a failed `op`; `Default` outside a connector call.
    fn verdict(&self, kind: impl FnOnce(&Entity, OpKind) -> OpKind, rc: u32, text: &str) -> Verdict {
        let Ok((entity, call)) = CALL.try_with(|c| (c.entity, c.kind)) else {
            return Verdict::Default;
        };
        let Ok(e) = self.entity(entity) else {
            return Verdict::Default;
        };
        if e.spec.errors.is_empty() {
            return Verdict::Default;
        }
        e.spec.errors.verdict(&faults::ldap::fault(kind(e, call), rc, text))
    }

    /// Waits before a retry, or says the retries of this call are used up.
    async fn before_retry(&self, detail: &str) -> Result<(), ConnectorError> {
        let done = CALL.try_with(|c| c.retries.get()).unwrap_or(faults::RETRIES);
        let wait = faults::retry_delay(done).ok_or_else(|| faults::retries_exhausted(detail))?;
        let _ = CALL.try_with(|c| c.retries.set(done + 1));
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// A write that failed with `rc`: a matching rule decides (done, again, or an answer),
    /// otherwise the default mapping.
    pub(super) async fn settle(&self, ldap: &mut Ldap, op: &Op, rc: u32, text: &str) -> Result<(), ConnectorError> {
        match self.verdict(|e, _| op_kind(e, op), rc, text) {
            Verdict::Default => Err(errors::from_code(rc, text)),
            Verdict::Ok => Ok(()),
            Verdict::Respond(e) => Err(e),
            Verdict::Retry(detail) => {
                self.before_retry(&detail).await?;
                Box::pin(self.write(ldap, op)).await
            }
        }
    }

    /// A search page that failed with `rc`. Searches in a `search` call are `search`, all
    /// others (by id, pre-reads of writes, id resolution) are `get`.
    pub(super) async fn settle_search(
        &self,
        ldap: &mut Ldap,
        search: &Search,
        size: Option<i32>,
        cookie: &[u8],
        rc: u32,
        text: &str,
    ) -> Result<(Vec<RawEntry>, Vec<u8>), ConnectorError> {
        let kind = |_: &Entity, call: OpKind| {
            if call == OpKind::Search {
                OpKind::Search
            } else {
                OpKind::Get
            }
        };
        match self.verdict(kind, rc, text) {
            // `check` refuses "ok" for reads; a read that failed has no entries to return.
            Verdict::Default | Verdict::Ok => Err(errors::from_code(rc, text)),
            Verdict::Respond(e) => Err(e),
            Verdict::Retry(detail) => {
                self.before_retry(&detail).await?;
                Box::pin(self.page(ldap, search, size, cookie)).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::ldap::config::LdapEntityConfig;
    use crate::connector::ldap::ops::{AttrValue, Modification};
    use crate::connector::{EntitySpec, RelationSpec};

    const PLACEHOLDER: &str = "cn=empty,dc=example,dc=org";

    fn groups() -> Entity {
        let spec = EntitySpec {
            name: "Group".into(),
            fields: vec!["cn".into(), "description".into()],
            relations: vec![RelationSpec {
                name: "members".into(),
                targets: vec![EntityId(0)],
                attribute: Some("member".into()),
                table: None,
                key: None,
                value: None,
                set: Default::default(),
                empty: Some(PLACEHOLDER.into()),
            }],
            ..Default::default()
        };
        let cfg: LdapEntityConfig = toml::from_str(
            r#"
            base = "ou=groups,dc=example,dc=org"
            create_classes = ["groupOfNames"]
            rdn = "cn"
            id = "entryUUID"
            "#,
        )
        .expect("config");
        Entity::resolve(spec, cfg, 1).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn modify(mods: Vec<Modification>) -> Op {
        Op::Modify {
            dn: "cn=g,ou=groups,dc=example,dc=org".into(),
            mods,
            controls: Vec::new(),
        }
    }

    fn member(kind: ModKind, dn: &str) -> Modification {
        Modification::new(kind, "Member", vec![AttrValue::text(dn)])
    }

    #[test]
    fn writes_take_their_role_from_the_operation() {
        let e = groups();
        let alice = "uid=alice,ou=people,dc=example,dc=org";
        assert_eq!(
            op_kind(&e, &modify(vec![member(ModKind::Add, alice)])),
            OpKind::AddMember
        );
        assert_eq!(
            op_kind(
                &e,
                &modify(vec![member(ModKind::Add, alice), member(ModKind::Delete, PLACEHOLDER)])
            ),
            OpKind::AddMember
        );
        assert_eq!(
            op_kind(&e, &modify(vec![member(ModKind::Delete, alice)])),
            OpKind::RemoveMember
        );
        // The placeholder that keeps an emptied group valid is no member being added.
        assert_eq!(
            op_kind(
                &e,
                &modify(vec![member(ModKind::Delete, alice), member(ModKind::Add, PLACEHOLDER)])
            ),
            OpKind::RemoveMember
        );
        assert_eq!(
            op_kind(&e, &modify(vec![member(ModKind::Replace, alice)])),
            OpKind::Update
        );
        let description = Modification::new(ModKind::Replace, "description", vec![AttrValue::text("x")]);
        assert_eq!(
            op_kind(&e, &modify(vec![member(ModKind::Add, alice), description])),
            OpKind::Update
        );
        let dn = "cn=g,ou=groups,dc=example,dc=org".to_owned();
        assert_eq!(
            op_kind(
                &e,
                &Op::Add {
                    dn: dn.clone(),
                    attrs: Vec::new()
                }
            ),
            OpKind::Create
        );
        assert_eq!(
            op_kind(
                &e,
                &Op::Delete {
                    dn: dn.clone(),
                    controls: Vec::new()
                }
            ),
            OpKind::Delete
        );
        assert_eq!(
            op_kind(
                &e,
                &Op::PasswordModify {
                    dn,
                    password: "secret".into()
                }
            ),
            OpKind::Update
        );
    }
}
