//! Parsing at the edge: a submission that passes here is valid (DESIGN §8).

use crate::error::AppError;
use mailbox_domain::case::Citizen;
use mailbox_domain::workflow::NewCase;
use mailbox_domain::{Kind, MailboxId, Organisation};
use regex::Regex;
use serde::Deserialize;
use std::sync::OnceLock;
use utoipa::ToSchema;

pub const TITLE_MAX: usize = 100;
pub const BODY_MAX: usize = 5000;
pub const NAME_MAX: usize = 50;
/// Largest request body accepted anywhere in the API.
pub const REQUEST_MAX_BYTES: usize = 64 * 1024;

/// A citizen's message as posted to `POST /api/v1/cases`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct SubmitRequest {
    /// Mailbox id from `GET /api/v1/mailboxes`, e.g. `mayor`.
    #[schema(example = "mayor", required = true, min_length = 1, max_length = 32)]
    pub mailbox: String,
    /// `suggestion` (建议), `consultation` (咨询), `complaint` (投诉) or `help` (求助).
    #[schema(example = "complaint", required = true, value_type = mailbox_domain::Kind)]
    pub kind: String,
    /// Up to 100 characters, not blank; no control characters (invisible ones are removed).
    #[schema(
        example = "小区门口道路破损",
        required = true,
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$"
    )]
    pub title: String,
    /// Up to 5,000 characters, not blank.
    #[schema(
        required = true,
        min_length = 1,
        max_length = 5000,
        pattern = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$"
    )]
    pub body: String,
    /// Up to 50 characters, not blank.
    #[schema(
        required = true,
        min_length = 1,
        max_length = 50,
        pattern = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$"
    )]
    pub name: String,
    /// Mobile (13812345678) or landline with area code (0826-2345678); full-width digits, spaces
    /// and +86 are accepted too.
    #[schema(example = "13812345678", required = true, pattern = "^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$")]
    pub phone: String,
    /// Whether the message and its reply may be published (personal data masked).
    pub public: bool,
}

fn phone_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^(?:1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$").expect("valid regex"))
}

/// An idempotency key as the API accepts it: 16 to 128 visible ASCII characters (a UUID is 36). It
/// derives the key that seals the query code in the idempotency record, so it must not be guessable.
pub fn idempotency_key(value: &str) -> Result<&str, AppError> {
    let k = value.trim();
    if (16..=128).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(k)
    } else {
        Err(AppError::invalid(
            "invalid_idempotency_key",
            "Idempotency-Key",
            "请求标识须为 16 至 128 个可见字符（建议使用 UUID）",
        ))
    }
}

fn has_control_chars(s: &str) -> bool {
    s.chars().any(mailbox_domain::text::is_control)
}

/// A phone number as typed (full-width digits, spaces of any width, +86 or 0086, hyphens) in one
/// written form: 13812345678 or 0826-2345678. `None` when it is neither.
pub fn normalise_phone(typed: &str) -> Option<String> {
    let mut s: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && !mailbox_domain::text::is_invisible(*c))
        .map(|c| match c {
            '\u{FF10}'..='\u{FF19}' => char::from_u32(c as u32 - 0xFF10 + u32::from(b'0')).unwrap_or(c),
            '\u{FF0D}' | '\u{2010}'..='\u{2015}' => '-',
            '\u{FF0B}' => '+',
            c => c,
        })
        .collect();
    for prefix in ["+86-", "+86", "0086-", "0086"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.to_owned();
            break;
        }
    }
    let compact: String = s.chars().filter(|&c| c != '-').collect();
    if phone_re().is_match(&compact) && compact.starts_with('1') {
        return Some(compact);
    }
    phone_re().is_match(&s).then_some(s)
}

fn field(value: &str, name: &'static str, label: &str, max: usize) -> Result<String, AppError> {
    let v = mailbox_domain::text::clean(value);
    let v = v.as_str();
    if v.is_empty() {
        return Err(AppError::invalid(required_code(name), name, format!("请填写{label}")));
    }
    if v.chars().count() > max {
        return Err(AppError::invalid(too_long_code(name), name, format!("{label}不能超过{max}个字")));
    }
    if has_control_chars(v) {
        return Err(AppError::invalid("invalid_characters", name, format!("{label}含有不允许的控制字符")));
    }
    Ok(v.to_owned())
}

fn required_code(name: &str) -> &'static str {
    match name {
        "title" => "title_required",
        "body" => "body_required",
        "name" => "name_required",
        _ => "field_required",
    }
}

