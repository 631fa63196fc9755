//! Reading a query: cut to the limit, folded, split into pieces, each piece answered by
//! alternatives across the fields. No character is syntax: quotes, colons, stars and
//! brackets separate pieces like spaces do.

use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, TermQuery,
};
use tantivy::query::{EnableScoring, Explanation, Scorer, Weight};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet, Score, SegmentReader, TantivyError, Term};

use crate::analyze::{self, Analyzer};
use crate::document::Section;
use crate::fold::{fold, is_han, is_latin_or_digit};
use crate::index::{Fields, exact_name};

/// The longest query read, in characters; the rest is cut (documented in docs/search.md).
pub const QUERY_CHARS_MAX: usize = 64;
/// The most pieces a query is read as; later ones are dropped.
pub const PIECES_MAX: usize = 8;
pub use crate::analyze::TYPO_MIN_LETTERS;

/// Field weights: where a match counts most.
pub mod weight {
    /// A word of the title.
    pub const TITLE: f32 = 3.0;
    /// A keyword (service keyword, topic, category).
    pub const KEYWORDS: f32 = 2.0;
    /// A word anywhere in the document: title, keywords or text.
    pub const BODY: f32 = 1.0;
    /// A substring of the title or keywords (character grams).
    pub const TITLE_SUBSTRING: f32 = 2.5;
    /// A substring of the text.
    pub const BODY_SUBSTRING: f32 = 0.8;
    /// One character of the title.
    pub const TITLE_CHAR: f32 = 1.5;
    /// A word's full pinyin.
    pub const PINYIN: f32 = 2.5;
    /// A word's initials.
    pub const INITIALS: f32 = 2.0;
    /// The start of a name's pinyin or initials.
    pub const NAME_PREFIX: f32 = 2.0;
    /// A Latin word of the title or keywords with one typo.
    pub const TYPO: f32 = 1.0;
    /// A Latin word of the text with one typo.
    pub const TYPO_BODY: f32 = 0.4;
    /// The query is the whole name, exactly (a constant added to a candidate's text
    /// score).
    pub const EXACT_NAME: f32 = 8.0;
}

/// One piece of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A run of Han characters.
    Han(String),
    /// A Latin word, a number, or both (`iphone15`).
    Latin(String),
}

impl Piece {
    /// Its text.
    #[must_use]
    pub fn text(&self) -> &str {
        match self {
            Piece::Han(text) | Piece::Latin(text) => text,
        }
    }

    fn is_letters(&self) -> bool {
        matches!(self, Piece::Latin(text) if text.chars().all(|c| c.is_ascii_lowercase()))
    }
}

/// A query as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadQuery {
    /// The text searched for, after cutting and cleaning (what the page shows).
    pub text: String,
    /// Folded and spaces collapsed: what exact names are compared with.
    pub folded: String,
    /// Its pieces, in order.
    pub pieces: Vec<Piece>,
    /// Whether it was longer than [`QUERY_CHARS_MAX`] and cut.
    pub cut: bool,
}

impl ReadQuery {
    /// Reads `raw`: control characters dropped, cut to [`QUERY_CHARS_MAX`] characters,
    /// folded, split into pieces.
    #[must_use]
    pub fn read(raw: &str) -> ReadQuery {
        let cleaned: String = raw
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let trimmed = cleaned.trim();
        let cut = trimmed.chars().count() > QUERY_CHARS_MAX;
        let text: String = trimmed.chars().take(QUERY_CHARS_MAX).collect();
        let text = text.trim().to_owned();
        let folded = exact_name(&fold(&text));
        let mut pieces: Vec<Piece> = Vec::new();
        let mut current = String::new();
        let mut current_han = false;
        let flush = |current: &mut String, han: bool, pieces: &mut Vec<Piece>| {
            if !current.is_empty() {
                let text = std::mem::take(current);
                pieces.push(if han {
                    Piece::Han(text)
                } else {
                    Piece::Latin(text)
                });
            }
        };
        for c in folded.chars() {
            let han = is_han(c);
            let latin = is_latin_or_digit(c);
            if !han && !latin {
                flush(&mut current, current_han, &mut pieces);
                continue;
            }
            if !current.is_empty() && han != current_han {
                flush(&mut current, current_han, &mut pieces);
            }
            current_han = han;
            current.push(c);
        }
        flush(&mut current, current_han, &mut pieces);
        pieces.truncate(PIECES_MAX);
        ReadQuery {
            text,
            folded,
            pieces,
            cut,
        }
    }

    /// Whether there is nothing to search for.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }
}

