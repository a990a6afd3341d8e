//! `scimgate check`, `map` and `test`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value as Json;

use crate::app::{self, EndpointPlan, Files};
use crate::config::{Config, Diagnostics};
use crate::connector::{Connector, Operation, PageRequest, Query, ReadSet};
use crate::mapping::compile::Compiled;
use crate::mapping::filter::translate;
use crate::mapping::record::{self, RefContext};
use crate::scim::filter::{FilterLimits, parse_filter};
use crate::scim::{ScimError, patch};

const EXIT_FAILED: u8 = 1;
const EXIT_UNAVAILABLE: u8 = 69;
const EXIT_CONFIG: u8 = 78;

fn load(config: Option<&Path>) -> Result<(Config, Files, Vec<EndpointPlan>), Diagnostics> {
    let (config, files) = app::load_config(config)?;
    let plans = app::plan(&config, files)?;
    Ok((config, files, plans))
}

/// `scimgate check`
pub async fn check(config: Option<&Path>, offline: bool) -> ExitCode {
    let (config, files, plans) = match load(config) {
        Ok(x) => x,
        Err(d) => {
            eprintln!("{d}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let mut unreachable = false;
    let mut misconfigured = false;
    for plan in &plans {
        let types: Vec<&str> = plan.compiled.iter().map(|c| c.resource.name.as_str()).collect();
        println!(
            "endpoint {} at {}: {} ({})",
            plan.name,
            plan.path,
            types.join(", "),
            plan.connector.kind()
        );
        match app::connector_for(plan, &config, files, offline).await {
            Err(e) => {
                eprintln!("error: {e}");
                if offline {
                    misconfigured = true;
                } else {
                    unreachable = true;
                }
            }
            Ok(c) if !offline => match c.health().await {
                Ok(()) => println!("  connector {}: reachable", plan.connector_name),
                Err(e) => {
                    eprintln!("error: connector {}: {e}", plan.connector_name);
                    unreachable = true;
                }
            },
            Ok(_) => {}
        }
    }
    if misconfigured {
        return ExitCode::from(EXIT_CONFIG);
    }
    if unreachable {
        return ExitCode::from(EXIT_UNAVAILABLE);
    }
    println!("config OK");
    ExitCode::SUCCESS
}

/// Arguments of `scimgate map`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("request").required(true).args(["create", "patch", "filter"])))]
pub struct MapArgs {
    /// Path to scimgate.toml; the built-in quickstart when absent.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The resource type, e.g. User.
    #[arg(long = "resource-type")]
    resource_type: String,
    /// A SCIM resource (JSON file) to create.
    #[arg(long, value_name = "FILE.json")]
    create: Option<PathBuf>,
    /// An id and a PatchOp (JSON file). The current resource is read from the backend
    /// (never written); with --offline it starts empty.
    #[arg(long, num_args = 2, value_names = ["ID", "FILE.json"])]
    patch: Option<Vec<String>>,
    /// A SCIM filter.
    #[arg(long)]
    filter: Option<String>,
    /// Do not contact the backend.
    #[arg(long)]
    offline: bool,
}

/// `scimgate map`
pub async fn map(args: MapArgs) -> ExitCode {
    let (config, files, plans) = match load(args.config.as_deref()) {
        Ok(x) => x,
        Err(d) => {
            eprintln!("{d}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let Some((plan, compiled)) = plans.iter().find_map(|p| {
        p.compiled
            .iter()
            .find(|c| c.resource.name.eq_ignore_ascii_case(&args.resource_type))
            .map(|c| (p, c))
    }) else {
        eprintln!("error: no resource type {:?} in this config", args.resource_type);
        return ExitCode::from(EXIT_CONFIG);
    };
    let offline = args.offline || args.patch.is_none();
    let connector = match app::connector_for(plan, &config, files, offline).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_UNAVAILABLE);
        }
    };
    let input = |p: &Path| -> Result<Json, ScimError> {
        let text = std::fs::read_to_string(p)
            .map_err(|e| ScimError::invalid_value(format!("cannot read {}: {e}", p.display())))?;
        serde_json::from_str(&text).map_err(|e| ScimError::invalid_syntax(format!("{}: {e}", p.display())))
    };
    let result = if let Some(path) = &args.create {
        match input(path) {
            Ok(body) => explain_create(connector.as_ref(), compiled, &body),
            Err(e) => Err(e),
        }
    } else if let Some(filter) = &args.filter {
        explain_filter(connector.as_ref(), compiled, filter)
    } else if let Some([id, path]) = args.patch.as_deref() {
        match input(Path::new(path)) {
            Ok(body) => {
                let current = if args.offline {
                    Ok(None)
                } else {
                    connector
                        .get(compiled.resource.entity, id, &ReadSet::default())
                        .await
                        .map_err(ScimError::from)
                };
                match current {
                    Ok(current) => explain_patch(connector.as_ref(), compiled, id, current.as_ref(), &body),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    } else {
        Err(ScimError::invalid_value("give --create, --patch or --filter"))
    };
    match result {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("SCIM error: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn explained(r: Result<Vec<String>, crate::connector::ConnectorError>) -> Result<Vec<String>, ScimError> {
    r.map_err(ScimError::from)
}

/// The statements a create would run.
pub fn explain_create(connector: &dyn Connector, c: &Compiled, body: &Json) -> Result<Vec<String>, ScimError> {
    let rt = &c.resource;
    let rec = crate::engine::new_record(rt, body)?;
    explained(connector.explain(rt.entity, &Operation::Create(&rec)))
}

/// The query a filter would run.
pub fn explain_filter(connector: &dyn Connector, c: &Compiled, filter: &str) -> Result<Vec<String>, ScimError> {
    let rt = &c.resource;
    let parsed = parse_filter(filter, &FilterLimits::default())?;
    crate::scim::filter::validate(&parsed, &rt.schema)?;
    let t = translate(&parsed, rt)?;
    let query = Query {
        filter: t.filter,
        sort: None,
        page: PageRequest::Offset { offset: 0, count: 100 },
        read: ReadSet::default(),
        want_total: false,
    };
    let mut lines = explained(connector.explain(rt.entity, &Operation::Search(&query)))?;
    if !t.exact {
        lines.push("-- superset: candidates are re-checked in memory (scan_limit)".into());
    }
    Ok(lines)
}

/// The statements a PATCH would run against `current` (or an empty resource).
pub fn explain_patch(
    connector: &dyn Connector,
    c: &Compiled,
    id: &str,
    current: Option<&crate::connector::Record>,
    body: &Json,
) -> Result<Vec<String>, ScimError> {
    let rt = &c.resource;
    let refs = RefContext::default();
    let empty = crate::connector::Record {
        id: id.to_owned(),
        ..Default::default()
    };
    let current_view = record::from_record(current.unwrap_or(&empty), rt, &refs);
    let ops = patch::parse_patch(body, &FilterLimits::default(), 10_000)?;
    let changes = crate::engine::patch_changes(rt, &current_view, &ops)?;
    explained(connector.explain(
        rt.entity,
        &Operation::Modify {
            id,
            changes: &changes,
            expected_version: None,
        },
    ))
}

/// `scimgate test`
pub async fn test(config: Option<&Path>) -> ExitCode {
    let (config, files, plans) = match load(config) {
        Ok(x) => x,
        Err(d) => {
            eprintln!("{d}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    for plan in &plans {
        let connector = match app::connector_for(plan, &config, files, true).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        };
        for c in &plan.compiled {
            for (n, case) in c.tests.iter().enumerate() {
                let (line, _) = c.source.position(case.span().start);
                let label = case
                    .get_ref()
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("test #{}", n + 1));
                match run_case(connector.as_ref(), c, case.get_ref()) {
                    Ok(()) => {
                        passed += 1;
                        println!("ok   {}:{line} {}.{label}", c.source.path.display(), c.resource.name);
                    }
                    Err(why) => {
                        failed += 1;
                        println!(
                            "FAIL {}:{line} {}.{label}\n{why}",
                            c.source.path.display(),
                            c.resource.name
                        );
                    }
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs one `[[X.test]]` case; `Err` carries a readable diff.
pub fn run_case(connector: &dyn Connector, c: &Compiled, case: &crate::mapping::file::TestSpec) -> Result<(), String> {
    let parse = |s: &str| serde_json::from_str::<Json>(s).map_err(|e| format!("  the test's JSON is invalid: {e}"));
    let result = if let Some(f) = &case.filter {
        explain_filter(connector, c, f)
    } else if let Some(body) = &case.create {
        explain_create(connector, c, &parse(body)?)
    } else if let Some(body) = &case.patch {
        let given = given_record(case);
        let id = case.id.as_deref().unwrap_or("1");
        explain_patch(connector, c, id, Some(&given), &parse(body)?)
    } else {
        return Err("  the test has no input: give filter, create or patch".into());
    };
    match (&case.scim_error, result) {
        (Some(expected), Err(e)) => {
            let got = format!(
                "{}{}",
                e.status,
                e.scim_type.map(|t| format!(" {}", t.as_str())).unwrap_or_default()
            );
            if &got == expected {
                Ok(())
            } else {
                Err(format!(
                    "  expected error: {expected}\n  got error:      {got} ({})",
                    e.detail
                ))
            }
        }
        (Some(expected), Ok(lines)) => Err(format!(
            "  expected error: {expected}\n  got:\n    {}",
            lines.join("\n    ")
        )),
        (None, Err(e)) => Err(format!("  unexpected error: {e}")),
        (None, Ok(lines)) => {
            let expected = case.sql.as_ref().map(|s| s.to_vec()).unwrap_or_default();
            if expected.is_empty() {
                return Err(format!(
                    "  the test states no expectation (sql or scim_error); got:\n    {}",
                    lines.join("\n    ")
                ));
            }
            let missing: Vec<&String> = expected
                .iter()
                .filter(|e| !lines.iter().any(|l| l == *e || l.contains(e.as_str())))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "  expected:\n    {}\n  got:\n    {}",
                    missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n    "),
                    lines.join("\n    ")
                ))
            }
        }
    }
}

fn given_record(case: &crate::mapping::file::TestSpec) -> crate::connector::Record {
    let mut rec = crate::connector::Record {
        id: case.id.clone().unwrap_or_else(|| "1".into()),
        ..Default::default()
    };
    for (k, v) in &case.given {
        let value = crate::mapping::compile::toml_to_value(v);
        if !matches!(&value, crate::connector::Value::Text(s) if s.is_empty()) {
            rec.fields.insert(k.clone(), vec![value]);
        }
    }
    rec
}
