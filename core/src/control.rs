//! The control channel's byte stream into command lines: Telnet IAC
//! filtering (RFC 959 §4.1.3 uses the Telnet protocol: IAC IAC is a literal
//! 0xFF; IP, DM and option negotiation are dropped so that an ABOR sent with
//! Telnet IP + Synch arrives as a plain `ABOR` line) and CRLF framing (a bare
//! LF is tolerated) with a length limit past which the line is discarded
//! without being buffered.
//!
//! A complete line already whole in the caller's input is returned as a slice
//! of that input: no copy on the common path.
//!
//! ```
//! use ftpwire_core::control::{ControlReader, Frame};
//! let mut reader = ControlReader::new(4096);
//! let input = b"NOOP\r\nQU";
//! let (used, frame) = reader.next_line(input);
//! assert_eq!((used, frame), (6, Frame::Line(&b"NOOP"[..])));
//! assert_eq!(reader.next_line(&input[used..]), (2, Frame::NeedMore));
//! assert_eq!(reader.next_line(b"IT\r\n"), (4, Frame::Line(&b"QUIT"[..])));
//! ```

use alloc::vec::Vec;

const IAC: u8 = 255;
const WILL: u8 = 251;
const DONT: u8 = 254;
/// The lowest Telnet command byte (RFC 854).
const SE: u8 = 240;

