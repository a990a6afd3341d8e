//! The shared connector contract suite (`connectors/SPEC.md` §16).
//!
//! Every case runs against every fixture through the `Connector` trait alone. A fixture builds
//! a real connector from real mapping files through the library's own pipeline and discovers
//! the backend names (fields, child tables, relations) from the compiled mappings, so the
//! cases never name a backend column. A new backend plugs in by adding a fixture to
//! `fixtures.rs` and one `contract_suite!` line below.
//!
//! Each case is its own test, named `<fixture>::<case>`; cases are named after the SPEC
//! section they check (`s06_1_…` is §6.1). Every case makes its own uniquely named data, so
//! the cases of a fixture share one backend and run concurrently on it;
//! `<fixture>::whole_suite_on_fresh_backend` also runs them all in sequence on a fresh one.

mod fixture;
mod fixtures;
mod identity;
mod misc;
mod paging;
mod relations;
mod scope;
mod search;
mod writes;

pub use fixture::Fixture;

/// The case list, in SPEC order. Calls `$callback! { $($args)* [module::case, ...] }`.
macro_rules! with_cases {
    ($callback:ident ! { $($args:tt)* }) => {
        $callback! { $($args)* [
            misc::s02_capabilities_consistent,
            identity::s03_impossible_ids,
            identity::s03_id_filter,
            identity::s03_id_survives_rename,
            scope::s04_scope_hides_entries,
            scope::s04_scope_create_read_back,
            relations::s05_read_set,
            search::s06_1_eq_ignore_case,
            search::s06_1_eq_case_sensitive,
            search::s06_1_ne_includes_absent,
            search::s06_1_ordering_ops,
            search::s06_1_co_sw_ew_literal_wildcards,
            search::s06_1_present,
            search::s06_1_and_or_not,
            search::s06_1_true_false,
            search::s06_1_child,
            search::s06_1_related,
            search::s06_1_timestamps,
            paging::s06_2_sort_by_field,
            paging::s06_2_sort_ties_and_missing,
            paging::s06_3_offset_pages,
            paging::s06_3_offset_beyond_end,
            paging::s06_3_cursor_pages,
            paging::s06_3_cursor_keyset_survives_deletes,
            paging::s06_3_invalid_cursor,
            identity::s07_create_returns_entry_as_stored,
            writes::s07_multiple_values_single_valued_field,
            writes::s07_managed_fields_refused,
            writes::s07_s08_children,
            writes::s08_modify_changes_only_listed_fields,
            writes::s08_empty_list_clears_field,
            writes::s08_empty_change_set,
            relations::s08_relation_deltas,
            relations::s08_touch_bumps_version,
            writes::s09_expected_version,
            writes::s09_modify_unknown_id,
            relations::s10_delete_removes_links,
            writes::s10_delete,
            writes::s10_delete_stale_version,
            writes::s11_rollback_on_failure,
            writes::s12_uniqueness_conflict,
            relations::s12_dangling_reference,
            writes::s12_unknown_names_unsupported,
            misc::s13_health,
            misc::s14_explain_does_not_write,
            misc::s15_unsupported_agrees_with_search,
        ] }
    };
}

/// Stamps out one test per case for a fixture. All cases of a fixture share one connector
/// (one backend), built once on the shared runtime: an sqlx pool must not outlive the runtime
/// that made it, so the tests cannot each have their own `#[tokio::test]` runtime. Cases run
/// concurrently on it, which also checks that they do not depend on each other's data. A
/// fixture builder returns `None` when its backend is not up; the tests then report the skip
/// and pass. `whole_suite_on_fresh_backend` runs `suite()` on a connector of its own.
macro_rules! contract_suite {
    ($name:ident = $build:path [ $($module:ident :: $case:ident),* $(,)? ]) => {
        mod $name {
            static FIXTURE: tokio::sync::OnceCell<Option<crate::Fixture>> = tokio::sync::OnceCell::const_new();

            $(
                #[test]
                fn $case() {
                    crate::runtime().block_on(async {
                        match FIXTURE.get_or_init($build).await {
                            Some(f) => crate::$module::$case(f).await,
                            None => eprintln!("SKIPPED {}::{}: backend not available", stringify!($name), stringify!($case)),
                        }
                    });
                }
            )*

            #[test]
            fn whole_suite_on_fresh_backend() {
                crate::runtime().block_on(async {
                    match $build().await {
                        Some(f) => crate::suite(&f).await,
                        None => eprintln!("SKIPPED {}: backend not available", stringify!($name)),
                    }
                });
            }
        }
    };
}

/// The runtime every contract test runs on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

/// Defines `suite(fixture)`, which runs every case in order on one fixture.
macro_rules! define_suite {
    ([ $($module:ident :: $case:ident),* $(,)? ]) => {
        /// Runs every case of the contract on one fixture, in order.
        pub async fn suite(f: &Fixture) {
            $(
                $module::$case(f).await;
            )*
        }
    };
}

with_cases!(define_suite! {});
with_cases!(contract_suite! { sqlite = crate::fixtures::sqlite });
with_cases!(contract_suite! { sqlite_scoped = crate::fixtures::sqlite_scoped });
with_cases!(contract_suite! { ldap = crate::fixtures::ldap });
with_cases!(contract_suite! { ldap_scoped = crate::fixtures::ldap_scoped });
