//! The single-page app. Built out in the SPA issue; for now it only proves the shared types
//! reach the browser side.

fn main() {
    let _ = shared::Message::new(shared::Message::PUBLIC);
}
