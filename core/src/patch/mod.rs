//! JSON Patch (RFC 6902, with RFC 6901 pointers) and the policies of the v2
//! PATCH endpoints.
