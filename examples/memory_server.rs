//! An IndraDB server over a memory datastore, optimised like the binary it is run beside:
//! `benches/remote.py` pushes graphs to it (the `indradb-server` that `cargo xtask` installs for
//! the tests is built unoptimised). The code path of `indradb-server memory`, indradb-proto's
//! server, with `TCP_NODELAY` on its connections as `cargo codegraph serve` has it
//! (`store::served::grpc`; `indradb-server` 5.0.0 leaves Nagle's algorithm on). Prints
//! `grpc://ADDR` once it listens.
//!
//! `cargo run --release --features server --example memory_server -- [127.0.0.1:0]`

#[cfg(feature = "server")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("grpc://{}", listener.local_addr()?);
        let db = std::sync::Arc::new(indradb::MemoryDatastore::new_db());
        cargo_codegraph::store::served::grpc(db, listener).await?;
        Ok(())
    })
}

#[cfg(not(feature = "server"))]
fn main() {
    eprintln!("this example needs the `server` feature: cargo run --release --features server --example memory_server");
    std::process::exit(9);
}
