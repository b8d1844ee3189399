//! Every session script in `core/scripts/sessions.json` against the core
//! session itself (the wasm adapter runs the same file, natively and in Node).

use ftpwire_core::script::{self, CoreTarget};

#[test]
fn every_session_script_passes_on_the_core() {
    let scripts = script::parse(script::SESSIONS_JSON).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        scripts.len() >= 55,
        "the script file lost scripts: {}",
        scripts.len()
    );
    let mut failed = Vec::new();
    for script in &scripts {
        let mut target = CoreTarget::for_script(script);
        if let Err(mismatch) = script::run(script, &mut target) {
            failed.push(mismatch.to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} scripts failed:\n{}",
        failed.len(),
        scripts.len(),
        failed.join("\n")
    );
}

/// The runner can fail: a script that says a wrong reply is reported, with
/// its step, not passed.
#[test]
fn a_wrong_reply_is_a_mismatch_at_its_step() {
    let text = r#"{"scripts": [{"name": "wrong", "steps": [
        {"send": "NOOP\r\n", "replies": "200 NOOP ok.\r\n"},
        {"send": "NOOP\r\n", "replies": "200 Not what it says.\r\n"}
    ]}]}"#;
    let scripts = script::parse(text).unwrap();
    let mut target = CoreTarget::for_script(&scripts[0]);
    let mismatch = script::run(&scripts[0], &mut target).unwrap_err();
    assert_eq!((mismatch.step, mismatch.what), (2, "replies"));
    assert_eq!(mismatch.got, r#""200 NOOP ok.\r\n""#);
}

#[test]
fn an_unknown_step_key_is_a_format_error() {
    let text = r#"{"scripts": [{"name": "typo", "steps": [{"sned": "NOOP\r\n"}]}]}"#;
    let error = script::parse(text).unwrap_err();
    assert!(error.0.contains("\"sned\""), "{error}");
}

#[test]
fn a_wrong_event_is_a_mismatch() {
    let text = r#"{"scripts": [{"name": "wrong event", "steps": [
        {"send": "USER alice\r\nPASS x\r\n", "replies": "331 Password required.\r\n",
         "events": [{"type": "login", "user": "alice", "password": "y"}]}
    ]}]}"#;
    let scripts = script::parse(text).unwrap();
    let mut target = CoreTarget::for_script(&scripts[0]);
    let mismatch = script::run(&scripts[0], &mut target).unwrap_err();
    assert_eq!((mismatch.step, mismatch.what), (1, "events"));
    assert!(mismatch.got.contains(r#""password":"x""#), "{mismatch}");
}
