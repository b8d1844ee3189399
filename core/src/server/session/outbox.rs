//! The outbox: queued events turned into the public [`Event`]s the host
//! sees, borrowing the session's buffers.

use super::*;

impl State {
    /// Builds the public event for a queued one, borrowing this state's buffers.
    pub(super) fn event(&self, queued: Queued) -> Event<'_> {
        match queued {
            Queued::Login(id) => Event::Login(Login {
                user: &self.user,
                password: &self.password,
                token: LoginToken::new(self.id, id),
            }),
            Queued::OpenPassive(id, resolve) => Event::OpenPassive(OpenPassive {
                bind: self.local.ip(),
                resolve: match (resolve, self.passive_choice()) {
                    (true, PassiveChoice::Resolve(name)) => Some(name),
                    _ => None,
                },
                token: PassiveToken::new(self.id, id),
            }),
            Queued::ClosePassive => Event::ClosePassive,
            Queued::Stat(id) => Event::Stat(Stat {
                path: if self.rename_pending_stat() {
                    &self.rename_from
                } else {
                    &self.path
                },
                token: StatToken::new(self.id, id),
            }),
            Queued::EnterDirectory(id) => Event::EnterDirectory(EnterDirectory {
                path: &self.path,
                token: DirectoryToken::new(self.id, id),
            }),
            Queued::Change(id, kind) => Event::FileChange(FileChange {
                change: match kind {
                    ChangeKind::MakeDirectory => Change::MakeDirectory(&self.path),
                    ChangeKind::RemoveDirectory => Change::RemoveDirectory(&self.path),
                    ChangeKind::Delete => Change::Delete(&self.path),
                    ChangeKind::Rename => Change::Rename {
                        from: &self.rename_from,
                        to: &self.path,
                    },
                    ChangeKind::SetModified(modified) => Change::SetModified {
                        path: &self.path,
                        modified,
                    },
                    ChangeKind::SetPermissions(mode) => Change::SetPermissions {
                        path: &self.path,
                        mode,
                    },
                },
                token: ChangeToken::new(self.id, id),
            }),
            Queued::Transfer => {
                let t = self.announced;
                Event::Transfer(Transfer {
                    id: TransferId(t.id),
                    kind: t.kind,
                    plan: match t.kind {
                        TransferKind::Retrieve => Plan::Read {
                            path: &self.path,
                            offset: t.offset,
                        },
                        TransferKind::Store | TransferKind::Append => Plan::Write {
                            path: &self.path,
                            mode: match (t.kind, t.offset) {
                                (TransferKind::Append, _) => WriteMode::Append,
                                (_, 0) => WriteMode::Truncate,
                                (_, offset) => WriteMode::At(offset),
                            },
                        },
                        TransferKind::StoreUnique => Plan::CreateUnique {
                            directory: &self.path,
                        },
                        TransferKind::List | TransferKind::NameList | TransferKind::MachineList => {
                            Plan::List {
                                path: &self.path,
                                format: match t.kind {
                                    TransferKind::List => ListFormat::Long,
                                    TransferKind::NameList => ListFormat::Names,
                                    _ => ListFormat::Machine,
                                },
                                filter: t.filter,
                                read_only: self.read_only(),
                            }
                        }
                    },
                    ascii: self.transfer_type == TransferType::Ascii && !t.kind.is_listing(),
                    token: OpenToken::new(self.id, t.id),
                })
            }
            Queued::ConnectData(id) => Event::ConnectData(ConnectData {
                transfer: TransferId(id),
                endpoint: match self.data {
                    DataSetup::Active(addr) => DataEndpoint::Active(addr),
                    _ => DataEndpoint::Passive {
                        peer: self.peer.ip(),
                    },
                },
                protected: self.prot_private,
                token: ConnectToken::new(self.id, id),
            }),
            Queued::SecureData(id) => Event::SecureData(SecureData {
                transfer: TransferId(id),
                token: SecureToken::new(self.id, id),
            }),
            Queued::MoveData(id) => Event::MoveData(MoveData {
                transfer: TransferId(id),
                token: MoveToken::new(self.id, id),
            }),
            Queued::CloseData(id) => Event::CloseData(CloseData {
                transfer: TransferId(id),
                token: CloseToken::new(self.id, id),
            }),
            Queued::AbortTransfer(id) => Event::AbortTransfer(AbortTransfer {
                transfer: TransferId(id),
            }),
            Queued::UpgradeTls(id) => Event::UpgradeTls(UpgradeTls {
                token: TlsToken::new(self.id, id),
            }),
            Queued::DowngradeTls => Event::DowngradeTls,
            Queued::Notice(n) => Event::Notice(match n {
                QueuedNotice::LoginSucceeded => Notice::LoginSucceeded { user: &self.user },
                QueuedNotice::LoginFailed => Notice::LoginFailed { user: &self.user },
                QueuedNotice::TooManyLoginFailures => Notice::TooManyLoginFailures,
                QueuedNotice::PortRefused(addr, reason) => Notice::PortRefused { addr, reason },
                QueuedNotice::LineTooLong => Notice::LineTooLong,
                QueuedNotice::IdleTimeout => Notice::IdleTimeout,
                QueuedNotice::LoginTimeout => Notice::LoginTimeout,
                QueuedNotice::TlsRequired => Notice::TlsRequired,
                QueuedNotice::ReadOnlyRefused(command) => Notice::ReadOnlyRefused {
                    user: &self.user,
                    command,
                },
                QueuedNotice::InputLimit => Notice::InputLimit,
                QueuedNotice::ForeignAnswer(answer) => Notice::ForeignAnswer { answer },
                QueuedNotice::StaleAnswer(answer) => Notice::StaleAnswer { answer },
                QueuedNotice::HostAnswerTimeout(answer) => Notice::HostAnswerTimeout { answer },
                QueuedNotice::PassiveFallback(verb) => Notice::PassiveFallback { verb },
                QueuedNotice::PrivatePassiveAddress(advertised) => Notice::PrivatePassiveAddress {
                    advertised,
                    peer: self.peer.ip(),
                },
                QueuedNotice::WrongAnswer(answer) => Notice::WrongAnswer { answer },
                QueuedNotice::TransferEnded => Notice::TransferEnded {
                    kind: self.ended.kind,
                    path: &self.path,
                    user: &self.user,
                    bytes: self.ended.bytes,
                    elapsed: self.ended.elapsed,
                    protected: self.ended.protected,
                    outcome: self.ended.outcome,
                },
            }),
        }
    }

    pub(super) fn rename_pending_stat(&self) -> bool {
        matches!(self.waiting, Waiting::Stat(_, StatPurpose::Rnfr))
    }
}
