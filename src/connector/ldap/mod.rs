//! The LDAP connector (OpenLDAP, Active Directory) on `ldap3`.
//!
//! * **Identity.** A record's id is the entry's immutable key: `entryUUID` text, or AD's
//!   binary `objectGUID` shown as the GUID string AD shows ([`ad`]). A GET by id is one
//!   indexed search `(&<scope>(<id>=<escaped id>))` under `base`; an id that cannot be a
//!   key never reaches the directory.
//! * **Names.** DN = `<rdn>=<escaped value>,<parent>` ([`dn`]). A change of the rdn field
//!   is a ModifyDN (new RDN, old value deleted) before the modify; the id stays.
//! * **Filters** render to RFC 4515 ([`filter`]), always ANDed with the scope. Ids in
//!   `Related` terms and reference comparisons become DNs by one batched search first.
//! * **Paging** uses Simple Paged Results when the rootDSE offers it; offset paging uses
//!   Virtual List View where offered ([`vlv`]), otherwise skips entries (O(offset)); cursor
//!   paging parks the paged search ([`cursor`]). Without the paged results control, a search
//!   that hits the server's size limit is an error, never a short answer. Totals count with
//!   a paged `1.1` search (or are VLV's content count). Sorting needs the server-side sort
//!   control; without it `Capabilities.sort` is false. With no sort key, offset pages come
//!   by id where VLV serves them, cursor pages in the server's order (stable for an
//!   unchanged directory, not by id).
//! * **Reads** ask only for the entity's fields, id, version, timestamps and the relation
//!   attributes of the `ReadSet`; AD range retrieval (`member;range=0-1499`) is followed.
//!   DNs of relations and references become ids by batched searches (≤ 100 DNs each, per
//!   target entity: `entryDN` on OpenLDAP, `distinguishedName` on AD); a DN whose entry is
//!   gone is omitted and logged at warn. The placeholder member is never reported.
//! * **Writes** are minimal: one `replace` per changed field (no values = delete), member
//!   DNs added and deleted in one modify whatever the group's size, flags read-modify-
//!   written on their attribute only. Idempotent membership uses the Permissive Modify
//!   control when offered; otherwise a modify that fails with 20/16 is retried one value per
//!   operation. The placeholder member is added when a removal empties a group (the server
//!   says so with 65 objectClassViolation) and deleted when a real member arrives.
//! * **Versions.** With the Assertion control (RFC 4528) `expected_version` is checked by the
//!   server at write time (122 → `VersionMismatch`). Without it, the version is read just
//!   before the write and compared: a concurrent write in between is not detected
//!   (`native_version_check = false` says so).
//! * **No transactions.** A create whose follow-up fails (password exop, scope read-back) is
//!   undone by deleting the entry; a modify whose attribute change fails after a rename is
//!   renamed back. Deleting an entry leaves other entries' references to the directory
//!   (AD cleans up; OpenLDAP needs the `refint` overlay); dangling DNs are omitted on read.
//! * Every operation is bounded by `operation_timeout_ms` as a whole → `Timeout`.

pub mod ad;
pub mod config;
pub mod cursor;
pub mod dn;
pub mod entity;
pub mod errors;
pub mod filter;
pub mod ops;
pub mod placement;
pub mod pool;
mod rules;
pub mod schema;
#[cfg(test)]
mod tests;
pub mod values;
pub mod vlv;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ldap3::{Ldap, Scope};

use config::{LdapConnectorConfig, LdapEntityConfig, PasswordWrite};
use cursor::{Cursor, Session, Sessions};
use entity::Entity;
use ops::{AttrValue, Control, ModKind, Modification, Op, RawEntry, Search, SortKey, oid};
use pool::{Pool, RootDse};

use super::faults::OpKind;
use super::{
    Capabilities, ChangeSet, Connector, ConnectorError, EntityId, EntitySpec, FieldRef, Fields, NewRecord, Operation,
    PageRequest, Query, ReadSet, Record, SearchPage, Unsupported, Value,
};

/// Ids or DNs per resolution search.
const BATCH: usize = 100;

static NO_CAPABILITIES: Capabilities = Capabilities {
    sort: false,
    offset_paging: false,
    cursor_paging: false,
    total: false,
    transactions: false,
    native_version_check: false,
};

/// A connector serving every entity of one `[connectors.NAME.ldap]` table over one pool.
pub struct LdapConnector {
    entities: Vec<Entity>,
    capabilities: Vec<Capabilities>,
    /// `None` when built offline.
    pool: Option<Pool>,
    root: RootDse,
    op_timeout: Duration,
    page_size: i32,
    /// The connection is encrypted (`ldaps://` or StartTLS).
    tls: bool,
    allow_plaintext_passwords: bool,
    sessions: Sessions,
    /// Matching rules from the subschema (not on AD, not offline).
    schema: Option<schema::Schema>,
    /// Every operation sent, for tests that count them.
    #[cfg(test)]
    log: std::sync::Mutex<Vec<String>>,
}

/// Checks a connector configuration and its entities without any I/O. Returns every
/// problem found, empty when the configuration is usable.
pub fn validate(config: &LdapConnectorConfig, entities: &[(EntitySpec, LdapEntityConfig)]) -> Vec<String> {
    match resolve(config, entities.to_vec()) {
        Ok(_) => Vec::new(),
        Err(e) => e,
    }
}

fn resolve(
    config: &LdapConnectorConfig,
    entities: Vec<(EntitySpec, LdapEntityConfig)>,
) -> Result<Vec<Entity>, Vec<String>> {
    let mut errors = Vec::new();
    let scheme = config.url.split("://").next().unwrap_or_default().to_ascii_lowercase();
    match scheme.as_str() {
        "ldap" => {}
        "ldaps" if config.starttls => errors.push("`starttls` cannot be used with an ldaps:// URL".to_owned()),
        "ldaps" => {}
        _ => errors.push("`url` must be ldap://host[:port] or ldaps://host[:port]".to_owned()),
    }
    if config.pool_size == 0 {
        errors.push("`pool_size` must be at least 1".to_owned());
    }
    if config.connect_timeout_ms == 0 || config.operation_timeout_ms == 0 {
        errors.push("`connect_timeout_ms` and `operation_timeout_ms` must be positive".to_owned());
    }
    if config.page_size <= 0 {
        errors.push("`page_size` must be positive".to_owned());
    }
    let count = entities.len();
    let mut out = Vec::with_capacity(count);
    for (spec, cfg) in entities {
        match Entity::resolve(spec, cfg, count) {
            Ok(e) => out.push(e),
            Err(mut es) => errors.append(&mut es),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

fn connector(
    config: &LdapConnectorConfig,
    entities: Vec<(EntitySpec, LdapEntityConfig)>,
    root: RootDse,
) -> Result<LdapConnector, ConnectorError> {
    let entities = resolve(config, entities).map_err(|e| ConnectorError::InvalidValue {
        field: None,
        detail: e.join("; "),
    })?;
    let paged = root.control(oid::PAGED_RESULTS);
    let capabilities = entities
        .iter()
        .map(|e| Capabilities {
            sort: root.control(oid::SORT),
            offset_paging: true,
            cursor_paging: paged,
            total: true,
            transactions: false,
            native_version_check: root.control(oid::ASSERTION) && e.cfg.version.is_some(),
        })
        .collect();
    let tls = config.starttls || config.url.to_ascii_lowercase().starts_with("ldaps://");
    Ok(LdapConnector {
        entities,
        capabilities,
        pool: None,
        root,
        op_timeout: Duration::from_millis(config.operation_timeout_ms),
        page_size: config.page_size,
        tls,
        allow_plaintext_passwords: config.allow_plaintext_passwords,
        sessions: Sessions::default(),
        schema: None,
        #[cfg(test)]
        log: std::sync::Mutex::new(Vec::new()),
    })
}

/// Builds a connector without touching the directory (dry runs). It assumes a server that
/// offers paged results and nothing else; every operation that needs the directory fails
/// with `Unavailable`.
pub fn build_offline(
    config: &LdapConnectorConfig,
    entities: Vec<(EntitySpec, LdapEntityConfig)>,
) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(connector(config, entities, RootDse::assumed())?))
}

/// Builds a connector: validates, connects and binds one pooled connection, and reads the
/// rootDSE once (controls, extensions, vendor) to decide the capabilities.
pub async fn build(
    config: &LdapConnectorConfig,
    entities: Vec<(EntitySpec, LdapEntityConfig)>,
) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(build_connector(config, entities).await?))
}

pub(crate) async fn build_connector(
    config: &LdapConnectorConfig,
    entities: Vec<(EntitySpec, LdapEntityConfig)>,
) -> Result<LdapConnector, ConnectorError> {
    resolve(config, entities.clone()).map_err(|e| ConnectorError::InvalidValue {
        field: None,
        detail: e.join("; "),
    })?;
    let pool = pool::build_pool(config)?;
    let timeout = Duration::from_millis(config.operation_timeout_ms);
    let root = {
        let mut conn = pool.get().await.map_err(pool::pool_error)?;
        pool::read_root_dse(&mut conn, timeout).await?
    };
    tracing::info!(
        target: "scimgate::connector::ldap",
        vendor = root.vendor.as_deref().unwrap_or("unknown"),
        active_directory = root.active_directory,
        paged = root.control(oid::PAGED_RESULTS),
        sort = root.control(oid::SORT),
        assertion = root.control(oid::ASSERTION),
        permissive_modify = root.control(oid::PERMISSIVE_MODIFY),
        virtual_list_view = root.virtual_list_view(),
        "directory capabilities"
    );
    let mut c = connector(config, entities, root)?;
    c.pool = Some(pool);
    if !c.root.active_directory {
        c.schema = c.read_schema().await;
    }
    Ok(c)
}

