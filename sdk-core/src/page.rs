//! Pagination: a `Stream` of pages or of items over any paginated endpoint.

use std::pin::Pin;

use futures_core::Stream;
use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::client::Client;
use crate::error::Result;
use crate::request::RequestSpec;
use crate::response::RawResponse;

/// A stream of pages.
pub type PageStream<T> = Pin<Box<dyn Stream<Item = Result<Page<T>>> + Send + 'static>>;
/// A stream of items.
pub type ItemStream<T> = Pin<Box<dyn Stream<Item = Result<T>> + Send + 'static>>;

/// One page of a list.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Whether the platform has more.
    pub has_more: bool,
    /// The token of the next page, if any.
    pub next_page_token: Option<String>,
    /// The platform log id of this page's call.
    pub log_id: Option<String>,
    /// The other members of the page's `data`, besides the items, the page token and the
    /// "more" flag: e.g. the `user_ids` and `group_ids` that `contact.v3.scope.list` returns
    /// beside its `department_ids` items.
    pub rest: serde_json::Map<String, Value>,
}

/// Where the page token travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenLocation {
    /// In the query string (most APIs).
    #[default]
    Query,
    /// In the JSON body (some older APIs).
    Body,
}

/// How an endpoint paginates, and how much to fetch.
///
/// Defaults follow the platform's convention: `page_size`/`page_token` in the query, and
/// `items`, `has_more`, `page_token` (or `next_page_token`) in `data`.
///
/// An error on any page is yielded as an `Err` item and ends the stream: a failed page is
/// never mistaken for the end of the list.
///
/// ```no_run
/// # async fn run(client: lark_oapi_core::Client) -> lark_oapi_core::Result<()> {
/// use futures_util::TryStreamExt as _;
/// use lark_oapi_core::Method;
/// let users: Vec<serde_json::Value> = client
///     .request(Method::GET, "/open-apis/contact/v3/users")
///     .query("department_id", "0")
///     .paginate()
///     .page_size(50)
///     .limit(120)
///     .items::<serde_json::Value>()
///     .try_collect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Paginator {
    client: Client,
    spec: RequestSpec,
    page_size: Option<u32>,
    limit: Option<usize>,
    start_token: Option<String>,
    token_param: String,
    token_in: TokenLocation,
    size_param: String,
    items_field: String,
    has_more_field: String,
    failed: Option<String>,
}

impl Paginator {
    pub(crate) fn new(client: Client, spec: RequestSpec) -> Self {
        Self {
            client,
            spec,
            page_size: None,
            limit: None,
            start_token: None,
            token_param: "page_token".into(),
            token_in: TokenLocation::Query,
            size_param: "page_size".into(),
            items_field: "items".into(),
            has_more_field: "has_more".into(),
            failed: None,
        }
    }

    /// Items per page (sent as `page_size`).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }

    /// Stops after this many items in total.
    pub fn limit(mut self, items: usize) -> Self {
        self.limit = Some(items);
        self
    }

    /// Starts from this page token instead of the first page.
    pub fn start_token(mut self, token: impl Into<String>) -> Self {
        self.start_token = Some(token.into());
        self
    }

    /// The name of the array in `data` (default `items`).
    pub fn items_field(mut self, name: impl Into<String>) -> Self {
        self.items_field = name.into();
        self
    }

    /// The name of the page-token parameter (default `page_token`) and where it travels.
    pub fn page_token_param(mut self, name: impl Into<String>, location: TokenLocation) -> Self {
        self.token_param = name.into();
        self.token_in = location;
        self
    }

    /// The name of the page-size query parameter (default `page_size`).
    pub fn page_size_param(mut self, name: impl Into<String>) -> Self {
        self.size_param = name.into();
        self
    }

    /// The name of the "more pages" flag in `data` (default `has_more`). When a page does
    /// not carry it at all, a non-empty page token means there are more pages.
    pub fn has_more_field(mut self, name: impl Into<String>) -> Self {
        self.has_more_field = name.into();
        self
    }

