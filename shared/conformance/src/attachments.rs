//! The `AttachmentStore` port (citizens' files): content-addressed, written once, read back byte
//! for byte; ids that are not SHA-256 digests never reach storage; a link, where the store gives
//! one, serves the file with its type and nothing else.

use mailbox_app::attachments::AttachmentStore;
use mailbox_domain::case::AttachmentKind;
use sha2::{Digest, Sha256};

fn file(len: usize) -> (String, Vec<u8>) {
    let bytes: Vec<u8> = (0..len).map(|_| rand::random::<u8>()).collect();
    (hex::encode(Sha256::digest(&bytes)), bytes)
}

pub async fn files_are_stored_once_and_read_back_exactly(store: &dyn AttachmentStore) {
    let (id, bytes) = file(300_000);
    assert_eq!(store.get(&id).await.unwrap(), None);
    store.put(&id, AttachmentKind::Jpeg, bytes.clone()).await.unwrap();
    // The same content again (a second citizen sending the same photo) changes nothing.
    store.put(&id, AttachmentKind::Jpeg, bytes.clone()).await.unwrap();
    assert_eq!(store.get(&id).await.unwrap(), Some(bytes));
    let (other, _) = file(10);
    assert_eq!(store.get(&other).await.unwrap(), None);
}

pub async fn ids_that_are_not_digests_never_reach_storage(store: &dyn AttachmentStore) {
    for id in
        ["../../etc/passwd", "..", "", "ABCDEF", &"a".repeat(63), &format!("{}/x", "a".repeat(62)), &"A".repeat(64)]
    {
        assert!(store.get(id).await.is_err(), "{id}");
        assert!(store.put(id, AttachmentKind::Png, b"x".to_vec()).await.is_err(), "{id}");
        assert!(store.link(id, AttachmentKind::Png, "x.png").await.is_err(), "{id}");
    }
}

pub async fn a_link_serves_the_file_with_its_type(store: &dyn AttachmentStore) {
    let (id, bytes) = file(2_000);
    store.put(&id, AttachmentKind::Pdf, bytes.clone()).await.unwrap();
    // The embedded store serves files itself (no link); S3 gives a presigned GET.
    if let Some(url) = store.link(&id, AttachmentKind::Pdf, "GA202612010001-1.pdf").await.unwrap() {
        let response = reqwest::get(&url).await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(response.headers()["content-type"], "application/pdf");
        let disposition = response.headers()["content-disposition"].to_str().unwrap().to_owned();
        assert_eq!(disposition, "attachment; filename=\"GA202612010001-1.pdf\"");
        assert_eq!(response.bytes().await.unwrap().to_vec(), bytes);
        // Without its signature the object is not public.
        let bare = url.split('?').next().unwrap();
        assert_eq!(reqwest::get(bare).await.unwrap().status(), 403);
    }
}