/// Where an entry is and what the pre-read of a write found.
struct Current {
    dn: String,
    version: Option<String>,
    entry: RawEntry,
    /// Relations whose placeholder member the entry holds, when checked (no Permissive
    /// Modify control); `None`: not known, delete it permissively.
    placeholders: Option<BTreeSet<String>>,
}

/// Paged-search state: the cookie, whether the server has no more, entries read ahead.
#[derive(Default)]
struct Paging {
    cookie: Vec<u8>,
    done: bool,
    buffer: VecDeque<RawEntry>,
}

/// A relation's or reference's name, its target entities and the DNs read.
type Linked = (String, Vec<EntityId>, Vec<String>);

/// Where a password goes: an attribute with its values, and/or the text for the exop.
type PasswordPlan = (Option<(String, Vec<AttrValue>)>, Option<String>);

/// A relation's or reference's DNs of one record, waiting for their ids.
struct Pending {
    record: Record,
    relations: Vec<Linked>,
    references: Vec<Linked>,
}

/// An id or DN map: id → DN (writes, filters) per resolution.
type DnMap = HashMap<String, String>;

fn offline() -> ConnectorError {
    ConnectorError::Unavailable("the connector was built offline, for dry runs".into())
}

fn text_of(value: &Value) -> String {
    match value {
        Value::Text(s) => s.clone(),
        other => String::from_utf8_lossy(&values::to_bytes(other)).into_owned(),
    }
}

/// The first value of a field as text, the field name matched case-insensitively.
fn first_text_of(fields: &Fields, field: &str) -> Option<String> {
    fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(field))
        .and_then(|(_, v)| v.first())
        .map(text_of)
}

fn dedup(ids: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    ids.iter().filter(|i| seen.insert(i.as_str())).cloned().collect()
}

impl LdapConnector {
    fn entity(&self, id: EntityId) -> Result<&Entity, ConnectorError> {
        self.entities
            .get(id.0)
            .ok_or_else(|| ConnectorError::Unsupported(format!("unknown entity #{}", id.0)))
    }

    /// The trait methods pass their operation boxed: the futures of the read and write paths
    /// are large, and each wrapper (rules, timeout, async-trait's box) would otherwise copy
    /// them (memcpy was 7% of a filter request's CPU).
    async fn timed<T>(&self, op: impl Future<Output = Result<T, ConnectorError>>) -> Result<T, ConnectorError> {
        tokio::time::timeout(self.op_timeout, op)
            .await
            .unwrap_or(Err(ConnectorError::Timeout(self.op_timeout)))
    }

    async fn conn(&self) -> Result<pool::Conn, ConnectorError> {
        self.pool
            .as_ref()
            .ok_or_else(offline)?
            .get()
            .await
            .map_err(pool::pool_error)
    }

    /// Rendered only when someone listens: a search's text costs allocations on every request.
    fn trace(&self, op: &dyn std::fmt::Display) {
        if tracing::enabled!(target: "scimgate::connector::ldap", tracing::Level::DEBUG) {
            // Values are personal data: operations are logged by their first line (the DN or
            // the search), never with values.
            let text = op.to_string();
            let head = text.lines().next().unwrap_or_default();
            tracing::debug!(target: "scimgate::connector::ldap", op = head, "operation");
        }
        #[cfg(test)]
        if let Ok(mut log) = self.log.lock() {
            log.push(op.to_string());
        }
    }

    /// Sends a write; connection failures become errors, result codes are the caller's.
    async fn send(&self, ldap: &mut Ldap, op: &Op) -> Result<ldap3::LdapResult, ConnectorError> {
        self.trace(op);
        ops::send(ldap, op)
            .await
            .map_err(|e| errors::from_ldap(e, self.op_timeout))
    }

    /// Sends a write that must succeed.
    async fn write(&self, ldap: &mut Ldap, op: &Op) -> Result<(), ConnectorError> {
        let r = self.send(ldap, op).await?;
        if r.rc == 0 {
            Ok(())
        } else {
            self.settle(ldap, op, r.rc, &r.text).await
        }
    }

    /// The matching rules of the subschema; `None` when it cannot be read (then comparisons
    /// are sent as they are, and case-sensitive ones are listed as supersets).
    async fn read_schema(&self) -> Option<schema::Schema> {
        let base = self.root.subschema.clone().unwrap_or_else(|| "cn=Subschema".to_owned());
        let mut s = self.search_of(
            &base,
            Scope::Base,
            "(objectClass=subschema)".to_owned(),
            vec!["attributeTypes".to_owned()],
        );
        s.page_size = None;
        let read = async {
            let mut conn = self.conn().await?;
            self.search_all(&mut conn, &s).await
        };
        match self.timed(read).await {
            Ok(entries) => {
                let defs: Vec<String> = entries
                    .iter()
                    .flat_map(|e| e.get("attributeTypes").cloned().unwrap_or_default())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .collect();
                (!defs.is_empty()).then(|| schema::parse(defs.iter().map(String::as_str)))
            }
            Err(e) => {
                tracing::warn!(target: "scimgate::connector::ldap", error = %e, "cannot read the schema");
                None
            }
        }
    }

    // ----- searches -------------------------------------------------------------------

    /// One page of a search. `size` is the paged results size (`None`: no control).
    /// Returns the entries and the next cookie (empty: no more). A missing base (32) is an
    /// empty result; a size or time limit is an error, never a short answer.
    async fn page(
        &self,
        ldap: &mut Ldap,
        search: &Search,
        size: Option<i32>,
        cookie: &[u8],
    ) -> Result<(Vec<RawEntry>, Vec<u8>), ConnectorError> {
        self.trace(search);
        let attrs: Vec<&str> = search.attrs.iter().map(String::as_str).collect();
        let result = ldap
            .with_controls(search.controls(size, cookie))
            .search(&search.base, search.scope, &search.filter, attrs)
            .await
            .map_err(|e| errors::from_ldap(e, self.op_timeout))?;
        let ldap3::SearchResult(entries, res) = result;
        match res.rc {
            0 => {}
            // No ordering rule for a sort key (slapd: `uid`, `cn`): sort it as a string.
            18 if search.sort.first().is_some_and(|k| k.rule.is_none()) => {
                let mut retry = search.clone();
                if let Some(k) = retry.sort.first_mut() {
                    k.rule = Some("caseIgnoreOrderingMatch".to_owned());
                }
                return Box::pin(self.page(ldap, &retry, size, cookie)).await;
            }
            32 => return Ok((Vec::new(), Vec::new())),
            4 if size.is_none() => {
                return Err(ConnectorError::Backend(format!(
                    "the directory's size limit cut the search short and it offers no paged results \
                     control; narrow the filter or raise the limit for the gateway's account ({})",
                    res.text
                )));
            }
            rc => return self.settle_search(ldap, search, size, cookie, rc, &res.text).await,
        }
        let cookie = if size.is_some() {
            ops::paged_cookie(&res).unwrap_or_default()
        } else {
            Vec::new()
        };
        let entries = entries.into_iter().filter_map(ops::parse_entry).collect();
        Ok((entries, cookie))
    }

    /// Reads up to `want` entries after skipping `skip`, continuing `state`. Returns them and
    /// how many were skipped; what was read beyond stays in `state.buffer`.
    async fn fill(
        &self,
        ldap: &mut Ldap,
        search: &Search,
        state: &mut Paging,
        mut skip: u64,
        want: usize,
    ) -> Result<(Vec<RawEntry>, u64), ConnectorError> {
        let mut out = Vec::new();
        let mut skipped = 0;
        loop {
            while out.len() < want {
                let Some(e) = state.buffer.pop_front() else { break };
                if skip > 0 {
                    skip -= 1;
                    skipped += 1;
                } else {
                    out.push(e);
                }
            }
            if out.len() >= want || state.done {
                return Ok((out, skipped));
            }
            let size = search.page_size.map(|max| {
                if skip > 0 {
                    max
                } else {
                    i32::try_from(want - out.len()).unwrap_or(max).clamp(1, max)
                }
            });
            let (entries, cookie) = self.page(ldap, search, size, &state.cookie).await?;
            state.done = cookie.is_empty();
            state.cookie = cookie;
            state.buffer.extend(entries);
        }
    }

    /// Tells the server to drop a paged search (RFC 2696: size 0 with the cookie).
    async fn abandon(&self, ldap: &mut Ldap, search: &Search, state: &Paging) {
        if state.done || state.cookie.is_empty() || search.page_size.is_none() {
            return;
        }
        let _ = self.page(ldap, search, Some(0), &state.cookie).await;
    }

