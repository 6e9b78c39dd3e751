//! Provider webhooks: `POST /webhooks/{channel_id}` (deliveries) and `GET /webhooks/{channel_id}`
//! (verification handshakes). The raw bytes go to the channel's plugin untouched, since signatures are
//! computed over them; the plugin's answer goes back to the provider once the delivery is committed.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::extract::{Path, read_body};
use crate::app::App;
use crate::error::AppResult;
use crate::model::Id;
use crate::plugins::HttpResponse;
use crate::service::inbound::{self, WebhookRequest};

pub(super) fn router() -> Router<Arc<App>> {
    Router::new().route("/webhooks/{channel_id}", get(verify).post(deliver))
}

fn request(method: Method, uri: &Uri, query: Option<String>, headers: &HeaderMap, body: Bytes) -> WebhookRequest {
    WebhookRequest {
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: query.unwrap_or_default(),
        headers: headers
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_ascii_lowercase(), v.to_owned())))
            .collect(),
        body: body.to_vec(),
    }
}

fn answer(r: HttpResponse) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
    let mut response = (status, r.body).into_response();
    for (name, value) in r.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

async fn verify(
    State(app): State<Arc<App>>,
    Path(channel_id): Path<Id>,
    method: Method,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> AppResult<Response> {
    let req = request(method, &uri, query, &headers, Bytes::new());
    Ok(answer(inbound::verify(&app, channel_id, req).await?))
}

async fn deliver(
    State(app): State<Arc<App>>,
    Path(channel_id): Path<Id>,
    method: Method,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let call = inbound::channel_call(&app, channel_id).await?;
    // A delivery may be as large as the channel's plugin takes as input (`input_bytes`), which can be above
    // the API's body limit: e-mail with attachments, posted by an inbound-parse service.
    let body = read_body(body, call.plugin.limits().input_bytes).await?;
    let req = request(method, &uri, query, &headers, body);
    let (response, report) = inbound::deliver(&app, call, req).await?;
    tracing::debug!(channel = channel_id, ?report, "webhook delivery committed");
    Ok(answer(response))
}
