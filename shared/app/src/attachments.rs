//! Citizens' attachments (附件): up to three photos or documents per message. What a file is comes
//! from its content, never its name; images are decoded and encoded again, so that EXIF, GPS and
//! every other kind of metadata is gone before anything is stored; a file that does not decode is
//! refused with a message the citizen understands. Stored files are found by the SHA-256 of their
//! bytes (content-addressed: never a path a client chose) behind the [`AttachmentStore`] port —
//! files under the data folder in the embedded host, a private S3 bucket on AWS.

use crate::error::AppError;
use crate::ports::StoreResult;
use async_trait::async_trait;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use mailbox_domain::case::{Attachment, AttachmentKind, MAX_ATTACHMENTS};
use sha2::{Digest, Sha256};
use std::io::Cursor;

/// Largest file a citizen may attach.
pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;
/// Largest request that carries a message and its files (three files and the form around them).
pub const MAX_UPLOAD_REQUEST_BYTES: usize = MAX_ATTACHMENTS * MAX_FILE_BYTES + 256 * 1024;
/// Longest side of a stored image: a larger photo is scaled down (a phone's 4032 × 3024 stays).
pub const MAX_SIDE: u32 = 4096;
/// Bounds on what a decoder may allocate, whatever the file claims: a few hundred bytes can declare
/// a 60,000 × 60,000 picture. 40 megapixels covers every phone camera's photo (a 16 MP photo is
/// 4,624 × 3,472); decoded as RGBA it is 160 MB at most, and nothing else of that size is made
/// (scaling down writes only the smaller picture).
const MAX_DECODED_SIDE: u32 = 12_000;
pub const MAX_PIXELS: u64 = 40_000_000;
const MAX_DECODE_ALLOC: u64 = 4 * MAX_PIXELS + 16 * 1024 * 1024;
/// Images decoded at once in this process; more wait for a turn (up to `DECODE_WAIT`), then `Busy`.
/// Bounds memory (160 MB each at most) whatever the number of uploads arriving together.
pub const PARALLEL_DECODES: usize = 2;
const DECODE_WAIT: std::time::Duration = std::time::Duration::from_secs(20);
static DECODES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(PARALLEL_DECODES);
/// JPEG quality of re-encoded photos: no visible loss for a photo of a pothole, a third of the size.
const JPEG_QUALITY: u8 = 85;

/// Storage of attachment files. `id` is always checked by the caller with `Attachment::valid_id`.
#[async_trait]
pub trait AttachmentStore: Send + Sync + 'static {
    /// Stores a checked file under its id (the SHA-256 of `bytes`); storing the same content again
    /// changes nothing.
    async fn put(&self, id: &str, kind: AttachmentKind, bytes: Vec<u8>) -> StoreResult<()>;
    /// The file's bytes, or `None` when nothing is stored under the id.
    async fn get(&self, id: &str) -> StoreResult<Option<Vec<u8>>>;
    /// A short-lived address a browser may fetch the file from directly (a presigned S3 GET, so
    /// that large files never pass through Lambda's 6 MB response), or `None` where the application
    /// serves the bytes itself.
    async fn link(&self, id: &str, kind: AttachmentKind, file_name: &str) -> StoreResult<Option<String>>;
    /// Hands over a finished export (a temporary file, read from its start): `None` where the
    /// application streams it to the browser itself; else a short-lived address of a copy (S3:
    /// `exports/<random>/<name>`, a presigned GET, removed by the bucket's lifecycle after a day), so
    /// a large export never passes through Lambda's 6 MB response.
    async fn share_export(&self, file: &std::fs::File, name: &str, content_type: &str) -> StoreResult<Option<String>>;
}

fn refused(code: &'static str, message: String) -> AppError {
    AppError::Invalid { code, field: Some("attachments"), message }
}

