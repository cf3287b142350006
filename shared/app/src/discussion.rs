//! 政民互动: a supervisor or the 信访局 opens a topic; citizens comment on the public site (name
//! optional, mobile required and never shown); every comment is screened (triage's invalid/abuse
//! checks) and waits for moderation — approved comments are public with personal data masked, a
//! refused one never is; when the period has ended the responsible unit publishes what was adopted.

use crate::limiter::{self, Limit};
use crate::ports::{StoreError, StoreResult};
use crate::{App, AppError};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use mailbox_domain::deadline::cst_date;
use mailbox_domain::discussion::{
    Adoption, Comment, CommentStatus, Phase, Topic, COMMENT_MAX, COMMENT_MIN, COMMENT_NAME_MAX, PERIOD_MAX_DAYS,
    REASON_MAX, TEXT_MAX, TITLE_MAX,
};
use mailbox_domain::mask::{mask_name, mask_personal_data};
use mailbox_domain::{Actor, Role, UnitId};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Storage of topics and comments.
#[async_trait]
pub trait DiscussionStore: Send + Sync + 'static {
    /// Stores a new topic; `Conflict` if its id exists.
    async fn create_topic(&self, topic: &Topic) -> StoreResult<()>;
    async fn topic(&self, id: &str) -> StoreResult<Option<Topic>>;
    /// The newest topics first, at most `limit`.
    async fn topics(&self, limit: usize) -> StoreResult<Vec<Topic>>;
    /// Writes a topic over `expected` version; `Conflict` if another is stored.
    async fn save_topic(&self, topic: &Topic, expected: u64) -> StoreResult<()>;
    /// Stores a new comment: false, with nothing written, when its id exists (a resubmitted form).
    async fn add_comment(&self, comment: &Comment) -> StoreResult<bool>;
    async fn comment(&self, topic: &str, id: &str) -> StoreResult<Option<Comment>>;
    /// A topic's comments in a status (all: `None`), oldest first, at most `limit`.
    async fn comments(&self, topic: &str, status: Option<CommentStatus>, limit: usize) -> StoreResult<Vec<Comment>>;
    /// Writes a comment over `expected` version; `Conflict` if another is stored.
    async fn save_comment(&self, comment: &Comment, expected: u64) -> StoreResult<()>;
}

/// Comments per client address: 10 an hour (a citizen writes a few; a flood is refused).
pub const COMMENT_CLIENT: Limit = Limit { max: 10, window: std::time::Duration::from_secs(3600) };
/// Comments per mobile number and topic: 3 a day.
pub const COMMENT_PHONE: Limit = Limit { max: 3, window: std::time::Duration::from_secs(24 * 3600) };
/// Most topics listed, and most comments read for one topic.
pub const TOPICS_LISTED: usize = 100;
pub const COMMENTS_READ: usize = 2000;

/// What a citizen sends.
#[derive(Debug, Clone, Default)]
pub struct CommentRequest {
    pub name: String,
    pub phone: String,
    pub text: String,
}

/// What a supervisor or the 信访局 opens.
#[derive(Debug, Clone, Default)]
pub struct TopicRequest {
    pub title: String,
    pub text: String,
    pub opens_on: String,
    pub closes_on: String,
    pub unit: String,
}

/// A topic as the public sees it.
#[derive(Debug, Clone)]
pub struct PublicTopic {
    pub topic: Topic,
    pub phase: Phase,
    pub comments: Vec<PublicComment>,
    /// The adoption, masked.
    pub adoption: Option<String>,
}

