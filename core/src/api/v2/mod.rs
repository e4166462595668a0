//! v2 operations (`/v2/{project_id}/...`).

pub mod activities;
pub mod agents;
pub mod backups;
pub mod browse;
pub mod cleanups;
pub mod configurations;
pub mod events;
pub mod logfiles;
pub mod restores;
pub mod settings;
pub mod vault;
