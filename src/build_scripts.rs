//! `--build-scripts`: the workspace's build scripts, run as cargo runs them, for what they tell
//! the compiler: `cargo:rustc-cfg` flags (which decide which items exist), `cargo:rustc-env`
//! variables and `OUT_DIR` (where generated code that `include!` pulls in lives).
//!
//! One `cargo check --workspace --keep-going --message-format json` does it: cargo builds and runs
//! every build script the selected packages need and reports each run (`build-script-executed`).
//! Compiling is what the flag costs; a build script that fails is a diagnostic for its package,
//! not the end of the run. This module knows nothing of syntax or of the graph: it hands `index`
//! per package folder what the script said.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::process::{Command, Stdio};

use camino::Utf8PathBuf;
use cargo_metadata::Message;

use crate::workspace::{CrateKind, Workspace, WorkspaceConfig};

/// What one package's build script said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptOutput {
    /// `cargo:rustc-cfg` values as cargo reports them: `name` or `name="value"`.
    pub cfgs: Vec<String>,
    /// `cargo:rustc-env` variables.
    pub env: Vec<(String, String)>,
    pub out_dir: Utf8PathBuf,
}

impl ScriptOutput {
    /// A variable as `env!` sees it in the package's crates: `OUT_DIR`, or one the script set.
    pub fn var(&self, name: &str) -> Option<String> {
        if name == "OUT_DIR" {
            return Some(self.out_dir.to_string());
        }
        self.env.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone())
    }
}

/// The build scripts' outputs, by package folder, and the packages whose script did not run.
/// Its `Debug` form is part of the build's fingerprint: other cfgs make another graph.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildScripts {
    pub by_dir: BTreeMap<Utf8PathBuf, ScriptOutput>,
    /// Per package folder that has a build script that did not run: why.
    pub failed: BTreeMap<Utf8PathBuf, String>,
}

impl BuildScripts {
    pub fn of(&self, package_dir: &Utf8PathBuf) -> Option<&ScriptOutput> {
        self.by_dir.get(package_dir)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildScriptError {
    #[error("failed to run `cargo check` for `--build-scripts`: {0}")]
    Spawn(#[source] std::io::Error),
}

/// Runs `cargo check` on the workspace and gathers what its build scripts said.
pub fn run(config: &WorkspaceConfig, workspace: &Workspace) -> Result<BuildScripts, BuildScriptError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(["check", "--workspace", "--keep-going", "--message-format", "json"]);
    if let Some(path) = &config.manifest_path {
        command.arg("--manifest-path").arg(path);
    }
    let features = &config.features;
    if features.all_features {
        command.arg("--all-features");
    }
    if features.no_default_features {
        command.arg("--no-default-features");
    }
    if !features.features.is_empty() {
        command.arg("--features").arg(features.features.join(","));
    }
    if let Some(target) = &config.target {
        command.args(["--target", target]);
    }
    for (flag, on) in [("--offline", config.offline), ("--locked", config.locked), ("--frozen", config.frozen)] {
        if on {
            command.arg(flag);
        }
    }
    command.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
    let mut child = command.spawn().map_err(BuildScriptError::Spawn)?;
    // stderr is read on its own thread, so that neither pipe fills while the other is read.
    let stderr = child.stderr.take().map(|mut stderr| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
            text
        })
    });
    let mut manifests: BTreeMap<String, Utf8PathBuf> = BTreeMap::new();
    let mut scripts: Vec<(String, ScriptOutput)> = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for message in Message::parse_stream(BufReader::new(stdout)).flatten() {
            match message {
                Message::CompilerArtifact(artifact) => {
                    manifests.insert(artifact.package_id.repr.clone(), artifact.manifest_path);
                }
                Message::BuildScriptExecuted(script) => scripts.push((
                    script.package_id.repr.clone(),
                    ScriptOutput { cfgs: script.cfgs, env: script.env, out_dir: script.out_dir },
                )),
                _ => {}
            }
        }
    }
    let status = child.wait().map_err(BuildScriptError::Spawn)?;
    let stderr = stderr.and_then(|thread| thread.join().ok()).unwrap_or_default();
    let mut out = BuildScripts::default();
    for (package_id, output) in scripts {
        if let Some(dir) = manifests.get(&package_id).and_then(|manifest| manifest.parent()) {
            out.by_dir.insert(dir.to_owned(), output);
        }
    }
    // A package with a build script and no report of its run: the script failed to build or run
    // (`cargo check` says why on stderr), or nothing needed it.
    let why = if status.success() { "cargo did not run it".to_owned() } else { failure_summary(&stderr) };
    for krate in workspace.crates.iter().filter(|krate| krate.kind == CrateKind::CustomBuild) {
        let dir = &workspace.packages[krate.package].dir;
        if !out.by_dir.contains_key(dir) {
            out.failed.insert(dir.clone(), why.clone());
        }
    }
    Ok(out)
}

/// The first `error` lines of cargo's stderr, for a diagnostic.
fn failure_summary(stderr: &str) -> String {
    let errors: Vec<&str> = stderr.lines().filter(|line| line.starts_with("error")).take(3).collect();
    if errors.is_empty() { "`cargo check` failed".to_owned() } else { errors.join("; ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_out_dir_and_what_the_script_set() {
        let output = ScriptOutput {
            cfgs: vec!["has_atomics".to_owned()],
            env: vec![("VERSION".to_owned(), "1.2".to_owned())],
            out_dir: Utf8PathBuf::from("/target/out"),
        };
        assert_eq!(output.var("OUT_DIR").as_deref(), Some("/target/out"));
        assert_eq!(output.var("VERSION").as_deref(), Some("1.2"));
        assert_eq!(output.var("HOME"), None);
    }

    #[test]
    fn failures_are_summarised_from_cargo_errors() {
        let stderr =
            "   Compiling x v0.1.0\nerror: failed to run custom build command for `x v0.1.0`\n\nCaused by:\n  boom\n";
        assert_eq!(failure_summary(stderr), "error: failed to run custom build command for `x v0.1.0`");
        assert_eq!(failure_summary(""), "`cargo check` failed");
    }
}
