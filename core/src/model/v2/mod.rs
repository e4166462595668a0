//! The v2 API's bodies (snake_case JSON).

pub mod common;
