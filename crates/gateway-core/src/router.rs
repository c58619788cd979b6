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
    Upload(ObjectKey),
    /// `POST` on an object: starts or completes a multipart upload, by query string.
    Post(ObjectKey),
    Download(ObjectKey),
    Head(ObjectKey),
    Delete(ObjectKey),
}

pub const OBJECT_METHODS: &str = "GET, HEAD, PUT, POST, DELETE, OPTIONS";

fn not_allowed(allow: &str) -> GatewayError {
    GatewayError::new(ErrorKind::MethodNotAllowed, format!("allowed methods: {allow}"))
}

pub fn route(method: &Method, path: &str) -> Result<Route> {
    if *method == Method::OPTIONS
        && (path == "/files" || path.starts_with("/files/") || path == "/healthz" || path == "/presign")
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
