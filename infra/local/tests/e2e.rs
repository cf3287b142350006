//! End-to-end scenarios over HTTP against a real `mailbox serve` process.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

fn status(view: &Value) -> &str {
    view["case"]["status"].as_str().unwrap()
}

fn transfer(lead: &str, class: &str) -> Value {
    json!({"action": "dispatch", "mode": "transfer", "lead": lead, "class": class})
}

#[tokio::test]
async fn mayor_mailbox_transfer_life_with_public_reply_and_rating() {
    let server = Server::start("mayor");
    let api = Api::new(&server);
    let (number, code) = api.submit("mayor", "complaint", true).await;
    let xfj = api.login("xfj").await;
    let id = api.find(&xfj, &number).await["id"].as_str().unwrap().to_owned();
    api.ok(&xfj, &id, json!({"action": "accept"})).await;
    let view = api.ok(&xfj, &id, transfer("transport", "standard")).await;
    assert_eq!(status(&view), "dispatched");

    let jtj = api.login("jtj").await;
    let inbox = api.call(Method::GET, "/api/v1/staff/inbox?status=dispatched", Some(&jtj), None).await;
    assert!(inbox.body.as_array().unwrap().iter().any(|c| c["number"] == number.as_str()));
    let view = api.ok(&jtj, &id, json!({"action": "receive"})).await;
    assert_eq!(status(&view), "in_progress");
    assert!(view["deadline"]["due_on"].is_string(), "{view}");
    assert!(view["allowed_actions"].as_array().unwrap().contains(&json!("reply")));
    let reply = "王小明您好，路面已修复。如有问题请拨打13812345678。";
    let view = api.ok(&jtj, &id, json!({"action": "reply", "text": reply, "public": true})).await;
    assert_eq!(view["case"]["reply"]["text"], reply, "the handler keeps the full text");
    assert!(view["case"].get("query_code_digest").is_none(), "no view carries the query-code digest");

    let seen = api.citizen(&number, &code).await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.body["status"], "replied");
    assert_eq!(seen.body["reply"]["text"], reply, "the citizen reads the full reply");
    assert_eq!(seen.body["handling_unit"], "广安市交通运输局");
    assert!(seen.body["timeline"].as_array().unwrap().len() >= 5);
    let rated = api
        .call(
            Method::POST,
            &format!("/api/v1/cases/{number}/rating"),
            None,
            Some(json!({"query_code": code, "satisfied": true})),
        )
        .await;
    assert_eq!(rated.status, 200, "{}", rated.body);
    assert_eq!(rated.body["status"], "closed");
}

#[tokio::test]
async fn district_mailbox_assign_life_and_bureau_mailbox() {
    let server = Server::start("district");
    let api = Api::new(&server);
    // District head's mailbox, dispatched by the district's 信访局, assigned (交办).
    let (number, code) = api.submit("linshui-head", "help", false).await;
    let ls = api.login("ls-xfj").await;
    let id = api.find(&ls, &number).await["id"].as_str().unwrap().to_owned();
    // The city's 信访局 does not see it.
    let xfj = api.login("xfj").await;
    assert_eq!(api.act(&xfj, &id, None, json!({"action": "accept"})).await.status, 404);
    api.ok(&ls, &id, json!({"action": "accept"})).await;
    api.ok(&ls, &id, json!({"action": "dispatch", "mode": "assign", "lead": "linshui-gov", "class": "standard"})).await;
    let gov = api.login("ls-gov").await;
    api.ok(&gov, &id, json!({"action": "receive"})).await;
    let refused = api.act(&gov, &id, None, json!({"action": "reply", "text": "x", "public": false})).await;
    assert_eq!(refused.status, 403, "assigned cases are replied by the dispatcher: {}", refused.body);
    let view = api.ok(&gov, &id, json!({"action": "report", "text": "已协调解决。"})).await;
    assert_eq!(status(&view), "reported");
    let private_only = api.act(&ls, &id, None, json!({"action": "reply", "text": "答复", "public": true})).await;
    assert_eq!(private_only.status, 400);
    assert_eq!(private_only.body["error"]["code"], "publication_not_allowed");
    api.ok(&ls, &id, json!({"action": "reply", "text": "您好，问题已解决。", "public": false})).await;
    let view = api.ok(&ls, &id, json!({"action": "close"})).await;
    assert_eq!(status(&view), "closed");
    assert_eq!(api.citizen(&number, &code).await.body["status"], "closed");

    // Bureau head's mailbox: the bureau dispatches to itself and replies.
    let (number, _) = api.submit("transport-head", "consultation", true).await;
    let box_admin = api.login("jtj-xx").await;
    let id = api.find(&box_admin, &number).await["id"].as_str().unwrap().to_owned();
    api.ok(&box_admin, &id, json!({"action": "accept"})).await;
    let wrong = api.act(&box_admin, &id, None, transfer("water", "simple")).await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    api.ok(&box_admin, &id, transfer("transport", "simple")).await;
    let jtj = api.login("jtj").await;
    api.ok(&jtj, &id, json!({"action": "receive"})).await;
    let view =
        api.ok(&jtj, &id, json!({"action": "reply", "text": "您好，可在政务服务中心办理。", "public": true})).await;
    assert_eq!(status(&view), "replied");
}

