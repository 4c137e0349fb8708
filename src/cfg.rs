//! `#[cfg(...)]` evaluation for one crate: against the target, the package's enabled features,
//! `test` (off unless asked for) and `proc_macro`, with cfg-expr; and the rustversion crate's
//! attributes, which `parse::render` gives as `rustversion = "..."` predicates, against the
//! toolchain's version (`rustversion`).
//!
//! Unknown names (`--cfg` flags such as `tokio_unstable`, `docsrs`) are off, as they are in a
//! plain `cargo build`; `debug_assertions` is on, as in cargo's default profile. A predicate that
//! does not parse is taken as true: an item is never hidden for a reason we cannot state. This
//! module knows nothing of syntax trees: predicates arrive as text.

use std::collections::BTreeSet;
use std::sync::Arc;

use cfg_expr::targets::TargetInfo;
use cfg_expr::{Expression, Predicate};

mod rustversion;

pub use rustversion::Rustc;

/// The platform a build is for: the same for every crate of it.
#[derive(Debug)]
pub struct Target {
    pub triple: String,
    /// `None` when cfg-expr does not know the triple: target predicates are then false.
    info: Option<&'static TargetInfo>,
    /// `target_feature` values, from `rustc --print cfg` (empty when rustc cannot say).
    features: BTreeSet<String>,
    /// The toolchain's version, for rustversion's attributes (`None` when rustc cannot say:
    /// they then hold).
    rustc: Option<Rustc>,
}

impl Target {
    /// The platform of `triple`, or of the host when `None` (from `rustc -vV`; `$RUSTC` if set).
    pub fn detect(triple: Option<&str>) -> Target {
        let verbose_version = rustc_verbose_version().unwrap_or_default();
        let host = || verbose_version.lines().find_map(|line| line.strip_prefix("host: ")).map(str::to_owned);
        let triple = triple.map(str::to_owned).or_else(host).unwrap_or_default();
        let features = rustc_target_features(&triple);
        Target::new(triple, features, Rustc::from_verbose_version(&verbose_version))
    }

    /// A platform as described before (`workspace::cached`).
    pub fn new(triple: String, features: BTreeSet<String>, rustc: Option<Rustc>) -> Target {
        Target { info: cfg_expr::targets::get_builtin_target_by_triple(&triple), triple, features, rustc }
    }

    /// The toolchain's version, when rustc told it.
    pub fn rustc(&self) -> Option<&Rustc> {
        self.rustc.as_ref()
    }

    /// The `target_feature` values rustc enables by default.
    pub fn features(&self) -> &BTreeSet<String> {
        &self.features
    }

    /// Whether target predicates can be evaluated.
    pub fn is_known(&self) -> bool {
        self.info.is_some()
    }
}

/// What `cfg` predicates of one crate are evaluated against.
#[derive(Clone, Debug)]
pub struct CfgContext {
    target: Arc<Target>,
    features: BTreeSet<String>,
    test: bool,
    proc_macro: bool,
    /// `cargo:rustc-cfg` flags of the package's build script (`--build-scripts`): names, and
    /// (name, value) pairs.
    flags: BTreeSet<String>,
    key_values: BTreeSet<(String, String)>,
}

impl CfgContext {
    pub fn new(target: Arc<Target>, features: BTreeSet<String>, test: bool, proc_macro: bool) -> CfgContext {
        CfgContext { target, features, test, proc_macro, flags: BTreeSet::new(), key_values: BTreeSet::new() }
    }

    /// With the cfgs a build script set, as cargo reports them (`name`, `name="value"`).
    pub fn with_build_script_cfgs(mut self, cfgs: &[String]) -> CfgContext {
        for cfg in cfgs {
            match cfg.split_once('=') {
                Some((key, value)) => {
                    let value = value.trim().trim_matches('"');
                    self.key_values.insert((key.trim().to_owned(), value.to_owned()));
                }
                None => {
                    self.flags.insert(cfg.trim().to_owned());
                }
            }
        }
        self
    }

    /// Whether an item with these `cfg` predicates (if any) is compiled, its parent being so.
    pub fn allows(&self, predicates: Option<&str>) -> bool {
        predicates.is_none_or(|predicates| self.eval(predicates))
    }

    /// Evaluates the text of one or more `cfg` predicates (several are joined by `, ` and must
    /// all hold, as several `#[cfg]` attributes on one item do).
    pub fn eval(&self, predicates: &str) -> bool {
        let Ok(expression) = Expression::parse(&format!("all({predicates})")) else { return true };
        expression.eval(|predicate| match predicate {
            Predicate::Target(target) => self.target.info.is_some_and(|info| target.matches(info)),
            Predicate::Test => self.test,
            Predicate::DebugAssertions => true,
            Predicate::ProcMacro => self.proc_macro,
            Predicate::Feature(feature) => self.features.contains(*feature),
            Predicate::TargetFeature(feature) => self.target.features.contains(*feature),
            Predicate::Flag(flag) => self.flags.contains(*flag),
            Predicate::KeyValue { key: "rustversion", val } => {
                self.target.rustc.as_ref().and_then(|rustc| rustversion::eval(val, rustc)).unwrap_or(true)
            }
            Predicate::KeyValue { key, val } => self.key_values.iter().any(|(k, v)| k == key && v == val),
        })
    }
}