/// What [`ControlReader::next_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete line, without its CRLF (or LF).
    Line(&'a [u8]),
    /// All input consumed; the line is not complete yet.
    NeedMore,
    /// The line passed the limit: reply `500`; the rest of it, up to its LF,
    /// will be discarded without being buffered.
    TooLong,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Telnet {
    Data,
    /// After IAC.
    Command,
    /// After IAC WILL/WONT/DO/DONT: the option byte follows.
    Option,
    /// An `ABOR` was returned at its CR: drop the LF if it comes next.
    AfterAbor,
}

/// Frames control-channel bytes into command lines.
#[derive(Debug)]
pub struct ControlReader {
    line: Vec<u8>,
    limit: usize,
    telnet: Telnet,
    /// Dropping the tail of an over-long line until its LF.
    discarding: bool,
    /// `line` holds a line already returned: clear it before reading on.
    returned: bool,
    /// Return the buffered line again on the next call.
    replay: bool,
}

impl ControlReader {
    /// A reader accepting lines of at most `limit` bytes, line end included.
    /// Lines are handed out from the input itself; the buffer (for a line
    /// with Telnet commands in it) grows on first use and is kept, so an
    /// idle session holds none.
    pub fn new(limit: usize) -> Self {
        let limit = limit.max(3);
        ControlReader {
            line: Vec::new(),
            limit,
            telnet: Telnet::Data,
            discarding: false,
            returned: false,
            replay: false,
        }
    }

    /// Whether a partial line (or Telnet sequence, or a discarded tail) is pending.
    pub fn is_mid_line(&self) -> bool {
        (!self.returned && !self.line.is_empty()) || self.telnet != Telnet::Data || self.discarding
    }

    /// Keeps the line just returned for later: if it came from the reader's
    /// own buffer, the next call returns it again (consuming nothing) and this
    /// returns true; if it was a slice of the caller's input, this returns
    /// false and the caller must keep those bytes and offer them again.
    pub fn replay(&mut self) -> bool {
        self.replay = self.returned;
        self.replay
    }

    /// Whether a kept line ([`replay`](Self::replay)) is waiting.
    pub fn has_replay(&self) -> bool {
        self.replay
    }

    /// Consumes bytes of `input` up to the end of the next line; returns how
    /// many bytes were consumed and what was found. A returned line is valid
    /// until the next call.
    pub fn next_line<'a>(&'a mut self, input: &'a [u8]) -> (usize, Frame<'a>) {
        if self.replay {
            self.replay = false;
            return (0, Frame::Line(strip_cr(&self.line)));
        }
        if self.returned {
            self.line.clear();
            self.returned = false;
        }

        // One search for whichever comes first: an LF with no IAC before it
        // is a line to hand out as it is.
        if !self.is_mid_line()
            && let Some(lf) = find_lf_or_iac(input)
            && input[lf] == b'\n'
        {
            // `ABOR` ends at its CR whatever follows (see below), however
            // the input was split.
            if lf > 5 && input[4] == b'\r' && self.abor_before_cr(input) {
                return (5, Frame::Line(&input[..4]));
            }
            if lf + 1 > self.limit {
                return (lf + 1, Frame::TooLong);
            }
            return (lf + 1, Frame::Line(strip_cr(&input[..lf])));
        }
        self.next_line_slow(input)
    }

    /// Whether `input` starts with `ABOR` CR (out of line: the fast path
    /// only tests for the CR).
    #[cold]
    #[inline(never)]
    fn abor_before_cr(&self, input: &[u8]) -> bool {
        self.limit > 5 && is_abor(&input[..4])
    }

    /// Kept out of line so that the fast path needs few registers saved.
    #[inline(never)]
    fn next_line_slow<'a>(&'a mut self, input: &'a [u8]) -> (usize, Frame<'a>) {
        for (i, &byte) in input.iter().enumerate() {
            if self.telnet == Telnet::Data
                && byte != b'\n'
                && !self.discarding
                && self.line.len() == 5
                && self.line[4] == b'\r'
                && is_abor(&self.line[..4])
            {
                // `ABOR` CR and then not LF: the ABOR ends at its CR; this
                // byte (an IAC too) starts the next line.
                self.returned = true;
                return (i, Frame::Line(&self.line[..4]));
            }
            match self.telnet {
                Telnet::AfterAbor => {
                    self.telnet = Telnet::Data;
                    if byte == b'\n' {
                        continue;
                    }
                    if byte == IAC {
                        self.telnet = Telnet::Command;
                        continue;
                    }
                }
                Telnet::Option => {
                    self.telnet = Telnet::Data;
                    continue;
                }
                Telnet::Command => {
                    self.telnet = match byte {
                        WILL..=DONT => Telnet::Option,
                        _ => Telnet::Data,
                    };
                    // Below SE (240) is no Telnet command: the byte after the
                    // IAC was taken out of the stream as TCP urgent data (the
                    // DM of a Synch, on a host that cannot read urgent data
                    // inline, such as Node), so this one is data again.
                    if byte != IAC && byte >= SE {
                        continue;
                    }
                    // IAC IAC: a literal 0xFF data byte, handled below.
                }
                Telnet::Data if byte == IAC => {
                    self.telnet = Telnet::Command;
                    continue;
                }
                Telnet::Data => {}
            }
            if byte == b'\n' {
                if self.discarding {
                    self.discarding = false;
                    self.line.clear();
                    continue;
                }
                self.returned = true;
                return (i + 1, Frame::Line(strip_cr(&self.line)));
            }
            if self.discarding {
                continue;
            }
            if self.line.len() + 1 >= self.limit {
                self.line.clear();
                self.discarding = true;
                return (i + 1, Frame::TooLong);
            }
            if self.line.len() == self.line.capacity() {
                // Doubling, from 64 bytes, never past the limit.
                let grown = (self.line.capacity() * 2).max(64).min(self.limit);
                self.line.reserve_exact(grown - self.line.len());
            }
            self.line.push(byte);
        }
        // `ABOR` sent as urgent data (Python's ftplib: `send(b"ABOR\r\n",
        // MSG_OOB)`) loses its LF to the urgent pointer where the host cannot
        // read urgent data inline: the LF will never come, and the client waits
        // for the reply. The CR ends it; a LF that does follow is dropped.
        if let [command @ .., b'\r'] = &self.line[..]
            && !self.discarding
            && self.telnet == Telnet::Data
            && is_abor(command)
        {
            self.returned = true;
            self.telnet = Telnet::AfterAbor;
            return (input.len(), Frame::Line(&self.line[..4]));
        }
        (input.len(), Frame::NeedMore)
    }
}

