//! The page's parts: sign-in form, contact list, protocol inspector.

pub mod contacts;
pub mod inspector;
pub mod signin;
