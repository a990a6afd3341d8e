//! Where an entry lives: the `parent` of an entity, either a fixed DN or a template over the
//! entry's own attributes, e.g. `ou={{departmentNumber}},ou=people,dc=example,dc=org`.
//!
//! A template makes the entry's position data: a create puts the entry under the rendered
//! parent, and a write that changes one of the template's inputs moves it (ModifyDN with
//! newSuperior; the id stays). The template language is deliberately tiny, so that request
//! data can only ever become an escaped attribute *value*: `{{attr}}` right after an `=`, and
//! `{{#if attr}}…{{/if}}` / `{{#unless attr}}…{{/unless}}` (with `{{else}}`) for optional
//! levels. Raw output (`{{{attr}}}`), helpers and partials are refused at load.

use handlebars::template::{HelperTemplate, Parameter, Template, TemplateElement};
use handlebars::{Handlebars, RenderErrorReason};
use serde_json::{Map, Value as Json};

use super::dn;
use crate::connector::ConnectorError;

const TEMPLATE_NAME: &str = "parent";

pub enum Placement {
    Fixed(String),
    Template(Box<ParentTemplate>),
}

pub struct ParentTemplate {
    source: String,
    registry: Handlebars<'static>,
    /// The fields the template reads, spelled as the mapping spells them.
    inputs: Vec<String>,
}

impl Placement {
    /// `parent` as configured (`None`: the entity's `base`); `fields` are the entity's mapped
    /// fields, which a template may read.
    pub fn parse(parent: Option<&str>, base: &str, fields: &[String]) -> Result<Placement, String> {
        let source = parent.unwrap_or(base);
        if !source.contains("{{") {
            dn::parse(source)?;
            return Ok(Placement::Fixed(source.to_owned()));
        }
        let template = Template::compile(source).map_err(|e| format!("template error: {e}"))?;
        let mut names = Vec::new();
        collect_inputs(&template.elements, &mut names)?;
        let mut inputs: Vec<String> = Vec::new();
        for name in names {
            let field = fields
                .iter()
                .find(|f| f.eq_ignore_ascii_case(&name))
                .ok_or_else(|| format!("`{{{{{name}}}}}` is not one of the entity's mapped attributes"))?;
            if field != &name {
                return Err(format!(
                    "write `{{{{{field}}}}}` as the mapping spells it, not `{name}`"
                ));
            }
            if !inputs.contains(field) {
                inputs.push(field.clone());
            }
        }
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(dn::escape_value);
        registry
            .register_template_string(TEMPLATE_NAME, source)
            .map_err(|e| format!("template error: {e}"))?;
        Ok(Placement::Template(Box::new(ParentTemplate {
            source: source.to_owned(),
            registry,
            inputs,
        })))
    }

    /// The fields whose change moves the entry (none for a fixed parent).
    pub fn inputs(&self) -> &[String] {
        match self {
            Placement::Fixed(_) => &[],
            Placement::Template(t) => &t.inputs,
        }
    }

    pub fn is_template(&self) -> bool {
        matches!(self, Placement::Template(_))
    }

    /// The parent DN for an entry whose fields have the values `value_of` gives (the backend's
    /// values, after conversion). An empty value counts as missing.
    pub fn render(&self, value_of: impl Fn(&str) -> Option<String>) -> Result<String, ConnectorError> {
        let t = match self {
            Placement::Fixed(parent) => return Ok(parent.clone()),
            Placement::Template(t) => t,
        };
        let context: Map<String, Json> = t
            .inputs
            .iter()
            .filter_map(|f| {
                value_of(f)
                    .filter(|v| !v.is_empty())
                    .map(|v| (f.clone(), Json::String(v)))
            })
            .collect();
        let rendered = t
            .registry
            .render(TEMPLATE_NAME, &context)
            .map_err(|e| match e.reason() {
                RenderErrorReason::MissingVariable(Some(name)) => ConnectorError::InvalidValue {
                    field: Some(name.clone()),
                    detail: format!(
                        "the entry's place in the directory (`{}`) needs a value for it",
                        t.source
                    ),
                },
                other => ConnectorError::Backend(format!("parent template `{}`: {other}", t.source)),
            })?;
        match dn::parse(&rendered) {
            Ok(rdns) if rdns.iter().flatten().all(|(_, v)| !v.is_empty()) => Ok(rendered),
            _ => Err(ConnectorError::InvalidValue {
                field: t.inputs.first().cloned(),
                detail: format!("`{rendered}` is not a usable parent DN (from `{}`)", t.source),
            }),
        }
    }
}

