//! Personal data (个人信息) in text: phone numbers, ID-card numbers (checked against their check
//! digit), bank-card numbers (Luhn), e-mail addresses, and names — the citizen's own, and names
//! after cues like 我叫 or 联系人, and the house, building and room numbers of addresses. `find`
//! returns the spans; `mask_personal_data` masks them. Callers mask when text is read, not when it
//! is stored, so that better rules reach old text too — except the public text of published cases,
//! masked once when published (public reads would otherwise mask thousands of texts per search)
//! and masked again when [`MASK_RULES`] changes.
//!
//! Numbers are recognised however they are typed: full-width digits (１３８…), a country code
//! (+86, 0086), and spaces of any width, hyphens, dashes or dots between the digits. Digits are
//! looked at as whole runs, so part of a longer number is never mistaken for a phone. Everything
//! here runs in time linear in the text's length (one scan for numbers; the regex crate for the
//! rest), since it runs on every public read.
//! An 18-character run that fails the ID check digit is still masked (a mistyped ID number is still
//! personal), but reported as `IdNumberUnchecked`, so the dispatcher knows it is less certain.

use regex::Regex;
use std::collections::HashSet;
use std::ops::Range;
use std::sync::OnceLock;

/// The version of the masking rules. Raise it with any change to what is masked or how — or to the
/// search terms of published texts (`mailbox_triage::text::index_terms`): published texts of an
/// older version are masked again (tests pin it to the rules' and the terms' output).
pub const MASK_RULES: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PersonalKind {
    Mobile,
    Landline,
    IdNumber,
    IdNumberUnchecked,
    BankCard,
    BankCardUnchecked,
    Email,
    Name,
    /// House, building, entrance or room number.
    Address,
}

impl PersonalKind {
    pub fn label(self) -> &'static str {
        match self {
            PersonalKind::Mobile => "手机号码",
            PersonalKind::Landline => "固定电话",
            PersonalKind::IdNumber => "身份证号码",
            PersonalKind::IdNumberUnchecked => "疑似身份证号码（校验位不符）",
            PersonalKind::BankCard => "银行卡号",
            PersonalKind::BankCardUnchecked => "疑似银行卡号（校验不符）",
            PersonalKind::Email => "电子邮箱",
            PersonalKind::Name => "姓名",
            PersonalKind::Address => "门牌号",
        }
    }
}

/// One piece of personal data: its kind, its byte range in the text, and its masked form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub kind: PersonalKind,
    pub range: Range<usize>,
    pub masked: String,
}

/// A digit as written: ASCII or full-width (what Chinese input methods type), as ASCII.
fn digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '\u{FF10}'..='\u{FF19}' => char::from_u32(c as u32 - 0xFF10 + u32::from(b'0')),
        _ => None,
    }
}

/// What people put between the digits of one number: spaces of any width (U+3000, U+00A0, …),
/// hyphens and dashes (ASCII and full-width), dots, and invisible characters that would otherwise
/// hide a number from masking in text stored before they were removed at entry.
fn separator(c: char) -> bool {
    (c.is_whitespace() && !matches!(c, '\n' | '\r'))
        || matches!(
            c,
            '-' | '\u{FF0D}' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '.' | '\u{FF0E}' | '\u{00B7}' | '\u{30FB}'
        )
        || crate::text::is_invisible(c)
}

/// At most this many separator characters between two digits of one number (138 - 1234 - 5678).
const MAX_SEPARATORS: usize = 3;

/// The longest number worth classifying, in digits: a bank card (19) with room for a country code.
const MAX_NUMBER_DIGITS: usize = 21;

/// Digits written together: the byte range and the digits as ASCII (an ID number's final X kept).
#[derive(Debug)]
struct Part {
    range: Range<usize>,
    digits: String,
}

