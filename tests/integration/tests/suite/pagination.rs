//! Pagination as a `Stream`, with page sizes, limits, and errors that are never swallowed.

use crate::common::*;
use futures_util::{StreamExt as _, TryStreamExt as _};
use lark_oapi::{Method, TokenLocation};
use lark_oapi_mock::Fault;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct User {
    user_id: String,
    name: String,
}

#[tokio::test]
async fn items_stream_walks_every_page() {
    let (mock, client) = setup().await;
    let users: Vec<User> = client
        .request(Method::GET, "/open-apis/contact/v3/users")
        .query("department_id", "0")
        .paginate()
        .page_size(20)
        .items::<User>()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(users.len(), 45);
    assert_eq!(users[0].user_id, "u_0");
    assert_eq!(users[44].name, "User 44");
    let calls = mock.requests_to("/open-apis/contact/v3/users");
    assert_eq!(calls.len(), 3);
    assert!(calls[0].query_values("page_token").is_empty());
    assert_eq!(calls[1].query_values("page_token").len(), 1);
    assert!(
        calls
            .iter()
            .all(|c| c.query_values("page_size") == ["20"]
                && c.query_values("department_id") == ["0"])
    );
}

#[tokio::test]
async fn a_limit_stops_fetching() {
    let (mock, client) = setup().await;
    let users: Vec<User> = client
        .request(Method::GET, "/open-apis/contact/v3/users")
        .paginate()
        .page_size(10)
        .limit(15)
        .items::<User>()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(users.len(), 15);
    assert_eq!(mock.requests_to("/open-apis/contact/v3/users").len(), 2);
}

#[tokio::test]
async fn pages_report_has_more_and_tokens() {
    let (mock, client) = setup().await;
    mock.set_list_size("/open-apis/im/v1/chats", 5);
    let pages: Vec<_> = client
        .request(Method::GET, "/open-apis/im/v1/chats")
        .paginate()
        .page_size(2)
        .pages::<serde_json::Value>()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        pages.iter().map(|p| p.items.len()).collect::<Vec<_>>(),
        [2, 2, 1]
    );
    assert!(pages[0].has_more && pages[0].next_page_token.is_some());
    assert!(!pages[2].has_more);
    assert!(pages.iter().all(|p| p.log_id.is_some()));
}

#[tokio::test]
async fn an_error_mid_way_is_yielded_not_swallowed() {
    let (mock, client) = setup().await;
    let mut stream = client
        .request(Method::GET, "/open-apis/contact/v3/users")
        .paginate()
        .page_size(20)
        .items::<User>();
    let mut seen = 0;
    for _ in 0..20 {
        stream.next().await.unwrap().unwrap();
        seen += 1;
    }
    // The second page fails (and failing pages are not retried past the policy).
    mock.push_fault(
        "/open-apis/contact/v3/users",
        Fault::Api {
            http_status: 400,
            code: 99992402,
            msg: "bad".into(),
            error: None,
        },
    );
    let err = stream
        .next()
        .await
        .expect("an item")
        .expect_err("the error is yielded");
    assert_eq!(err.code(), Some(99992402));
    assert!(
        stream.next().await.is_none(),
        "the stream ends after the error"
    );
    assert_eq!(seen, 20);
}

#[tokio::test]
async fn old_style_lists_with_other_field_names() {
    let (_mock, client) = setup().await;
    let files: Vec<serde_json::Value> = client
        .request(Method::GET, "/open-apis/drive/v1/files")
        .paginate()
        .page_size(20)
        .items_field("files")
        .items::<serde_json::Value>()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(files.len(), 45);
    assert_eq!(files[44]["token"], "f_44");
}

#[tokio::test]
async fn a_page_that_does_not_decode_is_an_error() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Wrong {
        user_id: u64,
    }
    let (_mock, client) = setup().await;
    let err = client
        .request(Method::GET, "/open-apis/contact/v3/users")
        .paginate()
        .items::<Wrong>()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("item 0"), "{err}");
}

#[tokio::test]
async fn page_tokens_can_travel_in_the_body() {
    let (mock, client) = setup().await;
    // The echo endpoint answers with no items and no has_more: one page, token in the body.
    let pages: Vec<_> = client
        .request(Method::POST, "/open-apis/echo/v1/search")
        .json(&serde_json::json!({"query": "x"}))
        .paginate()
        .start_token("abc")
        .page_token_param("page_token", TokenLocation::Body)
        .pages::<serde_json::Value>()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 1);
    let body = mock.requests_to("/open-apis/echo/v1/search")[0]
        .json()
        .unwrap();
    assert_eq!(body, serde_json::json!({"query": "x", "page_token": "abc"}));
}

#[tokio::test]
async fn a_page_token_that_comes_back_ends_the_stream_with_an_error() {
    let (mock, client) = setup().await;
    let path = "/open-apis/contact/v3/users";
    for (token, user) in [("A", "u_1"), ("B", "u_2"), ("A", "u_3")] {
        mock.push_fault(
            path,
            Fault::RawJson {
                http_status: 200,
                body: format!(
                    r#"{{"code":0,"msg":"ok","data":{{"has_more":true,"page_token":"{token}","items":[{{"user_id":"{user}","name":"n"}}]}}}}"#
                ),
            },
        );
    }
    let results: Vec<_> = client
        .request(Method::GET, path)
        .paginate()
        .items::<User>()
        .collect()
        .await;
    // Two pages of items; the page that repeats a token is an error in place of its items
    // (they may well repeat earlier ones).
    assert_eq!(results.len(), 3);
    assert!(results[..2].iter().all(Result::is_ok));
    let err = results[2].as_ref().unwrap_err();
    assert!(err.to_string().contains("returned before"), "{err}");
    assert_eq!(
        mock.requests_to(path).len(),
        3,
        "no fourth request: the cycle is caught"
    );
}

#[tokio::test]
async fn without_a_has_more_flag_a_page_token_means_more() {
    let (mock, client) = setup().await;
    let path = "/open-apis/calendar/v4/calendars/search";
    for (token, user) in [("A", "u_1"), ("", "u_2")] {
        mock.push_fault(
            path,
            Fault::RawJson {
                http_status: 200,
                body: format!(
                    r#"{{"code":0,"msg":"ok","data":{{"page_token":"{token}","items":[{{"user_id":"{user}","name":"n"}}]}}}}"#
                ),
            },
        );
    }
    let users: Vec<User> = client
        .request(Method::POST, path)
        .paginate()
        .items::<User>()
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<&str> = users.iter().map(|u| u.user_id.as_str()).collect();
    assert_eq!(ids, ["u_1", "u_2"], "the second page was fetched");
    let calls = mock.requests_to(path);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].query_values("page_token"), ["A"]);
}

#[tokio::test]
async fn pages_keep_the_other_members_of_data() {
    let (mock, client) = setup().await;
    let path = "/open-apis/contact/v3/scopes";
    mock.push_fault(
        path,
        Fault::RawJson {
            http_status: 200,
            body: r#"{"code":0,"msg":"ok","data":{"department_ids":["od_1"],"user_ids":["ou_1","ou_2"],"group_ids":[],"has_more":false,"page_token":""}}"#.into(),
        },
    );
    let pages: Vec<_> = client
        .contact()
        .v3()
        .scope()
        .list()
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].items, ["od_1"]);
    assert_eq!(
        pages[0].rest["user_ids"],
        serde_json::json!(["ou_1", "ou_2"])
    );
    assert!(pages[0].rest.contains_key("group_ids"));
    assert!(!pages[0].rest.contains_key("has_more") && !pages[0].rest.contains_key("page_token"));
}
