//! Security (RFC 4217): AUTH TLS, PBSZ, PROT and CCC on the control channel.

use super::*;

impl State {
    /// AUTH (RFC 4217 §4): `234`, then the host upgrades the connection.
    pub(super) fn auth(&mut self, mechanism: &[u8]) {
        if !self.config.tls {
            return self.reply(502, "TLS is not configured on this server.");
        }
        let known = [&b"TLS"[..], b"TLS-C", b"SSL", b"TLS-P"];
        if !known.iter().any(|m| m.eq_ignore_ascii_case(mechanism)) {
            return self.reply(504, "Unknown security mechanism; use AUTH TLS.");
        }
        if self.tls == Tls::Secured {
            return self.reply(503, "The control connection is already protected.");
        }
        // A new security context starts a new login (RFC 4217 §4: the
        // client must log in again, protected).
        self.login = LoginState::Connected;
        self.login_started = self.now;
        self.pbsz = false;
        self.prot_private = false;
        let id = self.token();
        self.tls = Tls::Upgrading(id);
        self.reply(234, "AUTH TLS ok; start the TLS handshake.");
        self.events.push_back(Queued::UpgradeTls(id));
    }

    /// PBSZ (RFC 4217 §8): for TLS the buffer size is always 0.
    pub(super) fn pbsz(&mut self, size: &[u8]) {
        if self.tls != Tls::Secured {
            return self.reply(
                503,
                "PBSZ needs a protected control connection; send AUTH TLS first.",
            );
        }
        if size.is_empty() || !size.iter().all(u8::is_ascii_digit) {
            return self.reply(501, "PBSZ takes a number; send PBSZ 0.");
        }
        self.pbsz = true;
        self.reply(200, "PBSZ=0");
    }

    /// PROT (RFC 4217 §9): C (clear) or P (private) data connections.
    pub(super) fn prot(&mut self, level: &[u8]) {
        if self.tls != Tls::Secured {
            return self.reply(
                503,
                "PROT needs a protected control connection; send AUTH TLS first.",
            );
        }
        // PROT C asks for no buffer, so it needs no PBSZ (Python's ftplib
        // `prot_c()` sends it alone); PROT P does (RFC 4217 §9).
        let clear = matches!(level, b"C" | b"c");
        if !self.pbsz && !clear {
            return self.reply(503, "Send PBSZ 0 before PROT.");
        }
        match level {
            b"P" | b"p" => {
                self.prot_private = true;
                self.reply(200, "Data connections will be protected.");
            }
            b"C" | b"c" if self.config.require_tls => {
                self.notice(QueuedNotice::TlsRequired);
                self.reply(
                    534,
                    "This server requires protected data connections; send PROT P.",
                )
            }
            b"C" | b"c" => {
                self.prot_private = false;
                self.reply(200, "Data connections will be in clear text.");
            }
            b"S" | b"s" | b"E" | b"e" => {
                self.reply(536, "Only PROT C and PROT P are supported with TLS.")
            }
            _ => self.reply(504, "Unknown protection level; use C or P."),
        }
    }

    /// CCC (RFC 4217 §6): back to a plain control channel, if allowed.
    pub(super) fn ccc(&mut self) {
        if self.tls != Tls::Secured {
            return self.reply(533, "The control connection is not protected.");
        }
        if !self.config.allow_ccc || self.config.require_tls {
            return self.reply(534, "CCC is disabled on this server.");
        }
        self.tls = Tls::Plain;
        self.reply(200, "Control connection is now in clear text.");
        self.events.push_back(Queued::DowngradeTls);
    }
}
