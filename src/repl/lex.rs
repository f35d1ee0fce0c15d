//! A small tokenizer for what is typed at the prompt: enough to colour it
//! and to know where the cursor is (in a string, a comment, a map literal).
//! It never fails: unfinished input gives unfinished tokens.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An identifier or keyword.
    Word,
    /// A `"..."`, `` `...` `` or `'c'` literal.
    Str,
    Number,
    /// `// ...` or `/* ... */`.
    Comment,
    /// `#{` or one punctuation character.
    Punct,
    Space,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    /// Byte range in the text.
    pub start: usize,
    pub end: usize,
    /// False for a string or block comment that the text ends inside.
    pub closed: bool,
}

impl Token {
    pub fn text<'t>(&self, source: &'t str) -> &'t str {
        &source[self.start..self.end]
    }
}

/// The tokens of `text`, covering every byte of it in order.
pub fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let mut closed = true;
        let kind = match c {
            c if c.is_whitespace() => {
                while chars.next_if(|&(_, n)| n.is_whitespace()).is_some() {}
                Kind::Space
            }
            c if c.is_alphabetic() || c == '_' => {
                while chars
                    .next_if(|&(_, n)| n.is_alphanumeric() || n == '_')
                    .is_some()
                {}
                Kind::Word
            }
            c if c.is_ascii_digit() => {
                // Also covers 0x1F, 1_000, 1.5 and 1e3.
                while chars
                    .next_if(|&(_, n)| n.is_ascii_alphanumeric() || n == '_' || n == '.')
                    .is_some()
                {}
                Kind::Number
            }
            '"' | '`' | '\'' => {
                closed = false;
                while let Some((_, n)) = chars.next() {
                    if n == '\\' && c != '`' {
                        chars.next();
                    } else if n == c {
                        closed = true;
                        break;
                    }
                }
                Kind::Str
            }
            '/' if next == Some('/') => {
                while chars.next_if(|&(_, n)| n != '\n').is_some() {}
                Kind::Comment
            }
            '/' if next == Some('*') => {
                chars.next();
                closed = false;
                while let Some((_, n)) = chars.next() {
                    if n == '*' && chars.next_if(|&(_, n)| n == '/').is_some() {
                        closed = true;
                        break;
                    }
                }
                Kind::Comment
            }
            '#' if next == Some('{') => {
                chars.next();
                Kind::Punct
            }
            _ => Kind::Punct,
        };
        let end = chars.peek().map_or(text.len(), |&(i, _)| i);
        out.push(Token {
            kind,
            start,
            end,
            closed,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Kind, &str, bool)> {
        tokens(text)
            .into_iter()
            .filter(|t| t.kind != Kind::Space)
            .map(|t| (t.kind, t.text(text), t.closed))
            .collect()
    }

    #[test]
    fn splits_words_strings_numbers_comments() {
        use Kind::*;
        assert_eq!(
            kinds("let s = \"a\\\"b\" + 1_000; // done\n#{ x: 'c' } /* open"),
            vec![
                (Word, "let", true),
                (Word, "s", true),
                (Punct, "=", true),
                (Str, "\"a\\\"b\"", true),
                (Punct, "+", true),
                (Number, "1_000", true),
                (Punct, ";", true),
                (Comment, "// done", true),
                (Punct, "#{", true),
                (Word, "x", true),
                (Punct, ":", true),
                (Str, "'c'", true),
                (Punct, "}", true),
                (Comment, "/* open", false),
            ]
        );
        assert_eq!(kinds("print(\"/et"), {
            vec![
                (Word, "print", true),
                (Punct, "(", true),
                (Str, "\"/et", false),
            ]
        });
    }

    #[test]
    fn tokens_cover_the_text() {
        let text = "fn f(x) {\n  `multi\nline` + \"é\"\n}";
        let joined: String = tokens(text).iter().map(|t| t.text(text)).collect();
        assert_eq!(joined, text);
    }
}
