//! Informational commands: FEAT and OPTS (RFC 2389), STAT, HELP.

use super::*;

/// FEAT lines (RFC 2389), in alphabetical order; the TLS ones only when TLS is configured.
pub(super) const FEATURES: [(&str, Feature); 14] = [
    (" AUTH TLS\r\n", Feature::Tls),
    (" CCC\r\n", Feature::Ccc),
    (" EPRT\r\n", Feature::Always),
    (" EPSV\r\n", Feature::Direct),
    (" HOST\r\n", Feature::Always),
    (" MDTM\r\n", Feature::Always),
    (" MFMT\r\n", Feature::Always),
    (" MLST type*;size*;modify*;perm*;\r\n", Feature::Always),
    (" PBSZ\r\n", Feature::Tls),
    (" PROT\r\n", Feature::Tls),
    (" REST STREAM\r\n", Feature::Always),
    (" SIZE\r\n", Feature::Always),
    (" TVFS\r\n", Feature::Always),
    (" UTF8\r\n", Feature::Always),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Feature {
    Always,
    Tls,
    Ccc,
    /// Not through a load balancer ([`ServerSession::set_through_balancer`]).
    Direct,
}

pub(super) const HELP: &str = "214-The following commands are recognized:\r\n ABOR ACCT ALLO APPE CDUP CWD  DELE EPRT EPSV FEAT HELP HOST LIST MDTM MFMT\r\n MKD  MLSD MLST MODE NLST NOOP OPTS PASS PASV PORT PWD  QUIT REIN REST RETR\r\n RMD  RNFR RNTO SITE SIZE STAT STOR STOU STRU SYST TYPE USER XCUP XCWD XMKD\r\n XPWD XRMD\r\n214 Help OK.\r\n";

impl State {
    pub(super) fn features(&mut self) {
        reply::write_first(&mut self.out, 211, "Features:");
        for (line, feature) in FEATURES {
            let offered = match feature {
                Feature::Always => true,
                Feature::Tls => self.config.tls,
                Feature::Ccc => self.config.tls && self.config.allow_ccc,
                Feature::Direct => !self.through_balancer,
            };
            if offered {
                self.out.extend_from_slice(line.as_bytes());
            }
        }
        self.reply(211, "End");
    }

    pub(super) fn status(&mut self) {
        if let Waiting::Transfer(t) = self.waiting {
            let state = match t.phase {
                transfer::Phase::Opening | transfer::Phase::Connecting => {
                    "waiting for the data connection"
                }
                _ => "in progress",
            };
            reply::write_code(&mut self.out, 211, b' ');
            self.out.extend_from_slice(b"Transfer ");
            self.out.extend_from_slice(state.as_bytes());
            self.out.extend_from_slice(b".\r\n");
            return;
        }
        reply::write_first(&mut self.out, 211, "ftpwire status:");
        self.out.extend_from_slice(b" Connected from ");
        address::write_ip(&mut self.out, self.peer.ip());
        self.out.extend_from_slice(b"\r\n");
        if self.logged_in() {
            self.out.extend_from_slice(b" Logged in as ");
            // Client bytes: escaped like a path, so a CR or LF in the name
            // cannot end the line or forge a reply.
            reply::write_path(&mut self.out, &self.user);
            self.out.extend_from_slice(b"\r\n");
        }
        self.out.extend_from_slice(match self.transfer_type {
            TransferType::Ascii => b" TYPE: ASCII; STRUcture: File; MODE: Stream\r\n",
            TransferType::Image => b" TYPE: BINARY; STRUcture: File; MODE: Stream\r\n",
        });
        self.reply(211, "End of status.");
    }

    pub(super) fn opts(&mut self, option: &[u8]) {
        let mut words = option.split(|&b| b == b' ').filter(|w| !w.is_empty());
        let name = words.next().unwrap_or_default();
        if name.eq_ignore_ascii_case(b"UTF8") || name.eq_ignore_ascii_case(b"UTF-8") {
            match words.next() {
                Some(on) if on.eq_ignore_ascii_case(b"ON") => self.reply(200, "UTF8 mode on."),
                None => self.reply(200, "UTF8 mode on."),
                Some(_) => self.reply(504, "UTF8 cannot be turned off; paths are bytes."),
            }
        } else if name.eq_ignore_ascii_case(b"MLST") {
            // Every fact is always sent; RFC 3659 §7.9 lets clients ignore the extras.
            self.reply(200, "MLST OPTS type;size;modify;perm;");
        } else {
            self.reply(501, "Unknown option.");
        }
    }
}
