//! The HTTP router both deployments serve, on a [`Harness`], driven in-process: what a client
//! sends and what it gets back, without a socket.

use crate::{at, Harness};
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use mailbox_app::accounts::LocalAuth;
use mailbox_app::http::{router, AppState, SessionAuthenticator};
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub content_type: String,
    pub bytes: Vec<u8>,
    /// The body as text (lossy where it is not UTF-8).
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        assert!(self.content_type.starts_with("application/json"), "{}", self.content_type);
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or_default()
    }
}

/// A part of a multipart form: a text field, or a file with the name the browser gives it.
pub enum Part<'a> {
    Text(&'a str, &'a str),
    File { name: &'a str, file_name: &'a str, content_type: &'a str, bytes: &'a [u8] },
}

pub struct Api {
    pub h: Harness,
    pub router: axum::Router,
}

impl Api {
    /// The router over a fresh harness at 2026-11-20 10:00 China time.
    pub fn new(label: &str) -> Api {
        let h = Harness::new(label, at("2026-11-20T10:00:00+08:00"));
        let shared = Arc::new(h.store.clone());
        let local = Arc::new(LocalAuth { accounts: shared.clone(), limits: shared });
        let auth = Arc::new(SessionAuthenticator { local: local.clone(), clock: h.app.clock.clone() });
        let router = router(AppState { app: h.app.clone(), auth, local: Some(local), actions: None });
        Api { h, router }
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let content_type = headers.get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20).await.unwrap().to_vec();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        Answer { status, headers, content_type, bytes, body }
    }

    pub async fn get(&self, uri: &str) -> Answer {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    pub async fn post(&self, uri: &str, form: &[(&str, &str)]) -> Answer {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let request = Request::post(uri)
            .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    /// Posts a `multipart/form-data` body as a browser builds it.
    pub async fn multipart(&self, uri: &str, parts: &[Part<'_>]) -> Answer {
        let boundary = "----mailboxtestboundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for part in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match part {
                Part::Text(name, value) => {
                    body.extend_from_slice(
                        format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                    );
                    body.extend_from_slice(value.as_bytes());
                }
                Part::File { name, file_name, content_type, bytes } => {
                    let head = format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
                    );
                    body.extend_from_slice(head.as_bytes());
                    body.extend_from_slice(bytes);
                }
            }
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let request = Request::post(uri)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }
}
