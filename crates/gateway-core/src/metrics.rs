//! Metrics for Workers Analytics Engine (the optional `METRICS` dataset binding): one data
//! point per request, made from the request's log line. Analytics Engine columns are
//! positional, so the order here is the schema that `docs/operations.md`'s queries use:
//! `index1` route; `blob1` route, `blob2` status class, `blob3` problem code (empty on
//! success), `blob4` backend, `blob5` method; `double1` status, `double2` body bytes,
//! `double3` duration in milliseconds.

use crate::log::Line;

/// One Analytics Engine data point.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPoint {
    pub indexes: Vec<String>,
    pub blobs: Vec<String>,
    pub doubles: Vec<f64>,
}

/// The data point of a request, from its log line; `backend` is `r2` or `s3`.
pub fn request_point(line: &Line, backend: &str) -> DataPoint {
    let route = line.route.unwrap_or("unknown").to_owned();
    let status = line.status.unwrap_or(0);
    DataPoint {
        indexes: vec![route.clone()],
        blobs: vec![
            route,
            format!("{}xx", status / 100),
            line.code.unwrap_or_default().to_owned(),
            backend.to_owned(),
            line.method.clone().unwrap_or_default(),
        ],
        doubles: vec![f64::from(status), line.bytes.unwrap_or(0) as f64, line.duration_ms.unwrap_or(0) as f64],
    }
}
