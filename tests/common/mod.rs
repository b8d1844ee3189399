//! The harness of the real-client integration tests: the real `ftpwire`
//! binary on `127.0.0.1:0` ([`server`]), real clients run with a time bound
//! ([`clients`]), the project's own client session for polite sessions
//! ([`session`]), a raw control connection for what no polite client sends
//! ([`control`], its replies read by the core's parser), the same under
//! TLS with a certificate made at test time ([`ftps`]), and the 20 MiB
//! payload every transfer test moves ([`payload`]).
//!
//! Every test runs once per driver: write `fn name(driver: &'static str)`
//! and list it in [`driver_matrix!`].

// Each test file uses a different part of the harness.
#![allow(dead_code)]

pub mod clients;
pub mod control;
pub mod ftps;
pub mod garage;
pub mod netns;
pub mod payload;
pub mod server;
pub mod session;

/// Generates one `#[test]` per driver for each listed test function
/// `fn name(driver: &'static str)`, named `<driver>_driver::name`.
///
/// The driver list is the `@drivers` line below: testing another driver is
/// adding it there (the harness passes `--driver NAME` to `ftpwire serve`).
macro_rules! driver_matrix {
    ($($test:ident),* $(,)?) => {
        driver_matrix!(@drivers [(std_driver "std") (smol_driver "smol")] $($test),*);
    };
    (@drivers [($module:ident $driver:literal) $($rest:tt)*] $($test:ident),*) => {
        mod $module {
            $(
                #[test]
                fn $test() {
                    super::$test($driver)
                }
            )*
        }
        driver_matrix!(@drivers [$($rest)*] $($test),*);
    };
    (@drivers [] $($test:ident),*) => {};
}
