//! Domain classification: which first-level category (城乡建设, 环境保护, …) a message is about.
//!
//! The model is a weighted lexicon. Its words come from two sources anyone can check: a hand-written
//! list of everyday words per domain (`model/seed-lexicon.txt`) and the second- and third-level
//! names of the message board's own taxonomy (`taxonomy.csv`). Each word weighs its inverse
//! document frequency over the 7,142 real, unlabelled messages, so a specific word (电梯, 社保卡)
//! counts more than a common one (建设, 服务). The score of a domain is the sum of the weights of its
//! words in the message, title words three times. `mailbox triage train` rebuilds the model file
//! from those inputs; the build embeds it.

use crate::text::words;
use crate::Suggestion;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

/// The seven first-level domains of the message board, in a fixed order.
pub const DOMAINS: [&str; 7] =
    ["城乡建设", "环境保护", "交通运输", "教育文体", "劳动和社会保障", "商贸旅游", "卫生计生"];

/// Title words count this many times: a title names the matter, a body also tells the story.
const TITLE_WEIGHT: f64 = 3.0;
/// Words of taxonomy names that say nothing about a domain.
const GENERIC: [&str; 15] = [
    "其他", "管理", "问题", "工作", "建设", "服务", "政策", "保障", "发展", "相关", "制度", "综合", "处理", "时间",
    "人员",
];
/// A word listed for this many domains or more tells them apart no better than chance; it is left out.
const MAX_DOMAINS_PER_WORD: usize = 3;

const MODEL: &str = include_str!("../model/domain-model.tsv");
/// The hand-written part of the model's input.
pub const SEED_LEXICON: &str = include_str!("../model/seed-lexicon.txt");

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("{file}: {message}")]
    Input { file: String, message: String },
}

pub struct DomainModel {
    /// word → (domain index, weight) for each domain the word belongs to.
    weights: HashMap<String, Vec<(usize, f64)>>,
}

impl DomainModel {
    /// The model built into the binary.
    pub fn builtin() -> DomainModel {
        DomainModel::parse(MODEL).expect("the built-in domain model is valid")
    }

    /// Reads the model file: `domain<TAB>word<TAB>weight` per line; `#` starts a comment.
    pub fn parse(src: &str) -> Result<DomainModel, ModelError> {
        let mut weights: HashMap<String, Vec<(usize, f64)>> = HashMap::new();
        for (i, line) in src.lines().enumerate() {
            let bad = |message: &str| ModelError::Line { line: i + 1, message: message.to_owned() };
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut cols = line.split('\t');
            let (Some(domain), Some(word), Some(weight), None) = (cols.next(), cols.next(), cols.next(), cols.next())
            else {
                return Err(bad("expected domain, word and weight separated by tabs"));
            };
            let d = DOMAINS.iter().position(|x| *x == domain).ok_or_else(|| bad("unknown domain"))?;
            let w: f64 = weight.parse().map_err(|_| bad("weight is not a number"))?;
            weights.entry(word.to_owned()).or_default().push((d, w));
        }
        Ok(DomainModel { weights })
    }

    /// Scores each domain; `None` when no word of the model occurs.
    pub fn classify(&self, title: &str, body: &str) -> Option<Suggestion<&'static str>> {
        self.classify_words(&words(title), &words(body))
    }

    /// Like `classify`, from the words of title and body already segmented.
    pub fn classify_words(&self, title: &[&str], body: &[&str]) -> Option<Suggestion<&'static str>> {
        let mut score = [0.0f64; DOMAINS.len()];
        let mut evidence: [BTreeMap<&str, f64>; DOMAINS.len()] = Default::default();
        for (text, factor) in [(title, TITLE_WEIGHT), (body, 1.0)] {
            for &word in text {
                if let Some(ws) = self.weights.get(word) {
                    for &(d, w) in ws {
                        score[d] += factor * w;
                        *evidence[d].entry(word).or_default() += factor * w;
                    }
                }
            }
        }
        let total: f64 = score.iter().sum();
        if total <= 0.0 {
            return None;
        }
        // The first of equal scores wins, so a tie always resolves the same way.
        let best = (0..DOMAINS.len()).fold(0, |b, d| if score[d] > score[b] { d } else { b });
        let mut words: Vec<(&str, f64)> = evidence[best].iter().map(|(w, s)| (*w, *s)).collect();
        words.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        Some(Suggestion {
            value: DOMAINS[best],
            confidence: (score[best] / total * 100.0).round() as u8,
            words: words.into_iter().take(5).map(|(w, _)| w.to_owned()).collect(),
        })
    }
}

/// The inputs of training, as text (the caller reads the files).
pub struct TrainingData<'a> {
    pub seed_lexicon: &'a str,
    /// `taxonomy.csv`: 一级分类,二级分类,三级分类
    pub taxonomy: &'a str,
    /// Unlabelled message files (`留言主题` and `留言详情` columns), for document frequencies.
    pub messages: Vec<(&'a str, &'a str)>,
}

