//! The jailed filesystem (`ftpwire_backend::LocalFs`) on a real tree:
//! scripts of `Storage` calls (every one, MFMT's set_modified, SITE
//! CHMOD's set_permissions and CWD's enter_directory included) interleaved with what a local attacker does
//! directly on disk inside the served tree (symlinks pointing in, out,
//! absolute, dangling, through other links; renames; new and removed
//! entries).
//!
//! An input is a text script, one operation a line (see `Op`; the seeds in
//! fuzz/seeds/jail are examples). The tree, made once per process under the
//! temp directory:
//!
//! ```text
//! base/outside/secret          sentinel file
//! base/outside/sub/            an outside directory
//! base/a/b/c/d/e/secret        sentinel file beside the root
//! base/a/b/c/d/e/root/         the served root, reset before each input
//! ```
//!
//! Link targets climb at most six levels and links only ever live inside
//! the root, six levels below `base`, so every target lands inside `base`.
//! Everything in `base` outside the root has the distinctive mtime
//! `OUTSIDE_MTIME`.
//!
//! Invariant: nothing outside the root is created, modified, removed or
//! read. After each input the outside tree (names, types, sizes, modes,
//! mtimes, ctimes, contents, link targets) must equal its state at start; no
//! read returns the sentinel's bytes; no `stat` or listing reports the
//! outside's mtime.
#![no_main]

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ftpwire_backend::served::storage::WriteMode;
use ftpwire_backend::{LocalFs, Storage};
use libfuzzer_sys::fuzz_target;

const SENTINEL: &[u8] = b"SENTINEL: bytes from outside the served root";
const OUTSIDE_MTIME: i64 = 1_000_000_007;
const MAX_OPS: usize = 64;
const MAX_READ: u64 = 64 * 1024;

