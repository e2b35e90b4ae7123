//! Pieces the pages share.

pub mod login_button;
pub mod nav;
pub mod problem_view;
