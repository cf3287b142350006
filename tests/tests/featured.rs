//! The monthly typical-case column (典型案例): a supervisor chooses a well-handled case with a public
//! reply, saying why; the column of the reply's month shows it — texts and the note with personal
//! data masked — as a page and a spreadsheet for the media.

use mailbox_app::input::SubmitRequest;
use mailbox_app::ports::CaseStore;
use mailbox_app::AppError;
use mailbox_domain::workflow::Command;
use mailbox_domain::{Actor, CaseNumber, Role, UnitId};
use mailbox_tests::{at, Harness};

/// A case of 王小明 replied by the transport bureau, publicly when `public`.
async fn replied(h: &Harness, public: bool) -> mailbox_domain::CaseId {
    let request = SubmitRequest {
        mailbox: "mayor".into(),
        kind: "complaint".into(),
        title: "小区门口道路破损".into(),
        body: "小区门口道路坑洼，雨天积水。我叫王小明，电话13812345678。".into(),
        name: "王小明".into(),
        phone: "13812345678".into(),
        public,
    };
    let number = h.app.submit(&request, None).await.unwrap().number;
    let id = h.store.get_by_number(&CaseNumber::new(number.as_str())).await.unwrap().unwrap().id;
    mailbox_conformance::story::transferred_and_replied(&h.app, &id, "王小明您好：路面已修复。", public).await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typical_case_is_chosen_with_a_note_and_published_masked_in_its_month() {
    let h = Harness::new("featured", at("2026-11-20T10:00:00+08:00"));
    let shown = replied(&h, true).await;
    let private = replied(&h, false).await;
    let zfb = Actor::staff("zfb", Role::Supervisor, Some(UnitId::new("city-gov-office")));
    let note = "交通运输局三天内修复路面，答复具体。王小明（13812345678）表示满意。";
    // Supervisors (and the case's dispatcher) choose, not the unit that handled it; a private reply is
    // never a typical case; the note is required.
    let jtj = Actor::staff("jtj", Role::Handler, Some(UnitId::new("transport")));
    let feature = |note: &str| Command::Feature { note: note.into() };
    assert!(matches!(h.app.act(&jtj, &shown, None, feature(note)).await, Err(AppError::Forbidden(_))));
    assert!(matches!(h.app.act(&zfb, &private, None, feature(note)).await, Err(AppError::Invalid { .. })));
    assert!(matches!(h.app.act(&zfb, &shown, None, feature("")).await, Err(AppError::Invalid { .. })));
    h.app.act(&zfb, &shown, None, feature(note)).await.unwrap();

    let column = h.app.featured_cases("2026-11").await.unwrap();
    assert_eq!(column.len(), 1, "{column:?}");
    let c = &column[0];
    let masked_note = c.featured_note.as_deref().expect("the note is shown");
    assert!(masked_note.starts_with("交通运输局三天内修复路面"), "{masked_note}");
    for text in [masked_note, c.body.as_str(), c.reply.as_str(), c.title.as_str()] {
        assert!(!text.contains("13812345678") && !text.contains("王小明"), "masked: {text}");
    }
    assert!(h.app.featured_cases("2026-10").await.unwrap().is_empty(), "another month's column");
    assert!(matches!(h.app.featured_cases("2026-13").await, Err(AppError::Invalid { .. })));
    // The monthly report lists it with its note too.
    assert_eq!(h.app.monthly_report("2026-11").await.unwrap().featured[0].featured_note.as_deref(), Some(masked_note));
    // The spreadsheet for the media: one row, the note in its column.
    let table = mailbox_app::reports::featured_table("2026-11", &column);
    assert_eq!(table.headers.last().map(String::as_str), Some("推荐理由"));
    assert_eq!(table.rows.len(), 1);
    let xlsx = mailbox_app::export::to_xlsx(&table).unwrap();
    assert_eq!(&xlsx[..2], b"PK");
    // The audit trail says why, masked for the supervisors who read it.
    let view = h.app.staff_view(&zfb, &shown).await.unwrap();
    let line = serde_json::to_string(&view.events.last().unwrap().kind).unwrap();
    assert!(line.contains("交通运输局三天内修复路面") && !line.contains("13812345678"), "{line}");
    let kept = view.case.featured_note.as_deref().unwrap();
    assert!(kept.starts_with("交通运输局三天内修复路面") && !kept.contains("13812345678"), "{kept}");
}
