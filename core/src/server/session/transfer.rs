//! Data transfers (RETR, STOR, APPE, STOU, LIST, NLST, MLSD) as one state
//! machine, so every host runs them in the same order (RFC 959 §5.4, RFC
//! 4217 §9): storage → data connection → `150` → TLS (PROT P) → bytes →
//! orderly close → `226`. Each step is an event the host carries out and
//! answers; its deadline (the data connection timeout while connecting and
//! securing, the stall timeout while bytes move) and every reply are decided
//! here.
//!
//! ```text
//!  Opening ──storage_opened──► Connecting ──data_connected──► (150) ─┬─► Securing ──data_secured──┐
//!     │ storage_failed (550…)      │ failed / timeout (425)          └──────────────────────────┐ │
//!     ▼                            ▼                                                          ▼ ▼
//!   over                         over      Closing ◄──data_moved(Ok)── Moving (progress resets the stall)
//!                                            │ data_closed(Ok) → 226; ABOR → 426 + 226; stall → 426
//! ```

use super::*;

/// Where a transfer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Opening,
    Connecting,
    Securing,
    Moving,
    Closing,
}

impl State {
    /// A transfer command. `all`: a listing shows dot files (`-a`, or MLSD).
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
        let names_dot_file = listing::is_dot_file(path::file_name(&self.path));
        let offset = match kind {
            TransferKind::Retrieve | TransferKind::Store => self.rest,
            _ => 0,
        };
        self.rest = 0;
        let transfer = TransferState {
            id: self.token(),
            kind,
            phase: Phase::Opening,
            offset,
            size_at_open: None,
            bytes: 0,
            // A path that is itself a dot file (`LIST .env`, `NLST .git`) is asked for by name.
            filter: ListFilter {
                dot_files: kind.is_listing()
                    && (all || self.config.show_dot_files || names_dot_file)
                    && !self.dot_files_withheld(),
            },
            protected: self.prot_private,
            started_at: self.now,
            // Opening is a host answer: the host-answer timeout bounds it.
            deadline: None,
            line_waits: false,
        };
        self.waiting = Waiting::Transfer(transfer);
        self.announced = transfer;
        self.events.push_back(Queued::Transfer);
    }

    /// The running transfer if `seq` names it and it is in `phase`;
    /// otherwise a stale-answer notice.
    fn transfer_in(
        &mut self,
        seq: u32,
        phase: Phase,
        answer: &'static str,
    ) -> Option<TransferState> {
        match self.waiting {
            Waiting::Transfer(t) if t.id == seq && t.phase == phase => Some(t),
            _ => {
                self.stale(answer);
                None
            }
        }
    }

    /// Moves the running transfer to `phase`, with that phase's deadline and event.
    fn enter(&mut self, mut t: TransferState, phase: Phase) {
        t.phase = phase;
        let (wait, event) = match phase {
            Phase::Opening => unreachable!("a transfer starts opening"),
            Phase::Connecting => (
                self.config.data_connection_timeout,
                Queued::ConnectData(t.id),
            ),
            Phase::Securing => (
                self.config.data_connection_timeout,
                Queued::SecureData(t.id),
            ),
            Phase::Moving => (self.config.data_stall_timeout, Queued::MoveData(t.id)),
            Phase::Closing => (self.config.data_stall_timeout, Queued::CloseData(t.id)),
        };
        t.deadline = Some(self.now + wait);
        self.waiting = Waiting::Transfer(t);
        self.events.push_back(event);
    }

    /// The transfer is over (its reply is written): the one log notice,
    /// `abort` tells the host to drop what it holds, and a draining session
    /// closes now.
    fn end_transfer(&mut self, t: TransferState, outcome: Result<(), TransferError>, abort: bool) {
        if abort {
            self.events.push_back(Queued::AbortTransfer(t.id));
        }
        self.waiting = Waiting::Nothing;
        self.last_activity = self.now;
        // The data connection set-up is used up by the transfer (RFC 959
        // §3.2), unless the command was refused before any data connection
        // was made (a missing file): then, as in vsftpd and pure-ftpd, the
        // same passive listener serves the next transfer command, for
        // clients that connect after sending the command. After a data
        // connection, `data_connected` has already reset it.
        if t.phase != Phase::Opening || !matches!(outcome, Err(TransferError::File(_))) {
            self.reset_data();
        }
        self.ended = Ended {
            kind: t.kind,
            bytes: t.bytes,
            elapsed: self.now.saturating_duration_since(t.started_at),
            protected: t.protected,
            outcome,
        };
        self.notice(QueuedNotice::TransferEnded);
        if self.draining {
            self.close(421, "Server shutting down; closing the connection.");
        }
    }

    /// The reply for a failure the host reported.
    fn reply_failure(&mut self, error: TransferError) {
        match error {
            TransferError::File(error) => {
                let (code, text) = error.reply();
                self.reply(code, text);
            }
            TransferError::NoDataConnection => self.reply(425, "Cannot open data connection."),
            TransferError::ConnectionLost => {
                self.reply(426, "Data connection closed; transfer aborted.")
            }
            TransferError::Truncated => self.reply(
                426,
                "The file was truncated while being sent; transfer aborted.",
            ),
            TransferError::Aborted => self.reply(426, "Transfer aborted."),
            TransferError::Stalled => {
                self.reply(426, "No data moved for too long; transfer aborted.")
            }
            TransferError::TlsFailed => {
                self.reply(425, "TLS negotiation on the data connection failed.")
            }
            TransferError::TlsSessionNotReused => self.reply(
                522,
                "The data connection must resume the control connection's TLS session.",
            ),
        }
    }

    pub(super) fn on_storage_opened(&mut self, seq: u32, size: Option<u64>, unique: Option<&[u8]>) {
        let Some(mut t) = self.transfer_in(seq, Phase::Opening, "storage") else {
            return;
        };
        if unique.is_some() != (t.kind == TransferKind::StoreUnique) {
            // Only STOU names a file (in its 150), and STOU always does.
            return self.notice(QueuedNotice::WrongAnswer("storage"));
        }
        if t.kind == TransferKind::Retrieve {
            t.size_at_open = size;
        }
        if let Some(name) = unique {
            self.unique_name.clear();
            self.unique_name.extend_from_slice(name);
        }
        self.enter(t, Phase::Connecting);
    }

    pub(super) fn on_storage_failed(&mut self, seq: u32, error: FileError) {
        if let Some(t) = self.transfer_in(seq, Phase::Opening, "storage") {
            self.reply_failure(TransferError::File(error));
            self.end_transfer(t, Err(TransferError::File(error)), false);
        }
    }

    pub(super) fn on_data_connected(&mut self, seq: u32) {
        let Some(t) = self.transfer_in(seq, Phase::Connecting, "data connection") else {
            return;
        };
        // The passive listener has served its one connection.
        self.reset_data();
        self.passive_unused = false;
        if t.kind == TransferKind::StoreUnique {
            // RFC 1123 §4.1.2.9: STOU's preliminary reply names the file.
            self.out.extend_from_slice(b"150 FILE: ");
            reply::write_path(&mut self.out, &self.unique_name);
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.reply(150, "Opening data connection.");
        }
        // The 150 goes out before the TLS handshake: clients such as
        // ftplib, rclone and curl start TLS only once they have read it.
        let next = if t.protected {
            Phase::Securing
        } else {
            Phase::Moving
        };
        self.enter(t, next);
    }

    pub(super) fn on_data_connect_failed(&mut self, seq: u32) {
        if let Some(t) = self.transfer_in(seq, Phase::Connecting, "data connection") {
            self.reply_failure(TransferError::NoDataConnection);
            self.end_transfer(t, Err(TransferError::NoDataConnection), false);
        }
    }

    pub(super) fn on_data_secured(&mut self, seq: u32, resumed: bool) {
        let Some(t) = self.transfer_in(seq, Phase::Securing, "data TLS") else {
            return;
        };
        if self.config.require_tls_session_reuse && !resumed {
            self.reply_failure(TransferError::TlsSessionNotReused);
            return self.end_transfer(t, Err(TransferError::TlsSessionNotReused), true);
        }
        self.enter(t, Phase::Moving);
    }

    pub(super) fn on_data_tls_failed(&mut self, seq: u32) {
        if let Some(t) = self.transfer_in(seq, Phase::Securing, "data TLS") {
            self.reply_failure(TransferError::TlsFailed);
            self.end_transfer(t, Err(TransferError::TlsFailed), false);
        }
    }

    /// Bytes moved so far: the stall deadline starts again. A late report
    /// (the transfer already ended) is ignored.
    pub(super) fn on_data_progress(&mut self, seq: u32, bytes: u64) {
        if let Waiting::Transfer(t) = &mut self.waiting
            && t.id == seq
            && t.phase == Phase::Moving
        {
            t.bytes = bytes;
            t.deadline = Some(self.now + self.config.data_stall_timeout);
        }
    }

    pub(super) fn on_data_moved(&mut self, seq: u32, result: Result<u64, TransferError>) {
        let Some(mut t) = self.transfer_in(seq, Phase::Moving, "data moved") else {
            return;
        };
        match result {
            Ok(bytes) => {
                t.bytes = bytes;
                // Fewer bytes than the file had when it was opened: it was
                // truncated mid-transfer and the client holds neither version.
                if let Some(size) = t.size_at_open
                    && bytes < size.saturating_sub(t.offset)
                {
                    self.reply_failure(TransferError::Truncated);
                    return self.end_transfer(t, Err(TransferError::Truncated), true);
                }
                self.enter(t, Phase::Closing);
            }
            Err(error) => {
                self.reply_failure(error);
                self.end_transfer(t, Err(error), false);
            }
        }
    }

    pub(super) fn on_data_closed(&mut self, seq: u32, result: Result<(), TransferError>) {
        let Some(t) = self.transfer_in(seq, Phase::Closing, "data closed") else {
            return;
        };
        match result {
            Ok(()) => self.reply(226, "Transfer complete."),
            Err(error) => self.reply_failure(error),
        }
        self.end_transfer(t, result, false);
    }

    /// ABOR (RFC 959 §4.1.3): the transfer's `426`, then ABOR's `226`.
    pub(super) fn abort_transfer(&mut self) {
        match self.waiting {
            Waiting::Transfer(t) => {
                self.reply_failure(TransferError::Aborted);
                self.reply(226, "ABOR successful.");
                self.end_transfer(t, Err(TransferError::Aborted), true);
            }
            _ => self.reply(226, "No transfer to abort."),
        }
    }

    /// The control connection is going away: the transfer ends unanswered.
    pub(super) fn drop_transfer(&mut self) {
        if let Waiting::Transfer(t) = self.waiting {
            self.end_transfer(t, Err(TransferError::Aborted), true);
        }
    }

    /// The running transfer's deadline passed.
    pub(super) fn transfer_timed_out(&mut self) {
        let Waiting::Transfer(t) = self.waiting else {
            return;
        };
        let error = match t.phase {
            Phase::Opening => return,
            Phase::Connecting => {
                self.reply(425, "No data connection was made in time.");
                TransferError::NoDataConnection
            }
            Phase::Securing => {
                self.reply_failure(TransferError::TlsFailed);
                TransferError::TlsFailed
            }
            Phase::Moving | Phase::Closing => {
                self.reply_failure(TransferError::Stalled);
                TransferError::Stalled
            }
        };
        self.end_transfer(t, Err(error), true);
    }
}