/// A comment as the public sees it: the name masked (or 市民), the text with personal data masked.
#[derive(Debug, Clone, Serialize)]
pub struct PublicComment {
    pub author: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// A comment as a moderator sees it: what would be public, what screening found; never the phone.
#[derive(Debug, Clone, Serialize)]
pub struct StaffComment {
    pub id: String,
    pub author: String,
    pub text: String,
    pub at: DateTime<Utc>,
    pub status: CommentStatus,
    pub screened: Option<String>,
    pub reason: Option<String>,
    pub version: u64,
}

/// The moderation decision.
#[derive(Debug, Clone)]
pub enum Moderation {
    Approve,
    Refuse { reason: String },
}

/// A text field as staff or citizens typed it: invisible characters removed, trimmed, `min` to
/// `max` characters, no control characters; a clear Chinese message naming `label` otherwise.
pub(crate) fn text_field(
    value: &str,
    field: &'static str,
    label: &str,
    min: usize,
    max: usize,
) -> Result<String, AppError> {
    let v = mailbox_domain::text::clean(value);
    let n = v.chars().count();
    if n == 0 {
        return Err(AppError::invalid("field_required", field, format!("请填写{label}")));
    }
    if n < min {
        return Err(AppError::invalid("field_too_short", field, format!("{label}至少{min}个字")));
    }
    if n > max {
        return Err(AppError::invalid("field_too_long", field, format!("{label}不能超过{max}个字")));
    }
    if v.chars().any(mailbox_domain::text::is_control) {
        return Err(AppError::invalid("invalid_characters", field, format!("{label}含有不允许的控制字符")));
    }
    Ok(v)
}

fn date_field(value: &str, field: &'static str, label: &str) -> Result<NaiveDate, AppError> {
    value
        .trim()
        .parse::<NaiveDate>()
        .map_err(|_| AppError::invalid("invalid_date", field, format!("{label}应为日期，如 2026-12-01")))
}

fn author(name: &str) -> String {
    if name.is_empty() {
        "市民".into()
    } else {
        mask_name(name)
    }
}

impl App {
    fn today(&self) -> NaiveDate {
        cst_date(self.now())
    }

    /// Opens a topic: supervisors and the 信访局 (dispatchers).
    pub async fn open_topic(&self, actor: &Actor, r: &TopicRequest) -> Result<Topic, AppError> {
        if !matches!(actor.role, Role::Supervisor | Role::Dispatcher) {
            return Err(AppError::Forbidden("政民互动话题由政府办或信访局发起".into()));
        }
        let title = text_field(&r.title, "title", "标题", 1, TITLE_MAX)?;
        let text = text_field(&r.text, "text", "话题内容", 1, TEXT_MAX)?;
        let opens_on = date_field(&r.opens_on, "opens_on", "开始日期")?;
        let closes_on = date_field(&r.closes_on, "closes_on", "结束日期")?;
        if closes_on < opens_on {
            return Err(AppError::invalid("invalid_period", "closes_on", "结束日期不能早于开始日期"));
        }
        if closes_on < self.today() {
            return Err(AppError::invalid("invalid_period", "closes_on", "结束日期不能早于今天"));
        }
        if (closes_on - opens_on).num_days() >= PERIOD_MAX_DAYS {
            return Err(AppError::invalid("invalid_period", "closes_on", format!("征集期不能超过{PERIOD_MAX_DAYS}天")));
        }
        let unit = UnitId::new(r.unit.trim());
        if self.org.unit(&unit).is_none() {
            return Err(AppError::invalid("unknown_unit", "unit", "请选择负责答复的单位"));
        }
        let topic = Topic {
            id: format!("D{}", hex::encode(rand::random::<[u8; 6]>())),
            title,
            text,
            opens_on,
            closes_on,
            unit,
            opened_by: actor.user.clone(),
            opened_unit: actor.unit.clone(),
            created_at: self.now(),
            adoption: None,
            version: 1,
        };
        self.discussion.create_topic(&topic).await?;
        Ok(topic)
    }

    /// The topics, newest first, with where each stands today.
    pub async fn topics(&self) -> Result<Vec<(Topic, Phase)>, AppError> {
        let today = self.today();
        Ok(self
            .discussion
            .topics(TOPICS_LISTED)
            .await?
            .into_iter()
            .map(|t| {
                let phase = t.phase(today);
                (t, phase)
            })
            .collect())
    }

