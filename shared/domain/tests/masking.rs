//! Property test of masking: personal data written in many forms (full-width digits, +86, spaces of
//! any width, dots, dashes, invisible characters; ID and bank-card numbers; names after cues and the
//! citizen's own name; house and room numbers) inside real message text never survives
//! `mask_personal_data`. The messages are read by path from `../shared/data` (never copied).

use mailbox_domain::mask::{id_checksum_ok, luhn_ok, mask_personal_data};
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::OnceLock;

fn messages() -> &'static [String] {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    TEXTS.get_or_init(|| {
        let dir = std::env::var_os("MAILBOX_SHARED_DATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
        let path = dir.join("messages/labelled_dev.csv");
        let mut reader = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let texts: Vec<String> = reader
            .records()
            .map(|r| r.expect("csv record"))
            .filter_map(|r| r.get(4).map(|body| body.chars().take(400).collect()))
            .take(300)
            .collect();
        assert!(texts.len() >= 100, "real messages read");
        texts
    })
}

/// How a digit is typed: ASCII or full-width.
fn write_digits(digits: &str, full_width: bool) -> String {
    digits
        .chars()
        .map(|c| match (c, full_width) {
            ('0'..='9', true) => char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap(),
            ('X', true) => 'Ｘ',
            _ => c,
        })
        .collect()
}

const SEPARATORS: [&str; 10] = [" ", "\u{3000}", "\u{a0}", "-", "－", ".", " - ", "\u{200B}", "\u{2009}", "—"];

/// `digits` split into groups of the given sizes, joined by one separator.
fn grouped(digits: &str, sizes: &[usize], sep: &str) -> String {
    let mut out = Vec::new();
    let mut at = 0;
    for &n in sizes {
        if at >= digits.len() {
            break;
        }
        let end = (at + n).min(digits.len());
        out.push(&digits[at..end]);
        at = end;
    }
    if at < digits.len() {
        out.push(&digits[at..]);
    }
    out.join(sep)
}

#[derive(Debug, Clone)]
enum Personal {
    /// Digits that must not survive (as ASCII), and how they were written.
    Number { digits: String, written: String },
    /// A name that must not survive, and the text that carries it.
    Name { name: String, written: String, known: bool },
    /// A house or room number that must not survive next to its road or room word.
    Address { survives_if: String, written: String },
}

fn arb_form() -> impl Strategy<Value = (bool, Option<usize>)> {
    (any::<bool>(), proptest::option::of(0..SEPARATORS.len()))
}

fn arb_mobile() -> impl Strategy<Value = Personal> {
    let prefix = prop_oneof![Just(""), Just("+86"), Just("+86 "), Just("＋８６"), Just("0086"), Just("86")];
    ((3u8..=9), proptest::collection::vec(0u8..10, 9), arb_form(), prefix).prop_map(
        |(second, rest, (fw, sep), prefix)| {
            let digits: String = format!("1{second}{}", rest.iter().map(|d| char::from(b'0' + d)).collect::<String>());
            let body = match sep {
                Some(s) => grouped(&digits, &[3, 4, 4], SEPARATORS[s]),
                None => digits.clone(),
            };
            let written = format!("{prefix}{}", write_digits(&body, fw));
            Personal::Number { digits, written }
        },
    )
}

fn arb_id_number() -> impl Strategy<Value = Personal> {
    (proptest::collection::vec(0u8..10, 17), arb_form()).prop_map(|(d, (fw, sep))| {
        let mut digits: String = d.iter().map(|d| char::from(b'0' + d)).collect();
        let check =
            (0..11).map(|i| b"10X98765432"[i] as char).find(|c| id_checksum_ok(&format!("{digits}{c}"))).unwrap();
        digits.push(check);
        let body = match sep {
            Some(s) => grouped(&digits, &[6, 8, 4], SEPARATORS[s]),
            None => digits.clone(),
        };
        Personal::Number { written: write_digits(&body, fw), digits }
    })
}

fn arb_bank_card() -> impl Strategy<Value = Personal> {
    (proptest::collection::vec(0u8..10, 14..=17), arb_form()).prop_map(|(d, (fw, sep))| {
        let head: String = std::iter::once('6').chain(d.iter().map(|d| char::from(b'0' + d))).collect();
        let digits = (0..10).map(|c| format!("{head}{c}")).find(|n| luhn_ok(n)).unwrap();
        let body = match sep {
            Some(s) => grouped(&digits, &[4, 4, 4, 4], SEPARATORS[s]),
            None => digits.clone(),
        };
        Personal::Number { written: write_digits(&body, fw), digits }
    })
}

