//! The data connection set-up: PASV/EPSV (with the passive-address policy
//! of [`address`](crate::address)) and PORT/EPRT with bounce protection.

use super::*;

impl State {
    /// Forgets the data connection set-up, closing a passive listener.
    pub(super) fn reset_data(&mut self) {
        if self.data == DataSetup::Passive {
            self.events.push_back(Queued::ClosePassive);
            // `on_data_connected` clears it again when a connection came.
            self.passive_unused = true;
        }
        self.data = DataSetup::None;
    }

    pub(super) fn pasv(&mut self) {
        if self.epsv_all {
            return self.reply(503, "EPSV ALL is in effect; use EPSV.");
        }
        let IpAddr::V4(_) = self.local.ip() else {
            return self.reply(
                522,
                "PASV cannot carry an IPv6 address; use EPSV (RFC 2428).",
            );
        };
        let advertise = match self.passive_choice() {
            PassiveChoice::Local => Advertise::PasvLocal,
            PassiveChoice::External(ip @ IpAddr::V4(_)) => Advertise::PasvAt(ip),
            // An IPv6 masquerade address cannot go into a 227 reply.
            PassiveChoice::External(IpAddr::V6(_)) => Advertise::PasvLocal,
            PassiveChoice::Resolve(_) => Advertise::PasvResolved,
        };
        self.open_passive(advertise);
    }

