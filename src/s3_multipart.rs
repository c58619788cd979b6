//! Multipart uploads on the S3 backend: `CreateMultipartUpload`, `UploadPart` (the request's
//! own body stream passed to `fetch`, as for a single PUT), `CompleteMultipartUpload` and
//! `AbortMultipartUpload`, signed like every other call.

use gateway_core::encoding::encode_query_value;
use gateway_core::error::{ErrorKind, GatewayError, Result};
use gateway_core::key::StoredName;
use gateway_core::multipart::Part;
use gateway_core::s3::{self, complete_multipart_xml, xml_value};
use gateway_core::store::{ObjectMeta, PutPart};
use wasm_bindgen::JsValue;
use web_sys::ReadableStream;

use crate::s3::{body_value, header, now_ms, response_header, text_at_most, Call, S3Store};

fn upload_query(upload_id: &str) -> String {
    format!("uploadId={}", encode_query_value(upload_id))
}

fn missing(op: &str, what: &str) -> GatewayError {
    GatewayError::hidden(ErrorKind::StorageError, "the storage backend failed", format!("S3 {op}: no {what}"))
}

/// The XML answer of a multipart call: a few hundred bytes, read up to 1 MiB.
async fn text(res: &web_sys::Response) -> String {
    text_at_most(res, 1024 * 1024).await
}

impl S3Store {
    pub(crate) async fn create_upload(&self, key: &StoredName, content_type: &str) -> Result<String> {
        let call = Call {
            query: "uploads".to_owned(),
            signed: vec![header("content-type", content_type)],
            ..Call::new("create multipart", "POST")
        };
        let res = self.send(key, call).await?;
        if !res.ok() {
            return Err(Self::error("create multipart", &res).await);
        }
        let body = text(&res).await;
        xml_value(&body, "UploadId").ok_or_else(|| missing("create multipart", "UploadId"))
    }

    pub(crate) async fn put_part(&self, part: PutPart<ReadableStream>) -> Result<String> {
        let query = format!("partNumber={}&{}", part.number, upload_query(&part.upload_id));
        let call = Call { query, body: Some(body_value(part.body)), ..Call::new("upload part", "PUT") };
        let res = match self.send(&part.name, call).await {
            Ok(res) => res,
            Err(err) => return Err(s3::upload_cut_off(err)),
        };
        if !res.ok() {
            return Err(Self::error("upload part", &res).await);
        }
        response_header(&res, "etag").ok_or_else(|| missing("upload part", "ETag"))
    }

    /// S3 may answer a completion `200 OK` with an error document, so the body is checked.
    pub(crate) async fn complete_upload(
        &self,
        key: &StoredName,
        upload_id: &str,
        parts: &[Part],
    ) -> Result<ObjectMeta> {
        let xml = complete_multipart_xml(parts.iter().map(|p| (p.number, p.etag.as_str())));
        let call = Call {
            query: upload_query(upload_id),
            signed: vec![header("content-type", "application/xml")],
            body: Some(JsValue::from_str(&xml)),
            ..Call::new("complete multipart", "POST")
        };
        let res = self.send(key, call).await?;
        let body = text(&res).await;
        if !res.ok() || body.contains("<Error>") {
            return Err(s3::map_error("complete multipart", res.status(), &body));
        }
        // A 200 whose body was cut off may still hide an error: only the result counts.
        if !body.contains("<CompleteMultipartUploadResult") {
            return Err(missing("complete multipart", "CompleteMultipartUploadResult"));
        }
        let etag = xml_value(&body, "ETag").ok_or_else(|| missing("complete multipart", "ETag"))?;
        Ok(ObjectMeta {
            size: parts.iter().map(|p| p.size).sum(),
            etag,
            // The Worker's clock in milliseconds, as for a single PUT (Last-Modified has
            // whole seconds only), so racing uploads of a key are ordered the same way.
            uploaded_ms: now_ms(),
            content_type: None,
        })
    }

    pub(crate) async fn abort_upload(&self, key: &StoredName, upload_id: &str) -> Result<()> {
        let call = Call { query: upload_query(upload_id), ..Call::new("abort multipart", "DELETE") };
        let res = self.send(key, call).await?;
        if res.ok() || res.status() == 404 {
            return Ok(());
        }
        Err(Self::error("abort multipart", &res).await)
    }
}
