//! Delivery adapters, the same in both deployments: e-mail over SMTP (`lettre`; on AWS, SES's SMTP
//! interface), and SMS through a Chinese SMS gateway's signed HTTP API — registered templates and
//! their parameters only, under the city's registered signature (【广安市长信箱】).

mod sms;
mod smtp;

pub use sms::{SmsGateway, SmsGatewayConfig};
pub use smtp::SmtpSender;

use mailbox_app::delivery::Channels;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The channels of a deployment: e-mail when `smtp` is given (sent as `mail_from`), SMS when
/// `sms_gateway` is (key and secret from `SMS_KEY_ID`, `SMS_KEY_SECRET`; see `SmsGatewayConfig`).
pub fn channels(smtp: Option<&str>, mail_from: &str, sms_gateway: Option<&str>) -> Result<Channels, String> {
    let email = match smtp {
        Some(url) => Some(Arc::new(SmtpSender::new(url, mail_from)?) as Arc<dyn mailbox_app::delivery::EmailSender>),
        None => None,
    };
    let sms =
        match sms_gateway {
            Some(url) => Some(Arc::new(SmsGateway::new(SmsGatewayConfig::from_env(url)?))
                as Arc<dyn mailbox_app::delivery::SmsSender>),
            None => None,
        };
    Ok(Channels { email, sms })
}

/// The sender address when none is given.
pub const DEFAULT_MAIL_FROM: &str = "市长信箱 <noreply@mailbox.invalid>";

/// The short, opaque form of a delivery's key sent to providers as their idempotency key (the
/// SMS gateway's `OutId`, the e-mail's Message-ID): the same delivery always gets the same one, and
/// it says nothing of the case.
pub fn provider_key(key: &str) -> String {
    hex::encode(&Sha256::digest(format!("mailbox delivery v1\0{key}").as_bytes())[..16])
}
