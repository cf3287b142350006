//! Duplicates: the same citizen (or neighbours) writing again about the same matter. Each text gets
//! a MinHash fingerprint of its set of words: 64 slots, each the smallest of one hash function over
//! the words. The share of equal slots between two fingerprints estimates the share of words the two
//! texts have in common (Jaccard similarity) within a few percent, so the comparison with recent
//! cases needs neither their text nor segmenting it again: the fingerprint is kept on each case's
//! triage record (`TriageNote::fingerprint`), compactly — the high 16 bits of each slot (b-bit
//! MinHash: two different words' minima agree in 16 bits once in 65,536, far below the estimate's
//! own spread), 128 bytes as 171 characters of base64 instead of 512 hex digits, in a record every
//! reader of the case loads.

use crate::text::words;
use base64::Engine;
use std::collections::HashSet;

const SLOTS: usize = 64;
/// Minimum estimated share of words in common to call a case a likely duplicate.
pub const MIN_SIMILARITY: f64 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    /// `None` for a text without words: it resembles nothing.
    slots: Option<[u32; SLOTS]>,
}

/// FNV-1a, a stable hash: fingerprints are stored, so they must not change between builds.
fn fnv1a(word: &str) -> u64 {
    word.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// SplitMix64's finaliser: turns (word hash, slot) into the slot's independent-looking hash.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Fingerprint {
    pub fn of(title: &str, body: &str) -> Fingerprint {
        Fingerprint::of_words(words(title).into_iter().chain(words(body)))
    }

    /// From words already segmented (triage segments each message once).
    pub fn of_words<'a>(words: impl IntoIterator<Item = &'a str>) -> Fingerprint {
        let distinct: HashSet<&str> = words.into_iter().collect();
        if distinct.is_empty() {
            return Fingerprint { slots: None };
        }
        let mut slots = [u32::MAX; SLOTS];
        for w in distinct {
            let h = fnv1a(w);
            for (i, slot) in slots.iter_mut().enumerate() {
                let v = (mix(h ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) >> 32) as u32;
                *slot = (*slot).min(v);
            }
        }
        Fingerprint { slots: Some(slots) }
    }

    /// Estimated share of words in common (0–1), by the high 16 bits of each slot (all that the
    /// stored form keeps, so a stored and a fresh fingerprint compare alike).
    pub fn similarity(&self, other: &Fingerprint) -> f64 {
        match (&self.slots, &other.slots) {
            (Some(a), Some(b)) => a.iter().zip(b).filter(|(x, y)| *x >> 16 == *y >> 16).count() as f64 / SLOTS as f64,
            _ => 0.0,
        }
    }

    /// The stored form: each slot's high 16 bits, big-endian, in URL-safe base64 without padding
    /// (171 characters); empty for a text without words.
    pub fn to_stored(&self) -> String {
        self.slots
            .map(|s| {
                let bytes: Vec<u8> = s.iter().flat_map(|v| ((v >> 16) as u16).to_be_bytes()).collect();
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
            })
            .unwrap_or_default()
    }

    /// Reads the stored form — also the earlier one of 512 hex digits —; `None` if it is neither
    /// (also for the empty form, which a note without the field has too), and then the caller
    /// fingerprints the text again.
    pub fn from_stored(stored: &str) -> Option<Fingerprint> {
        let mut slots = [0u32; SLOTS];
        if stored.len() == SLOTS * 8 && stored.is_ascii() {
            for (i, slot) in slots.iter_mut().enumerate() {
                *slot = u32::from_str_radix(&stored[i * 8..i * 8 + 8], 16).ok()?;
            }
            return Some(Fingerprint { slots: Some(slots) });
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(stored).ok()?;
        if bytes.len() != SLOTS * 2 {
            return None;
        }
        for (slot, pair) in slots.iter_mut().zip(bytes.chunks_exact(2)) {
            *slot = u32::from(u16::from_be_bytes([pair[0], pair[1]])) << 16;
        }
        Some(Fingerprint { slots: Some(slots) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINAL: (&str, &str) = (
        "鼎屏镇幸福小区物业不作为电梯长期停运",
        "幸福小区三号楼电梯从今年三月起停运，业主多次找物业公司，物业以维修资金不足为由拖延，老人上下楼非常困难，请相关部门督促物业尽快修复电梯。",
    );

    #[test]
    fn a_lightly_edited_copy_is_found() {
        let copy = (
            "鼎屏镇幸福小区物业不作为，电梯长期停运！",
            "幸福小区3号楼电梯从今年三月起一直停运，业主多次找物业公司，物业以维修资金不足为由拖延，老人上下楼非常困难，恳请相关部门督促物业尽快修复电梯。",
        );
        let s = Fingerprint::of(ORIGINAL.0, ORIGINAL.1).similarity(&Fingerprint::of(copy.0, copy.1));
        assert!(s >= MIN_SIMILARITY, "similarity {s}");
    }

    #[test]
    fn an_unrelated_message_is_not() {
        let other = (
            "建议增开到火车站的公交线路",
            "城南片区居民出行不便，希望公交公司增开直达火车站的线路，并延长末班车时间。",
        );
        let s = Fingerprint::of(ORIGINAL.0, ORIGINAL.1).similarity(&Fingerprint::of(other.0, other.1));
        assert!(s < 0.2, "similarity {s}");
    }

    #[test]
    fn the_stored_form_is_compact_reads_back_and_rejects_garbage() {
        let f = Fingerprint::of(ORIGINAL.0, ORIGINAL.1);
        let stored = f.to_stored();
        assert_eq!(stored.len(), 171, "128 bytes in base64, not 512 hex digits");
        let back = Fingerprint::from_stored(&stored).expect("reads back");
        assert_eq!(back.similarity(&f), 1.0, "a stored fingerprint compares with a fresh one as itself");
        assert_eq!(back.to_stored(), stored);
        // The earlier form (8 hex digits a slot) still reads, and compares alike.
        let hex: String = f.slots.unwrap().iter().map(|v| format!("{v:08x}")).collect();
        assert_eq!(Fingerprint::from_stored(&hex), Some(f));
        let other = Fingerprint::of("建议增开公交线路", "希望增加到火车站的公交车班次。");
        assert_eq!(back.similarity(&other), f.similarity(&other));
        assert_eq!(Fingerprint::from_stored(""), None, "no stored form: fingerprint the text again");
        assert_eq!(Fingerprint::from_stored("xyz"), None);
        assert_eq!(Fingerprint::from_stored(&"g".repeat(512)), None);
        assert_eq!(Fingerprint::from_stored(&"A".repeat(170)), None, "a wrong length");
        assert_eq!(Fingerprint::of("", "").similarity(&Fingerprint::of("", "")), 0.0, "empty texts resemble nothing");
    }
}
