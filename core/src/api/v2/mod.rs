//! v2 operations (`/v2/{project_id}/...`).
