//! The names hosts that speak in strings use for the session's answers and
//! events (the WebAssembly adapter's JavaScript API, the session scripts):
//! ftpwire's camelCase names, and for storage and socket failures also the
//! errno code a Node.js error carries. One table, so every such host reads
//! the same name the same way.

use super::event::{FileError, PassiveError, TransferError, TransferKind};

impl FileError {
    /// A storage error by name (`notFound`, ..., or an errno code such as
    /// `ENOENT`); any other errno is [`Local`](FileError::Local). `None`
    /// for a name that is neither.
    ///
    /// ```
    /// use ftpwire_core::server::FileError;
    /// assert_eq!(FileError::from_name("ENOENT"), Some(FileError::NotFound));
    /// assert_eq!(FileError::from_name("EIO"), Some(FileError::Local));
    /// assert_eq!(FileError::from_name("nope"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<FileError> {
        Some(match name {
            "notFound" | "ENOENT" => FileError::NotFound,
            "permissionDenied" | "EACCES" | "EPERM" | "EROFS" => FileError::PermissionDenied,
            "notADirectory" | "ENOTDIR" => FileError::NotADirectory,
            "isADirectory" | "EISDIR" => FileError::IsADirectory,
            "alreadyExists" | "EEXIST" => FileError::AlreadyExists,
            "directoryNotEmpty" | "ENOTEMPTY" => FileError::DirectoryNotEmpty,
            "invalidName" | "ENAMETOOLONG" | "EILSEQ" => FileError::InvalidName,
            "storageFull" | "ENOSPC" | "EDQUOT" | "EFBIG" => FileError::StorageFull,
            "unsupported" | "ENOTSUP" | "EOPNOTSUPP" | "ENOSYS" => FileError::Unsupported,
            // Any other errno is a local failure: the client cannot fix it.
            "local" => FileError::Local,
            errno if is_errno(errno) => FileError::Local,
            _ => return None,
        })
    }
}

impl TransferError {
    /// A transfer error by name (`noDataConnection`, `connectionLost`,
    /// `aborted`, `tlsFailed`, `tlsSessionNotReused`, `ECONNRESET`,
    /// `EPIPE`) or any [`FileError::from_name`] name.
    pub fn from_name(name: &str) -> Option<TransferError> {
        Some(match name {
            "noDataConnection" => TransferError::NoDataConnection,
            "connectionLost" | "ECONNRESET" | "EPIPE" => TransferError::ConnectionLost,
            "aborted" => TransferError::Aborted,
            "tlsFailed" => TransferError::TlsFailed,
            "tlsSessionNotReused" => TransferError::TlsSessionNotReused,
            other => TransferError::File(FileError::from_name(other)?),
        })
    }
}

impl PassiveError {
    /// A passive listener error by name (`noFreePort` / `EADDRINUSE`,
    /// `unresolved` / `ENOTFOUND`).
    pub fn from_name(name: &str) -> Option<PassiveError> {
        match name {
            "noFreePort" | "EADDRINUSE" => Some(PassiveError::NoFreePort),
            "unresolved" | "ENOTFOUND" => Some(PassiveError::Unresolved),
            _ => None,
        }
    }
}

impl TransferKind {
    /// The kind's name for string-speaking hosts (`retrieve`, `store`, ...).
    pub fn name(self) -> &'static str {
        match self {
            TransferKind::Retrieve => "retrieve",
            TransferKind::Store => "store",
            TransferKind::Append => "append",
            TransferKind::StoreUnique => "storeUnique",
            TransferKind::List => "list",
            TransferKind::NameList => "nameList",
            TransferKind::MachineList => "machineList",
        }
    }
}

/// `E` and then upper-case letters or digits: an errno code's shape.
fn is_errno(name: &str) -> bool {
    name.len() > 1
        && name.starts_with('E')
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}
