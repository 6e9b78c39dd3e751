//! Media files: kept content-addressed in the data directory (size-capped, content type kept), served to
//! the users of the workspaces that hold them, fetched from providers through the channel's plugin (job
//! `media.fetch`), uploaded through the API, and handed to providers as signed, expiring links.

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::Utc;
use sha2::Digest;

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::jobs::{JobError, JobHandler};
use crate::model::*;

/// Where the bytes of `sha256` live: `data/media/ab/abcdef…`.
fn path(app: &App, sha256: &str) -> PathBuf {
    app.config.data_dir.join("media").join(&sha256[..2]).join(sha256)
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

/// Keeps `bytes` for workspace `ws` and returns the file's record.
pub async fn store(
    app: &App,
    ws: Id,
    bytes: Vec<u8>,
    content_type: &str,
    filename: Option<String>,
) -> AppResult<MediaFile> {
    if bytes.is_empty() {
        return Err(AppError::validation("file", "is empty"));
    }
    if bytes.len() > app.config.media.max_bytes {
        return Err(AppError::PayloadTooLarge);
    }
    let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
    let target = path(app, &sha256);
    let size = bytes.len() as u64;
    let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if target.is_file() {
            return Ok(());
        }
        let dir = target.parent().expect("media files live in a folder");
        std::fs::create_dir_all(dir)?;
        // Write aside, then rename: a reader never sees half a file, and equal bytes land once.
        let tmp =
            dir.join(format!(".{}.{}", target.file_name().and_then(|n| n.to_str()).unwrap_or("f"), rand_suffix()));
        std::fs::write(&tmp, &bytes)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &target)
    })
    .await
    .map_err(AppError::internal)?;
    written.map_err(AppError::internal)?;
    let content_type = clean_content_type(content_type);
    let filename =
        filename.map(|f| f.chars().filter(|c| !c.is_control() && *c != '/' && *c != '\\').take(200).collect());
    let file = MediaFile { sha256, content_type, size, filename, url: String::new() };
    Ok(app.store.record_media(ws, &file).await?)
}

fn rand_suffix() -> String {
    use rand::Rng;
    format!("{:016x}", rand::thread_rng().r#gen::<u64>())
}

/// A content type safe to serve back: `type/subtype` only, else `application/octet-stream`.
fn clean_content_type(raw: &str) -> String {
    let main = raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let ok = main.split_once('/').is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && main.chars().all(|c| c.is_ascii_alphanumeric() || "/.+-_".contains(c))
    });
    if ok { main } else { "application/octet-stream".to_owned() }
}

/// A file of the caller's workspace, with its bytes.
pub async fn read(app: &App, ws: Id, sha256: &str) -> AppResult<(MediaFile, Vec<u8>)> {
    if !is_sha256(sha256) {
        return Err(AppError::NotFound("media"));
    }
    let file = app.store.get_media(ws, sha256).await?.ok_or(AppError::NotFound("media"))?;
    let bytes = tokio::fs::read(path(app, sha256)).await.map_err(|_| AppError::NotFound("media"))?;
    Ok((file, bytes))
}

fn link_payload(sha256: &str, content_type: &str, expires: i64) -> String {
    format!("{sha256}|{content_type}|{expires}")
}

