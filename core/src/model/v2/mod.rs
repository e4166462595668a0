//! The v2 API's bodies (snake_case JSON).

pub mod activity;
pub mod agent;
pub mod backup;
pub mod browse;
pub mod cleanup;
pub mod common;
pub mod configuration;
pub mod event;
pub mod logfile;
pub mod restore;
pub mod settings;
pub mod snapshot_id;
pub mod vault;