/// Runs of digits in `text`, each a list of parts split at separators; a `+` or `＋` right before a
/// run (an international prefix) belongs to its first part. One pass over the text: linear time
/// whatever the input.
fn digit_runs(text: &str) -> Vec<Vec<Part>> {
    let mut runs: Vec<Vec<Part>> = Vec::new();
    let mut run: Vec<Part> = Vec::new();
    let mut part: Option<Part> = None;
    // Separators seen since the last digit (count, and the byte where they started).
    let mut gap = 0usize;
    let mut prev: Option<(usize, char)> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if let Some(d) = digit(c) {
            match part.as_mut() {
                Some(p) if gap == 0 => {
                    p.digits.push(d);
                    p.range.end = i + c.len_utf8();
                }
                Some(_) if gap <= MAX_SEPARATORS => {
                    run.extend(part.take());
                    part = Some(Part { range: i..i + c.len_utf8(), digits: d.to_string() });
                }
                _ => {
                    if let Some(p) = part.take() {
                        run.push(p);
                    }
                    if !run.is_empty() {
                        runs.push(std::mem::take(&mut run));
                    }
                    let start = match prev {
                        Some((j, '+' | '\u{FF0B}')) => j,
                        _ => i,
                    };
                    part = Some(Part { range: start..i + c.len_utf8(), digits: d.to_string() });
                }
            }
            gap = 0;
        } else if let Some(p) = part.as_mut().filter(|_| gap == 0 && matches!(c, 'X' | 'x' | '\u{FF38}' | '\u{FF58}')) {
            // The check character of an ID number, unless a word goes on (138xxxx is no ID).
            let word_goes_on = chars.peek().is_some_and(|&(_, n)| n.is_ascii_alphanumeric());
            if !word_goes_on && p.digits.len() == 17 {
                p.digits.push('X');
                p.range.end = i + c.len_utf8();
            }
            gap = MAX_SEPARATORS + 1;
        } else if part.is_some() && separator(c) {
            gap += 1;
        } else if part.is_some() {
            gap = MAX_SEPARATORS + 1;
        }
        prev = Some((i, c));
    }
    run.extend(part);
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

fn emails() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+").expect("valid regex"))
}

/// A common surname, then one or two more characters, after a cue that introduces a name.
fn cued_names() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(concat!(
            // Not 本人: 本人于/向/曾… are ordinary words whose first character is also a surname.
            r"(?:我叫|我的名字是|姓名[:：]?|联系人[:：]?|户主|当事人|名叫)\s?",
            r"([王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈",
            r"姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤蒲]",
            r"[\p{Han}]{1,2})"
        ))
        .expect("valid regex")
    })
}

/// Characters that end a name when the cue is followed by more text (我叫王明今年六十岁).
const AFTER_NAME: &str = "今是在的住家从于和因向现已也要年系为男女电手";

/// The name in a cued candidate (surname + one or two characters): two characters when the third
/// typically follows a name (王明今年…), else the whole candidate when a boundary follows it — the
/// end, anything not Chinese (punctuation, digits) or such a character. `None` otherwise: then it is
/// probably not a name.
fn cued_name(candidate: &str, after: Option<char>) -> Option<&str> {
    let chars: Vec<(usize, char)> = candidate.char_indices().collect();
    if chars.len() == 3 && AFTER_NAME.contains(chars[2].1) {
        return Some(&candidate[..chars[2].0]);
    }
    let boundary = after.is_none_or(|c| !('\u{4e00}'..='\u{9fff}').contains(&c) || AFTER_NAME.contains(c));
    boundary.then_some(candidate)
}

fn stars(n: usize) -> String {
    "*".repeat(n)
}

/// GB 11643 check digit of an 18-character ID number.
pub fn id_checksum_ok(id: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let b = id.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..17].iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    CHECK[(sum % 11) as usize] == b[17].to_ascii_uppercase()
}

