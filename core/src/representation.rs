//! TYPE A (ASCII) transfers: the network form of a text file ends lines with
//! CRLF (RFC 959 §3.1.1.1); local files here end them with LF. Stateful so a
//! CR at the end of one buffer and LF at the start of the next stay one line end.

use alloc::vec::Vec;

/// Local (LF) to network (CRLF) for RETR/LIST under TYPE A.
#[derive(Debug, Default, Clone)]
pub struct AsciiEncoder {
    last_was_cr: bool,
}

impl AsciiEncoder {
    /// Appends `input` to `out`, turning every bare LF into CRLF (an existing CRLF is kept).
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + input.len() / 32);
        let mut rest = input;
        while let Some(lf) = memchr::memchr(b'\n', rest) {
            let before_cr = match lf {
                0 => self.last_was_cr,
                _ => rest[lf - 1] == b'\r',
            };
            out.extend_from_slice(&rest[..lf]);
            if !before_cr {
                out.push(b'\r');
            }
            out.push(b'\n');
            self.last_was_cr = false;
            rest = &rest[lf + 1..];
        }
        if let Some(&last) = rest.last() {
            self.last_was_cr = last == b'\r';
        }
        out.extend_from_slice(rest);
    }
}

/// Network (CRLF) to local (LF) for STOR/APPE under TYPE A.
#[derive(Debug, Default, Clone)]
pub struct AsciiDecoder {
    pending_cr: bool,
}

impl AsciiDecoder {
    /// Appends `input` to `out`, turning CRLF into LF; a lone CR is kept.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + 1);
        let mut rest = input;
        if self.pending_cr {
            self.pending_cr = false;
            match rest.first() {
                Some(b'\n') => {}
                Some(_) => out.push(b'\r'),
                None => {
                    self.pending_cr = true;
                    return;
                }
            }
        }
        while let Some(cr) = memchr::memchr(b'\r', rest) {
            out.extend_from_slice(&rest[..cr]);
            match rest.get(cr + 1) {
                Some(b'\n') => {
                    out.push(b'\n');
                    rest = &rest[cr + 2..];
                }
                Some(_) => {
                    out.push(b'\r');
                    rest = &rest[cr + 1..];
                }
                None => {
                    self.pending_cr = true;
                    return;
                }
            }
        }
        out.extend_from_slice(rest);
    }

    /// Flushes a CR held back at the end of the stream.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if core::mem::take(&mut self.pending_cr) {
            out.push(b'\r');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn encode_all(chunks: &[&[u8]]) -> Vec<u8> {
        let mut encoder = AsciiEncoder::default();
        let mut out = Vec::new();
        for chunk in chunks {
            encoder.encode(chunk, &mut out);
        }
        out
    }

    fn decode_all(chunks: &[&[u8]]) -> Vec<u8> {
        let mut decoder = AsciiDecoder::default();
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.decode(chunk, &mut out);
        }
        decoder.finish(&mut out);
        out
    }

    #[test]
    fn encoder_adds_cr_once() {
        assert_eq!(encode_all(&[b"a\nb\r\nc\n"]), b"a\r\nb\r\nc\r\n");
        assert_eq!(encode_all(&[b"a\r", b"\nb"]), b"a\r\nb");
        assert_eq!(encode_all(&[b"a", b"\n", b"\n"]), b"a\r\n\r\n");
        assert_eq!(encode_all(&[b"\n"]), b"\r\n");
    }

    #[test]
    fn decoder_strips_cr_before_lf_only() {
        assert_eq!(decode_all(&[b"a\r\nb\rc\r\n"]), b"a\nb\rc\n");
        assert_eq!(decode_all(&[b"a\r", b"\nb"]), b"a\nb");
        assert_eq!(decode_all(&[b"a\r", b"", b"x"]), b"a\rx");
        assert_eq!(decode_all(&[b"end\r"]), b"end\r");
        assert_eq!(decode_all(&[b"\r\r\n"]), b"\r\n");
    }

    proptest! {
        #[test]
        fn chunking_does_not_change_the_result(
            data in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'x')], 0..64),
            cut in 0usize..64,
        ) {
            let cut = cut.min(data.len());
            let (a, b) = data.split_at(cut);
            prop_assert_eq!(encode_all(&[a, b]), encode_all(&[&data]));
            prop_assert_eq!(decode_all(&[a, b]), decode_all(&[&data]));
        }

        #[test]
        fn lf_text_survives_a_round_trip(
            data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'x')], 0..64),
        ) {
            let wire = encode_all(&[&data]);
            prop_assert_eq!(decode_all(&[&wire]), data.clone());
            prop_assert_eq!(wire.iter().filter(|&&b| b == b'\r').count(),
                data.iter().filter(|&&b| b == b'\n').count());
            let _ = vec![0u8];
        }
    }
}