fn too_long_code(name: &str) -> &'static str {
    match name {
        "title" => "title_too_long",
        "body" => "body_too_long",
        "name" => "name_too_long",
        _ => "field_too_long",
    }
}

pub fn parse_kind(s: &str) -> Option<Kind> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
}

impl SubmitRequest {
    /// Checks every field; the first problem is reported.
    pub fn parse(&self, org: &Organisation) -> Result<NewCase, AppError> {
        if self.mailbox.trim().is_empty() {
            return Err(AppError::invalid("mailbox_required", "mailbox", "请选择信箱"));
        }
        let mailbox = MailboxId::new(self.mailbox.trim());
        if org.mailbox(&mailbox).is_none() {
            return Err(AppError::invalid("unknown_mailbox", "mailbox", "信箱不存在"));
        }
        let kind = parse_kind(self.kind.trim())
            .ok_or_else(|| AppError::invalid("invalid_kind", "kind", "请选择留言类型：建议、咨询、投诉或求助"))?;
        let title = field(&self.title, "title", "标题", TITLE_MAX)?;
        let body = field(&self.body, "body", "留言内容", BODY_MAX)?;
        let name = field(&self.name, "name", "姓名", NAME_MAX)?;
        if mailbox_domain::text::clean(&self.phone).is_empty() {
            return Err(AppError::invalid("phone_required", "phone", "请填写联系电话"));
        }
        let phone = normalise_phone(&self.phone).ok_or_else(|| {
            AppError::invalid("phone_invalid", "phone", "联系电话格式不正确，请填写手机号或带区号的固定电话")
        })?;
        Ok(NewCase { mailbox, kind, title, body, citizen: Citizen { name, phone }, publishable: self.public })
    }
}

/// HTML forms (`application/x-www-form-urlencoded`) of the public site and the console, read into
/// the same requests and commands as the JSON API takes.
pub mod form {
    use super::SubmitRequest;
    use chrono::NaiveDate;
    use mailbox_domain::deadline::DeadlineClass;
    use mailbox_domain::workflow::Command;
    use mailbox_domain::{DispatchMode, UnitId};