/// Builds the model file from its inputs. Deterministic: the same inputs give the same bytes.
pub fn train(data: &TrainingData) -> Result<String, ModelError> {
    let mut lexicon: [BTreeSet<String>; DOMAINS.len()] = Default::default();
    for (i, line) in data.seed_lexicon.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (domain, list) = line
            .split_once(':')
            .ok_or_else(|| ModelError::Line { line: i + 1, message: "expected `domain: word word …`".into() })?;
        let d = DOMAINS
            .iter()
            .position(|x| *x == domain.trim())
            .ok_or_else(|| ModelError::Line { line: i + 1, message: format!("unknown domain `{}`", domain.trim()) })?;
        lexicon[d].extend(list.split_whitespace().map(str::to_owned));
    }
    for row in csv_rows(data.taxonomy, "taxonomy.csv", &["一级分类", "二级分类", "三级分类"])? {
        let Some(d) = DOMAINS.iter().position(|x| *x == row[0]) else { continue };
        for name in [&row[1], &row[2]] {
            lexicon[d].extend(words(name).into_iter().filter(|w| !GENERIC.contains(w)).map(str::to_owned));
        }
    }
    for w in lexicon.iter().flatten().cloned().collect::<BTreeSet<String>>() {
        if lexicon.iter().filter(|l| l.contains(&w)).count() >= MAX_DOMAINS_PER_WORD {
            lexicon.iter_mut().for_each(|l| {
                l.remove(&w);
            });
        }
    }
    let mut df: HashMap<String, u32> = HashMap::new();
    let mut n = 0u32;
    for (file, src) in &data.messages {
        for row in csv_rows(src, file, &["留言主题", "留言详情"])? {
            n += 1;
            let text = format!("{} {}", row[0], row[1]);
            let distinct: BTreeSet<&str> = words(&text).into_iter().collect();
            for w in distinct {
                *df.entry(w.to_owned()).or_default() += 1;
            }
        }
    }
    let mut out = String::from(
        "# Domain model of the Mayor's Mailbox triage: domain, word, weight (inverse document frequency\n\
         # over the unlabelled messages). Generated by `mailbox triage train`; do not edit.\n",
    );
    let _ = writeln!(out, "# inputs: seed-lexicon.txt, taxonomy.csv, {} messages", n);
    for (d, words) in lexicon.iter().enumerate() {
        for w in words {
            let idf = ((f64::from(n) + 1.0) / (1.0 + f64::from(df.get(w).copied().unwrap_or(0)))).ln();
            let _ = writeln!(out, "{}\t{}\t{:.4}", DOMAINS[d], w, idf);
        }
    }
    Ok(out)
}

/// The named columns of each row of a CSV text with a header.
pub fn csv_rows(src: &str, file: &str, columns: &[&str]) -> Result<Vec<Vec<String>>, ModelError> {
    let input = |message: String| ModelError::Input { file: file.to_owned(), message };
    let mut reader =
        csv::ReaderBuilder::new().flexible(true).from_reader(src.trim_start_matches('\u{feff}').as_bytes());
    let header = reader.headers().map_err(|e| input(e.to_string()))?.clone();
    let index: Vec<usize> = columns
        .iter()
        .map(|c| header.iter().position(|h| h.trim() == *c).ok_or_else(|| input(format!("no column `{c}`"))))
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| input(e.to_string()))?;
        rows.push(index.iter().map(|&i| record.get(i).unwrap_or("").to_owned()).collect());
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_model_knows_every_domain() {
        let m = DomainModel::builtin();
        for (d, name) in DOMAINS.iter().enumerate() {
            assert!(m.weights.values().flatten().any(|&(x, _)| x == d), "{name}");
        }
    }

    #[test]
    fn clear_messages_go_to_their_domain() {
        let m = DomainModel::builtin();
        let cases = [
            ("小区电梯长期故障物业不维修", "我们小区的电梯坏了三个月，物业公司一直推脱。", "城乡建设"),
            ("化工厂夜间偷排废气", "工厂晚上排放刺鼻废气，附近居民无法开窗。", "环境保护"),
            ("建议增开公交线路", "希望增加到火车站的公交车班次。", "交通运输"),
            ("孩子入学学位问题", "小学招生学区划分不合理，孩子无法就近入学。", "教育文体"),
            ("公司拖欠工资半年", "用人单位拖欠农民工工资，劳动仲裁也没有结果。", "劳动和社会保障"),
            ("超市销售过期食品", "在超市买到过期商品，商家拒绝退款。", "商贸旅游"),
            ("医院乱收费", "住院治疗期间医院多收药品费用，医生态度差。", "卫生计生"),
        ];
        for (title, body, want) in cases {
            let s = m.classify(title, body).expect("a suggestion");
            assert_eq!(s.value, want, "{title}: {s:?}");
            assert!(!s.words.is_empty() && s.confidence > 0, "{s:?}");
        }
    }

    #[test]
    fn no_known_word_no_suggestion() {
        assert!(DomainModel::builtin().classify("你好", "谢谢").is_none());
    }

    #[test]
    fn bad_model_lines_are_named() {
        let e = DomainModel::parse("城乡建设\t电梯\t1.0\n火星\t电梯\t1\n").err().unwrap();
        assert_eq!(e.to_string(), "model line 2: unknown domain");
    }
}
