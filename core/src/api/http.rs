//! Transport-neutral HTTP requests and responses, and the status handling
//! every operation shares.

use std::fmt;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{from_json_argument, from_json_slice, to_json_vec};
use crate::model::require_id;
use crate::{wire_enum, Error, Result};

wire_enum! {
    /// HTTP method.
    pub enum Method {
        /// GET
        Get = "GET",
        /// POST
        Post = "POST",
        /// PUT
        Put = "PUT",
        /// PATCH
        Patch = "PATCH",
        /// DELETE
        Delete = "DELETE",
    }
}

/// `Content-Type` of ordinary JSON bodies.
pub const JSON: &str = "application/json";
/// `Content-Type` of JSON Patch bodies (v2 PATCH endpoints).
pub const JSON_PATCH: &str = "application/json-patch+json";

/// A request ready for any transport: the host joins `path` and `query` to
/// its endpoint (see [`Request::url`]) and sends `headers` and `body`.
///
/// Bindings receive it as JSON ([`Request::to_json_value`], or `Serialize`):
/// `{"method": "PATCH", "path": "/v2/1/restores/r1", "query": [["limit", "10"]],
/// "headers": [["X-Auth-Token", "..."]], "body": "<text>" or null}`; bodies are
/// JSON or form text, so they travel as strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// HTTP method.
    pub method: Method,
    /// Path from the API root, ids already percent-encoded, e.g. `/v2/123/restores/ab%2Fc`.
    pub path: String,
    /// Query parameters, not yet encoded, in order.
    pub query: Vec<(String, String)>,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes (JSON), if any.
    pub body: Option<Vec<u8>>,
}

/// Characters left as they are in a path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one path segment (an id or tenant), so `/` or `?` in an id
/// can never change the path.
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

impl Request {
    /// A request with no query, headers or body yet; `segments` are
    /// percent-encoded and joined with `/`.
    pub fn new(method: Method, segments: &[&str]) -> Self {
        let mut path = String::new();
        for s in segments {
            path.push('/');
            path.push_str(&encode_segment(s));
        }
        Request {
            method,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_string(), value.into()));
        self
    }

    /// Sets a JSON body with the given content type.
    pub fn json_body<T: Serialize + ?Sized>(
        mut self,
        content_type: &str,
        body: &T,
    ) -> Result<Self> {
        self.body = Some(to_json_vec("request body", body)?);
        self.headers
            .push(("Content-Type".to_string(), content_type.to_string()));
        Ok(self)
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The full URL under `base` (e.g. `https://dfw.backup.api.rackspacecloud.com`),
    /// with the query string encoded.
    pub fn url(&self, base: &str) -> String {
        let mut url = format!("{}{}", base.trim_end_matches('/'), self.path);
        for (i, (k, v)) in self.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&encode_segment(k));
            url.push('=');
            url.push_str(&encode_segment(v));
        }
        url
    }
}

impl Request {
    /// The body as text (`None` when there is none); a body that is not UTF-8
    /// is an [`Error::InvalidValue`]. The core only builds JSON and form
    /// bodies, which always are.
    pub fn body_text(&self) -> Result<Option<&str>> {
        self.body
            .as_deref()
            .map(|bytes| {
                std::str::from_utf8(bytes).map_err(|e| Error::InvalidValue {
                    field: "request body".into(),
                    reason: format!("not UTF-8 text, so it has no JSON form: {e}"),
                })
            })
            .transpose()
    }

    /// The JSON form bindings pass to their host (see [`Request`]).
    pub fn to_json_value(&self) -> Result<serde_json::Value> {
        Ok(serde_json::json!({
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body_text()?,
        }))
    }
}

impl Serialize for Request {
    /// The JSON form of [`Request::to_json_value`]; a body that is not UTF-8
    /// fails to serialise.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json_value()
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}

impl fmt::Display for Request {
    /// The request line, as a log would show it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.url(""))
    }
}

/// A response as the host's transport received it.
///
/// Bindings hand it over as JSON ([`Response::from_json_value`], or
/// `Deserialize`): `{"status": 200, "headers": [["Retry-After", "30"]],
/// "body": "<text>"}`; `headers` and `body` may be left out (none, empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with no headers.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Whether the body is empty or only whitespace: "no body", as
    /// [`parse_empty`] accepts it.
    pub(crate) fn body_is_blank(&self) -> bool {
        self.body.iter().all(u8::is_ascii_whitespace)
    }
}