    /// Every entry of a search.
    async fn search_all(&self, ldap: &mut Ldap, search: &Search) -> Result<Vec<RawEntry>, ConnectorError> {
        let mut state = Paging::default();
        Ok(self.fill(ldap, search, &mut state, 0, usize::MAX).await?.0)
    }

    fn search_of(&self, base: &str, scope: Scope, filter: String, attrs: Vec<String>) -> Search {
        Search {
            base: base.to_owned(),
            scope,
            filter,
            attrs,
            page_size: self.root.control(oid::PAGED_RESULTS).then_some(self.page_size),
            sort: Vec::new(),
        }
    }

    /// The attributes a read asks for: fields (not the password), id, version, timestamps,
    /// and the relation attributes of `read` only.
    fn read_attrs(e: &Entity, read: &ReadSet) -> Result<Vec<String>, ConnectorError> {
        if let Some(c) = read.children.iter().next() {
            return Err(ConnectorError::Unsupported(format!(
                "LDAP has no child tables: {} has no `{c}`",
                e.name()
            )));
        }
        let mut attrs: Vec<String> = e.spec.fields.iter().filter(|f| !e.is_password(f)).cloned().collect();
        attrs.push(e.id_attr().to_owned());
        attrs.extend(
            [&e.cfg.version, &e.cfg.created, &e.cfg.modified]
                .into_iter()
                .flatten()
                .cloned(),
        );
        for r in &read.relations {
            let rel = e.relation(r)?;
            attrs.push(rel.attribute.clone().unwrap_or_default());
        }
        let mut seen = BTreeSet::new();
        attrs.retain(|a| seen.insert(a.to_ascii_lowercase()));
        Ok(attrs)
    }

    /// The search of one entry by id; `None` when the id cannot be a key.
    fn by_id(&self, e: &Entity, id: &str, attrs: Vec<String>) -> Option<Search> {
        let f = e.id_filter(id)?;
        let mut s = self.search_of(&e.cfg.base, e.scope(), e.scoped(&f), attrs);
        s.page_size = None;
        Some(s)
    }

    /// Searches resolving ids to DNs under each target entity (≤ [`BATCH`] ids each).
    fn id_searches(&self, targets: &[EntityId], ids: &[String]) -> Vec<(EntityId, Search)> {
        let mut out = Vec::new();
        for t in targets {
            let Ok(te) = self.entity(*t) else { continue };
            let terms: Vec<String> = ids.iter().filter_map(|id| te.id_filter(id)).collect();
            for chunk in terms.chunks(BATCH) {
                let inner = if chunk.len() == 1 {
                    chunk.concat()
                } else {
                    format!("(|{})", chunk.concat())
                };
                let s = self.search_of(
                    &te.cfg.base,
                    te.scope(),
                    te.scoped(&inner),
                    vec![te.id_attr().to_owned()],
                );
                out.push((*t, s));
            }
        }
        out
    }

    /// Resolves ids to DNs: one search per target entity and chunk. Unknown ids are absent.
    async fn ids_to_dns(&self, ldap: &mut Ldap, wanted: &[(Vec<EntityId>, String)]) -> Result<DnMap, ConnectorError> {
        let mut by_targets: BTreeMap<Vec<EntityId>, Vec<String>> = BTreeMap::new();
        for (targets, id) in wanted {
            by_targets.entry(targets.clone()).or_default().push(id.clone());
        }
        let mut map = DnMap::new();
        for (targets, ids) in by_targets {
            let ids = dedup(&ids);
            for (t, s) in self.id_searches(&targets, &ids) {
                let te = self.entity(t)?;
                for entry in self.search_all(ldap, &s).await? {
                    if let Some(id) = entry
                        .get(te.id_attr())
                        .and_then(|v| v.first())
                        .and_then(|b| te.id_from_bytes(b))
                    {
                        // entryUUID is case-insensitive; ids come back lower-case.
                        let key = ids.iter().find(|i| i.eq_ignore_ascii_case(&id)).cloned().unwrap_or(id);
                        map.entry(key).or_insert(entry.dn);
                    }
                }
            }
        }
        Ok(map)
    }

