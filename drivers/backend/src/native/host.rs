//! What every driver does with the core's events, whatever its sockets:
//! copy the event out of the session ([`Work::from_event`]), do the blocking
//! part against storage and users ([`Blocking::run`], inline in a thread
//! driver, on a blocking pool in an async one), and answer the session
//! ([`Answer::apply`]). Only passive listeners, transfers and TLS are left
//! to the driver, because they are socket work.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ftpwire_core::listing::Metadata;
use ftpwire_core::server::{
    Change, ChangeToken, DirectoryToken, Event, FileChange, FileError, LoginOutcome, LoginToken,
    Notice, PassiveToken, StatToken, TransferId,
};
use ftpwire_core::{Output, ServerSession};

use crate::native::transfer::{Running, StepWork, TransferJob};
use crate::served::storage::{Storage, file_error};
use crate::served::users::Authenticator;

/// An event copied out of the session's buffers, so the session can be
/// answered (borrowed mutably) while the work is done.
#[derive(Debug)]
pub enum Work {
    /// Storage or user work that may block.
    Blocking(Blocking),
    /// Open a passive listener on `bind`; resolve `resolve` for the reply.
    OpenPassive {
        /// Local IP to bind (the control connection's).
        bind: IpAddr,
        /// A passive-address hostname to resolve now.
        resolve: Option<String>,
        /// Answer with `passive_opened`/`passive_failed`.
        token: PassiveToken,
    },
    /// Drop the passive listener.
    ClosePassive,
    /// A transfer begins: start its worker with the job; `Running` holds
    /// the open step's token.
    Transfer(TransferJob, Running),
    /// The next step of the running transfer.
    Step(StepWork),
    /// Interrupt the running transfer, if it is this one.
    AbortTransfer(TransferId),
    /// Nothing to do (a notice, already logged).
    Nothing,
}

/// Work against storage or the user database.
pub enum Blocking {
    /// Check a password (argon2 can take tens of milliseconds).
    Login {
        /// As the client sent it.
        user: Vec<u8>,
        /// Zeroed after the check.
        password: Vec<u8>,
        /// Answer with `login`.
        token: LoginToken,
    },
    /// Facts about a path.
    Stat {
        /// Virtual path.
        path: Vec<u8>,
        /// Answer with `stat_done`.
        token: StatToken,
    },
    /// CWD, CDUP: may the session enter this directory?
    EnterDirectory {
        /// Virtual path.
        path: Vec<u8>,
        /// Answer with `directory_entered`.
        token: DirectoryToken,
    },
    /// MKD, RMD, DELE, RNFR+RNTO, MFMT, SITE CHMOD.
    Change {
        /// Which change.
        kind: ChangeKind,
        /// The path (the source for a rename).
        from: Vec<u8>,
        /// The rename target (empty otherwise).
        to: Vec<u8>,
        /// Answer with `change_done`.
        token: ChangeToken,
    },
}

impl fmt::Debug for Blocking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print a password.
        match self {
            Blocking::Login { .. } => f.write_str("Blocking::Login"),
            Blocking::Stat { .. } => f.write_str("Blocking::Stat"),
            Blocking::EnterDirectory { .. } => f.write_str("Blocking::EnterDirectory"),
            Blocking::Change { kind, .. } => write!(f, "Blocking::Change({kind:?})"),
        }
    }
}

/// Which file change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// MKD.
    MakeDirectory,
    /// RMD.
    RemoveDirectory,
    /// DELE.
    Delete,
    /// RNFR + RNTO.
    Rename,
    /// MFMT, with the time (Unix seconds).
    SetModified(i64),
    /// SITE CHMOD, with the mode.
    SetPermissions(u32),
}

