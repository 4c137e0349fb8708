//! The rules of the `codegraph` metadata tables, read into plain data, and the path patterns
//! they are written with.
//!
//! Every key is read through `serde_path_to_error`, so that a bad rule names its key
//! (`forbid[0].to`); a pattern that is not one is named the same way. This module knows the
//! tables' text only: nothing of the graph.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::workspace::RuleTable;

/// A rule table that cannot be read: names the manifest, the table and the key.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid `{table}` in `{manifest}`: {key}: {message}")]
pub struct RulesError {
    pub manifest: String,
    pub table: String,
    pub key: String,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawRules {
    #[serde(default)]
    deny_cycles: Vec<CycleScope>,
    #[serde(default)]
    forbid: Vec<RawForbid>,
    #[serde(default)]
    layers: Vec<String>,
    #[serde(default)]
    allow_only: Vec<RawAllowOnly>,
    #[serde(default)]
    independent: Vec<RawIndependent>,
    #[serde(default)]
    implement: Vec<RawImplement>,
    #[serde(default)]
    derive: Vec<RawDerive>,
    #[serde(default)]
    call: Vec<RawCall>,
    #[serde(default)]
    invoke: Vec<RawInvoke>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForbid {
    from: String,
    to: String,
    #[serde(default)]
    transitive: bool,
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllowOnly {
    to: String,
    from: Vec<String>,
    reason: Option<String>,
}

/// `["a", "b"]`, or `{ modules = ["a", "b"], reason = "..." }` to give a reason.
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "a list of module paths, or `{ modules = [...], reason = \"...\" }`")]
enum RawIndependent {
    Plain(Vec<String>),
    WithReason { modules: Vec<String>, reason: Option<String> },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawImplement {
    #[serde(rename = "trait")]
    trait_: String,
    only_in: Vec<String>,
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDerive {
    #[serde(rename = "in")]
    in_: String,
    forbid: Vec<String>,
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawCall {
    to: String,
    only_from: Vec<String>,
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawInvoke {
    #[serde(rename = "macro")]
    macro_: String,
    only_from: Vec<String>,
    reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CycleScope {
    Modules,
    Crates,
}

/// A path pattern: segments, `*` and `**`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub(crate) text: String,
    segments: Vec<String>,
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let segments: Vec<String> = text.split("::").map(str::to_owned).collect();
        for segment in &segments {
            let valid = segment == "*"
                || segment == "**"
                || (!segment.is_empty() && segment.chars().all(|c| c.is_alphanumeric() || c == '_'));
            if !valid {
                return Err(format!("`{text}` is not a path pattern (segments, `*` and `**`, joined by `::`)"));
            }
        }
        Ok(Pattern { text: text.to_owned(), segments })
    }

    /// A layer names a module and everything in it.
    pub(crate) fn layer(text: &str) -> Result<Pattern, String> {
        let mut pattern = Pattern::parse(text)?;
        if pattern.segments.last().is_none_or(|last| last != "**") {
            pattern.segments.push("**".to_owned());
        }
        Ok(pattern)
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn matches(&self, path: &[&str]) -> bool {
        fn go(pattern: &[String], path: &[&str]) -> bool {
            match pattern.split_first() {
                None => path.is_empty(),
                Some((first, rest)) if first == "**" => (0..=path.len()).any(|skip| go(rest, &path[skip..])),
                Some((first, rest)) => {
                    path.split_first().is_some_and(|(head, tail)| (first == "*" || first == head) && go(rest, tail))
                }
            }
        }
        go(&self.segments, path)
    }

    /// Whether the pattern matches the path or one of the items that contain it: `app::main`
    /// allows what `fn main` contains, `app::cli` all of module `cli`.
    pub fn matches_within(&self, path: &[&str]) -> bool {
        (1..=path.len()).any(|len| self.matches(&path[..len]))
    }
}

#[derive(Debug, Clone)]
pub struct Forbid {
    pub from: Pattern,
    pub to: Pattern,
    /// `from` must not reach `to` through any chain of module dependencies.
    pub transitive: bool,
    pub reason: Option<String>,
    /// Where the rule was written: `forbid[0]` of a table.
    pub origin: String,
}

/// Only `from` may depend on `to`.
#[derive(Debug, Clone)]
pub struct AllowOnly {
    pub to: Pattern,
    pub from: Vec<Pattern>,
    pub reason: Option<String>,
    pub origin: String,
}

/// None of these modules (with what they contain) may depend on another.
#[derive(Debug, Clone)]
pub struct Independent {
    /// Layer patterns: each names a module and what it contains.
    pub modules: Vec<Pattern>,
    pub reason: Option<String>,
    pub origin: String,
}

/// What a `target` (a trait, a derived trait, a function, a macro) may be used by: `implement`,
/// `derive`, `call` and `invoke` rules.
#[derive(Debug, Clone)]
pub struct Only {
    /// The trait, function or macro (`implement`, `call`, `invoke`); for `derive`, the items
    /// whose derives are checked.
    pub target: Pattern,
    /// `implement`, `call`, `invoke`: where it may be used; `derive`: the traits forbidden.
    pub allowed: Vec<Pattern>,
    pub reason: Option<String>,
    pub origin: String,
}

/// Every rule of a workspace.
#[derive(Debug, Default, Clone)]
pub struct Rules {
    pub deny_cycles: BTreeSet<CycleScope>,
    pub forbid: Vec<Forbid>,
    /// Top first; with where each list was written.
    pub layers: Vec<(Vec<Pattern>, String)>,
    pub allow_only: Vec<AllowOnly>,
    pub independent: Vec<Independent>,
    pub implement: Vec<Only>,
    /// `target` is `in`, `allowed` the forbidden traits.
    pub derive: Vec<Only>,
    pub call: Vec<Only>,
    pub invoke: Vec<Only>,
}

/// A rule as output formats describe it: its origin, kind and reason.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RuleInfo {
    /// Where the rule was written: `[workspace.metadata.codegraph] forbid[0]`.
    pub origin: String,
    /// The violation kind it gives: `forbid`, `cycle`, ...
    pub rule: &'static str,
    pub description: String,
    pub reason: Option<String>,
}

impl Rules {
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many rules: each entry of a list of rules, each `layers` list, each scope of
    /// `deny-cycles`.
    pub fn len(&self) -> usize {
        self.describe().len()
    }

    /// Every rule, sorted by origin.
    pub fn describe(&self) -> Vec<RuleInfo> {
        let join =
            |patterns: &[Pattern]| patterns.iter().map(|p| format!("`{}`", p.text)).collect::<Vec<_>>().join(", ");
        let mut out = Vec::new();
        for scope in &self.deny_cycles {
            let what = scope.name();
            out.push(RuleInfo {
                origin: scope.origin(),
                rule: "cycle",
                description: format!("no dependency cycles between {what}"),
                reason: None,
            });
        }
        for rule in &self.forbid {
            let how = if rule.transitive { "reach" } else { "depend on" };
            out.push(RuleInfo {
                origin: rule.origin.clone(),
                rule: "forbid",
                description: format!("`{}` must not {how} `{}`", rule.from.text, rule.to.text),
                reason: rule.reason.clone(),
            });
        }
        for (layers, origin) in &self.layers {
            out.push(RuleInfo {
                origin: origin.clone(),
                rule: "layers",
                description: format!("layers, top first: {}; each may depend only on those below it", join(layers)),
                reason: None,
            });
        }
        for rule in &self.allow_only {
            out.push(RuleInfo {
                origin: rule.origin.clone(),
                rule: "allow-only",
                description: format!("only {} may depend on `{}`", join(&rule.from), rule.to.text),
                reason: rule.reason.clone(),
            });
        }
        for rule in &self.independent {
            out.push(RuleInfo {
                origin: rule.origin.clone(),
                rule: "independent",
                description: format!("{} must not depend on each other", join(&rule.modules)),
                reason: rule.reason.clone(),
            });
        }
        let only = |out: &mut Vec<RuleInfo>, rules: &[Only], rule: &'static str, verb: &str| {
            for only in rules {
                out.push(RuleInfo {
                    origin: only.origin.clone(),
                    rule,
                    description: format!("`{}` may be {verb} only in {}", only.target.text, join(&only.allowed)),
                    reason: only.reason.clone(),
                });
            }
        };
        only(&mut out, &self.implement, "implement", "implemented");
        only(&mut out, &self.call, "call", "called");
        only(&mut out, &self.invoke, "invoke", "invoked");
        for rule in &self.derive {
            out.push(RuleInfo {
                origin: rule.origin.clone(),
                rule: "derive",
                description: format!("items in `{}` must not derive {}", rule.target.text, join(&rule.allowed)),
                reason: rule.reason.clone(),
            });
        }
        out.sort();
        out
    }
}

impl CycleScope {
    pub fn name(self) -> &'static str {
        match self {
            CycleScope::Modules => "modules",
            CycleScope::Crates => "crates",
        }
    }

    pub fn origin(self) -> String {
        format!("deny-cycles = [\"{}\"]", self.name())
    }
}

/// Reads the rules of every table; the first bad key is an error.
pub fn rules(tables: &[RuleTable]) -> Result<Rules, RulesError> {
    let mut rules = Rules::default();
    for table in tables {
        let error = |key: String, message: String| RulesError {
            manifest: table.manifest.clone(),
            table: table.table.clone(),
            key,
            message,
        };
        let raw: RawRules = serde_path_to_error::deserialize(&table.value).map_err(|err| {
            let key = err.path().to_string();
            error(if key == "." { "codegraph".to_owned() } else { key }, err.inner().to_string())
        })?;
        let pattern = |key: String, text: &str| Pattern::parse(text).map_err(|m| error(key, m));
        let patterns = |key: String, texts: &[String]| {
            texts
                .iter()
                .enumerate()
                .map(|(i, text)| pattern(format!("{key}[{i}]"), text))
                .collect::<Result<Vec<_>, _>>()
        };
        let origin = |key: String| format!("{} {key}", table.table);
        rules.deny_cycles.extend(raw.deny_cycles);
        for (index, forbid) in raw.forbid.iter().enumerate() {
            rules.forbid.push(Forbid {
                from: pattern(format!("forbid[{index}].from"), &forbid.from)?,
                to: pattern(format!("forbid[{index}].to"), &forbid.to)?,
                transitive: forbid.transitive,
                reason: forbid.reason.clone(),
                origin: origin(format!("forbid[{index}]")),
            });
        }
        if !raw.layers.is_empty() {
            let layers = raw
                .layers
                .iter()
                .enumerate()
                .map(|(index, text)| Pattern::layer(text).map_err(|m| error(format!("layers[{index}]"), m)))
                .collect::<Result<Vec<_>, _>>()?;
            rules.layers.push((layers, origin("layers".to_owned())));
        }
        for (index, rule) in raw.allow_only.iter().enumerate() {
            rules.allow_only.push(AllowOnly {
                to: pattern(format!("allow-only[{index}].to"), &rule.to)?,
                from: patterns(format!("allow-only[{index}].from"), &rule.from)?,
                reason: rule.reason.clone(),
                origin: origin(format!("allow-only[{index}]")),
            });
        }
        for (index, rule) in raw.independent.iter().enumerate() {
            let (texts, reason, key) = match rule {
                RawIndependent::Plain(modules) => (modules, None, format!("independent[{index}]")),
                RawIndependent::WithReason { modules, reason } => {
                    (modules, reason.clone(), format!("independent[{index}].modules"))
                }
            };
            if texts.len() < 2 {
                return Err(error(key, "an `independent` set needs at least two modules".to_owned()));
            }
            let modules = texts
                .iter()
                .enumerate()
                .map(|(i, text)| Pattern::layer(text).map_err(|m| error(format!("{key}[{i}]"), m)))
                .collect::<Result<Vec<_>, _>>()?;
            rules.independent.push(Independent { modules, reason, origin: origin(format!("independent[{index}]")) });
        }
        for (index, rule) in raw.implement.iter().enumerate() {
            rules.implement.push(Only {
                target: pattern(format!("implement[{index}].trait"), &rule.trait_)?,
                allowed: patterns(format!("implement[{index}].only-in"), &rule.only_in)?,
                reason: rule.reason.clone(),
                origin: origin(format!("implement[{index}]")),
            });
        }
        for (index, rule) in raw.derive.iter().enumerate() {
            rules.derive.push(Only {
                target: pattern(format!("derive[{index}].in"), &rule.in_)?,
                allowed: patterns(format!("derive[{index}].forbid"), &rule.forbid)?,
                reason: rule.reason.clone(),
                origin: origin(format!("derive[{index}]")),
            });
        }
        for (index, rule) in raw.call.iter().enumerate() {
            rules.call.push(Only {
                target: pattern(format!("call[{index}].to"), &rule.to)?,
                allowed: patterns(format!("call[{index}].only-from"), &rule.only_from)?,
                reason: rule.reason.clone(),
                origin: origin(format!("call[{index}]")),
            });
        }
        for (index, rule) in raw.invoke.iter().enumerate() {
            rules.invoke.push(Only {
                target: pattern(format!("invoke[{index}].macro"), &rule.macro_)?,
                allowed: patterns(format!("invoke[{index}].only-from"), &rule.only_from)?,
                reason: rule.reason.clone(),
                origin: origin(format!("invoke[{index}]")),
            });
        }
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> Pattern {
        Pattern::parse(text).unwrap()
    }

    #[test]
    fn patterns_match_segments_and_any_depth() {
        let path = |text: &'static str| text.split("::").collect::<Vec<_>>();
        assert!(pattern("app::domain::**").matches(&path("app::domain")));
        assert!(pattern("app::domain::**").matches(&path("app::domain::user::User::new")));
        assert!(!pattern("app::domain::**").matches(&path("app::domains")));
        assert!(pattern("app::*::db").matches(&path("app::infra::db")));
        assert!(!pattern("app::*::db").matches(&path("app::db")));
        assert!(pattern("**::tests::**").matches(&path("app::a::tests::it_works")));
        assert!(Pattern::layer("app::cli").unwrap().matches(&path("app::cli::args::parse")));
        assert!(pattern("app::main").matches_within(&path("app::main::inner")));
        assert!(!pattern("app::main").matches_within(&path("app::mainly")));
        assert!(Pattern::parse("app::").is_err());
        assert!(Pattern::parse("app::do-main").is_err());
    }

    fn table(value: serde_json::Value) -> RuleTable {
        RuleTable { table: "[workspace.metadata.codegraph]".to_owned(), manifest: "Cargo.toml".to_owned(), value }
    }

    #[test]
    fn bad_keys_are_named() {
        let err = rules(&[table(serde_json::json!({"forbid": [{"from": "a::**"}]}))]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid `[workspace.metadata.codegraph]` in `Cargo.toml`: forbid[0]: missing field `to`"
        );
        let err = rules(&[table(serde_json::json!({"deny-cycles": ["files"]}))]).unwrap_err();
        assert!(err.to_string().contains("deny-cycles[0]: unknown variant `files`"), "{err}");
        let err = rules(&[table(serde_json::json!({"layers": ["a", "b::"]}))]).unwrap_err();
        assert!(err.to_string().contains(": layers[1]: `b::` is not a path pattern"), "{err}");
        let err = rules(&[table(serde_json::json!({"forbids": []}))]).unwrap_err();
        assert!(err.to_string().contains("unknown field `forbids`"), "{err}");
        assert!(rules(&[table(serde_json::json!({}))]).unwrap().is_empty());
    }

    #[test]
    fn new_rule_kinds_name_their_keys() {
        let err = |value: serde_json::Value| rules(&[table(value)]).unwrap_err().to_string();
        let message = err(serde_json::json!({"allow-only": [{"to": "a::db::**", "from": ["a::repo", "a::-"]}]}));
        assert!(message.contains(": allow-only[0].from[1]: `a::-` is not a path pattern"), "{message}");
        let message = err(serde_json::json!({"implement": [{"trait": "a::T"}]}));
        assert!(message.contains(": implement[0]: missing field `only-in`"), "{message}");
        let message = err(serde_json::json!({"derive": [{"in": "a::**", "forbid": ["serde::"]}]}));
        assert!(message.contains(": derive[0].forbid[0]: `serde::` is not a path pattern"), "{message}");
        let message = err(serde_json::json!({"call": [{"to": "std::process::exit", "only-form": []}]}));
        assert!(message.contains(": call[0].only-form: unknown field `only-form`"), "{message}");
        let message = err(serde_json::json!({"invoke": [{"macro": "std::println", "only-from": [3]}]}));
        assert!(message.contains(": invoke[0].only-from[0]: invalid type"), "{message}");
        let message = err(serde_json::json!({"independent": [["a::b"]]}));
        assert!(message.contains(": independent[0]: an `independent` set needs at least two modules"), "{message}");
        let message = err(serde_json::json!({"forbid": [{"from": "a", "to": "b", "transitive": "yes"}]}));
        assert!(message.contains(": forbid[0].transitive: invalid type"), "{message}");

        let all = rules(&[table(serde_json::json!({
            "forbid": [{"from": "a::x::**", "to": "a::y::**", "transitive": true}],
            "allow-only": [{"to": "a::db::**", "from": ["a::repo::**"], "reason": "r"}],
            "independent": [["a::b", "a::c"], {"modules": ["a::d", "a::e"], "reason": "why"}],
            "implement": [{"trait": "a::T", "only-in": ["a::adapters::**"]}],
            "derive": [{"in": "a::domain::**", "forbid": ["serde::Serialize"]}],
            "call": [{"to": "std::process::exit", "only-from": ["a::main"]}],
            "invoke": [{"macro": "std::println", "only-from": ["a::cli::**"]}],
        }))])
        .unwrap();
        assert_eq!(all.len(), 8);
        assert!(all.forbid[0].transitive);
        assert_eq!(all.independent[1].reason.as_deref(), Some("why"));
    }
}
