//! Masking of personal data (个人信息) in text that is made public: phone numbers, ID-card numbers,
//! bank-card numbers, e-mail addresses and the citizen's own name.
//!
//! Digits are looked at as whole runs, so part of a longer number is never mistaken for a phone.

use regex::Regex;
use std::sync::OnceLock;

fn digit_runs() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // A run of digits, possibly split by single spaces or hyphens (138-1234-5678), with an
    // optional trailing X of an ID-card number.
    RE.get_or_init(|| Regex::new(r"[0-9](?:[ \-]?[0-9])*[Xx]?").expect("valid regex"))
}

fn emails() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+").expect("valid regex"))
}

fn stars(n: usize) -> String {
    "*".repeat(n)
}

/// Masks one run of digits if it looks like personal data; `None` leaves it as it is.
fn mask_number(run: &str) -> Option<String> {
    let digits: String = run.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let n = digits.len();
    let all_digits = digits.chars().all(|c| c.is_ascii_digit());
    let b = digits.as_bytes();
    let keep =
        |head: usize, tail: usize| format!("{}{}{}", &digits[..head], stars(n - head - tail), &digits[n - tail..]);
    match n {
        // Mobile: 1[3-9]XXXXXXXXX
        11 if all_digits && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) => Some(keep(3, 4)),
        // ID card: 18 characters (last may be X) or the old 15 digits.
        18 if digits[..17].chars().all(|c| c.is_ascii_digit()) => Some(keep(3, 2)),
        15 if all_digits => Some(keep(3, 2)),
        // Bank cards: 16 to 19 digits.
        16..=19 if all_digits => Some(keep(0, 4)),
        // Landlines with area code, e.g. 0826-2345678 (10 to 12 digits starting with 0).
        10..=12 if all_digits && b[0] == b'0' => Some(keep(4, 2)),
        _ => None,
    }
}

/// Masks a name, keeping the surname: 张三丰 → 张**.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", stars(chars.count().max(1))),
        None => String::new(),
    }
}

/// Returns `text` with personal data masked. `names` are names known to belong to the case (the
/// citizen's own); names shorter than two characters are ignored to avoid masking ordinary words.
pub fn mask_personal_data(text: &str, names: &[&str]) -> String {
    let masked = digit_runs().replace_all(text, |c: &regex::Captures| {
        let run = &c[0];
        mask_number(run).unwrap_or_else(|| run.to_owned())
    });
    let mut masked = emails()
        .replace_all(&masked, |c: &regex::Captures| {
            let (_, domain) = c[0].split_once('@').unwrap_or(("", ""));
            format!("***@{domain}")
        })
        .into_owned();
    for name in names.iter().map(|n| n.trim()).filter(|n| n.chars().count() >= 2) {
        masked = masked.replace(name, &mask_name(name));
    }
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn ordinary_numbers_stay() {
        let t = "2026年10月1日，3号楼120室，投诉编号1234567";
        assert_eq!(mask_personal_data(t, &[]), t);
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
}