    /// A topic and its approved comments as the public sees them, and its adoption (采纳情况)
    /// with personal data masked — the names of every commenter too, as the unit may thank them.
    pub async fn public_topic(&self, id: &str) -> Result<PublicTopic, AppError> {
        let topic = self.topic_by_id(id).await?;
        let all = self.discussion.comments(&topic.id, None, COMMENTS_READ).await?;
        let comments = all
            .iter()
            .filter(|c| c.status == CommentStatus::Approved)
            .map(|c| PublicComment {
                author: author(&c.name),
                text: mask_personal_data(&c.text, &[c.name.as_str()]),
                at: c.at,
            })
            .collect();
        let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
        let adoption = topic.adoption.as_ref().map(|a| mask_personal_data(&a.text, &names));
        let phase = topic.phase(self.today());
        Ok(PublicTopic { topic, phase, comments, adoption })
    }

    async fn topic_by_id(&self, id: &str) -> Result<Topic, AppError> {
        // A topic id is `D` and 12 hex digits: anything else names none (and never reaches a key).
        if id.len() != 13 || !id.starts_with('D') || !id[1..].bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AppError::NotFound);
        }
        self.discussion.topic(id).await?.ok_or(AppError::NotFound)
    }

    /// A citizen's comment, waiting for moderation. `key` is the form's own key: the same form sent
    /// twice is one comment. Limited per client address and per mobile number and topic.
    pub async fn comment(
        &self,
        topic: &str,
        r: &CommentRequest,
        key: Option<&str>,
        client: &str,
    ) -> Result<Comment, AppError> {
        let topic = self.topic_by_id(topic).await?;
        if topic.phase(self.today()) != Phase::Open {
            return Err(AppError::Conflict {
                code: "topic_not_open",
                message: "该话题不在征集期内，不能发表评论".into(),
            });
        }
        let name = mailbox_domain::text::clean(&r.name);
        if name.chars().count() > COMMENT_NAME_MAX {
            return Err(AppError::invalid("field_too_long", "name", format!("姓名不能超过{COMMENT_NAME_MAX}个字")));
        }
        if name.chars().any(mailbox_domain::text::is_control) {
            return Err(AppError::invalid("invalid_characters", "name", "姓名含有不允许的控制字符"));
        }
        let phone = crate::input::normalise_phone(&r.phone)
            .filter(|p| p.starts_with('1'))
            .ok_or_else(|| AppError::invalid("invalid_phone", "phone", "请填写正确的手机号码（不会公开）"))?;
        let text = text_field(&r.text, "text", "评论", COMMENT_MIN, COMMENT_MAX)?;
        let id = match key.and_then(|k| crate::input::idempotency_key(k).ok()) {
            Some(k) => hex::encode(&Sha256::digest(format!("{}:{k}", topic.id).as_bytes())[..8]),
            None => hex::encode(rand::random::<[u8; 8]>()),
        };
        if let Some(existing) = self.discussion.comment(&topic.id, &id).await? {
            return Ok(existing);
        }
        // The mobile only as a digest: the limits' keys are no place for personal data.
        let phone_digest = hex::encode(&Sha256::digest(format!("{}:{phone}", topic.id).as_bytes())[..16]);
        let keys = [limiter::key("comment-client", client), limiter::key("comment-phone", &phone_digest)];
        limiter::take_all(self.limits.as_ref(), &keys[..1], COMMENT_CLIENT, self.now()).await?;
        if let Err(e) = limiter::take_all(self.limits.as_ref(), &keys[1..], COMMENT_PHONE, self.now()).await {
            limiter::give_back_all(self.limits.as_ref(), &keys[..1]).await;
            return Err(e);
        }
        let comment = Comment {
            id,
            topic: topic.id.clone(),
            screened: mailbox_triage::screen::screen("", &text).map(|s| s.value),
            name,
            phone,
            text,
            at: self.now(),
            status: CommentStatus::Pending,
            reason: None,
            moderated_by: None,
            moderated_at: None,
            version: 1,
        };
        self.discussion.add_comment(&comment).await?;
        Ok(comment)
    }

    /// Who moderates a topic's comments and publishes its adoption: supervisors, the unit that
    /// opened it and the responsible unit.
    fn moderates(&self, actor: &Actor, topic: &Topic) -> bool {
        actor.role == Role::Supervisor
            || (matches!(actor.role, Role::Dispatcher | Role::Handler)
                && actor.unit.as_ref().is_some_and(|u| *u == topic.unit || Some(u) == topic.opened_unit.as_ref()))
    }

    /// A topic with its comments for staff who moderate it (`Forbidden` for others).
    pub async fn staff_topic(&self, actor: &Actor, id: &str) -> Result<(Topic, Phase, Vec<StaffComment>), AppError> {
        let topic = self.topic_by_id(id).await?;
        if !self.moderates(actor, &topic) {
            return Err(AppError::Forbidden("只有发起单位、负责单位和政府办可以审核该话题的评论".into()));
        }
        let comments = self
            .discussion
            .comments(&topic.id, None, COMMENTS_READ)
            .await?
            .into_iter()
            .map(|c| StaffComment {
                author: author(&c.name),
                text: mask_personal_data(&c.text, &[c.name.as_str()]),
                id: c.id,
                at: c.at,
                status: c.status,
                screened: c.screened,
                reason: c.reason,
                version: c.version,
            })
            .collect();
        let phase = topic.phase(self.today());
        Ok((topic, phase, comments))
    }

    /// Approves a waiting comment (public from now on) or refuses it with a reason (never public).
    pub async fn moderate(
        &self,
        actor: &Actor,
        topic: &str,
        comment: &str,
        m: Moderation,
    ) -> Result<Comment, AppError> {
        let topic = self.topic_by_id(topic).await?;
        if !self.moderates(actor, &topic) {
            return Err(AppError::Forbidden("只有发起单位、负责单位和政府办可以审核该话题的评论".into()));
        }
        let valid_id = comment.len() == 16 && comment.bytes().all(|b| b.is_ascii_hexdigit());
        let found = if valid_id { self.discussion.comment(&topic.id, comment).await? } else { None };
        let mut c = found.ok_or(AppError::NotFound)?;
        if c.status != CommentStatus::Pending {
            return Err(AppError::Conflict {
                code: "already_moderated", message: "该评论已审核，请刷新后查看".into()
            });
        }
        let expected = c.version;
        match m {
            Moderation::Approve => c.status = CommentStatus::Approved,
            Moderation::Refuse { reason } => {
                c.reason = Some(text_field(&reason, "reason", "不予公开的理由", 1, REASON_MAX)?);
                c.status = CommentStatus::Refused;
            }
        }
        c.moderated_by = Some(actor.user.clone());
        c.moderated_at = Some(self.now());
        c.version += 1;
        match self.discussion.save_comment(&c, expected).await {
            Ok(()) => Ok(c),
            Err(StoreError::Conflict(_)) => Err(AppError::Conflict {
                code: "already_moderated",
                message: "该评论已被他人审核，请刷新后查看".into(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Publishes what was adopted (采纳情况), once, after the period has ended: the responsible
    /// unit or a supervisor.
    pub async fn publish_adoption(&self, actor: &Actor, topic: &str, text: &str) -> Result<Topic, AppError> {
        let mut t = self.topic_by_id(topic).await?;
        let responsible = actor.role == Role::Supervisor || actor.unit.as_ref() == Some(&t.unit);
        if !responsible || !self.moderates(actor, &t) {
            return Err(AppError::Forbidden("采纳情况由负责答复的单位或政府办发布".into()));
        }
        if t.phase(self.today()) != Phase::Closed {
            return Err(AppError::Conflict {
                code: "topic_still_open",
                message: "征集期结束后才能发布采纳情况".into(),
            });
        }
        if t.adoption.is_some() {
            return Err(AppError::Conflict { code: "adoption_published", message: "采纳情况已发布".into() });
        }
        let text = text_field(text, "text", "采纳情况", 1, TEXT_MAX)?;
        let expected = t.version;
        t.adoption = Some(Adoption { text, by: actor.user.clone(), unit: actor.unit.clone(), at: self.now() });
        t.version += 1;
        match self.discussion.save_topic(&t, expected).await {
            Ok(()) => Ok(t),
            Err(StoreError::Conflict(_)) => Err(AppError::Conflict {
                code: "adoption_published",
                message: "采纳情况已由他人发布，请刷新后查看".into(),
            }),
            Err(e) => Err(e.into()),
        }
    }
}
