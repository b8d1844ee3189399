//! File facts (`statDone`) and listing entries (`formatListing`) as
//! `facts.js` encodes them: the host's objects cross into the module as
//! one byte string per call, read here without allocating (names stay
//! slices of it). Reading them property by property from Rust cost an
//! import call and some glue per property (README "Size").

use ftpwire_core::listing::{ListEntry, Metadata};

use crate::answer::{self, AnswerError};

/// A length that stands for "none" (a missing link target).
const NONE: u32 = u32::MAX;
/// A length that stands for "not a string or `Uint8Array`".
const WRONG: u32 = u32::MAX - 1;
/// A kind length that stands for "not a string".
const NOT_TEXT: u8 = 255;

/// Reads what `facts.js` wrote, in order.
pub struct FactsReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> FactsReader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        FactsReader { bytes, at: 0 }
    }

    /// Whether everything has been read.
    pub fn is_done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    /// `encodeFacts`' output: `{kind, size, modified, mode}` as the core's metadata.
    pub fn facts(&mut self) -> Result<Metadata, AnswerError> {
        let len = *self.take(1)?.first().ok_or(CUT)?;
        let kind = if len == NOT_TEXT {
            None
        } else {
            core::str::from_utf8(self.take(usize::from(len))?).ok()
        };
        let size = self.number()?;
        let modified = self.number()?;
        let mode = self.number()?;
        let kind = kind.ok_or(AnswerError::Malformed(
            "facts.kind must be file, directory, symlink or other",
        ))?;
        if size.is_nan() {
            return Err(AnswerError::Malformed("facts.size must be a number"));
        }
        answer::metadata(kind, size, Some(modified), mode as u32)
    }

    /// One of `encodeEntries`' entries: `{name, facts, linkTarget}`.
    pub fn entry(&mut self) -> Result<ListEntry<'a>, AnswerError> {
        let name = self.name()?.ok_or(AnswerError::Malformed(
            "entry.name must be a Uint8Array or a string",
        ))?;
        let metadata = self.facts()?;
        let link_target = self.name()?;
        Ok(ListEntry {
            name,
            metadata,
            link_target,
        })
    }

    fn name(&mut self) -> Result<Option<&'a [u8]>, AnswerError> {
        match self.u32()? {
            NONE => Ok(None),
            WRONG => Err(AnswerError::Malformed(
                "entry.linkTarget must be a Uint8Array, a string or null",
            )),
            len => self.take(len as usize).map(Some),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], AnswerError> {
        let taken = self
            .bytes
            .get(self.at..self.at.saturating_add(n))
            .ok_or(CUT)?;
        self.at += n;
        Ok(taken)
    }

    fn u32(&mut self) -> Result<u32, AnswerError> {
        let bytes = self.take(4)?.try_into().map_err(|_| CUT)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn number(&mut self) -> Result<f64, AnswerError> {
        let bytes = self.take(8)?.try_into().map_err(|_| CUT)?;
        Ok(f64::from_le_bytes(bytes))
    }
}

/// What `facts.js` wrote ended early (it never does).
const CUT: AnswerError = AnswerError::Malformed("file facts from the host are cut short");

#[cfg(test)]
mod tests {
    use super::*;
    use ftpwire_core::listing::FileKind;

    fn facts(kind: &[u8], size: f64, modified: f64, mode: f64) -> Vec<u8> {
        let mut out = vec![kind.len() as u8];
        out.extend_from_slice(kind);
        for n in [size, modified, mode] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out
    }

    fn name(out: &mut Vec<u8>, name: Option<&[u8]>, absent: u32) {
        match name {
            Some(name) => {
                out.extend_from_slice(&(name.len() as u32).to_le_bytes());
                out.extend_from_slice(name);
            }
            None => out.extend_from_slice(&absent.to_le_bytes()),
        }
    }

    /// Entries come back with their bytes, facts and link targets, and
    /// every malformed part is refused with the property's name.
    #[test]
    fn entries_and_facts_read_back() {
        let mut bytes = Vec::new();
        name(&mut bytes, Some(b"a\xff"), NONE);
        bytes.extend(facts(b"file", 5.0, 1.5e9, 0o644 as f64));
        name(&mut bytes, None, NONE);
        name(&mut bytes, Some(b"l"), NONE);
        bytes.extend(facts(b"symlink", 0.0, f64::NAN, f64::NAN));
        name(&mut bytes, Some(b"a"), NONE);
        let mut reader = FactsReader::new(&bytes);
        let first = reader.entry().unwrap();
        assert_eq!(first.name, b"a\xff");
        assert_eq!(first.metadata.kind, FileKind::File);
        assert_eq!(
            (
                first.metadata.size,
                first.metadata.modified,
                first.metadata.mode
            ),
            (5, Some(1_500_000_000), 0o644)
        );
        assert_eq!(first.link_target, None);
        let second = reader.entry().unwrap();
        assert_eq!(
            (
                second.metadata.kind,
                second.metadata.modified,
                second.metadata.mode
            ),
            (FileKind::Symlink, None, 0)
        );
        assert_eq!(second.link_target, Some(&b"a"[..]));
        assert!(reader.is_done());

        let message = |bytes: &[u8]| FactsReader::new(bytes).entry().unwrap_err().message();
        let mut no_name = Vec::new();
        name(&mut no_name, None, NONE);
        assert!(message(&no_name).contains("entry.name"));
        let mut bad_kind = Vec::new();
        name(&mut bad_kind, Some(b"x"), NONE);
        bad_kind.push(NOT_TEXT);
        bad_kind.extend_from_slice(&[0; 24]);
        assert!(message(&bad_kind).contains("facts.kind"));
        let mut bad_size = Vec::new();
        name(&mut bad_size, Some(b"x"), NONE);
        bad_size.extend(facts(b"file", f64::NAN, 0.0, 0.0));
        assert!(message(&bad_size).contains("facts.size"));
        let mut bad_link = Vec::new();
        name(&mut bad_link, Some(b"x"), NONE);
        bad_link.extend(facts(b"file", 1.0, 0.0, 0.0));
        name(&mut bad_link, None, WRONG);
        assert!(message(&bad_link).contains("entry.linkTarget"));
        let mut unknown = Vec::new();
        name(&mut unknown, Some(b"x"), NONE);
        unknown.extend(facts(b"fifo", 1.0, 0.0, 0.0));
        assert!(message(&unknown).contains("unknown file kind \"fifo\""));
        // Cut short anywhere: an error, never a panic.
        for end in 0..bad_link.len() {
            assert!(FactsReader::new(&bad_link[..end]).entry().is_err());
        }
    }
}
