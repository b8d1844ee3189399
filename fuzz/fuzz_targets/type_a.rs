//! TYPE A conversion (`ftpwire_core::representation`) on arbitrary bytes cut
//! into arbitrary chunks (empty ones included), as data arrives from a file
//! or a socket.
//!
//! Checks: each direction equals a byte-at-a-time reference model and does
//! not depend on where the chunks end; the network form never holds a bare
//! LF and adds exactly one CR per bare LF; decoding only removes the CR of a
//! CRLF; `decode(encode(x)) == decode(x)` (a local file's existing CRLFs
//! and added ones read back alike).
#![no_main]

use ftpwire_core::representation::{AsciiDecoder, AsciiEncoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First byte: how many cut points follow (each one byte, a position
    // scaled into the rest).
    let Some((&cuts, rest)) = data.split_first() else {
        return;
    };
    let cuts = usize::from(cuts % 16).min(rest.len());
    let (cut_bytes, input) = rest.split_at(cuts);
    let mut positions: Vec<usize> = cut_bytes
        .iter()
        .map(|&c| usize::from(c) * (input.len() + 1) / 256)
        .collect();
    positions.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for end in positions {
        chunks.push(&input[start..end]);
        start = end;
    }
    chunks.push(&input[start..]);

    let encoded = encode(&chunks);
    assert_eq!(encoded, encode(&[input]), "encoding depends on chunking");
    assert_eq!(
        encoded,
        encode_model(input),
        "encoder differs from the model"
    );
    for (i, &b) in encoded.iter().enumerate() {
        if b == b'\n' {
            assert!(i > 0 && encoded[i - 1] == b'\r', "bare LF in network form");
        }
    }
    let bare_lf = input
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' && (i == 0 || input[i - 1] != b'\r'))
        .count();
    assert_eq!(encoded.len(), input.len() + bare_lf);

    let decoded = decode(&chunks);
    assert_eq!(decoded, decode(&[input]), "decoding depends on chunking");
    assert_eq!(
        decoded,
        decode_model(input),
        "decoder differs from the model"
    );
    let crlf = input.windows(2).filter(|w| w == b"\r\n").count();
    assert_eq!(decoded.len(), input.len() - crlf);

    assert_eq!(
        decode(&[&encoded]),
        decoded,
        "decode(encode(x)) != decode(x)"
    );
});

fn encode(chunks: &[&[u8]]) -> Vec<u8> {
    let mut encoder = AsciiEncoder::default();
    let mut out = Vec::new();
    for chunk in chunks {
        encoder.encode(chunk, &mut out);
    }
    out
}

fn decode(chunks: &[&[u8]]) -> Vec<u8> {
    let mut decoder = AsciiDecoder::default();
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.decode(chunk, &mut out);
    }
    decoder.finish(&mut out);
    out
}

/// RFC 959 §3.1.1.1 read literally: every LF not already after a CR gets one.
fn encode_model(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut previous = None;
    for &b in input {
        if b == b'\n' && previous != Some(b'\r') {
            out.push(b'\r');
        }
        out.push(b);
        previous = Some(b);
    }
    out
}

/// A CR directly before an LF is dropped; every other byte is kept.
fn decode_model(input: &[u8]) -> Vec<u8> {
    input
        .iter()
        .enumerate()
        .filter(|&(i, &b)| !(b == b'\r' && input.get(i + 1) == Some(&b'\n')))
        .map(|(_, &b)| b)
        .collect()
}