    /// The attribute that filters by DN: `distinguishedName` on AD, `entryDN` elsewhere.
    fn dn_attr(&self) -> &'static str {
        if self.root.active_directory {
            "distinguishedName"
        } else {
            "entryDN"
        }
    }

    /// Searches resolving DNs to ids under one target entity (≤ [`BATCH`] DNs each); DNs
    /// outside its base are not asked for.
    fn dn_searches(&self, target: &Entity, dns: &[String]) -> Vec<Search> {
        let attr = self.dn_attr();
        let under: Vec<String> = dns
            .iter()
            .filter(|d| dn::is_under(d, &target.cfg.base))
            .map(|d| format!("({attr}={})", filter::escape_value(d)))
            .collect();
        under
            .chunks(BATCH)
            .map(|chunk| {
                let inner = if chunk.len() == 1 {
                    chunk.concat()
                } else {
                    format!("(|{})", chunk.concat())
                };
                self.search_of(
                    &target.cfg.base,
                    target.scope(),
                    target.scoped(&inner),
                    vec![target.id_attr().to_owned()],
                )
            })
            .collect()
    }

    /// Turns the DNs of a page's relations and references into ids, in batches.
    async fn finish(&self, ldap: &mut Ldap, pending: Vec<Pending>) -> Result<Vec<Record>, ConnectorError> {
        // normalised DN → ids per target entity
        let mut wanted: BTreeMap<EntityId, BTreeSet<String>> = BTreeMap::new();
        for p in &pending {
            for (_, targets, dns) in &p.relations {
                for t in targets {
                    wanted.entry(*t).or_default().extend(dns.iter().cloned());
                }
            }
            for (_, targets, dns) in &p.references {
                for t in targets {
                    wanted.entry(*t).or_default().extend(dns.iter().cloned());
                }
            }
        }
        let mut found: HashMap<(EntityId, String), String> = HashMap::new();
        for (t, dns) in wanted {
            let te = self.entity(t)?;
            let dns: Vec<String> = dns.into_iter().collect();
            for s in self.dn_searches(te, &dns) {
                for entry in self.search_all(ldap, &s).await? {
                    if let Some(id) = entry
                        .get(te.id_attr())
                        .and_then(|v| v.first())
                        .and_then(|b| te.id_from_bytes(b))
                    {
                        found.insert((t, dn::normalize(&entry.dn)), id);
                    }
                }
            }
        }
        let lookup = |targets: &[EntityId], d: &str| {
            let n = dn::normalize(d);
            targets.iter().find_map(|t| found.get(&(*t, n.clone())).cloned())
        };
        let mut out = Vec::with_capacity(pending.len());
        for mut p in pending {
            for (name, targets, dns) in p.relations {
                let mut ids = Vec::with_capacity(dns.len());
                for d in &dns {
                    match lookup(&targets, d) {
                        Some(id) => ids.push(id),
                        None => tracing::warn!(
                            target: "scimgate::connector::ldap",
                            relation = %name,
                            "a linked entry does not exist or is outside the mapping; omitted"
                        ),
                    }
                }
                p.record.relations.insert(name, dedup(&ids));
            }
            for (field, targets, dns) in p.references {
                let ids: Vec<Value> = dns
                    .iter()
                    .filter_map(|d| {
                        let id = lookup(&targets, d);
                        if id.is_none() {
                            tracing::warn!(
                                target: "scimgate::connector::ldap",
                                field = %field,
                                "a referenced entry does not exist or is outside the mapping; omitted"
                            );
                        }
                        id.map(Value::Text)
                    })
                    .collect();
                if !ids.is_empty() {
                    p.record.fields.insert(field, ids);
                }
            }
            out.push(p.record);
        }
        Ok(out)
    }

    /// AD range retrieval: an attribute returned as `member;range=0-1499` is followed with
    /// base reads of the next ranges until one ends in `*`; values merge under the plain name.
    async fn follow_ranges(&self, ldap: &mut Ldap, entry: &mut RawEntry) -> Result<(), ConnectorError> {
        let ranged: Vec<usize> = (0..entry.attrs.len())
            .filter(|&i| entry.attrs[i].0.to_ascii_lowercase().contains(";range="))
            .collect();
        for i in ranged {
            let (name, _) = &entry.attrs[i];
            let base = name.split(';').next().unwrap_or(name).to_owned();
            let mut end = range_end(name);
            let mut values = std::mem::take(&mut entry.attrs[i].1);
            while let Some(last) = end {
                let next = format!("{base};range={}-*", last + 1);
                let mut s = self.search_of(&entry.dn, Scope::Base, filter::ALL.to_owned(), vec![next]);
                s.page_size = None;
                let got = self.search_all(ldap, &s).await?;
                let Some((attr, vals)) = got.into_iter().next().and_then(|e| {
                    e.attrs
                        .into_iter()
                        .find(|(a, _)| a.split(';').next().unwrap_or(a).eq_ignore_ascii_case(&base))
                }) else {
                    break;
                };
                values.extend(vals);
                end = range_end(&attr);
            }
            entry.attrs[i] = (base, values);
        }
        Ok(())
    }

    /// A record from an entry, with relation and reference DNs left to [`Self::finish`].
    fn pending(&self, e: &Entity, entry: &RawEntry, read: &ReadSet) -> Result<Pending, ConnectorError> {
        let mut record = Record::default();
        let raw_id = entry
            .get(e.id_attr())
            .and_then(|v| v.first())
            .ok_or_else(|| ConnectorError::Backend(format!("`{}` has no `{}` attribute", entry.dn, e.id_attr())))?;
        record.id = e
            .id_from_bytes(raw_id)
            .ok_or_else(|| ConnectorError::Backend(format!("`{}` has an unreadable id", entry.dn)))?;
        let text = |attr: &Option<String>| attr.as_deref().and_then(|a| entry.first_text(a));
        record.meta.version = text(&e.cfg.version);
        record.meta.created =
            text(&e.cfg.created).map(|t| Value::Text(values::generalized_to_rfc3339(&t).unwrap_or(t)));
        record.meta.modified =
            text(&e.cfg.modified).map(|t| Value::Text(values::generalized_to_rfc3339(&t).unwrap_or(t)));
        let mut references = Vec::new();
        for (attr, vals) in &entry.attrs {
            let Some(field) = e.field_of(attr) else { continue };
            if vals.is_empty() || e.is_password(field) {
                continue;
            }
            if let Some(r) = e.reference(field) {
                let dns = vals.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect();
                references.push((field.to_owned(), r.targets.clone(), dns));
                continue;
            }
            let values = vals.iter().map(|b| values::from_bytes(attr, b.clone())).collect();
            record.fields.insert(field.to_owned(), values);
        }
        let mut relations = Vec::new();
        for name in &read.relations {
            let rel = e.relation(name)?;
            let attr = rel.attribute.as_deref().unwrap_or_default();
            let placeholder = rel.empty.as_deref().map(dn::normalize);
            let dns: Vec<String> = entry
                .get(attr)
                .map(|v| v.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect())
                .unwrap_or_default();
            let dns = dns
                .into_iter()
                .filter(|d| placeholder.as_deref() != Some(dn::normalize(d).as_str()))
                .collect();
            relations.push((name.clone(), rel.targets.clone(), dns));
        }
        Ok(Pending {
            record,
            relations,
            references,
        })
    }

    async fn records(
        &self,
        ldap: &mut Ldap,
        e: &Entity,
        entries: Vec<RawEntry>,
        read: &ReadSet,
    ) -> Result<Vec<Record>, ConnectorError> {
        let mut pending = Vec::with_capacity(entries.len());
        for mut entry in entries {
            self.follow_ranges(ldap, &mut entry).await?;
            pending.push(self.pending(e, &entry, read)?);
        }
        self.finish(ldap, pending).await
    }

    async fn get_in(&self, e: &Entity, id: &str, read: &ReadSet) -> Result<Option<Record>, ConnectorError> {
        let attrs = Self::read_attrs(e, read)?;
        let Some(search) = self.by_id(e, id, attrs) else {
            return Ok(None);
        };
        let mut conn = self.conn().await?;
        let entries = self.search_all(&mut conn, &search).await?;
        let Some(entry) = entries.into_iter().next() else {
            return Ok(None);
        };
        Ok(self.records(&mut conn, e, vec![entry], read).await?.into_iter().next())
    }

    /// The page search of a query, its filter rendered with `dn_of` for ids.
    fn page_search(
        &self,
        eid: EntityId,
        e: &Entity,
        query: &Query,
        dn_of: filter::Resolver<'_>,
    ) -> Result<Search, ConnectorError> {
        let rendered = filter::Render {
            entity: e,
            dn_of,
            schema: self.schema.as_ref(),
            strict: false,
        }
        .render(&query.filter)?;
        let f = match &query.filter {
            super::Filter::True => e.cfg.scope.clone(),
            _ => e.scoped(&rendered),
        };
        let mut s = self.search_of(&e.cfg.base, e.scope(), f, Self::read_attrs(e, &query.read)?);
        if let Some(key) = &query.sort {
            if !self.capabilities(eid).sort {
                return Err(ConnectorError::Unsupported(
                    "the directory offers no server-side sort control".into(),
                ));
            }
            let attr =
                match &key.field {
                    FieldRef::Id => e.id_attr().to_owned(),
                    FieldRef::Created => e.cfg.created.clone().ok_or_else(|| {
                        ConnectorError::Unsupported(format!("{} maps no creation timestamp", e.name()))
                    })?,
                    FieldRef::Modified => e.cfg.modified.clone().ok_or_else(|| {
                        ConnectorError::Unsupported(format!("{} maps no modification timestamp", e.name()))
                    })?,
                    FieldRef::Field(f) => e
                        .field_of(f)
                        .filter(|f| !e.is_password(f))
                        .map(str::to_owned)
                        .ok_or_else(|| ConnectorError::Unsupported(format!("{} has no field `{f}`", e.name())))?,
                };
            s.sort.push(SortKey {
                attr: attr.clone(),
                reverse: key.descending,
                rule: None,
            });
            // The id breaks ties; AD sorts on one key only.
            if !self.root.active_directory && !attr.eq_ignore_ascii_case(e.id_attr()) {
                s.sort.push(SortKey {
                    attr: e.id_attr().to_owned(),
                    reverse: false,
                    rule: None,
                });
            }
        }
        Ok(s)
    }

    /// Counting search: the same filter, no attributes (`1.1`), no sort.
    fn count_search(page: &Search) -> Search {
        Search {
            attrs: vec!["1.1".to_owned()],
            sort: Vec::new(),
            ..page.clone()
        }
    }

    async fn count(&self, ldap: &mut Ldap, page: &Search) -> Result<u64, ConnectorError> {
        let s = Self::count_search(page);
        Ok(self.search_all(ldap, &s).await?.len() as u64)
    }

    fn fingerprint(eid: EntityId, s: &Search) -> String {
        format!("{}|{s}", eid.0)
    }

    /// An offset page: by VLV where offered ([`vlv`]), otherwise (or when the server refuses
    /// the window) the paged search skipping `offset` entries, sorted as VLV would sort them.
    /// `vlv_sent`: the connection sent a VLV search and must not go back to the pool.
    async fn offset_page(
        &self,
        conn: &mut Ldap,
        e: &Entity,
        query: &Query,
        search: Search,
        (offset, count): (u64, u64),
        vlv_sent: &mut bool,
    ) -> Result<SearchPage, ConnectorError> {
        let mut search = search;
        if let Some(ordered) = self.vlv_order(e.id_attr(), &search) {
            let page = self
                .vlv_offset_page(conn, &search, &ordered, (offset, count), vlv_sent)
                .await?;
            if let Some(page) = page {
                let records = self.records(conn, e, page.entries, &query.read).await?;
                return Ok(SearchPage {
                    records,
                    total: query.want_total.then_some(page.total),
                    next_cursor: None,
                });
            }
            search = ordered;
        }
        let want = usize::try_from(count).unwrap_or(usize::MAX);
        let mut state = Paging::default();
        let (entries, skipped) = self.fill(conn, &search, &mut state, offset, want).await?;
        let total = if !query.want_total {
            None
        } else if state.done {
            Some(skipped + entries.len() as u64 + state.buffer.len() as u64)
        } else {
            None
        };
        self.abandon(conn, &search, &state).await;
        let total = match total {
            Some(t) => Some(t),
            None if query.want_total => Some(self.count(conn, &search).await?),
            None => None,
        };
        let records = self.records(conn, e, entries, &query.read).await?;
        Ok(SearchPage {
            records,
            total,
            next_cursor: None,
        })
    }

    async fn search_in(&self, eid: EntityId, e: &Entity, query: &Query) -> Result<SearchPage, ConnectorError> {
        if matches!(query.filter, super::Filter::False) {
            return Ok(SearchPage {
                records: Vec::new(),
                total: query.want_total.then_some(0),
                next_cursor: None,
            });
        }
        let mut conn = self.conn().await?;
        let mut wanted = Vec::new();
        filter::ids_to_resolve(e, &query.filter, &mut wanted);
        let dns = if wanted.is_empty() {
            DnMap::new()
        } else {
            self.ids_to_dns(&mut conn, &wanted).await?
        };
        let dn_of = |id: &str| dns.get(id).cloned();
        let search = self.page_search(eid, e, query, &dn_of)?;
        match &query.page {
            PageRequest::Offset { offset, count } => {
                let mut vlv_sent = false;
                let page = self
                    .offset_page(&mut conn, e, query, search, (*offset, *count), &mut vlv_sent)
                    .await;
                if vlv_sent {
                    vlv::retire(conn).await;
                }
                page
            }
            PageRequest::Cursor { cursor, count } => {
                if search.page_size.is_none() {
                    return Err(ConnectorError::Unsupported(
                        "cursor paging needs the directory's paged results control".into(),
                    ));
                }
                let want = usize::try_from(*count).unwrap_or(usize::MAX - 1);
                let fp = Self::fingerprint(eid, &search);
                let decoded = cursor.as_deref().map(Cursor::decode).transpose()?;
                let offset = decoded.as_ref().map_or(0, |c| c.offset);
                let session = decoded.as_ref().and_then(|c| self.sessions.take(c, &fp));
                let total = if query.want_total {
                    Some(self.count(&mut conn, &search).await?)
                } else {
                    None
                };
                // Continue the parked search on its own connection, or start over and skip.
                let (mut ldap, mut state, skip, pooled) = match session {
                    Some(s) => {
                        let state = Paging {
                            done: s.conn.is_none() || s.cookie.is_empty(),
                            cookie: s.cookie,
                            buffer: s.buffer,
                        };
                        match s.conn {
                            Some(l) => (l, state, 0, None),
                            None => ((*conn).clone(), state, 0, None),
                        }
                    }
                    None => {
                        let l = (*conn).clone();
                        (l, Paging::default(), offset, Some(()))
                    }
                };
                let (mut entries, _) = self
                    .fill(&mut ldap, &search, &mut state, skip, want.saturating_add(1))
                    .await?;
                let more = entries.len() > want;
                if more && let Some(extra) = entries.pop() {
                    state.buffer.push_front(extra);
                }
                let records = self.records(&mut conn, e, entries, &query.read).await?;
                let next_offset = offset + records.len() as u64;
                let next_cursor = if more {
                    let token = cursor::new_token();
                    let live = if state.done {
                        None
                    } else if pooled.is_some() {
                        // The search runs on the pooled connection: take it out of the pool.
                        drop(ldap);
                        Some(pool::Conn::take(conn))
                    } else {
                        Some(ldap)
                    };
                    let c = Cursor {
                        offset: next_offset,
                        token,
                        cookie: state.cookie.clone(),
                    };
                    self.sessions
                        .put(token, Session::new(live, fp, state.cookie, state.buffer, next_offset));
                    Some(c.encode())
                } else {
                    self.abandon(&mut ldap, &search, &state).await;
                    None
                };
                Ok(SearchPage {
                    records,
                    total,
                    next_cursor,
                })
            }
        }
    }

    // ----- writes ---------------------------------------------------------------------

    fn check_version_support(e: &Entity, expected: Option<&str>) -> Result<(), ConnectorError> {
        if expected.is_some() && e.cfg.version.is_none() {
            return Err(ConnectorError::Unsupported(format!(
                "{} has no version attribute to check an expected version against",
                e.name()
            )));
        }
        Ok(())
    }

    /// The pre-read of a write: the entry's DN, version and the current values of `attrs`.
    fn lookup(&self, e: &Entity, id: &str, attrs: Vec<String>) -> Option<Search> {
        let mut attrs = attrs;
        attrs.extend(e.cfg.version.clone());
        if attrs.is_empty() {
            attrs.push("1.1".to_owned());
        }
        self.by_id(e, id, attrs)
    }

    async fn current(&self, ldap: &mut Ldap, e: &Entity, search: &Search) -> Result<Current, ConnectorError> {
        let entry = self
            .search_all(ldap, search)
            .await?
            .into_iter()
            .next()
            .ok_or(ConnectorError::NotFound)?;
        Ok(Current {
            dn: entry.dn.clone(),
            version: e.cfg.version.as_deref().and_then(|v| entry.first_text(v)),
            entry,
            placeholders: None,
        })
    }

    /// The assertion control guarding a write with the expected version, when the server
    /// offers it; otherwise the version read just before is compared (not race-free).
    fn guard(&self, e: &Entity, current: &Current, expected: Option<&str>) -> Result<Vec<Control>, ConnectorError> {
        let (Some(expected), Some(attr)) = (expected, e.cfg.version.as_deref()) else {
            return Ok(Vec::new());
        };
        if self.root.control(oid::ASSERTION) {
            return Ok(vec![Control::Assertion(format!(
                "({attr}={})",
                filter::escape_value(expected)
            ))]);
        }
        if current.version.as_deref() == Some(expected) {
            Ok(Vec::new())
        } else {
            Err(ConnectorError::VersionMismatch)
        }
    }

    fn check_password_channel(&self, e: &Entity, field: &str) -> Result<(), ConnectorError> {
        if !self.tls && !self.allow_plaintext_passwords {
            return Err(ConnectorError::Forbidden(format!(
                "{}: refusing to send `{field}` over an unencrypted connection; use ldaps:// or starttls \
                 (or set allow_plaintext_passwords for a test directory)",
                e.name()
            )));
        }
        Ok(())
    }

    /// The write of a password field: an attribute value (as converted, or as unicodePwd),
    /// or the text for the Password Modify exop.
    fn password_write(&self, e: &Entity, field: &str, values: &[Value]) -> Result<PasswordPlan, ConnectorError> {
        if values.len() > 1 {
            return Err(ConnectorError::InvalidValue {
                field: Some(field.to_owned()),
                detail: "a password holds one value".into(),
            });
        }
        if !values.is_empty() {
            self.check_password_channel(e, field)?;
        }
        match e.cfg.password {
            PasswordWrite::Attribute => Ok((
                Some((
                    field.to_owned(),
                    values.iter().map(|v| AttrValue::Secret(values::to_bytes(v))).collect(),
                )),
                None,
            )),
            PasswordWrite::Unicodepwd | PasswordWrite::Exop if values.is_empty() => Err(ConnectorError::InvalidValue {
                field: Some(field.to_owned()),
                detail: "the password cannot be cleared".into(),
            }),
            PasswordWrite::Unicodepwd => Ok((
                Some((
                    "unicodePwd".to_owned(),
                    vec![AttrValue::Secret(ad::unicode_pwd(&text_of(&values[0])))],
                )),
                None,
            )),
            PasswordWrite::Exop => Ok((None, Some(text_of(&values[0])))),
        }
    }

    /// Attribute values of a field to write: references as DNs, the rest as bytes.
    fn field_values(
        e: &Entity,
        field: &str,
        values: &[Value],
        dn_of: filter::Resolver<'_>,
    ) -> Result<Vec<AttrValue>, ConnectorError> {
        if e.reference(field).is_some() {
            return values
                .iter()
                .map(|v| {
                    let id = text_of(v);
                    dn_of(&id)
                        .map(|d| AttrValue::text(&d))
                        .ok_or(ConnectorError::DanglingReference(id))
                })
                .collect();
        }
        Ok(values.iter().map(|v| AttrValue::Plain(values::to_bytes(v))).collect())
    }

    fn check_field(e: &Entity, field: &str) -> Result<(), ConnectorError> {
        if !e.has_field(field) {
            return Err(ConnectorError::Unsupported(format!(
                "{} has no field `{field}`",
                e.name()
            )));
        }
        if e.is_managed(field) {
            return Err(ConnectorError::InvalidValue {
                field: Some(field.to_owned()),
                detail: "the attribute is maintained by the directory and cannot be written".into(),
            });
        }
        Ok(())
    }

    /// Ids a create or modify needs as DNs: members and references.
    fn write_ids(e: &Entity, fields: &Fields, relations: Vec<(&str, Vec<String>)>) -> Vec<(Vec<EntityId>, String)> {
        let mut out = Vec::new();
        for (field, values) in fields {
            if let Some(r) = e.reference(field) {
                out.extend(values.iter().map(|v| (r.targets.clone(), text_of(v))));
            }
        }
        for (name, ids) in relations {
            if let Ok(rel) = e.relation(name) {
                out.extend(ids.into_iter().map(|id| (rel.targets.clone(), id)));
            }
        }
        out
    }

    /// The Add of a new entry and the password exop that follows it, if any.
    fn plan_create(
        &self,
        e: &Entity,
        record: &NewRecord,
        dn_of: filter::Resolver<'_>,
    ) -> Result<(String, Op, Option<Op>), ConnectorError> {
        if let Some(c) = record.children.keys().next() {
            return Err(ConnectorError::Unsupported(format!("LDAP has no child tables: `{c}`")));
        }
        let rdn_field = e.field_of(&e.cfg.rdn).unwrap_or(&e.cfg.rdn).to_owned();
        let rdn_value = match record.fields.get(&rdn_field).map(Vec::as_slice) {
            Some([v]) => text_of(v),
            _ => {
                return Err(ConnectorError::InvalidValue {
                    field: Some(rdn_field),
                    detail: "the naming attribute needs exactly one value".into(),
                });
            }
        };
        let parent = e.parent_for(|f| first_text_of(&record.fields, f))?;
        let dn = dn::child(&dn::rdn(&e.cfg.rdn, &rdn_value), &parent);
        let mut attrs: Vec<(String, Vec<AttrValue>)> = vec![(
            "objectClass".to_owned(),
            e.cfg.create_classes.iter().map(|c| AttrValue::text(c)).collect(),
        )];
        let mut exop = None;
        let mut fields = record.fields.clone();
        for (name, change) in &record.flags {
            Self::check_field(e, name)?;
            let base = fields
                .get(name)
                .and_then(|v| v.first())
                .and_then(values::as_int)
                .unwrap_or(0);
            fields.insert(name.clone(), vec![Value::Int(change.apply(base))]);
        }
        for (field, vals) in &fields {
            Self::check_field(e, field)?;
            if vals.is_empty() {
                continue;
            }
            if e.is_password(field) {
                let (attr, text) = self.password_write(e, field, vals)?;
                attrs.extend(attr);
                exop = text.map(|password| Op::PasswordModify {
                    dn: dn.clone(),
                    password,
                });
                continue;
            }
            attrs.push((field.clone(), Self::field_values(e, field, vals, dn_of)?));
        }
        for rel in &e.spec.relations {
            let attr = rel.attribute.clone().unwrap_or_default();
            let ids = record.relations.get(&rel.name).map(|v| dedup(v)).unwrap_or_default();
            let mut dns = Vec::with_capacity(ids.len());
            for id in &ids {
                dns.push(AttrValue::text(
                    &dn_of(id).ok_or_else(|| ConnectorError::DanglingReference(id.clone()))?,
                ));
            }
            if dns.is_empty()
                && let Some(empty) = &rel.empty
            {
                dns.push(AttrValue::text(empty));
            }
            if !dns.is_empty() {
                attrs.push((attr, dns));
            }
        }
        if let Some(name) = record.relations.keys().find(|n| e.relation(n).is_err()) {
            return Err(ConnectorError::Unsupported(format!(
                "{} has no relation `{name}`",
                e.name()
            )));
        }
        Ok((dn.clone(), Op::Add { dn, attrs }, exop))
    }

    /// The read-back of a new entry through the scope.
    fn readback(&self, e: &Entity, dn: &str) -> Result<Search, ConnectorError> {
        let all = ReadSet {
            children: BTreeSet::new(),
            relations: e.spec.relations.iter().map(|r| r.name.clone()).collect(),
        };
        let mut s = self.search_of(dn, Scope::Base, e.cfg.scope.clone(), Self::read_attrs(e, &all)?);
        s.page_size = None;
        Ok(s)
    }

    async fn create_in(&self, e: &Entity, record: &NewRecord) -> Result<Record, ConnectorError> {
        let mut conn = self.conn().await?;
        let rels: Vec<(&str, Vec<String>)> = record.relations.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let wanted = Self::write_ids(e, &record.fields, rels);
        let dns = if wanted.is_empty() {
            DnMap::new()
        } else {
            self.ids_to_dns(&mut conn, &wanted).await?
        };
        let dn_of = |id: &str| dns.get(id).cloned();
        let (dn, add, exop) = self.plan_create(e, record, &dn_of)?;
        let parent = dn::parent(&dn);
        self.write(&mut conn, &add).await.map_err(|err| match err {
            // `entryAlreadyExists` is about the DN unless the directory names another attribute
            // (AD and Samba: "samAccountName '…' already in use").
            ConnectorError::Conflict { field: None, detail } => ConnectorError::Conflict {
                field: Some(Self::conflicting_field(e, &detail)),
                detail,
            },
            other => Self::missing_parent(other, &parent),
        })?;
        // From here on a failure deletes the entry again: nothing half-made stays behind.
        let rest = async {
            if let Some(exop) = &exop {
                self.write(&mut conn, exop).await?;
            }
            let s = self.readback(e, &dn)?;
            let entries = self.search_all(&mut conn, &s).await?;
            let Some(entry) = entries.into_iter().next() else {
                return Err(ConnectorError::InvalidValue {
                    field: None,
                    detail: format!("the new {} entry is outside the mapping's scope", e.name()),
                });
            };
            let all = ReadSet {
                children: BTreeSet::new(),
                relations: e.spec.relations.iter().map(|r| r.name.clone()).collect(),
            };
            self.records(&mut conn, e, vec![entry], &all)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| ConnectorError::Backend("the read-back returned no record".into()))
        };
        match rest.await {
            Ok(r) => Ok(r),
            Err(err) => {
                let undo = Op::Delete {
                    dn: dn.clone(),
                    controls: Vec::new(),
                };
                if let Err(undo_err) = self.write(&mut conn, &undo).await {
                    return Err(ConnectorError::Backend(format!(
                        "{err}; and the new entry could not be deleted again: {undo_err}"
                    )));
                }
                Err(err)
            }
        }
    }

    /// The mapped field a uniqueness message names, the naming attribute otherwise.
    fn conflicting_field(e: &Entity, detail: &str) -> String {
        let text = detail.to_ascii_lowercase();
        let named = |f: &&String| {
            let f = f.to_ascii_lowercase();
            text.match_indices(&f).any(|(at, _)| {
                let before = text[..at].chars().next_back();
                let after = text[at + f.len()..].chars().next();
                let word = |c: Option<char>| c.is_none_or(|c| !c.is_ascii_alphanumeric());
                word(before) && word(after)
            })
        };
        e.spec
            .fields
            .iter()
            .filter(|f| !f.eq_ignore_ascii_case(&e.cfg.rdn))
            .find(named)
            .cloned()
            .unwrap_or_else(|| e.cfg.rdn.clone())
    }

    /// `noSuchObject` from an add or a move names the parent, not the entry: the request
    /// placed the entry somewhere the directory has no container for.
    fn missing_parent(err: ConnectorError, parent: &Option<String>) -> ConnectorError {
        match (err, parent) {
            (ConnectorError::NotFound, Some(parent)) => ConnectorError::InvalidValue {
                field: None,
                detail: format!("the directory has no entry `{parent}` to hold this one"),
            },
            (err, _) => err,
        }
    }

    /// Attributes the pre-read of a modify needs: flag attributes whose current value is
    /// changed bit-wise, and, when a change may move the entry, the parent template's inputs.
    fn modify_attrs(e: &Entity, changes: &ChangeSet) -> Vec<String> {
        let unchanged = |f: &&String| !changes.fields.keys().any(|k| k.eq_ignore_ascii_case(f));
        let mut attrs: Vec<String> = changes.flags.keys().filter(unchanged).cloned().collect();
        if Self::may_move(e, changes) {
            attrs.extend(e.placement.inputs().iter().filter(unchanged).cloned());
        }
        attrs
    }

    fn may_move(e: &Entity, changes: &ChangeSet) -> bool {
        e.placement
            .inputs()
            .iter()
            .any(|f| changes.fields.keys().any(|k| k.eq_ignore_ascii_case(f)))
    }

    /// The new parent when the change set moves the entry, `None` when it stays.
    fn new_parent(e: &Entity, current: &Current, changes: &ChangeSet) -> Result<Option<String>, ConnectorError> {
        if !Self::may_move(e, changes) {
            return Ok(None);
        }
        let parent = e.parent_for(
            |f| match changes.fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(f)) {
                Some((_, values)) => values.first().map(text_of),
                None => current.entry.first_text(f),
            },
        )?;
        let stays = dn::parent(&current.dn).is_some_and(|old| dn::normalize(&old) == dn::normalize(&parent));
        Ok((!stays).then_some(parent))
    }

    /// The operations of a modify, in order: the rename, the modify, the password exop.
    /// `relations` is rendered with the Permissive Modify control when offered.
    fn plan_modify(
        &self,
        e: &Entity,
        current: &Current,
        changes: &ChangeSet,
        guard: Vec<Control>,
        dn_of: filter::Resolver<'_>,
    ) -> Result<Vec<Op>, ConnectorError> {
        if let Some(c) = changes.children.keys().next() {
            return Err(ConnectorError::Unsupported(format!("LDAP has no child tables: `{c}`")));
        }
        let mut ops = Vec::new();
        let mut guard = Some(guard);
        let mut dn = current.dn.clone();
        let rdn_field = e.field_of(&e.cfg.rdn).unwrap_or(&e.cfg.rdn).to_owned();
        let mut mods = Vec::new();
        let mut exop = None;
        let mut new_rdn = None;
        for (field, vals) in &changes.fields {
            Self::check_field(e, field)?;
            if field.eq_ignore_ascii_case(&rdn_field) {
                let [v] = vals.as_slice() else {
                    return Err(ConnectorError::InvalidValue {
                        field: Some(field.clone()),
                        detail: "the naming attribute needs exactly one value".into(),
                    });
                };
                new_rdn = Some(dn::rdn(&e.cfg.rdn, &text_of(v)));
                continue;
            }
            if e.is_password(field) {
                let (attr, text) = self.password_write(e, field, vals)?;
                if let Some((attr, values)) = attr {
                    mods.push(Modification::new(ModKind::Replace, &attr, values));
                }
                exop = text;
                continue;
            }
            let values = Self::field_values(e, field, vals, dn_of)?;
            mods.push(Modification::new(ModKind::Replace, field, values));
        }
        for (field, change) in &changes.flags {
            Self::check_field(e, field)?;
            let base = match changes.fields.get(field) {
                Some(v) => v.first().and_then(values::as_int),
                None => current
                    .entry
                    .first_text(field)
                    .and_then(|t| values::as_int(&Value::Text(t))),
            }
            .unwrap_or(0);
            mods.retain(|m| !m.attr.eq_ignore_ascii_case(field));
            mods.push(Modification::new(
                ModKind::Replace,
                field,
                vec![AttrValue::text(&change.apply(base).to_string())],
            ));
        }
        for (name, delta) in &changes.relations {
            let rel = e.relation(name)?;
            if delta.is_empty() {
                continue;
            }
            let attr = rel.attribute.clone().unwrap_or_default();
            let mut add = Vec::new();
            for id in dedup(&delta.add) {
                add.push(AttrValue::text(
                    &dn_of(&id).ok_or(ConnectorError::DanglingReference(id.clone()))?,
                ));
            }
            if delta.remove_all {
                if add.is_empty()
                    && let Some(empty) = &rel.empty
                {
                    add.push(AttrValue::text(empty));
                }
                mods.push(Modification::new(ModKind::Replace, &attr, add));
                continue;
            }
            // Removing a link that is not there is fine: ids that resolve to nothing are skipped.
            let remove: Vec<AttrValue> = dedup(&delta.remove)
                .iter()
                .filter_map(|id| dn_of(id))
                .map(|d| AttrValue::text(&d))
                .collect();
            if !remove.is_empty() {
                mods.push(Modification::new(ModKind::Delete, &attr, remove));
            }
            if !add.is_empty() {
                mods.push(Modification::new(ModKind::Add, &attr, add));
                let present = current.placeholders.as_ref().is_none_or(|p| p.contains(name));
                if let Some(empty) = rel.empty.as_ref().filter(|_| present) {
                    mods.push(Modification::new(ModKind::Delete, &attr, vec![AttrValue::text(empty)]));
                }
            }
        }
        // A rename and a move are one ModifyDN, sent before the modify.
        let new_superior = Self::new_parent(e, current, changes)?;
        if new_rdn.is_some() || new_superior.is_some() {
            let rdn = match new_rdn {
                Some(r) => r,
                None => dn::parse(&dn)
                    .ok()
                    .and_then(|rdns| rdns.first().map(|r| dn::render(std::slice::from_ref(r))))
                    .unwrap_or_default(),
            };
            let parent = new_superior.clone().or_else(|| dn::parent(&dn)).unwrap_or_default();
            ops.insert(
                0,
                Op::ModifyDn {
                    dn: dn.clone(),
                    new_rdn: rdn.clone(),
                    new_superior,
                    controls: guard.take().unwrap_or_default(),
                },
            );
            dn = dn::child(&rdn, &parent);
        }
        if !mods.is_empty() {
            let mut controls = guard.take().unwrap_or_default();
            if self.root.control(oid::PERMISSIVE_MODIFY) && mods.iter().any(|m| m.kind != ModKind::Replace) {
                controls.push(Control::PermissiveModify);
            }
            ops.push(Op::Modify {
                dn: dn.clone(),
                mods,
                controls,
            });
        }
        if let Some(password) = exop {
            ops.push(Op::PasswordModify { dn, password });
        }
        Ok(ops)
    }

    /// Without Permissive Modify, deleting an absent placeholder fails the whole modify: the
    /// relations that gain members get one Compare each (constant cost) to learn whether
    /// their placeholder is there.
    fn placeholder_checks(&self, e: &Entity, dn: &str, changes: &ChangeSet) -> Vec<(String, Op)> {
        if self.root.control(oid::PERMISSIVE_MODIFY) {
            return Vec::new();
        }
        changes
            .relations
            .iter()
            .filter(|(_, d)| !d.remove_all && !d.add.is_empty())
            .filter_map(|(name, _)| {
                let rel = e.relation(name).ok()?;
                let empty = rel.empty.as_ref()?;
                Some((
                    name.clone(),
                    Op::Compare {
                        dn: dn.to_owned(),
                        attr: rel.attribute.clone().unwrap_or_default(),
                        value: empty.clone(),
                    },
                ))
            })
            .collect()
    }

    /// Placeholders of relations whose members this modify removes without adding any:
    /// added when the server says the group would be empty (65).
    fn placeholders_for(e: &Entity, changes: &ChangeSet) -> Vec<Modification> {
        changes
            .relations
            .iter()
            .filter(|(_, d)| !d.remove_all && !d.remove.is_empty() && d.add.is_empty())
            .filter_map(|(name, _)| e.relation(name).ok())
            .filter_map(|rel| {
                let empty = rel.empty.as_ref()?;
                Some(Modification::new(
                    ModKind::Add,
                    rel.attribute.as_deref().unwrap_or_default(),
                    vec![AttrValue::text(empty)],
                ))
            })
            .collect()
    }

    /// Runs the modify operation with the membership rules: 65 → with the placeholder;
    /// without permissive modify, 20/16 → the values one per operation.
    async fn run_modify(
        &self,
        ldap: &mut Ldap,
        e: &Entity,
        changes: &ChangeSet,
        op: &Op,
    ) -> Result<(), ConnectorError> {
        let Op::Modify { dn, mods, controls } = op else {
            return self.write(ldap, op).await;
        };
        let r = self.send(ldap, op).await?;
        match r.rc {
            0 => Ok(()),
            65 => {
                let extra = Self::placeholders_for(e, changes);
                if extra.is_empty() {
                    return self.settle(ldap, op, r.rc, &r.text).await;
                }
                let mut mods = mods.clone();
                mods.extend(extra);
                let retry = Op::Modify {
                    dn: dn.clone(),
                    mods,
                    controls: controls.clone(),
                };
                Box::pin(self.run_modify(ldap, e, &ChangeSet::default(), &retry)).await
            }
            20 | 16 if mods.iter().any(|m| m.kind != ModKind::Replace) => {
                // One value per operation; each is idempotent on its own.
                let (values, rest): (Vec<Modification>, Vec<Modification>) =
                    mods.iter().cloned().partition(|m| m.kind != ModKind::Replace);
                if !rest.is_empty() {
                    self.write(
                        ldap,
                        &Op::Modify {
                            dn: dn.clone(),
                            mods: rest,
                            controls: controls.clone(),
                        },
                    )
                    .await?;
                }
                for m in values {
                    for v in m.values {
                        let single = Op::Modify {
                            dn: dn.clone(),
                            mods: vec![Modification::new(m.kind, &m.attr, vec![v])],
                            controls: Vec::new(),
                        };
                        let r = self.send(ldap, &single).await?;
                        match (r.rc, m.kind) {
                            (0, _) | (20, ModKind::Add) | (16, ModKind::Delete) => {}
                            (65, ModKind::Delete) => {
                                let Op::Modify { mut mods, .. } = single else { continue };
                                mods.extend(Self::placeholders_for(e, changes));
                                self.write(
                                    ldap,
                                    &Op::Modify {
                                        dn: dn.clone(),
                                        mods,
                                        controls: Vec::new(),
                                    },
                                )
                                .await?;
                            }
                            (rc, _) => self.settle(ldap, &single, rc, &r.text).await?,
                        }
                    }
                }
                Ok(())
            }
            rc => self.settle(ldap, op, rc, &r.text).await,
        }
    }

    async fn modify_in(
        &self,
        e: &Entity,
        id: &str,
        changes: &ChangeSet,
        expected: Option<&str>,
    ) -> Result<(), ConnectorError> {
        Self::check_version_support(e, expected)?;
        let lookup = self
            .lookup(e, id, Self::modify_attrs(e, changes))
            .ok_or(ConnectorError::NotFound)?;
        let mut conn = self.conn().await?;
        let mut current = self.current(&mut conn, e, &lookup).await?;
        let guard = self.guard(e, &current, expected)?;
        let checks = self.placeholder_checks(e, &current.dn, changes);
        if !checks.is_empty() {
            let mut present = BTreeSet::new();
            for (name, op) in checks {
                let r = self.send(&mut conn, &op).await?;
                match r.rc {
                    6 => {
                        present.insert(name);
                    }
                    5 | 16 => {}
                    rc => return Err(errors::from_code(rc, &r.text)),
                }
            }
            current.placeholders = Some(present);
        }
        let rels: Vec<(&str, Vec<String>)> = changes
            .relations
            .iter()
            .map(|(k, d)| (k.as_str(), d.add.iter().chain(&d.remove).cloned().collect()))
            .collect();
        let wanted = Self::write_ids(e, &changes.fields, rels);
        let dns = if wanted.is_empty() {
            DnMap::new()
        } else {
            self.ids_to_dns(&mut conn, &wanted).await?
        };
        let dn_of = |id: &str| dns.get(id).cloned();
        let ops = self.plan_modify(e, &current, changes, guard, &dn_of)?;
        // Nothing to write: the existence check is done, the version is compared as read.
        if ops.is_empty() && expected.is_some() && current.version.as_deref() != expected {
            return Err(ConnectorError::VersionMismatch);
        }
        let mut renamed: Option<Op> = None;
        for op in &ops {
            let result = match op {
                Op::ModifyDn {
                    dn,
                    new_rdn,
                    new_superior,
                    ..
                } => {
                    let r = self
                        .write(&mut conn, op)
                        .await
                        .map_err(|err| Self::missing_parent(err, new_superior));
                    if r.is_ok() {
                        let old_rdn = dn::parse(dn)
                            .ok()
                            .and_then(|r| r.first().cloned())
                            .map(|r| dn::render(&[r]))
                            .unwrap_or_default();
                        let old_parent = dn::parent(dn).unwrap_or_default();
                        let parent = new_superior.clone().unwrap_or_else(|| old_parent.clone());
                        let undo = Op::ModifyDn {
                            dn: dn::child(new_rdn, &parent),
                            new_rdn: old_rdn,
                            new_superior: new_superior.is_some().then_some(old_parent),
                            controls: Vec::new(),
                        };
                        renamed = Some(undo);
                    }
                    r
                }
                Op::Modify { .. } => self.run_modify(&mut conn, e, changes, op).await,
                other => self.write(&mut conn, other).await,
            };
            if let Err(err) = result {
                if let Some(back) = renamed.take()
                    && let Err(undo) = self.write(&mut conn, &back).await
                {
                    return Err(ConnectorError::Backend(format!(
                        "{err}; and the rename could not be undone: {undo}"
                    )));
                }
                return Err(err);
            }
        }
        Ok(())
    }

    async fn delete_in(&self, e: &Entity, id: &str, expected: Option<&str>) -> Result<(), ConnectorError> {
        Self::check_version_support(e, expected)?;
        let lookup = self.lookup(e, id, Vec::new()).ok_or(ConnectorError::NotFound)?;
        let mut conn = self.conn().await?;
        let current = self.current(&mut conn, e, &lookup).await?;
        let controls = self.guard(e, &current, expected)?;
        self.write(
            &mut conn,
            &Op::Delete {
                dn: current.dn,
                controls,
            },
        )
        .await
    }

    // ----- explain ----------------------------------------------------------------------

    fn placeholder_dn(id: &str) -> Option<String> {
        Some(format!("<dn of id {id}>"))
    }

    fn explain_resolution(&self, wanted: &[(Vec<EntityId>, String)]) -> Vec<String> {
        let mut by_targets: BTreeMap<Vec<EntityId>, Vec<String>> = BTreeMap::new();
        for (t, id) in wanted {
            by_targets.entry(t.clone()).or_default().push(id.clone());
        }
        by_targets
            .into_iter()
            .flat_map(|(t, ids)| self.id_searches(&t, &dedup(&ids)))
            .map(|(_, s)| s.to_string())
            .collect()
    }

    fn explain_reads(&self, e: &Entity, read: &ReadSet) -> Vec<String> {
        let mut targets = BTreeSet::new();
        for r in &read.relations {
            if let Ok(rel) = e.relation(r) {
                targets.extend(rel.targets.iter().copied());
            }
        }
        for r in &e.spec.references {
            targets.extend(r.targets.iter().copied());
        }
        targets
            .into_iter()
            .filter_map(|t| self.entity(t).ok())
            .map(|te| {
                let attr = self.dn_attr();
                let s = self.search_of(
                    &te.cfg.base,
                    te.scope(),
                    te.scoped(&format!("(|({attr}=<linked dn>)…)")),
                    vec![te.id_attr().to_owned()],
                );
                format!("{s} -- per ≤{BATCH} linked DNs of the page")
            })
            .collect()
    }
}

