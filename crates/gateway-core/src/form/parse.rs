//! Reading a form POST's `multipart/form-data` body as it streams: the fields before the
//! file, parsed by `multer` from the body's first bytes ([`read_head`]); then the file's bytes,
//! which the edge passes to the store untouched while [`FileScan`] checks that no other part
//! follows the file and that the body ends with its closing delimiter where its length says.
//!
//! The store takes a body of known length, so the file's length is the body's `Content-Length`
//! less the head and the closing delimiter `\r\n--boundary--\r\n`, the ending browsers, curl
//! and the common form encoders write. A body that ends otherwise, or puts a field after the
//! file (S3 ignores those; here the bytes would otherwise be stored as part of the file), is
//! refused once the scan reaches it, and the edge deletes what it stored.

use std::ops::Range;

use futures_util::FutureExt;

use crate::error::{ErrorKind, GatewayError, Result};

/// The fields before the file may take at most this many bytes of the body.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The form field that holds the file, as in S3's form POST.
pub const FILE_FIELD: &str = "file";

/// Everything a form says before its file's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormHead {
    /// The fields before the file, in order: (name, value).
    pub fields: Vec<(String, String)>,
    /// The file part's `filename`, as the browser sent it.
    pub filename: Option<String>,
    /// The file part's own `Content-Type`.
    pub content_type: Option<String>,
    /// Where the file's bytes begin in the body.
    pub data_start: usize,
}

pub(crate) fn malformed(why: impl std::fmt::Display) -> GatewayError {
    GatewayError::new(ErrorKind::BadRequest, format!("the form is malformed: {why}"))
}

/// The boundary of a `multipart/form-data` request's `Content-Type`.
pub fn boundary(content_type: &str) -> Result<String> {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return Err(GatewayError::new(ErrorKind::UnsupportedMediaType, "a form upload is `multipart/form-data`"));
    }
    multer::parse_boundary(content_type).map_err(|_| malformed("its Content-Type names no boundary"))
}

/// Whether multer stopped because the bytes ran out rather than because they are wrong.
fn ran_out(e: &multer::Error) -> bool {
    matches!(
        e,
        multer::Error::IncompleteStream | multer::Error::IncompleteFieldData { .. } | multer::Error::IncompleteHeaders
    )
}

/// Reads the head of a form from `prefix`, the body's first bytes: `Ok(None)` while the
/// file's part has not begun in them (read more and call again). Refuses a form with no file,
/// a field twice (whatever its case, as field names are matched), a field that is not UTF-8,
/// and a head larger than [`MAX_HEAD_BYTES`].
pub fn read_head(prefix: &[u8], boundary: &str) -> Result<Option<FormHead>> {
    let bytes = bytes::Bytes::copy_from_slice(prefix);
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(bytes) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut fields: Vec<(String, String)> = Vec::new();
    let need_more = || {
        if prefix.len() >= MAX_HEAD_BYTES {
            Err(malformed(format!("its fields before the file take more than {MAX_HEAD_BYTES} bytes")))
        } else {
            Ok(None)
        }
    };
    loop {
        // The stream is in memory, so every step is ready at once.
        let next = form.next_field().now_or_never().ok_or_else(|| malformed("it could not be read"))?;
        let field = match next {
            Ok(Some(field)) => field,
            Ok(None) => return Err(malformed(format!("it has no `{FILE_FIELD}` field"))),
            Err(e) if ran_out(&e) => return need_more(),
            Err(e) => return Err(malformed(e)),
        };
        let name = field.name().ok_or_else(|| malformed("a part has no field name"))?.to_owned();
        if name.eq_ignore_ascii_case(FILE_FIELD) {
            let filename = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(ToString::to_string);
            let data_start = part_data_start(prefix, boundary, fields.len())
                .ok_or_else(|| malformed("its file part has no end of headers"))?;
            return Ok(Some(FormHead { fields, filename, content_type, data_start }));
        }
        if fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            return Err(malformed(format!("the field `{name}` comes twice")));
        }
        let value = match field.bytes().now_or_never().ok_or_else(|| malformed("it could not be read"))? {
            Ok(value) => value,
            Err(e) if ran_out(&e) => return need_more(),
            Err(e) => return Err(malformed(e)),
        };
        let value =
            String::from_utf8(value.to_vec()).map_err(|_| malformed(format!("the field `{name}` is not UTF-8")))?;
        fields.push((name, value));
    }
}

/// Where the data of the form's part number `index` (from 0) begins: after its delimiter
/// (`--boundary` at the start of a line) and its headers. multer has parsed the parts before
/// it, so their values hold no delimiter and the `index`th delimiter is this part's.
fn part_data_start(prefix: &[u8], boundary: &str, index: usize) -> Option<usize> {
    let dash_boundary = format!("--{boundary}");
    let at = memchr::memmem::find_iter(prefix, dash_boundary.as_bytes())
        .filter(|&i| i == 0 || prefix[..i].ends_with(b"\r\n"))
        .nth(index)?;
    let headers = at + dash_boundary.len();
    memchr::memmem::find(&prefix[headers..], b"\r\n\r\n").map(|end| headers + end + 4)
}

