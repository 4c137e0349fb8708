//! `cargo xtask`: the project's task runner (the convention rust-analyzer and many others use).
//!
//! ```text
//! cargo xtask test [--features F | --all-features] [--no-install] [CARGO TEST ARGS...]
//! cargo xtask tools [--features F | --all-features] [--no-install]
//! ```
//!
//! `test` makes sure that every tool the tests drive from outside Rust is there, installing what
//! is missing, fetches every package of the lock file (`cargo fetch --locked`: tests index this
//! repository offline), then runs `cargo test --locked` with those tools on `PATH`; `tools` does the first
//! half and lists where each tool is. Tools come from the machine's own package managers, never
//! from downloads of our own: Debian packages with `apt-get` (when running as root, or through
//! `sudo -n`), Python packages with pip into a virtualenv in `<target-dir>/tools/venv`, npm
//! packages with `npm install` in `<target-dir>/tools/node` (their commands in
//! `node_modules/.bin` there). What
//! cannot be had (not root, no network) stops the run before any test, naming the command that
//! installs it. Plain `cargo test` finds the same tools in `<target-dir>/tools` (see
//! `tests/common/mod.rs`), so a newcomer runs this once and may use cargo directly afterwards.
//!
//! Crates come from `cargo install --locked --root <target-dir>/tools/cargo`. One of them, the
//! real `indradb-server` (for the `server` feature's tests), bundles RocksDB, whose C++ sources
//! take about 20 minutes to compile on two cores: it is linked against the RocksDB library that
//! this workspace's own `rocksdb` feature compiles instead (librocksdb-sys's build script takes a
//! built library from `ROCKSDB_LIB_DIR` and `SNAPPY_LIB_DIR`). So `tools --features server` first
//! runs `cargo test --no-run --lib --features rocksdb,…` (the build that `cargo test` and `cargo
//! clippy --all-targets` with those features reuse), finds librocksdb-sys's `OUT_DIR` in cargo's
//! JSON messages, then installs the server against it. Both must be the same librocksdb-sys
//! version, which is why Cargo.lock pins indradb 5.0.0's (`INDRADB_LIBROCKSDB_SYS`).
//!
//! Exit codes: cargo's own for the test run (0 when every test passed); 2 for a bad command line;
//! 3 when a tool could not be had.
//!
//! This program knows the tools and how to install them; it knows nothing of the tests
//! themselves. Standard library only, so that it builds in seconds on a fresh machine.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const USAGE: &str = "\
usage: cargo xtask test  [--features F | --all-features] [--no-install] [CARGO TEST ARGS...]
       cargo xtask tools [--features F | --all-features] [--no-install]

  test    install what the tests need outside Rust (when missing), then `cargo test --locked`
  tools   only install (or, with --no-install, only look for) those tools, and list them";

const EXIT_USAGE: u8 = 2;
const EXIT_TOOLS: u8 = 3;