/// One line of a script: a verb and its arguments (words split at
/// whitespace; virtual paths are any other bytes, as a client could send).
#[derive(Debug)]
enum Op<'a> {
    /// `stat P`
    Stat(&'a [u8]),
    /// `list P`
    List(&'a [u8]),
    /// `read P [OFFSET]`
    Read(&'a [u8], u64),
    /// `write P [trunc|at N|append] [LEN]`
    Write(&'a [u8], WriteMode, usize),
    /// `unique DIR`
    CreateUnique(&'a [u8]),
    /// `mkd P`
    MakeDirectory(&'a [u8]),
    /// `rmd P`
    RemoveDirectory(&'a [u8]),
    /// `dele P`
    Delete(&'a [u8]),
    /// `rename FROM TO`
    Rename(&'a [u8], &'a [u8]),
    /// `cwd P` (enter_directory)
    EnterDirectory(&'a [u8]),
    /// `mfmt P SECONDS` (set_modified)
    SetModified(&'a [u8], i64),
    /// `chmod P OCTAL` (set_permissions)
    SetPermissions(&'a [u8], u32),
    /// The attacker, on disk inside the root: `ln AT TARGET` (TARGET: at
    /// most six leading `..`, then names; or `@/...`, a path inside `base`).
    Symlink(&'a str, &'a str),
    /// `mv FROM TO` (on disk)
    DiskRename(&'a str, &'a str),
    /// `mkdir AT` (on disk)
    DiskMkdir(&'a str),
    /// `rm AT` (on disk)
    DiskRemove(&'a str),
}

impl<'a> Op<'a> {
    /// A script line as an operation; `None` for a line that is none.
    fn parse(line: &'a [u8]) -> Option<Op<'a>> {
        let mut words = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty());
        let verb = words.next()?;
        let mut arg = || words.next();
        let text = |w: &'a [u8]| std::str::from_utf8(w).ok();
        let number =
            |w: Option<&[u8]>| w.and_then(|w| std::str::from_utf8(w).ok()?.parse::<u64>().ok());
        Some(match verb {
            b"stat" => Op::Stat(arg()?),
            b"list" => Op::List(arg()?),
            b"read" => {
                let path = arg()?;
                Op::Read(path, number(arg()).unwrap_or(0) % 64)
            }
            b"write" => {
                let path = arg()?;
                let mode = match arg() {
                    Some(b"at") => WriteMode::At(number(arg()).unwrap_or(0) % 64),
                    Some(b"append") => WriteMode::Append,
                    _ => WriteMode::Truncate,
                };
                let len = number(arg()).unwrap_or(4).min(4096) as usize;
                Op::Write(path, mode, len)
            }
            b"unique" => Op::CreateUnique(arg()?),
            b"mkd" => Op::MakeDirectory(arg()?),
            b"rmd" => Op::RemoveDirectory(arg()?),
            b"dele" => Op::Delete(arg()?),
            b"rename" => Op::Rename(arg()?, arg()?),
            b"cwd" => Op::EnterDirectory(arg()?),
            b"mfmt" => {
                let path = arg()?;
                let secs = arg()
                    .and_then(|w| text(w)?.parse::<i64>().ok())
                    .unwrap_or(0);
                // The outside's own time would make the stat check cry wolf.
                let secs = if secs == OUTSIDE_MTIME {
                    secs + 1
                } else {
                    secs
                };
                Op::SetModified(path, secs)
            }
            b"chmod" => {
                let path = arg()?;
                let mode = arg().and_then(|w| u32::from_str_radix(text(w)?, 8).ok());
                Op::SetPermissions(path, mode.unwrap_or(0o644))
            }
            b"ln" => Op::Symlink(text(arg()?)?, text(arg()?)?),
            b"mv" => Op::DiskRename(text(arg()?)?, text(arg()?)?),
            b"mkdir" => Op::DiskMkdir(text(arg()?)?),
            b"rm" => Op::DiskRemove(text(arg()?)?),
            _ => return None,
        })
    }
}

struct Tree {
    base: PathBuf,
    root: PathBuf,
    outside: Vec<Snapshot>,
}

#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    path: PathBuf,
    kind: &'static str,
    len: u64,
    mode: u32,
    mtime: (i64, i64),
    ctime: (i64, i64),
    contents: Option<Vec<u8>>,
    link: Option<PathBuf>,
}

fn tree() -> &'static Tree {
    static TREE: OnceLock<Tree> = OnceLock::new();
    TREE.get_or_init(|| {
        remove_stale();
        let base = std::env::temp_dir().join(format!("ftpwire-fuzz-jail-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let root = base.join("a/b/c/d/e/root");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(base.join("outside/sub")).unwrap();
        fs::write(base.join("outside/secret"), SENTINEL).unwrap();
        fs::write(base.join("a/b/c/d/e/secret"), SENTINEL).unwrap();
        // Children before parents, so setting a child's time does not move the parent's.
        let mut paths = vec![
            base.join("outside/secret"),
            base.join("outside/sub"),
            base.join("outside"),
            base.join("a/b/c/d/e/secret"),
        ];
        for dir in ["a/b/c/d/e", "a/b/c/d", "a/b/c", "a/b", "a"] {
            paths.push(base.join(dir));
        }
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(OUTSIDE_MTIME as u64);
        for path in &paths {
            fs::File::open(path).unwrap().set_modified(time).unwrap();
        }
        let mut tree = Tree {
            base,
            root,
            outside: Vec::new(),
        };
        tree.outside = snapshot(&tree);
        tree
    })
}

/// Removes scratch trees of fuzzing processes that are gone.
fn remove_stale() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("ftpwire-fuzz-jail-"))
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            reset_permissions(&entry.path());
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Everything in `base` but the root, without following a link.
fn snapshot(tree: &Tree) -> Vec<Snapshot> {
    let mut out = Vec::new();
    let mut stack = vec![tree.base.clone()];
    while let Some(path) = stack.pop() {
        if path == tree.root {
            continue;
        }
        let meta = fs::symlink_metadata(&path).unwrap();
        let kind = if meta.is_dir() {
            let mut children: Vec<PathBuf> = fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            children.sort();
            stack.extend(children);
            "dir"
        } else if meta.file_type().is_symlink() {
            "link"
        } else {
            "file"
        };
        out.push(Snapshot {
            contents: (kind == "file").then(|| fs::read(&path).unwrap()),
            link: (kind == "link").then(|| fs::read_link(&path).unwrap()),
            path,
            kind,
            len: meta.len(),
            mode: meta.mode(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        });
    }
    out
}

/// Makes every real directory under `dir` enterable again (a fuzzed chmod
/// may have closed one), never through a link.
fn reset_permissions(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            let _ = fs::set_permissions(&path, fs::Permissions::from_mode(0o755));
            if let Ok(entries) = fs::read_dir(&path) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
}

/// The root as each input starts: a few entries, and links a local user
/// left: out through an absolute path, out through `..`, to the root's
/// sibling, inside, and dangling.
fn reset(tree: &Tree) {
    reset_permissions(&tree.root);
    for entry in fs::read_dir(&tree.root).unwrap() {
        let path = entry.unwrap().path();
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            fs::remove_dir_all(&path).unwrap();
        } else {
            fs::remove_file(&path).unwrap();
        }
    }
    let root = &tree.root;
    fs::create_dir_all(root.join("pub/sub")).unwrap();
    fs::write(root.join("pub/file"), b"inside\n").unwrap();
    fs::write(root.join("file"), b"file\n").unwrap();
    let link = |target: &Path, at: &str| std::os::unix::fs::symlink(target, root.join(at)).unwrap();
    link(&tree.base.join("outside"), "out");
    link(Path::new("../../../../../../outside/secret"), "rel");
    link(Path::new("../secret"), "secret");
    link(Path::new("pub"), "x");
    link(Path::new("nowhere/file"), "outside");
}

fuzz_target!(|script: &[u8]| {
    let tree = tree();
    reset(tree);
    let jail = LocalFs::new(&tree.root).expect("serve the root");
    let ops = script.split(|&b| b == b'\n').filter_map(Op::parse);
    for op in ops.take(MAX_OPS) {
        run(tree, &jail, &op);
    }
    let now = snapshot(tree);
    if now != tree.outside {
        for (before, after) in tree.outside.iter().zip(&now) {
            if before != after {
                eprintln!("outside changed:\n  before {before:?}\n  after  {after:?}");
            }
        }
        panic!(
            "the outside tree changed ({} entries before, {} after)",
            tree.outside.len(),
            now.len()
        );
    }
});

fn run(tree: &Tree, jail: &LocalFs, op: &Op<'_>) {
    match *op {
        Op::Stat(path) => {
            if let Ok(meta) = jail.stat(path) {
                check_not_outside(meta.modified, path);
            }
        }
        Op::List(path) => {
            if let Ok(entries) = jail.list(path) {
                for entry in entries.take(256).flatten() {
                    check_not_outside(entry.metadata.modified, path);
                }
            }
        }
        Op::Read(path, offset) => {
            if let Ok(reader) = jail.open_read(path, offset) {
                let mut bytes = Vec::new();
                let _ = reader.take(MAX_READ).read_to_end(&mut bytes);
                assert!(
                    !bytes.windows(SENTINEL.len()).any(|w| w == SENTINEL),
                    "read the outside sentinel through {:?}",
                    String::from_utf8_lossy(path)
                );
            }
        }
        Op::Write(path, mode, len) => {
            if let Ok(mut writer) = jail.open_write(path, mode) {
                let _ = writer.write_all(&vec![b'w'; len]);
            }
        }
        Op::CreateUnique(path) => {
            if let Ok((_, mut writer)) = jail.create_unique(path) {
                let _ = writer.write_all(b"unique");
            }
        }
        Op::MakeDirectory(path) => {
            let _ = jail.make_directory(path);
        }
        Op::RemoveDirectory(path) => {
            let _ = jail.remove_directory(path);
        }
        Op::Delete(path) => {
            let _ = jail.delete(path);
        }
        Op::Rename(from, to) => {
            let _ = jail.rename(from, to);
        }
        Op::EnterDirectory(path) => {
            let _ = jail.enter_directory(path);
        }
        Op::SetModified(path, secs) => {
            let _ = jail.set_modified(path, secs);
        }
        Op::SetPermissions(path, mode) => {
            let _ = jail.set_permissions(path, mode);
        }
        Op::Symlink(at, target) => {
            if let (Some(at), Some(target)) = (attacker_path(tree, at), link_target(tree, target)) {
                let _ = std::os::unix::fs::symlink(target, at);
            }
        }
        Op::DiskRename(from, to) => {
            if let (Some(from), Some(to)) = (attacker_path(tree, from), attacker_path(tree, to)) {
                let _ = fs::rename(from, to);
            }
        }
        Op::DiskMkdir(at) => {
            if let Some(at) = attacker_path(tree, at) {
                let _ = fs::create_dir(at);
            }
        }
        Op::DiskRemove(at) => {
            if let Some(at) = attacker_path(tree, at) {
                match fs::symlink_metadata(&at) {
                    Ok(meta) if meta.is_dir() => {
                        let _ = fs::remove_dir(at);
                    }
                    Ok(_) => {
                        let _ = fs::remove_file(at);
                    }
                    Err(_) => {}
                }
            }
        }
    }
}

/// A path inside the root (at most four names, no `.`/`..`) whose
/// directories are all real (not links), so the attacker's own changes
/// never land outside.
fn attacker_path(tree: &Tree, path: &str) -> Option<PathBuf> {
    let names: Vec<&str> = path.split('/').filter(|n| !n.is_empty()).collect();
    if names.len() > 4 || names.iter().any(|&n| n == "." || n == "..") {
        return None;
    }
    let (last, parents) = names.split_last()?;
    let mut real = tree.root.clone();
    for name in parents {
        real.push(name);
        if !fs::symlink_metadata(&real).ok()?.is_dir() {
            return None;
        }
    }
    Some(real.join(last))
}

/// A link target that cannot leave `base` from anywhere in the root: at
/// most six leading `..` and none after a name; `@/...` is `base/...`.
fn link_target(tree: &Tree, target: &str) -> Option<PathBuf> {
    let (mut path, rest) = match target.strip_prefix('@') {
        Some(rest) => (tree.base.clone(), rest),
        None if target.starts_with('/') => return None,
        None => (PathBuf::new(), target),
    };
    let names: Vec<&str> = rest.split('/').filter(|n| !n.is_empty()).collect();
    let ups = names.iter().take_while(|&&n| n == "..").count();
    let absolute = target.starts_with('@');
    if (absolute && ups > 0) || ups > 6 || names[ups..].contains(&"..") {
        return None;
    }
    for name in names {
        path.push(name);
    }
    if path.as_os_str().is_empty() {
        path.push(".");
    }
    Some(path)
}

fn check_not_outside(modified: Option<i64>, path: &[u8]) {
    assert_ne!(
        modified,
        Some(OUTSIDE_MTIME),
        "facts of an outside entry through {:?}",
        String::from_utf8_lossy(path)
    );
}