/// The Luhn check of bank-card numbers.
pub fn luhn_ok(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn is_mobile(d: &[u8]) -> bool {
    d.len() == 11 && d.iter().all(u8::is_ascii_digit) && d[0] == b'1' && (b'3'..=b'9').contains(&d[1])
}

/// What a number (ASCII digits, an ID number's final X) is; `None` for ordinary numbers. Allocates
/// nothing: the grouping below asks it many times per digit run.
fn number_kind(digits: &str) -> Option<PersonalKind> {
    let n = digits.len();
    let all_digits = digits.bytes().all(|c| c.is_ascii_digit());
    let b = digits.as_bytes();
    match n {
        // Mobile: 1[3-9]XXXXXXXXX
        11 if is_mobile(b) => Some(PersonalKind::Mobile),
        // A mobile with the country code: +86 138…, 86138…, 0086 138…
        13 if b.starts_with(b"86") && is_mobile(&b[2..]) => Some(PersonalKind::Mobile),
        15 if b.starts_with(b"0086") && is_mobile(&b[4..]) => Some(PersonalKind::Mobile),
        // ID card: 18 characters (last may be X) or the old 15 digits.
        18 if digits[..17].bytes().all(|c| c.is_ascii_digit()) => {
            Some(if id_checksum_ok(digits) { PersonalKind::IdNumber } else { PersonalKind::IdNumberUnchecked })
        }
        15 if all_digits => Some(PersonalKind::IdNumberUnchecked),
        // Bank cards: 16 to 19 digits (masked even when the Luhn check fails: still an account).
        16..=19 if all_digits => {
            Some(if luhn_ok(digits) { PersonalKind::BankCard } else { PersonalKind::BankCardUnchecked })
        }
        // Landlines with area code, e.g. 0826-2345678 (10 to 12 digits starting with 0).
        10..=12 if all_digits && b[0] == b'0' => Some(PersonalKind::Landline),
        _ => None,
    }
}

/// Whether `number_kind` is `Some`, without computing check digits (which decide only between a
/// checked and an unchecked kind): the grouping asks this for every join.
fn is_number(digits: &str) -> bool {
    let b = digits.as_bytes();
    let all_digits = || b.iter().all(u8::is_ascii_digit);
    match b.len() {
        11 => is_mobile(b) || (b[0] == b'0' && all_digits()),
        13 => b.starts_with(b"86") && is_mobile(&b[2..]),
        15 => all_digits(),
        18 => b[..17].iter().all(u8::is_ascii_digit),
        16..=19 => all_digits(),
        10 | 12 => b[0] == b'0' && all_digits(),
        _ => false,
    }
}

/// What a number is, with its masked form; `None` for ordinary numbers.
fn classify_number(digits: &str) -> Option<(PersonalKind, String)> {
    let kind = number_kind(digits)?;
    let n = digits.len();
    let keep =
        |head: usize, tail: usize| format!("{}{}{}", &digits[..head], stars(n - head - tail), &digits[n - tail..]);
    let masked = match (kind, n) {
        // With the country code: the mobile after it, masked alone.
        (PersonalKind::Mobile, 13 | 15) => format!("+86 {}", classify_number(&digits[n - 11..])?.1),
        (PersonalKind::Mobile, _) => keep(3, 4),
        (PersonalKind::IdNumber | PersonalKind::IdNumberUnchecked, _) => keep(3, 2),
        (PersonalKind::BankCard | PersonalKind::BankCardUnchecked, _) => keep(0, 4),
        _ => keep(4, 2),
    };
    Some((kind, masked))
}

/// Words that announce a phone number; a 7- or 8-digit number right after one is a local landline
/// without area code (电话：8805667), which alone would look like any other number.
const PHONE_CUES: [&str; 6] = ["电话", "手机", "座机", "联系方式", "拨打", "致电"];

fn is_local_number(digits: &str) -> bool {
    (7..=8).contains(&digits.len()) && digits.bytes().all(|c| c.is_ascii_digit())
}

fn local_number_after_cue(before: &str, digits: &str) -> bool {
    // The cue within the last few characters before the number (电话：, 联系方式或拨打, and a second
    // number: 电话：8805667或7276110).
    let window: String = before.chars().rev().take(16).collect::<Vec<char>>().into_iter().rev().collect();
    is_local_number(digits) && PHONE_CUES.iter().any(|c| window.contains(c))
}

fn mask_local_number(digits: &str) -> String {
    let n = digits.len();
    format!("{}{}{}", &digits[..2], stars(n - 4), &digits[n - 2..])
}

/// The numbers in one run of digits: the parts joined into groups so that as many digits as
/// possible belong to a recognised number — 138 1234 5678 is one phone, "13812345678 13987654321"
/// two phones, and "0826-2000000 6000 1000 0000 0005" a landline and a card rather than a card
/// and a stray tail. Dynamic programming from the end; a join stops at `MAX_NUMBER_DIGITS`, so the
/// work is linear in the run's length. Each group: its byte range and its digits.
fn number_groups(parts: &[Part]) -> Vec<(Range<usize>, String)> {
    let n = parts.len();
    // covered[i]: most digits of parts[i..] inside recognised numbers; end[i]: where the group
    // starting at part i ends (itself alone when it is no number).
    let mut covered = vec![0usize; n + 1];
    let mut end = vec![0usize; n];
    // The run's digits in one string, part k at all[at[k]..at[k + 1]]: a join is a slice of it.
    let all: String = parts.iter().map(|p| p.digits.as_str()).collect();
    let mut at = Vec::with_capacity(n + 1);
    at.push(0);
    for p in parts {
        at.push(at.last().copied().unwrap_or(0) + p.digits.len());
    }
    for i in (0..n).rev() {
        end[i] = i;
        covered[i] = covered[i + 1];
        for j in i..n {
            let joined = &all[at[i]..at[j + 1]];
            if joined.len() > MAX_NUMBER_DIGITS {
                break;
            }
            let with = joined.len() + covered[j + 1];
            if with > covered[i] && is_number(joined) {
                covered[i] = with;
                end[i] = j;
            }
        }
    }
    let mut groups = Vec::new();
    let mut i = 0;
    while i < n {
        let j = end[i];
        let digits = all[at[i]..at[j + 1]].to_owned();
        groups.push((parts[i].range.start..parts[j].range.end, digits));
        i = j + 1;
    }
    groups
}

fn address_numbers() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(concat!(
            // A house number after a road: 建设路123号, 人民街12-3号.
            r"(?:路|街|道|巷|弄|胡同)\s?([0-9０-９]{1,5}(?:[-－][0-9０-９]{1,4})?)\s?号",
            // A building or entrance: 5栋, 3号楼, 二单元.
            r"|([0-9０-９]{1,4}|[一二三四五六七八九十]{1,3})\s?(?:栋|幢|号楼|单元)",
            // A room: 301室 (at least three digits: 3室2厅 is the size of a flat, not an address).
            r"|([0-9０-９]{3,5})\s?室",
        ))
        .expect("valid regex")
    })
}

