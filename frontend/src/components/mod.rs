//! The page's parts: sign-in form, contact list, conversations, raw console, protocol inspector.

pub mod chat;
pub mod console;
pub mod contacts;
pub mod field;
pub mod inspector;
pub mod signin;
