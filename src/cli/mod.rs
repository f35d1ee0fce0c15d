//! The command line's verbs for people (`ctrsh image ...`): each family's
//! parsing in a module of its own, `main.rs` only dispatches.

pub mod image;