#[tokio::test]
async fn return_redispatch_co_handlers_extension_and_cross_jurisdiction_handoff() {
    let server = Server::start("return");
    let api = Api::new(&server);
    let xfj = api.login("xfj").await;
    let (number, _) = api.submit("mayor", "complaint", true).await;
    let id = api.find(&xfj, &number).await["id"].as_str().unwrap().to_owned();
    api.ok(&xfj, &id, json!({"action": "accept"})).await;
    api.ok(&xfj, &id, transfer("water", "standard")).await;
    let slj = api.login("slj").await;
    api.ok(&slj, &id, json!({"action": "receive"})).await;
    let view = api.ok(&slj, &id, json!({"action": "return", "reason": "不属于本单位职责"})).await;
    assert_eq!(status(&view), "accepted");
    assert_eq!(api.call(Method::GET, &format!("/api/v1/staff/cases/{id}"), Some(&slj), None).await.status, 404);

    // Re-dispatch as a multi-department case with a co-handler.
    let cmd = json!({"action": "dispatch", "mode": "assign", "lead": "transport", "co_handlers": ["public-security"], "class": "coordinated"});
    api.ok(&xfj, &id, cmd).await;
    let jtj = api.login("jtj").await;
    let gaj = api.login("gaj").await;
    assert_eq!(api.act(&gaj, &id, None, json!({"action": "receive"})).await.status, 403);
    let view = api.ok(&jtj, &id, json!({"action": "receive"})).await;
    assert_eq!(view["deadline"]["total_days"], 40);
    api.ok(&gaj, &id, json!({"action": "contribute", "text": "已加强巡逻。"})).await;
    api.ok(&jtj, &id, json!({"action": "request_extension", "days": 10, "reason": "需多部门现场核查"})).await;
    let view = api.ok(&xfj, &id, json!({"action": "decide_extension", "approve": true})).await;
    assert_eq!(view["deadline"]["total_days"], 50);
    let too_much = api.act(&jtj, &id, None, json!({"action": "request_extension", "days": 11, "reason": "再延"})).await;
    assert_eq!(too_much.status, 400, "never beyond 60 working days: {}", too_much.body);
    api.ok(&jtj, &id, json!({"action": "report", "text": "已整改"})).await;
    api.ok(&xfj, &id, json!({"action": "reply", "text": "已整改完毕", "public": true})).await;

    // City → district: the hand-off crosses 邻水县's queue and the worker notifies the unit.
    let (number, _) = api.submit("mayor", "complaint", true).await;
    let id = api.find(&xfj, &number).await["id"].as_str().unwrap().to_owned();
    api.ok(&xfj, &id, json!({"action": "accept"})).await;
    api.ok(&xfj, &id, transfer("linshui-gov", "standard")).await;
    let gov = api.login("ls-gov").await;
    let mut delivered = false;
    for _ in 0..50 {
        let outbox = api.call(Method::GET, "/api/v1/staff/outbox", Some(&gov), None).await;
        delivered = outbox
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["subject"].as_str().unwrap_or("").starts_with("上级交办留言已送达"));
        if delivered {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(delivered, "the 邻水县 hand-off worker took the case in");
}

#[tokio::test]
async fn invalid_rating_reopen_conflict_and_other_unit() {
    let server = Server::start("reopen");
    let api = Api::new(&server);
    let xfj = api.login("xfj").await;

    let (number, code) = api.submit("mayor", "suggestion", true).await;
    let id = api.find(&xfj, &number).await["id"].as_str().unwrap().to_owned();
    let view = api.ok(&xfj, &id, json!({"action": "reject", "reason": "内容与政务无关的广告"})).await;
    assert_eq!(status(&view), "invalid");
    assert_eq!(api.citizen(&number, &code).await.body["invalid_reason"], "内容与政务无关的广告");

    let (number, code) = api.submit("mayor", "complaint", true).await;
    let case = api.find(&xfj, &number).await;
    let id = case["id"].as_str().unwrap().to_owned();
    let version = case["version"].as_u64().unwrap();
    // Two dispatchers act on the same version at once: exactly one wins, the other gets 409.
    let xfj2 = api.login("xfj").await;
    let (a, b) = tokio::join!(
        api.act(&xfj, &id, Some(version), json!({"action": "accept"})),
        api.act(&xfj2, &id, Some(version), json!({"action": "accept"})),
    );
    let mut codes = [a.status.as_u16(), b.status.as_u16()];
    codes.sort_unstable();
    assert_eq!(codes, [200, 409], "{} / {}", a.body, b.body);
    let loser = if a.status == 409 { &a.body } else { &b.body };
    assert_eq!(loser["error"]["code"], "stale_version");
    let events =
        api.call(Method::GET, &format!("/api/v1/staff/cases/{id}"), Some(&xfj), None).await.body["events"].clone();
    assert_eq!(events.as_array().unwrap().len(), 2, "one acceptance recorded, not two");
    api.ok(&xfj, &id, transfer("housing-construction", "standard")).await;
    // A handler of another unit gets 404, never a hint that the case exists.
    let slj = api.login("slj").await;
    assert_eq!(api.call(Method::GET, &format!("/api/v1/staff/cases/{id}"), Some(&slj), None).await.status, 404);
    assert_eq!(api.act(&slj, &id, None, json!({"action": "receive"})).await.status, 404);
    let zjj = api.login("zjj").await;
    api.ok(&zjj, &id, json!({"action": "receive"})).await;
    api.ok(&zjj, &id, json!({"action": "reply", "text": "已处理", "public": false})).await;
    let path = format!("/api/v1/cases/{number}/rating");
    let no_reason = api.call(Method::POST, &path, None, Some(json!({"query_code": code, "satisfied": false}))).await;
    assert_eq!(no_reason.status, 400);
    let rated = api
        .call(
            Method::POST,
            &path,
            None,
            Some(json!({"query_code": code, "satisfied": false, "comment": "路面仍有坑洼"})),
        )
        .await;
    assert_eq!(rated.status, 200);
    let view = api.ok(&xfj, &id, json!({"action": "reopen", "reason": "市民不满意，重新办理"})).await;
    assert_eq!(status(&view), "in_progress");
    assert_eq!(api.citizen(&number, &code).await.body["status"], "in_progress");
}

#[tokio::test]
async fn bad_input_is_refused_and_writes_nothing() {
    let server = Server::start("input");
    let api = Api::new(&server);
    let zfb = api.login("zfb").await;
    let count = || async {
        api.call(Method::GET, "/api/v1/staff/inbox?limit=500", Some(&zfb), None).await.body.as_array().unwrap().len()
    };
    let before = count().await;
    let good = json!({"mailbox": "mayor", "kind": "complaint", "title": "标题", "body": "内容", "name": "张三", "phone": "13812345678", "public": true});
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"mailbox": "nowhere"}), 400, "unknown_mailbox"),
        (json!({"kind": "praise"}), 400, "invalid_kind"),
        (json!({"title": "长".repeat(101)}), 400, "title_too_long"),
        (json!({"body": ""}), 400, "body_required"),
        (json!({"phone": "110"}), 400, "phone_invalid"),
        (json!({"title": 5}), 400, "malformed_json"),
        (json!({"body": "<script>alert(1)</script>\u{0}"}), 400, "invalid_characters"),
    ];
    for (patch, want, code) in cases {
        let mut body = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = api.call(Method::POST, "/api/v1/cases", None, Some(body)).await;
        assert_eq!(r.status.as_u16(), want, "{patch}: {}", r.body);
        assert_eq!(r.body["error"]["code"], code, "{patch}");
        assert!(!r.body["error"]["message"].as_str().unwrap().is_empty());
    }
    let url = server.url("/api/v1/cases");
    let raw = |body: Vec<u8>, ct: &'static str| api.http.post(&url).header("content-type", ct).body(body).send();
    let r = raw(b"{\"title\": \"\xff\xfe\"}".to_vec(), "application/json").await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "invalid_encoding");
    let r = raw(b"mailbox=mayor".to_vec(), "application/x-www-form-urlencoded").await.unwrap();
    assert_eq!(r.status(), 415);
    let big = serde_json::to_vec(&json!({"body": "字".repeat(40_000)})).unwrap();
    let r = raw(big, "application/json").await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "request_too_large");
    let r = raw(b"{not json".to_vec(), "application/json").await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(count().await, before, "nothing was written");

    // Idempotency: the same key again is the same case; the same key with another body is refused.
    let send = |key: &'static str, body: Value| api.http.post(&url).header("idempotency-key", key).json(&body).send();
    const KEY: &str = "e2e-idempotency-key-1";
    let first: Value = send(KEY, good.clone()).await.unwrap().json().await.unwrap();
    let again = send(KEY, good.clone()).await.unwrap();
    assert_eq!(again.status(), 201);
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["number"], again["number"]);
    assert_eq!(first["query_code"], again["query_code"]);
    assert_eq!(again["replayed"], true);
    let mut other = good.clone();
    other["title"] = json!("另一条");
    assert_eq!(send(KEY, other).await.unwrap().status(), 409);
    assert_eq!(count().await, before + 1);
    // A key too short to keep a sealed code safe is refused, and nothing is written.
    let short = send("key-1", good.clone()).await.unwrap();
    assert_eq!(short.status(), 400);
    assert_eq!(short.json::<Value>().await.unwrap()["error"]["code"], "invalid_idempotency_key");
    assert_eq!(count().await, before + 1);
    // Replays and the refused reuse took no case number: the next case gets the next one.
    let next: Value = send("e2e-idempotency-key-2", good.clone()).await.unwrap().json().await.unwrap();
    let seq =
        |v: &Value| v["number"].as_str().unwrap()[v["number"].as_str().unwrap().len() - 4..].parse::<u32>().unwrap();
    assert_eq!(seq(&next), seq(&first) + 1, "no gap in the case numbers: {first} {next}");
    // The store keeps neither the key nor the code in the clear.
    let db = rusqlite::Connection::open(server.dir.join("mailbox.db")).unwrap();
    let stored: Vec<String> = db
        .prepare("SELECT key_digest || ' ' || sealed_code FROM idempotency")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stored.len(), 2);
    let code = first["query_code"].as_str().unwrap();
    assert!(stored.iter().all(|row| !row.contains(code) && !row.contains(KEY)), "{stored:?}");
}

