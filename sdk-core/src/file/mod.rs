//! Files: multipart uploads and streaming downloads.

pub(crate) mod download;
pub(crate) mod upload;
