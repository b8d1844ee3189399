//! The namespace: paths resolved against the working directory, CWD,
//! SIZE/MDTM/MLST facts and the commands that change files.

use super::*;

impl State {
    /// Resolves a path argument into `self.path`; replies `501` and returns false if it can't.
    pub(super) fn resolve_into_path(&mut self, arg: &[u8]) -> bool {
        match path::resolve_normalized(&self.cwd, arg, &mut self.path) {
            Ok(()) => true,
            Err(_) => {
                self.reply(501, "Path contains a NUL byte.");
                false
            }
        }
    }

    pub(super) fn resolve_into_rename_from(&mut self, arg: &[u8]) -> bool {
        match path::resolve_normalized(&self.cwd, arg, &mut self.rename_from) {
            Ok(()) => true,
            Err(_) => {
                self.reply(501, "Path contains a NUL byte.");
                false
            }
        }
    }

    /// CWD, CDUP: the host checks that `self.path` can be entered.
    pub(super) fn enter_directory(&mut self) {
        let id = self.token();
        self.waiting = Waiting::EnterDirectory(id);
        self.events.push_back(Queued::EnterDirectory(id));
    }

    /// Whether dot files are kept from this login: a read-only login
    /// (anonymous) unless the server shares them. A tree served as it is
    /// (a source checkout) must not hand out `.git` or `.env`.
    pub(super) fn dot_files_withheld(&self) -> bool {
        self.read_only() && !self.config.share_dot_files
    }

    /// After `resolve_into_path`: `550` (and false) if `self.path` goes
    /// through a dot file this login may not reach.
    pub(super) fn may_read_path(&mut self) -> bool {
        if self.dot_files_withheld() && path::names_dot_file(&self.path) {
            self.reply(
                550,
                "Permission denied: dot files are not served to this login.",
            );
            return false;
        }
        true
    }

    /// SITE CHMOD: permission bits only; a client never sets setuid,
    /// setgid or sticky bits on the server's files.
    pub(super) fn site_chmod(&mut self, mode: u32, path: &[u8]) {
        if self.read_only() {
            return self.refuse_read_only("SITE CHMOD");
        }
        if mode > 0o777 {
            return self.reply(504, "SITE CHMOD sets permission bits only (000 to 777).");
        }
        self.change(path, ChangeKind::SetPermissions(mode));
    }

    pub(super) fn stat(&mut self, arg: &[u8], purpose: StatPurpose) {
        if self.resolve_into_path(arg) && self.may_read_path() {
            let id = self.token();
            self.waiting = Waiting::Stat(id, purpose);
            self.events.push_back(Queued::Stat(id));
        }
    }

    pub(super) fn change(&mut self, arg: &[u8], kind: ChangeKind) {
        if self.read_only() {
            return self.refuse_read_only(match kind {
                ChangeKind::MakeDirectory => "MKD",
                ChangeKind::RemoveDirectory => "RMD",
                ChangeKind::Delete => "DELE",
                ChangeKind::Rename => "RNTO",
                ChangeKind::SetModified(_) => "MFMT",
                ChangeKind::SetPermissions(_) => "SITE CHMOD",
            });
        }
        if !self.resolve_into_path(arg) {
            return;
        }
        if self.path == b"/" {
            return self.reply(550, "The root directory cannot be changed.");
        }
        let id = self.token();
        self.waiting = Waiting::Change(id, kind);
        self.events.push_back(Queued::Change(id, kind));
    }

    pub(super) fn on_stat(&mut self, id: u32, result: Result<Metadata, FileError>) {
        let Waiting::Stat(expected, purpose) = self.waiting else {
            return self.stale("stat");
        };
        if expected != id {
            return self.stale("stat");
        }
        self.waiting = Waiting::Nothing;
        let metadata = match result {
            Ok(m) => m,
            Err(error) => {
                let (code, text) = error.reply();
                return self.reply(code, text);
            }
        };
        let is_dir = metadata.kind == FileKind::Directory;
        match purpose {
            StatPurpose::Size if is_dir => self.reply(550, "Not a plain file."),
            StatPurpose::Size => {
                reply::write_code(&mut self.out, 213, b' ');
                reply::write_decimal(&mut self.out, metadata.size);
                self.out.extend_from_slice(b"\r\n");
            }
            StatPurpose::Mdtm => match metadata.modified {
                Some(secs) if !is_dir => {
                    reply::write_code(&mut self.out, 213, b' ');
                    listing::write_timestamp(&mut self.out, secs);
                    self.out.extend_from_slice(b"\r\n");
                }
                _ => self.reply(550, "No modification time for that path."),
            },
            StatPurpose::Mlst => {
                reply::write_first(&mut self.out, 250, "Listing");
                self.out.push(b' ');
                let writable = !self.read_only();
                listing::write_facts(&mut self.out, &metadata, writable);
                reply::write_path(&mut self.out, &self.path);
                self.out.extend_from_slice(b"\r\n");
                self.reply(250, "End.");
            }
            StatPurpose::Rnfr => {
                self.rename_pending = true;
                self.reply(350, "Ready for RNTO.");
            }
        }
    }

    pub(super) fn on_directory_entered(&mut self, id: u32, result: Result<(), FileError>) {
        if !matches!(self.waiting, Waiting::EnterDirectory(w) if w == id) {
            return self.stale("directory");
        }
        self.waiting = Waiting::Nothing;
        match result {
            Ok(()) => {
                core::mem::swap(&mut self.cwd, &mut self.path);
                self.reply(250, "Directory changed.");
            }
            Err(error) => {
                let (code, text) = error.reply();
                self.reply(code, text);
            }
        }
    }

    pub(super) fn on_change(&mut self, id: u32, result: Result<(), FileError>) {
        let Waiting::Change(expected, kind) = self.waiting else {
            return self.stale("change");
        };
        if expected != id {
            return self.stale("change");
        }
        self.waiting = Waiting::Nothing;
        match (result, kind) {
            (Err(error), _) => {
                let (code, text) = error.reply();
                self.reply(code, text);
            }
            (Ok(()), ChangeKind::MakeDirectory) => {
                reply::write_quoted_path(&mut self.out, 257, &self.path, " created.")
            }
            (Ok(()), ChangeKind::RemoveDirectory) => self.reply(250, "Directory removed."),
            (Ok(()), ChangeKind::Delete) => self.reply(250, "File deleted."),
            (Ok(()), ChangeKind::Rename) => self.reply(250, "Rename successful."),
            (Ok(()), ChangeKind::SetModified(modified)) => {
                // draft-somers-ftp-mfxx §3: the time set, and the path.
                self.out.extend_from_slice(b"213 Modify=");
                listing::write_timestamp(&mut self.out, modified);
                self.out.extend_from_slice(b"; ");
                reply::write_path(&mut self.out, &self.path);
                self.out.extend_from_slice(b"\r\n");
            }
            (Ok(()), ChangeKind::SetPermissions(_)) => self.reply(200, "SITE CHMOD command ok."),
        }
    }
}
