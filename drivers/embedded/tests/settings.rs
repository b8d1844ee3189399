//! Settings a server cannot start with are refused with the error that
//! says which, before any buffer is allocated or port listened on.

use ftpwire_core::ServerConfig;
use ftpwire_core::server::LoginOutcome;
use ftpwire_smoltcp::{Error, RamFs, Server, Settings};
use smoltcp::iface::{Config, Interface};
use smoltcp::phy::{Loopback, Medium};
use smoltcp::wire::EthernetAddress;

fn start(settings: Settings, config: ServerConfig) -> Result<usize, Error> {
    let mut device = Loopback::new(Medium::Ethernet);
    let config_iface = Config::new(EthernetAddress([2, 0, 0, 0, 0, 1]).into());
    let iface = Interface::new(config_iface, &mut device, smoltcp::time::Instant::ZERO);
    let nobody = |_: &[u8], _: &[u8]| LoginOutcome::Rejected;
    Server::new(iface, settings, config, RamFs::new(0), nobody).map(|s| s.sessions())
}

#[test]
fn unusable_settings_are_refused() {
    let ok = Settings::default;
    assert_eq!(start(ok(), ServerConfig::default()), Ok(0));
    let tls = ServerConfig {
        tls: true,
        ..ServerConfig::default()
    };
    assert_eq!(start(ok(), tls), Err(Error::TlsUnsupported));
    let cases = [
        (
            Settings {
                sessions: 0,
                ..ok()
            },
            Error::NoSessions,
        ),
        (
            Settings {
                control_port: 0,
                ..ok()
            },
            Error::NoControlPort,
        ),
        (
            Settings {
                passive_ports: 50_000..=50_001,
                sessions: 3,
                ..ok()
            },
            Error::FewPassivePorts,
        ),
        (
            Settings {
                passive_ports: 0..=20,
                ..ok()
            },
            Error::FewPassivePorts,
        ),
        (
            Settings {
                control_buffer: 255,
                ..ok()
            },
            Error::SmallBuffers,
        ),
        (
            Settings {
                data_buffer: 0,
                ..ok()
            },
            Error::SmallBuffers,
        ),
        (
            Settings {
                active_ports: 0,
                ..ok()
            },
            Error::ActivePorts,
        ),
        (
            Settings {
                active_ports: 64_513,
                ..ok()
            },
            Error::ActivePorts,
        ),
    ];
    for (settings, error) in cases {
        assert_eq!(
            start(settings.clone(), ServerConfig::default()),
            Err(error.clone()),
            "{settings:?}"
        );
    }
    assert_eq!(
        start(
            Settings {
                active_ports: 64_512,
                ..ok()
            },
            ServerConfig::default()
        ),
        Ok(0)
    );
}
