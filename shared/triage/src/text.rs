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

fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{2FFFF}')
}

/// The terms full-text search indexes a text by: every two adjacent Chinese characters (so a word
/// is found however the text around it would be segmented: jieba reads 路灯不亮 as 路 + 灯不亮),
/// and each run of other letters and digits of two or more, lowercased (full-width as ASCII). Each
/// term once, in order of first appearance. Published texts keep their terms: a change here must
/// raise `mask::MASK_RULES`, so they are computed again (a test pins both together).
pub fn index_terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut push = |t: String| {
        if seen.insert(t.clone()) {
            out.push(t);
        }
    };
    // Full-width letters and digits (ＡＢＣ１２３) are the same terms as their ASCII forms.
    let chars: Vec<char> = text
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_han(c) {
            let start = i;
            while i < chars.len() && is_han(chars[i]) {
                i += 1;
            }
            for pair in chars[start..i].windows(2) {
                push(pair.iter().collect());
            }
        } else if c.is_alphanumeric() {
            let start = i;
            while i < chars.len() && chars[i].is_alphanumeric() && !is_han(chars[i]) {
                i += 1;
            }
            if i - start > 1 {
                push(chars[start..i].iter().collect::<String>().to_lowercase());
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The terms a search query looks for, every one of which a match has: the query segmented into
/// words by jieba (without its guesses at unknown words), each word as `index_terms` — a two-character
/// word itself, a longer one its character pairs — and characters jieba leaves alone (names, unknown
/// words: 张三 is 张 + 三) joined again with their single neighbours, so they count as pairs too. A
/// single character alone is left out (的 and 了 would find everything). Segmenting first keeps
/// pairs across words out: 路灯坏了 asks for 路灯 and 坏了 (not 灯坏), so 路灯又坏了 is found.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |text: &str| {
        for term in index_terms(text) {
            if !out.contains(&term) {
                out.push(term);
            }
        }
    };
    // Consecutive single Chinese characters, waiting to be joined.
    let mut run = String::new();
    for word in jieba().cut(query, false) {
        let mut chars = word.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if is_han(c) => run.push(c),
            _ => {
                add(&run);
                run.clear();
                add(word);
            }
        }
    }
    add(&run);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the terms to `MASK_RULES` (see `index_terms`): when this digest changes, raise it.
    #[test]
    fn index_terms_follow_the_rules_version() {
        let terms = index_terms("广安区路灯不亮，ＡＢＣ公司 ETC-2 办理；A2区 停车费").join(" ");
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in terms.bytes() {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        assert_eq!(
            (mailbox_domain::mask::MASK_RULES, hash),
            (1, 6_075_219_603_293_063_192),
            "terms changed: raise MASK_RULES, pin again"
        );
    }

    #[test]
    fn queries_find_words_however_the_text_around_them_segments() {
        let doc = index_terms("路灯不亮，ＡＢＣ公司电话(0826)，ETC办理；A2区");
        for w in ["路灯", "灯不", "不亮", "abc", "0826", "etc", "a2"] {
            assert!(doc.iter().any(|d| d == w), "{w} in {doc:?}");
        }
        assert_eq!(doc.iter().filter(|w| *w == "路灯").count(), 1);
        assert!(!doc.iter().any(|w| w == "区"), "single characters are not terms: {doc:?}");
        assert_eq!(query_terms("路灯"), ["路灯"]);
        // Words first: no pair across 路灯|坏了 is asked for.
        let q = query_terms("路灯坏了");
        assert!(q.contains(&"路灯".to_owned()) && !q.contains(&"灯坏".to_owned()), "{q:?}");
        assert!(query_terms("停车费").iter().all(|t| ["停车", "车费"].contains(&t.as_str())));
        for t in query_terms("路灯 不亮") {
            assert!(doc.contains(&t), "{t} in {doc:?}");
        }
        assert!(query_terms("的 了 ,.").is_empty());
        // Names and words jieba does not know are pairs still.
        assert_eq!(query_terms("张三"), ["张三"]);
        assert_eq!(query_terms("路灯坏了"), ["路灯", "坏了"]);
        assert_eq!(query_terms("小区的路灯"), ["小区", "路灯"]);
    }

    #[test]
    fn segments_chinese_and_drops_codes_and_single_characters() {
        let w = words("A2区的小区物业乱收费，电梯坏了3个月");
        assert!(w.contains(&"物业"), "{w:?}");
        assert!(w.contains(&"电梯"), "{w:?}");
        assert!(!w.iter().any(|x| x.contains('A') || x.contains('3')), "{w:?}");
        assert!(w.iter().all(|x| x.chars().count() > 1), "{w:?}");
    }
}
