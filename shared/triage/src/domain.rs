//! Domain classification: which first-level category (城乡建设, 环境保护, …) a message is about.
//! The model is the trained classifier of `classifier.rs`, built into the binary; this module
//! holds the domains, the training inputs and the built-in model.

use crate::classifier::{Classifier, Labelled};
use std::sync::OnceLock;

/// The seven first-level domains of the message board, in a fixed order.
pub const DOMAINS: [&str; 7] =
    ["城乡建设", "环境保护", "交通运输", "教育文体", "劳动和社会保障", "商贸旅游", "卫生计生"];

/// The model file `mailbox triage train` writes.
const MODEL: &[u8] = include_bytes!("../model/domain-classifier.bin");

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{file}: {message}")]
    Input { file: String, message: String },
}

/// The model built into the binary, read once per process.
pub fn builtin() -> &'static Classifier {
    static BUILTIN: OnceLock<Classifier> = OnceLock::new();
    BUILTIN.get_or_init(|| Classifier::from_bytes(MODEL).expect("the built-in domain model is valid"))
}

/// The training material, owned: labelled messages, and the taxonomy's names as short extra
/// documents of their domain (a 三级分类 such as 物业服务与管理 is what its domain's messages are about).
pub struct TrainingSet {
    pub messages: Vec<(String, String, usize)>,
    pub taxonomy: Vec<(String, String, usize)>,
}

impl TrainingSet {
    /// From `labelled_train.csv` (留言主题, 留言详情, 一级分类) and `taxonomy.csv` texts. Rows whose
    /// label is not one of the seven domains are refused: training data must be exact.
    pub fn read(labelled: &str, labelled_name: &str, taxonomy: &str) -> Result<TrainingSet, ModelError> {
        let domain = |file: &str, row: usize, label: &str| {
            DOMAINS.iter().position(|d| *d == label.trim()).ok_or_else(|| ModelError::Input {
                file: file.to_owned(),
                message: format!("row {row}: `{}` is not one of the seven domains", one_line(label)),
            })
        };
        let mut messages = Vec::new();
        for (i, row) in
            csv_rows(labelled, labelled_name, &["留言主题", "留言详情", "一级分类"])?.into_iter().enumerate()
        {
            let [title, body, label]: [String; 3] = row.try_into().expect("three columns asked for");
            messages.push((title, body, domain(labelled_name, i + 2, &label)?));
        }
        let mut names = Vec::new();
        for row in csv_rows(taxonomy, "taxonomy.csv", &["一级分类", "二级分类", "三级分类"])? {
            // Rows of other first-level categories (the board has a few more) teach nothing here.
            if let Some(d) = DOMAINS.iter().position(|x| *x == row[0]) {
                names.push((row[2].clone(), format!("{} {}", row[1], row[2]), d));
            }
        }
        Ok(TrainingSet { messages, taxonomy: names })
    }

    pub fn labelled(&self) -> Vec<Labelled<'_>> {
        Self::view(&self.messages)
    }

    pub fn taxonomy(&self) -> Vec<Labelled<'_>> {
        Self::view(&self.taxonomy)
    }

    fn view(rows: &[(String, String, usize)]) -> Vec<Labelled<'_>> {
        rows.iter().map(|(t, b, d)| Labelled { title: t, body: b, domain: *d }).collect()
    }
}