/// The outcome of [`Blocking::run`], ready to give to the session.
pub enum Answer {
    /// A login decision, with the user's own storage when the login was
    /// accepted and the user has one ([`Authenticator::home`]).
    Login(LoginToken, LoginOutcome, Option<Arc<dyn Storage>>),
    /// A stat result.
    Stat(StatToken, Result<Metadata, FileError>),
    /// A directory change result.
    EnterDirectory(DirectoryToken, Result<(), FileError>),
    /// A change result.
    Change(ChangeToken, Result<(), FileError>),
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Login(_, outcome, home) => f
                .debug_tuple("Answer::Login")
                .field(outcome)
                .field(&home.as_ref().map(|_| "home"))
                .finish(),
            Answer::Stat(_, result) => f.debug_tuple("Answer::Stat").field(result).finish(),
            Answer::EnterDirectory(_, result) => f
                .debug_tuple("Answer::EnterDirectory")
                .field(result)
                .finish(),
            Answer::Change(_, result) => f.debug_tuple("Answer::Change").field(result).finish(),
        }
    }
}

impl Work {
    /// Copies `event` out of the session; notices are logged here, with the
    /// control connection's `peer`, so every driver logs the same lines.
    pub fn from_event(event: Event<'_>, peer: SocketAddr) -> Work {
        match event {
            Event::Login(login) => Work::Blocking(Blocking::Login {
                user: login.user.to_vec(),
                password: login.password.to_vec(),
                token: login.token,
            }),
            Event::OpenPassive(open) => Work::OpenPassive {
                bind: open.bind,
                resolve: open.resolve.map(str::to_owned),
                token: open.token,
            },
            Event::ClosePassive => Work::ClosePassive,
            Event::Stat(stat) => Work::Blocking(Blocking::Stat {
                path: stat.path.to_vec(),
                token: stat.token,
            }),
            Event::EnterDirectory(enter) => Work::Blocking(Blocking::EnterDirectory {
                path: enter.path.to_vec(),
                token: enter.token,
            }),
            Event::FileChange(FileChange { change, token }) => {
                let (kind, from, to) = match change {
                    Change::MakeDirectory(p) => (ChangeKind::MakeDirectory, p, &b""[..]),
                    Change::RemoveDirectory(p) => (ChangeKind::RemoveDirectory, p, &b""[..]),
                    Change::Delete(p) => (ChangeKind::Delete, p, &b""[..]),
                    Change::Rename { from, to } => (ChangeKind::Rename, from, to),
                    Change::SetModified { path, modified } => {
                        (ChangeKind::SetModified(modified), path, &b""[..])
                    }
                    Change::SetPermissions { path, mode } => {
                        (ChangeKind::SetPermissions(mode), path, &b""[..])
                    }
                };
                Work::Blocking(Blocking::Change {
                    kind,
                    from: from.to_vec(),
                    to: to.to_vec(),
                    token,
                })
            }
            Event::Transfer(transfer) => {
                let job = TransferJob::new(&transfer);
                Work::Transfer(job, Running::new(transfer.id, transfer.token))
            }
            event @ (Event::ConnectData(_)
            | Event::SecureData(_)
            | Event::MoveData(_)
            | Event::CloseData(_)) => match StepWork::from_event(event) {
                Ok(step) => Work::Step(step),
                Err(_) => unreachable!("a step event"),
            },
            Event::AbortTransfer(abort) => Work::AbortTransfer(abort.transfer),
            // The control connection's TLS layer carries these out before
            // they reach a driver (`ControlConnection::poll_output`).
            Event::UpgradeTls(_) | Event::DowngradeTls => Work::Nothing,
            Event::Notice(notice) => {
                log_notice(peer, notice);
                Work::Nothing
            }
        }
    }
}

