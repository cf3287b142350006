//! Citizens' attachments through the HTTP router on SQLite and files under the data folder: the
//! public form and `POST /api/v1/cases` take up to three JPEG, PNG or PDF files (the kind by
//! content); photos are stored without any metadata; bad files are refused with a Chinese message
//! and nothing is stored; staff who may see the case open its files; the public only files the
//! dispatcher marked publishable, once the reply is published.

use axum::http::StatusCode;
use mailbox_app::ports::CaseStore;
use mailbox_app::AppError;
use mailbox_conformance::fixtures::{jpeg_has_metadata, jpeg_with_gps, pdf, EXIF_MARK};
use mailbox_domain::workflow::Command;
use mailbox_domain::{Actor, AttachmentKind, Case, CaseNumber, Role, UnitId};
use mailbox_tests::http::{Answer, Api, Part};

fn fields<'a>(key: &'a str, public: &'a str) -> Vec<Part<'a>> {
    vec![
        Part::Text("key", key),
        Part::Text("kind", "complaint"),
        Part::Text("title", "城北路路面塌陷"),
        Part::Text("body", "城北路有一处路面塌陷，附照片。我叫王小明，电话13812345678。"),
        Part::Text("name", "王小明"),
        Part::Text("phone", "13812345678"),
        Part::Text("public", public),
    ]
}

fn file<'a>(file_name: &'a str, content_type: &'a str, bytes: &'a [u8]) -> Part<'a> {
    Part::File { name: "files", file_name, content_type, bytes }
}

/// The number on the page that answers a submitted form.
fn number_of(page: &Answer) -> String {
    assert_eq!(page.status, StatusCode::CREATED, "{}", page.body);
    let at = page.body.find("id=\"case-number\">").expect("the number is shown") + "id=\"case-number\">".len();
    page.body[at..].split('<').next().unwrap().to_owned()
}

async fn case(api: &Api, number: &str) -> Case {
    api.h.store.get_by_number(&CaseNumber::new(number)).await.unwrap().unwrap()
}