fn term(field: Field, text: &str) -> Term {
    Term::from_field_text(field, text)
}

fn boosted(query: Box<dyn Query>, boost: f32) -> Box<dyn Query> {
    Box::new(BoostQuery::new(query, boost))
}

fn term_query(field: Field, text: &str, boost: f32) -> Box<dyn Query> {
    boosted(
        Box::new(TermQuery::new(
            term(field, text),
            IndexRecordOption::WithFreqs,
        )),
        boost,
    )
}

/// A substring of Han characters in `field`: its one gram, or all of its grams, each
/// weighing its share of `boost` so a long substring counts like a short one.
fn substring_query(field: Field, run: &str, boost: f32) -> Option<Box<dyn Query>> {
    let grams = analyze::query_grams(run);
    match grams.as_slice() {
        [] => None,
        [gram] => Some(term_query(field, gram, boost)),
        _ => {
            #[allow(
                clippy::cast_precision_loss,
                reason = "a query has at most a few dozen grams"
            )]
            let share = boost / grams.len() as f32;
            Some(all_of(
                grams
                    .iter()
                    .map(|gram| term_query(field, gram, share))
                    .collect(),
            ))
        }
    }
}

/// Every one of `parts`.
fn all_of(parts: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(Explainable(Box::new(BooleanQuery::new(
        parts.into_iter().map(|q| (Occur::Must, q)).collect(),
    ))))
}

/// A query whose explanation first checks that the document explained is not before
/// its first match. Tantivy explains a boolean query by seeking a new scorer to the
/// document, and an intersection's scorer starts on its first match and must never be
/// sought backwards (a debug assertion); explaining a document that matches another
/// alternative but comes before this one's first match would.
#[derive(Debug)]
pub(crate) struct Explainable(pub(crate) Box<dyn Query>);

impl Clone for Explainable {
    fn clone(&self) -> Self {
        Self(self.0.box_clone())
    }
}

impl Query for Explainable {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(ExplainableWeight(self.0.weight(enable_scoring)?)))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.0.query_terms(visitor);
    }
}

struct ExplainableWeight(Box<dyn Weight>);

impl Weight for ExplainableWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        self.0.scorer(reader, boost)
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        if self.0.scorer(reader, 1.0)?.doc() > doc {
            return Err(TantivyError::InvalidArgument(format!(
                "document #{doc} does not match"
            )));
        }
        self.0.explain(reader, doc)
    }
}

/// Any one of `alternatives`.
fn any(alternatives: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(
        alternatives
            .into_iter()
            .map(|q| (Occur::Should, q))
            .collect(),
    ))
}

/// How one piece can match a document. Alternatives that are single terms are kept
/// flat, so a query of such pieces is a plain disjunction of terms and tantivy can skip
/// the blocks that cannot reach the best documents (block-max WAND).
pub(crate) fn piece_query(fields: &Fields, analyzer: &Analyzer, piece: &Piece) -> Box<dyn Query> {
    let alternatives = match piece {
        Piece::Han(run) => han_alternatives(fields, analyzer, run),
        Piece::Latin(word) => latin_alternatives(fields, word, piece.is_letters()),
    };
    any(alternatives)
}

/// A run of Han characters: its words, one title character, or a substring.
fn han_alternatives(fields: &Fields, analyzer: &Analyzer, run: &str) -> Vec<Box<dyn Query>> {
    let mut alternatives: Vec<Box<dyn Query>> = Vec::new();
    let (mut title_substring, mut body_substring) =
        (weight::TITLE_SUBSTRING, weight::BODY_SUBSTRING);
    let words = analyzer.query_words(run);
    match words.as_slice() {
        [] => {}
        [word] => {
            alternatives.push(term_query(fields.title, word, weight::TITLE));
            alternatives.push(term_query(fields.keywords, word, weight::KEYWORDS));
            if analyze::is_gram(word) {
                // The word anywhere is the run's one gram, which the substrings below
                // look for: the word's weight joins theirs.
                title_substring += weight::BODY;
                body_substring += weight::BODY;
            } else {
                alternatives.push(term_query(fields.words, word, weight::BODY));
            }
        }
        // Every word, in the whole document; and every word in the title, or in the
        // keywords, which weigh more. Each is an intersection, which tantivy walks by
        // skipping.
        _ => {
            alternatives.push(all_of(
                words
                    .iter()
                    .map(|word| word_anywhere(fields, word, weight::BODY))
                    .collect(),
            ));
            for (field, boost) in [
                (fields.title, weight::TITLE),
                (fields.keywords, weight::KEYWORDS),
            ] {
                alternatives.push(all_of(
                    words
                        .iter()
                        .map(|word| term_query(field, word, boost))
                        .collect(),
                ));
            }
        }
    }
    if run.chars().count() == 1 {
        alternatives.push(term_query(fields.title_chars, run, weight::TITLE_CHAR));
    }
    alternatives.extend(substring_query(fields.title_grams, run, title_substring));
    alternatives.extend(substring_query(fields.body_grams, run, body_substring));
    alternatives
}

