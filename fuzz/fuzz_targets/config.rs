//! The `ftpwire serve` configuration (`ftpwire::config::ServeConfig`) from
//! arbitrary TOML text, through `from_toml` and through `load` (a real file).
//!
//! Checks, beyond "never panics": a bad file is an error whose message is
//! one line naming a line of the text that exists; `load` agrees with
//! `from_toml` except that relative paths are joined to the file's
//! directory; a configuration that loads has a non-zero idle timeout, and
//! its derived pieces (`user_db`, `server_config`, and `tls` when no
//! certificate is named, so nothing outside is read) are built without a
//! panic; every plain-password user it accepts logs in with that password.
//! The root, certificate and key are never opened: arbitrary paths would
//! make the fuzzer read the machine's files.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use ftpwire::config::{ConfigError, ServeConfig};
use ftpwire_backend::Authenticator;
use ftpwire_core::server::LoginOutcome;
use libfuzzer_sys::fuzz_target;

/// A private directory for the `load` file, made once per process.
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ftpwire-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = ServeConfig::from_toml(text);
    let file = scratch().join("ftpwire.toml");
    std::fs::write(&file, text).expect("write the config file");
    let loaded = ServeConfig::load(&file);

    match (&parsed, &loaded) {
        (Ok(parsed), Ok(loaded)) => {
            let mut expected = parsed.clone();
            for path in [
                Some(&mut expected.root),
                expected.tls_cert.as_mut(),
                expected.tls_key.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                if path.is_relative() {
                    *path = scratch().join(&*path);
                }
            }
            assert_eq!(&expected, loaded, "load and from_toml disagree");
            check_config(parsed);
        }
        (Err(parsed), Err(loaded)) => {
            check_error(parsed, text);
            check_error(loaded, text);
        }
        _ => panic!("from_toml {parsed:?} but load {loaded:?}"),
    }
});

fn check_error(error: &ConfigError, text: &str) {
    let message = error.to_string();
    assert!(!message.is_empty());
    assert!(
        !message.contains(['\n', '\r']),
        "a config error is more than one line: {message:?}"
    );
    if let ConfigError::Syntax { line, .. } = error {
        let lines = text.split('\n').count();
        assert!(
            (1..=lines).contains(line),
            "error on line {line} of a {lines}-line text"
        );
    }
}

fn check_config(config: &ServeConfig) {
    assert!(!config.idle_timeout.is_zero(), "idle_timeout 0 accepted");
    let _ = config.server_config();
    let _ = config.anonymous_allowed();
    if config.tls_cert.is_none() && config.tls_key.is_none() {
        match config.tls() {
            Ok(settings) => assert!(settings.is_none()),
            Err(error) => check_error(&error, ""),
        }
    }
    match config.user_db() {
        Ok(db) => {
            for user in &config.users {
                let anonymous = matches!(user.name.as_str(), "anonymous" | "ftp");
                if let (Some(password), false) = (&user.password, anonymous) {
                    assert_eq!(
                        db.authenticate(user.name.as_bytes(), password.as_bytes()),
                        LoginOutcome::Accepted {
                            read_only: user.read_only
                        },
                        "configured user {:?} cannot log in",
                        user.name
                    );
                }
            }
        }
        Err(error) => {
            let message = error.to_string();
            assert!(!message.contains(['\n', '\r']), "{message:?}");
        }
    }
}
