//! Word segmentation (jieba-rs with its built-in dictionary) and the tokens every analysis uses.

use jieba_rs::Jieba;
use std::sync::OnceLock;

/// The segmenter, built once: loading the dictionary takes a while, segmenting is fast.
pub fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

/// The words of `text` that carry meaning for triage: words of at least two characters, without
/// Latin letters and digits (anonymised places like `A2区`, numbers, codes).
pub fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for part in text.split(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        if part.is_empty() {
            continue;
        }
        out.extend(jieba().cut(part, true).into_iter().filter(|w| w.chars().count() > 1 && !w.trim().is_empty()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_chinese_and_drops_codes_and_single_characters() {
        let w = words("A2区的小区物业乱收费，电梯坏了3个月");
        assert!(w.contains(&"物业"), "{w:?}");
        assert!(w.contains(&"电梯"), "{w:?}");
        assert!(!w.iter().any(|x| x.contains('A') || x.contains('3')), "{w:?}");
        assert!(w.iter().all(|x| x.chars().count() > 1), "{w:?}");
    }
}