/// A word anywhere in a document: in the words field, or, for a word that is one gram
/// (which that field leaves out), in either grams field.
fn word_anywhere(fields: &Fields, word: &str, boost: f32) -> Box<dyn Query> {
    if analyze::is_gram(word) {
        any(vec![
            term_query(fields.title_grams, word, boost),
            term_query(fields.body_grams, word, boost),
        ])
    } else {
        term_query(fields.words, word, boost)
    }
}

/// A Latin word: as a word, with a typo, as pinyin or initials, as a name's beginning.
fn latin_alternatives(fields: &Fields, word: &str, letters: bool) -> Vec<Box<dyn Query>> {
    let mut alternatives: Vec<Box<dyn Query>> = vec![
        term_query(fields.title, word, weight::TITLE),
        term_query(fields.keywords, word, weight::KEYWORDS),
        term_query(fields.words, word, weight::BODY),
    ];
    if !letters {
        return alternatives;
    }
    if word.chars().count() >= TYPO_MIN_LETTERS {
        for (field, boost) in [
            (fields.typo_names, weight::TYPO),
            (fields.typo_body, weight::TYPO_BODY),
        ] {
            alternatives.push(boosted(
                Box::new(FuzzyTermQuery::new(term(field, word), 1, true)),
                boost,
            ));
        }
    }
    alternatives.push(term_query(fields.pinyin, word, weight::PINYIN));
    if word.len() >= 2 {
        alternatives.push(term_query(fields.initials, word, weight::INITIALS));
        for field in [fields.name_pinyin, fields.name_initials] {
            alternatives.push(boosted(
                Box::new(ConstScoreQuery::new(
                    Box::new(FuzzyTermQuery::new_prefix(term(field, word), 0, false)),
                    1.0,
                )),
                weight::NAME_PREFIX,
            ));
        }
    }
    alternatives
}

/// The whole query's text match: every piece must match (or, relaxed, any piece). The
/// section and the exact name are not part of it: the engine filters sections while
/// collecting, and adds the exact name's constant to the candidates whose name is the
/// query, so a query of flat pieces stays prunable.
pub(crate) fn build(
    fields: &Fields,
    analyzer: &Analyzer,
    read: &ReadQuery,
    relaxed: bool,
) -> Box<dyn Query> {
    let occur = if relaxed { Occur::Should } else { Occur::Must };
    let mut pieces: Vec<(Occur, Box<dyn Query>)> = read
        .pieces
        .iter()
        .map(|piece| (occur, piece_query(fields, analyzer, piece)))
        .collect();
    if pieces.len() == 1
        && let Some((_, only)) = pieces.pop()
    {
        return only;
    }
    if relaxed {
        Box::new(BooleanQuery::new(pieces))
    } else {
        Box::new(Explainable(Box::new(BooleanQuery::new(pieces))))
    }
}

/// Documents of `section`, scoring nothing.
pub(crate) fn section_filter(fields: &Fields, section: Section) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(
        Box::new(TermQuery::new(
            Term::from_field_u64(fields.section, section.code()),
            IndexRecordOption::Basic,
        )),
        0.0,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_characters_are_separators_not_syntax() {
        let read = ReadQuery::read("\"iPhone\":维修*(上海)");
        assert_eq!(
            read.pieces,
            [
                Piece::Latin("iphone".into()),
                Piece::Han("维修".into()),
                Piece::Han("上海".into())
            ]
        );
    }

    #[test]
    fn long_queries_are_cut_and_blank_ones_are_empty() {
        let long = "农".repeat(10_000);
        let read = ReadQuery::read(&long);
        assert!(read.cut);
        assert_eq!(read.text.chars().count(), QUERY_CHARS_MAX);
        assert!(ReadQuery::read("   \t\n ").is_empty());
        assert!(ReadQuery::read("🙂🙂 ！").is_empty());
        assert_eq!(ReadQuery::read("ｗｘ").pieces, [Piece::Latin("wx".into())]);
        assert_eq!(ReadQuery::read("中國").pieces, [Piece::Han("中国".into())]);
    }
}
