//! SMS through a Chinese SMS gateway's signed HTTP API, in the form the large providers document
//! for their `SendSms` call (Alibaba Cloud's RPC style, signature version 1.0): the request's
//! parameters sorted, percent-encoded (RFC 3986), signed with HMAC-SHA1 under `<secret>&` over
//! `GET&%2F&<encoded query>`, the signature in base64; a JSON answer whose `Code` is `OK` on
//! success with the message's `BizId`. Only a registered template and its parameters are sent.

use async_trait::async_trait;
use base64::Engine;
use chrono::Utc;
use hmac::{Hmac, Mac};
use mailbox_app::delivery::{SendError, SmsSender, SmsTemplate};
use std::collections::{BTreeMap, HashMap};

/// Where and how to reach the gateway.
#[derive(Clone)]
pub struct SmsGatewayConfig {
    /// The `SendSms` endpoint (e.g. `https://dysmsapi.aliyuncs.com/`).
    pub url: String,
    pub key_id: String,
    pub secret: String,
    /// The registered signature, shown as 【…】 before each message.
    pub sign_name: String,
    /// The template codes the provider assigned; a template missing here uses its default code.
    pub templates: HashMap<SmsTemplate, String>,
}

impl SmsGatewayConfig {
    /// From the environment: `SMS_KEY_ID`, `SMS_KEY_SECRET` (required), `SMS_SIGN_NAME` (default
    /// 广安市长信箱), `SMS_TEMPLATES` (`staff_notice=SMS_123,citizen_replied=SMS_456,…`).
    pub fn from_env(url: &str) -> Result<SmsGatewayConfig, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let key_id = var("SMS_KEY_ID").ok_or("SMS_KEY_ID is not set (the SMS gateway's key id)")?;
        let secret = var("SMS_KEY_SECRET").ok_or("SMS_KEY_SECRET is not set (the SMS gateway's secret)")?;
        let mut templates = HashMap::new();
        for pair in var("SMS_TEMPLATES").unwrap_or_default().split(',').filter(|p| !p.trim().is_empty()) {
            let (name, code) =
                pair.split_once('=').ok_or_else(|| format!("SMS_TEMPLATES: {pair:?} is not name=code"))?;
            let template: SmsTemplate = serde_json::from_value(serde_json::json!(name.trim()))
                .map_err(|_| format!("SMS_TEMPLATES: no template {name:?}"))?;
            templates.insert(template, code.trim().to_owned());
        }
        Ok(SmsGatewayConfig {
            url: url.to_owned(),
            key_id,
            secret,
            sign_name: var("SMS_SIGN_NAME").unwrap_or_else(|| "广安市长信箱".into()),
            templates,
        })
    }

    fn code(&self, template: SmsTemplate) -> &str {
        self.templates.get(&template).map_or(template.default_code(), String::as_str)
    }
}

pub struct SmsGateway {
    config: SmsGatewayConfig,
    http: reqwest::Client,
}

impl SmsGateway {
    pub fn new(config: SmsGatewayConfig) -> SmsGateway {
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().expect("HTTP client");
        SmsGateway { config, http }
    }
}

/// RFC 3986 percent-encoding as the signature wants it: only `A–Z a–z 0–9 - _ . ~` stay.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The signed query string of `params` (without `Signature`), and the signature.
pub fn sign(params: &BTreeMap<String, String>, secret: &str) -> (String, String) {
    let query: Vec<String> =
        params.iter().map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))).collect();
    let query = query.join("&");
    let to_sign = format!("GET&{}&{}", percent_encode("/"), percent_encode(&query));
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes()).expect("any key length");
    mac.update(to_sign.as_bytes());
    (query, base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

#[async_trait]
impl SmsSender for SmsGateway {
    async fn send(
        &self,
        to: &str,
        template: SmsTemplate,
        params: &BTreeMap<String, String>,
        key: &str,
    ) -> Result<String, SendError> {
        let c = &self.config;
        let request: BTreeMap<String, String> = [
            ("AccessKeyId", c.key_id.clone()),
            ("Action", "SendSms".into()),
            ("Format", "JSON".into()),
            ("OutId", crate::provider_key(key)),
            ("PhoneNumbers", to.to_owned()),
            ("SignName", c.sign_name.clone()),
            ("SignatureMethod", "HMAC-SHA1".into()),
            ("SignatureNonce", hex::encode(rand::random::<[u8; 16]>())),
            ("SignatureVersion", "1.0".into()),
            ("TemplateCode", c.code(template).to_owned()),
            ("TemplateParam", serde_json::to_string(params).expect("parameters serialise")),
            ("Timestamp", Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            ("Version", "2017-05-25".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let (query, signature) = sign(&request, &c.secret);
        let url = format!("{}?Signature={}&{query}", c.url, percent_encode(&signature));
        let response =
            self.http.get(&url).send().await.map_err(|e| SendError::Transient(e.without_url().to_string()))?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let code = body["Code"].as_str().unwrap_or("");
        if status.is_success() && code == "OK" {
            return Ok(body["BizId"].as_str().unwrap_or_default().to_owned());
        }
        let what = format!("HTTP {} {code} {}", status.as_u16(), body["Message"].as_str().unwrap_or(""));
        // The provider's codes for a bad number, template, signature or key: no retry helps.
        let permanent = code.starts_with("isv.MOBILE")
            || code.starts_with("isv.SMS_TEMPLATE")
            || code.starts_with("isv.SMS_SIGNATURE")
            || code.starts_with("isv.TEMPLATE")
            || matches!(code, "InvalidAccessKeyId.NotFound" | "SignatureDoesNotMatch" | "isv.INVALID_PARAMETERS");
        Err(if permanent { SendError::Permanent(what) } else { SendError::Transient(what) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_signs_as_documented() {
        // The worked example of the provider's signature documentation (RPC style, version 1.0).
        let params: BTreeMap<String, String> = [
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let (_, signature) = sign(&params, "testsecret");
        assert_eq!(signature, "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
    }

    #[test]
    fn percent_encoding_keeps_only_the_unreserved() {
        assert_eq!(percent_encode("a b*c~d/é"), "a%20b%2Ac~d%2F%C3%A9");
    }
}