/// The kind of a file by its first bytes.
fn sniff(bytes: &[u8]) -> Option<AttachmentKind> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(AttachmentKind::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(AttachmentKind::Png)
    } else if bytes.starts_with(b"%PDF-") {
        Some(AttachmentKind::Pdf)
    } else {
        None
    }
}

/// PDF names that run or carry something when the file is opened: refused (a best effort — names
/// inside compressed object streams are not seen — beside serving every PDF as a download in a
/// sandbox).
const PDF_ACTIVE: [&[u8]; 6] = [b"/JavaScript", b"/JS", b"/Launch", b"/EmbeddedFile", b"/RichMedia", b"/XFA"];

fn check_pdf(bytes: &[u8], number: usize) -> Result<(), AppError> {
    let tail = &bytes[bytes.len().saturating_sub(2048)..];
    let complete = tail.windows(5).any(|w| w == b"%%EOF");
    if !complete {
        return Err(refused("attachment_unreadable", format!("第{number}个附件不是完整的 PDF 文件，请重新导出后上传")));
    }
    if PDF_ACTIVE.iter().any(|name| bytes.windows(name.len()).any(|w| w == *name)) {
        return Err(refused(
            "attachment_active_content",
            format!("第{number}个附件（PDF）含有脚本或嵌入文件，不能上传；请打印为 PDF 或拍照后上传"),
        ));
    }
    Ok(())
}

/// Decodes an image within the limits, upright by its EXIF orientation (the metadata that says
/// which way is up is dropped with the rest, so the pixels must carry it).
fn decode(bytes: &[u8], format: ImageFormat) -> image::ImageResult<DynamicImage> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DECODED_SIDE);
    limits.max_image_height = Some(MAX_DECODED_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let mut decoder = reader.into_decoder()?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(image::ImageError::Limits(image::error::LimitError::from_kind(
            image::error::LimitErrorKind::DimensionError,
        )));
    }
    let orientation = decoder.orientation()?;
    let mut img = DynamicImage::from_decoder(decoder)?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// Encodes the pixels alone (no metadata of any kind), scaled down to `MAX_SIDE` (`thumbnail`:
/// area averaging on 8-bit samples, so no buffer larger than the result is made).
fn encode(img: DynamicImage, kind: AttachmentKind) -> image::ImageResult<Vec<u8>> {
    let img = if img.width().max(img.height()) > MAX_SIDE { img.thumbnail(MAX_SIDE, MAX_SIDE) } else { img };
    let mut out = Vec::new();
    match kind {
        AttachmentKind::Jpeg => {
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
            DynamicImage::ImageRgb8(img.into_rgb8()).write_with_encoder(encoder)?;
        }
        _ => {
            let img = if img.color().has_alpha() {
                DynamicImage::ImageRgba8(img.into_rgba8())
            } else {
                DynamicImage::ImageRgb8(img.into_rgb8())
            };
            img.write_with_encoder(image::codecs::png::PngEncoder::new(&mut out))?;
        }
    }
    Ok(out)
}

/// A file as it may be stored: its kind (by content) and its bytes — images decoded and encoded
/// again without any metadata, PDFs checked. `number` (1, 2, 3) names it in messages. CPU work:
/// run it off the async threads ([`check_files`]).
pub fn sanitize(bytes: &[u8], number: usize) -> Result<(AttachmentKind, Vec<u8>), AppError> {
    if bytes.is_empty() {
        return Err(refused("attachment_empty", format!("第{number}个附件是空文件")));
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(refused(
            "attachment_too_large",
            format!("第{number}个附件超过 {} MB，请压缩后再上传", MAX_FILE_BYTES / 1024 / 1024),
        ));
    }
    let kind = sniff(bytes).ok_or_else(|| {
        refused("attachment_type", format!("第{number}个附件不是 JPEG、PNG 图片或 PDF 文件，只能上传这三种文件"))
    })?;
    let unreadable =
        || refused("attachment_unreadable", format!("第{number}个附件无法识别为完整的图片，可能已损坏，请换一个文件"));
    match kind {
        AttachmentKind::Pdf => {
            check_pdf(bytes, number)?;
            Ok((kind, bytes.to_vec()))
        }
        AttachmentKind::Jpeg | AttachmentKind::Png => {
            let format = if kind == AttachmentKind::Jpeg { ImageFormat::Jpeg } else { ImageFormat::Png };
            let img = decode(bytes, format).map_err(|e| match e {
                image::ImageError::Limits(_) => refused(
                    "attachment_too_many_pixels",
                    format!("第{number}个附件图片尺寸过大（超过 {} 万像素），请缩小后再上传", MAX_PIXELS / 10_000),
                ),
                e => {
                    tracing::info!(error = %e, "attachment refused: image does not decode");
                    unreadable()
                }
            })?;
            let clean = encode(img, kind).map_err(|e| AppError::Internal(format!("image encoding failed: {e}")))?;
            Ok((kind, clean))
        }
    }
}