impl Blocking {
    /// Does the work; logs what an operator wants to see.
    pub fn run(
        self,
        storage: &dyn Storage,
        authenticator: &dyn Authenticator,
        peer: SocketAddr,
    ) -> Answer {
        match self {
            Blocking::Login {
                user,
                mut password,
                token,
            } => {
                let outcome = authenticator.authenticate(&user, &password);
                password.fill(0);
                let home = match outcome {
                    LoginOutcome::Accepted { .. } => authenticator.home(&user),
                    LoginOutcome::Rejected => None,
                };
                Answer::Login(token, outcome, home)
            }
            Blocking::Stat { path, token } => {
                Answer::Stat(token, storage.stat(&path).map_err(|e| file_error(&e)))
            }
            Blocking::EnterDirectory { path, token } => {
                let result = storage.enter_directory(&path);
                Answer::EnterDirectory(token, result.map_err(|e| file_error(&e)))
            }
            Blocking::Change {
                kind,
                from,
                to,
                token,
            } => {
                let result = match kind {
                    ChangeKind::MakeDirectory => storage.make_directory(&from),
                    ChangeKind::RemoveDirectory => storage.remove_directory(&from),
                    ChangeKind::Delete => storage.delete(&from),
                    ChangeKind::Rename => storage.rename(&from, &to),
                    ChangeKind::SetModified(modified) => storage.set_modified(&from, modified),
                    ChangeKind::SetPermissions(mode) => storage.set_permissions(&from, mode),
                };
                let what = kind.describe(&from, &to);
                match &result {
                    Ok(()) => log::info!("{peer}: {what}"),
                    Err(error) => log::info!("{peer}: {what} failed: {error}"),
                }
                Answer::Change(token, result.map_err(|e| file_error(&e)))
            }
        }
    }
}

impl Answer {
    /// Gives the outcome to the session.
    pub fn apply(self, session: &mut ServerSession) {
        match self {
            Answer::Login(token, outcome, _) => session.login(token, outcome),
            Answer::Stat(token, result) => session.stat_done(token, result),
            Answer::EnterDirectory(token, result) => session.directory_entered(token, result),
            Answer::Change(token, result) => session.change_done(token, result),
        }
    }
}

impl ChangeKind {
    fn describe(self, from: &[u8], to: &[u8]) -> String {
        let from = String::from_utf8_lossy(from);
        match self {
            ChangeKind::MakeDirectory => format!("MKD {from}"),
            ChangeKind::RemoveDirectory => format!("RMD {from}"),
            ChangeKind::Delete => format!("DELE {from}"),
            ChangeKind::Rename => format!("rename {from} to {}", String::from_utf8_lossy(to)),
            ChangeKind::SetModified(modified) => {
                let mut time = Vec::with_capacity(14);
                ftpwire_core::listing::write_timestamp(&mut time, modified);
                format!("MFMT {} {from}", String::from_utf8_lossy(&time))
            }
            ChangeKind::SetPermissions(mode) => format!("SITE CHMOD {mode:03o} {from}"),
        }
    }
}

/// A session ended at once (a shutdown's grace period is over): its last
/// notices (a cut transfer's line) are logged, nothing more is sent.
pub fn log_end(session: &mut ServerSession, peer: SocketAddr) {
    loop {
        match session.poll_output() {
            Output::Event(event) => {
                let _ = Work::from_event(event, peer);
            }
            Output::Transmit(_) => {}
            Output::Timeout(_) | Output::Closed => return,
        }
    }
}

