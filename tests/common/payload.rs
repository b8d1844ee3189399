//! The 20 MiB of seeded random bytes every transfer test moves, and a byte
//! comparison that reports where two copies part instead of dumping them.

use std::path::Path;
use std::sync::OnceLock;

/// The size the issue asks for: large enough to span many TCP windows and
/// buffer refills.
pub const PAYLOAD_LEN: usize = 20 * 1024 * 1024;

/// The payload (the same bytes in every run: seeded).
pub fn payload() -> &'static [u8] {
    static PAYLOAD: OnceLock<Vec<u8>> = OnceLock::new();
    PAYLOAD.get_or_init(|| {
        let mut bytes = vec![0u8; PAYLOAD_LEN];
        fastrand::Rng::with_seed(0x6674_7077_6972_6521).fill(&mut bytes);
        bytes
    })
}

/// Panics unless `actual` equals `expected`, naming the first differing
/// offset and both lengths.
pub fn assert_same_bytes(actual: &[u8], expected: &[u8], what: &str) {
    if actual == expected {
        return;
    }
    let first_difference = actual
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(actual.len().min(expected.len()));
    panic!(
        "{what}: {} bytes, expected {} bytes; first difference at offset {first_difference} \
         (checksums {:016x} vs {:016x})",
        actual.len(),
        expected.len(),
        checksum(actual),
        checksum(expected)
    );
}

/// Panics unless the file at `path` holds exactly `expected`.
pub fn assert_file_holds(path: &Path, expected: &[u8], what: &str) {
    let actual = std::fs::read(path)
        .unwrap_or_else(|e| panic!("{what}: cannot read {}: {e}", path.display()));
    assert_same_bytes(&actual, expected, what);
}

/// FNV-1a, 64 bits: a short fingerprint for failure messages.
pub fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
