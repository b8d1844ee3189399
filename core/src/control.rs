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

use crate::command::{Command, ParseError};

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

/// What [`ControlReader::next_command`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next<'a> {
    /// A complete line, parsed: [`Command::parse`] of what
    /// [`Frame::Line`] would have held.
    Command(Result<Command<'a>, ParseError>),
    /// All input consumed; the line is not complete yet.
    NeedMore,
    /// As [`Frame::TooLong`].
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
    /// None of the above is pending (no replay, no discarded tail, no
    /// Telnet sequence, no partial line): [`next_command`]'s one test.
    ///
    /// [`next_command`]: ControlReader::next_command
    settled: bool,
}

/// Where [`ControlReader::scan`] stopped; the frame is made once the
/// state is settled.
enum Scanned {
    /// The line in the buffer, its CR stripped.
    Line,
    /// `ABOR` ended at its CR: the buffer's first four bytes.
    Abor,
    TooLong,
    NeedMore,
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
            settled: true,
        }
    }

    /// Recomputes [`settled`](Self::settled) after a change of state.
    fn settle(&mut self) {
        self.settled = self.is_settled();
    }

    fn is_settled(&self) -> bool {
        !(self.replay | self.discarding | (self.telnet != Telnet::Data))
            && (self.returned || self.line.is_empty())
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
        self.settle();
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
            self.settle();
            return (0, Frame::Line(strip_cr(&self.line)));
        }
        // Clearing a returned line leaves `settled` as it was.
        if self.returned {
            self.line.clear();
            self.returned = false;
        }
        debug_assert_eq!(self.settled, self.is_settled());

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

    /// [`next_line`](Self::next_line) and [`Command::parse`] in one pass:
    /// a line whole in `input`, with no Telnet command in it, is found
    /// eight bytes at a time and parsed where it lies, with no framing
    /// state touched. Anything else (a partial line, IAC, an over-long
    /// line, a kept line, `ABOR` CR) takes `next_line`'s way; both give the
    /// same results.
    ///
    /// ```
    /// use ftpwire_core::command::Command;
    /// use ftpwire_core::control::{ControlReader, Next};
    /// let mut reader = ControlReader::new(4096);
    /// let input = b"RETR a.txt\r\nNO";
    /// let (used, next) = reader.next_command(input);
    /// assert_eq!((used, next), (12, Next::Command(Ok(Command::Retr(b"a.txt")))));
    /// assert_eq!(reader.next_command(&input[used..]), (2, Next::NeedMore));
    /// assert_eq!(reader.next_command(b"OP\r\n"), (4, Next::Command(Ok(Command::Noop))));
    /// ```
    #[inline]
    pub fn next_command<'a>(&'a mut self, input: &'a [u8]) -> (usize, Next<'a>) {
        debug_assert_eq!(self.settled, self.is_settled());
        if self.settled
            && let lf = find_line_end(input)
            // Also false for NONE: the limit is below it.
            && lf < self.limit
            && let Some(line) = input.get(..lf)
            // `ABOR` CR followed by more than the LF ends at its CR.
            && !(line.len() > 5 && line[4] == b'\r')
        {
            if self.returned {
                self.line.clear();
                self.returned = false;
            }
            let line = match line {
                [line @ .., b'\r'] => line,
                line => line,
            };
            return (lf + 1, Next::Command(Command::parse_inline(line)));
        }
        self.next_command_slow(input)
    }

    #[inline(never)]
    fn next_command_slow<'a>(&'a mut self, input: &'a [u8]) -> (usize, Next<'a>) {
        let (used, frame) = self.next_line(input);
        let next = match frame {
            Frame::Line(line) => Next::Command(Command::parse(line)),
            Frame::NeedMore => Next::NeedMore,
            Frame::TooLong => Next::TooLong,
        };
        (used, next)
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
        let (used, scanned) = self.scan(input);
        self.settle();
        let frame = match scanned {
            Scanned::Line => Frame::Line(strip_cr(&self.line)),
            Scanned::Abor => Frame::Line(&self.line[..4]),
            Scanned::TooLong => Frame::TooLong,
            Scanned::NeedMore => Frame::NeedMore,
        };
        (used, frame)
    }

    /// Telnet filtering and framing a byte at a time, into the buffer.
    fn scan(&mut self, input: &[u8]) -> (usize, Scanned) {
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
                return (i, Scanned::Abor);
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
                return (i + 1, Scanned::Line);
            }
            if self.discarding {
                continue;
            }
            if self.line.len() + 1 >= self.limit {
                self.line.clear();
                self.discarding = true;
                return (i + 1, Scanned::TooLong);
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
            return (input.len(), Scanned::Abor);
        }
        (input.len(), Scanned::NeedMore)
    }
}