/// Behind a reverse proxy every citizen arrives from the proxy's address. With `--trusted-proxy`,
/// the client named in X-Forwarded-For is limited, not the proxy — so one guesser does not lock
/// the whole city out of tracking; without it, the header is the client's own claim and ignored.
#[tokio::test]
async fn query_code_limits_hold_per_client_behind_a_trusted_proxy() {
    let guess = |api: &Api, number: &str, code: &str, from: &str| {
        let url = format!("{}/api/v1/cases/{number}?query_code={code}", api.base);
        let req = api.http.get(url).header("x-forwarded-for", from.to_owned());
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let server = Server::start_with("proxy", &["--trusted-proxy", "127.0.0.1/32", "--trusted-proxy", "::1"]);
    let api = Api::new(&server);
    let mut cases = Vec::new();
    for _ in 0..6 {
        cases.push(api.submit("mayor", "consultation", false).await);
    }
    // One guesser: 5 wrong codes over 5 cases, then refused — whichever case it tries.
    for (number, _) in &cases[..5] {
        assert_eq!(guess(&api, number, "WRONGCODE0", "203.0.113.7").await, 404);
    }
    let (number, code) = &cases[5];
    assert_eq!(guess(&api, number, code, "203.0.113.7").await, 429, "the guesser is limited");
    // Another citizen through the same proxy still follows their case.
    assert_eq!(guess(&api, number, code, "198.51.100.23").await, 200, "other citizens are not");
    // A client claiming an address of its own ahead of the proxy's: the proxy's entry counts.
    assert_eq!(guess(&api, number, code, "198.51.100.99, 203.0.113.7").await, 429);
    // The proxy terminated TLS: responses carry HSTS; over plain HTTP they do not.
    let hsts = |api: &Api, proto: Option<&'static str>| {
        let mut req = api.http.get(format!("{}/healthz", api.base));
        if let Some(p) = proto {
            req = req.header("x-forwarded-proto", p);
        }
        async move { req.send().await.unwrap().headers().get("strict-transport-security").is_some() }
    };
    assert!(hsts(&api, Some("https")).await);
    assert!(!hsts(&api, None).await);

    // Without trusted proxies the header changes nothing: the guesser cannot escape its limit.
    let server = Server::start("no-proxy");
    let api = Api::new(&server);
    assert!(!hsts(&api, Some("https")).await, "X-Forwarded-Proto from anyone is no proof of HTTPS");
    let mut cases = Vec::new();
    for _ in 0..6 {
        cases.push(api.submit("mayor", "consultation", false).await);
    }
    for (i, (number, _)) in cases[..5].iter().enumerate() {
        assert_eq!(guess(&api, number, "WRONGCODE0", &format!("203.0.113.{i}")).await, 404);
    }
    let (number, code) = &cases[5];
    assert_eq!(guess(&api, number, code, "198.51.100.23").await, 429, "X-Forwarded-For is not trusted by default");
}

