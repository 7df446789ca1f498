//! The page's HTML, CSS and JS, compiled into the binary: nothing is fetched at run time
//! and nothing needs building on the user's machine.

use super::api::file;
use axum::response::Response;

const INDEX: &str = include_str!("assets/index.html");
const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");
/// The Block Kit renderer, on its own so the page's logic stays readable.
const BLOCKKIT: &str = include_str!("assets/blockkit.js");

pub async fn index() -> Response {
    file("text/html; charset=utf-8", INDEX)
}

pub async fn css() -> Response {
    file("text/css; charset=utf-8", CSS)
}

pub async fn js() -> Response {
    file("text/javascript; charset=utf-8", JS)
}

pub async fn blockkit() -> Response {
    file("text/javascript; charset=utf-8", BLOCKKIT)
}