/// A link a provider can fetch without credentials, valid for `media.link_minutes`.
pub fn public_link(app: &App, file: &MediaFile) -> String {
    let expires = Utc::now().timestamp() + i64::from(app.config.media.link_minutes) * 60;
    let sig = app.secrets.sign(&link_payload(&file.sha256, &file.content_type, expires));
    let content_type: String = url_encode(&file.content_type);
    format!("{}/media/{}?type={content_type}&expires={expires}&sig={sig}", app.config.public_url(), file.sha256)
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The bytes behind a signed link, if the signature is right and it has not expired.
pub async fn read_public(app: &App, sha256: &str, content_type: &str, expires: i64, sig: &str) -> AppResult<Vec<u8>> {
    let valid = is_sha256(sha256)
        && expires >= Utc::now().timestamp()
        && app.secrets.verify(&link_payload(sha256, content_type, expires), sig);
    if !valid {
        return Err(AppError::NotFound("media"));
    }
    tokio::fs::read(path(app, sha256)).await.map_err(|_| AppError::NotFound("media"))
}

/// The content a plugin receives for a stored message: files of this server become signed links, and for
/// a channel that takes files inline (`[channel] inline_media`, e-mail) also their bytes (`data`, base64)
/// up to `INLINE_MEDIA_BYTES`.
pub async fn for_provider(
    app: &App,
    ws: Id,
    content: &MessageContent,
    inline: bool,
) -> Result<serde_json::Value, String> {
    let mut value = serde_json::to_value(content).map_err(|e| e.to_string())?;
    if let MessageContent::Media { url, .. } = content
        && let Some(sha) = url.strip_prefix("/api/v1/media/")
    {
        let file = app.store.get_media(ws, sha).await.map_err(|e| e.to_string())?;
        let file = file.ok_or_else(|| format!("the media file {sha} is not in this workspace"))?;
        value["url"] = serde_json::Value::String(public_link(app, &file));
        // What the upload recorded, where the message did not say: a provider names and types the file.
        if value["mime_type"].is_null() {
            value["mime_type"] = serde_json::Value::String(file.content_type.clone());
        }
        if value["filename"].is_null()
            && let Some(name) = &file.filename
        {
            value["filename"] = serde_json::Value::String(name.clone());
        }
        if inline && file.size <= crate::plugins::manifest::INLINE_MEDIA_BYTES {
            use base64::Engine;
            let bytes = tokio::fs::read(path(app, sha)).await.map_err(|e| format!("the file {sha}: {e}"))?;
            value["data"] = serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
        }
    }
    Ok(value)
}

/// Downloads an incoming message's file through its channel's plugin (`media.fetch` jobs).
pub struct FetchMedia;

#[async_trait]
impl JobHandler for FetchMedia {
    async fn run(&self, app: &App, job: &Job) -> Result<(), JobError> {
        let ws = job.workspace_id.ok_or_else(|| JobError::Permanent("a media job without a workspace".into()))?;
        let id = job.payload["message_id"].as_i64().ok_or_else(|| JobError::Permanent("no message_id".into()))?;
        let message = match app.store.get_message(ws, id).await {
            Ok(m) => m,
            Err(crate::store::StoreError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(JobError::Transient(e.to_string())),
        };
        let MessageContent::Media { media_ref: Some(reference), url, mime_type, filename, .. } = &message.content
        else {
            return Ok(());
        };
        if !url.is_empty() {
            return Ok(());
        }
        let channel_id = message.channel_id.ok_or_else(|| JobError::Permanent("the message has no channel".into()))?;
        let channel = app.store.get_channel(ws, channel_id).await.map_err(|e| JobError::Permanent(e.to_string()))?;
        let call = super::inbound::call_for(app, ws, channel).await.map_err(|e| JobError::Transient(e.to_string()))?;
        let request = call
            .plugin
            .media_request(call.ctx, reference.clone())
            .await
            .map_err(|e| JobError::Transient(format!("plugin: {e}")))?
            .map_err(|e| match e {
                crate::plugins::SendError::Transient(why) => JobError::Transient(why),
                other => JobError::Permanent(format!("{other:?}")),
            })?;
        let response = call.plugin.fetch_for(request).await.map_err(JobError::Transient)?;
        match response.status {
            200..=299 => {}
            404 | 410 => {
                return Err(JobError::Permanent(format!("the provider no longer has the file ({})", response.status)));
            }
            status => return Err(JobError::Transient(format!("the provider answered {status}"))),
        }
        let header_type =
            response.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.clone());
        let content_type = mime_type.clone().or(header_type).unwrap_or_else(|| "application/octet-stream".into());
        let file = match store(app, ws, response.body, &content_type, filename.clone()).await {
            Ok(file) => file,
            Err(AppError::PayloadTooLarge) => {
                return Err(JobError::Permanent(format!(
                    "the file is larger than media.max_bytes ({})",
                    app.config.media.max_bytes
                )));
            }
            Err(e) => return Err(JobError::Transient(e.to_string())),
        };
        app.store.attach_media(ws, id, &file).await.map_err(|e| JobError::Transient(e.to_string()))?;
        Ok(())
    }
}
