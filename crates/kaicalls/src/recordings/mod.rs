//! Recordings: stored by the server (a local directory, or an S3-compatible bucket),
//! served through signed, expiring links. When a call ends with a recording, the engine gives the call a
//! signed link and queues a copy job: a provider's recording is downloaded into our
//! storage (so our URL keeps working when theirs expires), a simulated call's WAV is
//! rendered from its transcript.

pub mod links;
pub mod routes;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};

use crate::calls::repo;
use crate::jobs::Job;
use crate::store::Store;
use crate::voice::recording;

/// The source a simulated call reports: rendered by us, not downloaded.
pub const SIMULATED: &str = "simulator:recording";
/// Largest provider recording copied (an hour of stereo WAV is ~600 MB; MP3 far less).
const MAX_BYTES: usize = 256 * 1024 * 1024;
/// Attempts (with the worker's backoff, about 8 minutes in all) before giving up on a
/// provider's recording.
const MAX_ATTEMPTS: i64 = 10;

/// Where recordings live: a local directory by default, or an S3-compatible bucket,
/// both through `object_store`.
#[derive(Clone)]
pub struct RecordingStore {
    objects: Arc<dyn ObjectStore>,
    /// Fetches a provider's recording (to copy it, or to serve it until copied).
    http: reqwest::Client,
    /// For messages: where the objects are.
    pub location: String,
}

/// S3-compatible storage settings (credentials come from the standard `AWS_*`
/// environment variables).
pub struct S3Config<'a> {
    pub bucket: &'a str,
    pub endpoint: Option<&'a str>,
    pub region: &'a str,
}

impl RecordingStore {
    pub fn local(dir: impl Into<PathBuf>) -> anyhow::Result<RecordingStore> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(RecordingStore {
            objects: Arc::new(LocalFileSystem::new_with_prefix(&dir)?),
            http: provider_client()?,
            location: dir.display().to_string(),
        })
    }

    pub fn s3(config: &S3Config) -> anyhow::Result<RecordingStore> {
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(config.bucket)
            .with_region(config.region);
        if let Some(endpoint) = config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        Ok(RecordingStore {
            objects: Arc::new(builder.build()?),
            http: provider_client()?,
            location: format!("s3://{}", config.bucket),
        })
    }

    /// A provider's recording, fetched (at most 120 s, `MAX_BYTES`).
    pub async fn fetch(&self, url: &str) -> anyhow::Result<Vec<u8>> {
        let resp = self.http.get(url).send().await?.error_for_status()?;
        if resp
            .content_length()
            .is_some_and(|n| n as usize > MAX_BYTES)
        {
            anyhow::bail!("recording larger than {MAX_BYTES} bytes");
        }
        let bytes = resp.bytes().await?;
        anyhow::ensure!(
            bytes.len() <= MAX_BYTES,
            "recording larger than {MAX_BYTES} bytes"
        );
        Ok(bytes.to_vec())
    }

    fn path(key: &str) -> anyhow::Result<ObjectPath> {
        anyhow::ensure!(
            !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'),
            "invalid recording key"
        );
        Ok(ObjectPath::from(key))
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.objects
            .put(&Self::path(key)?, PutPayload::from(bytes))
            .await
            .with_context(|| format!("storing {key} in {}", self.location))?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        match self.objects.get(&Self::path(key)?).await {
            Ok(found) => Ok(Some(found.bytes().await?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Copies a finished call's recording into storage (a job of the I/O lane).
pub struct Copier {
    store: Store,
    storage: RecordingStore,
}

impl Copier {
    pub fn new(store: Store, storage: RecordingStore) -> anyhow::Result<Copier> {
        Ok(Copier { store, storage })
    }

    pub async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let mut conn = self.store.pool.acquire().await?;
        let call = repo::get_by_id(&mut conn, &job.subject_id).await?;
        drop(conn);
        let Some(call) = call else {
            return crate::jobs::finish(&self.store, &job.id).await;
        };
        if call.recording_key.is_none() {
            if let Some(source) = &call.recording_source {
                let bytes = if source == SIMULATED {
                    render_simulated(&call)
                } else {
                    match self.storage.fetch(source).await {
                        Ok(bytes) => bytes,
                        Err(err) if job.attempts >= MAX_ATTEMPTS => {
                            tracing::error!(call = %call.id, error = %format!("{err:#}"), "giving up copying the recording");
                            return crate::jobs::finish(&self.store, &job.id).await;
                        }
                        Err(err) => return Err(err),
                    }
                };
                let key = format!("{}.wav", call.id);
                self.storage.put(&key, bytes).await?;
                repo::set_recording_key(&self.store, &call.id, &key).await?;
            }
        }
        crate::jobs::finish(&self.store, &job.id).await
    }
}

fn provider_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?)
}

/// A simulated call's audio: as long as the call, a tone per transcript turn.
pub fn render_simulated(call: &crate::calls::Call) -> Vec<u8> {
    recording::wav(
        call.transcript.as_deref().unwrap_or(&[]),
        call.duration.unwrap_or(1),
    )
}
