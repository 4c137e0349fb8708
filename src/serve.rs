//! `cargo codegraph serve`: the local graph served over IndraDB's own gRPC API, so that any
//! IndraDB client, and our own `--db grpc://…` readers, query a warm graph; new builds of the
//! local graph are loaded without a restart. The store does the work (`store::served`); this
//! module is the command's glue: which graph, where, and what to say.

use std::time::Duration;

use crate::cli::ServeArgs;
use crate::error::Error;
use crate::report::Reporter;
#[cfg(feature = "server")]
use crate::store::served::{self, Followed};
use crate::store::{self, StoreError};

/// Serves until the process is stopped; returns only on an error.
pub(crate) fn run(args: &ServeArgs, reporter: &Reporter) -> Result<u8, Error> {
    let db = crate::commands::stored_db(&args.db, &args.manifest)?;
    if store::is_remote(&db) {
        return Err(StoreError::Unreadable {
            path: db,
            reason: "`serve` serves a local graph; this one is on a server already".into(),
        }
        .into());
    }
    serve(args, db, reporter)
}

#[cfg(feature = "server")]
fn serve(args: &ServeArgs, db: camino::Utf8PathBuf, reporter: &Reporter) -> Result<u8, Error> {
    let listener = served::bind(args.addr)?;
    let loaded = served::Served::load(&db)?;
    let address = listener.local_addr().map_or_else(|_| args.addr.to_string(), |addr| addr.to_string());
    reporter.status("Serving", &format!("{db} over IndraDB's gRPC API at grpc://{address}"));
    let reporter = reporter.clone();
    let path = db.clone();
    served::run(loaded, listener, Duration::from_millis(args.poll_ms.max(10)), move |followed| match followed {
        Ok(Followed::Reloaded { vertices, edges }) => {
            reporter.status("Reloaded", &format!("{path}: {vertices} vertices, {edges} edges"));
        }
        Ok(Followed::Unchanged) => {}
        Err(err) => reporter
            .warning(&format!("the new build of the graph could not be loaded (still serving the last one): {err}")),
    })?;
    Ok(crate::error::exit::SUCCESS)
}

#[cfg(not(feature = "server"))]
fn serve(_: &ServeArgs, _: camino::Utf8PathBuf, _: &Reporter) -> Result<u8, Error> {
    let _ = Duration::ZERO;
    Err(StoreError::Unsupported { path: "serve".into(), backend: store::Backend::Remote.as_str() }.into())
}