/// The JSON form of a [`Response`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseJson {
    status: u16,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: Option<String>,
}

/// The status codes HTTP defines.
const HTTP_STATUS: std::ops::RangeInclusive<u16> = 100..=599;

impl Response {
    /// Reads the JSON form bindings pass in (see [`Response`]). A member of
    /// the wrong type, an unknown member or a status outside 100..=599 is an
    /// [`Error::InvalidArgument`] naming it (e.g. `response.headers[0]`).
    pub fn from_json_value(value: &serde_json::Value) -> Result<Self> {
        // Serde would also read the struct from an array of its members.
        if !value.is_object() {
            return Err(Error::argument("response", "must be a JSON object"));
        }
        let json: ResponseJson = from_json_argument("response", value)?;
        if !HTTP_STATUS.contains(&json.status) {
            return Err(Error::argument(
                "response.status",
                format!("{} is not an HTTP status (100..=599)", json.status),
            ));
        }
        Ok(Response {
            status: json.status,
            headers: json.headers,
            body: json.body.unwrap_or_default().into_bytes(),
        })
    }
}

impl<'de> Deserialize<'de> for Response {
    /// The JSON form of [`Response::from_json_value`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Response::from_json_value(&value).map_err(serde::de::Error::custom)
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

wire_enum! {
    /// The error statuses the Cloud Backup operations document.
    pub enum ApiErrorKind {
        /// 400: the request was malformed or not allowed.
        BadRequest = "bad_request",
        /// 401: the token is missing, expired or invalid.
        Unauthorized = "unauthorized",
        /// 403: the token may not do this.
        Forbidden = "forbidden",
        /// 404: no such resource.
        NotFound = "not_found",
        /// 405: the method is not supported here.
        MethodNotAllowed = "method_not_allowed",
        /// 409: the resource's state forbids the change.
        Conflict = "conflict",
        /// 413: over a limit (rate limit on some deployments).
        OverLimit = "over_limit",
        /// 500: the service failed.
        InternalServerError = "internal_server_error",
        /// 501: not implemented.
        NotImplemented = "not_implemented",
        /// 503: the service (or one it depends on) is unavailable; see `retry_after`.
        ServiceUnavailable = "service_unavailable",
        /// Any other 4xx/5xx status.
        Other = "other",
    }
}

impl ApiErrorKind {
    /// The kind for an error status.
    pub fn from_status(status: u16) -> Self {
        match status {
            400 => ApiErrorKind::BadRequest,
            401 => ApiErrorKind::Unauthorized,
            403 => ApiErrorKind::Forbidden,
            404 => ApiErrorKind::NotFound,
            405 => ApiErrorKind::MethodNotAllowed,
            409 => ApiErrorKind::Conflict,
            413 => ApiErrorKind::OverLimit,
            500 => ApiErrorKind::InternalServerError,
            501 => ApiErrorKind::NotImplemented,
            503 => ApiErrorKind::ServiceUnavailable,
            _ => ApiErrorKind::Other,
        }
    }
}

/// When to retry after a 503, from the `Retry-After` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryAfter {
    /// A delay in seconds.
    Seconds(u64),
    /// An HTTP date, kept as sent.
    Date(String),
}

/// An error status from the service, with its message when the body had one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed with HTTP {status} ({kind}){}", self.detail())]
pub struct ApiError {
    /// The operation that failed.
    pub operation: String,
    /// HTTP status.
    pub status: u16,
    /// Classification of the status.
    pub kind: ApiErrorKind,
    /// The service's message (`{"message": ...}` in v2, v1's text or JSON body).
    pub message: Option<String>,
    /// The body's list of individual errors, when it had one: `{"message":
    /// "Validation failed.", "errors": ["Name is required.", ...]}` (the v2
    /// reference's error body). Entries are kept as sent (strings, in the
    /// reference's example).
    pub errors: Option<Vec<serde_json::Value>>,
    /// `Retry-After`, when the service sent one.
    pub retry_after: Option<RetryAfter>,
}

impl ApiError {
    fn detail(&self) -> String {
        let mut s = String::new();
        if let Some(m) = &self.message {
            s.push_str(": ");
            s.push_str(m);
        }
        if let Some(errors) = self.errors.as_ref().filter(|e| !e.is_empty()) {
            let shown: Vec<String> = errors
                .iter()
                .map(|e| match e {
                    serde_json::Value::String(t) => t.clone(),
                    other => other.to_string(),
                })
                .collect();
            s.push_str(if self.message.is_some() { " [" } else { ": [" });
            s.push_str(&shown.join("; "));
            s.push(']');
        }
        match &self.retry_after {
            Some(RetryAfter::Seconds(n)) => s.push_str(&format!(" (retry after {n} s)")),
            Some(RetryAfter::Date(d)) => s.push_str(&format!(" (retry after {d})")),
            None => {}
        }
        s
    }