/// The upper bound of `attr;range=lo-hi`; `None` for `*` (the last range).
fn range_end(attr: &str) -> Option<u64> {
    let lower = attr.to_ascii_lowercase();
    let (_, range) = lower.split_once(";range=")?;
    let (_, hi) = range.split_once('-')?;
    let hi = hi.split(';').next().unwrap_or(hi);
    if hi == "*" { None } else { hi.parse().ok() }
}

#[async_trait]
impl Connector for LdapConnector {
    fn kind(&self) -> &'static str {
        "ldap"
    }

    fn capabilities(&self, entity: EntityId) -> &Capabilities {
        self.capabilities.get(entity.0).unwrap_or(&NO_CAPABILITIES)
    }

    fn unsupported(&self, entity: EntityId, f: &super::Filter) -> Vec<Unsupported> {
        let mut out = Vec::new();
        if let Ok(e) = self.entity(entity) {
            filter::unsupported(e, self.schema.as_ref(), f, &mut out);
        }
        out
    }

    async fn health(&self) -> Result<(), ConnectorError> {
        self.timed(async {
            let mut conn = self.conn().await?;
            pool::read_root_dse(&mut conn, self.op_timeout).await.map(drop)
        })
        .await
    }

    async fn create(&self, entity: EntityId, record: &NewRecord) -> Result<Record, ConnectorError> {
        let e = self.entity(entity)?;
        self.timed(self.under_rules(entity, OpKind::Create, Box::pin(self.create_in(e, record))))
            .await
    }

    async fn get(&self, entity: EntityId, id: &str, read: &ReadSet) -> Result<Option<Record>, ConnectorError> {
        let e = self.entity(entity)?;
        Self::read_attrs(e, read)?;
        self.timed(self.under_rules(entity, OpKind::Get, Box::pin(self.get_in(e, id, read))))
            .await
    }

    async fn search(&self, entity: EntityId, query: &Query) -> Result<SearchPage, ConnectorError> {
        let e = self.entity(entity)?;
        self.timed(self.under_rules(entity, OpKind::Search, Box::pin(self.search_in(entity, e, query))))
            .await
    }

    async fn modify(
        &self,
        entity: EntityId,
        id: &str,
        changes: &ChangeSet,
        expected_version: Option<&str>,
    ) -> Result<(), ConnectorError> {
        let e = self.entity(entity)?;
        let modify = Box::pin(self.modify_in(e, id, changes, expected_version));
        self.timed(self.under_rules(entity, OpKind::Update, modify)).await
    }

    async fn delete(&self, entity: EntityId, id: &str, expected_version: Option<&str>) -> Result<(), ConnectorError> {
        let e = self.entity(entity)?;
        self.timed(self.under_rules(
            entity,
            OpKind::Delete,
            Box::pin(self.delete_in(e, id, expected_version)),
        ))
        .await
    }

    fn explain(&self, entity: EntityId, operation: &Operation<'_>) -> Result<Vec<String>, ConnectorError> {
        let e = self.entity(entity)?;
        let no_key = |id: &str| vec![format!("-- no statement: `{id}` cannot be a key of {}", e.name())];
        let dn_of = |id: &str| Self::placeholder_dn(id);
        match *operation {
            Operation::Create(record) => {
                let rels: Vec<(&str, Vec<String>)> =
                    record.relations.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
                let mut out = self.explain_resolution(&Self::write_ids(e, &record.fields, rels));
                let (dn, add, exop) = self.plan_create(e, record, &dn_of)?;
                out.push(add.to_string());
                out.extend(exop.map(|x| x.to_string()));
                out.push(self.readback(e, &dn)?.to_string());
                out.extend(self.explain_reads(e, &ReadSet::default()));
                Ok(out)
            }
            Operation::Search(query) => {
                if matches!(query.filter, super::Filter::False) {
                    return Ok(vec!["-- no operation: the filter matches nothing".to_owned()]);
                }
                let mut wanted = Vec::new();
                filter::ids_to_resolve(e, &query.filter, &mut wanted);
                let mut out = self.explain_resolution(&wanted);
                let page = self.page_search(entity, e, query, &dn_of)?;
                if let PageRequest::Cursor { cursor: Some(c), .. } = &query.page {
                    Cursor::decode(c)?;
                }
                if query.want_total {
                    out.push(Self::count_search(&page).to_string());
                }
                out.push(page.to_string());
                out.extend(self.explain_reads(e, &query.read));
                Ok(out)
            }
            Operation::Modify {
                id,
                changes,
                expected_version,
            } => {
                Self::check_version_support(e, expected_version)?;
                let Some(lookup) = self.lookup(e, id, Self::modify_attrs(e, changes)) else {
                    return Ok(no_key(id));
                };
                let mut out = vec![lookup.to_string()];
                let rels: Vec<(&str, Vec<String>)> = changes
                    .relations
                    .iter()
                    .map(|(k, d)| (k.as_str(), d.add.iter().chain(&d.remove).cloned().collect()))
                    .collect();
                out.extend(self.explain_resolution(&Self::write_ids(e, &changes.fields, rels)));
                let checks = self.placeholder_checks(e, &format!("<dn of id {id}>"), changes);
                out.extend(checks.iter().map(|(_, op)| op.to_string()));
                // Unchanged inputs of a parent template are read from the entry at run time.
                let entry = RawEntry {
                    dn: String::new(),
                    attrs: e
                        .placement
                        .inputs()
                        .iter()
                        .map(|f| (f.clone(), vec![format!("<current {f}>").into_bytes()]))
                        .collect(),
                };
                let current = Current {
                    dn: format!("<dn of id {id}>"),
                    version: expected_version.map(str::to_owned),
                    entry,
                    placeholders: None,
                };
                let guard = self.guard(e, &current, expected_version)?;
                out.extend(
                    self.plan_modify(e, &current, changes, guard, &dn_of)?
                        .iter()
                        .map(Op::to_string),
                );
                Ok(out)
            }
            Operation::Delete { id } => {
                let Some(lookup) = self.lookup(e, id, Vec::new()) else {
                    return Ok(no_key(id));
                };
                Ok(vec![
                    lookup.to_string(),
                    Op::Delete {
                        dn: format!("<dn of id {id}>"),
                        controls: Vec::new(),
                    }
                    .to_string(),
                ])
            }
        }
    }
}
