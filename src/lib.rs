pub mod repl;
pub mod runtime;
pub mod script;
