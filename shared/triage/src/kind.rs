//! The kind of a message (建议/咨询/投诉/求助) from its wording, to flag a citizen's choice that
//! looks wrong: the kind sets the deadline (5 or 20 working days), so a complaint filed as a
//! consultation would be due too early, and a consultation filed as a complaint far too late.

use crate::Suggestion;
use mailbox_domain::Kind;

/// Cue words per kind with their weight; a title cue counts twice.
const CUES: [(Kind, &[(&str, f64)]); 4] = [
    (
        Kind::Suggestion,
        &[
            ("建议", 3.0),
            ("提议", 3.0),
            ("呼吁", 2.0),
            ("希望", 1.0),
            ("恳请", 1.0),
            ("应该", 1.0),
            ("增设", 2.0),
            ("改进", 1.0),
            ("完善", 1.0),
        ],
    ),
    (
        Kind::Consultation,
        &[
            ("咨询", 3.0),
            ("请问", 3.0),
            ("询问", 2.0),
            ("是否", 1.5),
            ("能否", 1.0),
            ("如何", 1.5),
            ("怎么", 1.0),
            ("怎样", 1.0),
            ("什么时候", 1.5),
            ("何时", 1.5),
            ("哪里", 1.0),
            ("多少", 0.5),
            ("吗", 0.5),
            ("？", 0.5),
            ("?", 0.5),
        ],
    ),
    (
        Kind::Complaint,
        &[
            ("投诉", 3.0),
            ("举报", 3.0),
            ("违法", 1.5),
            ("违规", 1.5),
            ("乱收费", 2.0),
            ("不作为", 2.0),
            ("欺骗", 1.5),
            ("扰民", 1.5),
            ("拖欠", 1.5),
            ("强行", 1.0),
            ("态度恶劣", 2.0),
            ("侵害", 1.0),
            ("污染", 1.0),
        ],
    ),
    (
        Kind::Help,
        &[
            ("求助", 3.0),
            ("救助", 2.0),
            ("帮助", 1.5),
            ("帮帮", 2.0),
            ("救救", 3.0),
            ("困难", 1.0),
            ("走投无路", 3.0),
            ("无助", 2.0),
            ("求求", 2.0),
        ],
    ),
];

/// Minimum score and share of the best kind before a different kind is suggested.
const MIN_SCORE: f64 = 3.0;
const MIN_SHARE: f64 = 0.5;

/// The kind the wording suggests, only when it differs from `chosen` with some certainty.
pub fn suggest(title: &str, body: &str, chosen: Kind) -> Option<Suggestion<Kind>> {
    let mut best: Option<(Kind, f64, Vec<String>)> = None;
    let mut total = 0.0;
    for (kind, cues) in CUES {
        let mut score = 0.0;
        let mut found = Vec::new();
        for &(cue, weight) in cues {
            let n = title.matches(cue).count() as f64 * 2.0 + body.matches(cue).count().min(3) as f64;
            if n > 0.0 {
                score += weight * n;
                found.push(cue.to_owned());
            }
        }
        total += score;
        if best.as_ref().is_none_or(|b| score > b.1) {
            best = Some((kind, score, found));
        }
    }
    let (kind, score, words) = best?;
    if kind == chosen || score < MIN_SCORE || score / total < MIN_SHARE {
        return None;
    }
    Some(Suggestion { value: kind, confidence: (score / total * 100.0).round() as u8, words })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complaint_filed_as_a_consultation_is_flagged() {
        let s = suggest("投诉某公司违法排污", "我要举报这家工厂。", Kind::Consultation).expect("suggestion");
        assert_eq!(s.value, Kind::Complaint);
        assert!(s.words.contains(&"投诉".to_owned()) && s.words.contains(&"举报".to_owned()), "{s:?}");
    }

    #[test]
    fn a_matching_choice_or_vague_text_is_left_alone() {
        assert!(suggest("请问社保卡在哪里办理？", "想咨询一下。", Kind::Consultation).is_none());
        assert!(suggest("关于小区的事", "小区门口有一棵树。", Kind::Suggestion).is_none());
    }

    #[test]
    fn a_question_filed_as_a_complaint_is_flagged() {
        let s = suggest("咨询公积金提取条件", "请问离职后如何提取公积金？", Kind::Complaint).expect("suggestion");
        assert_eq!(s.value, Kind::Consultation);
    }
}
