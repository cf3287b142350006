//! Duplicates: the same citizen (or neighbours) writing again about the same matter. Each text gets
//! a fingerprint: its set of words and a 64-bit SimHash of them. The SimHash makes the comparison
//! with many recent cases cheap (a few bit operations rule most of them out); the word sets then give
//! a similarity people can read: the share of words two messages have in common (Jaccard).

use crate::text::words;
use std::collections::HashSet;

/// Two texts whose SimHashes differ in more bits than this are not compared further.
const MAX_HAMMING: u32 = 24;
/// Minimum Jaccard similarity of the word sets to call a case a likely duplicate.
pub const MIN_SIMILARITY: f64 = 0.5;

#[derive(Debug, Clone)]
pub struct Fingerprint {
    simhash: u64,
    words: HashSet<String>,
}

/// FNV-1a, a stable hash: fingerprints must not change between builds or machines.
fn fnv1a(word: &str) -> u64 {
    word.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

impl Fingerprint {
    pub fn of(title: &str, body: &str) -> Fingerprint {
        let mut counts = [0i64; 64];
        let mut set = HashSet::new();
        for w in words(title).into_iter().chain(words(body)) {
            let h = fnv1a(w);
            for (bit, c) in counts.iter_mut().enumerate() {
                *c += if h >> bit & 1 == 1 { 1 } else { -1 };
            }
            set.insert(w.to_owned());
        }
        let simhash = counts.iter().enumerate().fold(0u64, |acc, (bit, c)| if *c > 0 { acc | 1 << bit } else { acc });
        Fingerprint { simhash, words: set }
    }

    /// Share of words in common (0–1); 0 for texts too different to be worth comparing.
    pub fn similarity(&self, other: &Fingerprint) -> f64 {
        if self.words.is_empty() || other.words.is_empty() || (self.simhash ^ other.simhash).count_ones() > MAX_HAMMING
        {
            return 0.0;
        }
        let common = self.words.intersection(&other.words).count();
        common as f64 / (self.words.len() + other.words.len() - common) as f64
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
}
