//! A field's tokens as one string, and the tantivy tokenizer that reads them back.
//!
//! Analysis ([`crate::analyze`]) makes a document's tokens before it reaches the
//! writer. Handing them to tantivy as pre-tokenized text costs an allocation per token,
//! and tantivy copies such text twice more while indexing; joined into one string per
//! field and split again by [`JoinedTokenizer`], the tokens cost one allocation per
//! field and none in tantivy. The index's fields keep no positions, so only which
//! tokens there are, and how often, matters.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Between two tokens. Tokens are words, Han grams and pinyin, which never hold a
/// control character; [`Tokens::push`] leaves out any that would.
pub const SEPARATOR: char = '\u{1F}';
/// [`SEPARATOR`] as the one byte it is in UTF-8, which no other character's bytes hold.
const SEPARATOR_BYTE: u8 = 0x1F;

/// The name [`JoinedTokenizer`] is registered under in every index.
pub const TOKENIZER: &str = "plaza_joined";

/// The tokens of one field, in order, joined by [`SEPARATOR`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tokens {
    joined: String,
    count: usize,
}

impl Tokens {
    /// Adds `token`; an empty one, or one holding [`SEPARATOR`], is left out.
    pub fn push(&mut self, token: &str) {
        if token.is_empty() || token.contains(SEPARATOR) {
            return;
        }
        if !self.joined.is_empty() {
            self.joined.push(SEPARATOR);
        }
        self.joined.push_str(token);
        self.count += 1;
    }

    /// The tokens, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.joined
            .split(SEPARATOR)
            .filter(|token| !token.is_empty())
    }

    /// Whether `token` is one of them.
    #[must_use]
    pub fn contains(&self, token: &str) -> bool {
        self.iter().any(|known| known == token)
    }

    /// How many there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The joined text, as [`JoinedTokenizer`] reads it.
    #[must_use]
    pub fn joined(&self) -> &str {
        &self.joined
    }
}

impl Extend<String> for Tokens {
    fn extend<I: IntoIterator<Item = String>>(&mut self, tokens: I) {
        for token in tokens {
            self.push(&token);
        }
    }
}

impl<'a> FromIterator<&'a str> for Tokens {
    fn from_iter<I: IntoIterator<Item = &'a str>>(tokens: I) -> Self {
        let mut joined = Tokens::default();
        for token in tokens {
            joined.push(token);
        }
        joined
    }
}

/// Splits text joined by [`Tokens`] back into its tokens, each at the next position.
#[derive(Debug, Clone, Default)]
pub struct JoinedTokenizer {
    token: Token,
}

/// The tokens of one joined text.
pub struct JoinedTokenStream<'a> {
    text: &'a str,
    /// Byte where the next token starts.
    next: usize,
    token: &'a mut Token,
}

impl Tokenizer for JoinedTokenizer {
    type TokenStream<'a> = JoinedTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> JoinedTokenStream<'a> {
        self.token.reset();
        self.token.position = usize::MAX;
        JoinedTokenStream {
            text,
            next: 0,
            token: &mut self.token,
        }
    }
}

impl TokenStream for JoinedTokenStream<'_> {
    fn advance(&mut self) -> bool {
        while self.next < self.text.len() {
            let start = self.next;
            let rest = &self.text[start..];
            // Tokens are short: a plain scan beats a searcher's set-up.
            let length = rest
                .bytes()
                .position(|byte| byte == SEPARATOR_BYTE)
                .unwrap_or(rest.len());
            self.next = start + length + 1;
            if length == 0 {
                continue;
            }
            self.token.text.clear();
            self.token.text.push_str(&rest[..length]);
            self.token.offset_from = start;
            self.token.offset_to = start + length;
            self.token.position = self.token.position.wrapping_add(1);
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_back(joined: &str) -> Vec<(String, usize)> {
        let mut tokenizer = JoinedTokenizer::default();
        let mut stream = tokenizer.token_stream(joined);
        let mut tokens = Vec::new();
        while stream.advance() {
            let token = stream.token();
            tokens.push((token.text.clone(), token.position));
        }
        tokens
    }

    #[test]
    fn joined_tokens_read_back_as_they_were_pushed() {
        let mut tokens = Tokens::default();
        for token in ["中国", "", "农业", "bad\u{1F}token", "nongye", "农业"] {
            tokens.push(token);
        }
        assert_eq!(tokens.len(), 4);
        assert!(tokens.contains("nongye"));
        assert!(!tokens.contains("bad"));
        let read = read_back(tokens.joined());
        assert_eq!(
            read,
            [
                ("中国".to_owned(), 0),
                ("农业".to_owned(), 1),
                ("nongye".to_owned(), 2),
                ("农业".to_owned(), 3),
            ]
        );
    }

    #[test]
    fn the_separator_is_one_byte() {
        let mut bytes = [0_u8; 4];
        assert_eq!(
            SEPARATOR.encode_utf8(&mut bytes).as_bytes(),
            [SEPARATOR_BYTE]
        );
    }

    #[test]
    fn nothing_joined_reads_back_as_nothing() {
        assert!(read_back("").is_empty());
        assert!(read_back("\u{1F}\u{1F}").is_empty());
        assert!(Tokens::default().is_empty());
    }

    #[test]
    fn a_reused_tokenizer_starts_each_text_afresh() {
        let mut tokenizer = JoinedTokenizer::default();
        for _ in 0..2 {
            let mut stream = tokenizer.token_stream("a\u{1F}b");
            assert!(stream.advance());
            assert_eq!(
                (stream.token().text.as_str(), stream.token().position),
                ("a", 0)
            );
            assert!(stream.advance());
            assert_eq!(
                (stream.token().text.as_str(), stream.token().position),
                ("b", 1)
            );
            assert!(!stream.advance());
        }
    }
}
