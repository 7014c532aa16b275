//! The rules of rolecall, free of SQLite and of the terminal: the permission catalog
//! and grants, roles, users, field validation and the access decision. Both front
//! ends and the store call these; nothing here does I/O.

pub mod access;
pub mod authz;
pub mod casbin;
pub mod catalog;
pub mod package;
pub mod password;
pub mod policy;
pub mod resource;
pub mod role;
pub mod user;
pub mod user_key;
pub mod validate;
