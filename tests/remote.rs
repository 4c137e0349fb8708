//! The remote backend (`--db grpc://HOST:PORT`, feature `server`) and `serve`, through the real
//! binary: against an in-process IndraDB server (indradb-proto's server over a memory datastore,
//! on a free loopback port) and against the real `indradb-server` (`cargo xtask tools --features
//! server` installs it, linked against the workspace's own RocksDB build; a test that needs it
//! fails when it is missing, never skips): the same export as the msgpack backend, incremental
//! updates, builds kept apart by the server's lease, half-written graphs refused and repaired,
//! builds killed at random moments, two concurrent builds and a server restarted mid-build.
//! Everything talks to 127.0.0.1 only.

mod common;

#[cfg(not(feature = "server"))]
#[test]
fn a_server_graph_without_the_feature_is_a_clear_error() {
    let fixture = common::Fixture::new("single");
    for args in [
        &["stats", "--db", "grpc://127.0.0.1:9"][..],
        &["build", "--offline", "--db", "grpc://127.0.0.1:9"],
        &["serve", "--addr", "127.0.0.1:0"],
    ] {
        let output = fixture.run(args);
        assert_eq!(output.status.code(), Some(9), "{args:?}: {}", common::describe(&output));
        assert!(common::stderr(&output).contains("--features server"), "{}", common::describe(&output));
    }
}