fn arb_landline() -> impl Strategy<Value = Personal> {
    (proptest::collection::vec(0u8..10, 7), arb_form()).prop_map(|(d, (fw, sep))| {
        let digits: String =
            "0826".chars().chain(std::iter::once('2')).chain(d.iter().map(|d| char::from(b'0' + d))).collect();
        let body = match sep {
            Some(s) => grouped(&digits, &[4], SEPARATORS[s]),
            None => digits.clone(),
        };
        Personal::Number { written: write_digits(&body, fw), digits }
    })
}

const SURNAMES: [&str; 8] = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵"];
const GIVEN: [&str; 8] = ["晓燕", "建国", "秀英", "志强", "桂兰", "德华", "淑珍", "海涛"];
const CUES: [&str; 5] = ["我叫", "联系人：", "姓名：", "我的名字是", "户主"];

fn arb_name() -> impl Strategy<Value = Personal> {
    (0..SURNAMES.len(), 0..GIVEN.len(), 0..CUES.len(), any::<bool>()).prop_map(|(s, g, c, known)| {
        let name = format!("{}{}", SURNAMES[s], GIVEN[g]);
        let written = if known { format!("本人{name}") } else { format!("{}{name}", CUES[c]) };
        Personal::Name { name, written, known }
    })
}

fn arb_address() -> impl Strategy<Value = Personal> {
    let road = prop_oneof![Just("建设路"), Just("人民街"), Just("滨河大道"), Just("北辰巷")];
    (road, 1u32..999, 1u32..30, 1u32..9, 101u32..3200, any::<bool>()).prop_map(
        |(road, house, building, unit, room, fw)| {
            if fw {
                let written = format!("{road}{}号", write_digits(&house.to_string(), true));
                Personal::Address { survives_if: format!("{road}{house}号"), written }
            } else {
                let written = format!("{building}栋{unit}单元{room}室");
                Personal::Address { survives_if: format!("{room}室"), written }
            }
        },
    )
}

fn arb_personal() -> impl Strategy<Value = Personal> {
    prop_oneof![3 => arb_mobile(), 2 => arb_id_number(), 1 => arb_bank_card(), 1 => arb_landline(), 2 => arb_name(), 2 => arb_address()]
}

/// What a reader can take from text: full-width digits as ASCII, separators and invisible
/// characters gone — so "１３８ 1234" reads as 1381234.
fn readable(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - 0xFF10 + '0' as u32),
            'Ｘ' => Some('X'),
            c if c.is_whitespace() || "-－.—\u{200B}".contains(c) => None,
            c => Some(c),
        })
        .collect()
}

/// Text before and after the personal data, as people write it around a number or a name.
const BEFORE: [&str; 6] = ["，我的电话", "。联系方式：", "（", "，身份证号", " ", "，地址"];
const AFTER: [&str; 5] = ["。", "，谢谢", "）", " ", "，请尽快处理"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn personal_data_never_survives(message in 0usize..300, at in 0usize..400, items in proptest::collection::vec((arb_personal(), 0..BEFORE.len(), 0..AFTER.len()), 1..4)) {
        let texts = messages();
        let real = &texts[message % texts.len()];
        let cut = real.char_indices().nth(at % (real.chars().count() + 1)).map_or(real.len(), |(i, _)| i);
        let mut text = real[..cut].to_string();
        let mut known = Vec::new();
        for (p, b, a) in &items {
            let written = match p {
                Personal::Number { written, .. } | Personal::Address { written, .. } => written.clone(),
                Personal::Name { written, name, known: true } => { known.push(name.clone()); written.clone() }
                Personal::Name { written, .. } => written.clone(),
            };
            text.push_str(BEFORE[*b]);
            text.push_str(&written);
            text.push_str(AFTER[*a]);
        }
        text.push_str(&real[cut..]);
        let names: Vec<&str> = known.iter().map(String::as_str).collect();
        let masked = mask_personal_data(&text, &names);
        let seen = readable(&masked);
        for (p, _, _) in &items {
            match p {
                Personal::Number { digits, written } => prop_assert!(!seen.contains(digits.as_str()), "{written} survived: {masked}"),
                Personal::Name { name, written, .. } => prop_assert!(!seen.contains(name.as_str()), "{written} survived: {masked}"),
                Personal::Address { survives_if, written } => prop_assert!(!seen.contains(survives_if.as_str()), "{written} survived: {masked}"),
            }
        }
    }
}
