//! IndraDB's own datastore test suite (indradb-lib's `test-suite` feature), run against the
//! datastores our backends use, configured as `store` configures them. It checks IndraDB, not
//! cargo-codegraph: that the RocksDB datastore we open with our options behaves as IndraDB
//! promises (the memory datastore is IndraDB's own reference and is tested upstream).

#[cfg(feature = "rocksdb")]
mod rocksdb {
    use indradb::{Database, RocksdbDatastore, define_test, full_test_impl};

    /// A fresh RocksDB datastore in the test target's temp folder, with the options
    /// `store::rocks` opens generations with. Each test's folder is kept until `cargo clean`:
    /// the datastore must outlive the test body, which the suite's macro gives no hook to clean.
    fn datastore() -> Database<RocksdbDatastore> {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap().keep();
        let mut opts = RocksdbDatastore::get_options(None);
        opts.create_if_missing(true);
        opts.set_keep_log_file_num(1);
        RocksdbDatastore::new_db_with_options(dir, &opts).unwrap()
    }

    full_test_impl!(datastore());
}
