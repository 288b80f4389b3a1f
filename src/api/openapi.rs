//! GET /openapi.json: the OpenAPI 3.1 document of this API, `openapi.json` at the root of the
//! repository, compiled in and served byte for byte (no key: it holds nothing secret).
//!
//! A new route goes into that file too; tests/it/openapi.rs fails while a route of src/ is
//! missing from the document, and checks every documented answer against the running daemon.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The document, as kept in the repository.
pub const DOCUMENT: &str = include_str!("../../openapi.json");

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_json() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["paths"]["/openapi.json"]["get"].is_object());
    }
}
