//! E-mail over SMTP.

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mailbox_app::delivery::{EmailSender, SendError};

pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpSender {
    /// `url`: `smtp://host:port` (plain, e.g. the city's internal relay), `smtp://host:587?tls=required`
    /// (STARTTLS) or `smtps://host:465`, with `user:password@` before the host where the server
    /// wants them (SES's SMTP credentials). `from`: the sender address, e.g.
    /// `市长信箱 <noreply@mailbox.guang-an.gov.cn>`.
    pub fn new(url: &str, from: &str) -> Result<SmtpSender, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("SMTP address {url:?} not usable: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        let from = from.parse().map_err(|e| format!("sender address {from:?} not usable: {e}"))?;
        Ok(SmtpSender { transport, from })
    }
}

#[async_trait]
impl EmailSender for SmtpSender {
    async fn send(&self, to: &str, subject: &str, body: &str, key: &str) -> Result<String, SendError> {
        let to: Mailbox = to.parse().map_err(|e| SendError::Permanent(format!("收件地址无效：{e}")))?;
        // The same delivery has the same Message-ID, so a message sent twice can be recognised.
        let message_id = format!("<{}@mailbox>", crate::provider_key(key));
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(message_id.clone()))
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        match self.transport.send(message).await {
            Ok(response) => {
                let said: Vec<&str> = response.message().collect();
                Ok(if said.is_empty() { message_id } else { format!("{message_id} {}", said.join(" ")) })
            }
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Err(e) => Err(SendError::Transient(e.to_string())),
        }
    }
}