    /// The pages, fetched lazily as the stream is polled.
    pub fn pages<T: DeserializeOwned + Send + 'static>(self) -> PageStream<T> {
        self.pages_with(|v| serde_json::from_value::<T>(v).map_err(|e| e.to_string()))
    }

    /// The items of every page, fetched lazily.
    pub fn items<T: DeserializeOwned + Send + 'static>(self) -> ItemStream<T> {
        self.items_with(|v| serde_json::from_value::<T>(v).map_err(|e| e.to_string()))
    }

    /// Fails the stream's first poll (a request that was invalid before paging).
    pub(crate) fn fail_with(mut self, message: String) -> Self {
        self.failed = Some(message);
        self
    }

    /// The pages, each item decoded by `decode`.
    pub fn pages_with<T: Send + 'static>(
        self,
        decode: fn(Value) -> std::result::Result<T, String>,
    ) -> PageStream<T> {
        let raw = self.raw_pages();
        Box::pin(raw.map(move |page| {
            let page = page?;
            let items = page
                .items
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    decode(v)
                        .map_err(|e| page.raw.decode_error(format!("item {i} of the page: {e}")))
                })
                .collect::<Result<Vec<T>>>()?;
            Ok(Page {
                items,
                has_more: page.has_more,
                next_page_token: page.next,
                log_id: page.raw.log_id,
                rest: page.rest,
            })
        }))
    }

    /// The items of every page, each decoded by `decode`.
    pub fn items_with<T: Send + 'static>(
        self,
        decode: fn(Value) -> std::result::Result<T, String>,
    ) -> ItemStream<T> {
        Box::pin(self.pages_with::<T>(decode).flat_map(|page| match page {
            Ok(page) => {
                futures_util::stream::iter(page.items.into_iter().map(Ok).collect::<Vec<_>>())
            }
            Err(e) => futures_util::stream::iter(vec![Err(e)]),
        }))
    }

    /// The non-generic page loop: items stay JSON values here.
    fn raw_pages(mut self) -> Pin<Box<dyn Stream<Item = Result<RawPage>> + Send + 'static>> {
        if let Some(message) = self.failed.take() {
            return Box::pin(futures_util::stream::once(std::future::ready(Err(
                crate::Error::InvalidRequest(message),
            ))));
        }
        let state = State {
            seen: self.start_token.iter().cloned().collect(),
            token: self.start_token.clone(),
            remaining: self.limit,
            done: self.limit == Some(0),
            pager: self,
        };
        Box::pin(futures_util::stream::unfold(state, |mut st| async move {
            if st.done {
                return None;
            }
            match st.fetch().await {
                Ok(mut page) => {
                    if let Some(remaining) = st.remaining.as_mut() {
                        page.items.truncate(*remaining);
                        *remaining -= page.items.len();
                        if *remaining == 0 {
                            st.done = true;
                        }
                    }
                    match (&page.next, page.has_more) {
                        (Some(next), true) if !st.seen.insert(next.clone()) => {
                            st.done = true;
                            return Some((
                                Err(page.raw.decode_error(format!(
                                    "the platform returned page token {next:?}, which it had returned before; stopping instead of looping"
                                ))),
                                st,
                            ));
                        }
                        (Some(next), true) => st.token = Some(next.clone()),
                        (None, true) => {
                            st.done = true;
                            return Some((
                                Err(page.raw.decode_error(
                                    "has_more is true but no page token was returned".into(),
                                )),
                                st,
                            ));
                        }
                        (_, false) => st.done = true,
                    }
                    Some((Ok(page), st))
                }
                Err(e) => {
                    st.done = true;
                    Some((Err(e), st))
                }
            }
        }))
    }
}

struct State {
    pager: Paginator,
    /// Every page token seen so far: a token coming back (a cycle) ends the stream.
    seen: std::collections::HashSet<String>,
    token: Option<String>,
    remaining: Option<usize>,
    done: bool,
}

struct RawPage {
    items: Vec<Value>,
    has_more: bool,
    next: Option<String>,
    raw: RawResponse,
    rest: serde_json::Map<String, Value>,
}

impl State {
    async fn fetch(&self) -> Result<RawPage> {
        let p = &self.pager;
        let mut spec = p.spec.clone();
        if let Some(size) = p.page_size {
            spec.set_query(&p.size_param, size.to_string());
        }
        if let Some(token) = &self.token {
            match p.token_in {
                TokenLocation::Query => spec.set_query(&p.token_param, token.clone()),
                TokenLocation::Body => spec.set_body_field(&p.token_param, token.clone().into()),
            }
        }
        let raw = p.client.send_raw(&spec).await?;
        let data = raw
            .clone()
            .data::<Option<Map<String, Value>>>()?
            .into_data();
        let mut data = data.unwrap_or_default();
        let items = match data.remove(&p.items_field) {
            Some(Value::Array(items)) => items,
            None | Some(Value::Null) => Vec::new(),
            Some(other) => {
                return Err(raw.decode_error(format!(
                    "`data.{}` is not an array but {}",
                    p.items_field,
                    crate::json::kind(&other)
                )));
            }
        };
        let next = ["page_token", "next_page_token"]
            .iter()
            .find_map(|k| data.get(*k).and_then(Value::as_str))
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        // Some list APIs send no "more" flag at all: there, a page token means more.
        let has_more = match data.get(&p.has_more_field) {
            Some(Value::Bool(more)) => *more,
            None | Some(Value::Null) => next.is_some(),
            Some(_) => false,
        };
        for key in ["page_token", "next_page_token", p.has_more_field.as_str()] {
            data.remove(key);
        }
        Ok(RawPage {
            items,
            has_more,
            next,
            raw,
            rest: data,
        })
    }
}
