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
    if is_normalized(cwd) {
        return resolve_normalized(cwd, arg, out);
    }
    // A caller's cwd that is not normalized is normalized on the way.
    let mut base = Vec::new();
    for component in cwd.split(|&b| b == b'/') {
        push_component(&mut base, component);
    }
    join(&base, arg, out)
}

/// [`resolve`] for a `cwd` known to be normalized (the session's own, made
/// by `resolve`): taken whole, not checked or rebuilt again, since this
/// runs for nearly every command.
pub(crate) fn resolve_normalized(
    cwd: &[u8],
    arg: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), PathError> {
    debug_assert!(
        cwd.is_empty() || is_normalized(cwd),
        "cwd {cwd:?} is not normalized"
    );
    join(cwd, arg, out)
}

/// `arg`'s components after the components already in `cwd`.
fn join(cwd: &[u8], arg: &[u8], out: &mut Vec<u8>) -> Result<(), PathError> {
    out.clear();
    let absolute = arg.starts_with(b"/");
    if !absolute && cwd != b"/" {
        out.extend_from_slice(cwd);
    }
    if is_plain(arg) {
        // Its components are all names: appended whole, as they are.
        if !absolute {
            out.push(b'/');
        }
        out.extend_from_slice(arg);
        return Ok(());
    }
    join_components(arg, out)
}

/// Whether `arg` is names joined by single slashes (absolute or not), none
/// starting with `.`, no NUL, no trailing slash: what nearly every client
/// sends, and what normalizing leaves as it is. Eight bytes at a time:
/// only slashes and NULs need a look.
fn is_plain(arg: &[u8]) -> bool {
    const LOWS: u64 = u64::from_le_bytes([0x7F; 8]);
    const SLASHES: u64 = u64::from_le_bytes([b'/'; 8]);
    /// High bits exactly where `v` has zero bytes (no borrow between bytes).
    fn zero_bytes(v: u64) -> u64 {
        !(((v & LOWS).wrapping_add(LOWS)) | v | LOWS)
    }
    // A slash is fine when a byte other than `/` and `.` follows it.
    let after_slash = |at: usize| matches!(arg.get(at + 1), Some(&b) if b != b'/' && b != b'.');
    let relative = match arg {
        [] | [b'.', ..] => return false,
        [b'/', ..] => after_slash(0),
        _ => true,
    };
    if !relative {
        return false;
    }
    let (words, tail) = arg.as_chunks::<8>();
    for (i, bytes) in words.iter().enumerate() {
        let word = u64::from_le_bytes(*bytes);
        let mut found = zero_bytes(word ^ SLASHES) | zero_bytes(word);
        while found != 0 {
            let at = i * 8 + (found.trailing_zeros() / 8) as usize;
            if arg[at] == 0 || !after_slash(at) {
                return false;
            }
            found &= found - 1;
        }
    }
    let start = words.len() * 8;
    tail.iter().enumerate().all(|(i, &b)| match b {
        0 => false,
        b'/' => after_slash(start + i),
        _ => true,
    })
}

/// [`join`]'s general case: component by component.
#[inline(never)]
fn join_components(arg: &[u8], out: &mut Vec<u8>) -> Result<(), PathError> {
    // One pass over the argument: components between slashes, NUL refused.
    let mut start = 0;
    for (at, &byte) in arg.iter().enumerate() {
        match byte {
            b'/' => {
                push_component(out, &arg[start..at]);
                start = at + 1;
            }
            0 => {
                out.clear();
                return Err(PathError::Nul);
            }
            _ => {}
        }
    }
    push_component(out, &arg[start..]);
    if out.is_empty() {
        out.push(b'/');
    }
    Ok(())
}

/// Appends one component to the normalized path in `out`: `.` and empty
/// ones skipped, `..` climbing (never above the root).
#[inline]
fn push_component(out: &mut Vec<u8>, component: &[u8]) {
    match component {
        b"" | b"." => {}
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

/// Whether `path` is what [`resolve`] makes: `/`, or `/`-led components
/// that are neither empty, `.` nor `..`.
pub fn is_normalized(path: &[u8]) -> bool {
    if path == b"/" {
        return true;
    }
    // Each component: after its '/', not empty, not "." or "..".
    let mut component = 0;
    let mut dots = 0;
    for (at, &byte) in path.iter().enumerate() {
        match byte {
            b'/' if at == 0 => {}
            _ if at == 0 => return false,
            b'/' => {
                if component == 0 || component == dots && dots <= 2 {
                    return false;
                }
                (component, dots) = (0, 0);
            }
            0 => return false,
            b'.' => {
                component += 1;
                dots += 1;
            }
            _ => component += 1,
        }
    }
    !(path.is_empty() || component == 0 || component == dots && dots <= 2)
}

/// The components of a normalized virtual path, root first excluded.
pub fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

/// Whether any component of a normalized path is a dot file (`/.git/x`,
/// `/a/.env`): exactly where `/.` occurs in it.
pub fn names_dot_file(path: &[u8]) -> bool {
    // A plain scan: paths are short, and the whole-session benchmark counts
    // the same instructions as with `memmem::find` (1,491 per command
    // line), whose searchers would add some 5 KiB to the WebAssembly module.
    path.windows(2).any(|pair| pair == b"/.")
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
