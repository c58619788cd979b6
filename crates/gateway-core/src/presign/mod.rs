//! Presigned URLs: `POST /presign` ([`urls`]), gateway-mode URL signatures ([`capability`]),
//! the confirm step of direct uploads ([`confirm`]) and download file names
//! ([`disposition`]).

pub mod capability;
pub mod confirm;
pub mod disposition;
pub mod urls;