    /// Builds the error for an error response of `operation`.
    pub fn from_response(operation: &str, response: &Response) -> Self {
        let retry_after = response.header("Retry-After").map(|v| {
            let v = v.trim();
            v.parse::<u64>()
                .map(RetryAfter::Seconds)
                .unwrap_or_else(|_| RetryAfter::Date(v.to_string()))
        });
        ApiError {
            operation: operation.to_string(),
            status: response.status,
            kind: ApiErrorKind::from_status(response.status),
            message: error_message(&response.body),
            errors: error_list(&response.body),
            retry_after,
        }
    }
}

/// The list of individual errors of an error body: an `errors` member of
/// the body, or of the object nested in a v1 fault body
/// (`{"badRequest": {"message": ..., "errors": [...]}}`). An array is kept
/// whole; a single string becomes a one-entry list.
fn error_list(body: &[u8]) -> Option<Vec<serde_json::Value>> {
    fn list(map: &serde_json::Map<String, serde_json::Value>) -> Option<Vec<serde_json::Value>> {
        match map.get("errors")? {
            serde_json::Value::Array(items) => Some(items.clone()),
            serde_json::Value::String(s) => Some(vec![serde_json::Value::String(s.clone())]),
            _ => None,
        }
    }
    let serde_json::Value::Object(map) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    list(&map).or_else(|| {
        map.values().find_map(|v| match v {
            serde_json::Value::Object(inner) => list(inner),
            _ => None,
        })
    })
}

/// Extracts a human message from an error body: v2's `{"message": ...}`,
/// the first string member of other JSON objects (v1 fault bodies nest it, e.g.
/// `{"badRequest": {"message": ...}}`), a JSON string, or non-empty plain text.
fn error_message(body: &[u8]) -> Option<String> {
    fn find(v: &serde_json::Value) -> Option<String> {
        match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(map) => map
                .get("message")
                .and_then(find)
                .or_else(|| map.values().find_map(find)),
            _ => None,
        }
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => find(&v),
        Err(_) => {
            let text = String::from_utf8_lossy(body).trim().to_string();
            Some(text.chars().take(500).collect())
        }
    }
}

/// Checks that `response` has one of `ok` statuses; an error status becomes
/// [`Error::Api`], any other status [`Error::UnexpectedResponse`].
pub fn check_status(operation: &str, response: &Response, ok: &[u16]) -> Result<()> {
    if ok.contains(&response.status) {
        Ok(())
    } else if response.status >= 400 {
        Err(ApiError::from_response(operation, response).into())
    } else {
        Err(Error::UnexpectedResponse {
            operation: operation.to_string(),
            status: response.status,
        })
    }
}

/// Parses a JSON body of type `T` after checking for one of `ok` statuses.
pub fn parse_json<T: DeserializeOwned>(
    operation: &str,
    response: &Response,
    ok: &[u16],
) -> Result<T> {
    check_status(operation, response, ok)?;
    from_json_slice(operation, &response.body)
}

/// Checks for one of `ok` statuses and an empty (or whitespace) body, as 204s have.
pub fn parse_empty(operation: &str, response: &Response, ok: &[u16]) -> Result<()> {
    check_status(operation, response, ok)?;
    if response.body_is_blank() {
        Ok(())
    } else {
        Err(Error::InvalidJson {
            what: operation.to_string(),
            message: format!("expected an empty body, got {} bytes", response.body.len()),
        })
    }
}

/// Parses a body that is a bare integer (v1 start-backup answers the new
/// backup's id as `12345`, sometimes quoted).
pub fn parse_integer(operation: &str, response: &Response, ok: &[u16]) -> Result<i64> {
    check_status(operation, response, ok)?;
    let text = String::from_utf8_lossy(&response.body);
    let trimmed = text.trim().trim_matches('"');
    trimmed.parse::<i64>().map_err(|_| {
        let shown: String = text.trim().chars().take(100).collect();
        Error::InvalidJson {
            what: operation.to_string(),
            message: format!("expected a plain integer body, got {shown:?}"),
        }
    })
}

