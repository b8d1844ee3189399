//! The `211` reply to FEAT (RFC 2389): what the server says it supports.

use alloc::string::String;

use crate::reply::Reply;

/// The features a client acts on, from a FEAT reply.
///
/// ```
/// use ftpwire_core::client::Features;
/// let feat = b"211-Features:\r\n EPSV\r\n MLST type*;size*;modify*;\r\n REST STREAM\r\n UTF8\r\n211 End\r\n";
/// let reply = ftpwire_core::reply::parse(feat).unwrap().unwrap().0;
/// let features = Features::parse(&reply);
/// assert!(features.epsv && features.mlst && features.rest_stream && features.utf8);
/// assert!(!features.auth_tls);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features {
    /// EPSV (RFC 2428).
    pub epsv: bool,
    /// MLST and MLSD (RFC 3659).
    pub mlst: bool,
    /// SIZE.
    pub size: bool,
    /// MDTM.
    pub mdtm: bool,
    /// REST STREAM: resumable transfers.
    pub rest_stream: bool,
    /// UTF8 path names (RFC 2640).
    pub utf8: bool,
    /// AUTH TLS (RFC 4217).
    pub auth_tls: bool,
    /// PBSZ and PROT.
    pub prot: bool,
    /// MFMT (setting a file's time).
    pub mfmt: bool,
}

impl Features {
    /// The features a `211` multi-line reply lists (one per line, each
    /// indented by a space); anything else (a `500`) lists none.
    pub fn parse(reply: &Reply<'_>) -> Features {
        let mut features = Features::default();
        if reply.code != 211 {
            return features;
        }
        for line in reply.raw.split(|&b| b == b'\n').skip(1) {
            let Some(line) = line.strip_prefix(b" ") else {
                continue;
            };
            let line = line.trim_ascii_end();
            let (name, args) = match line.iter().position(|&b| b == b' ') {
                Some(space) => (&line[..space], &line[space + 1..]),
                None => (line, &b""[..]),
            };
            let mut upper = [0u8; 8];
            if name.len() > upper.len() {
                continue;
            }
            upper[..name.len()].copy_from_slice(name);
            upper.make_ascii_uppercase();
            match &upper[..name.len()] {
                b"EPSV" => features.epsv = true,
                b"MLST" | b"MLSD" => features.mlst = true,
                b"SIZE" => features.size = true,
                b"MDTM" => features.mdtm = true,
                b"REST" => features.rest_stream |= args.eq_ignore_ascii_case(b"STREAM"),
                b"UTF8" => features.utf8 = true,
                b"AUTH" => {
                    features.auth_tls |= args
                        .split(|&b| b == b' ' || b == b',' || b == b';')
                        .any(|m| m.eq_ignore_ascii_case(b"TLS"))
                }
                b"PBSZ" | b"PROT" => features.prot = true,
                b"MFMT" => features.mfmt = true,
                _ => {}
            }
        }
        features
    }
}

/// Server text made safe to print: printable characters as they are
/// (UTF-8 included), control characters and bytes that are not UTF-8 as
/// `\xNN`, at most `limit` bytes of input shown. Every reply text a client
/// echoes goes through it.
///
/// ```
/// use ftpwire_core::client::escape;
/// assert_eq!(escape(b"550 caf\xc3\xa9\x1b[2J\xff", 64), "550 caf\u{e9}\\x1b[2J\\xff");
/// ```
pub fn escape(text: &[u8], limit: usize) -> String {
    use core::fmt::Write;
    let shown = &text[..text.len().min(limit)];
    let mut out = String::with_capacity(shown.len());
    for chunk in shown.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                let _ = write!(out, "\\x{:02x}", c as u32);
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    if text.len() > limit {
        out.push_str("...");
    }
    out
}
