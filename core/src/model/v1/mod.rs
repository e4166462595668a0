//! The v1.0 API's bodies (PascalCase JSON).