wire_enum! {
    /// Sort direction of v2 list operations (`sort_dir`).
    pub enum SortDir {
        /// Oldest first.
        Asc = "asc",
        /// Newest first.
        Desc = "desc",
    }
}

/// Paging of v2 list operations: `marker`, `limit`, `sort_dir`. In JSON
/// parameters every member is optional (`{"limit": 10}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Page {
    /// Id of the last item of the previous page.
    pub marker: Option<String>,
    /// Maximum number of items (the service allows 1..=100).
    pub limit: Option<u32>,
    /// Sort direction.
    pub sort_dir: Option<SortDir>,
}

impl Page {
    /// Adds the set parameters to `request`'s query; a limit outside 1..=100
    /// is an argument error.
    pub fn apply(&self, mut request: Request) -> Result<Request> {
        if let Some(m) = &self.marker {
            request = request.query("marker", m.clone());
        }
        if let Some(l) = self.limit {
            if !(1..=100).contains(&l) {
                return Err(Error::argument("limit", format!("{l} is outside 1..=100")));
            }
            request = request.query("limit", l.to_string());
        }
        if let Some(d) = self.sort_dir {
            request = request.query("sort_dir", d.as_str());
        }
        Ok(request)
    }
}

/// What every authenticated call needs: the token and the tenant (v1) or
/// project (v2) id; and, for an agent, its id, sent as `X-Agent-Id` on every
/// call ("Agents communicating with the Cloud Backup API should always send
/// an `X-Agent-Id` header").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// `X-Auth-Token`.
    pub token: String,
    /// The tenant id (v1) or project id (v2); they are the same account number.
    pub tenant_id: String,
    /// The calling agent's id, set once with [`Auth::with_agent_id`]: every
    /// request built with this context carries `X-Agent-Id`.
    pub agent_id: Option<String>,
}

/// The header an agent names itself in (the v2 reference's agent-header page).
pub const AGENT_ID_HEADER: &str = "X-Agent-Id";

impl Auth {
    /// Validates and builds the credentials: neither may be empty or hold
    /// control characters (they go into a header and a path).
    pub fn new(token: impl Into<String>, tenant_id: impl Into<String>) -> Result<Self> {
        let (token, tenant_id) = (token.into(), tenant_id.into());
        // Both go where an id goes (a header, a path segment): same rules.
        require_id("token", &token)?;
        require_id("tenant_id", &tenant_id)?;
        Ok(Auth {
            token,
            tenant_id,
            agent_id: None,
        })
    }

    /// The same credentials for an agent: every request built with them
    /// carries `X-Agent-Id: {agent_id}`. An operation's own agent parameter
    /// (e.g. `agent_id` of v2 start backup) must then name the same agent.
    pub fn with_agent_id(mut self, agent_id: impl Into<String>) -> Result<Self> {
        let agent_id = agent_id.into();
        require_id("agent_id", &agent_id)?;
        self.agent_id = Some(agent_id);
        Ok(self)
    }

