//! The control-channel corpus, generated here: FTP client sessions (login
//! preamble, 5-60 operations, QUIT) and the replies a server sends them,
//! with the statistics the shared corpus's README describes
//! (`../shared/bench`: paths of 5-60 bytes, 12% of them UTF-8, the same
//! mix of verbs, multi-line FEAT and STAT replies). Deterministic for a
//! seed, so figures stay comparable from one change to the next, and no
//! file outside the repository is needed: benchmarks run from a fresh
//! clone. A program of the project's own, not a copy of the shared script:
//! its random stream differs, so its bytes do too; the figures agree (the
//! README gives both).

/// Client command lines and the matching server replies, CRLF-terminated.
pub struct Generated {
    /// Command lines.
    pub commands: Vec<u8>,
    /// Replies, one per command (a transfer's `150` and `226` together).
    pub replies: Vec<u8>,
    /// How many command lines.
    pub lines: usize,
}

const ASCII_WORDS: &[&str] = &[
    "data", "backup", "logs", "reports", "2024", "2025", "archive", "incoming", "outgoing", "tmp",
    "images", "video", "docs", "invoices", "export", "import", "nightly", "build", "release",
    "customer", "orders", "pub", "www", "html", "assets", "src", "dist",
];
const UTF8_WORDS: &[&str] = &[
    "résumé",
    "Übersicht",
    "données",
    "日本語",
    "фото",
    "ñandú",
    "café",
    "Ωmega",
    "naïve",
    "straße",
    "中文目录",
    "jalapeño",
];
const EXTENSIONS: &[&str] = &[
    ".txt", ".csv", ".tar.gz", ".zip", ".jpg", ".pdf", ".log", ".json", ".bin", ".xml",
];
const USERS: &[&str] = &[
    "anonymous",
    "alice",
    "bob",
    "ftpuser",
    "deploy",
    "backup_svc",
    "jörg",
];
const FEATURES: &[&str] = &[
    "MDTM",
    "SIZE",
    "REST STREAM",
    "MLST type*;size*;modify*;perm*;",
    "UTF8",
    "EPSV",
    "PASV",
    "AUTH TLS",
    "PBSZ",
    "PROT",
];

struct Writer {
    rng: fastrand::Rng,
    commands: Vec<String>,
    replies: Vec<String>,
    lines: usize,
}