/// The numbers of an address that lead to a home (house, building, entrance and room numbers); the
/// road and the estate stay, since they say where the problem is.
fn addresses(text: &str) -> impl Iterator<Item = Found> + '_ {
    address_numbers().captures_iter(text).filter_map(|c| {
        let m = c.get(1).or_else(|| c.get(2)).or_else(|| c.get(3))?;
        Some(Found { kind: PersonalKind::Address, range: m.range(), masked: stars(m.as_str().chars().count()) })
    })
}

/// Masks a name, keeping the surname: 张三丰 → 张**.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", stars(chars.count().max(1))),
        None => String::new(),
    }
}

/// All personal data in `text`, in order, not overlapping. `names` are names known to belong to
/// the case (the citizen's own); names shorter than two characters are ignored to avoid masking
/// ordinary words.
pub fn find(text: &str, names: &[&str]) -> Vec<Found> {
    let mut found: Vec<Found> = Vec::new();
    // Local numbers are known by a cue before them; once known, the same number is masked wherever
    // else it appears (电话：8805667 … 请拨8805667).
    let mut local_numbers: HashSet<String> = HashSet::new();
    let mut uncued: Vec<(Range<usize>, String)> = Vec::new();
    for run in digit_runs(text) {
        for (range, digits) in number_groups(&run) {
            if let Some((kind, masked)) = classify_number(&digits) {
                found.push(Found { kind, range, masked });
            } else if local_number_after_cue(&text[..range.start], &digits) {
                found.push(Found { kind: PersonalKind::Landline, range, masked: mask_local_number(&digits) });
                local_numbers.insert(digits);
            } else if is_local_number(&digits) {
                uncued.push((range, digits));
            }
        }
    }
    for (range, digits) in uncued {
        if local_numbers.contains(&digits) {
            found.push(Found { kind: PersonalKind::Landline, range, masked: mask_local_number(&digits) });
        }
    }
    found.extend(addresses(text));
    for m in emails().find_iter(text) {
        let (_, domain) = m.as_str().split_once('@').unwrap_or(("", ""));
        found.push(Found { kind: PersonalKind::Email, range: m.range(), masked: format!("***@{domain}") });
    }
    for c in cued_names().captures_iter(text) {
        let m = c.get(1).expect("group 1");
        let Some(name) = cued_name(m.as_str(), text[m.end()..].chars().next()) else { continue };
        found.push(Found {
            kind: PersonalKind::Name,
            range: m.start()..m.start() + name.len(),
            masked: mask_name(name),
        });
    }
    for name in names.iter().map(|n| n.trim()).filter(|n| n.chars().count() >= 2) {
        for (start, _) in text.match_indices(name) {
            found.push(Found { kind: PersonalKind::Name, range: start..start + name.len(), masked: mask_name(name) });
        }
    }
    // Keep the first of overlapping spans (an e-mail's digits are not also a phone).
    found.sort_by_key(|f| (f.range.start, std::cmp::Reverse(f.range.end)));
    let mut kept: Vec<Found> = Vec::with_capacity(found.len());
    for f in found {
        if kept.last().is_none_or(|k| f.range.start >= k.range.end) {
            kept.push(f);
        }
    }
    kept
}

