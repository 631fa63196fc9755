//! `GET /api/v1/channels/media/{sha256}`: a ready post's video, poster or image, or a
//! channel's avatar, streamed from the object store a piece at a time, with HTTP range
//! requests (one range; `bytes=a-b`, `bytes=a-`, `bytes=-n`) so players can seek.
//! Files are immutable (named by their content), so they are cached for a year.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use plaza_http::ApiError;
use plaza_kernel::objects::BlobPart;

use crate::ChannelsState;
use crate::error::{api_error, code};

/// How much one read from the object store takes.
const PIECE_BYTES: u64 = 512 * 1024;

pub(crate) fn router() -> Router<ChannelsState> {
    Router::new().route("/api/v1/channels/media/{sha256}", get(media))
}

/// The bytes a `Range` header asks for in a file of `total` bytes: `Ok(None)` for the
/// whole file (no header, or one this server does not honour, like several ranges),
/// `Err(())` when unsatisfiable.
pub(crate) fn requested_range(header: Option<&str>, total: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = header.and_then(|value| value.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (first, last) = (first.trim(), last.trim());
    let range = if first.is_empty() {
        let suffix: u64 = last.parse().map_err(|_| ())?;
        if suffix == 0 || total == 0 {
            return Err(());
        }
        (total.saturating_sub(suffix), total - 1)
    } else {
        let start: u64 = first.parse().map_err(|_| ())?;
        let end = if last.is_empty() {
            total.saturating_sub(1)
        } else {
            last.parse::<u64>()
                .map_err(|_| ())?
                .min(total.saturating_sub(1))
        };
        if start >= total || end < start {
            return Err(());
        }
        (start, end)
    };
    Ok(Some(range))
}

async fn media(
    State(state): State<ChannelsState>,
    Path(sha256): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::new(code::NOT_FOUND, "no such file");
    if !plaza_kernel::objects::is_content_address(&sha256) {
        return Err(not_found());
    }
    let content_type = state
        .channels
        .served_media(&sha256)
        .await
        .map_err(api_error)?
        .ok_or_else(not_found)?;
    let objects = state.channels.objects().clone();
    let total = objects
        .get_range(sha256.clone(), 0, 0)
        .await
        .map_err(|error| ApiError::unavailable(&error.to_string()))?
        .ok_or_else(not_found)?
        .total;
    let range_header = headers
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok());
    let (status, start, end) = match requested_range(range_header, total) {
        Ok(Some((start, end))) => (StatusCode::PARTIAL_CONTENT, start, end + 1),
        Ok(None) => (StatusCode::OK, 0, total),
        Err(()) => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{total}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
    };
    let etag = format!("\"{sha256}\"");
    let pieces = pieces(objects, sha256, start, end);
    let mut response = Response::new(Body::from_stream(pieces));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let mut set = |name: header::HeaderName, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE, content_type);
    set(header::CONTENT_LENGTH, (end - start).to_string());
    set(header::ACCEPT_RANGES, "bytes".to_owned());
    set(header::ETAG, etag);
    set(
        header::CACHE_CONTROL,
        "public, max-age=31536000, immutable".to_owned(),
    );
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned());
    if status == StatusCode::PARTIAL_CONTENT {
        set(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{total}", end - 1),
        );
    }
    Ok(response)
}

/// The bytes `start..end` of a blob, read a piece at a time as the client takes them.
fn pieces(
    objects: std::sync::Arc<dyn plaza_kernel::objects::ObjectStore>,
    sha256: String,
    start: u64,
    end: u64,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::unfold(start, move |at| {
        let objects = objects.clone();
        let key = sha256.clone();
        async move {
            if at >= end {
                return None;
            }
            let want = PIECE_BYTES.min(end - at);
            match objects.get_range(key, at, want).await {
                Ok(Some(BlobPart { bytes, .. })) if !bytes.is_empty() => {
                    let next = at + u64::try_from(bytes.len()).unwrap_or(want);
                    Some((Ok(bytes), next))
                }
                Ok(_) => Some((Err(std::io::Error::other("the file ended early")), end)),
                Err(error) => Some((Err(std::io::Error::other(error.to_string())), end)),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_browsers_send_them() {
        assert_eq!(requested_range(None, 100), Ok(None));
        assert_eq!(requested_range(Some("bytes=0-"), 100), Ok(Some((0, 99))));
        assert_eq!(
            requested_range(Some("bytes=10-19"), 100),
            Ok(Some((10, 19)))
        );
        assert_eq!(
            requested_range(Some("bytes=90-500"), 100),
            Ok(Some((90, 99)))
        );
        assert_eq!(requested_range(Some("bytes=-10"), 100), Ok(Some((90, 99))));
        assert_eq!(requested_range(Some("bytes=-500"), 100), Ok(Some((0, 99))));
        assert_eq!(requested_range(Some("bytes=100-"), 100), Err(()));
        assert_eq!(requested_range(Some("bytes=20-10"), 100), Err(()));
        assert_eq!(requested_range(Some("bytes=x-"), 100), Err(()));
        assert_eq!(requested_range(Some("bytes=0-1,5-6"), 100), Ok(None));
        assert_eq!(requested_range(Some("items=0-1"), 100), Ok(None));
    }
}
