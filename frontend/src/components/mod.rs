//! Pieces the pages share.

pub mod gates;
pub mod login_button;
pub mod nav;
pub mod problem_view;
