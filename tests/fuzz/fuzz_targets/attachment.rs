//! Attachments (citizens' files, untrusted bytes into image decoders): any bytes, the first byte
//! choosing a JPEG, PNG or PDF signature to put in front (so that most inputs reach a decoder). No
//! panic, no runaway allocation (the decoder's limits); a file accepted keeps the kind its content
//! says, and an accepted image comes out as a well-formed file of that kind without any metadata
//! segment or chunk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailbox_app::attachments::sanitize;
use mailbox_domain::AttachmentKind;

/// The markers of a JPEG up to its scan: none may be APP1–APP15 (EXIF, XMP, ICC, IPTC…) or COM.
fn jpeg_metadata_free(b: &[u8]) -> bool {
    assert!(b.starts_with(&[0xFF, 0xD8]), "not a JPEG");
    let mut i = 2;
    while i + 4 <= b.len() {
        assert_eq!(b[i], 0xFF, "segment expected at {i}");
        let marker = b[i + 1];
        if marker == 0xDA {
            return true;
        }
        if (0xE1..=0xEF).contains(&marker) || marker == 0xFE {
            return false;
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        i += 2 + len;
    }
    panic!("a JPEG without a scan");
}

/// The chunks of a PNG: only the image's own (no eXIf, text, time, colour profile).
fn png_metadata_free(b: &[u8]) -> bool {
    assert!(b.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let mut i = 8;
    while i + 8 <= b.len() {
        let len = u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
        let kind = &b[i + 4..i + 8];
        if !matches!(kind, b"IHDR" | b"PLTE" | b"IDAT" | b"IEND" | b"tRNS") {
            return false;
        }
        if kind == b"IEND" {
            return true;
        }
        i += 12 + len;
    }
    panic!("a PNG without its end");
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else { return };
    let prefix: &[u8] = match choice % 4 {
        0 => &[0xFF, 0xD8, 0xFF],
        1 => b"\x89PNG\r\n\x1a\n",
        2 => b"%PDF-",
        _ => b"",
    };
    let file = [prefix, rest].concat();
    let Ok((kind, out)) = sanitize(&file, 1) else { return };
    match kind {
        AttachmentKind::Jpeg => {
            assert!(file.starts_with(&[0xFF, 0xD8, 0xFF]));
            assert!(jpeg_metadata_free(&out), "metadata kept");
        }
        AttachmentKind::Png => {
            assert!(file.starts_with(b"\x89PNG"));
            assert!(png_metadata_free(&out), "metadata kept");
        }
        AttachmentKind::Pdf => assert_eq!(out, file, "a PDF is kept as it is"),
    }
});
