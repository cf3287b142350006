//! The organisation (组织机构): jurisdictions, units and mailboxes, loaded from a TOML file.
//!
//! Every reference between entries is checked when the file is loaded, and every error names the
//! line and the field, so an administrator can fix a config without reading code.

use crate::deadline::DeadlinePolicy;
use crate::ids::{JurisdictionId, MailboxId, UnitId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use toml::Spanned;

/// The Guang'an organisation shipped with the system, used by the demo and as the default.
pub const GUANGAN_TOML: &str = include_str!("../config/guangan.toml");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("organisation config, line {line}, field `{field}`: {message}")]
pub struct OrgError {
    pub line: usize,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JurisdictionKind {
    City,
    District,
    County,
    /// A county-level city such as 华蓥市.
    CountyCity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// 信访局: accepts, dispatches and supervises the mailbox of its jurisdiction.
    PetitionBureau,
    /// 政府办公室: supervises every case (联合督办).
    GovernmentOffice,
    /// A district or county government (区/县/市人民政府).
    DistrictGovernment,
    /// A city bureau (局/委).
    Bureau,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailboxKind {
    Mayor,
    DistrictHead,
    BureauHead,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jurisdiction {
    pub id: JurisdictionId,
    pub name: String,
    pub kind: JurisdictionKind,
    /// The 信访局 that dispatches this jurisdiction's cases and owns its hand-off queue.
    pub dispatcher: UnitId,
    /// Place names inside it (towns, streets, landmarks) that tell triage a message is about it.
    pub places: Vec<String>,
}

/// Which units handle a first-level domain (分类) of messages, best first; triage suggests them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainRoute {
    pub domain: String,
    pub units: Vec<UnitId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unit {
    pub id: UnitId,
    pub name: String,
    pub jurisdiction: JurisdictionId,
    pub kind: UnitKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mailbox {
    pub id: MailboxId,
    pub name: String,
    pub kind: MailboxKind,
    pub jurisdiction: JurisdictionId,
    /// The unit that accepts and dispatches cases addressed to this mailbox.
    pub dispatcher: UnitId,
    /// The unit whose head owns the mailbox (none for the mayor's).
    pub owner: Option<UnitId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organisation {
    pub name: String,
    /// Two-letter prefix of public case numbers, e.g. `GA`.
    pub case_prefix: String,
    pub city: JurisdictionId,
    pub jurisdictions: Vec<Jurisdiction>,
    pub units: Vec<Unit>,
    pub mailboxes: Vec<Mailbox>,
    pub deadlines: DeadlinePolicy,
    pub domains: Vec<DomainRoute>,
    /// Cues that mark a message urgent (紧急件); the city edits them in its config.
    pub urgent: UrgentCues,
}

/// The urgent cues (紧急件) of an organisation: words that, found in a message, mark it urgent — its
/// dispatcher is told at once and it comes first in the inbox.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct UrgentCues {
    /// A cue within a few characters after one of these words describes a risk or the past (如果…
    /// 爆炸, 曾发生火灾), not an emergency, and does not count.
    pub not_after: Vec<String>,
    pub cues: Vec<UrgentCue>,
}

/// One urgent cue: any word of `any`, and — when `with` is not empty — also any word of `with`
/// (群体 + 聚集: a crowd alone or a gathering alone is not urgent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UrgentCue {
    /// What the cue means (危及生命, 群体聚集, …), shown with the words that triggered it.
    pub label: String,
    pub any: Vec<String>,
    pub with: Vec<String>,
}

impl Organisation {
    /// The built-in Guang'an organisation.
    pub fn guangan() -> Organisation {
        Organisation::from_toml(GUANGAN_TOML).expect("the built-in Guang'an config is valid")
    }

    /// Parses and validates an organisation config.
    pub fn from_toml(src: &str) -> Result<Organisation, OrgError> {
        let raw: RawOrg = toml::from_str(src).map_err(|e| parse_error(src, &e))?;
        Validator { src }.build(raw)
    }

    pub fn unit(&self, id: &UnitId) -> Option<&Unit> {
        self.units.iter().find(|u| &u.id == id)
    }

    pub fn jurisdiction(&self, id: &JurisdictionId) -> Option<&Jurisdiction> {
        self.jurisdictions.iter().find(|j| &j.id == id)
    }

    pub fn mailbox(&self, id: &MailboxId) -> Option<&Mailbox> {
        self.mailboxes.iter().find(|m| &m.id == id)
    }

    /// The jurisdiction a unit belongs to.
    pub fn jurisdiction_of(&self, unit: &UnitId) -> Option<&Jurisdiction> {
        self.unit(unit).and_then(|u| self.jurisdiction(&u.jurisdiction))
    }

    /// Units that a dispatcher may send cases to: every unit except 信访局s and 政府办s.
    pub fn handling_units(&self) -> impl Iterator<Item = &Unit> {
        self.units.iter().filter(|u| matches!(u.kind, UnitKind::Bureau | UnitKind::DistrictGovernment))
    }
}

// ---- raw, spanned form as written in the file ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrg {
    organisation: RawHeader,
    deadlines: Option<Spanned<DeadlinePolicy>>,
    #[serde(default)]
    jurisdictions: Vec<RawJurisdiction>,
    #[serde(default)]
    units: Vec<RawUnit>,
    #[serde(default)]
    mailboxes: Vec<RawMailbox>,
    #[serde(default)]
    domains: Vec<RawDomain>,
    urgent: Option<RawUrgent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUrgent {
    #[serde(default)]
    not_after: Vec<Spanned<String>>,
    #[serde(default)]
    cues: Vec<RawUrgentCue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUrgentCue {
    label: Spanned<String>,
    any: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    with: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDomain {
    name: Spanned<String>,
    units: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: Spanned<String>,
    case_prefix: Spanned<String>,
    city: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJurisdiction {
    id: Spanned<String>,
    name: Spanned<String>,
    kind: JurisdictionKind,
    dispatcher: Spanned<String>,
    #[serde(default)]
    places: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnit {
    id: Spanned<String>,
    name: Spanned<String>,
    jurisdiction: Spanned<String>,
    kind: UnitKind,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMailbox {
    id: Spanned<String>,
    name: Spanned<String>,
    kind: Spanned<MailboxKind>,
    jurisdiction: Spanned<String>,
    dispatcher: Spanned<String>,
    owner: Option<Spanned<String>>,
}

fn line_of(src: &str, span: &Range<usize>) -> usize {
    src[..span.start.min(src.len())].matches('\n').count() + 1
}

/// Turns a TOML/serde error into one naming the line and the field.
fn parse_error(src: &str, e: &toml::de::Error) -> OrgError {
    let span = e.span().unwrap_or(0..0);
    let message = e.message().trim().to_owned();
    // serde names the field itself for missing/unknown fields; otherwise the key is the text before
    // `=` on the offending line.
    let quoted = message
        .split('`')
        .nth(1)
        .filter(|_| message.starts_with("missing field") || message.starts_with("unknown field"));
    let field = match quoted {
        Some(name) => name.to_owned(),
        None => {
            let line_start = src[..span.start.min(src.len())].rfind('\n').map_or(0, |i| i + 1);
            let line = src[line_start..].lines().next().unwrap_or("");
            line.split_once('=').map(|(k, _)| k.trim().to_owned()).unwrap_or_else(|| line.trim().to_owned())
        }
    };
    OrgError { line: line_of(src, &span), field, message }
}

struct Validator<'a> {
    src: &'a str,
}

impl Validator<'_> {
    fn err<T>(&self, span: Range<usize>, field: &str, message: impl Into<String>) -> Result<T, OrgError> {
        Err(OrgError { line: line_of(self.src, &span), field: field.to_owned(), message: message.into() })
    }

    fn non_empty(&self, value: &Spanned<String>, field: &str) -> Result<String, OrgError> {
        let v = value.get_ref().trim();
        if v.is_empty() {
            return self.err(value.span(), field, "must not be empty");
        }
        Ok(v.to_owned())
    }

    fn build(&self, raw: RawOrg) -> Result<Organisation, OrgError> {
        let name = self.non_empty(&raw.organisation.name, "name")?;
        let case_prefix = self.non_empty(&raw.organisation.case_prefix, "case_prefix")?;
        if !case_prefix.chars().all(|c| c.is_ascii_uppercase()) || case_prefix.len() > 4 {
            return self.err(
                raw.organisation.case_prefix.span(),
                "case_prefix",
                "must be 1 to 4 capital ASCII letters",
            );
        }
        let deadlines = match raw.deadlines {
            Some(policy) => {
                if let Err(problem) = policy.get_ref().validate() {
                    return self.err(policy.span(), problem.field, problem.message);
                }
                policy.into_inner()
            }
            None => DeadlinePolicy::default(),
        };

        let mut ids = HashSet::new();
        let mut unit_jurisdiction = BTreeMap::new();
        let mut unit_kind = BTreeMap::new();
        let jurisdiction_ids: HashSet<String> = raw.jurisdictions.iter().map(|j| j.id.get_ref().clone()).collect();
        let mut units = Vec::new();
        for u in &raw.units {
            let id = self.fresh_id(&mut ids, &u.id)?;
            let jurisdiction = self.reference(&jurisdiction_ids, &u.jurisdiction, "jurisdiction")?;
            unit_jurisdiction.insert(id.clone(), jurisdiction.clone());
            unit_kind.insert(id.clone(), u.kind);
            units.push(Unit {
                id: UnitId::new(id),
                name: self.non_empty(&u.name, "name")?,
                jurisdiction: JurisdictionId::new(jurisdiction),
                kind: u.kind,
            });
        }
        let unit_ids: HashSet<String> = unit_jurisdiction.keys().cloned().collect();

        let mut jurisdictions = Vec::new();
        let mut dispatcher_of = BTreeMap::new();
        for j in &raw.jurisdictions {
            let id = self.fresh_id(&mut ids, &j.id)?;
            let dispatcher = self.reference(&unit_ids, &j.dispatcher, "dispatcher")?;
            if unit_kind[&dispatcher] != UnitKind::PetitionBureau || unit_jurisdiction[&dispatcher] != id {
                return self.err(
                    j.dispatcher.span(),
                    "dispatcher",
                    format!("`{dispatcher}` must be a petition_bureau unit of jurisdiction `{id}`"),
                );
            }
            dispatcher_of.insert(id.clone(), dispatcher.clone());
            jurisdictions.push(Jurisdiction {
                id: JurisdictionId::new(id),
                name: self.non_empty(&j.name, "name")?,
                kind: j.kind,
                dispatcher: UnitId::new(dispatcher),
                places: j.places.iter().map(|p| self.non_empty(p, "places")).collect::<Result<_, _>>()?,
            });
        }
        let city = self.reference(&jurisdiction_ids, &raw.organisation.city, "city")?;

        let mut mailboxes = Vec::new();
        let mut mayor_boxes = 0;
        for m in &raw.mailboxes {
            let id = self.fresh_id(&mut ids, &m.id)?;
            let jurisdiction = self.reference(&jurisdiction_ids, &m.jurisdiction, "jurisdiction")?;
            let dispatcher = self.reference(&unit_ids, &m.dispatcher, "dispatcher")?;
            let kind = *m.kind.get_ref();
            let owner = match &m.owner {
                Some(o) => Some(self.reference(&unit_ids, o, "owner")?),
                None => None,
            };
            // Who dispatches follows from the kind of mailbox (DESIGN §5).
            let expected_dispatcher = match kind {
                MailboxKind::Mayor | MailboxKind::DistrictHead => dispatcher_of[&jurisdiction].clone(),
                MailboxKind::BureauHead => match &owner {
                    Some(o) => o.clone(),
                    None => return self.err(m.kind.span(), "owner", "a bureau_head mailbox needs an owner"),
                },
            };
            if dispatcher != expected_dispatcher {
                return self.err(
                    m.dispatcher.span(),
                    "dispatcher",
                    format!("a {kind:?} mailbox of `{jurisdiction}` is dispatched by `{expected_dispatcher}`"),
                );
            }
            match kind {
                MailboxKind::Mayor => {
                    mayor_boxes += 1;
                    if jurisdiction != city {
                        return self.err(
                            m.jurisdiction.span(),
                            "jurisdiction",
                            "the mayor's mailbox belongs to the city",
                        );
                    }
                }
                MailboxKind::DistrictHead if owner.is_none() => {
                    return self.err(m.kind.span(), "owner", "a district_head mailbox needs an owner");
                }
                _ => {}
            }
            mailboxes.push(Mailbox {
                id: MailboxId::new(id),
                name: self.non_empty(&m.name, "name")?,
                kind,
                jurisdiction: JurisdictionId::new(jurisdiction),
                dispatcher: UnitId::new(dispatcher),
                owner: owner.map(UnitId::new),
            });
        }
        if mayor_boxes != 1 {
            return self.err(
                0..0,
                "mailboxes",
                format!("exactly one mailbox of kind mayor is needed, found {mayor_boxes}"),
            );
        }
        let mut domains = Vec::new();
        for d in &raw.domains {
            let units = d.units.iter().map(|u| self.reference(&unit_ids, u, "units").map(UnitId::new));
            domains.push(DomainRoute {
                domain: self.non_empty(&d.name, "name")?,
                units: units.collect::<Result<_, _>>()?,
            });
        }
        let urgent = match &raw.urgent {
            Some(u) => self.urgent(u)?,
            None => UrgentCues::default(),
        };
        Ok(Organisation {
            name,
            case_prefix,
            city: JurisdictionId::new(city),
            jurisdictions,
            units,
            mailboxes,
            deadlines,
            domains,
            urgent,
        })
    }

    fn urgent(&self, raw: &RawUrgent) -> Result<UrgentCues, OrgError> {
        let words = |list: &[Spanned<String>], field: &str| -> Result<Vec<String>, OrgError> {
            list.iter().map(|w| self.non_empty(w, field)).collect()
        };
        let mut labels = HashSet::new();
        let mut cues = Vec::new();
        for c in &raw.cues {
            let label = self.non_empty(&c.label, "label")?;
            if !labels.insert(label.clone()) {
                return self.err(c.label.span(), "label", format!("`{label}` is used twice"));
            }
            if c.any.get_ref().is_empty() {
                return self.err(c.any.span(), "any", "needs at least one word");
            }
            cues.push(UrgentCue { label, any: words(c.any.get_ref(), "any")?, with: words(&c.with, "with")? });
        }
        Ok(UrgentCues { not_after: words(&raw.not_after, "not_after")?, cues })
    }

    fn fresh_id(&self, seen: &mut HashSet<String>, id: &Spanned<String>) -> Result<String, OrgError> {
        let v = self.non_empty(id, "id")?;
        let well_formed = v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !well_formed {
            return self.err(id.span(), "id", format!("`{v}`: use lowercase ASCII letters, digits and `-`"));
        }
        if !seen.insert(v.clone()) {
            return self.err(id.span(), "id", format!("`{v}` is used twice"));
        }
        Ok(v)
    }

    fn reference(&self, known: &HashSet<String>, r: &Spanned<String>, field: &str) -> Result<String, OrgError> {
        let v = r.get_ref();
        if !known.contains(v) {
            return self.err(r.span(), field, format!("unknown id `{v}`"));
        }
        Ok(v.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guangan_has_the_jurisdictions_units_and_mailboxes_of_the_source_document() {
        let org = Organisation::guangan();
        let names: Vec<&str> = org.jurisdictions.iter().map(|j| j.name.as_str()).collect();
        for n in ["广安市", "广安区", "前锋区", "华蓥市", "岳池县", "武胜县", "邻水县"] {
            assert!(names.contains(&n), "{n} missing");
        }
        let bureaus = org.units.iter().filter(|u| u.kind == UnitKind::Bureau).count();
        assert!(bureaus >= 20, "only {bureaus} bureaus");
        let bureau_boxes = org.mailboxes.iter().filter(|m| m.kind == MailboxKind::BureauHead).count();
        assert_eq!(bureaus, bureau_boxes, "one 局长信箱 per bureau");
        let district_boxes = org.mailboxes.iter().filter(|m| m.kind == MailboxKind::DistrictHead).count();
        assert_eq!(district_boxes, 6);
        for j in &org.jurisdictions {
            assert!(org.unit(&j.dispatcher).unwrap().name.ends_with("信访局"));
        }
        assert!(org.units.iter().any(|u| u.name == "广安市人民政府办公室" && u.kind == UnitKind::GovernmentOffice));
    }

    fn err_of(src: &str) -> OrgError {
        Organisation::from_toml(src).expect_err("config should be rejected")
    }

    fn replace(from: &str, to: &str) -> String {
        assert!(GUANGAN_TOML.contains(from), "fixture text {from:?} not in config");
        GUANGAN_TOML.replacen(from, to, 1)
    }

    fn line_containing(src: &str, needle: &str) -> usize {
        src.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    #[test]
    fn unknown_reference_names_line_and_field() {
        let src = replace("dispatcher = \"qianfeng-xfj\"", "dispatcher = \"nowhere\"");
        let e = err_of(&src);
        assert_eq!(e.field, "dispatcher");
        assert_eq!(e.line, line_containing(&src, "\"nowhere\""));
        assert!(e.to_string().contains("unknown id `nowhere`"), "{e}");
    }

    #[test]
    fn missing_field_is_named() {
        let src = replace("name = \"广安市信访局\"\n", "");
        let e = err_of(&src);
        assert_eq!(e.field, "name");
        assert!(e.message.contains("missing field"), "{e}");
    }

    #[test]
    fn bad_enum_value_names_line_and_field() {
        let src = replace("kind = \"county_city\"", "kind = \"village\"");
        let e = err_of(&src);
        assert_eq!(e.field, "kind");
        assert_eq!(e.line, line_containing(&src, "\"village\""));
    }

    #[test]
    fn duplicate_id_is_rejected() {
        let src = format!("{GUANGAN_TOML}\n[[units]]\nid = \"city-xfj\"\nname = \"重复\"\njurisdiction = \"city\"\nkind = \"bureau\"\n");
        let e = err_of(&src);
        assert_eq!(e.field, "id");
        assert!(e.message.contains("used twice"), "{e}");
        assert_eq!(e.line, src.lines().count() - 3);
    }

    #[test]
    fn wrong_dispatcher_for_district_mailbox_is_rejected() {
        let src = replace("dispatcher = \"linshui-xfj\"\nowner", "dispatcher = \"city-xfj\"\nowner");
        let e = err_of(&src);
        assert_eq!(e.field, "dispatcher");
        assert!(e.message.contains("linshui-xfj"), "{e}");
    }

    #[test]
    fn invalid_deadline_policy_is_rejected() {
        let src = replace("simple = 5", "simple = 0");
        let e = err_of(&src);
        assert_eq!(e.field, "simple");
    }

    #[test]
    fn malformed_toml_reports_a_line() {
        let e = err_of("[organisation\nname = 1");
        assert_eq!(e.line, 1);
    }
}
