//! String helpers for `[X.compute]` templates: the few functions that naming rules in real
//! directories need (AD's `sAMAccountName` is the part of the UPN before `@`, at most 20
//! characters, without `"/\[]:;|=,+*?<>`).
//!
//! `{{before userName "@"}}`, `{{after userName "@"}}`, `{{truncate s 20}}`, `{{lower s}}`,
//! `{{upper s}}`, `{{replace s "from" "to"}}`, `{{strip s "chars"}}`; they nest as
//! sub-expressions: `{{truncate (before userName "@") 20}}`.

use handlebars::{Handlebars, handlebars_helper};

handlebars_helper!(before: |s: str, sep: str| s.split_once(sep).map_or(s, |(head, _)| head).to_owned());
handlebars_helper!(after: |s: str, sep: str| s.split_once(sep).map_or("", |(_, tail)| tail).to_owned());
handlebars_helper!(truncate: |s: str, n: u64| {
    s.chars().take(usize::try_from(n).unwrap_or(usize::MAX)).collect::<String>()
});
handlebars_helper!(lower: |s: str| s.to_lowercase());
handlebars_helper!(upper: |s: str| s.to_uppercase());
handlebars_helper!(replace: |s: str, from: str, to: str| {
    if from.is_empty() { s.to_owned() } else { s.replace(from, to) }
});
handlebars_helper!(strip: |s: str, chars: str| s.chars().filter(|c| !chars.contains(*c)).collect::<String>());

/// The helpers' names, for `scimgate check` hints.
pub const NAMES: &[&str] = &["before", "after", "truncate", "lower", "upper", "replace", "strip"];

pub fn register(hb: &mut Handlebars<'_>) {
    hb.register_helper("before", Box::new(before));
    hb.register_helper("after", Box::new(after));
    hb.register_helper("truncate", Box::new(truncate));
    hb.register_helper("lower", Box::new(lower));
    hb.register_helper("upper", Box::new(upper));
    hb.register_helper("replace", Box::new(replace));
    hb.register_helper("strip", Box::new(strip));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn render(template: &str, data: serde_json::Value) -> Result<String, String> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::no_escape);
        register(&mut hb);
        hb.render_template(template, &data).map_err(|e| e.to_string())
    }

    #[test]
    fn ad_sam_account_name_from_a_upn() {
        let t = r#"{{truncate (strip (before userName "@") "\"/\\[]:;|=,+*?<>") 20}}"#;
        let cases = [
            ("AdeleV@contoso.com", "AdeleV"),
            ("no-at-sign", "no-at-sign"),
            ("a.very.long.name.for.a.logon@contoso.com", "a.very.long.name.for"),
            ("we[ird]\"na+me@x", "weirdname"),
            ("Zoë.Ångström@x", "Zoë.Ångström"),
        ];
        for (upn, want) in cases {
            assert_eq!(render(t, json!({"userName": upn})).unwrap(), want, "{upn}");
        }
    }

    #[test]
    fn each_helper() {
        let d = json!({"u": "Ann.Lee@Example.com"});
        assert_eq!(render("{{after u \"@\"}}", d.clone()).unwrap(), "Example.com");
        assert_eq!(render("{{after u \"#\"}}", d.clone()).unwrap(), "");
        assert_eq!(render("{{lower u}}", d.clone()).unwrap(), "ann.lee@example.com");
        assert_eq!(render("{{upper (before u \".\")}}", d.clone()).unwrap(), "ANN");
        assert_eq!(
            render("{{replace u \".\" \"_\"}}", d.clone()).unwrap(),
            "Ann_Lee@Example_com"
        );
        assert_eq!(
            render("{{replace u \"\" \"_\"}}", d.clone()).unwrap(),
            "Ann.Lee@Example.com"
        );
        assert_eq!(render("{{truncate u 3}}", d.clone()).unwrap(), "Ann");
        // Strict mode: a missing input is an error, not an empty string.
        assert!(render("{{before missing \"@\"}}", d).is_err());
    }
}
