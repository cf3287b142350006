//! Urgent cues (紧急件): the organisation's list of words that mark a message urgent.

use mailbox_domain::org::UrgentCues;
use mailbox_domain::triage::UrgentFound;

/// How many characters before a cue a `not_after` word may stand (如果发生爆炸, 曾经起火了).
const NOT_AFTER_WINDOW: usize = 4;

/// The cues found in `text`, each with the words that triggered it, in the config's order.
pub fn find(text: &str, cues: &UrgentCues) -> Vec<UrgentFound> {
    let found_words = |words: &[String]| -> Vec<String> {
        words.iter().filter(|w| occurs(text, w, &cues.not_after)).cloned().collect()
    };
    cues.cues
        .iter()
        .filter_map(|cue| {
            let any = found_words(&cue.any);
            if any.is_empty() {
                return None;
            }
            let with = found_words(&cue.with);
            if !cue.with.is_empty() && with.is_empty() {
                return None;
            }
            Some(UrgentFound { label: cue.label.clone(), words: any.into_iter().chain(with).collect() })
        })
        .collect()
}

/// Whether `word` occurs at least once without a `not_after` word just before it.
fn occurs(text: &str, word: &str, not_after: &[String]) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before: String =
            text[..at].chars().rev().take(NOT_AFTER_WINDOW).collect::<Vec<_>>().into_iter().rev().collect();
        !not_after.iter().any(|n| before.contains(n.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailbox_domain::Organisation;

    fn urgent(text: &str) -> Vec<(String, Vec<String>)> {
        find(text, &Organisation::guangan().urgent).into_iter().map(|u| (u.label, u.words)).collect()
    }

    #[test]
    fn cues_mark_a_message_urgent_with_their_words() {
        assert_eq!(
            urgent("邻居说活不下去了要跳楼，请马上派人"),
            [("危及生命".to_owned(), vec!["跳楼".to_owned(), "活不下去".to_owned()])]
        );
        assert_eq!(urgent("楼道里闻到煤气味很重")[0].0, "燃气泄漏");
        assert!(urgent("小区路灯不亮").is_empty());
    }

    #[test]
    fn a_cue_with_a_second_group_needs_both() {
        assert!(urgent("拖欠工资三个月").is_empty(), "one worker's unpaid wages are not urgent");
        let u = urgent("工地拖欠工资，几十名工人们在项目部门口讨薪");
        assert_eq!(u[0].0, "群体讨薪", "{u:?}");
        assert!(u[0].1.contains(&"几十名".to_owned()) && u[0].1.contains(&"讨薪".to_owned()), "{u:?}");
        assert!(urgent("上百人的小区只有一个出口").is_empty());
        assert_eq!(urgent("上百人聚集在镇政府门口堵路")[0].0, "群体聚集");
    }

    #[test]
    fn a_risk_or_the_past_is_not_an_emergency() {
        assert!(urgent("液化气罐乱放，一旦发生爆炸后果不堪设想").is_empty());
        assert!(urgent("去年曾经着火了一次").is_empty());
        assert_eq!(urgent("一旦起风就危险，现在已经着火了")[0].0, "火灾", "one plain occurrence is enough");
    }
}
