//! Perceptual hashes of video frames: a difference hash per sampled frame, and the rule
//! that says two videos show the same thing.

/// The width of the grey frame a hash is made from (one more than the bits per row).
pub const FRAME_HASH_WIDTH: usize = 9;
/// Its height (rows of eight bits).
pub const FRAME_HASH_HEIGHT: usize = 8;

/// How many of 64 bits two hashes of the same frame may differ by.
const FRAME_DISTANCE_MAX: u32 = 10;

/// The difference hash of a 9×8 grey frame (row by row, one byte per pixel): bit `i` of
/// each row is set when pixel `i` is brighter than pixel `i + 1`. Brightness, contrast,
/// compression and scaling barely change it; other content does.
///
/// Shorter input hashes as if padded with black.
pub fn dhash(gray: &[u8]) -> u64 {
    let pixel = |row: usize, column: usize| {
        gray.get(row * FRAME_HASH_WIDTH + column)
            .copied()
            .unwrap_or(0)
    };
    let mut hash = 0_u64;
    for row in 0..FRAME_HASH_HEIGHT {
        for column in 0..FRAME_HASH_WIDTH - 1 {
            hash <<= 1;
            if pixel(row, column) > pixel(row, column + 1) {
                hash |= 1;
            }
        }
    }
    hash
}

/// How many bits two hashes differ by.
pub fn hamming(left: u64, right: u64) -> u32 {
    (left ^ right).count_ones()
}

/// Whether two videos' frame hashes (sampled the same way) show the same video: at least
/// three quarters of the frames they both have are within [`FRAME_DISTANCE_MAX`] bits,
/// and neither has fewer than half the other's frames. Flat frames (all bits equal, e.g.
/// black) count as neither a match nor a difference, so two different videos that both
/// fade in from black are not the same.
pub fn videos_match(left: &[u64], right: &[u64]) -> bool {
    let shorter = left.len().min(right.len());
    if shorter == 0 || shorter * 2 < left.len().max(right.len()) {
        return false;
    }
    let flat = |hash: u64| hash == 0 || hash == u64::MAX;
    let (mut compared, mut close) = (0_usize, 0_usize);
    for (&a, &b) in left.iter().zip(right) {
        if flat(a) && flat(b) {
            continue;
        }
        compared += 1;
        if hamming(a, b) <= FRAME_DISTANCE_MAX {
            close += 1;
        }
    }
    compared > 0 && close * 4 >= compared * 3
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_left_to_right_gradient_hashes_to_zero_and_its_mirror_to_ones() {
        // At most 8 × 20 = 160, which fits a byte.
        let rising: Vec<u8> = (0..72)
            .map(|i| u8::try_from((i % 9) * 20).unwrap())
            .collect();
        let falling: Vec<u8> = rising.iter().map(|v| 200 - v).collect();
        assert_eq!(dhash(&rising), 0);
        assert_eq!(dhash(&falling), u64::MAX);
    }

    #[test]
    fn matching_needs_most_frames_close_and_similar_lengths() {
        let a = [
            0x0f0f_0f0f_0f0f_0f0f,
            0x1234_5678_9abc_def0,
            0xffff_0000_ffff_0000,
            0x00ff_00ff_00ff_00ff,
        ];
        let mut b = a;
        b[0] ^= 0b111; // three bits off
        assert!(videos_match(&a, &b));
        let other = [
            0xf0f0_f0f0_f0f0_f0f0,
            0xedcb_a987_6543_210f,
            0x0000_ffff_0000_ffff,
            0xff00_ff00_ff00_ff00,
        ];
        assert!(!videos_match(&a, &other));
        assert!(!videos_match(&a, &a[..1]));
        assert!(
            !videos_match(&[0, 0], &[0, 0]),
            "black frames prove nothing"
        );
    }

    proptest! {
        #[test]
        fn a_hash_is_at_distance_zero_from_itself(gray in proptest::collection::vec(any::<u8>(), 72)) {
            let hash = dhash(&gray);
            prop_assert_eq!(hamming(hash, hash), 0);
            prop_assert!(videos_match(&[hash, hash ^ 1, hash], &[hash, hash, hash]) || hash == 0 || hash == u64::MAX);
        }
    }
}