/// The index of the first LF or IAC in `input`. Eight bytes at a time in a
/// `u64`: command lines are a few dozen bytes, where a call into `memchr2`
/// costs more than the search itself.
fn find_lf_or_iac(input: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const LFS: u64 = u64::from_le_bytes([b'\n'; 8]);
    let mut rest = input;
    while let Some((&chunk, tail)) = rest.split_first_chunk::<8>() {
        let word = u64::from_le_bytes(chunk);
        // Zero bytes where the LFs and the IACs are. `(v - 1) & !v` sets the
        // high bit of a zero byte; a borrow can flag bytes after the first
        // zero byte too, but never one before it, and only the first counts.
        let (lf, iac) = (word ^ LFS, !word);
        let found = (lf.wrapping_sub(ONES) & !lf | iac.wrapping_sub(ONES) & !iac) & HIGHS;
        if found != 0 {
            let at = input.len() - rest.len();
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        rest = tail;
    }
    let at = input.len() - rest.len();
    rest.iter()
        .position(|&b| b == b'\n' || b == IAC)
        .map(|i| at + i)
}

fn is_abor(line: &[u8]) -> bool {
    line.eq_ignore_ascii_case(b"ABOR")
}

fn strip_cr(line: &[u8]) -> &[u8] {
    match line.last() {
        Some(b'\r') => &line[..line.len() - 1],
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    /// Every line (or TooLong) a reader finds in `chunks`, fed one chunk at a time.
    fn frames(limit: usize, chunks: &[&[u8]]) -> Vec<Result<Vec<u8>, ()>> {
        let mut reader = ControlReader::new(limit);
        let mut out = Vec::new();
        for chunk in chunks {
            let mut rest = *chunk;
            while !rest.is_empty() {
                let (used, frame) = reader.next_line(rest);
                assert!(used > 0 && used <= rest.len());
                match frame {
                    Frame::Line(l) => out.push(Ok(l.to_vec())),
                    Frame::TooLong => out.push(Err(())),
                    Frame::NeedMore => assert_eq!(used, rest.len()),
                }
                rest = &rest[used..];
            }
        }
        out
    }

    #[test]
    fn crlf_and_bare_lf() {
        assert_eq!(
            frames(100, &[b"USER a\r\nPASS b\nNOOP\r\n"]),
            vec![
                Ok(b"USER a".to_vec()),
                Ok(b"PASS b".to_vec()),
                Ok(b"NOOP".to_vec())
            ]
        );
    }

    #[test]
    fn a_line_split_across_reads() {
        assert_eq!(
            frames(100, &[b"RE", b"TR x", b"\r", b"\n"]),
            vec![Ok(b"RETR x".to_vec())]
        );
    }

    #[test]
    fn telnet_ip_and_synch_before_abor() {
        // IAC IP IAC DM ABOR CRLF, as lftp sends it (DM inline thanks to SO_OOBINLINE).
        assert_eq!(
            frames(100, &[b"\xff\xf4\xff\xf2ABOR\r\n"]),
            vec![Ok(b"ABOR".to_vec())]
        );
        // The urgent byte removed from the stream (no OOBINLINE, as on
        // Node): IAC IP IAC, then ABOR; its first letter is not eaten.
        assert_eq!(
            frames(100, &[b"\xff\xf4\xff", b"ABOR\r\n"]),
            vec![Ok(b"ABOR".to_vec())]
        );
        assert_eq!(
            frames(100, &[b"\xff\xf4\xffABOR\r\n"]),
            vec![Ok(b"ABOR".to_vec())]
        );
    }

    #[test]
    fn abor_whose_lf_was_taken_as_urgent_data_ends_at_its_cr() {
        // ftplib's abort(): `ABOR\r\n` sent with MSG_OOB; without OOBINLINE
        // the LF never arrives in the stream.
        assert_eq!(frames(100, &[b"ABOR\r"]), vec![Ok(b"ABOR".to_vec())]);
        // On a host that reads it inline, the LF comes after and is dropped.
        assert_eq!(
            frames(100, &[b"abor\r", b"\nNOOP\r\n"]),
            vec![Ok(b"abor".to_vec()), Ok(b"NOOP".to_vec())]
        );
        // Only ABOR: another line waits for its LF.
        assert_eq!(frames(100, &[b"NOOP\r"]), vec![]);
        // Whatever follows its CR, and however the reads fall (found by
        // the command_parser fuzzer): the same lines.
        let whole = frames(100, &[b"ABOR\rX\n"]);
        assert_eq!(whole, vec![Ok(b"ABOR".to_vec()), Ok(b"X".to_vec())]);
        assert_eq!(frames(100, &[b"ABOR\r", b"X\n"]), whole);
        let singles: Vec<&[u8]> = b"ABOR\rX\n".chunks(1).collect();
        assert_eq!(frames(100, &singles), whole);
        assert_eq!(
            frames(100, &[b"ab\xffor\r", b"X\n"]),
            frames(100, &[b"ab\xffor\rX\n"])
        );
    }

    #[test]
    fn iac_iac_is_a_literal_ff_and_negotiation_is_dropped() {
        assert_eq!(
            frames(100, &[b"RETR a\xff\xffb\xff\xfb\x01c\r\n"]),
            vec![Ok(b"RETR a\xffbc".to_vec())]
        );
        assert_eq!(
            frames(100, &[b"NO\xff", b"\xfd", b"\x18OP\n"]),
            vec![Ok(b"NOOP".to_vec())]
        );
    }

    #[test]
    fn too_long_lines_are_reported_once_and_discarded() {
        let long = vec![b'a'; 10_000];
        assert_eq!(
            frames(16, &[&long, &long, b"\r\nNOOP\r\n"]),
            vec![Err(()), Ok(b"NOOP".to_vec())]
        );
        // Whole over-long line in one read (fast path).
        let mut one = vec![b'b'; 40];
        one.extend_from_slice(b"\r\nNOOP\r\n");
        assert_eq!(frames(16, &[&one]), vec![Err(()), Ok(b"NOOP".to_vec())]);
        // Exactly at the limit, CRLF included, is fine on both paths.
        assert_eq!(frames(8, &[b"NOOP12\r\n"]), vec![Ok(b"NOOP12".to_vec())]);
        assert_eq!(
            frames(8, &[b"NOO", b"P12\r\n"]),
            vec![Ok(b"NOOP12".to_vec())]
        );
        assert_eq!(frames(8, &[b"NOO", b"P123\r\n"]), vec![Err(())]);
    }

    #[test]
    fn a_kept_line_comes_back() {
        let mut reader = ControlReader::new(64);
        assert_eq!(reader.next_line(b"NO"), (2, Frame::NeedMore));
        assert_eq!(reader.next_line(b"OP\r\nX"), (4, Frame::Line(&b"NOOP"[..])));
        assert!(reader.replay());
        assert_eq!(reader.next_line(b"X"), (0, Frame::Line(&b"NOOP"[..])));
        assert_eq!(reader.next_line(b"X"), (1, Frame::NeedMore));
        // A line straight from the input is the caller's to keep.
        let mut reader = ControlReader::new(64);
        assert_eq!(reader.next_line(b"PWD\r\n"), (5, Frame::Line(&b"PWD"[..])));
        assert!(!reader.replay());
    }

    #[test]
    fn the_buffer_never_grows_past_the_limit() {
        let mut reader = ControlReader::new(100);
        assert_eq!(
            reader.line.capacity(),
            0,
            "nothing held before it is needed"
        );
        for _ in 0..100 {
            reader.next_line(&[b'x'; 1000]);
            assert!(reader.line.capacity() <= 100, "{}", reader.line.capacity());
        }
        let mut reader = ControlReader::new(4096);
        reader.next_line(b"NO");
        assert_eq!(reader.line.capacity(), 64, "a split line takes a little");
    }

    #[test]
    fn lf_or_iac_at_every_offset_of_a_word() {
        for len in 0..20 {
            for at in 0..len {
                for (mark, other) in [(b'\n', 0xfe), (IAC, 0x0b), (b'\n', 0x00), (IAC, 0x01)] {
                    let mut input = vec![other; len];
                    input[at] = mark;
                    assert_eq!(find_lf_or_iac(&input), Some(at), "{input:?}");
                    // A later mark does not hide an earlier one.
                    input[len - 1] = b'\n' ^ IAC ^ mark;
                    assert_eq!(find_lf_or_iac(&input), Some(at), "{input:?}");
                }
            }
            assert_eq!(find_lf_or_iac(&vec![b'a'; len]), None);
        }
    }

    proptest! {
        #[test]
        fn lf_or_iac_search_matches_a_plain_scan(
            input in proptest::collection::vec(
                prop_oneof![
                    Just(b'\n'), Just(0xffu8), Just(0x0bu8), Just(0x09u8), Just(0xfeu8),
                    Just(0u8), Just(1u8), Just(0x80u8), any::<u8>(), any::<u8>(), any::<u8>()
                ], 0..80),
        ) {
            let plain = input.iter().position(|&b| b == b'\n' || b == IAC);
            prop_assert_eq!(find_lf_or_iac(&input), plain);
        }

        #[test]
        fn splitting_the_input_anywhere_gives_the_same_lines(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\r'), Just(b'\n'), Just(0xffu8), Just(0xf4u8), any::<u8>()], 0..300),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let whole = frames(32, &[&input]);
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut start = 0;
            for p in points {
                chunks.push(&input[start..p]);
                start = p;
            }
            chunks.push(&input[start..]);
            prop_assert_eq!(frames(32, &chunks), whole);
        }
    }
}
