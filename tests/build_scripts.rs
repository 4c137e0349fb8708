//! `--build-scripts`: a build script's cfg turns items on, code it generates into `OUT_DIR` is
//! followed through `include!`, and a failing build script is a warning for its package while the
//! rest is indexed. Without the flag nothing is compiled and neither shows.

mod common;

use common::{Fixture, describe, run_in};

fn functions(export: &str) -> Vec<(String, bool)> {
    export
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v["kind"] == "function")
        .map(|v| (v["props"]["path"].as_str().unwrap_or("").to_owned(), v["props"]["active"] == true))
        .collect()
}

#[test]
fn build_scripts_give_cfgs_and_generated_code() {
    let fixture = Fixture::new("buildscript");
    let db = fixture.db();
    let db = db.to_str().unwrap();

    let plain = run_in(fixture.path(), &["--workspace", "--offline", "--db", db]);
    assert_eq!(plain.status.code(), Some(0), "{}", describe(&plain));
    let export = run_in(fixture.path(), &["export", "--db", db]);
    let before = functions(&String::from_utf8(export.stdout).unwrap());
    assert!(before.contains(&("good::gated".to_owned(), false)), "{before:?}");
    assert!(!before.iter().any(|(path, _)| path == "good::generated"), "{before:?}");
    assert!(!fixture.path().join("target/debug").exists(), "nothing was compiled without the flag");

    let output = run_in(fixture.path(), &["--workspace", "--offline", "--build-scripts", "--db", db]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(stderr.contains("the build script of `bad` did not run"), "{stderr}");
    let export = run_in(fixture.path(), &["export", "--db", db]);
    let after = functions(&String::from_utf8(export.stdout).unwrap());
    assert!(after.contains(&("good::gated".to_owned(), true)), "{after:?}");
    assert!(after.contains(&("good::generated".to_owned(), true)), "{after:?}");
    assert!(after.contains(&("bad::still_indexed".to_owned(), true)), "{after:?}");
}