    /// A form body's pairs, in order (keys may repeat).
    pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
        form_urlencoded::parse(body).into_owned().collect()
    }

    /// The first value of `name`, or "".
    pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
        pairs.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    /// Every non-empty value of `name`.
    pub fn fields<'a>(pairs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
        pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty()).collect()
    }

    impl SubmitRequest {
        /// The public write form of `mailbox` (`POST /mailbox/{id}`).
        pub fn from_form(mailbox: &str, pairs: &[(String, String)]) -> SubmitRequest {
            SubmitRequest {
                mailbox: mailbox.to_owned(),
                kind: field(pairs, "kind").into(),
                title: field(pairs, "title").into(),
                body: field(pairs, "body").into(),
                name: field(pairs, "name").into(),
                phone: field(pairs, "phone").into(),
                public: field(pairs, "public") == "1",
            }
        }
    }

    /// A console action form (`POST /console/cases/{id}/{action}`) as the workflow command it asks
    /// for; the error is a message for the form.
    pub fn command(action: &str, p: &[(String, String)]) -> Result<Command, String> {
        let text = |k: &str| field(p, k).to_owned();
        let number = |k: &str| field(p, k).trim().parse::<u32>().map_err(|_| format!("“{k}”须为数字"));
        Ok(match action {
            "accept" => Command::Accept,
            "reject" => Command::Reject { reason: text("reason") },
            "dispatch" => {
                let mode = if field(p, "mode") == "assign" { DispatchMode::Assign } else { DispatchMode::Transfer };
                let class: DeadlineClass = serde_json::from_value(serde_json::Value::String(text("class")))
                    .map_err(|_| "请选择时限类别".to_owned())?;
                let special_days = if class == DeadlineClass::Special { Some(number("special_days")?) } else { None };
                let lead = UnitId::new(field(p, "lead"));
                let co_handlers =
                    fields(p, "co_handlers").into_iter().map(UnitId::new).filter(|u| *u != lead).collect();
                Command::Dispatch { mode, lead, co_handlers, class, special_days }
            }
            "receive" => Command::Receive,
            "return" => Command::Return { reason: text("reason") },
            "contribute" => Command::Contribute { text: text("text") },
            "report" => Command::Report { text: text("text") },
            "reply" => Command::Reply { text: text("text"), public: field(p, "public") == "1" },
            "record_meeting" => Command::RecordMeeting {
                held_on: NaiveDate::parse_from_str(field(p, "held_on"), "%Y-%m-%d")
                    .map_err(|_| "请填写见面日期".to_owned())?,
                place: text("place"),
                summary: text("summary"),
            },
            "request_extension" => Command::RequestExtension { days: number("days")?, reason: text("reason") },
            "decide_extension" => Command::DecideExtension { approve: field(p, "approve") != "0", note: text("note") },
            "urge" => Command::Urge { note: text("note") },
            "supervise" => Command::Supervise { note: text("note") },
            "reopen" => Command::Reopen { reason: text("reason") },
            "merge" => {
                let into = field(p, "into").trim().to_uppercase();
                if into.is_empty() {
                    return Err("请填写或选择并入的原留言编号".to_owned());
                }
                Command::Merge { into: mailbox_domain::CaseNumber::new(into) }
            }
            "unmerge" => Command::Unmerge,
            "close" => Command::Close,
            "feature" => Command::Feature { note: text("note") },
            "publish_attachment" => {
                Command::PublishAttachment { number: number("number")?, public: field(p, "public") == "1" }
            }
            "explain" => Command::Explain { text: text("text") },
            _ => return Err("未知的操作".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> SubmitRequest {
        SubmitRequest {
            mailbox: "mayor".into(),
            kind: "complaint".into(),
            title: "标题".into(),
            body: "内容".into(),
            name: "张三".into(),
            phone: "13812345678".into(),
            public: true,
        }
    }

    fn code(r: SubmitRequest) -> &'static str {
        match r.parse(&Organisation::guangan()) {
            Err(AppError::Invalid { code, .. }) => code,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn valid_request_parses() {
        let new = ok().parse(&Organisation::guangan()).unwrap();
        assert_eq!(new.kind, Kind::Complaint);
    }

    #[test]
    fn each_rule_has_its_code() {
        assert_eq!(code(SubmitRequest { mailbox: "nowhere".into(), ..ok() }), "unknown_mailbox");
        assert_eq!(code(SubmitRequest { mailbox: "".into(), ..ok() }), "mailbox_required");
        assert_eq!(code(SubmitRequest { kind: "praise".into(), ..ok() }), "invalid_kind");
        assert_eq!(code(SubmitRequest { title: " ".into(), ..ok() }), "title_required");
        assert_eq!(code(SubmitRequest { title: "长".repeat(101), ..ok() }), "title_too_long");
        assert_eq!(code(SubmitRequest { body: "长".repeat(5001), ..ok() }), "body_too_long");
        assert_eq!(code(SubmitRequest { name: "".into(), ..ok() }), "name_required");
        assert_eq!(code(SubmitRequest { phone: "12345".into(), ..ok() }), "phone_invalid");
        assert_eq!(code(SubmitRequest { phone: "".into(), ..ok() }), "phone_required");
        assert_eq!(code(SubmitRequest { body: "a\u{0}b".into(), ..ok() }), "invalid_characters");
        assert!(SubmitRequest { phone: "0826-2345678".into(), ..ok() }.parse(&Organisation::guangan()).is_ok());
        assert!(SubmitRequest { title: "长".repeat(100), ..ok() }.parse(&Organisation::guangan()).is_ok());
        assert_eq!(code(SubmitRequest { title: "\u{200B}\u{202E}".into(), ..ok() }), "title_required");
    }

    #[test]
    fn invisible_characters_are_removed() {
        let new =
            SubmitRequest { title: "路灯\u{202E}不亮\u{200B}".into(), ..ok() }.parse(&Organisation::guangan()).unwrap();
        assert_eq!(new.title, "路灯不亮");
    }

    #[test]
    fn phones_however_typed() {
        for typed in [
            "13812345678",
            "１３８１２３４５６７８",
            "+86 138 1234 5678",
            "0086-13812345678",
            "138-1234-5678",
            "138\u{3000}1234\u{3000}5678",
        ] {
            assert_eq!(normalise_phone(typed).as_deref(), Some("13812345678"), "{typed}");
        }
        assert_eq!(normalise_phone("０８２６－２３４５６７８").as_deref(), Some("0826-2345678"));
        assert_eq!(normalise_phone("08262345678").as_deref(), Some("08262345678"));
        for bad in ["12345", "+1 415 555 0100", "138123456789", "abc"] {
            assert_eq!(normalise_phone(bad), None, "{bad}");
        }
    }
}