/// One log line per notice worth an operator's attention (its text comes
/// from the core, the same on every host).
/// A transfer's line carries its facts as fields too (for JSON logs).
pub fn log_notice(peer: SocketAddr, notice: Notice<'_>) {
    let level = if notice.is_warning() {
        log::Level::Warn
    } else {
        log::Level::Info
    };
    if let Notice::TransferEnded {
        kind,
        path,
        user,
        bytes,
        elapsed,
        outcome,
        ..
    } = &notice
    {
        let path = String::from_utf8_lossy(path);
        let user = String::from_utf8_lossy(user);
        let outcome = match outcome {
            Ok(()) => "ok".to_owned(),
            Err(error) => error.to_string(),
        };
        log::log!(
            level,
            command = kind.verb(),
            path = &*path,
            user = &*user,
            bytes = *bytes,
            ms = elapsed.as_millis() as u64,
            outcome = &*outcome;
            "{peer}: {notice}"
        );
        return;
    }
    log::log!(level, "{peer}: {notice}");
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use ftpwire_core::listing::Metadata;
    use ftpwire_core::server::{Event, LoginOutcome};
    use ftpwire_core::{Instant, Output, ServerConfig, ServerSession};

    use super::*;
    use crate::served::storage::{DirEntries, FileReader, FileWriter, WriteMode};

    /// A storage that records MFMT and SITE CHMOD calls and can do nothing else.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    fn nothing<T>() -> io::Result<T> {
        Err(io::ErrorKind::PermissionDenied.into())
    }

    impl Storage for Recorder {
        fn stat(&self, _: &[u8]) -> io::Result<Metadata> {
            nothing()
        }
        fn list(&self, _: &[u8]) -> io::Result<DirEntries> {
            nothing()
        }
        fn open_read(&self, _: &[u8], _: u64) -> io::Result<FileReader> {
            nothing()
        }
        fn open_write(&self, _: &[u8], _: WriteMode) -> io::Result<FileWriter> {
            nothing()
        }
        fn create_unique(&self, _: &[u8]) -> io::Result<(Vec<u8>, FileWriter)> {
            nothing()
        }
        fn make_directory(&self, _: &[u8]) -> io::Result<()> {
            nothing()
        }
        fn remove_directory(&self, _: &[u8]) -> io::Result<()> {
            nothing()
        }
        fn delete(&self, _: &[u8]) -> io::Result<()> {
            nothing()
        }
        fn rename(&self, _: &[u8], _: &[u8]) -> io::Result<()> {
            nothing()
        }
        fn set_modified(&self, path: &[u8], unix_seconds: i64) -> io::Result<()> {
            let path = String::from_utf8_lossy(path);
            self.0
                .lock()
                .unwrap()
                .push(format!("mtime {path} {unix_seconds}"));
            Ok(())
        }
        fn set_permissions(&self, path: &[u8], mode: u32) -> io::Result<()> {
            let path = String::from_utf8_lossy(path);
            self.0.lock().unwrap().push(format!("mode {path} {mode:o}"));
            if mode == 0o600 {
                return Err(io::ErrorKind::Unsupported.into());
            }
            Ok(())
        }
    }

    struct Everyone;

    impl Authenticator for Everyone {
        fn authenticate(&self, _: &[u8], _: &[u8]) -> LoginOutcome {
            LoginOutcome::Accepted { read_only: false }
        }
    }

    /// Runs `input` through a session whose work goes through [`Work`] and [`Blocking::run`].
    fn replies(storage: &dyn Storage, input: &[u8]) -> String {
        let peer = "127.0.0.1:40000".parse().unwrap();
        let config = Arc::new(ServerConfig::default());
        let mut session = ServerSession::new(
            config,
            "127.0.0.1:21".parse().unwrap(),
            peer,
            Instant::default(),
        );
        let mut out = Vec::new();
        session.handle_input(Instant::default(), input);
        loop {
            let work = match session.poll_output() {
                Output::Transmit(bytes) => {
                    out.extend_from_slice(bytes);
                    continue;
                }
                Output::Event(
                    event @ (Event::Login(_) | Event::FileChange(_) | Event::Notice(_)),
                ) => Work::from_event(event, peer),
                Output::Event(other) => panic!("unexpected event {other:?}"),
                Output::Timeout(_) | Output::Closed => break,
            };
            if let Work::Blocking(blocking) = work {
                blocking.run(storage, &Everyone, peer).apply(&mut session);
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn mfmt_and_site_chmod_reach_the_storage() {
        let storage = Recorder::default();
        let text = replies(
            &storage,
            b"USER a\r\nPASS b\r\nMFMT 20200102030405 x y\r\nSITE CHMOD 640 /d/f\r\nSITE CHMOD 600 f\r\n",
        );
        assert!(text.ends_with(
            "213 Modify=20200102030405; /x y\r\n200 SITE CHMOD command ok.\r\n502 This server's storage cannot do that.\r\n"
        ), "{text}");
        assert_eq!(
            *storage.0.lock().unwrap(),
            ["mtime /x y 1577934245", "mode /d/f 640", "mode /f 600"]
        );
    }
}