/// Where a tool comes from.
#[derive(Clone, Copy)]
enum Source {
    /// A Debian package.
    Apt(&'static str),
    /// A Python package (a pip requirement), installed into `<target-dir>/tools/venv`.
    Pip(&'static str),
    /// An npm package (`name@version`), installed into `<target-dir>/tools/node`.
    Npm(&'static str),
    /// A crates.io package (`name@version`), installed with `cargo install --locked` into
    /// `<target-dir>/tools/cargo` (never the user's `~/.cargo`). Built without optimisation: the
    /// tests need it to run, not to be fast.
    Cargo {
        package: &'static str,
        /// For IndraDB's server, which always bundles RocksDB: linked against the RocksDB C++
        /// library that this workspace's own `rocksdb` feature compiles (built first when it is
        /// not there, see `Tools::rocksdb_out_dir`), so that a machine or a CI run compiles
        /// RocksDB's C++ once, not twice (about 20 minutes each on two cores).
        on_our_rocksdb: bool,
    },
}

/// The `librocksdb-sys` that `cargo install --locked indradb@5.0.0` builds (indradb 5.0.0's own
/// Cargo.lock). The workspace's Cargo.lock pins the same (a test below checks), so that the
/// library the server links is the version its bindings were generated for.
const INDRADB_LIBROCKSDB_SYS: &str = "0.17.1+9.9.3";

/// How to tell that a tool is there.
#[derive(Clone, Copy)]
enum Probe {
    /// This command runs and exits 0 (looked up on the tools' `PATH`).
    Runs(&'static [&'static str]),
    /// This Debian package is installed (libraries, which have no command).
    Dpkg(&'static str),
    /// The virtualenv's Python runs this code and exits 0 (`import networkx`): libraries that
    /// have no command of their own.
    Python(&'static str),
    /// This file is in the tools folder (data that a package ships, such as a schema).
    File(&'static str),
}

struct Tool {
    name: &'static str,
    /// Which tests need it, and why.
    needed_by: &'static str,
    probe: Probe,
    source: Source,
    /// The cargo features whose tests need it (any of them); empty for every test run.
    features: &'static [&'static str],
}

/// Everything the tests drive from outside Rust.
const TOOLS: &[Tool] = &[
    Tool {
        name: "git",
        needed_by: "tests/precommit.rs (real commits through the hook)",
        probe: Probe::Runs(&["git", "--version"]),
        source: Source::Apt("git"),
        features: &[],
    },
    Tool {
        name: "pre-commit",
        needed_by: "tests/precommit.rs (the hook installed by its id through the real framework)",
        probe: Probe::Runs(&["pre-commit", "--version"]),
        source: Source::Pip("pre-commit==4.7.0"),
        features: &[],
    },
    Tool {
        name: "mcp-inspector",
        needed_by: "tests/mcp.rs (the MCP Inspector's CLI mode against `cargo codegraph mcp`)",
        probe: Probe::Runs(&["mcp-inspector", "--version"]),
        // Its package asks for Node 22.19; its CLI mode runs on Debian's Node 20 as well.
        source: Source::Npm("@modelcontextprotocol/inspector@2.12.0"),
        features: &[],
    },
    Tool {
        name: "graphviz",
        needed_by: "tests/export.rs (DOT exports rendered by the real `dot -Tsvg`)",
        probe: Probe::Runs(&["dot", "-V"]),
        source: Source::Apt("graphviz"),
        features: &[],
    },
    Tool {
        name: "networkx",
        needed_by: "tests/export.rs (GraphML exports loaded by networkx's reader)",
        probe: Probe::Python("import networkx"),
        source: Source::Pip("networkx==3.6.1"),
        features: &[],
    },
    Tool {
        name: "jsonschema",
        needed_by: "tests/check.rs (SARIF output validated against the official schema)",
        probe: Probe::Python("import jsonschema"),
        source: Source::Pip("jsonschema==4.26.0"),
        features: &[],
    },
    Tool {
        name: "sarif-schema",
        needed_by: "tests/check.rs (the SARIF 2.1.0 JSON schema, as Microsoft's jest-sarif ships it)",
        probe: Probe::File("node/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json"),
        source: Source::Npm("@microsoft/jest-sarif@1.0.0-beta.0"),
        features: &[],
    },
    Tool {
        name: "chromium",
        needed_by: "tests/export.rs (the HTML export opened and driven in headless Chromium)",
        probe: Probe::Runs(&["chromium", "--version"]),
        source: Source::Apt("chromium"),
        features: &[],
    },
    Tool {
        name: "playwright-core",
        needed_by: "tests/export.rs (drives the system's Chromium from tests/html/drive.cjs; no browser download)",
        probe: Probe::File("node/node_modules/playwright-core/package.json"),
        source: Source::Npm("playwright-core@1.65.1"),
        features: &[],
    },
    Tool {
        name: "mermaid",
        needed_by: "tests/export.rs (Mermaid exports parsed by Mermaid's own parser, tests/html/mermaid-parse.mjs)",
        probe: Probe::File("node/node_modules/mermaid/package.json"),
        source: Source::Npm("mermaid@12.3.0"),
        features: &[],
    },
    Tool {
        name: "jsdom",
        needed_by: "tests/export.rs (the DOM Mermaid's parser expects, under Node)",
        probe: Probe::File("node/node_modules/jsdom/package.json"),
        source: Source::Npm("jsdom@29.1.1"),
        features: &[],
    },
    Tool {
        name: "libclang-dev",
        needed_by: "the `rocksdb` feature and the real indradb-server (bindgen generates RocksDB's bindings with libclang)",
        probe: Probe::Dpkg("libclang-dev"),
        source: Source::Apt("libclang-dev"),
        features: &["rocksdb", "server"],
    },
    Tool {
        name: "protobuf-compiler",
        needed_by: "the `server` feature (indradb-proto compiles IndraDB's protobuf definitions with `protoc`)",
        probe: Probe::Runs(&["protoc", "--version"]),
        source: Source::Apt("protobuf-compiler"),
        features: &["server"],
    },
    Tool {
        name: "libprotobuf-dev",
        needed_by: "the `server` feature (IndraDB's definitions import protobuf's well-known types, \
                    `google/protobuf/empty.proto` and `timestamp.proto`, which Debian ships apart from `protoc`)",
        // `protoc` finds the well-known types in the include folder beside it, as `prost-build`
        // will ask it to: the probe compiles one of them.
        probe: Probe::Runs(&["protoc", "--descriptor_set_out=/dev/null", "google/protobuf/empty.proto"]),
        source: Source::Apt("libprotobuf-dev"),
        features: &["server"],
    },
    Tool {
        name: "indradb-server",
        needed_by: "tests/remote.rs (the real IndraDB server: conformance, killed builds, concurrent builds, restarts)",
        probe: Probe::Runs(&["indradb-server", "--help"]),
        source: Source::Cargo { package: "indradb@5.0.0", on_our_rocksdb: true },
        features: &["server"],
    },
];

fn main() -> ExitCode {
    let args: Vec<OsString> = env::args_os().skip(1).collect();
    match run(args) {
        Ok(code) => ExitCode::from(code),
        Err(Failure { code, message }) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}

struct Failure {
    code: u8,
    message: String,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure { code: EXIT_USAGE, message: format!("{}\n\n{USAGE}", message.into()) }
}

/// What the command line asks for.
struct Options {
    features: Vec<String>,
    all_features: bool,
    install: bool,
    /// Passed on to `cargo test` as given.
    rest: Vec<OsString>,
}

impl Options {
    fn has_feature(&self, feature: &str) -> bool {
        self.all_features || self.features.iter().any(|list| list.split([',', ' ']).any(|f| f == feature))
    }
}

fn parse(args: Vec<OsString>) -> Result<Options, Failure> {
    let mut options = Options { features: Vec::new(), all_features: false, install: true, rest: Vec::new() };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy().into_owned();
        match text.as_str() {
            "--" => {
                options.rest.push(arg);
                options.rest.extend(args.by_ref());
            }
            "--features" | "-F" => {
                let value = args.next().ok_or_else(|| usage(format!("`{text}` needs a value")))?;
                options.features.push(value.to_string_lossy().into_owned());
            }
            "--all-features" => options.all_features = true,
            "--no-install" => options.install = false,
            _ => {
                if let Some(value) = text.strip_prefix("--features=") {
                    options.features.push(value.to_owned());
                } else {
                    options.rest.push(arg);
                }
            }
        }
    }
    Ok(options)
}

fn run(mut args: Vec<OsString>) -> Result<u8, Failure> {
    if args.is_empty() {
        return Err(usage("no task given"));
    }
    let task = args.remove(0).to_string_lossy().into_owned();
    match task.as_str() {
        "test" => {
            let options = parse(args)?;
            let tools = Tools::locate()?;
            tools.ensure(&options)?;
            tools.cargo_test(&options)
        }
        "tools" => {
            let options = parse(args)?;
            if !options.rest.is_empty() {
                return Err(usage(format!("`tools` takes no argument `{}`", options.rest[0].to_string_lossy())));
            }
            let tools = Tools::locate()?;
            tools.ensure(&options)?;
            for tool in wanted(&options) {
                println!("{:<14} {}", tool.name, tools.describe(tool));
            }
            Ok(0)
        }
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(0)
        }
        other => Err(usage(format!("unknown task `{other}`"))),
    }
}

/// The tools a run with these features needs.
fn wanted(options: &Options) -> impl Iterator<Item = &'static Tool> + '_ {
    TOOLS.iter().filter(move |tool| match tool.features {
        [] => true,
        features => features.iter().any(|feature| options.has_feature(feature)),
    })
}

/// Where the tools live, and the `PATH` that finds them.
struct Tools {
    cargo: OsString,
    workspace: PathBuf,
    dir: PathBuf,
    path: OsString,
}

impl Tools {
    fn locate() -> Result<Tools, Failure> {
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).ok_or_else(|| {
            Failure { code: EXIT_TOOLS, message: "the xtask package is not inside the workspace".to_owned() }
        })?;
        let dir = target_dir(&cargo, &workspace)?.join("tools");
        let mut paths = vec![
            dir.join("venv").join("bin"),
            dir.join("node").join("node_modules").join(".bin"),
            dir.join("bin"),
            dir.join("cargo").join("bin"),
        ];
        paths.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
        let path = env::join_paths(paths)
            .map_err(|err| Failure { code: EXIT_TOOLS, message: format!("cannot extend PATH: {err}") })?;
        Ok(Tools { cargo, workspace, dir, path })
    }

    fn is_there(&self, tool: &Tool) -> bool {
        match tool.probe {
            Probe::Runs(argv) => quiet(Command::new(argv[0]).args(&argv[1..]).env("PATH", &self.path)),
            Probe::Dpkg(package) => dpkg_has(package),
            Probe::Python(code) => quiet(Command::new(self.python()).args(["-c", code])),
            Probe::File(path) => self.dir.join(path).is_file(),
        }
    }

    /// The virtualenv's Python, where pip installs.
    fn python(&self) -> PathBuf {
        self.dir.join("venv").join("bin").join("python")
    }

    fn describe(&self, tool: &Tool) -> String {
        match tool.probe {
            Probe::Runs(argv) => match find_on(&self.path, argv[0]) {
                Some(found) => found.display().to_string(),
                None => "missing".to_owned(),
            },
            Probe::Dpkg(package) if dpkg_has(package) => format!("Debian package `{package}` installed"),
            Probe::Dpkg(_) => "missing".to_owned(),
            Probe::Python(_) if self.is_there(tool) => format!("importable by {}", self.python().display()),
            Probe::Python(_) => "missing".to_owned(),
            Probe::File(path) if self.is_there(tool) => self.dir.join(path).display().to_string(),
            Probe::File(_) => "missing".to_owned(),
        }
    }

    /// Installs what is missing, or says exactly what to install.
    fn ensure(&self, options: &Options) -> Result<(), Failure> {
        let missing: Vec<&Tool> = wanted(options).filter(|tool| !self.is_there(tool)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        if !options.install {
            return Err(missing_tools(&missing, "`--no-install` was given"));
        }
        let of_source = |pick: fn(Source) -> Option<&'static str>| -> Vec<&str> {
            missing.iter().filter_map(|tool| pick(tool.source)).collect()
        };
        let apt = of_source(|source| if let Source::Apt(package) = source { Some(package) } else { None });
        let pip = of_source(|source| if let Source::Pip(requirement) = source { Some(requirement) } else { None });
        let npm = of_source(|source| if let Source::Npm(package) = source { Some(package) } else { None });
        let crates = of_source(|source| match source {
            Source::Cargo { package, on_our_rocksdb: false } => Some(package),
            _ => None,
        });
        let on_rocksdb = of_source(|source| match source {
            Source::Cargo { package, on_our_rocksdb: true } => Some(package),
            _ => None,
        });
        let mut apt_updated = false;
        if !apt.is_empty() {
            apt_install(&apt, &mut apt_updated)?;
        }
        if !pip.is_empty() {
            self.pip_install(&pip, &mut apt_updated)?;
        }
        if !npm.is_empty() {
            self.npm_install(&npm, &mut apt_updated)?;
        }
        // Last: a crate's build may need the Debian packages above (`protoc`, libclang).
        for package in crates {
            self.cargo_install(package, &[])?;
        }
        if !on_rocksdb.is_empty() {
            let env = self.rocksdb_env(options)?;
            for package in on_rocksdb {
                self.cargo_install(package, &env)?;
            }
        }
        let still: Vec<&Tool> = missing.into_iter().filter(|tool| !self.is_there(tool)).collect();
        if still.is_empty() { Ok(()) } else { Err(missing_tools(&still, "they are still missing after installing")) }
    }

    /// `cargo install --locked --root <tools>/cargo PACKAGE`, unoptimised (see `Source::Cargo`),
    /// with `env` added to its environment.
    fn cargo_install(&self, package: &str, env: &[(&str, OsString)]) -> Result<(), Failure> {
        let root = self.dir.join("cargo");
        eprintln!("  Installing {package} with cargo into {}", root.display());
        let started = std::time::Instant::now();
        let mut command = Command::new(&self.cargo);
        command
            .args(["install", "--locked", "--root"])
            .arg(&root)
            .arg(package)
            .envs(env.iter().map(|(name, value)| (name, value)))
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
            .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
            // Its own build folder, kept: a second install (another checkout's tools folder
            // removed) compiles nothing again.
            .env("CARGO_TARGET_DIR", self.dir.join("cargo-build"));
        if loud(&mut command) {
            eprintln!("    Installed {package} in {:.0} s", started.elapsed().as_secs_f64());
            Ok(())
        } else {
            Err(Failure {
                code: EXIT_TOOLS,
                message: format!("`cargo install --locked --root {} {package}` failed", root.display()),
            })
        }
    }

    /// The environment under which librocksdb-sys's build script links a RocksDB library that is
    /// already built instead of compiling its C++ sources: `ROCKSDB_LIB_DIR` and `SNAPPY_LIB_DIR`
    /// (static libraries) set to this workspace's own build of them. When the caller set
    /// `ROCKSDB_LIB_DIR` (a system RocksDB), that one is used as it is, and nothing is built here.
    fn rocksdb_env(&self, options: &Options) -> Result<Vec<(&'static str, OsString)>, Failure> {
        if env::var_os("ROCKSDB_LIB_DIR").is_some() {
            eprintln!("    Using the RocksDB library in ROCKSDB_LIB_DIR, as set");
            return Ok(Vec::new());
        }
        let out_dir = self.rocksdb_out_dir(options)?;
        for library in ["librocksdb.a", "libsnappy.a"] {
            if !out_dir.join(library).is_file() {
                return Err(Failure {
                    code: EXIT_TOOLS,
                    message: format!(
                        "librocksdb-sys's build left no `{library}` in `{}`; was it built against a system \
                         RocksDB (ROCKSDB_LIB_DIR, SNAPPY_LIB_DIR)?",
                        out_dir.display()
                    ),
                });
            }
        }
        eprintln!("    Linking indradb-server against the RocksDB library in {}", out_dir.display());
        Ok(vec![
            ("ROCKSDB_LIB_DIR", out_dir.clone().into_os_string()),
            ("ROCKSDB_STATIC", "1".into()),
            ("SNAPPY_LIB_DIR", out_dir.into_os_string()),
            ("SNAPPY_STATIC", "1".into()),
        ])
    }

    /// librocksdb-sys's `OUT_DIR` in this workspace's target folder, where its build script leaves
    /// `librocksdb.a` and `libsnappy.a`. Found by building: `cargo test --no-run --lib` of this
    /// package with the `rocksdb` feature added to the features asked for, reading cargo's JSON
    /// messages for the build script's run (a build that is there already takes seconds). That
    /// is the build `cargo test` and `cargo clippy --all-targets` with the same features reuse; a
    /// plain `cargo build` resolves dependencies' features without the dev-dependencies and would
    /// compile RocksDB's C++ sources again.
    fn rocksdb_out_dir(&self, options: &Options) -> Result<PathBuf, Failure> {
        let mut command = Command::new(&self.cargo);
        command.current_dir(&self.workspace).env("PATH", &self.path).args([
            "test",
            "--locked",
            "--no-run",
            "--package",
            "cargo-codegraph",
            "--lib",
            "--message-format",
            "json-render-diagnostics",
        ]);
        if options.all_features {
            command.arg("--all-features");
        } else {
            let mut features = options.features.clone();
            if !options.has_feature("rocksdb") {
                features.push("rocksdb".to_owned());
            }
            command.args(["--features", &features.join(",")]);
        }
        eprintln!(
            "     Building RocksDB's C++ library with this workspace's `rocksdb` feature (cargo test --no-run --lib)"
        );
        let output = command
            .stderr(Stdio::inherit())
            .output()
            .map_err(|err| Failure { code: EXIT_TOOLS, message: format!("cannot run cargo: {err}") })?;
        let failed = |why: String| Failure {
            code: EXIT_TOOLS,
            message: format!("cannot build the RocksDB library that indradb-server links: {why}"),
        };
        if !output.status.success() {
            return Err(failed("`cargo test --no-run --lib --features rocksdb` failed".to_owned()));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let (version, out_dir) = rocksdb_build_script_run(&text)
            .ok_or_else(|| failed("cargo reported no run of librocksdb-sys's build script".to_owned()))?;
        if version != INDRADB_LIBROCKSDB_SYS {
            return Err(failed(format!(
                "Cargo.lock has librocksdb-sys {version}, but indradb@5.0.0 is built against \
                 {INDRADB_LIBROCKSDB_SYS}: `cargo update -p librocksdb-sys --precise {INDRADB_LIBROCKSDB_SYS}`"
            )));
        }
        Ok(PathBuf::from(out_dir))
    }

    /// A virtualenv under the target folder (Debian's Python refuses system-wide pip installs),
    /// then pip into it.
    fn pip_install(&self, requirements: &[&str], apt_updated: &mut bool) -> Result<(), Failure> {
        let venv = self.dir.join("venv");
        let python = self.python();
        if !python.exists() {
            eprintln!("    Creating a Python virtualenv in {}", venv.display());
            let make = || loud(Command::new("python3").args(["-m", "venv"]).arg(&venv));
            if !make() {
                // Debian ships venv's bootstrap apart, in python3-venv.
                let _ = std::fs::remove_dir_all(&venv);
                apt_install(&["python3-venv"], apt_updated).map_err(|failure| Failure {
                    code: EXIT_TOOLS,
                    message: format!("`python3 -m venv` failed, and {}", failure.message),
                })?;
                if !make() {
                    return Err(Failure {
                        code: EXIT_TOOLS,
                        message: format!(
                            "cannot create a Python virtualenv in `{}`: install Python 3 with its venv module \
                             (Debian: `apt-get install python3-venv`), then run this again",
                            venv.display()
                        ),
                    });
                }
            }
        }
        eprintln!("  Installing {} with pip into {}", requirements.join(" "), venv.display());
        let ok = loud(
            Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
                .args(requirements),
        );
        if ok {
            Ok(())
        } else {
            Err(Failure {
                code: EXIT_TOOLS,
                message: format!(
                    "pip could not install {} (is PyPI reachable?); install it yourself with \
                     `python3 -m pip install {}` (or into `{}`), then run this again",
                    requirements.join(" "),
                    requirements.join(" "),
                    venv.display()
                ),
            })
        }
    }

    /// `npm install` into a folder of its own under the target folder, never globally.
    fn npm_install(&self, packages: &[&str], apt_updated: &mut bool) -> Result<(), Failure> {
        if !quiet(Command::new("npm").arg("--version")) {
            // Debian ships npm apart from Node.js.
            apt_install(&["npm"], apt_updated).map_err(|failure| Failure {
                code: EXIT_TOOLS,
                message: format!("npm is not installed, and {}", failure.message),
            })?;
        }
        let prefix = self.dir.join("node");
        eprintln!("  Installing {} with npm into {}", packages.join(" "), prefix.display());
        // npm installs into the folder it runs in once that folder has a `package.json`. It is
        // not given `--prefix`: that also moves npm's global configuration to `<prefix>/etc`, and
        // with it the machine's (`/usr/etc/npmrc`: its registry's certificate authority, say).
        let manifest = prefix.join("package.json");
        if !manifest.exists() {
            std::fs::create_dir_all(&prefix)
                .and_then(|()| std::fs::write(&manifest, "{\"private\": true}\n"))
                .map_err(|err| Failure {
                    code: EXIT_TOOLS,
                    message: format!("cannot write `{}`: {err}", manifest.display()),
                })?;
        }
        let ok = loud(
            Command::new("npm")
                .current_dir(&prefix)
                .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
                .args(packages),
        );
        if ok {
            Ok(())
        } else {
            Err(Failure {
                code: EXIT_TOOLS,
                message: format!(
                    "npm could not install {} (is the npm registry reachable?); install it yourself with \
                     `cd {} && npm install {}`, then run this again",
                    packages.join(" "),
                    prefix.display(),
                    packages.join(" ")
                ),
            })
        }
    }

    fn cargo_test(&self, options: &Options) -> Result<u8, Failure> {
        self.fetch();
        let mut command = Command::new(&self.cargo);
        command.current_dir(&self.workspace).env("PATH", &self.path).args(["test", "--locked"]);
        if options.all_features {
            command.arg("--all-features");
        }
        for features in &options.features {
            command.args(["--features", features]);
        }
        command.args(&options.rest);
        eprintln!("     Running cargo test --locked{}", describe_args(options));
        let status = command
            .status()
            .map_err(|err| Failure { code: EXIT_TOOLS, message: format!("cannot run cargo: {err}") })?;
        Ok(status.code().map_or(101, |code| code.clamp(0, 255) as u8))
    }

    /// `cargo fetch --locked`: every package of the lock file, for every platform. Tests index this
    /// repository with `--offline`, and `cargo metadata` then wants the packages of other platforms
    /// too (`android_system_properties`), which no build of ours downloads. Offline, the tests say
    /// what is missing; this only warns.
    fn fetch(&self) {
        let status =
            Command::new(&self.cargo).current_dir(&self.workspace).args(["fetch", "--locked", "--quiet"]).status();
        if !matches!(status, Ok(status) if status.success()) {
            eprintln!("warning: `cargo fetch --locked` failed; tests that index this repository offline may fail");
        }
    }
}

fn describe_args(options: &Options) -> String {
    let mut text = String::new();
    if options.all_features {
        text.push_str(" --all-features");
    }
    for features in &options.features {
        text.push_str(&format!(" --features {features}"));
    }
    for arg in &options.rest {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

fn missing_tools(missing: &[&Tool], why: &str) -> Failure {
    let mut message = format!("the tests need tools that are not installed ({why}):");
    for tool in missing {
        let how = match tool.source {
            Source::Apt(package) => format!("`sudo apt-get install {package}`"),
            Source::Pip(requirement) => format!("`python3 -m pip install {requirement}`"),
            Source::Npm(package) => format!("`cd <target-dir>/tools/node && npm install {package}`"),
            Source::Cargo { package, on_our_rocksdb: false } => {
                format!("`cargo install --locked --root <target-dir>/tools/cargo {package}`")
            }
            Source::Cargo { package, on_our_rocksdb: true } => format!(
                "`cargo xtask tools --features server` (it runs `cargo install --locked --root \
                 <target-dir>/tools/cargo {package}` linked against this workspace's RocksDB build)"
            ),
        };
        message.push_str(&format!("\n  {}: for {}; install it with {how}", tool.name, tool.needed_by));
    }
    message.push_str("\n`cargo xtask test` installs them itself when it runs as root with network access");
    Failure { code: EXIT_TOOLS, message }
}

/// `apt-get install`, as root or through a sudo that asks no password.
fn apt_install(packages: &[&str], updated: &mut bool) -> Result<(), Failure> {
    let sudo: &[&str] = if is_root() {
        &[]
    } else if quiet(Command::new("sudo").args(["-n", "true"])) {
        &["sudo", "-n"]
    } else {
        return Err(Failure {
            code: EXIT_TOOLS,
            message: format!(
                "Debian packages are missing and this is not root: install them with `sudo apt-get install {}`, \
                 then run this again",
                packages.join(" ")
            ),
        });
    };
    let apt = |args: &[&str]| {
        let mut argv: Vec<&str> = sudo.to_vec();
        argv.extend(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        argv.extend(args);
        loud(Command::new(argv[0]).args(&argv[1..]))
    };
    eprintln!("  Installing {} with apt-get", packages.join(" "));
    // The package lists of a fresh machine may be empty or old: update once per run.
    if !*updated {
        *updated = true;
        if !apt(&["update", "-qq"]) {
            eprintln!("warning: `apt-get update` failed; trying the install with the lists there are");
        }
    }
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(packages);
    if apt(&args) {
        Ok(())
    } else {
        Err(Failure {
            code: EXIT_TOOLS,
            message: format!(
                "apt-get could not install {} (are Debian's package servers reachable?); install them yourself \
                 with `sudo apt-get install {}`, then run this again",
                packages.join(" "),
                packages.join(" ")
            ),
        })
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

fn dpkg_has(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Status}", package])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success() && out.stdout == b"installed")
}

/// Runs a command with its output hidden; whether it succeeded.
fn quiet(command: &mut Command) -> bool {
    command.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|status| status.success())
}

/// Runs a command with its output shown; whether it succeeded.
fn loud(command: &mut Command) -> bool {
    command.status().is_ok_and(|status| status.success())
}

fn find_on(path: &OsString, name: &str) -> Option<PathBuf> {
    env::split_paths(path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

/// Cargo's target folder for the workspace (`CARGO_TARGET_DIR` and `build.target-dir` included).
fn target_dir(cargo: &OsString, workspace: &Path) -> Result<PathBuf, Failure> {
    let output = Command::new(cargo)
        .current_dir(workspace)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|err| Failure { code: EXIT_TOOLS, message: format!("cannot run `cargo metadata`: {err}") })?;
    let text = String::from_utf8_lossy(&output.stdout);
    json_string_field(&text, "target_directory").map(PathBuf::from).ok_or_else(|| Failure {
        code: EXIT_TOOLS,
        message: "`cargo metadata` did not say where the target folder is".to_owned(),
    })
}

/// The version and `OUT_DIR` of librocksdb-sys's build script run, from cargo's JSON messages
/// (one object a line).
fn rocksdb_build_script_run(messages: &str) -> Option<(String, String)> {
    messages.lines().find_map(|line| {
        if !line.contains("\"reason\":\"build-script-executed\"") {
            return None;
        }
        let package = json_string_field(line, "package_id")?;
        // `registry+https://…#librocksdb-sys@0.17.1+9.9.3` (older cargo: `librocksdb-sys 0.17.1+9.9.3 (…)`).
        let version = match package.split_once("#librocksdb-sys@") {
            Some((_, version)) => version.to_owned(),
            None => package.strip_prefix("librocksdb-sys ")?.split(' ').next()?.to_owned(),
        };
        Some((version, json_string_field(line, "out_dir")?))
    })
}

/// The value of a top-level string field of cargo's JSON (enough JSON for one field: escapes of
/// `"` and `\` are undone; cargo writes paths with no other escapes).
fn json_string_field(json: &str, field: &str) -> Option<String> {
    let start = json.find(&format!("\"{field}\":\""))? + field.len() + 4;
    let mut value = String::new();
    let mut chars = json[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => value.push(chars.next()?),
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(args: &[&str]) -> Options {
        parse(args.iter().map(OsString::from).collect()).unwrap_or_else(|failure| panic!("{}", failure.message))
    }

    #[test]
    fn features_select_tools() {
        let names = |args: &[&str]| wanted(&options(args)).map(|tool| tool.name).collect::<Vec<_>>();
        let always = [
            "git",
            "pre-commit",
            "mcp-inspector",
            "graphviz",
            "networkx",
            "jsonschema",
            "sarif-schema",
            "chromium",
            "playwright-core",
            "mermaid",
            "jsdom",
        ];
        let rocksdb = [
            "git",
            "pre-commit",
            "mcp-inspector",
            "graphviz",
            "networkx",
            "jsonschema",
            "sarif-schema",
            "chromium",
            "playwright-core",
            "mermaid",
            "jsdom",
            "libclang-dev",
        ];
        assert_eq!(names(&[]), always);
        assert_eq!(names(&["--features", "rocksdb"]), rocksdb);
        assert_eq!(names(&["--features=foo,rocksdb"]), rocksdb);
        // The real server comes with the `server` feature, and with it libclang (its RocksDB's
        // bindings), listed once even when both features ask for it.
        let server: Vec<&str> = always
            .iter()
            .copied()
            .chain(["libclang-dev", "protobuf-compiler", "libprotobuf-dev", "indradb-server"])
            .collect();
        assert_eq!(names(&["--features", "server"]), server);
        assert_eq!(names(&["--features", "rocksdb,server"]), server);
        assert_eq!(names(&["--all-features"]), server);
    }

    #[test]
    fn the_build_script_run_of_librocksdb_sys_is_found_in_cargos_messages() {
        let messages = concat!(
            r#"{"reason":"compiler-artifact","package_id":"registry+https://github.com/rust-lang/crates.io-index#libc@0.2.177"}"#,
            "\n",
            r#"{"reason":"build-script-executed","package_id":"registry+https://github.com/rust-lang/crates.io-index#libc@0.2.177","linked_libs":[],"linked_paths":[],"cfgs":[],"env":[],"out_dir":"/t/debug/build/libc-1/out"}"#,
            "\n",
            r#"{"reason":"build-script-executed","package_id":"registry+https://github.com/rust-lang/crates.io-index#librocksdb-sys@0.17.1+9.9.3","linked_libs":["static=rocksdb"],"linked_paths":["native=/t/debug/build/librocksdb-sys-2/out"],"cfgs":[],"env":[],"out_dir":"/t/debug/build/librocksdb-sys-2/out"}"#,
            "\n",
        );
        assert_eq!(
            rocksdb_build_script_run(messages),
            Some(("0.17.1+9.9.3".to_owned(), "/t/debug/build/librocksdb-sys-2/out".to_owned()))
        );
        assert_eq!(rocksdb_build_script_run(messages.lines().take(2).collect::<Vec<_>>().join("\n").as_str()), None);
    }

    /// indradb-server links the RocksDB library our `rocksdb` feature builds: our Cargo.lock must
    /// hold the librocksdb-sys that indradb 5.0.0's own lock does, or xtask refuses to link them.
    #[test]
    fn cargo_lock_pins_the_librocksdb_sys_of_indradb_server() {
        let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock")).unwrap();
        let versions: Vec<&str> = lock
            .split("[[package]]")
            .filter(|package| package.contains("\nname = \"librocksdb-sys\"\n"))
            .filter_map(|package| package.lines().find_map(|line| line.strip_prefix("version = \"")))
            .map(|version| version.trim_end_matches('"'))
            .collect();
        assert_eq!(versions, [INDRADB_LIBROCKSDB_SYS]);
    }

    #[test]
    fn other_arguments_go_to_cargo_test() {
        let parsed = options(&["--test", "cli", "-F", "rocksdb", "--", "--nocapture"]);
        assert_eq!(parsed.features, ["rocksdb"]);
        assert_eq!(parsed.rest, ["--test", "cli", "--", "--nocapture"]);
    }

    #[test]
    fn cargo_json_field() {
        let json = r#"{"packages":[],"target_directory":"/a \"b\"/target","version":1}"#;
        assert_eq!(json_string_field(json, "target_directory").as_deref(), Some("/a \"b\"/target"));
        assert_eq!(json_string_field(json, "workspace_root"), None);
    }
}
