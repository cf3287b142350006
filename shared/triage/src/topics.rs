//! Keywords of a message for topic-finding (舆情): its most telling words, weighted by how often it
//! uses them and how rare they are in the training messages (tf·idf with the domain model's idf),
//! the title's words counting twice. Words inside personal data (names, numbers, addresses — as
//! `mailbox_domain::mask` finds them) are never keywords: keywords are kept and topic labels are
//! shown to staff who may not see the messages.

use crate::text::words;
use mailbox_domain::mask;
use mailbox_domain::opinion::{group, normalise, Grouping, HotTopic, Keyword, TopicEntry, TOPIC_DAYS};
use std::collections::BTreeMap;

/// Keywords kept per message.
pub const KEYWORDS: usize = 12;

/// The keywords of a message, strongest first, as a unit vector. `names` are names known to
/// belong to the case (the citizen's own).
pub fn keywords(title: &str, body: &str, names: &[&str]) -> Vec<Keyword> {
    let text = format!("{title}\n{body}");
    let personal: Vec<std::ops::Range<usize>> = mask::find(&text, names).into_iter().map(|f| f.range).collect();
    let model = crate::domain::builtin();
    let mut tf: BTreeMap<&str, f32> = BTreeMap::new();
    for (part, offset, times) in [(&text[..title.len()], 0, 2.0), (&text[title.len() + 1..], title.len() + 1, 1.0)] {
        for w in words(part) {
            let start = offset + (w.as_ptr() as usize - part.as_ptr() as usize);
            let end = start + w.len();
            if personal.iter().any(|r| r.start < end && start < r.end) {
                continue;
            }
            *tf.entry(w).or_default() += times;
        }
    }
    let mut scored: Vec<Keyword> =
        tf.into_iter().map(|(w, n)| (w.to_owned(), (1.0 + f32::ln(n)) * model.word_idf(w))).collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    scored.truncate(KEYWORDS);
    normalise(&mut scored);
    scored
}

/// Topic-finding over messages in time order, all in memory: what the triage worker does over its
/// store (`App::watch_topics`), for a replay of a board's messages (`mailbox triage topics`).
#[derive(Default)]
pub struct Finder {
    pub topics: Vec<HotTopic>,
    /// Entries of the last `TOPIC_DAYS` days in no topic.
    loose: Vec<TopicEntry>,
}

impl Finder {
    pub fn add(&mut self, entry: TopicEntry) {
        let since = entry.at - chrono::Duration::days(TOPIC_DAYS);
        self.loose.retain(|e| e.at >= since);
        match group(&entry, &self.topics, &self.loose) {
            Grouping::Member(i) | Grouping::Joins(i) => {
                self.topics[i].join(&entry);
            }
            Grouping::Forms(others) => {
                let mut members: Vec<&TopicEntry> = others.iter().map(|&i| &self.loose[i]).collect();
                members.push(&entry);
                self.topics.push(HotTopic::form(&members));
                let ids: Vec<_> = members.iter().map(|e| e.case_id.clone()).collect();
                self.loose.retain(|e| !ids.contains(&e.case_id));
            }
            Grouping::Alone => {
                self.loose.push(entry);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailbox_domain::opinion::similarity;

    #[test]
    fn keywords_are_the_telling_words_and_never_personal_data() {
        let k = keywords(
            "幸福小区下水道堵塞污水横流",
            "我叫王建国，电话13912345678，住幸福小区5栋2单元301室。小区下水道堵塞一个月，污水横流，物业不管。",
            &["王建国"],
        );
        let words: Vec<&str> = k.iter().map(|(w, _)| w.as_str()).collect();
        assert!(words.contains(&"下水道"), "{words:?}");
        assert!(words.contains(&"污水"), "{words:?}");
        assert!(!words.iter().any(|w| w.contains("建国")), "a name is no keyword: {words:?}");
        assert!(words.len() <= KEYWORDS);
        let norm: f32 = k.iter().map(|(_, x)| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-4, "a unit vector: {norm}");
    }

    #[test]
    fn messages_on_one_matter_are_similar_and_others_are_not() {
        let a = keywords("幸福小区下水道堵塞污水横流", "幸福小区下水道堵塞一个月，污水横流，臭气熏天，物业不管。", &[]);
        let b = keywords("幸福小区污水问题", "幸福小区的下水道又堵了，污水流到路上，请尽快疏通。", &[]);
        let c = keywords("建议增开公交线路", "城南片区居民出行不便，希望增开直达火车站的公交线路。", &[]);
        let (same, other) = (similarity(&a, &b), similarity(&a, &c));
        assert!(same >= mailbox_domain::opinion::PAIR_SIMILARITY, "{same}");
        assert!(other < 0.1, "{other}");
    }
}
