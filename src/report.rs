//! The reporter: the one place that writes to the terminal.
//!
//! It knows about `--color`, `-q`/`-v` and `--message-format`, draws the progress bar when stderr
//! is a terminal, and prints diagnostics and errors in cargo's style. Library stages never print:
//! they return data, or call `index::Progress`, which the reporter implements.

use std::io::IsTerminal;
use std::time::Duration;

use console::Style;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{ColorChoice, GlobalArgs, MessageFormat};
use crate::diagnostic::{Diagnostic, Severity};
use crate::index::Progress;

#[derive(Clone)]
pub struct Reporter {
    quiet: bool,
    verbose: u8,
    json: bool,
    bar: ProgressBar,
}

impl Reporter {
    pub fn new(args: &GlobalArgs) -> Reporter {
        let colors = match args.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        };
        console::set_colors_enabled_stderr(colors);
        let json = args.message_format == MessageFormat::Json;
        let show_bar = !args.quiet && !json && std::io::stderr().is_terminal();
        let bar = if show_bar {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{prefix:>12.cyan.bold} [{bar:27}] {pos}/{len} files{msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix("Indexing");
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        } else {
            ProgressBar::hidden()
        };
        Reporter { quiet: args.quiet, verbose: args.verbose, json, bar }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Removes the progress bar, before the final report.
    pub fn finish_progress(&self) {
        self.bar.finish_and_clear();
    }

    /// A cargo-style status line (`    Finished ...`) on stderr, unless quiet or JSON.
    pub fn status(&self, verb: &str, message: &str) {
        if self.quiet || self.json {
            return;
        }
        let verb = Style::new().for_stderr().green().bold().apply_to(format!("{verb:>12}"));
        self.bar.suspend(|| eprintln!("{verb} {message}"));
    }

    /// A line shown only with `-v`.
    pub fn verbose(&self, message: &str) {
        if self.verbose > 0 && !self.json {
            self.bar.suspend(|| eprintln!("{message}"));
        }
    }

    /// A diagnostic on stderr (in JSON mode, diagnostics travel in the summary instead).
    pub fn diagnostic(&self, diagnostic: &Diagnostic) {
        if self.json {
            return;
        }
        let (label, style) = match diagnostic.severity {
            Severity::Error => ("error", Style::new().for_stderr().red().bold()),
            Severity::Warning => ("warning", Style::new().for_stderr().yellow().bold()),
        };
        let location = match (diagnostic.line, diagnostic.column) {
            (0, _) => diagnostic.file.clone(),
            (line, 0) => format!("{}:{line}", diagnostic.file),
            (line, column) => format!("{}:{line}:{column}", diagnostic.file),
        };
        let label = style.apply_to(label);
        self.bar.suspend(|| eprintln!("{label}: {location}: {}", diagnostic.message));
    }

    /// A warning on stderr, in every mode (stdout stays the report's).
    pub fn warning(&self, message: &str) {
        let label = Style::new().for_stderr().yellow().bold().apply_to("warning");
        self.bar.suspend(|| eprintln!("{label}: {message}"));
    }

    /// A fatal error, with its chain of causes, on stderr (in every mode: stdout stays clean).
    pub fn error(&self, error: &dyn std::error::Error) {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            let cause = cause.to_string();
            if !message.contains(&cause) {
                message.push_str("\n\nCaused by:\n  ");
                message.push_str(&cause);
            }
            source = cause_of(source);
        }
        let label = Style::new().for_stderr().red().bold().apply_to("error");
        self.bar.suspend(|| eprintln!("{label}: {message}"));
    }
}

fn cause_of<'a>(error: Option<&'a (dyn std::error::Error + 'static)>) -> Option<&'a (dyn std::error::Error + 'static)> {
    error.and_then(|e| e.source())
}

impl Progress for Reporter {
    fn files_found(&self, n: usize) {
        self.bar.inc_length(n as u64);
    }

    fn file_done(&self) {
        self.bar.inc(1);
    }

    fn stage(&self, name: &str) {
        self.bar.set_prefix(name.to_owned());
    }

    fn blocked(&self, path: &str) {
        // Said even with `-q`, as cargo does: a run that seems to hang must say why.
        if !self.json {
            let verb = Style::new().for_stderr().cyan().bold().apply_to(format!("{:>12}", "Blocking"));
            self.bar.suspend(|| eprintln!("{verb} waiting for the lock on `{path}` (held by another run)"));
        }
    }
}
