//! Runs the JavaScript side from `cargo test`, so the README's one test
//! command covers it: builds the release module and its bindings with
//! `build.sh` and runs every `node --test` file (`size.test.mjs`, the size
//! budget, among them), the Node FTP host driven by curl included. Needs the
//! tools `.ci/run` installs: node, curl, openssl, wasm-opt (binaryen),
//! wasm-bindgen-cli at the pinned version and the wasm32 target.

use std::path::Path;
use std::process::Command;

#[test]
fn node_tests_pass_against_the_release_module() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let build = Command::new("bash")
        .arg(here.join("build.sh"))
        .status()
        .expect("run drivers/wasm/build.sh");
    assert!(build.success(), "drivers/wasm/build.sh failed: {build}");
    let tests = Command::new("bash")
        .arg(here.join("js/test/run.sh"))
        .status()
        .expect("run drivers/wasm/js/test/run.sh");
    assert!(tests.success(), "node tests failed: {tests}");
}
