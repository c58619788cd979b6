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
    /// `POST /presign`.
    Presign,
    /// `POST /form`: a browser form upload, authorised by its signed policy.
    Form,
    /// `GET /s3/params`: a form, as Companion hands one to `@uppy/aws-s3` 4.x and 5.x.
    CompanionParams,
    Upload(ObjectKey),
    /// `POST` on an object: starts or completes a multipart upload, by query string.
    Post(ObjectKey),
    Download(ObjectKey),
    Head(ObjectKey),
    Delete(ObjectKey),
    /// Under `/tus/`: the resumable upload protocol.
    Tus(TusOp),
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

pub fn route(method: &Method, path: &str) -> Result<Route> {
    if path == "/tus" || path.starts_with("/tus/") {
        return tus_route(method, path);
    }
    if *method == Method::OPTIONS
        && (path == "/files"
            || path.starts_with("/files/")
            || path == "/healthz"
            || path == "/presign"
            || path == "/form"
            || path == "/s3/params")
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
        "/s3/params" => match *method {
            Method::GET => Ok(Route::CompanionParams),
            _ => Err(not_allowed("GET, OPTIONS")),
        },
        "/files" | "/files/" => match *method {
            Method::GET => Ok(Route::List),
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
