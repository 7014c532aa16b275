//! Reusable pieces of the console: a text field and a filtered list model.

pub mod input;
pub mod list;
