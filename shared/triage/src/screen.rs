//! Screening for messages that are likely invalid (无效留言): empty or meaningless text, advertising,
//! abuse. Only a suggestion with its reason: the dispatcher decides, and a citizen's angry but real
//! complaint must never be dropped silently.

use crate::Suggestion;

/// Matched without regard to case (vx, VX, Vx).
const ADVERTISING: [&str; 17] = [
    "加微信",
    "加我微信",
    "微信号",
    "vx",
    "加qq",
    "qq群",
    "代开发票",
    "刷单",
    "兼职日结",
    "日赚",
    "日入",
    "无抵押贷款",
    "低息贷款",
    "优惠活动",
    "点击链接",
    "招代理",
    "免费领取",
];
/// Not 妈的 or 他妈: in real messages they are mostly 我妈的病, 他妈妈 (someone's mother).
const ABUSE: [&str; 14] =
    ["傻逼", "傻B", "煞笔", "操你", "草泥马", "狗日", "王八蛋", "混蛋", "去死", "贱人", "畜生", "滚蛋", "狗官", "人渣"];

fn han_count(text: &str) -> usize {
    text.chars().filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c)).count()
}

/// Empty or meaningless: almost no Chinese text, or one character repeated.
fn meaningless(title: &str, body: &str) -> Option<Suggestion<String>> {
    let text = format!("{title}{body}");
    let meaningful: Vec<char> = text.chars().filter(|c| c.is_alphanumeric()).collect();
    let distinct: std::collections::HashSet<&char> = meaningful.iter().collect();
    let reason = if han_count(&text) < 4 {
        "内容过短或没有中文内容"
    } else if distinct.len() <= 3 {
        "内容为重复字符，没有实际诉求"
    } else {
        return None;
    };
    Some(Suggestion { value: reason.to_owned(), confidence: 90, words: vec![] })
}

/// The listed words in `text` (case-insensitive), in list order; a word counts only where its match
/// does not overlap a longer one's, so 加微信号 is one cue, not 加微信 and 微信号.
fn listed(text: &str, list: &[&str]) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut by_length: Vec<&str> = list.to_vec();
    by_length.sort_by_key(|w| std::cmp::Reverse(w.len()));
    let mut taken: Vec<std::ops::Range<usize>> = Vec::new();
    let mut hits: Vec<&str> = Vec::new();
    for word in by_length {
        let needle = word.to_lowercase();
        for (i, _) in lower.match_indices(&needle) {
            let r = i..i + needle.len();
            if taken.iter().all(|t| r.end <= t.start || r.start >= t.end) {
                taken.push(r);
                if !hits.contains(&word) {
                    hits.push(word);
                }
            }
        }
    }
    list.iter().filter(|w| hits.contains(w)).map(|w| w.to_string()).collect()
}

pub fn screen(title: &str, body: &str) -> Option<Suggestion<String>> {
    if let Some(s) = meaningless(title, body) {
        return Some(s);
    }
    let text = format!("{title}\n{body}");
    let lower = text.to_lowercase();
    let mut ads = listed(&text, &ADVERTISING);
    if lower.contains("http://") || lower.contains("https://") || lower.contains("www.") {
        ads.push("网址链接".to_owned());
    }
    // One cue alone (a citizen quoting a scam's WeChat id) is not enough; two are.
    if ads.len() >= 2 {
        let confidence = (50 + 15 * ads.len()).min(95) as u8;
        return Some(Suggestion { value: "疑似广告或推销信息".to_owned(), confidence, words: ads });
    }
    let abuse = listed(&text, &ABUSE);
    // One abusive word inside a long, concrete message is usually anger about a real matter: not
    // a reason to doubt the message.
    let long = han_count(&text) > 60;
    if abuse.is_empty() || (long && abuse.len() < 2) {
        return None;
    }
    let confidence = if long { 50 } else { 80 };
    Some(Suggestion { value: "含辱骂或人身攻击内容".to_owned(), confidence, words: abuse })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_repeated_and_non_chinese_text_is_flagged() {
        assert!(screen("啊", "").is_some());
        assert!(screen("啊啊啊啊啊", "啊啊啊啊啊啊啊").is_some());
        assert!(screen("asdf", "qwerqwer").is_some());
    }

    #[test]
    fn advertising_needs_two_cues() {
        let s = screen("低息贷款", "无抵押贷款，加微信 abc123，点击链接 https://x.example").expect("ad");
        assert_eq!(s.value, "疑似广告或推销信息");
        assert!(s.words.len() >= 2, "{s:?}");
        assert!(screen("被骗了", "对方让我加微信转账，我被骗了五千元，请公安机关调查。").is_none());
        assert!(
            screen("被骗了", "对方让我加微信号转账，又拉我进QQ群，我被骗了五千元。").is_some(),
            "two separate cues"
        );
        assert!(
            screen("被骗了", "对方让我加微信号转账，我被骗了五千元，请公安机关调查。").is_none(),
            "加微信号 is one cue"
        );
        let s = screen("兼职", "Vx: abc 日赚三百").expect("ad");
        assert!(s.words.contains(&"vx".to_owned()), "case-insensitive: {s:?}");
    }

    #[test]
    fn abuse_is_flagged_with_the_words() {
        let s = screen("狗官", "你们这些狗官去死").expect("abuse");
        assert_eq!(s.words, vec!["去死".to_owned(), "狗官".to_owned()]);
        assert!(s.confidence >= 80);
    }

    #[test]
    fn one_angry_word_in_a_real_complaint_is_not_abuse() {
        let body = "小区门口的化粪池已经堵了三个月，污水漫到路上，物业和社区互相推诿，住户出门都要踩着污水走，\
                    老人孩子摔倒好几次，这些混蛋到底管不管？请有关部门尽快派人疏通并追究责任。";
        assert!(screen("化粪池堵塞三个月无人管", body).is_none());
        assert!(screen("看病", "我妈的病需要长期住院，他妈妈也在照顾").is_none(), "someone's mother is no abuse");
    }

    #[test]
    fn an_ordinary_message_passes() {
        assert!(screen("小区路灯不亮", "幸福小区的路灯已经坏了两周，晚上出行很不安全，请尽快维修。").is_none());
    }
}
