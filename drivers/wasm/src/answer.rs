//! The host's answers in the words JavaScript has for them: error names
//! (`"notFound"`, or a Node.js errno code such as `"ENOENT"`), file facts,
//! socket addresses. Each parser says exactly what it could not understand.

use alloc::string::String;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};

use ftpwire_core::listing::{FileKind, Metadata};
use ftpwire_core::server::{FileError, PassiveError, TransferError};
use ftpwire_core::text::Quoted;

/// An answer the session could not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// The id does not belong to a pending event of that kind.
    UnknownId {
        /// The id given.
        id: u32,
        /// The event type the method answers.
        expected: &'static str,
    },
    /// An error name that is neither one of ftpwire's nor a known errno code.
    UnknownFileError(String),
    /// A transfer error name that is not known.
    UnknownTransferError(String),
    /// A passive error name that is not known.
    UnknownPassiveError(String),
    /// A file kind that is not known.
    UnknownFileKind(String),
    /// Not an IP address.
    BadIp(String),
    /// A value of the wrong shape.
    Malformed(&'static str),
}

impl AnswerError {
    /// What went wrong and what to do, put together without `core::fmt`,
    /// whose machinery the module leaves out (README "Size").
    pub fn message(&self) -> String {
        let quoted = |before: &str, text: &str, after: &str| {
            let mut message = String::from(before);
            Quoted(text).push_to(&mut message);
            message.push_str(after);
            message
        };
        match self {
            AnswerError::UnknownId { id, expected } => {
                let mut digits = Vec::new();
                ftpwire_core::reply::write_decimal(&mut digits, u64::from(*id));
                joined(&[
                    "no pending ",
                    expected,
                    " event has id ",
                    core::str::from_utf8(&digits).unwrap_or_default(),
                    ": answer each event once, with the `id` it carried, through the method for its type",
                ])
            }
            AnswerError::UnknownFileError(name) => quoted(
                "unknown error ",
                name,
                ": use one of notFound, permissionDenied, notADirectory, isADirectory, alreadyExists, directoryNotEmpty, invalidName, storageFull, unsupported, local (or a Node.js errno code such as ENOENT)",
            ),
            AnswerError::UnknownTransferError(name) => quoted(
                "unknown transfer error ",
                name,
                ": use noDataConnection, connectionLost, aborted, tlsFailed, tlsSessionNotReused, or a file error name",
            ),
            AnswerError::UnknownPassiveError(name) => quoted(
                "unknown passive error ",
                name,
                ": use noFreePort or unresolved",
            ),
            AnswerError::UnknownFileKind(name) => quoted(
                "unknown file kind ",
                name,
                ": use file, directory, symlink or other",
            ),
            AnswerError::BadIp(text) => quoted("", text, " is not an IP address"),
            AnswerError::Malformed(what) => String::from(*what),
        }
    }
}

/// `parts` joined, as `concat` joins them but without its length check,
/// whose panic message pulls `core::fmt` into the module.
pub(crate) fn joined(parts: &[&str]) -> String {
    let mut text = String::new();
    for part in parts {
        text.push_str(part);
    }
    text
}

/// The [`message`](AnswerError::message).
impl core::fmt::Display for AnswerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

/// The storage error a name stands for: ftpwire's own camelCase names, or
/// the errno code a Node.js `fs` error carries in `error.code`.
///
/// ```
/// use ftpwire_core::server::FileError;
/// use ftpwire_wasm::answer::file_error;
/// assert_eq!(file_error("ENOENT"), Ok(FileError::NotFound));
/// assert_eq!(file_error("storageFull"), Ok(FileError::StorageFull));
/// assert!(file_error("nope").is_err());
/// ```
pub fn file_error(name: &str) -> Result<FileError, AnswerError> {
    FileError::from_name(name).ok_or_else(|| AnswerError::UnknownFileError(String::from(name)))
}

/// Why a transfer failed: a transfer error name or any [`file_error`] name.
///
/// ```
/// use ftpwire_core::server::{FileError, TransferError};
/// use ftpwire_wasm::answer::transfer_error;
/// assert_eq!(transfer_error("aborted"), Ok(TransferError::Aborted));
/// assert_eq!(transfer_error("EACCES"), Ok(TransferError::File(FileError::PermissionDenied)));
/// ```
pub fn transfer_error(name: &str) -> Result<TransferError, AnswerError> {
    TransferError::from_name(name)
        .ok_or_else(|| AnswerError::UnknownTransferError(String::from(name)))
}

/// Why no passive listener could be opened.
pub fn passive_error(name: &str) -> Result<PassiveError, AnswerError> {
    PassiveError::from_name(name)
        .ok_or_else(|| AnswerError::UnknownPassiveError(String::from(name)))
}