/// The index of the first LF or IAC in `input`. Eight bytes at a time in a
/// `u64`: command lines are a few dozen bytes, where a call into `memchr2`
/// costs more than the search itself.
fn find_lf_or_iac(input: &[u8]) -> Option<usize> {
    let mut rest = input;
    while let Some((&chunk, tail)) = rest.split_first_chunk::<8>() {
        let found = lf_or_iac(u64::from_le_bytes(chunk));
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

/// The index of the LF ending the first line of `input`, or [`NONE`] if an
/// IAC comes before it or there is none: one value, so that the caller's
/// test against the line limit also rules out "not found".
///
/// Sixteen bytes at a time where there is a vector unit (see
/// [`find_line_end_blocks`]), then eight at a time, with a test that finds
/// the first LF or byte over 0x7F (IAC, or UTF-8 in a file name) in four
/// operations: for bytes below 0x80, `(b ^ LF) - 1` has its high bit set
/// only where `b` is LF, and no borrow crosses a byte before the first one
/// found.
#[inline(always)]
fn find_line_end(input: &[u8]) -> usize {
    let start = match find_line_end_blocks(input) {
        Ok(found) => return found,
        Err(start) => start,
    };
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const LFS: u64 = u64::from_le_bytes([b'\n'; 8]);
    let (words, _) = input[start..].as_chunks::<8>();
    for (i, bytes) in words.iter().enumerate() {
        let word = u64::from_le_bytes(*bytes);
        let found = ((word ^ LFS).wrapping_sub(ONES) | word) & HIGHS;
        if found != 0 {
            let at = (found.trailing_zeros() / 8) as usize;
            return match bytes[at] {
                b'\n' => start + i * 8 + at,
                IAC => NONE,
                _ => find_line_end_exact(input, start + i * 8),
            };
        }
    }
    find_line_end_exact(input, start + words.len() * 8)
}

/// [`find_line_end`]'s "no line end before an IAC or the end of input".
const NONE: usize = usize::MAX;

/// [`find_line_end`] sixteen bytes at a time with SSE2 (every x86_64 has
/// it): a compare for LF and one for IAC, so UTF-8 in a name costs
/// nothing. `Err` is where the blocks ended without an answer.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn find_line_end_blocks(input: &[u8]) -> Result<usize, usize> {
    use safe_arch::{
        cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i, set_splat_i8_m128i,
    };
    let lfs = set_splat_i8_m128i(b'\n' as i8);
    let iacs = set_splat_i8_m128i(IAC as i8);
    let mut start = 0;
    while let Some(bytes) = input[start..].first_chunk::<16>() {
        let block = load_unaligned_m128i(bytes);
        let lf = move_mask_i8_m128i(cmp_eq_mask_i8_m128i(block, lfs));
        let found = lf | move_mask_i8_m128i(cmp_eq_mask_i8_m128i(block, iacs));
        if found != 0 {
            let at = found.trailing_zeros();
            // All ones (NONE) where the first byte found is an IAC.
            let iac = (((lf >> at) & 1) ^ 1) as usize;
            return Ok((start + at as usize) | iac.wrapping_neg());
        }
        start += 16;
    }
    Err(start)
}

/// No vector unit the core can use safely: all of the search is
/// [`find_line_end`]'s eight-byte words.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn find_line_end_blocks(_input: &[u8]) -> Result<usize, usize> {
    Err(0)
}

/// [`find_line_end`] from `at` on, past bytes over 0x7F that are not IAC,
/// and in the last bytes of `input`, fewer than eight.
#[cold]
#[inline(never)]
fn find_line_end_exact(input: &[u8], at: usize) -> usize {
    match find_lf_or_iac(&input[at..]) {
        Some(found) if input[at + found] == b'\n' => at + found,
        _ => NONE,
    }
}