/// Returns `text` with its personal data masked (see `find`).
pub fn mask_personal_data(text: &str, names: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in find(text, names) {
        out.push_str(&text[at..f.range.start]);
        out.push_str(&f.masked);
        at = f.range.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins `MASK_RULES` to what the rules do: a change to the masking changes this digest, and then
    /// `MASK_RULES` must be raised (so published texts are masked again) and the digest updated.
    #[test]
    fn mask_rules_version_follows_the_rules() {
        let corpus = [
            "我叫张三，电话13812345678，住在幸福小区3栋2单元501室",
            "联系人：李四 手机＋８６ １３９ ００１３ ８０００，身份证号110101199003074477",
            "银行卡6222020200112233445，邮箱 someone@example.com，座机0826-2345678",
            "请王五于明天上午到广安区信访局，电话 138.1234.5678 或 (0826)2223333",
            "A2区某路口积水严重，路灯不亮，已三个月无人处理。",
        ];
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for text in corpus {
            for b in mask_personal_data(text, &["张三"]).bytes().chain([0u8]) {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        let pinned = (1, 14_646_819_557_512_132_176_u64);
        assert_eq!((MASK_RULES, hash), pinned, "the masking rules changed: raise MASK_RULES and pin the new digest");
    }

    #[test]
    fn is_number_agrees_with_number_kind() {
        for d in [
            "13812345678",
            "8613812345678",
            "008613812345678",
            "511602199001011234",
            "51160219900101123X",
            "6222021234567890123",
            "0826234567",
            "082623456789",
            "08262345678",
            "123456789012345",
            "12345",
            "1381234567X",
        ] {
            assert_eq!(is_number(d), number_kind(d).is_some(), "{d}");
        }
    }

    #[test]
    fn a_local_number_known_by_its_cue_is_masked_wherever_it_appears() {
        let m = mask_personal_data("办公室8805667，电话：8805667，请拨8805667", &[]);
        assert_eq!(m, "办公室88***67，电话：88***67，请拨88***67");
        // Without a cue anywhere, a 7-digit number is no phone.
        assert_eq!(mask_personal_data("编号8805667", &[]), "编号8805667");
    }

    #[test]
    fn masks_phone_id_card_bank_card_and_email() {
        let text =
            "我叫王小明，电话13812345678，身份证51160219900101123X，卡号6222021234567890123，邮箱wxm@example.com";
        let m = mask_personal_data(text, &["王小明"]);
        assert_eq!(
            m,
            "我叫王**，电话138****5678，身份证511*************3X，卡号***************0123，邮箱***@example.com"
        );
    }

    #[test]
    fn separated_phone_and_landline() {
        assert_eq!(mask_personal_data("打138-1234-5678", &[]), "打138****5678");
        assert_eq!(mask_personal_data("座机0826-2345678", &[]), "座机0826*****78");
    }

    #[test]
    fn numbers_side_by_side_are_each_masked() {
        assert_eq!(mask_personal_data("电话13812345678 13987654321", &[]), "电话138****5678 139****4321");
        assert_eq!(mask_personal_data("电话138-1234-5678", &[]), "电话138****5678");
        assert_eq!(mask_personal_data("编号 2026 0001", &[]), "编号 2026 0001", "ordinary numbers stay");
    }

    #[test]
    fn local_numbers_after_a_phone_cue() {
        assert_eq!(mask_personal_data("联系电话：8805667或7276110", &[]), "联系电话：88***67或72***10");
        assert_eq!(mask_personal_data("联系电话：8805667。", &[]), "联系电话：88***67。");
        assert_eq!(mask_personal_data("或拨打7276110咨询", &[]), "或拨打72***10咨询");
        assert_eq!(mask_personal_data("共计8805667元", &[]), "共计8805667元", "no cue, no phone");
    }

    #[test]
    fn ordinary_numbers_stay() {
        let t = "2026年10月1日，投诉编号1234567，三室一厅，3室2厅，共5户，价格3.5元，2026.10.01";
        assert_eq!(mask_personal_data(t, &[]), t);
    }

    #[test]
    fn numbers_however_typed() {
        assert_eq!(mask_personal_data("电话１３８１２３４５６７８", &[]), "电话138****5678");
        assert_eq!(mask_personal_data("电话+8613912345678。", &[]), "电话+86 139****5678。");
        assert_eq!(mask_personal_data("电话＋８６ １３９ １２３４ ５６７８", &[]), "电话+86 139****5678");
        assert_eq!(mask_personal_data("电话008613912345678", &[]), "电话+86 139****5678");
        assert_eq!(mask_personal_data("手机138\u{3000}1234\u{3000}5678", &[]), "手机138****5678");
        assert_eq!(mask_personal_data("手机138\u{a0}1234\u{a0}5678", &[]), "手机138****5678");
        assert_eq!(mask_personal_data("手机138.1234.5678", &[]), "手机138****5678");
        assert_eq!(mask_personal_data("手机138－1234－5678", &[]), "手机138****5678");
        assert_eq!(mask_personal_data("手机138 - 1234 - 5678", &[]), "手机138****5678");
        assert_eq!(mask_personal_data("手机138\u{200B}1234\u{200B}5678", &[]), "手机138****5678");
        assert_eq!(mask_personal_data("身份证５１１６０２１９９００１０１１２３Ｘ", &[]), "身份证511*************3X");
    }

    #[test]
    fn address_numbers() {
        assert_eq!(mask_personal_data("住建设路123号", &[]), "住建设路***号");
        assert_eq!(mask_personal_data("人民街12-3号", &[]), "人民街****号");
        assert_eq!(mask_personal_data("幸福小区5栋2单元301室", &[]), "幸福小区*栋*单元***室");
        assert_eq!(mask_personal_data("3号楼二单元", &[]), "*号楼*单元");
    }

    #[test]
    fn many_small_numbers_mask_in_linear_time() {
        // 5,000 one-digit parts: each join stops after MAX_NUMBER_DIGITS digits.
        // (Joined, they read as 15- to 19-digit numbers: masked in groups, like the old matcher did.)
        let text = "1 ".repeat(5000);
        assert!(mask_personal_data(&text, &[]).contains('*'));
        let runs = digit_runs(&text);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].len(), 5000);
    }

    #[test]
    fn a_longer_number_is_not_a_phone() {
        // 20 digits: none of our patterns; left as is rather than half-masked.
        let t = "12345678901234567890";
        assert_eq!(mask_personal_data(t, &[]), t);
    }

    #[test]
    fn single_character_names_are_ignored() {
        assert_eq!(mask_personal_data("王先生来电", &["王"]), "王先生来电");
        assert_eq!(mask_name("李四"), "李*");
    }

    #[test]
    fn id_check_digits() {
        // Valid numbers (check digit computed by GB 11643), including one ending in X.
        assert!(id_checksum_ok("11010519491231002X"));
        assert!(id_checksum_ok("440524188001010014"));
        assert!(id_checksum_ok("11010519491231002x"), "a lowercase x is the same check digit");
        // One digit changed, transposed digits, wrong length, letters.
        assert!(!id_checksum_ok("11010519491231003X"));
        assert!(!id_checksum_ok("440524188001010041"));
        assert!(!id_checksum_ok("44052418800101001"));
        assert!(!id_checksum_ok("4405241880010100A4"));
        let f = find("身份证11010519491231002X，另一个11010519491231003X", &[]);
        let kinds: Vec<PersonalKind> = f.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, vec![PersonalKind::IdNumber, PersonalKind::IdNumberUnchecked]);
    }

    #[test]
    fn luhn() {
        assert!(luhn_ok("4111111111111111"));
        assert!(!luhn_ok("4111111111111112"));
        let kinds: Vec<PersonalKind> =
            find("卡号4111111111111111和4111111111111112", &[]).iter().map(|f| f.kind).collect();
        assert_eq!(kinds, vec![PersonalKind::BankCard, PersonalKind::BankCardUnchecked]);
    }

    #[test]
    fn names_after_cues() {
        assert_eq!(mask_personal_data("我叫王明今年六十岁", &[]), "我叫王*今年六十岁");
        assert_eq!(mask_personal_data("联系人：李建国，电话略", &[]), "联系人：李**，电话略");
        assert_eq!(mask_personal_data("本人在此反映", &[]), "本人在此反映", "在 is no surname");
        for ordinary in ["本人于当日到场", "本人向您反映", "本人曾经投诉", "姓名栏未填写"] {
            assert_eq!(mask_personal_data(ordinary, &[]), ordinary);
        }
        assert_eq!(mask_personal_data("姓名：王小明", &[]), "姓名：王**");
        assert_eq!(mask_personal_data("联系人张伟电话略", &[]), "联系人张*电话略");
    }
}
