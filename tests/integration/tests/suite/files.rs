//! Uploads (bytes, path, reader) and downloads (stream, save_to, JSON errors).

use crate::common::*;
use futures_util::StreamExt as _;
use lark_oapi::{Error, FilePart, Method, Multipart};
use lark_oapi_mock::{Fault, download_byte, fnv1a64};

#[tokio::test]
async fn uploads_from_bytes_carry_a_filename_and_content_type() {
    let (mock, client) = setup().await;
    let png = b"\x89PNG\r\n\x1a\nfake".to_vec();
    let resp = client
        .request(Method::POST, "/open-apis/im/v1/images")
        .multipart(
            Multipart::new()
                .text("image_type", "message")
                .file("image", FilePart::bytes(png.clone()).file_name("logo.png")),
        )
        .send_value()
        .await
        .unwrap();
    assert!(
        resp.data()["image_key"]
            .as_str()
            .unwrap()
            .starts_with("img_")
    );
    let parts = mock.requests_to("/open-apis/im/v1/images")[0]
        .multipart
        .clone()
        .unwrap();
    let image = parts.iter().find(|p| p.name == "image").unwrap();
    assert_eq!(image.file_name.as_deref(), Some("logo.png"));
    assert_eq!(image.content_type.as_deref(), Some("image/png"));
    assert_eq!(image.len, png.len() as u64);
    assert_eq!(image.digest, fnv1a64(&png));
    let kind = parts.iter().find(|p| p.name == "image_type").unwrap();
    assert_eq!(kind.text.as_deref(), Some("message"));
    assert!(kind.file_name.is_none());
}

#[tokio::test]
async fn a_file_part_without_a_name_still_gets_one() {
    let (mock, client) = setup().await;
    // Named after the form's file_name field...
    client
        .request(Method::POST, "/open-apis/im/v1/files")
        .multipart(
            Multipart::new()
                .text("file_type", "pdf")
                .text("file_name", "季度报告.pdf")
                .file("file", FilePart::bytes(&b"%PDF-1.7"[..])),
        )
        .send_value()
        .await
        .unwrap();
    let parts = mock.requests_to("/open-apis/im/v1/files")[0]
        .multipart
        .clone()
        .unwrap();
    let file = parts.iter().find(|p| p.name == "file").unwrap();
    assert_eq!(file.file_name.as_deref(), Some("季度报告.pdf"));
    assert_eq!(file.content_type.as_deref(), Some("application/pdf"));

    // ...or the default.
    client
        .request(Method::POST, "/open-apis/im/v1/images")
        .multipart(
            Multipart::new()
                .text("image_type", "message")
                .file("image", FilePart::bytes(vec![1, 2, 3])),
        )
        .send_value()
        .await
        .unwrap();
    let parts = mock.requests_to("/open-apis/im/v1/images")[0]
        .multipart
        .clone()
        .unwrap();
    let image = parts.iter().find(|p| p.name == "image").unwrap();
    assert_eq!(
        image.file_name.as_deref(),
        Some(lark_oapi::DEFAULT_FILE_NAME)
    );
    assert_eq!(
        image.content_type.as_deref(),
        Some("application/octet-stream")
    );
}

#[tokio::test]
async fn uploads_stream_from_a_path() {
    let (mock, client) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let resp = client
        .request(Method::POST, "/open-apis/drive/v1/files/upload_all")
        .multipart(
            Multipart::new()
                .text("file_name", "big.bin")
                .text("parent_type", "explorer")
                .text("parent_node", "fldcn1")
                .text("size", data.len())
                .file("file", FilePart::path(&path)),
        )
        .send_value()
        .await
        .unwrap();
    assert!(resp.data()["file_token"].is_string());
    let parts = mock.requests_to("/open-apis/drive/v1/files/upload_all")[0]
        .multipart
        .clone()
        .unwrap();
    let file = parts.iter().find(|p| p.name == "file").unwrap();
    assert_eq!(file.file_name.as_deref(), Some("big.bin"));
    assert_eq!(file.len, data.len() as u64);
    assert_eq!(file.digest, fnv1a64(&data));
}

#[tokio::test]
async fn uploads_stream_from_a_reader_and_check_its_length() {
    let (mock, client) = setup().await;
    let data = vec![7u8; 100_000];
    client
        .request(Method::POST, "/open-apis/im/v1/files")
        .multipart(
            Multipart::new()
                .text("file_type", "stream")
                .text("file_name", "r.dat")
                .file(
                    "file",
                    FilePart::reader(std::io::Cursor::new(data.clone()), data.len() as u64),
                ),
        )
        .send_value()
        .await
        .unwrap();
    let parts = mock.requests_to("/open-apis/im/v1/files")[0]
        .multipart
        .clone()
        .unwrap();
    let file = parts.iter().find(|p| p.name == "file").unwrap();
    assert_eq!((file.len, file.digest), (data.len() as u64, fnv1a64(&data)));

    // A reader shorter than declared fails the call instead of sending a short file.
    let err = client
        .request(Method::POST, "/open-apis/im/v1/files")
        .multipart(
            Multipart::new()
                .text("file_type", "stream")
                .text("file_name", "r.dat")
                .file(
                    "file",
                    FilePart::reader(std::io::Cursor::new(vec![1u8; 10]), 20),
                ),
        )
        .send_value()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert_eq!(
        mock.requests_to("/open-apis/im/v1/files").len(),
        1,
        "the short upload was not recorded as a success"
    );
}