/// The stored form of a checked file.
pub fn attachment(kind: AttachmentKind, stored: &[u8]) -> Attachment {
    Attachment { id: hex::encode(Sha256::digest(stored)), kind, bytes: stored.len() as u64, public: false }
}

/// Checks and stores a message's files (at most [`MAX_ATTACHMENTS`]), in order: the attachments to
/// record with the case. Nothing is stored unless every file passes. The decoding runs on the
/// blocking pool.
pub async fn check_files(store: &dyn AttachmentStore, files: Vec<Vec<u8>>) -> Result<Vec<Attachment>, AppError> {
    if files.len() > MAX_ATTACHMENTS {
        return Err(refused("too_many_attachments", format!("附件最多{MAX_ATTACHMENTS}个")));
    }
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let _turn = tokio::time::timeout(DECODE_WAIT, DECODES.acquire())
        .await
        .map_err(|_| AppError::Busy)?
        .map_err(|e| AppError::Internal(format!("decode turns closed: {e}")))?;
    let checked = tokio::task::spawn_blocking(move || {
        files.iter().enumerate().map(|(i, f)| sanitize(f, i + 1)).collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| AppError::Internal(format!("attachment check stopped: {e}")))??;
    let mut out = Vec::with_capacity(checked.len());
    for (kind, bytes) in checked {
        let a = attachment(kind, &bytes);
        store.put(&a.id, kind, bytes).await?;
        out.push(a);
    }
    Ok(out)
}

/// Whether a request is a `multipart/form-data` form (one that may carry files).
pub fn is_multipart(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// A multipart form as the public form and `POST /api/v1/cases` send it: its text fields, and the
/// files of its `files` parts in order (a file input left empty sends a part without a file name
/// and without content: skipped). A form that does not parse is refused; how many files a message
/// may carry is [`check_files`]' to say, once the text fields are known (so a form refused for its
/// files comes back filled in).
pub async fn read_multipart(
    request: axum::extract::Request,
) -> Result<(Vec<(String, String)>, Vec<Vec<u8>>), AppError> {
    use axum::extract::FromRequest;
    let mut form = axum::extract::Multipart::from_request(request, &()).await.map_err(|_| AppError::Invalid {
        code: "malformed_form",
        field: None,
        message: "表单格式不正确，请重新提交".into(),
    })?;
    let malformed = |e: axum::extract::multipart::MultipartError| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            refused(
                "request_too_large",
                format!("附件合计过大：每个文件不超过 {} MB，最多{MAX_ATTACHMENTS}个", MAX_FILE_BYTES / 1024 / 1024),
            )
        } else {
            AppError::Invalid {
                code: "malformed_form", field: None, message: "表单格式不正确，请重新提交".into()
            }
        }
    };
    let (mut fields, mut files) = (Vec::new(), Vec::new());
    while let Some(part) = form.next_field().await.map_err(malformed)? {
        let name = part.name().unwrap_or_default().to_owned();
        if name == "files" {
            let named = part.file_name().is_some_and(|n| !n.is_empty());
            let bytes = part.bytes().await.map_err(malformed)?;
            if !named && bytes.is_empty() {
                continue;
            }
            files.push(bytes.to_vec());
        } else {
            if fields.len() >= 32 {
                return Err(AppError::Invalid {
                    code: "malformed_form", field: None, message: "表单字段过多".into()
                });
            }
            let text = part.text().await.map_err(malformed)?;
            fields.push((name, text));
        }
    }
    Ok((fields, files))
}