#[cfg(feature = "server")]
mod server {
    use std::io::{BufRead, BufReader};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Output, Stdio};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::common::{self, BIN, Fixture, describe, stderr, write_large_workspace};

    /// An IndraDB server in this process: indradb-proto's server over a memory datastore.
    struct InProcess {
        address: String,
        _runtime: tokio::runtime::Runtime,
    }

    fn in_process() -> InProcess {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let port = listener.local_addr().unwrap().port();
        runtime.spawn(indradb_proto::run_server(Arc::new(indradb::MemoryDatastore::new_db()), listener));
        InProcess { address: format!("grpc://127.0.0.1:{port}"), _runtime: runtime }
    }

    /// The real `indradb-server`, killed when dropped.
    struct RealServer {
        child: Child,
        port: u16,
        rocksdb: Option<PathBuf>,
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    impl RealServer {
        /// A memory server, or a RocksDB one in `rocksdb`, on `port` (a free one if `None`).
        fn start(port: Option<u16>, rocksdb: Option<&Path>) -> RealServer {
            let port = port.unwrap_or_else(free_port);
            let server = common::tool_installed_by(
                "indradb-server",
                "`cargo xtask tools --features server`, which installs the real IndraDB server there",
            );
            let mut command = Command::new(server);
            command.args(["-a", &format!("127.0.0.1:{port}")]);
            match rocksdb {
                Some(dir) => command.args(["rocksdb", dir.to_str().unwrap()]),
                None => command.arg("memory"),
            };
            let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
            // It prints its address once it listens.
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
            assert_eq!(line.trim(), format!("grpc://127.0.0.1:{port}"), "indradb-server did not start");
            RealServer { child, port, rocksdb: rocksdb.map(Path::to_owned) }
        }

        fn address(&self) -> String {
            format!("grpc://127.0.0.1:{}", self.port)
        }

        fn restart(mut self) -> RealServer {
            self.child.kill().unwrap();
            self.child.wait().unwrap();
            let (port, rocksdb) = (self.port, self.rocksdb.clone());
            drop(self);
            // The port may linger for a moment after the kill.
            for _ in 0..50 {
                if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            RealServer::start(Some(port), rocksdb.as_deref())
        }
    }

    impl Drop for RealServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// The binary, in `dir`, with a short lease (so that a killed build's lease expires soon; long
    /// enough that a build on a loaded machine renews it in time, every third of it), and the clean
    /// environment `common::run_in` gives (a `CARGO_TARGET_DIR` of the test run's own would move
    /// the fixture's target folder).
    fn run(dir: &Path, args: &[&str]) -> Output {
        command(dir, args).output().unwrap()
    }

    fn command(dir: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(dir)
            .env("CODEGRAPH_LEASE_SECS", "2")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_TERM_COLOR")
            .env_remove("CARGO_BUILD_TARGET");
        command
    }

    fn expect(output: &Output, code: i32) -> &Output {
        assert_eq!(output.status.code(), Some(code), "{}", describe(output));
        output
    }

    fn export(dir: &Path, db: &str) -> Vec<u8> {
        expect(&run(dir, &["export", "--format", "jsonl", "--db", db]), 0).stdout.clone()
    }

    fn build(dir: &Path, db: &str, extra: &[&str], code: i32) -> Output {
        let mut args = vec!["build", "--offline", "--message-format", "json", "--db", db];
        args.extend(extra);
        let output = run(dir, &args);
        expect(&output, code);
        output
    }

    fn summary(output: &Output) -> serde_json::Value {
        let text = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(text.lines().last().unwrap()).unwrap()
    }

    /// The export of a full msgpack build of the fixture as it is now.
    fn reference(fixture: &Fixture, extra: &[&str]) -> Vec<u8> {
        let db = fixture.path().join("reference.msgpack");
        let db = db.to_str().unwrap();
        build(fixture.path(), db, &[&["--rebuild"][..], extra].concat(), 0);
        export(fixture.path(), db)
    }

    /// Conformance: the same export as the msgpack backend, a rebuild over an existing graph
    /// too, and the same counts from `stats`.
    fn conformance(address: &str) {
        let fixture = Fixture::new("workspace");
        let expected = reference(&fixture, &["--workspace"]);
        assert!(expected.len() > 1000);
        for _ in 0..2 {
            build(fixture.path(), address, &["--workspace", "--rebuild"], 0);
            assert!(export(fixture.path(), address) == expected, "the server's export differs from msgpack's");
        }
        let local = expect(&run(fixture.path(), &["stats", "--db", "reference.msgpack"]), 0).stdout.clone();
        let remote = expect(&run(fixture.path(), &["stats", "--db", address]), 0).stdout.clone();
        let counts = |bytes: &[u8]| String::from_utf8_lossy(bytes).lines().skip(1).collect::<Vec<_>>().join("\n");
        assert_eq!(counts(&local), counts(&remote));
        // The build's cache is local, named after the server.
        let codegraph = fixture.path().join("target/codegraph");
        let names: Vec<String> =
            std::fs::read_dir(&codegraph).unwrap().flatten().map(|e| e.file_name().into_string().unwrap()).collect();
        assert!(names.iter().any(|n| n.starts_with("grpc-127.0.0.1_") && n.ends_with(".cache")), "{names:?}");
        assert!(!fixture.path().join("grpc:").exists());
    }

    #[test]
    fn a_server_graph_exports_as_the_msgpack_one_in_process() {
        conformance(&in_process().address);
    }

    #[test]
    fn a_server_graph_exports_as_the_msgpack_one_on_the_real_server() {
        let server = RealServer::start(None, None);
        conformance(&server.address());
    }

    #[test]
    fn an_edit_updates_the_server_graph_incrementally() {
        let server = in_process();
        let fixture = Fixture::new("query");
        let address = server.address.as_str();
        let first = build(fixture.path(), address, &[], 0);
        assert_eq!(summary(&first)["incremental"], false);
        // Nothing changed: skipped.
        let again = build(fixture.path(), address, &[], 0);
        assert_eq!(summary(&again)["fresh"], true, "{}", describe(&again));
        let lib = fixture.path().join("crates/qcore/src/lib.rs");
        let text = std::fs::read_to_string(&lib).unwrap();
        std::fs::write(&lib, format!("{text}\npub fn added_by_the_test() {{ }}\n")).unwrap();
        let update = build(fixture.path(), address, &[], 0);
        assert_eq!(summary(&update)["incremental"], true, "{}", describe(&update));
        assert!(export(fixture.path(), address) == reference(&fixture, &[]), "the update differs from a full build");
        // Looked up by name and by path: the update keeps the server's property index (the
        // full build made it) up to date without asking for it again.
        for query in [["find", "added_by_the_test"], ["show", "qcore::added_by_the_test"]] {
            let found = run(fixture.path(), &["query", query[0], query[1], "--db", address, "--no-update"]);
            assert!(
                String::from_utf8_lossy(&expect(&found, 0).stdout).contains("added_by_the_test"),
                "{}",
                describe(&found)
            );
        }
        // The function removed again.
        std::fs::write(&lib, &text).unwrap();
        let update = build(fixture.path(), address, &[], 0);
        assert_eq!(summary(&update)["incremental"], true);
        assert!(export(fixture.path(), address) == reference(&fixture, &[]));
        // A comment at the end: the crate's recorded output is patched, its new module vertex
        // written to the server.
        std::fs::write(&lib, format!("{text}// a comment\n")).unwrap();
        let update = build(fixture.path(), address, &[], 0);
        assert_eq!(summary(&update)["crates_patched"], 1, "{}", describe(&update));
        assert!(export(fixture.path(), address) == reference(&fixture, &[]), "the patch differs from a full build");
    }

    /// `query` through `--db grpc://` asks the server only for what the query needs
    /// (`store::answer`); every verb must still answer exactly as on the whole graph, errors too.
    #[test]
    fn queries_through_the_server_answer_as_on_the_msgpack_graph() {
        let server = in_process();
        let fixture = Fixture::new("query");
        let address = server.address.as_str();
        build(fixture.path(), address, &[], 0);
        let local = fixture.path().join("graph.msgpack");
        let local = local.to_str().unwrap();
        build(fixture.path(), local, &[], 0);
        let find = ["query", "find", "helper", "--no-update", "--message-format", "json", "--db", local];
        let helper = String::from_utf8_lossy(&expect(&run(fixture.path(), &find), 0).stdout).into_owned();
        let id = helper
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .find_map(|record| record["id"].as_str().map(str::to_owned));
        let mut queries: Vec<Vec<&str>> = vec![
            vec!["callers", "qcore::helper"],
            vec!["callers", "<qapp::AppStore as Store>::get"],
            vec!["callers", "helper", "--depth", "4"],
            vec!["callees", "qapp::ui::render", "--depth", "3"],
            vec!["callees", "qapp::fetch"],
            vec!["impls", "qcore::Store"],
            vec!["impls", "AppStore"],
            vec!["show", "qcore::helper"],
            vec!["refs", "qcore::Store"],
            vec!["deps", "qapp::service"],
            vec!["rdeps", "qapp::service", "--depth", "3"],
            vec!["path", "qapp::ui", "qapp::db"],
            vec!["path", "qapp::db", "qapp::ui"],
            vec!["find", "helper"],
            vec!["find", "qapp::**"],
            vec!["cycles"],
            vec!["stats"],
            vec!["callers", "no_such_function"],
            vec!["callers", "get"],
            vec!["show", "00000000-0000-0000-0000-000000000001"],
        ];
        if let Some(id) = &id {
            queries.push(vec!["show", id]);
        }
        for query in &queries {
            for format in ["human", "json"] {
                let ask = |db: &str| {
                    let mut args = vec!["query"];
                    args.extend(query);
                    args.extend(["--no-update", "--message-format", format, "--db", db]);
                    run(fixture.path(), &args)
                };
                let (expected, found) = (ask(local), ask(address));
                assert_eq!(found.status.code(), expected.status.code(), "{query:?}: {}", describe(&found));
                assert!(
                    found.stdout == expected.stdout,
                    "{query:?} {format}: {}\n---\n{}",
                    describe(&found),
                    describe(&expected)
                );
                if !expected.status.success() {
                    let message = |output: &Output| stderr(output).replace(address, "DB").replace(local, "DB");
                    assert_eq!(message(&found), message(&expected), "{query:?}");
                }
            }
        }
        assert!(id.is_some(), "`find helper` named no id: {helper}");
    }

    #[test]
    fn an_unreachable_server_is_named_with_exit_code_5() {
        let fixture = Fixture::new("single");
        let address = format!("grpc://127.0.0.1:{}", free_port());
        for args in [&["stats", "--db", address.as_str()][..], &["build", "--offline", "--db", &address]] {
            let output = expect(&run(fixture.path(), args), 5).clone();
            assert!(
                stderr(&output).contains(&format!("cannot reach the IndraDB server at `{address}`")),
                "{}",
                describe(&output)
            );
        }
        let output = expect(&run(fixture.path(), &["stats", "--db", "grpc://"]), 5).clone();
        assert!(stderr(&output).contains("grpc://"), "{}", describe(&output));
    }

    #[test]
    fn a_held_lease_makes_builds_wait_or_fail_with_exit_code_7() {
        let server = in_process();
        let fixture = Fixture::new("single");
        let address = server.address.as_str();
        build(fixture.path(), address, &[], 0);
        // Another "machine" holds the lease: this process, through the library.
        let lease = cargo_codegraph::store::remote::acquire(address, false, || {}).unwrap();
        let output = build(fixture.path(), address, &["--rebuild", "--no-wait"], 7);
        assert!(stderr(&output).contains("in use by another"), "{}", describe(&output));
        // Readers are not kept out by a lease alone: the graph is finished.
        expect(&run(fixture.path(), &["stats", "--db", address]), 0);
        // Without `--no-wait` the build waits until the lease is released.
        let waiting = command(fixture.path(), &["build", "--offline", "--rebuild", "--db", address])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        drop(lease);
        let output = waiting.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
        assert!(stderr(&output).contains("Blocking"), "{}", describe(&output));
    }

    /// The server's graph, through the library's client.
    fn remote_db(address: &str) -> indradb::Database<cargo_codegraph::store::remote::RemoteDatastore> {
        let remote = cargo_codegraph::store::remote::Remote::connect(address).unwrap();
        indradb::Database::new(cargo_codegraph::store::remote::RemoteDatastore(remote))
    }

    /// Sets the version record's `writing` mark, as a build does before its first write.
    fn mark_writing(address: &str) {
        use indradb::{Identifier, Json, SpecificVertexQuery};
        let db = remote_db(address);
        let meta = uuid::Uuid::new_v5(&cargo_codegraph::ids::NAMESPACE, b"codegraph_meta");
        db.set_properties(
            SpecificVertexQuery::single(meta),
            Identifier::new("writing").unwrap(),
            &Json::new("x".into()),
        )
        .unwrap();
    }

    #[test]
    fn a_lease_left_without_properties_is_waited_out_not_spun_on() {
        use indradb::{Identifier, Vertex};
        let server = in_process();
        let fixture = Fixture::new("single");
        let address = server.address.as_str();
        // Takes and releases the lease's first generation.
        build(fixture.path(), address, &[], 0);
        // A build killed between creating its lease's vertex (the second generation) and writing
        // its first property: a vertex with none. It was invisible to the lease's lookup, so each
        // later build took that generation for free, failed to create it, and tried again at once.
        let db = remote_db(address);
        let (high, _) = uuid::Uuid::new_v5(&cargo_codegraph::ids::NAMESPACE, b"codegraph_lease").as_u64_pair();
        let bare = Vertex::with_id(uuid::Uuid::from_u64_pair(high, 2), Identifier::new("codegraph_lease").unwrap());
        assert!(db.create_vertex(&bare).unwrap());
        let started = Instant::now();
        let mut waiting = command(fixture.path(), &["build", "--offline", "--rebuild", "--db", address])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        while waiting.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(60) {
                waiting.kill().unwrap();
                panic!("the build still waits for a lease nobody holds after a minute");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let output = waiting.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
        // It waited one lease time (2 s in these tests) for a holder that never wrote an expiry.
        assert!(stderr(&output).contains("Blocking"), "{}", describe(&output));
        assert!(started.elapsed() >= Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[test]
    fn a_half_written_graph_is_refused_then_repaired_by_the_next_build() {
        let server = in_process();
        let fixture = Fixture::new("single");
        let address = server.address.as_str();
        build(fixture.path(), address, &[], 0);
        let expected = export(fixture.path(), address);
        mark_writing(address);
        // No lease is live: a build died.
        let output = expect(&run(fixture.path(), &["export", "--db", address]), 5).clone();
        assert!(stderr(&output).contains("half-written"), "{}", describe(&output));
        assert!(stderr(&output).contains("cargo codegraph build --db"), "{}", describe(&output));
        // A build is running: its lease is live.
        let lease = cargo_codegraph::store::remote::acquire(address, false, || {}).unwrap();
        let output = expect(&run(fixture.path(), &["stats", "--db", address]), 5).clone();
        assert!(stderr(&output).contains("a build is writing"), "{}", describe(&output));
        drop(lease);
        // The cache's stamp no longer matches: the next build is a full one, not a skip.
        let output = build(fixture.path(), address, &[], 0);
        assert_eq!(summary(&output)["fresh"], false, "{}", describe(&output));
        assert!(export(fixture.path(), address) == expected);
    }

    /// What a reader finds: the export, or the refusal's exit code and message.
    fn read(dir: &Path, address: &str) -> Result<Vec<u8>, (Option<i32>, String)> {
        let output = run(dir, &["export", "--db", address]);
        if output.status.success() { Ok(output.stdout) } else { Err((output.status.code(), stderr(&output))) }
    }

    fn refused_properly(found: &Result<Vec<u8>, (Option<i32>, String)>) -> bool {
        matches!(found, Err((Some(5), message)) if message.contains("half-written") || message.contains("a build is writing"))
    }

    #[test]
    fn builds_killed_at_random_moments_leave_a_graph_that_is_right_or_refused() {
        let server = RealServer::start(None, None);
        let address = server.address();
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        const FILES: usize = 30;
        let mut graphs = Vec::new();
        let mut duration = Duration::ZERO;
        for version in 0..2 {
            write_large_workspace(&ws, FILES, version == 1);
            let started = Instant::now();
            build(&ws, &address, &["--rebuild"], 0);
            duration = duration.max(started.elapsed());
            graphs.push(export(&ws, &address));
        }
        assert!(graphs[0] != graphs[1]);
        let (mut state, mut seen) = (0x9e37_79b9_7f4a_7c15u64, [0usize; 3]);
        for round in 0..10 {
            let version = round % 2;
            write_large_workspace(&ws, FILES, version == 1);
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = duration.mul_f64((state % 1000) as f64 / 1000.0 * 1.2);
            let mut child = command(&ws, &["build", "--offline", "-q", "--rebuild", "--db", &address])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(at);
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            match read(&ws, &address) {
                Ok(found) => {
                    let which = graphs.iter().position(|graph| *graph == found);
                    assert!(which.is_some(), "round {round}, killed at {at:?}: a graph that is neither build's");
                    seen[which.unwrap()] += 1;
                }
                found => {
                    assert!(refused_properly(&found), "round {round}, killed at {at:?}: {found:?}");
                    seen[2] += 1;
                }
            }
        }
        eprintln!("a build took up to {duration:?}; after the kills: old/new graph read {seen:?} (last: refused)");
        assert!(seen[2] > 0, "no kill left a graph to refuse: the test shows nothing");
        // The next build waits out the dead build's lease and repairs the graph.
        write_large_workspace(&ws, FILES, false);
        build(&ws, &address, &[], 0);
        assert!(export(&ws, &address) == graphs[0]);
    }

    #[test]
    fn two_concurrent_builds_leave_one_good_graph() {
        let server = RealServer::start(None, None);
        let address = server.address();
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        write_large_workspace(&ws, 20, false);
        // Two copies of the workspace, as on two machines: their caches are apart too.
        let other = dir.path().join("other");
        write_large_workspace(&other, 20, false);
        // Nobody is killed here: a lease long enough that a build slowed down by a loaded machine
        // does not lose it to the one waiting (which then fails it, rightly, with exit code 5).
        let spawn = |dir: &Path| {
            command(dir, &["build", "--offline", "--rebuild", "--db", &address])
                .env("CODEGRAPH_LEASE_SECS", "30")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (first, second) = (spawn(&ws), spawn(&other));
        let (first, second) = (first.wait_with_output().unwrap(), second.wait_with_output().unwrap());
        assert!(first.status.success() && second.status.success(), "{}\n{}", describe(&first), describe(&second));
        assert!(stderr(&first).contains("Blocking") || stderr(&second).contains("Blocking"), "neither build waited");
        let found = export(&ws, &address);
        // `--no-wait` against a running build.
        let running = spawn(&ws);
        std::thread::sleep(Duration::from_millis(300));
        let output = run(&other, &["build", "--offline", "--rebuild", "--no-wait", "--db", &address]);
        let running = running.wait_with_output().unwrap();
        assert!(running.status.success(), "{}", describe(&running));
        assert_eq!(output.status.code(), Some(7), "{}", describe(&output));
        let expected = {
            let db = dir.path().join("reference.msgpack");
            build(&ws, db.to_str().unwrap(), &[], 0);
            export(&ws, db.to_str().unwrap())
        };
        assert!(found == expected && export(&ws, &address) == expected);
    }

    #[test]
    fn a_server_restarted_mid_build_leaves_a_refused_graph_that_the_next_build_repairs() {
        let store = tempfile::tempdir().unwrap();
        let server = RealServer::start(None, Some(&store.path().join("indradb")));
        let address = server.address();
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        write_large_workspace(&ws, 30, false);
        build(&ws, &address, &[], 0);
        let expected = export(&ws, &address);
        write_large_workspace(&ws, 30, true);
        let child = command(&ws, &["build", "--offline", "--db", &address])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Once the build has marked the graph (readers refuse it), the server goes down.
        let started = Instant::now();
        while read(&ws, &address).is_ok() && started.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let server = server.restart();
        let output = child.wait_with_output().unwrap();
        // Whether the build failed on the way or finished on the restarted server, what readers
        // find is right or refused.
        let found = read(&ws, &address);
        match output.status.code() {
            Some(0) => assert!(found.is_ok(), "{found:?}"),
            Some(5) => assert!(refused_properly(&found), "{found:?}\n{}", describe(&output)),
            _ => panic!("{}", describe(&output)),
        }
        if let Ok(found) = &found {
            assert!(*found != expected, "a finished build holds the new sources");
        }
        build(&ws, &address, &[], 0);
        let repaired = export(&ws, &address);
        let db = dir.path().join("reference.msgpack");
        build(&ws, db.to_str().unwrap(), &[], 0);
        assert!(repaired == export(&ws, db.to_str().unwrap()));
        drop(server);
    }

    #[test]
    fn serve_serves_the_local_graph_and_follows_its_builds() {
        let fixture = Fixture::new("query");
        let db = fixture.path().join("graph.msgpack");
        let db = db.to_str().unwrap().to_owned();
        build(fixture.path(), &db, &[], 0);
        let port = free_port();
        let address = format!("grpc://127.0.0.1:{port}");
        let mut serve = Command::new(BIN)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--poll-ms", "50", "--db", &db])
            .current_dir(fixture.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let ready = |expected: &[u8]| {
            let started = Instant::now();
            loop {
                if let Ok(found) = read(fixture.path(), &address)
                    && found == expected
                {
                    return true;
                }
                if started.elapsed() > Duration::from_secs(30) {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        };
        let expected = export(fixture.path(), &db);
        let served = ready(&expected);
        let lib = fixture.path().join("crates/qcore/src/lib.rs");
        let text = std::fs::read_to_string(&lib).unwrap();
        std::fs::write(&lib, format!("{text}\npub fn served_later() {{ }}\n")).unwrap();
        build(fixture.path(), &db, &[], 0);
        let expected_later = export(fixture.path(), &db);
        let followed = ready(&expected_later);
        let found = run(fixture.path(), &["query", "find", "served_later", "--db", &address, "--no-update"]);
        serve.kill().unwrap();
        let output = serve.wait_with_output().unwrap();
        assert!(served, "the served graph never matched the local one: {}", describe(&output));
        assert!(followed, "the served graph did not follow the new build: {}", describe(&output));
        assert!(stderr(&output).contains("Reloaded"), "{}", describe(&output));
        assert!(String::from_utf8_lossy(&expect(&found, 0).stdout).contains("served_later"));
    }

    /// IndraDB's own datastore suite, through our gRPC client (`store::remote::RemoteDatastore`)
    /// against indradb-proto's server over a memory datastore: the server code path `serve` runs.
    mod indradb_suite {
        use std::sync::Arc;

        use cargo_codegraph::store::remote::{Remote, RemoteDatastore};
        use indradb::{Database, define_test, full_test_impl};

        fn datastore() -> Database<RemoteDatastore> {
            let server = super::in_process();
            let remote = Remote::connect(&server.address).unwrap();
            // The server's runtime lives as long as the test process: the suite's macro gives no
            // hook to stop it.
            std::mem::forget(server);
            Database::new(RemoteDatastore(Arc::clone(&remote)))
        }

        full_test_impl!(datastore());
    }
}
