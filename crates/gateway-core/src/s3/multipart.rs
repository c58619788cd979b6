//! [`Multipart`] on an S3-compatible store: `CreateMultipartUpload`, `UploadPart` (the
//! request's own body stream, as for a single PUT), `CompleteMultipartUpload` (whose `200 OK`
//! may carry an error), `ListParts` and `AbortMultipartUpload`, signed like every other call.

use super::exec::{Answer, HttpExecutor, Payload};
use super::store::{header, is_ok, missing, text_at_most, Call, S3Store};
use super::{complete_multipart_xml, is_entity_tag, map_error, xml_elements, xml_root, xml_value};
use crate::encoding::encode_query_value;
use crate::error::Result;
use crate::key::StoredName;
use crate::multipart::rules::Part;
use crate::store::{Multipart, ObjectMeta, Objects, PutPart};

fn upload_query(upload_id: &str) -> String {
    format!("uploadId={}", encode_query_value(upload_id))
}

/// The XML answer of a multipart call: a few hundred bytes, read up to 1 MiB.
const XML_LIMIT: usize = 1024 * 1024;

/// A page of `ListParts`: up to 1,000 parts of about 250 bytes each.
const LIST_LIMIT: usize = 4 * 1024 * 1024;

impl<E: HttpExecutor> Multipart for S3Store<E> {
    async fn create_multipart(&self, name: &StoredName, content_type: &str) -> Result<String> {
        let call = Call {
            query: "uploads".to_owned(),
            signed: vec![header("content-type", content_type)],
            ..Call::new("create multipart", "POST")
        };
        let answer = self.send(name, call).await?;
        if !is_ok(answer.status()) {
            return Err(Self::error("create multipart", answer).await);
        }
        let body = text_at_most(answer, XML_LIMIT).await;
        xml_value(&body, "UploadId").ok_or_else(|| missing("create multipart", "UploadId"))
    }

    async fn upload_part(&self, part: PutPart<E::Body>) -> Result<String> {
        let query = format!("partNumber={}&{}", part.number, upload_query(&part.upload_id));
        let call = Call { query, body: Payload::Stream(part.body), ..Call::new("upload part", "PUT") };
        let answer = self.send_upload(&part.name, call).await?;
        if !is_ok(answer.status()) {
            return Err(Self::error("upload part", answer).await);
        }
        let etag = answer.header("etag");
        answer.discard();
        etag.ok_or_else(|| missing("upload part", "ETag"))
    }

    /// S3 may answer a completion `200 OK` with an error document, so the body is checked.
    async fn complete_multipart(&self, name: &StoredName, upload_id: &str, parts: &[Part]) -> Result<ObjectMeta> {
        let xml = complete_multipart_xml(parts.iter().map(|p| (p.number, p.etag.as_str())));
        let call = Call {
            query: upload_query(upload_id),
            signed: vec![header("content-type", "application/xml")],
            body: Payload::Text(xml),
            ..Call::new("complete multipart", "POST")
        };
        let answer = self.send(name, call).await?;
        let status = answer.status();
        let body = text_at_most(answer, XML_LIMIT).await;
        let root = xml_root(&body);
        if !is_ok(status) || root.as_deref() == Some("Error") {
            return Err(map_error("complete multipart", status, &body));
        }
        // A 200 whose body was cut off may still hide an error: only the result counts.
        if root.as_deref() != Some("CompleteMultipartUploadResult") {
            return Err(missing("complete multipart", "CompleteMultipartUploadResult"));
        }
        let mut etag = xml_value(&body, "ETag").ok_or_else(|| missing("complete multipart", "ETag"))?;
        if !is_entity_tag(&etag) {
            // The answer's ETag is not one (a store that encodes it oddly): the object's own
            // header is what GET will serve, so that is what the row records.
            etag = self.head(name).await?.map(|o| o.etag).ok_or_else(|| missing("complete multipart", "ETag"))?;
        }
        Ok(ObjectMeta {
            size: parts.iter().map(|p| p.size).sum(),
            etag,
            // The store's clock in milliseconds, as for a single PUT (Last-Modified has whole
            // seconds only), so racing uploads of a key are ordered the same way.
            uploaded_ms: (self.clock)(),
            content_type: None,
        })
    }

    /// `ListParts`, page after page (1,000 parts each by default) until the store says the
    /// list is complete.
    async fn list_parts(&self, name: &StoredName, upload_id: &str) -> Result<Vec<Part>> {
        let mut parts = Vec::new();
        let mut marker = 0u16;
        loop {
            let query = format!("part-number-marker={marker}&{}", upload_query(upload_id));
            let answer = self.send(name, Call { query, ..Call::new("list parts", "GET") }).await?;
            if !is_ok(answer.status()) {
                return Err(Self::error("list parts", answer).await);
            }
            let body = text_at_most(answer, LIST_LIMIT).await;
            if xml_root(&body).as_deref() != Some("ListPartsResult") {
                return Err(missing("list parts", "ListPartsResult"));
            }
            let elements = xml_elements(&body, "Part").ok_or_else(|| missing("list parts", "Part"))?;
            for element in &elements {
                let number = xml_value(element, "PartNumber").and_then(|n| n.parse::<u16>().ok());
                let size = xml_value(element, "Size").and_then(|n| n.parse::<u64>().ok());
                let (Some(number), Some(size)) = (number, size) else {
                    return Err(missing("list parts", "PartNumber and Size"));
                };
                // s3s-fs lists parts without their ETags: an empty one is unknown.
                parts.push(Part { number, size, etag: xml_value(element, "ETag").unwrap_or_default() });
            }
            let next = xml_value(&body, "NextPartNumberMarker").and_then(|n| n.parse::<u16>().ok());
            match next {
                // A page that moves the marker on; any other `IsTruncated` answer ends the list.
                Some(next) if xml_value(&body, "IsTruncated").as_deref() == Some("true") && next > marker => {
                    marker = next
                }
                _ => {
                    // S3 lists in order of part number; s3s-fs in the order of its files.
                    parts.sort_by_key(|p| p.number);
                    return Ok(parts);
                }
            }
        }
    }

    async fn abort_multipart(&self, name: &StoredName, upload_id: &str) -> Result<()> {
        let call = Call { query: upload_query(upload_id), ..Call::new("abort multipart", "DELETE") };
        let answer = self.send(name, call).await?;
        if is_ok(answer.status()) || answer.status() == 404 {
            answer.discard();
            return Ok(());
        }
        Err(Self::error("abort multipart", answer).await)
    }
}
