//! The one error type the binary sees, and the exit codes it maps to.
//!
//! | code | meaning |
//! |-----:|---------|
//! | 0    | success |
//! | 1    | `check` found a broken rule |
//! | 2    | the command line is wrong (unknown flag, bad value, a `check`-only `--message-format` elsewhere, a `--changed` revision git does not know), or asks `export` for a picture too large to draw (more than `--max-nodes`) |
//! | 3    | the graph was built and saved, but some files could not be found, read or parsed |
//! | 4    | the workspace could not be loaded: no `Cargo.toml`, a broken manifest, `cargo metadata` failed, an unknown `--package` |
//! | 5    | the graph store could not be read or written |
//! | 6    | an output file could not be written |
//! | 7    | the graph is in use by another run, and `--no-wait` was given |
//! | 8    | `check`'s rules in `Cargo.toml` are invalid (the message names the manifest and the key), or its `--baseline` file is missing, malformed or of another version |
//! | 9    | the graph's backend is not in this build (RocksDB: rebuild with `--features rocksdb`) |
//! | 10   | `query`: the target is not in the graph |
//! | 11   | `query`: the target names several vertices (they are listed) |
//! | 12   | `mcp`: the session failed (the client left before initializing, or broke the protocol) |
//! | 101  | an internal error (a bug: please report it) |

use crate::index::IndexError;
use crate::store::StoreError;
use crate::workspace::WorkspaceError;

pub mod exit {
    pub const SUCCESS: u8 = 0;
    pub const RULES_BROKEN: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const PARTIAL: u8 = 3;
    pub const WORKSPACE: u8 = 4;
    pub const STORE: u8 = 5;
    pub const OUTPUT: u8 = 6;
    pub const LOCKED: u8 = 7;
    pub const RULES_INVALID: u8 = 8;
    pub const UNSUPPORTED: u8 = 9;
    pub const NOT_FOUND: u8 = 10;
    pub const AMBIGUOUS: u8 = 11;
    pub const MCP: u8 = 12;
    pub const INTERNAL: u8 = 101;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error(transparent)]
    BuildScripts(#[from] crate::build_scripts::BuildScriptError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write `{path}`: {source}")]
    Output {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Rules(#[from] crate::check::RulesError),
    #[error(transparent)]
    Baseline(#[from] crate::check::baseline::BaselineError),
    #[error("{0}")]
    Git(String),
    #[error(transparent)]
    Query(#[from] crate::query::QueryError),
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    #[error("the MCP session failed: {0}")]
    Mcp(String),
    #[error("internal error (please report it): {0}")]
    Internal(String),
}

impl From<IndexError> for Error {
    fn from(err: IndexError) -> Error {
        Error::Internal(err.to_string())
    }
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            // `cargo check` could not even start: as when `cargo metadata` cannot.
            Error::Workspace(_) | Error::BuildScripts(_) => exit::WORKSPACE,
            Error::Store(StoreError::Locked { .. }) => exit::LOCKED,
            Error::Store(StoreError::Unsupported { .. }) => exit::UNSUPPORTED,
            Error::Store(_) => exit::STORE,
            Error::Output { .. } => exit::OUTPUT,
            Error::Rules(_) | Error::Baseline(_) => exit::RULES_INVALID,
            Error::Git(_) => exit::USAGE,
            Error::Query(crate::query::QueryError::NotFound { .. }) => exit::NOT_FOUND,
            Error::Query(crate::query::QueryError::Ambiguous { .. }) => exit::AMBIGUOUS,
            Error::Query(crate::query::QueryError::BadArgument { .. }) => exit::USAGE,
            Error::Export(crate::export::ExportError::Focus(query)) => Error::Query(query.clone()).exit_code(),
            Error::Export(_) => exit::USAGE,
            Error::Mcp(_) => exit::MCP,
            Error::Internal(_) => exit::INTERNAL,
        }
    }
}
