//! The agent web app: `/` and its files under `/app/`, plain ES modules and CSS compiled into the binary
//! (`server/assets/app/`), so serving it needs neither Node.js nor files beside the binary.

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

use crate::app::App;
use crate::error::AppError;

/// Every file of the app: its path under `/app/` and its contents.
const FILES: &[(&str, &str)] = &[
    ("app.css", include_str!("../../assets/app/app.css")),
    ("manifest.webmanifest", include_str!("../../assets/app/manifest.webmanifest")),
    ("icon.svg", include_str!("../../assets/app/icon.svg")),
    ("js/main.js", include_str!("../../assets/app/js/main.js")),
    ("js/api.js", include_str!("../../assets/app/js/api.js")),
    ("js/dom.js", include_str!("../../assets/app/js/dom.js")),
    ("js/i18n.js", include_str!("../../assets/app/js/i18n.js")),
    ("js/realtime.js", include_str!("../../assets/app/js/realtime.js")),
    ("js/auth.js", include_str!("../../assets/app/js/auth.js")),
    ("js/inbox.js", include_str!("../../assets/app/js/inbox.js")),
    ("js/conversation.js", include_str!("../../assets/app/js/conversation.js")),
    ("js/contact.js", include_str!("../../assets/app/js/contact.js")),
    ("js/newconversation.js", include_str!("../../assets/app/js/newconversation.js")),
    ("js/templates.js", include_str!("../../assets/app/js/templates.js")),
    ("js/settings.js", include_str!("../../assets/app/js/settings.js")),
    ("js/workflows.js", include_str!("../../assets/app/js/workflows.js")),
];

const INDEX: &str = include_str!("../../assets/app/index.html");

/// Served from the root so that its scope is the whole app.
const SERVICE_WORKER: &str = include_str!("../../assets/app/sw.js");

/// The page may load only its own files and talk only to its own server.
const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
                   connect-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; \
                   base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

pub(super) fn router() -> Router<Arc<App>> {
    Router::new().route("/", get(index)).route("/sw.js", get(service_worker)).route("/app/{*path}", get(file))
}

async fn index() -> Response {
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-cache"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ];
    (headers, INDEX).into_response()
}

async fn service_worker() -> Response {
    let headers = [
        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    (headers, SERVICE_WORKER).into_response()
}

async fn file(Path(path): Path<String>) -> Response {
    let Some((_, body)) = FILES.iter().find(|(name, _)| *name == path) else {
        return AppError::NotFound("file").into_response();
    };
    let headers = [
        (header::CONTENT_TYPE, content_type(&path)),
        // Revalidated on every load: an upgraded binary is never mixed with stale modules of the old one.
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    (headers, *body).into_response()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_app_imports_is_served() {
        // A module added to assets/app/js but not to FILES would 404 in the browser only.
        for (name, body) in FILES.iter().chain([("index.html", INDEX)].iter()) {
            for import in body.split("from './").skip(1).chain(body.split("import('./").skip(1)) {
                let target = import.split('\'').next().unwrap_or_default();
                let dir = if name.starts_with("js/") { "js/" } else { "" };
                let wanted = format!("{dir}{target}");
                assert!(FILES.iter().any(|(f, _)| *f == wanted), "{name} imports {wanted}, which is not served");
            }
        }
        assert!(INDEX.contains("/app/js/main.js"));
    }
}