/// High bits set in the bytes of `word` that are LF or IAC. `(v - 1) & !v`
/// sets the high bit of a zero byte of `v`; a borrow can flag bytes after
/// the first zero byte too, but never one before it, and only the first
/// counts.
#[inline(always)]
fn lf_or_iac(word: u64) -> u64 {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const LFS: u64 = u64::from_le_bytes([b'\n'; 8]);
    let (lf, iac) = (word ^ LFS, !word);
    (lf.wrapping_sub(ONES) & !lf | iac.wrapping_sub(ONES) & !iac) & HIGHS
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
    use alloc::format;
    use alloc::string::String;
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

    /// What `next_command` finds in `chunks`, and what `next_line` then
    /// `Command::parse` find: with a line kept and offered again wherever
    /// `keep` says (as the session does while a transfer runs).
    fn both_ways(limit: usize, chunks: &[&[u8]], keep: &[bool]) -> [Vec<String>; 2] {
        let fused = run(limit, chunks, keep, |reader, input| {
            let (used, next) = reader.next_command(input);
            (
                used,
                format!("{used} {next:?}"),
                matches!(next, Next::Command(_)),
            )
        });
        let two_pass = run(limit, chunks, keep, |reader, input| {
            let (used, frame) = reader.next_line(input);
            let next = match frame {
                Frame::Line(line) => Next::Command(Command::parse(line)),
                Frame::NeedMore => Next::NeedMore,
                Frame::TooLong => Next::TooLong,
            };
            (
                used,
                format!("{used} {next:?}"),
                matches!(next, Next::Command(_)),
            )
        });
        [fused, two_pass]
    }

    /// Feeds `chunks` to a reader through `step` (bytes used, what it
    /// found, whether that was a command line); a command line `keep` says
    /// to keep is offered again at once, and then runs.
    fn run(
        limit: usize,
        chunks: &[&[u8]],
        keep: &[bool],
        step: impl Fn(&mut ControlReader, &[u8]) -> (usize, String, bool),
    ) -> Vec<String> {
        let mut reader = ControlReader::new(limit);
        let mut seen = Vec::new();
        let mut keeps = keep.iter().cycle();
        let mut kept_last = false;
        for chunk in chunks {
            let mut rest = *chunk;
            while !rest.is_empty() || reader.has_replay() {
                let (used, found, command) = step(&mut reader, rest);
                let kept = command && !kept_last && *keeps.next().unwrap_or(&false);
                kept_last = kept;
                seen.push(found);
                if kept && !reader.replay() {
                    continue;
                }
                rest = &rest[used..];
            }
        }
        seen
    }

    /// `input` in pieces, cut where `cuts` say (modulo its length).
    fn cut<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for p in points {
            chunks.push(&input[start..p]);
            start = p;
        }
        chunks.push(&input[start..]);
        chunks
    }

    #[test]
    fn one_pass_parses_what_two_passes_do() {
        let input: &[u8] = b"NOOP\r\nRETR a b.txt\r\nPWD\r\n\r\nfoo\nTYPE I\r\nABOR\rNOOP\r\n\
            RETR \xc3\xa9t\xc3\xa9\r\nST\xffOR x\r\nLIST -la\r\nCWD \r\nQUIT   \r\n";
        let [fused, two_pass] = both_ways(4096, &[input], &[false]);
        assert_eq!(fused, two_pass);
        let expected = [
            "6 Command(Ok(Noop))",
            "14 Command(Ok(Retr([97, 32, 98, 46, 116, 120, 116])))",
            "5 Command(Ok(Pwd))",
            "2 Command(Err(UnknownVerb))",
            "4 Command(Err(UnknownVerb))",
            "8 Command(Ok(Type(Image)))",
            // ABOR ends at its CR (the slow way).
            "5 Command(Ok(Abor))",
            "6 Command(Ok(Noop))",
            // UTF-8 (bytes over 0x7F) in the argument.
            "12 Command(Ok(Retr([195, 169, 116, 195, 169])))",
            // The IAC is dropped by the Telnet filter (the slow way).
            "9 Command(Ok(Stor([120])))",
            "10 Command(Ok(List(ListArgument { path: None, all: true })))",
            "6 Command(Err(BadArgument(Cwd)))",
            "9 Command(Ok(Quit))",
        ];
        assert_eq!(fused, expected);
    }

    proptest! {
        #[test]
        fn one_pass_matches_two_passes_however_the_input_is_cut(
            input in proptest::collection::vec(
                prop_oneof![
                    Just(b'\r'), Just(b'\n'), Just(0xffu8), Just(0xf4u8), Just(b' '), Just(0xc3u8),
                    Just(b'A'), Just(b'B'), Just(b'O'), Just(b'R'),
                    Just(b'N'), Just(b'P'), Just(b'S'), Just(b'T'),
                    any::<u8>()
                ], 0..300),
            verbs in proptest::collection::vec(
                prop_oneof![Just(&b"RETR x\r\n"[..]), Just(&b"NOOP\r\n"[..]), Just(&b"ABOR\r"[..]),
                    Just(&b"PWD\r\n"[..]), Just(&b"TYPE I\r\n"[..]), Just(&b"STAT\r\n"[..])], 0..8),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
            keep in proptest::collection::vec(any::<bool>(), 1..4),
            limit in prop_oneof![Just(16usize), Just(4096)],
        ) {
            let mut input = input;
            for (i, verb) in verbs.iter().enumerate() {
                let at = (i * 37) % (input.len() + 1);
                input.splice(at..at, verb.iter().copied());
            }
            let chunks = cut(&input, &cuts);
            let [fused, two_pass] = both_ways(limit, &chunks, &keep);
            prop_assert_eq!(fused, two_pass);
        }

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
            let chunks = cut(&input, &cuts);
            prop_assert_eq!(frames(32, &chunks), whole);
        }
    }
}
