//! Streaming downloads: a byte stream, or `save_to(path)` in constant memory.

use std::path::{Path, PathBuf};
use std::pin::Pin;

use bytes::Bytes;
use futures_core::Stream;
use percent_encoding::percent_decode_str;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, HeaderMap};
use tokio::io::AsyncWriteExt as _;

use crate::error::{Error, Result, TransportError};
use crate::request::RequestSpec;
use crate::request::exchange::Delivered;

/// A stream of body chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send + 'static>>;

/// A file answered by the platform, body not yet read.
///
/// Only a successful, non-JSON answer becomes a `Download`: a JSON body (the platform's
/// error envelope, whatever the HTTP status) is an [`Error`], never saved as the file.
///
/// ```no_run
/// # async fn run(client: lark_oapi_core::Client) -> lark_oapi_core::Result<()> {
/// use lark_oapi_core::Method;
/// let file = client
///     .request(Method::GET, "/open-apis/im/v1/images/:image_key")
///     .path_param("image_key", "img_v2_xxx")
///     .download()
///     .await?;
/// println!("{:?}, {:?} bytes", file.file_name(), file.content_length());
/// let written = file.save_to("/tmp/image.png").await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Download {
    response: reqwest::Response,
    file_name: Option<String>,
    log_id: Option<String>,
    request: String,
}

impl Download {
    pub(crate) fn from_delivered(delivered: Delivered, spec: &RequestSpec) -> Result<Self> {
        let request = format!("{} {}", spec.method, spec.path);
        match delivered {
            Delivered::Streaming { response, log_id } => Ok(Self {
                file_name: file_name_from(response.headers()),
                response,
                log_id,
                request,
            }),
            Delivered::Buffered(raw) => Err(raw
                .decode_error("expected a file but the platform answered JSON with code 0".into())),
        }
    }

    /// The file name from `Content-Disposition` (`filename*` preferred, UTF-8 decoded),
    /// reduced to a plain name: its last path component, without control characters, never
    /// `.` or `..`, so `dir.join(name)` stays inside `dir`.
    pub fn file_name(&self) -> Option<&str> {
        self.file_name.as_deref()
    }

    /// The `Content-Type`.
    pub fn content_type(&self) -> Option<&str> {
        self.response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }

    /// The `Content-Length`, if the platform sent one.
    pub fn content_length(&self) -> Option<u64> {
        self.response.content_length()
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        self.response.headers()
    }

    /// The platform log id.
    pub fn log_id(&self) -> Option<&str> {
        self.log_id.as_deref()
    }

    /// The body as a stream of chunks, read as you poll it.
    pub fn bytes_stream(self) -> ByteStream {
        let request = self.request;
        Box::pin(futures_util::stream::unfold(
            Some(self.response),
            move |state| {
                let request = request.clone();
                async move {
                    let mut response = state?;
                    match response.chunk().await {
                        Ok(Some(chunk)) => Some((Ok(chunk), Some(response))),
                        Ok(None) => None,
                        Err(e) => Some((Err(body_error(&request, e)), None)),
                    }
                }
            },
        ))
    }

    /// The whole body in memory (for small files).
    pub async fn bytes(self) -> Result<Bytes> {
        let request = self.request;
        self.response
            .bytes()
            .await
            .map_err(|e| body_error(&request, e))
    }

    /// Streams the body to `path` in constant memory and returns the number of bytes written.
    ///
    /// Writes to a temporary `<path>.<random>.part` first and renames it when the whole body
    /// (as many bytes as `Content-Length` announced) has arrived, so `path` never holds a
    /// truncated file. The temporary file is removed on any failure, and also when the
    /// future is dropped (a timeout around it, say); two downloads to one path do not
    /// write into each other's temporary file.
    pub async fn save_to(self, path: impl AsRef<Path>) -> Result<u64> {
        let path = path.as_ref();
        let mut part = path.as_os_str().to_owned();
        part.push(format!(".{:08x}.part", fastrand::u32(..)));
        let part = PartFile(Some(PathBuf::from(part)));
        let n = self.write_to(part.path()).await?;
        tokio::fs::rename(part.path(), path).await.map_err(|e| {
            Error::io(
                format!("renaming {} to {}", part.path().display(), path.display()),
                e,
            )
        })?;
        part.keep();
        Ok(n)
    }

