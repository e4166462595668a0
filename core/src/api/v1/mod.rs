//! v1.0 operations (`/v1.0/{tenant_id}/...`).