fn rustc() -> std::process::Command {
    std::process::Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
}

/// `rustc -vV`: the host triple and the version.
fn rustc_verbose_version() -> Option<String> {
    let output = rustc().arg("-vV").output().ok()?;
    String::from_utf8(output.stdout).ok()
}

/// The `target_feature` values rustc enables by default for `triple` (`target_feature="sse2"`).
fn rustc_target_features(triple: &str) -> BTreeSet<String> {
    let mut command = rustc();
    command.args(["--print", "cfg"]);
    if !triple.is_empty() {
        command.args(["--target", triple]);
    }
    let Ok(output) = command.output() else { return BTreeSet::new() };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_prefix("target_feature=\""))
        .filter_map(|rest| rest.strip_suffix('"'))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(triple: &str) -> Arc<Target> {
        let features = ["sse2".to_owned()].into();
        let rustc = Rustc::from_verbose_version("release: 1.95.0\ncommit-date: 2026-04-14\n");
        Arc::new(Target::new(triple.to_owned(), features, rustc))
    }

    fn linux(features: &[&str], test: bool) -> CfgContext {
        let features = features.iter().map(|f| f.to_string()).collect();
        CfgContext::new(target("x86_64-unknown-linux-gnu"), features, test, false)
    }

    #[test]
    fn targets_features_and_test() {
        let cx = linux(&["rt"], false);
        assert!(cx.target.is_known());
        assert!(cx.eval("target_feature = \"sse2\""));
        assert!(!cx.eval("target_feature = \"avx512f\""));
        assert!(cx.eval("unix"));
        assert!(!cx.eval("windows"));
        assert!(cx.eval("target_os = \"linux\""));
        assert!(cx.eval("all(unix, feature = \"rt\")"));
        assert!(!cx.eval("feature = \"net\""));
        assert!(!cx.eval("test"));
        assert!(linux(&[], true).eval("test"));
        assert!(cx.eval("debug_assertions"));
        assert!(!cx.eval("tokio_unstable"));
        assert!(!cx.eval("docsrs"));
        // Several attributes must all hold.
        assert!(!cx.eval("unix, windows"));
        assert!(cx.eval("unix, not(windows)"));
        // What cfg_if! branches become.
        assert!(cx.eval("all(unix, not(any(windows)))"));
        assert!(!cx.eval("not(any(unix, windows))"));
    }

    #[test]
    fn what_cannot_be_evaluated_is_kept() {
        let cx = linux(&[], false);
        assert!(cx.eval("all(unix"), "a predicate that does not parse is true");
        let unknown = CfgContext::new(target("my-custom-target"), BTreeSet::new(), false, false);
        assert!(!unknown.target.is_known());
        assert!(!unknown.eval("unix"));
        assert!(unknown.eval("not(unix)"));
    }

    #[test]
    fn build_script_cfgs_are_on() {
        let cx = linux(&[], false).with_build_script_cfgs(&["has_i128".to_owned(), "backend=\"simd\"".to_owned()]);
        assert!(cx.eval("has_i128"));
        assert!(!cx.eval("has_u256"));
        assert!(cx.eval("backend = \"simd\""));
        assert!(!cx.eval("backend = \"scalar\""));
        assert!(!linux(&[], false).eval("has_i128"), "off without the build script");
    }

    #[test]
    fn rustversions_attributes_hold_by_the_toolchains_version() {
        let cx = linux(&[], false);
        assert!(cx.eval("rustversion = \"since(1.79)\""));
        assert!(!cx.eval("rustversion = \"before(1.79)\""));
        assert!(cx.eval("unix, rustversion = \"stable\""));
        assert!(!cx.eval("any(windows, rustversion = \"nightly\")"));
        assert!(cx.eval("rustversion = \"whenever\""), "what does not read holds");
        let unknown = Arc::new(Target::new("x86_64-unknown-linux-gnu".to_owned(), BTreeSet::new(), None));
        let cx = CfgContext::new(unknown, BTreeSet::new(), false, false);
        assert!(cx.eval("rustversion = \"before(1.0)\""), "without the toolchain's version, both hold");
        assert!(cx.eval("rustversion = \"since(9.0)\""));
    }

    #[test]
    fn the_host_is_detected() {
        // This machine's rustc knows its host, and cfg-expr knows every tier-1 triple.
        let host = Target::detect(None);
        assert!(!host.triple.is_empty());
        assert!(host.is_known(), "{}", host.triple);
        assert!(host.rustc().is_some_and(|rustc| rustc.minor >= 80), "{:?}", host.rustc());
    }
}
