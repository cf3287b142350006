//! Attachments on AWS: one private bucket (encrypted at rest, public access blocked, TLS only — see
//! `infra/template.yaml`), objects `files/<SHA-256>`. Browsers fetch a file through a presigned GET
//! valid for five minutes, so large files never pass through Lambda's 6 MB response. Staff exports go
//! the same way, under `exports/` (removed after a day).

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use mailbox_app::attachments::AttachmentStore;
use mailbox_app::ports::{StoreError, StoreResult};
use mailbox_domain::case::{Attachment, AttachmentKind};
use std::time::Duration;

/// How long a presigned link stays valid: long enough to open the file, too short to pass around.
pub const LINK_SECONDS: u64 = 300;

#[derive(Clone)]
pub struct S3Attachments {
    client: aws_sdk_s3::Client,
    bucket: String,
    region: Option<String>,
}

fn unavailable<E: std::fmt::Debug>(e: E) -> StoreError {
    StoreError::Unavailable(format!("{e:?}"))
}

impl S3Attachments {
    /// The bucket through `sdk`'s configuration; with an endpoint override (a local emulator),
    /// path-style addresses, since `<bucket>.127.0.0.1` resolves nowhere.
    pub fn new(sdk: &aws_config::SdkConfig, bucket: impl Into<String>) -> S3Attachments {
        let config = aws_sdk_s3::config::Builder::from(sdk).force_path_style(sdk.endpoint_url().is_some()).build();
        let region = sdk.region().map(|r| r.to_string());
        S3Attachments { client: aws_sdk_s3::Client::from_conf(config), bucket: bucket.into(), region }
    }

    fn key(id: &str) -> StoreResult<String> {
        if Attachment::valid_id(id) {
            Ok(format!("files/{id}"))
        } else {
            Err(StoreError::Corrupt("not an attachment id".into()))
        }
    }

    /// Creates the bucket as the template does (for the local emulator and tests): encrypted,
    /// public access blocked. An existing bucket of ours is left as it is.
    pub async fn create_bucket(&self) -> Result<(), String> {
        use aws_sdk_s3::types::{
            BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
            ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
        };
        // Outside us-east-1 a bucket names its region (S3 refuses it otherwise).
        let location = self.region.as_deref().filter(|r| *r != "us-east-1").map(|r| {
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(r)).build()
        });
        let create = self.client.create_bucket().bucket(&self.bucket).set_create_bucket_configuration(location);
        match create.send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|s| s.is_bucket_already_owned_by_you()) => {}
            Err(e) => return Err(format!("{e:?}")),
        }
        let default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::Aes256)
            .build()
            .map_err(|e| e.to_string())?;
        let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(default).build();
        let encryption = ServerSideEncryptionConfiguration::builder().rules(rule).build().map_err(|e| e.to_string())?;
        self.client
            .put_bucket_encryption()
            .bucket(&self.bucket)
            .server_side_encryption_configuration(encryption)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        let block = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .block_public_policy(true)
            .ignore_public_acls(true)
            .restrict_public_buckets(true)
            .build();
        self.client
            .put_public_access_block()
            .bucket(&self.bucket)
            .public_access_block_configuration(block)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(())
    }
}

#[async_trait]
impl AttachmentStore for S3Attachments {
    async fn share_export(&self, file: &std::fs::File, name: &str, content_type: &str) -> StoreResult<Option<String>> {
        let key = format!("exports/{}/{name}", hex::encode(rand::random::<[u8; 16]>()));
        // Streamed from the file (its length known): the export is never in memory whole.
        let file = tokio::fs::File::from_std(file.try_clone().map_err(unavailable)?);
        let body = ByteStream::read_from().file(file).build().await.map_err(unavailable)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(body)
            .send()
            .await
            .map_err(unavailable)?;
        let presigning = PresigningConfig::expires_in(Duration::from_secs(LINK_SECONDS)).map_err(unavailable)?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .response_content_type(content_type)
            .response_content_disposition(format!("attachment; filename=\"{name}\""))
            .response_cache_control("private, no-store")
            .presigned(presigning)
            .await
            .map_err(unavailable)?;
        Ok(Some(request.uri().to_owned()))
    }

    async fn put(&self, id: &str, kind: AttachmentKind, bytes: Vec<u8>) -> StoreResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(S3Attachments::key(id)?)
            .content_type(kind.mime())
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get(&self, id: &str) -> StoreResult<Option<Vec<u8>>> {
        let out = self.client.get_object().bucket(&self.bucket).key(S3Attachments::key(id)?).send().await;
        match out {
            Ok(o) => Ok(Some(o.body.collect().await.map_err(unavailable)?.into_bytes().to_vec())),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn link(&self, id: &str, kind: AttachmentKind, file_name: &str) -> StoreResult<Option<String>> {
        let disposition = kind.disposition();
        let presigning = PresigningConfig::expires_in(Duration::from_secs(LINK_SECONDS)).map_err(unavailable)?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(S3Attachments::key(id)?)
            .response_content_type(kind.mime())
            .response_content_disposition(format!("{disposition}; filename=\"{file_name}\""))
            .response_cache_control("private, no-store")
            .presigned(presigning)
            .await
            .map_err(unavailable)?;
        Ok(Some(request.uri().to_owned()))
    }
}
