//! Masking (every public read): any text, with or without the citizen's name. Found spans are in
//! order, apart, on character boundaries; each masked form hides part of what it replaces (some digits of
//! every number); and the
//! masked text is exactly the text with each span replaced. (Masked text is not re-scanned: the
//! digits a mask keeps, such as a phone's last four, may join a neighbouring number that was no
//! personal data into a new-looking one.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailbox_domain::mask::{find, mask_personal_data, PersonalKind};

fn digit_count(s: &str) -> usize {
    s.chars().filter(|c| c.is_ascii_digit() || ('\u{FF10}'..='\u{FF19}').contains(c)).count()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The first line, when short, plays the citizen's name.
    let (name, body) = match text.split_once('\n') {
        Some((n, b)) if n.chars().count() <= 50 => (n, b),
        _ => ("", text),
    };
    let found = find(body, &[name]);
    let mut expected = String::new();
    let mut at = 0;
    for f in &found {
        assert!(f.range.start >= at && f.range.start < f.range.end, "spans out of order: {found:?}");
        let original = &body[f.range.clone()];
        assert!(f.masked.contains('*'), "{:?}: {original:?} masked as {:?}", f.kind, f.masked);
        let (before, after) = (digit_count(original), digit_count(&f.masked));
        let number = !matches!(f.kind, PersonalKind::Email | PersonalKind::Name);
        assert!(!number || before == 0 || after < before, "{:?}: {original:?} masked as {:?}", f.kind, f.masked);
        expected.push_str(&body[at..f.range.start]);
        expected.push_str(&f.masked);
        at = f.range.end;
    }
    expected.push_str(&body[at..]);
    assert_eq!(mask_personal_data(body, &[name]), expected);
});
