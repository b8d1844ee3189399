//! Data transfers (RETR, STOR, APPE, STOU, LIST, NLST, MLSD).

use super::*;

impl State {
    /// `all`: a listing shows dot files (`-a`, or MLSD).
    pub(super) fn transfer(&mut self, kind: TransferKind, arg: Option<&[u8]>, all: bool) {
        if kind.is_upload() && self.read_only() {
            self.rest = 0;
            return self.refuse_read_only(match kind {
                TransferKind::Append => "APPE",
                TransferKind::StoreUnique => "STOU",
                _ => "STOR",
            });
        }
        if self.config.require_tls && !self.prot_private {
            self.rest = 0;
            self.notice(QueuedNotice::TlsRequired);
            return self.reply(
                521,
                "This server requires protected data connections; send PBSZ 0 and PROT P.",
            );
        }
        // A malformed path is a syntax error (501), reported before asking
        // for a data connection the command could never use.
        if !self.resolve_into_path(arg.unwrap_or(b".")) || !self.may_read_path() {
            self.rest = 0;
            return;
        }
        if self.data == DataSetup::None {
            self.rest = 0;
            return self.reply(425, "Use PORT, EPRT, PASV or EPSV first.");
        }
        let names_dot_file = path::components(&self.path)
            .last()
            .is_some_and(listing::is_dot_file);
        let offset = match kind {
            TransferKind::Retrieve | TransferKind::Store => self.rest,
            _ => 0,
        };
        self.rest = 0;
        let transfer = TransferState {
            id: self.token(),
            kind,
            offset,
            started: false,
            size_at_open: None,
            // A path that is itself a dot file (`LIST .env`, `NLST .git`) is asked for by name.
            filter: ListFilter {
                dot_files: kind.is_listing()
                    && (all || self.config.show_dot_files || names_dot_file)
                    && !self.dot_files_withheld(),
            },
            deadline: Some(self.now + self.config.data_connection_timeout),
            abort: None,
            line_waits: false,
        };
        self.waiting = Waiting::Transfer(transfer);
        self.events.push_back(Queued::Transfer(transfer));
    }

    pub(super) fn on_transfer_started(&mut self, id: u32, unique_name: Option<&[u8]>) {
        let Waiting::Transfer(mut t) = self.waiting else {
            return self.stale("transfer");
        };
        if t.id != id || t.started || t.abort.is_some() {
            return self.stale("transfer");
        }
        if unique_name.is_some() != (t.kind == TransferKind::StoreUnique) {
            // Only STOU names a file in its 150; STOU always does.
            return self.stale("transfer");
        }
        t.started = true;
        t.deadline = None;
        self.waiting = Waiting::Transfer(t);
        match unique_name {
            Some(name) => {
                // RFC 1123 §4.1.2.9: STOU's preliminary reply names the file.
                self.out.extend_from_slice(b"150 FILE: ");
                reply::write_path(&mut self.out, name);
                self.out.extend_from_slice(b"\r\n");
            }
            None => self.reply(150, "Opening data connection."),
        }
    }

    pub(super) fn on_transfer_finished(
        &mut self,
        id: u32,
        result: Result<u64, TransferError>,
    ) -> Result<u64, TransferError> {
        let Waiting::Transfer(t) = self.waiting else {
            self.stale("transfer");
            return result;
        };
        if t.id != id {
            self.stale("transfer");
            return result;
        }
        let result = match (result, t.size_at_open) {
            // Fewer bytes than the file had when it was opened: it was
            // truncated mid-transfer and the client holds neither version.
            (Ok(sent), Some(size)) if sent < size.saturating_sub(t.offset) => {
                Err(TransferError::Truncated)
            }
            (result, _) => result,
        };
        self.waiting = Waiting::Nothing;
        self.last_activity = self.now;
        // The data connection set-up is used up by the transfer (RFC 959
        // §3.2), unless the command was refused before any data connection
        // was made (a missing file): then, as in vsftpd and pure-ftpd, the
        // same passive listener serves the next transfer command, for
        // clients that connect after sending the command.
        let refused_early = !t.started && matches!(result, Err(TransferError::File(_)));
        if !refused_early {
            self.reset_data();
        }
        match result {
            Ok(_) => {
                if !t.started {
                    self.reply(150, "Opening data connection.");
                }
                self.reply(226, "Transfer complete.");
            }
            Err(TransferError::Aborted) => match t.abort {
                Some(AbortReason::DataTimeout) if !t.started => {
                    self.reply(425, "No data connection was made in time.")
                }
                _ => self.reply(426, "Transfer aborted."),
            },
            Err(TransferError::NoDataConnection) => self.reply(425, "Cannot open data connection."),
            Err(TransferError::ConnectionLost) => {
                self.reply(426, "Data connection closed; transfer aborted.")
            }
            Err(TransferError::Truncated) => self.reply(
                426,
                "The file was truncated while being sent; transfer aborted.",
            ),
            Err(TransferError::TlsFailed) => {
                self.reply(425, "TLS negotiation on the data connection failed.")
            }
            Err(TransferError::TlsSessionNotReused) => self.reply(
                522,
                "The data connection must resume the control connection's TLS session.",
            ),
            Err(TransferError::File(error)) => {
                let (code, text) = error.reply();
                self.reply(code, text);
            }
        }
        if t.abort == Some(AbortReason::Abor) {
            self.reply(226, "ABOR successful.");
        }
        result
    }
}