/// A form's head and its file as a body to store (what [`crate::store::Compose::form`]
/// answers).
pub struct FormFile<B> {
    pub head: FormHead,
    /// The file's bytes, `length` of them, as they arrive.
    pub body: B,
    pub length: u64,
    /// Why the file's bytes stopped, once the edge knows it was the form's fault (a part after
    /// the file, a wrong ending): the answer to give when the store write fails.
    pub fault: std::rc::Rc<std::cell::RefCell<Option<GatewayError>>>,
}

/// Which bytes of a chunk are the file's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fed {
    /// File bytes to pass on now (a range of the chunk, possibly empty).
    pub now: Range<usize>,
    /// The file's last byte, if it is in this chunk: pass it on only once [`FileScan::finish`]
    /// has accepted the body's ending.
    pub last: Option<usize>,
}

/// Follows the file's bytes through the rest of the body (see the module's introduction).
#[derive(Debug)]
pub struct FileScan {
    /// `\r\n--boundary`: the start of any delimiter, which the file may not contain.
    delimiter: Vec<u8>,
    /// What the body must end with: `\r\n--boundary--\r\n`.
    ending: Vec<u8>,
    file: Range<u64>,
    /// The last bytes of the file seen, so a delimiter split between chunks is found.
    carry: Vec<u8>,
    /// The body's bytes after the file, as they arrive.
    tail: Vec<u8>,
}

impl FileScan {
    /// The scan of a body of `total` bytes whose head is `head`.
    pub fn new(head: &FormHead, boundary: &str, total: u64) -> Result<FileScan> {
        let delimiter = format!("\r\n--{boundary}").into_bytes();
        let ending = format!("\r\n--{boundary}--\r\n").into_bytes();
        let start = head.data_start as u64;
        let end = total
            .checked_sub(ending.len() as u64)
            .filter(|&end| end >= start)
            .ok_or_else(|| malformed("it is shorter than its parts"))?;
        Ok(FileScan { delimiter, ending, file: start..end, carry: Vec::new(), tail: Vec::new() })
    }

    /// The file's length in bytes.
    pub fn file_len(&self) -> u64 {
        self.file.end - self.file.start
    }

    /// Takes the body's next `chunk`, which begins at byte `at` of the body, and answers which
    /// of its bytes are the file's; refuses a chunk in which a delimiter begins inside the
    /// file or the ending differs.
    pub fn feed(&mut self, at: u64, chunk: &[u8]) -> Result<Fed> {
        let end = at + chunk.len() as u64;
        let clamp = |x: u64| (x.clamp(at, end) - at) as usize;
        let data = clamp(self.file.start)..clamp(self.file.end);
        if !data.is_empty() {
            self.carry.extend_from_slice(&chunk[data.clone()]);
            if memchr::memmem::find(&self.carry, &self.delimiter).is_some() {
                return Err(malformed(format!("a part follows its `{FILE_FIELD}` field, which must be the last")));
            }
            let keep = self.delimiter.len() - 1;
            if self.carry.len() > keep {
                self.carry.drain(..self.carry.len() - keep);
            }
        }
        let after = clamp(self.file.end)..chunk.len();
        self.tail.extend_from_slice(&chunk[after]);
        if !self.ending.starts_with(&self.tail) {
            return Err(malformed(
                "it does not end with its closing boundary where its length says (is a part after the file?)",
            ));
        }
        // The file's last byte waits for the ending, so the store cannot finish a file whose
        // form turns out to be malformed.
        let last = (self.file.end > self.file.start && (at..end).contains(&(self.file.end - 1)))
            .then(|| (self.file.end - 1 - at) as usize);
        let now = data.start..last.unwrap_or(data.end);
        Ok(Fed { now, last })
    }

    /// Once the body has ended: whether it ended exactly as a form must.
    pub fn finish(&self) -> Result<()> {
        if self.tail == self.ending {
            Ok(())
        } else {
            Err(malformed("it ended before its closing boundary"))
        }
    }
}

/// A whole form body read at once, for stores that hold bodies in memory: its head and its
/// file's bytes, or why it is malformed.
pub fn read_whole(body: &[u8], boundary: &str) -> Result<(FormHead, Vec<u8>)> {
    let head = read_head(body, boundary)?.ok_or_else(|| malformed("it ended before its file"))?;
    let mut scan = FileScan::new(&head, boundary, body.len() as u64)?;
    let fed = scan.feed(0, body)?;
    scan.finish()?;
    let file = fed.now.start..fed.last.map_or(fed.now.end, |last| last + 1);
    Ok((head, body[file].to_vec()))
}