impl crate::App {
    /// Submits a message with its files: the message's fields are checked first (no file is
    /// stored for a message that would be refused), then every file, and the case records them.
    pub async fn submit_with_files(
        &self,
        request: &crate::input::SubmitRequest,
        idempotency_key: Option<&str>,
        files: Vec<Vec<u8>>,
    ) -> Result<crate::service::Submitted, AppError> {
        request.parse(&self.org)?;
        let total: usize = files.iter().map(Vec::len).sum();
        if total > self.upload_limit() {
            return Err(refused(
                "attachments_too_large",
                format!("附件合计不能超过 {} MB，请减少或压缩后再上传", self.upload_limit() / 1024 / 1024),
            ));
        }
        let attachments = check_files(self.attachments.as_ref(), files).await?;
        let intake = mailbox_domain::Intake { attachments, ..Default::default() };
        self.submit_via(request, idempotency_key, intake).await
    }
}

impl crate::App {
    /// Attachment `n` (1, 2, 3) of a case the actor may see (supervisors too: photos and scans are
    /// assumed to carry no personal data beyond what the masked texts hide — see docs/security.md).
    /// Anything else is not found.
    pub async fn staff_attachment(
        &self,
        actor: &mailbox_domain::Actor,
        id: &mailbox_domain::CaseId,
        n: usize,
    ) -> Result<(String, usize, Attachment), AppError> {
        let case = self.store.get(id).await?.ok_or(AppError::NotFound)?;
        if !mailbox_domain::can_view(actor, &case) {
            return Err(AppError::NotFound);
        }
        let a = n.checked_sub(1).and_then(|i| case.attachments.get(i)).cloned().ok_or(AppError::NotFound)?;
        Ok((case.number.to_string(), n, a))
    }

    /// Attachment `n` of a case for the public: only one the dispatcher marked publishable, of a
    /// case whose citizen agreed and whose reply is published.
    pub async fn public_attachment(&self, number: &str, n: usize) -> Result<(String, usize, Attachment), AppError> {
        let case = if (1..=32).contains(&number.len()) {
            self.store.get_by_number(&mailbox_domain::CaseNumber::new(number)).await?
        } else {
            None
        };
        let case = case.filter(crate::reports::is_published).ok_or(AppError::NotFound)?;
        let a = n.checked_sub(1).and_then(|i| case.attachments.get(i)).filter(|a| a.public).cloned();
        Ok((case.number.to_string(), n, a.ok_or(AppError::NotFound)?))
    }

    /// The answer that gives a browser the file: a redirect to a short-lived link where the store
    /// has one (S3), else the bytes — as a download for PDFs, inline for images, and in a sandbox
    /// either way so that nothing in a file can run as this site.
    pub async fn attachment_response(
        &self,
        (number, n, a): (String, usize, Attachment),
    ) -> Result<axum::response::Response, AppError> {
        use axum::http::{header, HeaderValue, StatusCode};
        use axum::response::IntoResponse;
        let name = file_name(&number, n, a.kind);
        if let Some(url) = self.attachments.link(&a.id, a.kind, &name).await? {
            return Ok((StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response());
        }
        let bytes = self.attachments.get(&a.id).await?.ok_or_else(|| {
            AppError::Internal(format!("attachment {} of case {number} is missing from the store", a.id))
        })?;
        let disposition = a.kind.disposition();
        let mut response = (StatusCode::OK, bytes).into_response();
        let h = response.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.kind.mime()));
        if let Ok(v) = HeaderValue::from_str(&format!("{disposition}; filename=\"{name}\"")) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
        Ok(response)
    }
}

