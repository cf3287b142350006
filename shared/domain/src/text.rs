//! Text as it enters the system. Invisible characters are removed wherever text comes in — from
//! citizens and staff alike — because they spoof what a reader sees (a right-to-left override turns
//! a title around) and hide digits from masking (138​1234​5678 with zero-width spaces).

/// Characters that change how text is shown without being shown themselves: zero-width characters
/// and the byte-order mark, bidirectional embeddings, overrides, isolates and marks, and the other
/// invisible format characters of Unicode (category Cf) that people do not type.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'               // soft hyphen
        | '\u{034F}'             // combining grapheme joiner
        | '\u{061C}'             // Arabic letter mark
        | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers (render blank)
        | '\u{180E}'             // Mongolian vowel separator
        | '\u{200B}'..='\u{200F}' // zero-width space, non-joiner, joiner; LRM, RLM
        | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{206F}' // bidi isolates, deprecated format characters
        | '\u{FEFF}'             // zero-width no-break space (BOM)
        | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
        | '\u{E0000}'..='\u{E007F}' // tag characters
    )
}

/// Control characters other than line breaks and tabs.
pub fn is_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

/// `s` without invisible characters (see [`is_invisible`]), trimmed.
pub fn clean(s: &str) -> String {
    if !s.chars().any(is_invisible) {
        return s.trim().to_owned();
    }
    s.chars().filter(|&c| !is_invisible(c)).collect::<String>().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_go() {
        assert_eq!(clean("  标题\u{202E}txt.exe "), "标题txt.exe");
        assert_eq!(clean("138\u{200B}1234\u{2060}5678"), "13812345678");
        assert_eq!(clean("\u{FEFF}留言\u{2066}内容\u{2069}"), "留言内容");
        assert_eq!(clean("第一行\n第二行\t！"), "第一行\n第二行\t！", "line breaks and tabs stay");
        assert_eq!(clean("中文 English ١٢٣"), "中文 English ١٢٣", "visible text of any script stays");
    }
}
