//! The page's parts: sign-in form, contact list, conversations, raw console, protocol inspector with its
//! sequence diagram, replay, colours.

pub mod chat;
pub mod console;
pub mod contacts;
pub mod diagram;
pub mod field;
pub mod focus;
pub mod inspector;
pub mod messages;
pub mod replay;
pub mod scroll;
pub mod signin;
pub mod theme;