/// A file kind by name.
pub fn file_kind(name: &str) -> Result<FileKind, AnswerError> {
    match name {
        "file" => Ok(FileKind::File),
        "directory" => Ok(FileKind::Directory),
        "symlink" => Ok(FileKind::Symlink),
        "other" => Ok(FileKind::Other),
        other => Err(AnswerError::UnknownFileKind(String::from(other))),
    }
}

/// File facts from JS numbers: sizes are whole non-negative numbers, times
/// seconds since the Unix epoch (fractions dropped).
pub fn metadata(
    kind: &str,
    size: f64,
    modified: Option<f64>,
    mode: u32,
) -> Result<Metadata, AnswerError> {
    if !(size >= 0.0 && size.is_finite()) {
        return Err(AnswerError::Malformed("file size must be a number >= 0"));
    }
    Ok(Metadata {
        kind: file_kind(kind)?,
        size: size as u64,
        modified: modified.filter(|t| t.is_finite()).map(floor),
        mode,
    })
}

/// An IP address as Node.js writes it (an IPv6 zone such as `%eth0` is dropped).
pub fn ip(text: &str) -> Result<IpAddr, AnswerError> {
    // (Bytes, not `split('%')`: char patterns cost the module their searcher.)
    let bytes = text.as_bytes();
    let unzoned = bytes.split(|&b| b == b'%').next().unwrap_or(bytes);
    ftpwire_core::address::parse_ip(unzoned).ok_or_else(|| AnswerError::BadIp(String::from(text)))
}

/// A socket address from an IP text and a port.
pub fn socket_addr(address: &str, port: f64) -> Result<SocketAddr, AnswerError> {
    let port = whole_port(port).ok_or(AnswerError::Malformed(
        "port must be a whole number from 0 to 65535",
    ))?;
    Ok(SocketAddr::new(ip(address)?, port))
}

/// A JS number that is a whole number from 0 to 65535 (NaN is not).
///
/// ```
/// use ftpwire_wasm::answer::whole_port;
/// assert_eq!(whole_port(21.0), Some(21));
/// assert_eq!(whole_port(21.5), None);
/// assert_eq!(whole_port(65536.0), None);
/// assert_eq!(whole_port(f64::NAN), None);
/// ```
pub fn whole_port(n: f64) -> Option<u16> {
    // By comparison rather than `f64::fract`, which is std's (the server
    // module is no_std).
    ((0.0..=65535.0).contains(&n) && n == f64::from(n as u16)).then_some(n as u16)
}

/// The whole number at or below `t`, saturating at the ends of `i64`
/// (`f64::floor` is std's; the server module is no_std).
fn floor(t: f64) -> i64 {
    let whole = t as i64;
    if whole as f64 > t {
        whole.saturating_sub(1)
    } else {
        whole
    }
}

/// Milliseconds on the host's clock as an [`Instant`](ftpwire_core::Instant)
/// (negative and NaN are the epoch).
pub fn instant(now_ms: f64) -> ftpwire_core::Instant {
    let micros = if now_ms.is_finite() && now_ms > 0.0 {
        (now_ms * 1000.0) as u64
    } else {
        0
    };
    ftpwire_core::Instant::from_duration(core::time::Duration::from_micros(micros))
}

/// An [`Instant`](ftpwire_core::Instant) as milliseconds, rounded up so a
/// timer set for it never fires before the deadline.
pub fn millis(instant: ftpwire_core::Instant) -> f64 {
    // Whole seconds and the rest apart: the same figure as the u128 of
    // `as_micros`, without pulling 128-bit division into the module.
    let since = instant.as_duration();
    since.as_secs() as f64 * 1000.0 + f64::from(since.subsec_micros().div_ceil(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `floor` and `whole_port` agree with std's `f64::floor` and `fract`
    /// (which the no_std module cannot call), ends and NaN included.
    #[test]
    fn float_helpers_match_std() {
        for t in [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            2.999,
            -2.001,
            1e15 + 0.5,
            -1e15 - 0.5,
            9.3e18,
            -9.3e18,
            1e300,
            -1e300,
        ] {
            assert_eq!(floor(t), t.floor() as i64, "{t}");
        }
        for n in [
            0.0,
            1.0,
            21.0,
            21.5,
            -1.0,
            65535.0,
            65535.5,
            65536.0,
            f64::NAN,
            f64::INFINITY,
        ] {
            let std = ((0.0..=65535.0).contains(&n) && n.fract() == 0.0).then_some(n as u16);
            assert_eq!(whole_port(n), std, "{n}");
        }
    }
}
