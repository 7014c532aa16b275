//! Reusable pieces of the console, one of each kind used by every screen: a text
//! field, a filtered list (with its match highlighting and columns) and scrolling
//! text for dialogs.

pub mod input;
pub mod list;
pub mod scroll_text;
