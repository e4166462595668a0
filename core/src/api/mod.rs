//! Requests and responses, transport-neutral: one type per operation
//! implementing [`Operation`], which builds a [`Request`] and parses the
//! [`Response`] into a typed value or a typed [`Error`](crate::Error).
//! Bindings reach every operation by name, with JSON parameters and results,
//! through [`by_name::operations`](crate::by_name::operations).
//!
//! ```
//! use cloudbackup_core::api::{Auth, Operation, Response};
//! use cloudbackup_core::api::v2::restores::GetRestore;
//! let auth = Auth::new("token", "123456").unwrap();
//! let op = GetRestore { restore_id: "e87e6f7d".into() };
//! let req = op.request(&auth).unwrap();
//! assert_eq!(req.path, "/v2/123456/restores/e87e6f7d");
//! let err = op.parse(&Response::new(404, r#"{"message": "Restore not found."}"#)).unwrap_err();
//! assert!(err.to_string().contains("Restore not found."));
//! ```

/// Needs RSA, so only with the `engine` feature (the npm package's `api`
/// entry leaves it out).
#[cfg(feature = "engine")]
pub mod agent_password;
mod http;
pub mod v1;
pub mod v2;

pub use http::{
    check_status, encode_segment, parse_empty, parse_integer, parse_json, ApiError, ApiErrorKind,
    Auth, Method, Page, Request, Response, RetryAfter, SortDir, AGENT_ID_HEADER, JSON, JSON_PATCH,
};

// The id check lives with the model (which checks ids too); the request
// builders here reach it by the short path.
pub(crate) use crate::model::require_id;
#[cfg(feature = "engine")]
pub use agent_password::{
    encrypt_password_for_agent, encrypt_password_with_key, AgentKey, DEFAULT_AGENT_KEY_BITS,
};

/// The JSON parameters of an operation that takes none: `{}`.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoParams {}

/// Implements `Serialize` and `Deserialize` for operations without
/// parameters (unit structs) as the empty object `{}`, so that every
/// operation's parameters are a JSON object; any member is refused as unknown.
macro_rules! no_params {
    ($name:ident) => {
        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                ::serde::Serialize::serialize(&$crate::api::NoParams {}, serializer)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                <$crate::api::NoParams as ::serde::Deserialize>::deserialize(deserializer)
                    .map(|$crate::api::NoParams {}| $name)
            }
        }
    };
}
pub(crate) use no_params;

/// One API operation: its parameters, how to build its request, and how to
/// parse its response.
pub trait Operation {
    /// What a successful response parses into.
    type Output;
    /// A short name for errors and logs, e.g. `"get restore"`.
    const NAME: &'static str;
    /// The HTTP method of its request.
    const METHOD: Method;
    /// Its path template, e.g. `/v2/{project_id}/restores/{restore_id}`:
    /// `{tenant_id}` (v1) and `{project_id}` (v2) come from the [`Auth`],
    /// every other `{name}` is the parameter of that name. The registry
    /// publishes it as is, and a test builds every operation's request from
    /// its template's parameters and checks the two agree.
    const PATH: &'static str;
    /// Builds the request; invalid parameters are an argument error.
    fn request(&self, auth: &Auth) -> crate::Result<Request>;
    /// Parses the response: the documented success status into `Output`,
    /// error statuses into [`Error::Api`](crate::Error::Api).
    fn parse(&self, response: &Response) -> crate::Result<Self::Output>;
}
