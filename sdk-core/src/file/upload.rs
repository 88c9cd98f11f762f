//! Multipart upload bodies: text fields and file parts from bytes, a path, or a reader.

use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use tokio::io::{AsyncRead, ReadBuf};

use crate::error::{Error, Result};

/// File name sent when neither the part nor the form names the file.
pub const DEFAULT_FILE_NAME: &str = "upload.bin";
const CHUNK: usize = 64 * 1024;

/// A `multipart/form-data` body: text fields and file parts.
///
/// Every file part is sent with a `filename` and a `Content-Type` (the platform rejects
/// parts without a file name, error 1061002): the part's own name, else the form's
/// `file_name` field, else the path's file name, else `upload.bin`.
///
/// ```
/// use lark_oapi_core::{FilePart, Multipart};
/// let form = Multipart::new()
///     .text("image_type", "message")
///     .file("image", FilePart::bytes(vec![0x89, b'P', b'N', b'G']).file_name("logo.png"));
/// ```
#[derive(Debug, Default)]
pub struct Multipart {
    parts: Vec<(String, PartValue)>,
    /// Required file parts left out (generated bodies): the call fails before sending.
    missing: Vec<String>,
}

#[derive(Debug)]
enum PartValue {
    Text(String),
    File(FilePart),
}

/// One file of a multipart body.
pub struct FilePart {
    source: FileSource,
    file_name: Option<String>,
    content_type: Option<String>,
}

enum FileSource {
    Bytes(Bytes),
    Path(PathBuf),
    Reader {
        reader: Mutex<Option<Box<dyn AsyncRead + Send + Unpin>>>,
        len: u64,
    },
}

impl fmt::Debug for FilePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            FileSource::Bytes(b) => format!("{} bytes", b.len()),
            FileSource::Path(p) => format!("path {}", p.display()),
            FileSource::Reader { len, .. } => format!("reader of {len} bytes"),
        };
        f.debug_struct("FilePart")
            .field("source", &source)
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .finish()
    }
}

impl FilePart {
    /// A file held in memory.
    pub fn bytes(data: impl Into<Bytes>) -> Self {
        Self::with_source(FileSource::Bytes(data.into()))
    }

    /// A file on disk, streamed when sent (never read into memory). Its file name is the
    /// default part file name; a missing file fails the call with `Error::Io`.
    pub fn path(path: impl AsRef<Path>) -> Self {
        Self::with_source(FileSource::Path(path.as_ref().to_path_buf()))
    }

    /// A reader of exactly `len` bytes, streamed when sent. A reader can be sent once, so a
    /// call with one is not retried; a reader that ends early or runs long fails the call.
    pub fn reader(reader: impl AsyncRead + Send + Unpin + 'static, len: u64) -> Self {
        Self::with_source(FileSource::Reader {
            reader: Mutex::new(Some(Box::new(reader))),
            len,
        })
    }

    fn with_source(source: FileSource) -> Self {
        Self {
            source,
            file_name: None,
            content_type: None,
        }
    }

    /// The file name sent in the part's `Content-Disposition`.
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = Some(name.into());
        self
    }

    /// The part's content type (guessed from the file name by default).
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }
}

impl Multipart {
    /// An empty form.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a text field (numbers: their decimal text).
    pub fn text(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.parts
            .push((name.into(), PartValue::Text(value.to_string())));
        self
    }

    /// Adds a file part.
    pub fn file(mut self, name: impl Into<String>, file: FilePart) -> Self {
        self.parts.push((name.into(), PartValue::File(file)));
        self
    }

    /// Records that the required part `name` (a file, or a text field) was not given:
    /// sending the form then fails with
    /// [`Error::InvalidRequest`](crate::Error::InvalidRequest) before any I/O, instead of the
    /// platform refusing an incomplete upload.
    ///
    /// ```
    /// let form = lark_oapi_core::Multipart::new().text("image_type", "message").missing_part("image");
    /// ```
    pub fn missing_part(mut self, name: impl Into<String>) -> Self {
        self.missing.push(name.into());
        self
    }

    pub(crate) fn missing_parts(&self) -> &[String] {
        &self.missing
    }

    pub(crate) fn replayable(&self) -> bool {
        !self.parts.iter().any(|(_, p)| {
            matches!(
                p,
                PartValue::File(FilePart {
                    source: FileSource::Reader { .. },
                    ..
                })
            )
        })
    }

    fn text_field(&self, name: &str) -> Option<&str> {
        self.parts.iter().find_map(|(n, p)| match p {
            PartValue::Text(v) if n == name && !v.is_empty() => Some(v.as_str()),
            _ => None,
        })
    }