/// The variables a template reads; refuses every construct but `{{attr}}` after `=` and
/// `if`/`unless` blocks over one attribute.
fn collect_inputs(elements: &[TemplateElement], out: &mut Vec<String>) -> Result<(), String> {
    let mut after_equals = false;
    for element in elements {
        match element {
            TemplateElement::RawString(s) => after_equals = s.ends_with('='),
            TemplateElement::Comment(_) => {}
            TemplateElement::Expression(h) => {
                if !h.params.is_empty() || !h.hash.is_empty() {
                    return Err(format!(
                        "`{{{{{}}}}}`: helpers are not allowed here, only attribute names",
                        h.name.as_name().unwrap_or("?")
                    ));
                }
                if !after_equals {
                    return Err("a `{{attribute}}` must come right after an `=`: it is an RDN value".into());
                }
                out.push(variable(&h.name)?);
                after_equals = false;
            }
            TemplateElement::HelperBlock(h) => {
                block(h, out)?;
                after_equals = false;
            }
            TemplateElement::HtmlExpression(_) => {
                return Err("`{{{…}}}` writes a value unescaped; use `{{attribute}}`".into());
            }
            // Decorators, partials, and whatever later versions add.
            _ => return Err("only `{{attribute}}` and `#if`/`#unless` blocks are allowed (no partials)".into()),
        }
    }
    Ok(())
}

fn block(h: &HelperTemplate, out: &mut Vec<String>) -> Result<(), String> {
    let name = h.name.as_name().unwrap_or_default();
    if !matches!(name, "if" | "unless") {
        return Err(format!(
            "`{{{{#{name}}}}}`: only `#if` and `#unless` blocks are allowed"
        ));
    }
    let [param] = h.params.as_slice() else {
        return Err(format!("`{{{{#{name}}}}}` takes one attribute name"));
    };
    out.push(variable(param)?);
    for inner in [&h.template, &h.inverse].into_iter().flatten() {
        collect_inputs(&inner.elements, out)?;
    }
    Ok(())
}

fn variable(p: &Parameter) -> Result<String, String> {
    let name = match p {
        Parameter::Name(_) | Parameter::Path(_) => p.as_name().unwrap_or_default(),
        _ => "",
    };
    if name.is_empty() || name.contains(['.', '/', '@']) {
        return Err(format!(
            "`{}` is not an attribute name",
            if name.is_empty() {
                "a literal or sub-expression"
            } else {
                name
            }
        ));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Vec<String> {
        ["uid", "departmentNumber", "l", "cn"].map(String::from).to_vec()
    }

    fn template(src: &str) -> Placement {
        Placement::parse(Some(src), "dc=example,dc=org", &fields()).unwrap()
    }

    fn values<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |f| pairs.iter().find(|(k, _)| *k == f).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn fixed_parent_defaults_to_base() {
        let p = Placement::parse(None, "ou=people,dc=example,dc=org", &fields()).unwrap();
        assert!(!p.is_template());
        assert!(p.inputs().is_empty());
        assert_eq!(p.render(|_| None).unwrap(), "ou=people,dc=example,dc=org");
    }

    #[test]
    fn values_are_escaped_as_rdn_values() {
        let p = template("ou={{departmentNumber}},ou=people,dc=example,dc=org");
        assert_eq!(p.inputs(), ["departmentNumber"]);
        let dn = p.render(values(&[("departmentNumber", "Sales, EMEA + APAC")])).unwrap();
        assert_eq!(dn, "ou=Sales\\, EMEA \\+ APAC,ou=people,dc=example,dc=org");
        let hostile = p
            .render(values(&[("departmentNumber", "x,ou=admins,dc=example,dc=org")]))
            .unwrap();
        assert_eq!(
            dn::parse(&hostile).unwrap().len(),
            4,
            "one RDN, whatever the value: {hostile}"
        );
    }

    #[test]
    fn optional_levels_use_if_blocks() {
        let p = template("{{#if l}}l={{l}},{{/if}}ou=people,dc=example,dc=org");
        assert_eq!(
            p.render(values(&[("l", "Oslo")])).unwrap(),
            "l=Oslo,ou=people,dc=example,dc=org"
        );
        assert_eq!(p.render(|_| None).unwrap(), "ou=people,dc=example,dc=org");
        assert_eq!(p.render(values(&[("l", "")])).unwrap(), "ou=people,dc=example,dc=org");
    }

    #[test]
    fn a_missing_required_input_names_the_field() {
        let p = template("ou={{departmentNumber}},dc=example,dc=org");
        match p.render(|_| None) {
            Err(ConnectorError::InvalidValue { field, .. }) => assert_eq!(field.as_deref(), Some("departmentNumber")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unsafe_or_unknown_constructs_are_refused_at_load() {
        for (src, why) in [
            ("ou={{{departmentNumber}}},dc=org", "unescaped"),
            ("{{departmentNumber}}=x,dc=org", "right after"),
            ("ou={{lower departmentNumber}},dc=org", "helpers"),
            ("ou={{title}},dc=org", "not one of"),
            ("ou={{departmentnumber}},dc=org", "as the mapping spells it"),
            ("{{#each l}}x{{/each}}dc=org", "only `#if`"),
            ("ou={{> p}},dc=org", "partials"),
            ("ou={{a.b}},dc=org", "not an attribute name"),
            ("ou={{departmentNumber,dc=org", "template error"),
        ] {
            let err = Placement::parse(Some(src), "dc=org", &fields())
                .err()
                .unwrap_or_else(|| panic!("{src} was accepted"));
            assert!(err.contains(why), "{src}: {err}");
        }
        assert!(Placement::parse(Some("ou=x,,dc=org"), "dc=org", &fields()).is_err());
    }
}