#[tokio::test]
async fn a_missing_upload_file_is_an_io_error_naming_it() {
    let (mock, client) = setup().await;
    let err = client
        .request(Method::POST, "/open-apis/im/v1/images")
        .multipart(
            Multipart::new()
                .text("image_type", "message")
                .file("image", FilePart::path("/nonexistent/x.png")),
        )
        .send_value()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Io { context, .. } if context.contains("/nonexistent/x.png")),
        "{err:?}"
    );
    // One level in Display, the I/O error as its source (not both).
    let io = std::error::Error::source(&err).expect("the I/O error is the source");
    assert!(!err.to_string().contains(&io.to_string()), "{err}");
    assert!(mock.requests_to("/open-apis/im/v1/images").is_empty());
}

#[tokio::test]
async fn downloads_stream_and_save_to_a_file() {
    let (mock, client) = setup().await;
    let n = 1_000_000u64;
    let file = client
        .request(Method::GET, "/open-apis/im/v1/images/:image_key")
        .path_param("image_key", format!("bytes-{n}"))
        .download()
        .await
        .unwrap();
    assert_eq!(
        file.file_name(),
        Some(format!("文件-bytes-{n}.bin").as_str())
    );
    assert_eq!(file.content_length(), Some(n));
    assert!(file.log_id().is_some());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.bin");
    assert_eq!(file.save_to(&path).await.unwrap(), n);
    let saved = std::fs::read(&path).unwrap();
    assert_eq!(saved.len() as u64, n);
    assert!(
        saved
            .iter()
            .enumerate()
            .all(|(i, b)| *b == download_byte(i as u64))
    );
    assert!(!dir.path().join("out.bin.part").exists());

    let mut stream = client
        .request(
            Method::GET,
            "/open-apis/drive/v1/files/:file_token/download",
        )
        .path_param("file_token", "bytes-300000")
        .download()
        .await
        .unwrap()
        .bytes_stream();
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        assert!(
            chunk
                .iter()
                .enumerate()
                .all(|(i, b)| *b == download_byte(total + i as u64))
        );
        total += chunk.len() as u64;
    }
    assert_eq!(total, 300_000);
    assert_eq!(
        mock.requests_to("/open-apis/drive/v1/files/bytes-300000/download")
            .len(),
        1
    );
}

#[tokio::test]
async fn a_json_error_body_on_a_download_is_an_error_not_a_file() {
    let (_mock, client) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    // HTTP 200 with the platform's JSON error envelope.
    let err = client
        .request(Method::GET, "/open-apis/im/v1/images/:image_key")
        .path_param("image_key", "missing")
        .download()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(234001));
    assert_eq!(err.http_status(), Some(200));
    assert!(err.log_id().is_some());
    // HTTP 404 with JSON.
    let err = client
        .request(
            Method::GET,
            "/open-apis/im/v1/messages/:message_id/resources/:file_key",
        )
        .path_param("message_id", "om_1")
        .path_param("file_key", "gone")
        .download()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(234002));
    assert_eq!(err.http_status(), Some(404));
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

#[tokio::test]
async fn an_upload_from_a_reader_is_not_replayed_after_a_rejected_token() {
    let (mock, client) = setup().await;
    mock.push_fault("/open-apis/im/v1/files", Fault::InvalidToken);
    let err = client
        .request(Method::POST, "/open-apis/im/v1/files")
        .multipart(Multipart::new().text("file_type", "stream").file(
            "file",
            FilePart::reader(std::io::Cursor::new(vec![1u8; 1000]), 1000),
        ))
        .send_value()
        .await
        .unwrap_err();
    // The platform's answer, not "reader already consumed".
    assert_eq!(err.code(), Some(99991663), "{err}");
    assert_eq!(mock.requests_to("/open-apis/im/v1/files").len(), 1);
}

#[tokio::test]
async fn a_download_dropped_midway_leaves_no_temporary_file() {
    let (_mock, client) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let file = client
        .im()
        .v1()
        .file()
        .get("bytes-1073741824")
        .send()
        .await
        .unwrap();
    // A timeout around `save_to` drops it while the 1 GiB body is still streaming.
    let cut =
        tokio::time::timeout(std::time::Duration::from_millis(100), file.save_to(&path)).await;
    assert!(cut.is_err(), "still downloading when dropped");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
