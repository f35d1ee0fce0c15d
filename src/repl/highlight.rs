//! Colours for the input line: keywords, strings, numbers and comments.

use super::lex::{tokens, Kind};

/// Rhai's keywords (and its literal words `true`, `false`, `this`).
const KEYWORDS: &[&str] = &[
    "as", "break", "catch", "const", "continue", "do", "else", "export", "false", "fn", "for",
    "global", "if", "import", "in", "let", "loop", "private", "return", "switch", "this", "throw",
    "true", "try", "until", "while",
];

const KEYWORD: &str = "\x1b[1;35m";
const STRING: &str = "\x1b[32m";
const NUMBER: &str = "\x1b[33m";
const COMMENT: &str = "\x1b[90m";
const RESET: &str = "\x1b[0m";

/// `text` with ANSI colours around its keywords, strings, numbers and
/// comments; everything else, newlines included, is unchanged.
pub fn highlight(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for token in tokens(text) {
        let word = token.text(text);
        let colour = match token.kind {
            Kind::Word if KEYWORDS.contains(&word) => Some(KEYWORD),
            Kind::Str => Some(STRING),
            Kind::Number => Some(NUMBER),
            Kind::Comment => Some(COMMENT),
            _ => None,
        };
        match colour {
            Some(colour) => {
                out.push_str(colour);
                out.push_str(word);
                out.push_str(RESET);
            }
            None => out.push_str(word),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_each_kind() {
        assert_eq!(
            highlight("let x = \"a\"; // n\n7"),
            "\x1b[1;35mlet\x1b[0m x = \x1b[32m\"a\"\x1b[0m; \x1b[90m// n\x1b[0m\n\x1b[33m7\x1b[0m"
        );
        // Identifiers that merely contain a keyword stay plain.
        assert_eq!(highlight("letter(format)"), "letter(format)");
    }
}