#[tokio::test]
async fn citizen_codes_are_rate_limited_and_staff_auth_is_enforced() {
    let server = Server::start("auth");
    let api = Api::new(&server);
    let (number, code) = api.submit("mayor", "consultation", true).await;
    assert_eq!(api.citizen(&number, "WRONGCODE0").await.status, 404);
    assert_eq!(api.citizen("GA000000000000", &code).await.status, 404, "no hint that a number exists");
    for _ in 0..4 {
        api.citizen(&number, "WRONGCODE0").await;
    }
    assert_eq!(api.citizen(&number, &code).await.status, 429, "even the right code waits after repeated failures");

    // Staff routes need a signed-in user.
    assert_eq!(api.call(Method::GET, "/api/v1/staff/inbox", None, None).await.status, 401);
    assert_eq!(api.call(Method::GET, "/api/v1/staff/inbox", Some("not-a-token"), None).await.status, 401);
    // Citizens and admins have no inbox.
    let admin = api.login("admin").await;
    assert_eq!(api.call(Method::GET, "/api/v1/staff/inbox", Some(&admin), None).await.status, 403);

    // Cookie sessions need the CSRF token on state-changing requests.
    let jar = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let login: Value = jar
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"username": "zfb", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csrf = login["csrf_token"].as_str().unwrap();
    assert_eq!(jar.get(server.url("/api/v1/auth/me")).send().await.unwrap().status(), 200);
    let no_csrf = jar.post(server.url("/api/v1/auth/logout")).send().await.unwrap();
    assert_eq!(no_csrf.status(), 403);
    let with_csrf = jar.post(server.url("/api/v1/auth/logout")).header("x-csrf-token", csrf).send().await.unwrap();
    assert_eq!(with_csrf.status(), 204);
    assert_eq!(jar.get(server.url("/api/v1/auth/me")).send().await.unwrap().status(), 401);

    // Five wrong passwords lock the account, even for the right password.
    for _ in 0..5 {
        let r = api
            .call(Method::POST, "/api/v1/auth/login", None, Some(json!({"username": "gaj", "password": "wrong"})))
            .await;
        assert_eq!(r.status, 401);
    }
    let r = api
        .call(Method::POST, "/api/v1/auth/login", None, Some(json!({"username": "gaj", "password": PASSWORD})))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["error"]["code"], "account_locked");
}