impl Writer {
    fn emit(&mut self, command: &str, reply: &str) {
        self.commands.push(command.to_owned());
        self.replies.push(reply.to_owned());
        self.lines += 1;
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.rng.usize(..from.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.f64() < p
    }

    fn word(&mut self, utf8: bool) -> String {
        if utf8 && self.chance(0.35) {
            return self.pick(UTF8_WORDS).to_owned();
        }
        let mut word = self.pick(ASCII_WORDS).to_owned();
        if self.chance(0.3) {
            word.push_str(&format!("_{}", self.rng.u32(1..=99_999)));
        }
        word
    }

    /// A path of 5-60 bytes; about 12% carry non-ASCII words.
    fn path(&mut self, file: bool) -> String {
        let utf8 = self.chance(0.12);
        let target = self.rng.usize(5..=60);
        loop {
            let absolute = self.chance(0.4);
            let parts: Vec<String> = (0..self.rng.usize(1..=5))
                .map(|_| self.word(utf8))
                .collect();
            let mut path = if absolute {
                "/".to_owned()
            } else {
                String::new()
            };
            path.push_str(&parts.join("/"));
            if file {
                path.push_str(self.pick(EXTENSIONS));
            }
            if path.len() > 60 {
                let mut end = 60;
                while !path.is_char_boundary(end) {
                    end -= 1;
                }
                path.truncate(end);
                while path.ends_with('/') {
                    path.pop();
                }
            }
            if (5..=60).contains(&path.len()) && path.len().abs_diff(target) < 25 {
                return path;
            }
        }
    }

    fn data_connection(&mut self) {
        if self.chance(0.6) {
            let port = self.rng.u16(1024..);
            self.emit(
                "EPSV",
                &format!("229 Entering Extended Passive Mode (|||{port}|)"),
            );
        } else {
            let h: Vec<u8> = (0..4).map(|_| self.rng.u8(1..=254)).collect();
            let port = self.rng.u16(1024..);
            self.emit(
                "PASV",
                &format!(
                    "227 Entering Passive Mode ({},{},{},{},{},{}).",
                    h[0],
                    h[1],
                    h[2],
                    h[3],
                    port >> 8,
                    port & 255
                ),
            );
        }
    }

    fn session(&mut self, limit: usize) {
        let user = self.pick(USERS);
        self.emit(
            &format!("USER {user}"),
            &format!("331 Password required for {user}"),
        );
        let password: String = (0..self.rng.usize(6..=20))
            .map(|_| {
                let chars = b"abcdefghijkLMNOP0123456789!@#";
                chars[self.rng.usize(..chars.len())] as char
            })
            .collect();
        self.emit(&format!("PASS {password}"), "230 User logged in, proceed.");
        self.emit("SYST", "215 UNIX Type: L8");
        let mut feat = String::from("211-Features:\r\n");
        for f in FEATURES {
            feat.push_str(&format!(" {f}\r\n"));
        }
        feat.push_str("211 End");
        self.emit("FEAT", &feat);
        if self.chance(0.7) {
            self.emit("OPTS UTF8 ON", "200 UTF8 set to on");
        }
        self.emit("PWD", "257 \"/\" is the current directory");
        self.emit("TYPE I", "200 Type set to I");
        for _ in 0..self.rng.usize(5..=60) {
            let op = self.rng.f64();
            if op < 0.14 {
                let dir = self.path(false);
                self.emit(&format!("CWD {dir}"), "250 Directory successfully changed.");
            } else if op < 0.20 {
                let dir = self.path(false);
                self.emit("PWD", &format!("257 \"/{dir}\" is the current directory"));
            } else if op < 0.30 {
                self.data_connection();
                let verb = if self.chance(0.5) { "MLSD" } else { "LIST" };
                let command = if self.chance(0.6) {
                    verb.to_owned()
                } else {
                    format!("{verb} {}", self.path(false))
                };
                self.emit(
                    &command,
                    "150 Opening BINARY mode data connection for file list\r\n226 Transfer complete",
                );
            } else if op < 0.44 {
                let path = self.path(true);
                let size = self.rng.u64(0..=10_000_000_000);
                self.emit(&format!("SIZE {path}"), &format!("213 {size}"));
            } else if op < 0.56 {
                let path = self.path(true);
                let r = &mut self.rng;
                let stamp = format!(
                    "213 2025{:02}{:02}{:02}{:02}{:02}",
                    r.u8(1..=12),
                    r.u8(1..=28),
                    r.u8(0..=23),
                    r.u8(0..=59),
                    r.u8(0..=59)
                );
                self.emit(&format!("MDTM {path}"), &stamp);
            } else if op < 0.76 {
                self.data_connection();
                let path = self.path(true);
                if self.chance(0.15) {
                    let n = self.rng.u64(1..=1_000_000_000);
                    self.emit(
                        &format!("REST {n}"),
                        &format!(
                            "350 Restarting at {n}. Send STORE or RETRIEVE to initiate transfer"
                        ),
                    );
                }
                let size = self.rng.u64(0..=1_000_000_000);
                self.emit(
                    &format!("RETR {path}"),
                    &format!(
                        "150 Opening BINARY mode data connection for {path} ({size} bytes)\r\n226 Transfer complete"
                    ),
                );
            } else if op < 0.90 {
                self.data_connection();
                let path = self.path(true);
                self.emit(
                    &format!("STOR {path}"),
                    "150 Ok to send data.\r\n226 Transfer complete",
                );
            } else if op < 0.95 {
                self.emit("NOOP", "200 NOOP ok.");
            } else if op < 0.97 {
                self.emit(
                    "STAT",
                    &format!(
                        "211-FTP server status:\r\n Connected to 192.0.2.10\r\n Logged in as {user}\r\n TYPE: BINARY\r\n211 End of status"
                    ),
                );
            } else {
                self.emit("CDUP", "250 Directory successfully changed.");
            }
            if self.lines >= limit.saturating_sub(1) {
                break;
            }
        }
        self.emit("QUIT", "221 Goodbye.");
    }
}

/// `lines` command lines (and their replies) from `seed`.
pub fn generate(lines: usize, seed: u64) -> Generated {
    let mut writer = Writer {
        rng: fastrand::Rng::with_seed(seed),
        commands: Vec::with_capacity(lines),
        replies: Vec::with_capacity(lines),
        lines: 0,
    };
    while writer.lines < lines {
        writer.session(lines);
    }
    let join = |texts: &[String]| {
        let mut bytes = Vec::with_capacity(texts.len() * 32);
        for text in texts {
            bytes.extend_from_slice(text.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        bytes
    };
    Generated {
        commands: join(&writer.commands[..lines]),
        replies: join(&writer.replies[..lines]),
        lines,
    }
}
