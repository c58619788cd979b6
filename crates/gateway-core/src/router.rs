//! Maps method and path to a route. Unknown paths are 404 and known paths with another
//! method are 405 (with `Allow`), both before authentication.

use http::Method;

use crate::error::{ErrorKind, GatewayError, Result};
use crate::key::ObjectKey;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    Preflight,
    List,
    /// `GET /usage`: the caller's storage usage and quota.
    Usage,
    /// `POST /presign`.
    Presign,
    /// `POST /form`: a browser form upload, authorised by its signed policy.
    Form,
    /// `GET /s3/params`: a form, as Companion hands one to `@uppy/aws-s3` 4.x and 5.x.
    CompanionParams,
    /// `POST /s3/sign`: `@uppy/aws-s3`'s `signRequest` (6.x).
    SignRequest,
    /// Under `/s3/multipart`: Companion's multipart endpoints.
    Companion(CompanionOp),
    Upload(ObjectKey),
    /// `POST` on an object: starts or completes a multipart upload, by query string.
    Post(ObjectKey),
    Download(ObjectKey),
    Head(ObjectKey),
    Delete(ObjectKey),
    /// Under `/tus/`: the resumable upload protocol.
    Tus(TusOp),
}

/// A request under `/s3/multipart`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompanionOp {
    /// `POST /s3/multipart`: start an upload.
    Create,
    /// `GET /s3/multipart/{uploadId}/{partNumber}?key=`: a URL for one part.
    SignPart(String, u16),
    /// `GET /s3/multipart/{uploadId}/batch?key=&partNumbers=1,2`: URLs for several parts.
    SignParts(String),
    /// `GET /s3/multipart/{uploadId}?key=`: the parts received.
    List(String),
    /// `POST /s3/multipart/{uploadId}/complete?key=`.
    Complete(String),
    /// `DELETE /s3/multipart/{uploadId}?key=`.
    Abort(String),
}

/// A tus request, by its effective method (see `tus::protocol::effective_method`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TusOp {
    Options,
    Create,
    Head(String),
    Patch(String),
    Terminate(String),
}

pub const TUS_METHODS: &str = "POST, OPTIONS";
pub const TUS_UPLOAD_METHODS: &str = "HEAD, PATCH, DELETE, OPTIONS";

fn tus_route(method: &Method, path: &str) -> Result<Route> {
    let rest = path.strip_prefix("/tus").unwrap_or_default().trim_start_matches('/');
    if *method == Method::OPTIONS {
        return Ok(Route::Tus(TusOp::Options));
    }
    if rest.is_empty() {
        return match *method {
            Method::POST => Ok(Route::Tus(TusOp::Create)),
            _ => Err(not_allowed(TUS_METHODS)),
        };
    }
    if rest.contains('/') || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(GatewayError::new(ErrorKind::UploadNotFound, "no tus upload has this id"));
    }
    let id = rest.to_owned();
    match *method {
        Method::HEAD => Ok(Route::Tus(TusOp::Head(id))),
        Method::PATCH => Ok(Route::Tus(TusOp::Patch(id))),
        Method::DELETE => Ok(Route::Tus(TusOp::Terminate(id))),
        _ => Err(not_allowed(TUS_UPLOAD_METHODS)),
    }
}

pub const OBJECT_METHODS: &str = "GET, HEAD, PUT, POST, DELETE, OPTIONS";

fn not_allowed(allow: &str) -> GatewayError {
    GatewayError::new(ErrorKind::MethodNotAllowed, format!("allowed methods: {allow}"))
}

/// Companion's multipart endpoints: `/s3/multipart[/{uploadId}[/{partNumber}|/complete]]`.
fn companion_route(method: &Method, path: &str) -> Result<Route> {
    let rest = path.strip_prefix("/s3/multipart").unwrap_or_default().trim_start_matches('/');
    let segments: Vec<&str> = if rest.is_empty() { Vec::new() } else { rest.split('/').collect() };
    let op = match (segments.as_slice(), method) {
        ([], &Method::POST) => CompanionOp::Create,
        ([id], &Method::GET) => CompanionOp::List((*id).to_owned()),
        ([id], &Method::DELETE) => CompanionOp::Abort((*id).to_owned()),
        ([id, "complete"], &Method::POST) => CompanionOp::Complete((*id).to_owned()),
        ([id, "batch"], &Method::GET) => CompanionOp::SignParts((*id).to_owned()),
        ([id, n], &Method::GET) if n.bytes().all(|b| b.is_ascii_digit()) => {
            let number =
                n.parse().map_err(|_| GatewayError::new(ErrorKind::BadRequest, "part numbers are 1 to 10000"))?;
            CompanionOp::SignPart((*id).to_owned(), number)
        }
        ([], _) => return Err(not_allowed("POST, OPTIONS")),
        ([_], _) => return Err(not_allowed("GET, DELETE, OPTIONS")),
        ([_, "complete"], _) => return Err(not_allowed("POST, OPTIONS")),
        ([_, _], _) => return Err(not_allowed("GET, OPTIONS")),
        _ => return Err(GatewayError::new(ErrorKind::NotFound, "no such route")),
    };
    Ok(Route::Companion(op))
}

pub fn route(method: &Method, path: &str) -> Result<Route> {
    if path == "/tus" || path.starts_with("/tus/") {
        return tus_route(method, path);
    }
    if (path == "/s3/multipart" || path.starts_with("/s3/multipart/")) && *method != Method::OPTIONS {
        return companion_route(method, path);
    }
    if *method == Method::OPTIONS
        && (path == "/files"
            || path.starts_with("/files/")
            || path == "/healthz"
            || path == "/usage"
            || path == "/presign"
            || path == "/form"
            || path == "/s3/params"
            || path == "/s3/sign"
            || path == "/s3/multipart"
            || path.starts_with("/s3/multipart/"))
    {
        return Ok(Route::Preflight);
    }
    match path {
        "/healthz" => match *method {
            Method::GET | Method::HEAD => Ok(Route::Health),
            _ => Err(not_allowed("GET, HEAD")),
        },
        "/presign" => match *method {
            Method::POST => Ok(Route::Presign),
            _ => Err(not_allowed("POST, OPTIONS")),
        },
        "/form" => match *method {
            Method::POST => Ok(Route::Form),
            _ => Err(not_allowed("POST, OPTIONS")),
        },
        "/s3/sign" => match *method {
            Method::POST => Ok(Route::SignRequest),
            _ => Err(not_allowed("POST, OPTIONS")),
        },
        "/s3/params" => match *method {
            Method::GET => Ok(Route::CompanionParams),
            _ => Err(not_allowed("GET, OPTIONS")),
        },
        "/files" | "/files/" => match *method {
            Method::GET => Ok(Route::List),
            _ => Err(not_allowed("GET, OPTIONS")),
        },
        "/usage" => match *method {
            Method::GET => Ok(Route::Usage),
            _ => Err(not_allowed("GET, OPTIONS")),
        },
        _ => {
            let Some(raw) = path.strip_prefix("/files/") else {
                return Err(GatewayError::new(ErrorKind::NotFound, "no such route"));
            };
            let route: fn(ObjectKey) -> Route = match *method {
                Method::PUT => Route::Upload,
                Method::POST => Route::Post,
                Method::GET => Route::Download,
                Method::HEAD => Route::Head,
                Method::DELETE => Route::Delete,
                _ => return Err(not_allowed(OBJECT_METHODS)),
            };
            ObjectKey::from_path(raw).map(route)
        }
    }
}