    /// The passive-address policy for this session: a protected control
    /// channel uses the TLS masquerade address when one is configured.
    pub(super) fn passive_choice(&self) -> PassiveChoice<'_> {
        let policy = &self.config.passive;
        match &self.config.tls_passive_address {
            Some(external) if self.tls == Tls::Secured => {
                let peer = self.peer.ip();
                if policy.local_networks.iter().any(|n| n.contains(peer)) {
                    PassiveChoice::Local
                } else {
                    match external {
                        PassiveAddress::Ip(ip) => PassiveChoice::External(*ip),
                        PassiveAddress::Hostname(name) => PassiveChoice::Resolve(name),
                    }
                }
            }
            _ => policy.choose(self.peer.ip()),
        }
    }

    pub(super) fn epsv(&mut self, arg: EpsvArgument) {
        if self.through_balancer {
            return self.reply(
                502,
                "EPSV cannot work through this server's load balancer; use PASV.",
            );
        }
        match arg {
            EpsvArgument::All => {
                self.epsv_all = true;
                self.reply(200, "EPSV ALL ok.");
            }
            EpsvArgument::Protocol(p) if p != self.protocol() => match self.protocol() {
                1 => self.reply(522, "Network protocol not supported, use (1)."),
                _ => self.reply(522, "Network protocol not supported, use (2)."),
            },
            EpsvArgument::Protocol(_) | EpsvArgument::None => self.open_passive(Advertise::Epsv),
        }
    }

    /// RFC 2428 network protocol number of the control connection.
    pub(super) fn protocol(&self) -> u8 {
        match self.local.ip() {
            IpAddr::V4(_) => 1,
            IpAddr::V6(_) => 2,
        }
    }

    pub(super) fn open_passive(&mut self, advertise: Advertise) {
        self.data = DataSetup::None;
        let id = self.token();
        self.waiting = Waiting::Passive(id, advertise);
        self.events.push_back(Queued::OpenPassive(
            id,
            advertise == Advertise::PasvResolved,
        ));
    }

    pub(super) fn active(&mut self, addr: SocketAddr, verb: &'static str) {
        if self.epsv_all {
            return self.reply(503, "EPSV ALL is in effect; use EPSV.");
        }
        let addr = canonical(addr);
        // RFC 2577 §3: no third-party targets (bounce attacks), no privileged ports.
        let refusal = if addr.ip() != self.peer.ip() {
            Some("address is not the client's own")
        } else if addr.port() < 1024 {
            Some("port below 1024")
        } else {
            None
        };
        if let Some(reason) = refusal {
            self.notice(QueuedNotice::PortRefused(addr, reason));
            reply::write_code(&mut self.out, 504, b' ');
            self.out.extend_from_slice(verb.as_bytes());
            self.out.extend_from_slice(b" refused: ");
            self.out.extend_from_slice(reason.as_bytes());
            self.out.extend_from_slice(b" (RFC 2577).\r\n");
            return;
        }
        self.reset_data();
        if core::mem::take(&mut self.passive_unused) {
            self.notice(QueuedNotice::PassiveFallback(verb));
        }
        self.data = DataSetup::Active(addr);
        reply::write_code(&mut self.out, 200, b' ');
        self.out.extend_from_slice(verb.as_bytes());
        self.out.extend_from_slice(b" command successful.\r\n");
    }

    pub(super) fn on_passive(
        &mut self,
        id: u32,
        result: Result<(u16, Option<IpAddr>), PassiveError>,
    ) {
        let Waiting::Passive(expected, advertise) = self.waiting else {
            return self.stale("passive");
        };
        if expected != id {
            return self.stale("passive");
        }
        self.waiting = Waiting::Nothing;
        let (port, resolved) = match result {
            Ok(opened) => opened,
            Err(error) => {
                reply::write_code(&mut self.out, 425, b' ');
                self.out
                    .extend_from_slice(b"Cannot open a passive listener: ");
                self.out.extend_from_slice(error.message().as_bytes());
                self.out.extend_from_slice(b".\r\n");
                return;
            }
        };
        let ip = match advertise {
            Advertise::Epsv => {
                let port = self.advertised(port, true, self.local.ip()).port();
                self.data = DataSetup::Passive;
                // Written directly: `write!` costs more than the rest of
                // an EPSV, the commonest command of a session.
                reply::write_code(&mut self.out, 229, b' ');
                self.out
                    .extend_from_slice(b"Entering Extended Passive Mode (|||");
                reply::write_decimal(&mut self.out, u64::from(port));
                self.out.extend_from_slice(b"|)\r\n");
                return;
            }
            Advertise::PasvLocal => self.local.ip(),
            Advertise::PasvAt(ip) => ip,
            Advertise::PasvResolved => match resolved.map(address::canonical_ip) {
                Some(ip @ IpAddr::V4(_)) => ip,
                _ => {
                    self.events.push_back(Queued::ClosePassive);
                    return self.reply(
                        425,
                        "The passive address hostname did not resolve to an IPv4 address; use EPSV.",
                    );
                }
            },
        };
        let advertised = self.advertised(port, false, ip);
        let (IpAddr::V4(v4), port) = (address::canonical_ip(advertised.ip()), advertised.port())
        else {
            self.events.push_back(Queued::ClosePassive);
            return self.reply(425, "No IPv4 address to advertise; use EPSV.");
        };
        self.data = DataSetup::Passive;
        // The operator's mistake the mission names first: a private address
        // sent to a client on the internet.
        if let IpAddr::V4(peer) = address::canonical_ip(self.peer.ip())
            && address::is_internal_v4(v4)
            && !address::is_internal_v4(peer)
            && !core::mem::replace(&mut self.told_private_pasv, true)
        {
            self.notice(QueuedNotice::PrivatePassiveAddress(v4));
        }
        self.out.extend_from_slice(b"227 Entering Passive Mode (");
        address::write_host_port(&mut self.out, core::net::SocketAddrV4::new(v4, port));
        self.out.extend_from_slice(b").\r\n");
    }

    /// What the reply advertises for a listener bound on `bound_port`: the
    /// host's [`PassiveAdvertiser`](address::PassiveAdvertiser) decides, given
    /// the policy's choice (`policy_ip` with the bound port).
    fn advertised(&self, bound_port: u16, extended: bool, policy_ip: IpAddr) -> SocketAddr {
        let policy = SocketAddr::new(policy_ip, bound_port);
        match &self.config.passive_advertiser {
            None => policy,
            Some(advertiser) => advertiser.advertise(&address::PassiveRequest {
                peer: self.peer,
                local: self.local,
                bound_port,
                extended,
                secured: self.tls == Tls::Secured,
                policy,
            }),
        }
    }
}