    /// Builds the wire form; opens files. Called once per attempt.
    pub(crate) async fn to_form(&self) -> Result<reqwest::multipart::Form> {
        let mut form = reqwest::multipart::Form::new().percent_encode_noop();
        for (name, value) in &self.parts {
            let part = match value {
                PartValue::Text(text) => reqwest::multipart::Part::text(text.clone()),
                PartValue::File(file) => {
                    let (body, len, path_name) = match &file.source {
                        FileSource::Bytes(b) => {
                            (reqwest::Body::from(b.clone()), b.len() as u64, None)
                        }
                        FileSource::Path(path) => {
                            let f = tokio::fs::File::open(path).await.map_err(|e| {
                                Error::io(format!("opening {} for upload", path.display()), e)
                            })?;
                            let len = f
                                .metadata()
                                .await
                                .map_err(|e| {
                                    Error::io(format!("reading the size of {}", path.display()), e)
                                })?
                                .len();
                            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                            (
                                reqwest::Body::wrap_stream(ExactReader::new(Box::new(f), len)),
                                len,
                                name,
                            )
                        }
                        FileSource::Reader { reader, len } => {
                            let reader = reader
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .take()
                                .ok_or_else(|| {
                                    Error::InvalidRequest(format!(
                                        "the reader of file part `{name}` was already consumed by an earlier attempt"
                                    ))
                                })?;
                            (
                                reqwest::Body::wrap_stream(ExactReader::new(reader, *len)),
                                *len,
                                None,
                            )
                        }
                    };
                    let file_name = file
                        .file_name
                        .clone()
                        .filter(|n| !n.is_empty())
                        .or(path_name)
                        .or_else(|| self.text_field("file_name").map(str::to_owned))
                        .unwrap_or_else(|| DEFAULT_FILE_NAME.to_owned());
                    let file_name = sanitize_file_name(&file_name);
                    let content_type = file
                        .content_type
                        .clone()
                        .unwrap_or_else(|| guess_content_type(&file_name).to_owned());
                    reqwest::multipart::Part::stream_with_length(body, len)
                        .file_name(file_name)
                        .mime_str(&content_type)
                        .map_err(|_| {
                            Error::InvalidRequest(format!(
                                "content type {content_type:?} of file part `{name}` is not a valid MIME type"
                            ))
                        })?
                }
            };
            form = form.part(name.clone(), part);
        }
        Ok(form)
    }
}

/// Quotes, backslashes and line breaks cannot appear in a `filename="..."` parameter.
fn sanitize_file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if matches!(c, '"' | '\\' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Content type from the file extension; `application/octet-stream` when unknown.
pub(crate) fn guess_content_type(file_name: &str) -> &'static str {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "ico" => "image/x-icon",
        "tif" | "tiff" => "image/tiff",
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "mp4" => "video/mp4",
        "opus" => "audio/opus",
        "mp3" => "audio/mpeg",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

/// Streams a reader in chunks and fails if it yields more or fewer than `len` bytes.
struct ExactReader {
    reader: Box<dyn AsyncRead + Send + Unpin>,
    remaining: u64,
    done: bool,
}

impl ExactReader {
    fn new(reader: Box<dyn AsyncRead + Send + Unpin>, len: u64) -> Self {
        Self {
            reader,
            remaining: len,
            done: false,
        }
    }
}

impl Stream for ExactReader {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        // Read one byte past the end to notice a reader that runs long.
        let want = (this.remaining.min(CHUNK as u64) as usize).max(1);
        let mut buf = BytesMut::zeroed(want);
        let mut read_buf = ReadBuf::new(&mut buf);
        match Pin::new(&mut this.reader).poll_read(cx, &mut read_buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(Ok(())) => {
                let n = read_buf.filled().len();
                if n == 0 {
                    this.done = true;
                    if this.remaining == 0 {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!(
                            "upload source ended {} bytes short of its declared length",
                            this.remaining
                        ),
                    ))));
                }
                if n as u64 > this.remaining {
                    this.done = true;
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "upload source is longer than its declared length",
                    ))));
                }
                this.remaining -= n as u64;
                buf.truncate(n);
                Poll::Ready(Some(Ok(buf.freeze())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_guessed_from_extensions() {
        assert_eq!(guess_content_type("a.PNG"), "image/png");
        assert_eq!(guess_content_type("report.pdf"), "application/pdf");
        assert_eq!(guess_content_type("noext"), "application/octet-stream");
    }

    #[test]
    fn file_names_cannot_break_the_header() {
        assert_eq!(sanitize_file_name("a\"b\r\n.png"), "a_b__.png");
        assert_eq!(sanitize_file_name("报告.pdf"), "报告.pdf");
    }

    #[test]
    fn reader_parts_are_not_replayable() {
        let m = Multipart::new().file("f", FilePart::bytes("x"));
        assert!(m.replayable());
        let m = m.file("g", FilePart::reader(std::io::Cursor::new(vec![1u8]), 1));
        assert!(!m.replayable());
    }
}