#[tokio::test]
async fn health_openapi_and_unknown_routes() {
    let server = Server::start("misc");
    let api = Api::new(&server);
    let r = api.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, 200);
    // Ready: the store answered a read.
    let r = api.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, 200);
    let doc = api.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc.body["paths"]["/api/v1/cases"]["post"].is_object());
    let r = api.call(Method::GET, "/api/v1/nothing-here", None, None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["error"]["code"], "not_found");
    let r = api.call(Method::DELETE, "/api/v1/mailboxes", None, None).await;
    assert_eq!(r.status, 405);
    let resp = api.http.get(server.url("/api/v1/mailboxes")).send().await.unwrap();
    assert!(resp.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
}

#[tokio::test]
async fn public_report_replies_assessment_exports_calendar_import_and_reconcile() {
    let server = Server::start("reports");
    let api = Api::new(&server);
    let xfj = api.login("xfj").await;
    let jtj = api.login("jtj").await;
    let (number, _) = api.submit("mayor", "complaint", true).await;
    let id = api.find(&xfj, &number).await["id"].as_str().unwrap().to_owned();
    api.ok(&xfj, &id, json!({"action": "accept"})).await;
    api.ok(&xfj, &id, transfer("transport", "standard")).await;
    api.ok(&jtj, &id, json!({"action": "receive"})).await;
    api.ok(&jtj, &id, json!({"action": "reply", "text": "王小明您好，已修复，电话13812345678。", "public": true}))
        .await;
    let zfb = api.login("zfb").await;
    // A typical case needs a note on why; it is published masked with the case.
    let refused = api.act(&zfb, &id, None, json!({"action": "feature"})).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let note = "交通运输局当天修复路面，答复具体（王小明 13812345678 表示满意）。";
    api.ok(&zfb, &id, json!({"action": "feature", "note": note})).await;
    let (_, _) = api.submit("mayor", "suggestion", false).await;

    let stats = api.call(Method::GET, "/api/v1/public/stats", None, None).await;
    assert_eq!(stats.status, 200, "{}", stats.body);
    assert_eq!(stats.body["total"]["received"], 2);
    assert_eq!(stats.body["total"]["replied"], 1);
    assert_eq!(stats.body["total"]["in_progress"], 1);
    assert_eq!(stats.body["replied_on_time"], 1);
    assert_eq!(stats.body["featured"].as_array().unwrap().len(), 1);
    let shown = stats.body["featured"][0]["featured_note"].as_str().unwrap();
    assert!(shown.starts_with("交通运输局当天修复路面") && !shown.contains("13812345678"), "{shown}");
    assert_eq!(api.call(Method::GET, "/api/v1/public/stats?month=2026-13", None, None).await.status, 400);

    let replies = api.call(Method::GET, "/api/v1/public/replies?mailbox=mayor&q=修复", None, None).await;
    assert_eq!(replies.status, 200);
    let list = replies.body["items"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert!(replies.body["next"].is_null(), "one page");
    let text = list[0].to_string();
    assert!(!text.contains("13812345678") && !text.contains("王小明"), "masked: {text}");
    assert!(list[0]["body"].as_str().unwrap().contains("138****5678"));

    let too_long = api.call(Method::GET, "/api/v1/staff/assessment?from=2020-01&months=132", Some(&zfb), None).await;
    assert_eq!((too_long.status.as_u16(), too_long.body["error"]["code"].as_str()), (400, Some("invalid_period")));
    let this_year = chrono::Utc::now().format("%Y").to_string();
    let path = |f: &str| format!("/api/v1/staff/assessment?from={this_year}-01&months=12&format={f}");
    let rows = api.call(Method::GET, &path("json"), Some(&zfb), None).await;
    assert_eq!(rows.status, 200);
    let transport = rows.body.as_array().unwrap().iter().find(|r| r["unit"] == "transport").cloned().unwrap();
    assert_eq!(transport["on_time"], 1);
    assert_eq!(transport["on_time_rate"], 1.0);
    assert_eq!(api.call(Method::GET, &path("json"), Some(&jtj), None).await.status, 403, "supervisors only");
    let csv = api.http.get(server.url(&path("csv"))).bearer_auth(&zfb).send().await.unwrap();
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    assert!(csv.contains("广安市交通运输局"), "{csv}");
    let xlsx = api.http.get(server.url(&path("xlsx"))).bearer_auth(&zfb).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(&xlsx[..2], b"PK", "an XLSX file is a zip");

    let notice =
        json!({"year": 2027, "papers": ["test"], "days": [{"name": "元旦", "date": "2027-01-01", "isOffDay": true}]});
    let admin = api.login("admin").await;
    assert_eq!(api.call(Method::POST, "/api/v1/admin/calendar", Some(&zfb), Some(notice.clone())).await.status, 403);
    let bad = api.call(Method::POST, "/api/v1/admin/calendar", Some(&admin), Some(json!({"year": "x"}))).await;
    assert_eq!(bad.status, 400);
    let imported = api.call(Method::POST, "/api/v1/admin/calendar", Some(&admin), Some(notice)).await;
    assert_eq!(imported.status, 200, "{}", imported.body);
    assert_eq!(imported.body["year"], 2027);

    // The counters agree with the cases (the CLI reads the same database).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailbox"))
        .args(["stats", "reconcile", "--data-dir", server.dir.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("cases: 2,") && stdout.contains("differences: 0"), "{stdout}");
}

/// Submits a message; returns its number and the id the dispatcher finds in the inbox.
async fn post_case(api: &Api, dispatcher: &str, body: Value) -> (String, String) {
    let r = api.call(Method::POST, "/api/v1/cases", None, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let number = r.body["number"].as_str().unwrap().to_owned();
    let id = api.find(dispatcher, &number).await["id"].as_str().unwrap().to_owned();
    (number, id)
}

/// The staff view of a case once the triage worker has recorded its suggestions (within 10 s).
async fn triaged(api: &Api, token: &str, id: &str) -> Value {
    for _ in 0..100 {
        let view = api.call(Method::GET, &format!("/api/v1/staff/cases/{id}"), Some(token), None).await.body;
        if !view["case"]["triage"].is_null() {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("case {id} was not triaged within 10 s");
}

#[tokio::test]
async fn triage_suggestions_reach_the_dispatcher_without_making_the_case_stale() {
    let server = Server::start("triage");
    let api = Api::new(&server);
    let xfj = api.login("xfj").await;
    let first = json!({
        "mailbox": "mayor", "kind": "consultation", "title": "投诉鼎屏镇幸福小区违章搭建长期无人处理",
        "body": "幸福小区三号楼顶违章搭建三个月，物业公司和城管一直不处理，影响邻居采光。我叫李建国，电话13912345678。",
        "name": "李建国", "phone": "13912345678", "public": true
    });
    let (number, id) = post_case(&api, &xfj, first).await;
    let seen = api.call(Method::GET, &format!("/api/v1/staff/cases/{id}"), Some(&xfj), None).await;
    let seen_version = seen.body["case"]["version"].as_u64().unwrap();

    // The in-process triage worker records its suggestions moments later.
    let view = triaged(&api, &xfj, &id).await;
    let t = &view["case"]["triage"];
    assert_eq!(t["domain"]["value"], "城乡建设", "{t}");
    assert!(t["domain"]["words"].as_array().unwrap().contains(&json!("违章")), "{t}");
    assert_eq!(t["units"][0], "housing-construction", "{t}");
    assert_eq!(t["jurisdiction"]["value"], "linshui", "{t}");
    assert_eq!(t["kind"]["value"], "complaint", "the text complains, the citizen chose consultation: {t}");
    let kinds: Vec<&str> = t["personal_data"].as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"手机号码") && kinds.contains(&"姓名"), "{t}");
    assert!(!t.to_string().contains("13912345678"), "suggestions never hold the personal data");
    let events: Vec<&str> = view["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["submitted", "triaged"]);

    // The dispatcher acts on the view from before the suggestions: not stale.
    let accepted = api.act(&xfj, &id, Some(seen_version), json!({"action": "accept"})).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let stale = api.act(&xfj, &id, Some(seen_version), json!({"action": "reject", "reason": "重复"})).await;
    assert_eq!(stale.status, 409, "{}", stale.body);

    // The same matter again, lightly edited: the first case is listed as its likely original.
    let again = json!({
        "mailbox": "mayor", "kind": "complaint", "title": "再次投诉鼎屏镇幸福小区违章搭建无人处理",
        "body": "幸福小区3号楼顶违章搭建已经三个月，物业公司和城管一直不处理，影响邻居采光，请尽快处理。",
        "name": "张三", "phone": "13700000000", "public": false
    });
    let (_, second) = post_case(&api, &xfj, again).await;
    let duplicates = triaged(&api, &xfj, &second).await["case"]["triage"]["duplicates"].clone();
    assert_eq!(duplicates[0]["number"], number.as_str(), "{duplicates}");
    assert!(duplicates[0]["similarity"].as_u64().unwrap() >= 50, "{duplicates}");
}

/// Written to a file (no terminal), the server's log has no colour codes.
#[tokio::test]
async fn a_log_written_to_a_file_has_no_colour_codes() {
    let server = Server::start_logging("log");
    let api = Api::new(&server);
    api.submit("mayor", "complaint", true).await;
    let log = std::fs::read_to_string(server.dir.join("serve.log")).unwrap();
    assert!(log.contains("case submitted"), "{log}");
    assert!(!log.contains('\u{1b}'), "colour codes in {log:?}");
}

/// What a reader could take from a page or a JSON document: full-width digits as ASCII, and the
/// spaces, hyphens and dots people put inside numbers gone.
fn readable(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - 0xFF10 + '0' as u32),
            c if c.is_whitespace() || "-－.".contains(c) => None,
            c => Some(c),
        })
        .collect()
}

/// Personal data written the ways citizens and staff write it — a full-width phone, +86 with
/// spaces, an ID number, the citizen's name, a house and a room number — in the message and in every
/// text staff add. Supervisors see it masked everywhere (case view, audit trail, inbox, outbox,
/// console page and export), public pages never; admins have no case access at all; no view carries
/// the query-code digest.
#[tokio::test]
async fn supervisors_and_the_public_never_see_personal_data() {
    const LEAKS: [&str; 6] = ["13912345678", "王小明", "51160219900101123X", "建设路123号", "301室", "8613912345678"];
    let no_leak = |what: &str, text: &str| {
        let seen = readable(text);
        for leak in LEAKS {
            assert!(!seen.contains(leak), "{what} shows {leak}: {text}");
        }
    };
    let server = Server::start("pii");
    let api = Api::new(&server);
    let pii = "我叫王小明，电话１３９ １２３４ ５６７８，身份证51160219900101123X，住建设路123号5栋2单元301室";
    let body = json!({"mailbox": "mayor", "kind": "complaint", "title": "王小明：+86 139 1234 5678 家门口路灯不亮",
        "body": format!("路灯坏了一个月。{pii}。"), "name": "王小明", "phone": "13912345678", "public": true});
    let r = api.call(Method::POST, "/api/v1/cases", None, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let (number, code) =
        (r.body["number"].as_str().unwrap().to_owned(), r.body["query_code"].as_str().unwrap().to_owned());
    let xfj = api.login("xfj").await;
    let id = api.find(&xfj, &number).await["id"].as_str().unwrap().to_owned();
    api.ok(&xfj, &id, json!({"action": "accept"})).await;
    api.ok(&xfj, &id, transfer("transport", "standard")).await;
    let jtj = api.login("jtj").await;
    api.ok(&jtj, &id, json!({"action": "receive"})).await;
    api.ok(&jtj, &id, json!({"action": "request_extension", "days": 3, "reason": format!("需联系{pii}核实")})).await;
    api.ok(&xfj, &id, json!({"action": "decide_extension", "approve": true, "note": format!("同意，{pii}")})).await;
    let today = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).date_naive();
    api.ok(&jtj, &id, json!({"action": "record_meeting", "held_on": today, "place": "建设路123号", "summary": pii}))
        .await;
    let zfb = api.login("zfb").await;
    api.ok(&zfb, &id, json!({"action": "urge", "note": format!("请尽快联系王小明 +86 139-1234-5678")})).await;
    let reply = json!({"action": "reply", "public": true, "text": format!("王小明您好，已修复。{pii}")});
    let handler_view = api.ok(&jtj, &id, reply).await;
    assert!(handler_view["case"]["body"].as_str().unwrap().contains("王小明"), "the lead unit sees the message whole");
    assert!(handler_view["case"].get("query_code_digest").is_none());
    let rated = api
        .call(
            Method::POST,
            &format!("/api/v1/cases/{number}/rating"),
            None,
            Some(json!({"query_code": code, "satisfied": false, "comment": format!("还是不亮，{pii}")})),
        )
        .await;
    assert_eq!(rated.status, 200, "{}", rated.body);

    let view = api.call(Method::GET, &format!("/api/v1/staff/cases/{id}"), Some(&zfb), None).await;
    assert_eq!(view.status, 200);
    assert!(view.body["case"].get("query_code_digest").is_none(), "no view carries the digest");
    no_leak("the supervisor's case view", &view.body.to_string());
    let inbox = api.call(Method::GET, "/api/v1/staff/inbox?limit=500", Some(&zfb), None).await;
    no_leak("the supervisor's inbox", &inbox.body.to_string());
    let outbox = api.call(Method::GET, "/api/v1/staff/outbox", Some(&zfb), None).await;
    assert!(!outbox.body.as_array().unwrap().is_empty());
    no_leak("notification subjects", &outbox.body.to_string());
    let jar = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let signed = jar
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"username": "zfb", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    for page in [format!("/console/cases/{id}"), "/console/export?format=csv".into(), "/console?q=".into()] {
        let r = jar.get(server.url(&page)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{page}");
        no_leak(&page, &r.text().await.unwrap());
    }
    for page in ["/api/v1/public/replies", "/replies", &format!("/replies?q={}", "路灯")] {
        let r = api.http.get(server.url(page)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{page}");
        let text = r.text().await.unwrap();
        assert!(text.contains("路灯"), "{page} lists the reply");
        no_leak(page, &text);
    }

    // Admins: no cases, no case notifications, no supervision page.
    let admin = api.login("admin").await;
    assert_eq!(api.call(Method::GET, &format!("/api/v1/staff/cases/{id}"), Some(&admin), None).await.status, 404);
    assert_eq!(api.call(Method::GET, "/api/v1/staff/outbox", Some(&admin), None).await.status, 403);
    let jar = reqwest::Client::builder().cookie_store(true).build().unwrap();
    jar.post(server.url("/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(jar.get(server.url("/console/supervision")).send().await.unwrap().status(), 403);
}

/// `mailbox api-keys` against the running server's database (one-line answers and errors).
fn api_keys(server: &Server, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailbox"))
        .arg("api-keys")
        .args(args)
        .args(["--data-dir", server.dir.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn another_system_posts_through_open311_with_a_key_made_and_revoked_on_the_command_line() {
    let server = Server::start("open311");
    let api = Api::new(&server);
    let (ok, out, err) = api_keys(&server, &["create", "--name", "12345热线工单系统", "--per-hour", "100"]);
    assert!(ok, "{err}");
    let secret = out
        .lines()
        .find_map(|l| l.split_once(": ").filter(|(k, _)| k.starts_with("secret")).map(|(_, v)| v.trim().to_owned()))
        .unwrap();
    let id = secret.split('.').next().unwrap().to_owned();
    let (_, list, _) = api_keys(&server, &["list"]);
    assert!(list.contains(&id) && list.contains("active") && !list.contains(&secret), "{list}");

    let form = [
        ("api_key", secret.as_str()),
        ("service_code", "linshui-head.help"),
        ("description", "邻水县某小区停水三天，请帮助协调恢复供水。"),
        ("last_name", "李"),
        ("phone", "139 0000 1234"),
        ("attribute[publish]", "no"),
    ];
    let post = || api.http.post(server.url("/open311/v2/requests.xml")).form(&form).send();
    let r = post().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["content-type"], "text/xml; charset=utf-8");
    let xml = r.text().await.unwrap();
    let number = xml.split("<service_request_id>").nth(1).and_then(|x| x.split('<').next()).unwrap().to_owned();
    // The district's 信访局 finds it in its inbox; its audit trail names the key.
    let dispatcher = api.login("ls-xfj").await;
    let found = api.find(&dispatcher, &number).await;
    let view = api
        .call(Method::GET, &format!("/api/v1/staff/cases/{}", found["id"].as_str().unwrap()), Some(&dispatcher), None)
        .await;
    assert_eq!(view.body["events"][0]["source"]["key_id"], id.as_str(), "{}", view.body);

    let (ok, out, _) = api_keys(&server, &["revoke", &id]);
    assert!(ok && out.contains("revoked"), "{out}");
    assert_eq!(post().await.unwrap().status(), 403);
    let (_, list, _) = api_keys(&server, &["list"]);
    assert!(list.contains("revoked"), "{list}");
    let (ok, _, err) = api_keys(&server, &["revoke", "k000000000000"]);
    assert!(!ok && err.trim_end().lines().count() == 1, "{err}");
}
