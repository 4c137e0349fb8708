//! Nothing: the corpus is this package's dependencies (see `Cargo.toml`).