/// A value of the file as an error message shows it: on one line (a quoted field may hold line
/// breaks), at most 30 characters.
fn one_line(value: &str) -> String {
    let flat: String = value.trim().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match flat.char_indices().nth(30) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
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

/// A time of the board's files, China local time: `2019/4/14 23:23:55`, a bare date, or an Excel
/// serial day number (`43563.359…`, days since 1899-12-30) where the export left one.
pub fn board_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone};
    let s = s.trim();
    let local = NaiveDateTime::parse_from_str(s, "%Y/%m/%d %H:%M:%S")
        .ok()
        .or_else(|| NaiveDate::parse_from_str(s, "%Y/%m/%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
        .or_else(|| {
            let serial: f64 = s.parse().ok().filter(|d: &f64| (1.0..100_000.0).contains(d))?;
            let epoch = NaiveDate::from_ymd_opt(1899, 12, 30)?.and_hms_opt(0, 0, 0)?;
            Some(epoch + chrono::Duration::seconds((serial * 86_400.0).round() as i64))
        })?;
    mailbox_domain::deadline::cst().from_local_datetime(&local).single().map(|t| t.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_messages_go_to_their_domain() {
        let cases = [
            // The board files lifts (电梯) under 商贸旅游 (market supervision), buses under 城乡建设.
            ("小区违章搭建无人管", "我们小区楼顶违章搭建三个月，物业公司和城管一直推脱。", "城乡建设"),
            ("化工厂夜间偷排废气", "工厂晚上排放刺鼻废气，附近居民无法开窗。", "环境保护"),
            ("出租车拒载还乱收费", "晚上在火车站打出租车，司机拒载，不打表直接叫价。", "交通运输"),
            ("孩子入学学位问题", "小学招生学区划分不合理，孩子无法就近入学。", "教育文体"),
            ("公司拖欠工资半年", "用人单位拖欠农民工工资，劳动仲裁也没有结果。", "劳动和社会保障"),
            ("超市销售过期食品", "在超市买到过期商品，商家拒绝退款。", "商贸旅游"),
            ("小区电梯频繁故障", "电梯经常困人，维保单位敷衍了事。", "商贸旅游"),
            ("医院乱收费", "住院治疗期间医院多收药品费用，医生态度差。", "卫生计生"),
        ];
        for (title, body, want) in cases {
            let s = builtin().classify(title, body).expect("a suggestion");
            assert_eq!(s.value, want, "{title}: {s:?}");
            assert!(!s.words.is_empty() && s.confidence > 0, "{s:?}");
        }
    }

    #[test]
    fn a_bad_label_is_reported_on_one_line() {
        let e = TrainingSet::read(
            "留言主题,留言详情,一级分类\n路灯,不亮,\"城乡建设\n路灯,不,一级分类\"\n",
            "t.csv",
            "一级分类,二级分类,三级分类\n",
        )
        .err()
        .unwrap()
        .to_string();
        assert_eq!(e, "t.csv: row 2: `城乡建设 路灯,不,一级分类` is not one of the seven domains");
        let long =
            TrainingSet::read(&format!("留言主题,留言详情,一级分类\n路灯,不亮,{}\n", "长".repeat(40)), "t.csv", "")
                .err()
                .unwrap()
                .to_string();
        assert!(long.contains(&format!("`{}…`", "长".repeat(30))), "{long}");
    }

    #[test]
    fn board_times_in_each_written_form() {
        let t = |s| board_time(s).map(|t| t.to_rfc3339());
        assert_eq!(t("2019/4/14 23:23:55").as_deref(), Some("2019-04-14T15:23:55+00:00"));
        assert_eq!(t("2019/04/28").as_deref(), Some("2019-04-27T16:00:00+00:00"));
        assert_eq!(t("43563.5").as_deref(), Some("2019-04-08T04:00:00+00:00"));
        assert_eq!(t("昨天"), None);
    }

    #[test]
    fn no_known_feature_no_suggestion() {
        assert!(builtin().classify("", "").is_none());
        assert!(builtin().classify("𓀀𓀁", "").is_none());
    }

    #[test]
    fn training_rows_with_an_unknown_domain_are_refused_with_their_row() {
        let e = TrainingSet::read(
            "留言主题,留言详情,一级分类\n路灯,不亮,城乡建设\n火箭,发射,航天\n",
            "t.csv",
            "一级分类,二级分类,三级分类\n",
        )
        .err()
        .unwrap();
        assert_eq!(e.to_string(), "t.csv: row 3: `航天` is not one of the seven domains");
    }
}
