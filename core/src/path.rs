//! Virtual paths: what the client names, resolved against the working
//! directory into a normalized absolute path that can never climb above `/`
//! (the session root). The host maps it onto real storage.
//!
//! Paths are bytes: UTF-8 by default (RFC 2640) but any byte but NUL is kept.

use alloc::vec::Vec;

/// A path argument the core refuses to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// A NUL byte cannot name a file on any real filesystem.
    #[error("path contains a NUL byte")]
    Nul,
}

/// Resolves `arg` against `cwd` (an absolute normalized virtual path) into
/// `out` (cleared first): absolute, `/`-separated, no `.`/`..`/empty
/// components, no trailing slash except for the root itself. `..` at the
/// root stays at the root.
///
/// ```
/// let mut out = Vec::new();
/// ftpwire_core::path::resolve(b"/pub", b"../../etc/./passwd", &mut out).unwrap();
/// assert_eq!(out, b"/etc/passwd");
/// ```
pub fn resolve(cwd: &[u8], arg: &[u8], out: &mut Vec<u8>) -> Result<(), PathError> {
    out.clear();
    if arg.contains(&0) {
        return Err(PathError::Nul);
    }
    let relative = !arg.starts_with(b"/");
    let base = if relative { cwd } else { &b""[..] };
    for component in components(base).chain(components(arg)) {
        match component {
            b"." => {}
            b".." => {
                // Truncating to the last '/' climbs one level; at the root it stays.
                let keep = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(keep);
            }
            name => {
                out.push(b'/');
                out.extend_from_slice(name);
            }
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
    Ok(())
}

/// The components of a normalized virtual path, root first excluded.
pub fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

/// The last component of a normalized path (empty for the root).
pub fn file_name(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(slash) => &path[slash + 1..],
        None => path,
    }
}

/// The parent of a normalized path (the root's parent is the root).
pub fn parent(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) | None => b"/",
        Some(slash) => &path[..slash],
    }
}

#[cfg(test)]
mod tests;