    async fn write_to(mut self, part: &Path) -> Result<u64> {
        let expected = self.response.content_length();
        let file = tokio::fs::File::create(part)
            .await
            .map_err(|e| Error::io(format!("creating {}", part.display()), e))?;
        let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
        let mut written = 0u64;
        while let Some(chunk) = self
            .response
            .chunk()
            .await
            .map_err(|e| body_error(&self.request, e))?
        {
            out.write_all(&chunk)
                .await
                .map_err(|e| Error::io(format!("writing {}", part.display()), e))?;
            written += chunk.len() as u64;
        }
        out.flush()
            .await
            .map_err(|e| Error::io(format!("writing {}", part.display()), e))?;
        if let Some(expected) = expected
            && expected != written
        {
            return Err(Error::Transport(Box::new(TransportError {
                request: self.request,
                connect: false,
                message: format!("the download ended after {written} of {expected} bytes"),
                source: None,
            })));
        }
        Ok(written)
    }
}

/// A temporary download file, removed when dropped unless [`keep`](Self::keep) was called
/// (after it was renamed into place).
struct PartFile(Option<PathBuf>);

impl PartFile {
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            // Synchronous, so that it also runs when the future is dropped mid-download.
            let _ = std::fs::remove_file(path);
        }
    }
}

fn body_error(request: &str, e: reqwest::Error) -> Error {
    // The SDK's own timeout stops at the headers; a timeout here is the HTTP client's.
    let what = if e.is_timeout() {
        "timed out (the HTTP client's own timeout)"
    } else {
        "failed"
    };
    Error::Transport(Box::new(TransportError {
        request: request.to_owned(),
        connect: false,
        message: format!("reading the download {what}"),
        source: Some(Box::new(e)),
    }))
}

/// Parses `Content-Disposition`: `filename*=UTF-8''...` (RFC 5987) wins over `filename=`.
pub(crate) fn file_name_from(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_DISPOSITION)?;
    let value = String::from_utf8_lossy(value.as_bytes());
    let mut plain = None;
    let mut extended = None;
    for param in split_params(&value) {
        let Some((key, val)) = param.split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let val = val.trim();
        if key == "filename*" {
            // charset'language'percent-encoded
            let mut pieces = val.splitn(3, '\'');
            let (charset, _lang, encoded) = (pieces.next(), pieces.next(), pieces.next());
            if let (Some(charset), Some(encoded)) = (charset, encoded)
                && (charset.eq_ignore_ascii_case("utf-8") || charset.is_empty())
                && let Ok(s) = percent_decode_str(encoded).decode_utf8()
            {
                extended = Some(s.into_owned());
            }
        } else if key == "filename" {
            let unquoted = val
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .map(|v| v.replace("\\\"", "\""))
                .unwrap_or_else(|| val.to_owned());
            plain = Some(unquoted);
        }
    }
    extended.or(plain).and_then(|n| safe_file_name(&n))
}

/// The last path component of a server-supplied name, without control characters: never a
/// path (`../../.bashrc` gives `.bashrc`, `/etc/passwd` gives `passwd`), never `.` or `..`.
fn safe_file_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == "." || clean == ".." {
        return None;
    }
    Some(clean.to_owned())
}

/// Splits header parameters on `;`, keeping quoted strings whole.
fn split_params(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn name(v: &str) -> Option<String> {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_DISPOSITION,
            HeaderValue::from_bytes(v.as_bytes()).unwrap(),
        );
        file_name_from(&h)
    }

    #[test]
    fn content_disposition_file_names() {
        assert_eq!(
            name("attachment; filename=\"a.png\"").as_deref(),
            Some("a.png")
        );
        assert_eq!(
            name("attachment; filename=plain.txt").as_deref(),
            Some("plain.txt")
        );
        assert_eq!(
            name("attachment; filename=\"x.bin\"; filename*=UTF-8''%E6%96%87%E4%BB%B6.bin")
                .as_deref(),
            Some("文件.bin")
        );
        assert_eq!(
            name("attachment; filename=\"a;b.txt\"").as_deref(),
            Some("a;b.txt")
        );
        assert_eq!(name("inline").as_deref(), None);
    }

    #[test]
    fn server_file_names_are_never_paths() {
        for (header, want) in [
            (
                "attachment; filename*=UTF-8''..%2F..%2F.bashrc",
                Some(".bashrc"),
            ),
            (
                "attachment; filename*=UTF-8''%2Fetc%2Fpasswd",
                Some("passwd"),
            ),
            ("attachment; filename=\"..\\..\\win.ini\"", Some("win.ini")),
            ("attachment; filename*=UTF-8''a%00b%0A.txt", Some("ab.txt")),
            ("attachment; filename*=UTF-8''..", None),
            ("attachment; filename*=UTF-8''dir%2F", None),
            ("attachment; filename=\".\"", None),
        ] {
            assert_eq!(name(header).as_deref(), want, "{header}");
        }
    }
}
