//! What the crate's unit tests share: the API reference's samples, the
//! credentials of its example requests, checks on built requests, and the
//! parts of a parse error the tests look at.
//!
//! The v1 and v2 examples use different credentials, so [`v1`] and [`v2`]
//! each hold their `auth()` and `assert_request_line`; everything else
//! works for both.

use crate::api::{ApiError, ApiErrorKind, Method, Request, Response, JSON};
use crate::{Error, Result};

/// Reads a v1 sample (`tests/data/rackspace/samples-v1/{name}`) at compile time.
macro_rules! sample_v1 {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/rackspace/samples-v1/",
            $name
        ))
    };
}

/// Reads a v2 sample (`tests/data/rackspace/samples-v2/{name}`) at compile time.
macro_rules! sample_v2 {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/rackspace/samples-v2/",
            $name
        ))
    };
}

pub(crate) use {sample_v1, sample_v2};

/// The host of the samples' request lines.
const BASE_URL: &str = "https://dfw.backup.api.rackspacecloud.com";

/// The credentials and request lines of the v1 reference's examples.
pub(crate) mod v1 {
    use crate::api::{Auth, Request};

    /// The token of the example requests.
    const TOKEN: &str = "95b1788906f74d279d03001c6a14f3fe";

    /// Tenant `1234` and the token of the reference's example requests.
    pub(crate) fn auth() -> Auth {
        Auth::new(TOKEN, "1234").unwrap()
    }

    /// Asserts the method and URL against the first line of a
    /// `*-json-http_request.txt` sample (`GET https://host/v1.0/1234/...`),
    /// and the examples' token.
    pub(crate) fn assert_request_line(req: &Request, http_sample: &str) {
        let line = http_sample.lines().next().unwrap_or_default().trim();
        let (method, url) = line.split_once(' ').unwrap();
        super::assert_method_url_token(req, method, url.trim(), TOKEN);
    }
}

/// The credentials and request lines of the v2 reference's examples.
pub(crate) mod v2 {
    use crate::api::{Auth, Request};

    /// The token of the example requests.
    const TOKEN: &str = "0f6e9f63600142f0a970911583522217";

    /// Project `110011` and the token of the reference's example requests.
    pub(crate) fn auth() -> Auth {
        Auth::new(TOKEN, "110011").unwrap()
    }

    /// Asserts the method and URL of the first line of an `*-json-http.txt`
    /// sample (`GET https://host/v2/110011/... HTTP/1.1`), and the examples'
    /// token.
    pub(crate) fn assert_request_line(req: &Request, http: &str) {
        let mut first = http.lines().next().unwrap().split_whitespace();
        let (method, url) = (first.next().unwrap(), first.next().unwrap());
        super::assert_method_url_token(req, method, url, TOKEN);
    }
}

/// Asserts `req`'s method, its URL under [`BASE_URL`] and its token.
fn assert_method_url_token(req: &Request, method: &str, url: &str, token: &str) {
    assert_eq!(req.method.as_str(), method);
    assert_eq!(req.url(BASE_URL), url);
    assert_eq!(req.header_value("X-Auth-Token"), Some(token));
}

/// The request body as JSON.
pub(crate) fn body(request: &Request) -> serde_json::Value {
    serde_json::from_slice(request.body.as_deref().expect("a body")).unwrap()
}

/// Asserts that `req`'s body equals `json` as JSON, sent as `content_type`.
pub(crate) fn assert_body(req: &Request, json: &str, content_type: &str) {
    assert_eq!(
        body(req),
        serde_json::from_str::<serde_json::Value>(json).unwrap()
    );
    assert_eq!(req.header_value("content-type"), Some(content_type));
}

/// Asserts method, path, and a JSON body equal to `json` (as a JSON value).
pub(crate) fn assert_json_request(req: &Request, method: Method, path: &str, json: &str) {
    assert_eq!(req.method, method);
    assert_eq!(req.path, path);
    assert_body(req, json, JSON);
}

/// Asserts a request without a body.
pub(crate) fn assert_bodiless(req: &Request, method: Method, path: &str) {
    assert_eq!(req.method, method);
    assert_eq!(req.path, path);
    assert_eq!(req.body, None);
}

/// A JSON response.
pub(crate) fn json(status: u16, body: &str) -> Response {
    Response::new(status, body).with_header("Content-Type", "application/json")
}

/// Asserts the 409 answer keeps the service's message.
pub(crate) fn assert_conflict<T: std::fmt::Debug>(result: Result<T>, sample: &str) {
    let Err(Error::Api(api)) = result else {
        panic!("expected an API error: {result:?}")
    };
    assert_eq!((api.status, api.kind), (409, ApiErrorKind::Conflict));
    let expected: serde_json::Value = serde_json::from_str(sample).unwrap();
    assert_eq!(api.message.as_deref(), expected["message"].as_str());
}

/// The API error inside `e`; panics on any other error.
pub(crate) fn api_error(e: Error) -> ApiError {
    match e {
        Error::Api(api) => api,
        other => panic!("not an API error: {other:?}"),
    }
}

/// The HTTP status of the API error `e`.
pub(crate) fn status_of(e: Error) -> u16 {
    api_error(e).status
}

/// The kind of the API error `e`.
pub(crate) fn api_kind(e: Error) -> ApiErrorKind {
    api_error(e).kind
}

/// Asserts the `X-Agent-Id` rules on an operation whose calling agent is
/// the `Option<String>` given to `build`: `Some(id)` sends the header with
/// that id, `None` sends none, and an empty or `..` id is an
/// `InvalidArgument` named `field`.
pub(crate) fn assert_agent_header<O: crate::api::Operation>(
    build: impl Fn(Option<String>) -> O,
    field: &str,
) {
    let auth = v2::auth();
    let agent = "8f135b4f-7a69-4b8a-947f-5e80d772fd97";
    let req = build(Some(agent.into())).request(&auth).unwrap();
    assert_eq!(req.header_value("X-Agent-Id"), Some(agent));
    let req = build(None).request(&auth).unwrap();
    assert_eq!(req.header_value("X-Agent-Id"), None);
    for bad in ["", "..", "a\nb"] {
        let e = build(Some(bad.into())).request(&auth).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument { name, .. } if name == field),
            "{bad:?}: {e}"
        );
    }
}