/// Every file under the attachments folder, as (path relative to it, bytes).
fn stored_files(api: &Api) -> Vec<(String, Vec<u8>)> {
    let root = api.h.dir().join("attachments");
    let mut out = Vec::new();
    for entry in walk(&root) {
        let rel = entry.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
        out.push((rel, std::fs::read(&entry).unwrap()));
    }
    out
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_with_gps_is_stored_without_metadata_and_a_pdf_named_jpg_stays_a_pdf() {
    let api = Api::new("attach-form");
    let photo = jpeg_with_gps();
    assert!(jpeg_has_metadata(&photo), "the fixture carries EXIF with GPS");
    let scan = pdf();
    let mut parts = fields("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", "1");
    parts.push(file("IMG_0001.jpg", "image/jpeg", &photo));
    // A PDF named like a photo is a PDF; a path-like name changes nothing.
    parts.push(file("../../../etc/passwd.jpg", "image/jpeg", &scan));
    let page = api.multipart("/mailbox/mayor", &parts).await;
    let number = number_of(&page);
    assert!(page.body.contains("附件：2 个"), "{}", page.body);

    let c = case(&api, &number).await;
    let kinds: Vec<AttachmentKind> = c.attachments.iter().map(|a| a.kind).collect();
    assert_eq!(kinds, [AttachmentKind::Jpeg, AttachmentKind::Pdf]);
    assert!(c.attachments.iter().all(|a| !a.public));
    // Stored under their digests only, inside the attachments folder: the photo without metadata.
    let files = stored_files(&api);
    assert_eq!(files.len(), 2, "{:?}", files.iter().map(|f| &f.0).collect::<Vec<_>>());
    for (rel, bytes) in &files {
        let id = rel.replace('/', "");
        assert!(c.attachments.iter().any(|a| a.id == id), "{rel}");
        assert!(!bytes.windows(EXIF_MARK.len()).any(|w| w == EXIF_MARK), "{rel} keeps the GPS block");
    }
    assert!(!api.h.dir().join("etc").exists() && !api.h.dir().parent().unwrap().join("etc/passwd.jpg").exists());

    // Staff of the case open it (the dispatcher; the supervisors), others do not find it.
    let xfj = Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")));
    let zfb = Actor::staff("zfb", Role::Supervisor, Some(UnitId::new("city-gov-office")));
    let other = Actor::staff("ls-xfj", Role::Dispatcher, Some(UnitId::new("linshui-xfj")));
    let served =
        api.h.app.attachment_response(api.h.app.staff_attachment(&xfj, &c.id, 1).await.unwrap()).await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/jpeg");
    assert_eq!(served.headers()["content-security-policy"], "sandbox; default-src 'none'");
    let bytes = axum::body::to_bytes(served.into_body(), 1 << 24).await.unwrap();
    assert!(!jpeg_has_metadata(&bytes), "a served photo carries no metadata");
    let decoded = image::load_from_memory(&bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 48));
    // A PDF keeps its own metadata: for the staff of the case only, never public.
    let pdf_public = Command::PublishAttachment { number: 2, public: true };
    assert!(matches!(api.h.app.act(&xfj, &c.id, None, pdf_public).await, Err(AppError::Invalid { .. })));
    let pdf_served =
        api.h.app.attachment_response(api.h.app.staff_attachment(&zfb, &c.id, 2).await.unwrap()).await.unwrap();
    assert_eq!(pdf_served.headers()["content-disposition"], format!("attachment; filename=\"{number}-2.pdf\""));
    assert!(matches!(api.h.app.staff_attachment(&other, &c.id, 1).await, Err(AppError::NotFound)));
    assert!(matches!(api.h.app.staff_attachment(&xfj, &c.id, 3).await, Err(AppError::NotFound)));
    assert!(matches!(api.h.app.staff_attachment(&xfj, &c.id, 0).await, Err(AppError::NotFound)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_are_refused_with_a_chinese_message_and_nothing_is_stored() {
    let api = Api::new("attach-refused");
    let exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0This program cannot be run in DOS mode".to_vec();
    let photo = jpeg_with_gps();
    let six_mb = {
        let mut b = photo.clone();
        b.resize(6 * 1024 * 1024, 0);
        b
    };
    let cases: [(Vec<Part>, &str); 4] = [
        (vec![file("photo.png", "image/png", &exe)], "不是 JPEG、PNG 图片或 PDF 文件"),
        (vec![file("big.jpg", "image/jpeg", &six_mb)], "超过 5 MB"),
        (vec![file("a.jpg", "image/jpeg", &photo[..300])], "无法识别"),
        (
            vec![
                file("1.jpg", "image/jpeg", &photo),
                file("2.jpg", "image/jpeg", &photo),
                file("3.jpg", "image/jpeg", &photo),
                file("4.jpg", "image/jpeg", &photo),
            ],
            "附件最多3个",
        ),
    ];
    for (files, message) in cases {
        let mut parts = fields("b1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", "1");
        parts.extend(files);
        let page = api.multipart("/mailbox/mayor", &parts).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{message}");
        assert!(page.body.contains(message), "{message}: {}", page.body);
        // The form comes back filled in, asking for the files again.
        assert!(page.body.contains("城北路路面塌陷") && page.body.contains("请重新选择文件"), "{}", page.body);
    }
    // A message refused for its text stores no file either.
    let mut parts = fields("c1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", "1");
    parts[5] = Part::Text("phone", "12345");
    parts.push(file("ok.jpg", "image/jpeg", &photo));
    assert_eq!(api.multipart("/mailbox/mayor", &parts).await.status, StatusCode::BAD_REQUEST);
    assert!(api.h.store.scan(None, 10).await.unwrap().is_empty());
    assert!(stored_files(&api).is_empty(), "nothing stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_takes_files_in_a_multipart_request_and_keeps_its_own_limit_for_json() {
    let api = Api::new("attach-api");
    let request = serde_json::json!({
        "mailbox": "mayor", "kind": "help", "title": "积水", "body": "小区门口积水，附照片。",
        "name": "李四", "phone": "13900001234", "public": true
    })
    .to_string();
    let photo = jpeg_with_gps();
    let parts = [Part::Text("request", &request), file("x.jpg", "image/jpeg", &photo)];
    let answer = api.multipart("/api/v1/cases", &parts).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let number = answer.json()["number"].as_str().unwrap().to_owned();
    assert_eq!(case(&api, &number).await.attachments.len(), 1);
    let missing = api.multipart("/api/v1/cases", &[file("x.jpg", "image/jpeg", &photo)]).await;
    assert_eq!(
        (missing.status, missing.json()["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("request_required"))
    );
    // JSON stays within the API's 64 KiB, whatever the multipart limit of this route.
    let huge = serde_json::json!({"mailbox": "mayor", "body": "长".repeat(40_000)}).to_string();
    let request = axum::http::Request::post("/api/v1/cases")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(huge))
        .unwrap();
    let answer = api.send(request).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", answer.body);
    assert_eq!(answer.json()["error"]["code"], "request_too_large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_sees_a_file_only_when_marked_publishable_and_the_reply_is_published() {
    let api = Api::new("attach-public");
    let photo = jpeg_with_gps();
    let mut parts = fields("d1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", "1");
    parts.push(file("road.jpg", "image/jpeg", &photo));
    let number = number_of(&api.multipart("/mailbox/mayor", &parts).await);
    let mut private = fields("e1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", "0");
    private.push(file("road.jpg", "image/jpeg", &photo));
    let private = number_of(&api.multipart("/mailbox/mayor", &private).await);
    let url = format!("/replies/{number}/attachments/1");
    assert_eq!(api.get(&url).await.status, StatusCode::NOT_FOUND);

    let xfj = Actor::staff("xfj", Role::Dispatcher, Some(UnitId::new("city-xfj")));
    let jtj = Actor::staff("jtj", Role::Handler, Some(UnitId::new("transport")));
    let zfb = Actor::staff("zfb", Role::Supervisor, Some(UnitId::new("city-gov-office")));
    let id = case(&api, &number).await.id;
    let mark = |public| Command::PublishAttachment { number: 1, public };
    // Only the dispatcher marks; only with the citizen's consent; the number must exist.
    assert!(matches!(
        api.h.app.act(&jtj, &id, None, mark(true)).await,
        Err(AppError::NotFound | AppError::Forbidden(_))
    ));
    assert!(matches!(api.h.app.act(&zfb, &id, None, mark(true)).await, Err(AppError::Forbidden(_))));
    let private_id = case(&api, &private).await.id;
    assert!(matches!(api.h.app.act(&xfj, &private_id, None, mark(true)).await, Err(AppError::Invalid { .. })));
    let bad = Command::PublishAttachment { number: 2, public: true };
    assert!(matches!(api.h.app.act(&xfj, &id, None, bad).await, Err(AppError::Invalid { .. })));
    api.h.app.act(&xfj, &id, None, mark(true)).await.unwrap();
    assert!(case(&api, &number).await.attachments[0].public);
    // Marked, but the reply is not published yet: still not public.
    assert_eq!(api.get(&url).await.status, StatusCode::NOT_FOUND);

    mailbox_conformance::story::transferred_and_replied(&api.h.app, &id, "已修复。", true).await;
    let served = api.get(&url).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.header("content-type"), "image/jpeg");
    assert!(!jpeg_has_metadata(&served.bytes));
    let replies = api.get("/api/v1/public/replies").await.json();
    assert_eq!(replies["items"][0]["attachments"][0]["url"], url.as_str(), "{replies}");
    assert!(api.get("/replies").await.body.contains(&url));
    // Open311 gives it as the request's media_url, absolute.
    let request = axum::http::Request::get(format!("/open311/v2/requests/{number}.json"))
        .header("host", "mailbox.example.gov.cn")
        .body(axum::body::Body::empty())
        .unwrap();
    let open311 = api.send(request).await.json();
    assert_eq!(open311[0]["media_url"], format!("http://mailbox.example.gov.cn{url}"));
    // Unmarked again: gone from the public at once.
    api.h.app.act(&xfj, &id, None, mark(false)).await.unwrap();
    assert_eq!(api.get(&url).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.get(&format!("/replies/{number}/attachments/x")).await.status, StatusCode::NOT_FOUND);
    // The citizen's own page counts the files.
    let code_less = api.get(&format!("/replies/{private}/attachments/1")).await;
    assert_eq!(code_less.status, StatusCode::NOT_FOUND);
}