/// The name a downloaded file gets: the case number and the attachment's number — nothing the
/// citizen typed.
pub fn file_name(number: &str, index: usize, kind: AttachmentKind) -> String {
    format!("{number}-{index}.{}", kind.extension())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, RgbImage};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = RgbImage::from_pixel(width, height, image::Rgb([200, 10, 10]));
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    /// A PNG declaring `width` × `height` pixels, with a few bytes of image data: what a decoder
    /// reads of it before allocating is only the header.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let chunk = |kind: &[u8], data: &[u8]| {
            let mut body = kind.to_vec();
            body.extend_from_slice(data);
            let mut out = (data.len() as u32).to_be_bytes().to_vec();
            out.extend_from_slice(&body);
            out.extend_from_slice(&crc32(&body).to_be_bytes());
            out
        };
        let mut ihdr = width.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(chunk(b"IHDR", &ihdr));
        png.extend(chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]));
        png.extend(chunk(b"IEND", &[]));
        png
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    fn the_kind_comes_from_the_content_and_other_files_are_refused() {
        let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec();
        assert_eq!(sanitize(&pdf, 1).unwrap(), (AttachmentKind::Pdf, pdf.clone()), "a PDF named .jpg is a PDF");
        let exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0".repeat(10);
        assert!(matches!(sanitize(&exe, 2), Err(AppError::Invalid { code: "attachment_type", .. })));
        let script = b"%PDF-1.7\n<< /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>\n%%EOF".to_vec();
        assert!(matches!(sanitize(&script, 1), Err(AppError::Invalid { code: "attachment_active_content", .. })));
        let truncated = &png(64, 48)[..60];
        assert!(matches!(sanitize(truncated, 1), Err(AppError::Invalid { code: "attachment_unreadable", .. })));
        assert!(matches!(sanitize(b"", 1), Err(AppError::Invalid { code: "attachment_empty", .. })));
        let big = vec![0xFF; MAX_FILE_BYTES + 1];
        assert!(matches!(sanitize(&big, 3), Err(AppError::Invalid { code: "attachment_too_large", .. })));
    }

    #[test]
    fn a_picture_over_forty_megapixels_is_refused_as_too_large_and_a_phone_photo_is_scaled() {
        // 9,000 × 9,000 (81 MP, within the 12,000 a side): refused on its header, before decoding.
        assert!(matches!(
            sanitize(&png_header(9_000, 9_000), 1),
            Err(AppError::Invalid { code: "attachment_too_many_pixels", .. })
        ));
        // A 16 MP phone photo (4,624 × 3,472) is taken and scaled to 4,096 on its longer side.
        let (_, clean) = sanitize(&png(4_624, 3_472), 1).unwrap();
        let back = image::load_from_memory_with_format(&clean, ImageFormat::Png).unwrap();
        assert_eq!((back.width(), back.height()), (MAX_SIDE, 3_076));
    }

    #[test]
    fn a_picture_claiming_to_be_huge_is_refused_before_its_pixels_are_allocated() {
        assert!(matches!(
            sanitize(&png_header(60_000, 60_000), 1),
            Err(AppError::Invalid { code: "attachment_too_many_pixels", .. })
        ));
    }

    #[test]
    fn large_photos_are_scaled_to_the_longest_side_and_stored_by_their_digest() {
        let (kind, clean) = sanitize(&png(MAX_SIDE * 2, 10), 1).unwrap();
        let back = image::load_from_memory_with_format(&clean, ImageFormat::Png).unwrap();
        assert_eq!((kind, back.width()), (AttachmentKind::Png, MAX_SIDE));
        let a = attachment(kind, &clean);
        assert!(Attachment::valid_id(&a.id) && a.bytes == clean.len() as u64 && !a.public);
        assert_eq!(file_name("GA202612010001", 2, kind), "GA202612010001-2.png");
    }
}
