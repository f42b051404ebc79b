//! The pages themselves: served with their security headers, and nothing else found.

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_console_and_attendee_pages_are_served_with_security_headers() {
    let app = spawn_app().await;
    for path in ["/", "/console", "/attend", "/client.js", "/style.css"] {
        let (status, head, body) = app.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!body.is_empty(), "{path}");
        assert!(head.contains("content-security-policy: default-src 'self'; script-src 'self'"), "{path}: {head}");
        assert!(head.contains("x-content-type-options: nosniff"), "{path}");
        assert!(head.contains("frame-ancestors 'none'"), "{path}");
    }
    let (_, head, _) = app.get("/client.js").await;
    assert!(head.contains("content-type: text/javascript"), "{head}");
}

#[tokio::test]
async fn unknown_paths_are_not_found() {
    let app = spawn_app().await;
    assert_eq!(app.get("/nope.js").await.0, 404);
    assert_eq!(app.get("/../Cargo.toml").await.0, 404);
}