    /// A request under `/{version}/{tenant_id}/...` with `X-Auth-Token` and
    /// `Accept: application/json` set, and `X-Agent-Id` for an agent.
    pub fn request(&self, method: Method, version: &str, rest: &[&str]) -> Request {
        let mut segments = vec![version, self.tenant_id.as_str()];
        segments.extend_from_slice(rest);
        let request = Request::new(method, &segments)
            .header("X-Auth-Token", self.token.clone())
            .header("Accept", JSON);
        match &self.agent_id {
            Some(id) => request.header(AGENT_ID_HEADER, id.clone()),
            None => request,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_percent_encoded_in_paths() {
        let auth = Auth::new("tok", "123").unwrap();
        let r = auth.request(Method::Get, "v2", &["restores", "a/b?c d"]);
        assert_eq!(r.path, "/v2/123/restores/a%2Fb%3Fc%20d");
        assert_eq!(r.header_value("x-auth-token"), Some("tok"));
    }

    #[test]
    fn pages_become_query_parameters() {
        let page = Page {
            marker: Some("m 1".into()),
            limit: Some(10),
            sort_dir: Some(SortDir::Desc),
        };
        let r = page
            .apply(Request::new(Method::Get, &["v2", "1", "backups"]))
            .unwrap();
        assert_eq!(
            r.url("https://h/"),
            "https://h/v2/1/backups?marker=m%201&limit=10&sort_dir=desc"
        );
        let bad = Page {
            limit: Some(0),
            ..Page::default()
        };
        assert!(bad.apply(Request::new(Method::Get, &["x"])).is_err());
    }

    #[test]
    fn conflict_keeps_the_service_message() {
        let resp = Response::new(
            409,
            r#"{"message": "Modifying a restore that is already in a state of ['completed'] is not allowed."}"#,
        );
        let e = check_status("update restore", &resp, &[204]).unwrap_err();
        let Error::Api(api) = e else {
            panic!("not an API error")
        };
        assert_eq!(api.kind, ApiErrorKind::Conflict);
        assert!(api.message.unwrap().starts_with("Modifying a restore"));
    }

    #[test]
    fn retry_after_is_read_on_503() {
        let resp = Response::new(503, "").with_header("retry-after", "30");
        let Err(Error::Api(api)) = check_status("x", &resp, &[200]) else {
            panic!()
        };
        assert_eq!(api.retry_after, Some(RetryAfter::Seconds(30)));
        assert_eq!(api.message, None);
        assert!(api.to_string().contains("retry after 30 s"));
    }

    #[test]
    fn error_lists_are_kept() {
        let resp = Response::new(
            400,
            r#"{"message": "Validation failed.", "errors": ["Name is required.", "RSA public key is required."]}"#,
        );
        let Err(Error::Api(api)) = check_status("register agent", &resp, &[201]) else {
            panic!()
        };
        assert_eq!(api.message.as_deref(), Some("Validation failed."));
        assert_eq!(
            api.errors,
            Some(vec![
                serde_json::json!("Name is required."),
                serde_json::json!("RSA public key is required.")
            ])
        );
        assert!(api
            .to_string()
            .ends_with("Validation failed. [Name is required.; RSA public key is required.]"));
        let details = Error::Api(api).details();
        assert_eq!(details["errors"][1], "RSA public key is required.");
        // Nested in a v1 fault body; absent: null.
        let nested = Response::new(
            400,
            r#"{"badRequest": {"message": "Bad", "errors": ["x"]}}"#,
        );
        let Err(Error::Api(api)) = check_status("x", &nested, &[200]) else {
            panic!()
        };
        assert_eq!(api.errors, Some(vec![serde_json::json!("x")]));
        let Err(e) = check_status("x", &Response::new(404, r#"{"message": "no"}"#), &[200]) else {
            panic!()
        };
        assert_eq!(e.details()["errors"], serde_json::Value::Null);
    }

    #[test]
    fn v1_fault_bodies_yield_their_message() {
        let resp = Response::new(
            400,
            r#"{"badRequest":{"code":400,"message":"Invalid id","details":""}}"#,
        );
        let Err(Error::Api(api)) = check_status("x", &resp, &[200]) else {
            panic!()
        };
        assert_eq!(api.message.as_deref(), Some("Invalid id"));
    }

    #[test]
    fn plain_integer_bodies_parse() {
        assert_eq!(
            parse_integer("start", &Response::new(200, "123456"), &[200]).unwrap(),
            123456
        );
        assert_eq!(
            parse_integer("start", &Response::new(200, "\"42\"\n"), &[200]).unwrap(),
            42
        );
        assert!(parse_integer("start", &Response::new(200, "{}"), &[200]).is_err());
    }

    #[test]
    fn empty_bodies_are_required_for_204() {
        assert!(parse_empty("x", &Response::new(204, ""), &[204]).is_ok());
        assert!(parse_empty("x", &Response::new(204, "{}"), &[204]).is_err());
        let e = parse_empty("x", &Response::new(302, ""), &[204]).unwrap_err();
        assert_eq!(
            e,
            Error::UnexpectedResponse {
                operation: "x".into(),
                status: 302
            }
        );
    }

    #[test]
    fn requests_have_a_json_form() {
        let auth = Auth::new("tok", "123").unwrap();
        let req = auth
            .request(Method::Patch, "v2", &["restores", "r 1"])
            .query("limit", "10")
            .json_body(
                JSON_PATCH,
                &serde_json::json!([{"op": "remove", "path": "/a"}]),
            )
            .unwrap();
        let expected = serde_json::json!({
            "method": "PATCH",
            "path": "/v2/123/restores/r%201",
            "query": [["limit", "10"]],
            "headers": [
                ["X-Auth-Token", "tok"],
                ["Accept", "application/json"],
                ["Content-Type", "application/json-patch+json"],
            ],
            "body": r#"[{"op":"remove","path":"/a"}]"#,
        });
        assert_eq!(req.to_json_value().unwrap(), expected);
        assert_eq!(serde_json::to_value(&req).unwrap(), expected);
        let bare = Request::new(Method::Get, &["ping"])
            .to_json_value()
            .unwrap();
        assert_eq!(bare["body"], serde_json::Value::Null);
        assert_eq!(bare["query"], serde_json::json!([]));
    }

    #[test]
    fn a_body_that_is_not_utf8_has_no_json_form() {
        let mut req = Request::new(Method::Post, &["x"]);
        req.body = Some(vec![b'{', 0xff, b'}']);
        let e = req.to_json_value().unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidValue);
        assert!(e.to_string().contains("request body"), "{e}");
        assert!(serde_json::to_value(&req).is_err());
    }

    #[test]
    fn responses_are_read_from_their_json_form() {
        let value = serde_json::json!({
            "status": 503,
            "headers": [["Retry-After", "30"]],
            "body": "{\"message\": \"down\"}",
        });
        let resp = Response::from_json_value(&value).unwrap();
        let expected =
            Response::new(503, r#"{"message": "down"}"#).with_header("Retry-After", "30");
        assert_eq!(resp, expected);
        assert_eq!(serde_json::from_value::<Response>(value).unwrap(), expected);
        // headers and body may be left out; a null body is empty.
        for value in [
            serde_json::json!({"status": 204}),
            serde_json::json!({"status": 204, "body": null}),
        ] {
            assert_eq!(
                Response::from_json_value(&value).unwrap(),
                Response::new(204, "")
            );
        }
    }

    #[test]
    fn bad_response_json_names_the_member() {
        let cases = [
            (serde_json::json!({"status": "200"}), "response.status"),
            (serde_json::json!({"status": 42}), "response.status"),
            (serde_json::json!({"status": 70000}), "response.status"),
            (
                serde_json::json!({"status": 200, "headers": [["a"]]}),
                "response.headers[0]",
            ),
            (
                serde_json::json!({"status": 200, "body": [1]}),
                "response.body",
            ),
            (serde_json::json!({"body": ""}), "response"),
            (
                serde_json::json!({"status": 200, "bdy": ""}),
                "response.bdy",
            ),
            (serde_json::json!([200]), "response"),
        ];
        for (value, name) in cases {
            let e = Response::from_json_value(&value).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidArgument { name: n, .. } if n == name),
                "{value}: {e}"
            );
        }
        let e = Response::from_json_value(&serde_json::json!({"status": 200, "bdy": ""}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `bdy`"), "{e}");
        let e = Response::from_json_value(&serde_json::json!({"body": ""}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `status`"), "{e}");
    }

    #[test]
    fn pages_read_json_parameters() {
        let page: Page =
            serde_json::from_value(serde_json::json!({"limit": 5, "sort_dir": "asc"})).unwrap();
        assert_eq!(
            page,
            Page {
                marker: None,
                limit: Some(5),
                sort_dir: Some(SortDir::Asc)
            }
        );
        assert_eq!(
            serde_json::from_value::<Page>(serde_json::json!({})).unwrap(),
            Page::default()
        );
        assert!(serde_json::from_value::<Page>(serde_json::json!({"limt": 5})).is_err());
        assert!(serde_json::from_value::<Page>(serde_json::json!({"sort_dir": "up"})).is_err());
    }

    #[test]
    fn an_agent_context_names_the_agent_on_every_request() {
        let auth = Auth::new("tok", "123")
            .unwrap()
            .with_agent_id("8f135b4f")
            .unwrap();
        for version in ["v1.0", "v2"] {
            let r = auth.request(Method::Get, version, &["x"]);
            assert_eq!(r.header_value("x-agent-id"), Some("8f135b4f"));
        }
        let user = Auth::new("tok", "123").unwrap();
        assert_eq!(
            user.request(Method::Get, "v2", &["x"])
                .header_value(AGENT_ID_HEADER),
            None
        );
        assert!(user.clone().with_agent_id(" ").is_err());
        assert!(user.with_agent_id("a\nb").is_err());
    }

    #[test]
    fn credentials_are_validated() {
        assert!(Auth::new("", "1").is_err());
        assert!(Auth::new("t", "1\n2").is_err());
        assert!(require_id("restore_id", " ").is_err());
        let e = require_id("logfile_id", "..").unwrap_err().to_string();
        assert!(e.contains("logfile_id") && e.contains("\"..\""), "{e}");
        assert!(Auth::new("t", ".").is_err());
    }
}
