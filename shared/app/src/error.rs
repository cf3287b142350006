//! Errors of the use cases, with the stable codes and Chinese messages the HTTP layer shows.

use crate::ports::{QueueError, StoreError};
use mailbox_domain::workflow::WorkflowError;
use mailbox_domain::AccessError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad input: a stable code, the field if there is one, a message for the user.
    #[error("{message}")]
    Invalid { code: &'static str, field: Option<&'static str>, message: String },
    #[error("留言不存在")]
    NotFound,
    #[error("{0}")]
    Forbidden(String),
    /// Someone else acted first, or the case is not in a state for this.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("请先登录")]
    Unauthorized,
    /// A sign-in with a wrong user name or password (401: not a malformed request).
    #[error("用户名或密码错误")]
    BadCredentials,
    #[error("尝试次数过多，请稍后再试")]
    RateLimited,
    /// Too much work at once (password checks); nothing was done, trying again later works.
    #[error("系统繁忙，请稍后再试")]
    Busy,
    /// Storage or queue trouble; the cause is logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn invalid(code: &'static str, field: &'static str, message: impl Into<String>) -> AppError {
        AppError::Invalid { code, field: Some(field), message: message.into() }
    }

    pub fn stale() -> AppError {
        AppError::Conflict { code: "stale_version", message: "该留言已被他人处理，请刷新后重试".into() }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Conflict(_) => AppError::stale(),
            StoreError::TooLarge(_) => AppError::Invalid {
                code: "case_too_large",
                field: None,
                message: "该留言的办理记录已超过存储上限，请精简内容或联系系统管理员".into(),
            },
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<QueueError> for AppError {
    fn from(e: QueueError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<WorkflowError> for AppError {
    fn from(e: WorkflowError) -> Self {
        let message = e.to_string();
        match e {
            WorkflowError::Access(AccessError::NotFound) => AppError::NotFound,
            WorkflowError::Access(AccessError::Forbidden(_)) => AppError::Forbidden(message),
            WorkflowError::IllegalTransition { .. } => AppError::Conflict { code: "illegal_transition", message },
            WorkflowError::Invalid { field, .. } => {
                AppError::Invalid { code: "invalid_field", field: Some(field), message }
            }
            WorkflowError::Deadline(_) => AppError::Invalid { code: "invalid_deadline", field: None, message },
            WorkflowError::ExtensionPending => AppError::Conflict { code: "extension_pending", message },
            WorkflowError::NoPendingExtension => AppError::Conflict { code: "no_pending_extension", message },
            WorkflowError::PublicationNotAllowed => {
                AppError::Invalid { code: "publication_not_allowed", field: Some("public"), message }
            }
            WorkflowError::Unchanged => AppError::Conflict { code: "unchanged", message },
            WorkflowError::TooMany { .. } => AppError::Invalid { code: "limit_reached", field: None, message },
            WorkflowError::TooLarge { .. } => AppError::Invalid { code: "case_too_large", field: None, message },
        }
    }
}
