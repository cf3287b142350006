//! Fixtures: files for the attachment tests, made here rather than committed (a phone photo as
//! cameras write it, with an EXIF block that holds GPS coordinates), and common commands.

use image::{ImageEncoder, RgbImage};

/// The text inside the fixture's EXIF block (its description and GPS directory): a stored file
/// must never contain it.
pub const EXIF_MARK: &[u8] = b"GPSSECRET";

/// A 64 × 48 JPEG with an EXIF block holding a GPS directory (latitude reference N) and an image
/// description `GPSSECRET`.
pub fn jpeg_with_gps() -> Vec<u8> {
    let img = RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 90]));
    let mut out = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
    encoder.set_exif_metadata(exif_with_gps()).expect("the JPEG encoder takes EXIF");
    encoder.write_image(img.as_raw(), 64, 48, image::ExtendedColorType::Rgb8).expect("encodes");
    out
}

/// A little-endian TIFF header, IFD0 with an ImageDescription and a GPS IFD pointer (0x8825), the
/// GPS IFD with a latitude reference.
fn exif_with_gps() -> Vec<u8> {
    let mut e = b"II\x2a\0\x08\0\0\0".to_vec();
    e.extend_from_slice(&[2, 0]);
    e.extend_from_slice(&[0x0e, 0x01, 2, 0, 10, 0, 0, 0, 38, 0, 0, 0]); // ImageDescription at 38
    e.extend_from_slice(&[0x25, 0x88, 4, 0, 1, 0, 0, 0, 48, 0, 0, 0]); // GPS IFD at 48
    e.extend_from_slice(&[0, 0, 0, 0]);
    e.extend_from_slice(EXIF_MARK);
    e.push(0); // 38..48
    e.extend_from_slice(&[1, 0]);
    e.extend_from_slice(&[0x01, 0x00, 2, 0, 2, 0, 0, 0, b'N', 0, 0, 0]); // GPSLatitudeRef "N"
    e.extend_from_slice(&[0, 0, 0, 0]);
    e
}

/// Whether a JPEG still carries metadata: an APP1 (EXIF, XMP), APP13 (IPTC) or comment segment, or
/// the fixture's mark anywhere.
pub fn jpeg_has_metadata(jpeg: &[u8]) -> bool {
    let segments = [[0xFF, 0xE1], [0xFF, 0xED], [0xFF, 0xFE]];
    jpeg.windows(2).any(|w| segments.iter().any(|s| w == s)) || jpeg.windows(EXIF_MARK.len()).any(|w| w == EXIF_MARK)
}

/// A small PDF (what a scanner writes, without scripts).
pub fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

/// A transfer (转办) to `unit` alone, as a standard complaint (20 working days).
pub fn transfer_to(unit: &str) -> mailbox_domain::workflow::Command {
    mailbox_domain::workflow::Command::Dispatch {
        mode: mailbox_domain::DispatchMode::Transfer,
        lead: mailbox_domain::UnitId::new(unit),
        co_handlers: vec![],
        class: mailbox_domain::DeadlineClass::Standard,
        special_days: None,
    }
}
