//! Extractors that turn a request into checked values, answering bad input with a clear Chinese
//! error and a stable code before any handler runs.

use super::{error_response, AppState, CSRF_HEADER, SESSION_COOKIE};
use crate::accounts::Identity;
use crate::error::AppError;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use std::net::IpAddr;
use std::net::SocketAddr;

/// A JSON body: `application/json`, at most the request limit, UTF-8, well-formed.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "请求内容须为 JSON（Content-Type: application/json）",
                None,
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| error_response(StatusCode::PAYLOAD_TOO_LARGE, "request_too_large", "请求内容过大", None))?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            error_response(StatusCode::BAD_REQUEST, "invalid_encoding", "请求内容须为 UTF-8 编码", None)
        })?;
        serde_json::from_str(text).map(JsonBody).map_err(|e| {
            let message = format!("请求格式不正确：{}", e);
            error_response(StatusCode::BAD_REQUEST, "malformed_json", &message, None)
        })
    }
}

/// The client's address, for rate limiting; never logged with personal data.
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // What the deployment established (API Gateway's context, or a trusted proxy's header)
        // comes first; else the peer of the connection. Never a header the client chose.
        let addr = parts
            .extensions
            .get::<SourceIp>()
            .map(|s| s.0.clone())
            .or_else(|| parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()))
            .unwrap_or_else(|| "unknown".into());
        Ok(ClientAddr(addr))
    }
}

/// Set by the deployment when the request reached it over HTTPS (API Gateway; a trusted proxy that
/// terminated TLS): responses then carry HSTS.
#[derive(Clone, Copy)]
pub struct ServedOverHttps;

/// The client address as the deployment established it: on AWS from API Gateway's request
/// context, in the embedded host from `X-Forwarded-For` of a trusted proxy (`client_behind`).
#[derive(Clone)]
pub struct SourceIp(pub String);

/// One address of `X-Forwarded-For` (`203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443`,
/// `203.0.113.7:5000`).
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry.parse::<IpAddr>().ok().or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The client behind trusted proxies: the connection's peer when it is no trusted proxy (its
/// `X-Forwarded-For` is then the client's own claim, ignored); else `X-Forwarded-For` read from
/// the right — each proxy appends the address it saw — skipping trusted proxies, up to the first
/// address that is not one. An entry that is no address ends the walk at the last trusted hop.
pub fn client_behind(peer: IpAddr, forwarded_for: &[&str], trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for entry in forwarded_for.iter().rev().flat_map(|h| h.rsplit(',')) {
        match forwarded_address(entry) {
            Some(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

/// A signed-in staff member who may work: as [`SignedIn`], and not waiting to change a password
/// that an administrator reset (403 `password_change_required` until then).
pub struct Staff(pub Identity);

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let SignedIn(identity) = SignedIn::from_request_parts(parts, state).await?;
        if identity.must_change_password {
            return Err(error_response(
                StatusCode::FORBIDDEN,
                "password_change_required",
                "当前密码由管理员设置，请先设置自己的新密码（POST /api/v1/auth/password）",
                None,
            ));
        }
        Ok(Staff(identity))
    }
}

/// A signed-in staff member, whether or not they must change their password first (for signing
/// out, reading who one is, and changing the password). State-changing requests authenticated by
/// cookie must carry the session's CSRF token in `X-CSRF-Token`; bearer-token requests need not
/// (browsers never add them).
pub struct SignedIn(pub Identity);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let identity = state
            .auth
            .identify(&parts.headers)
            .await
            .map_err(IntoResponse::into_response)?
            .ok_or_else(|| AppError::Unauthorized.into_response())?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if let (false, Some(expected)) = (safe, identity.csrf_token.as_deref()) {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            if sent.is_empty() || sent != expected {
                return Err(error_response(StatusCode::FORBIDDEN, "csrf", "页面已过期，请刷新后重试", None));
            }
        }
        Ok(SignedIn(identity))
    }
}

/// The value of the cookie `name`, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The session token from the `Authorization: Bearer` header (preferred) or the session cookie,
/// and whether it came from the cookie.
pub fn session_token(headers: &HeaderMap) -> Option<(String, bool)> {
    if let Some(bearer) =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some((bearer.trim().to_owned(), false));
    }
    cookie(headers, SESSION_COOKIE).map(|v| (v, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_client_behind_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        // A peer that is no trusted proxy: its header is the client's own claim.
        assert_eq!(client_behind(ip("203.0.113.9"), &["198.51.100.1"], &trusted), ip("203.0.113.9"));
        // One proxy: the address it appended.
        assert_eq!(client_behind(ip("10.0.0.2"), &["203.0.113.7"], &trusted), ip("203.0.113.7"));
        // A client that sends its own header ahead: the proxy appended the real one last.
        assert_eq!(client_behind(ip("10.0.0.2"), &["1.2.3.4, 203.0.113.7"], &trusted), ip("203.0.113.7"));
        // Two proxies, and two header lines.
        assert_eq!(client_behind(ip("10.0.0.2"), &["203.0.113.7", "10.0.0.5"], &trusted), ip("203.0.113.7"));
        assert_eq!(client_behind(ip("::1"), &["[2001:db8::1]:443"], &trusted), ip("2001:db8::1"));
        // Nothing usable: the proxy itself.
        assert_eq!(client_behind(ip("10.0.0.2"), &[], &trusted), ip("10.0.0.2"));
        assert_eq!(client_behind(ip("10.0.0.2"), &["garbage"], &trusted), ip("10.0.0.2"));
        assert_eq!(client_behind(ip("10.0.0.2"), &["203.0.113.7, garbage, 10.0.0.3"], &trusted), ip("10.0.0.3"));
    }
}
