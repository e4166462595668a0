//! Everything the bindings reach by name, with JSON in and out: operations
//! ([`operations`]: build a request from JSON parameters, parse a response
//! into JSON), model types ([`models`]: parse and normalise a body by type
//! name) and the lifecycle and JSON Patch rules ([`rules`]: resources,
//! states, actors and endpoints by their wire names). A binding passes
//! strings and JSON through and holds no rule or table of its own.
//!
//! An unknown name is an [`Error::InvalidArgument`](crate::Error::InvalidArgument)
//! naming the argument and listing the accepted names.

pub mod models;
pub mod operations;
pub mod rules;

pub use models::{model_types, parse_model};
pub use operations::{build_request, operation, operations, parse_response, OperationInfo};
pub use rules::{
    allowed_actions_by_name, allowed_targets_by_name, job_reporter, plan_patch_json,
    transition_by_name, validate_patch_json,
};
