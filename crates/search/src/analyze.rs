//! Text analysis: how folded text becomes the tokens of each field, the same way when a
//! document is indexed and when a query is read.
//!
//! - **words**: jieba's search mode (a long word and the shorter words inside it), and
//!   Latin words and numbers as they are (folding already lower-cased them);
//! - **grams**: every run of two or three neighbouring Han characters, so any substring
//!   of two or three characters is one term and a longer one is all of its
//!   three-character windows;
//! - **chars**: each Han character alone (titles only, for one-character queries);
//! - **pinyin**: each word's full pinyin and initials, every reading of a character with
//!   several (银行 is `yinhang` and `yinxing`), and each Han run's whole spelling, which
//!   queries match by prefix ("zgny" → 中国农业…).

use std::sync::Arc;

use jieba_rs::Jieba;
use pinyin::ToPinyinMulti;

use crate::fold::{is_han, is_latin_or_digit};

/// Latin words at least this long also match with one typo.
pub const TYPO_MIN_LETTERS: usize = 5;

/// Most spellings kept for one word or run when its characters have several readings.
pub const SPELLINGS_MAX: usize = 4;

/// A token with the place it came from, in characters of the folded text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The token's text.
    pub text: String,
    /// First character.
    pub start: usize,
    /// One past the last character.
    pub end: usize,
    /// Its position (its word's place, or its first character's).
    pub position: usize,
}

/// The analyzer: jieba's dictionary, loaded once and shared.
#[derive(Clone)]
pub struct Analyzer {
    jieba: Arc<Jieba>,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Analyzer")
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl Analyzer {
    /// Loads jieba's default dictionary (about a tenth of a second).
    #[must_use]
    pub fn new() -> Self {
        Self {
            jieba: Arc::new(Jieba::new()),
        }
    }

    /// Words in search mode: every word jieba finds, with the shorter dictionary words
    /// inside long ones. Tokens without a letter, digit or Han character are dropped.
    #[must_use]
    pub fn words(&self, folded: &str) -> Vec<Span> {
        self.jieba
            .cut_for_search(folded, true)
            .into_iter()
            .filter(|token| is_word(token.word))
            .enumerate()
            .map(|(position, token)| Span {
                text: token.word.to_owned(),
                start: token.start,
                end: token.end,
                position,
            })
            .collect()
    }

    /// Words as one reading of the text (no overlapping shorter words): what a query
    /// requires.
    #[must_use]
    pub fn query_words(&self, folded: &str) -> Vec<String> {
        self.jieba
            .cut(folded, true)
            .into_iter()
            .map(|token| token.word)
            .filter(|word| is_word(word))
            .map(str::to_owned)
            .collect()
    }

    /// Full pinyin and initials of each word of `folded` that is all Han characters.
    #[must_use]
    pub fn pinyin_words(&self, folded: &str) -> (Vec<Span>, Vec<Span>) {
        pinyin_of_words(&self.words(folded))
    }
}

/// Full pinyin and initials of each of `words` that is all Han characters, at the
/// word's place in the list.
#[must_use]
pub fn pinyin_of_words(words: &[Span]) -> (Vec<Span>, Vec<Span>) {
    let mut full = Vec::new();
    let mut initials = Vec::new();
    for (position, word) in words.iter().enumerate() {
        if !word.text.chars().all(is_han) {
            continue;
        }
        let spelled = spellings_of_word(&word.text);
        let (spellings, letters) = &*spelled;
        for text in spellings {
            full.push(Span {
                text: text.clone(),
                position,
                ..word.clone()
            });
        }
        for text in letters {
            initials.push(Span {
                text: text.clone(),
                position,
                ..word.clone()
            });
        }
    }
    (full, initials)
}

/// Words remembered per thread with their spellings: a language's words repeat, and
/// spelling one is most of what pinyin costs.
const SPELLED_WORDS_KEPT: usize = 65_536;

type Spelled = Arc<(Vec<String>, Vec<String>)>;

thread_local! {
    static SPELLED: std::cell::RefCell<std::collections::HashMap<String, Spelled>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// [`spellings`] of a word, remembered.
fn spellings_of_word(word: &str) -> Spelled {
    SPELLED.with(|cell| {
        if let Some(known) = cell.borrow().get(word) {
            return Arc::clone(known);
        }
        let spelled = Arc::new(spellings(word));
        let mut known = cell.borrow_mut();
        if known.len() >= SPELLED_WORDS_KEPT {
            known.clear();
        }
        known.insert(word.to_owned(), Arc::clone(&spelled));
        spelled
    })
}

/// Characters of a run from which its spellings are also indexed (a name's later
/// words: 中国**工商银行**); longer runs keep their first this many starts.
pub const RUN_STARTS_MAX: usize = 16;

/// Each run of Han characters of `folded` spelled whole from each of its characters
/// on, full and initials, for prefix matching: "gongshang" and "gsyh" both begin a
/// spelling of 中国工商银行.
#[must_use]
pub fn pinyin_runs(folded: &str) -> (Vec<Span>, Vec<Span>) {
    let mut full = Vec::new();
    let mut initials = Vec::new();
    let mut position = 0;
    for (run_start, run) in han_runs(folded) {
        let chars: Vec<char> = run.chars().collect();
        let end = run_start + chars.len();
        for offset in 0..chars.len().min(RUN_STARTS_MAX) {
            let start = run_start + offset;
            let suffix: String = chars[offset..].iter().collect();
            let (spellings, letters) = spellings(&suffix);
            for text in spellings {
                full.push(Span {
                    text,
                    start,
                    end,
                    position,
                });
            }
            for text in letters {
                initials.push(Span {
                    text,
                    start,
                    end,
                    position,
                });
            }
            position += 1;
        }
    }
    (full, initials)
}

/// The longest substring indexed as one gram: longer ones are found as all their grams
/// of this length ([`query_grams`]).
pub const GRAM_MAX: usize = 3;

/// Every run of 2 to [`GRAM_MAX`] neighbouring Han characters, each at its first
/// character's place: any substring of two or three characters is one term, so
/// finding it reads one posting list and no positions.
#[must_use]
pub fn grams(folded: &str) -> Vec<Span> {
    let chars: Vec<char> = folded.chars().collect();
    let mut spans = Vec::new();
    for start in 0..chars.len() {
        for length in 2..=GRAM_MAX {
            let Some(gram) = chars.get(start..start + length) else {
                break;
            };
            if !gram.iter().all(|c| is_han(*c)) {
                break;
            }
            spans.push(Span {
                text: gram.iter().collect(),
                start,
                end: start + length,
                position: start,
            });
        }
    }
    spans
}

/// The grams a run of Han characters is found by: the run itself when it is a gram,
/// else every [`GRAM_MAX`]-character window of it, which a text holding the run holds
/// all of (and a text holding all of them almost always holds the run).
#[must_use]
pub fn query_grams(run: &str) -> Vec<String> {
    let chars: Vec<char> = run.chars().collect();
    match chars.len() {
        0 | 1 => Vec::new(),
        n if n <= GRAM_MAX => vec![run.to_owned()],
        _ => chars
            .windows(GRAM_MAX)
            .map(|window| window.iter().collect())
            .collect(),
    }
}

/// Each Han character alone, at its place.
#[must_use]
pub fn han_chars(folded: &str) -> Vec<Span> {
    folded
        .chars()
        .enumerate()
        .filter(|(_, c)| is_han(*c))
        .map(|(start, c)| Span {
            text: c.to_string(),
            start,
            end: start + 1,
            position: start,
        })
        .collect()
}

/// The runs of Han characters of `text` with their first character's place.
#[must_use]
pub fn han_runs(text: &str) -> Vec<(usize, String)> {
    let mut runs: Vec<(usize, String)> = Vec::new();
    let mut previous_han = false;
    for (at, c) in text.chars().enumerate() {
        let han = is_han(c);
        if han {
            match runs.last_mut() {
                Some((_, run)) if previous_han => run.push(c),
                _ => runs.push((at, c.to_string())),
            }
        }
        previous_han = han;
    }
    runs
}

/// The readings of one character without tones, most common first, no repeats.
#[must_use]
pub fn readings(c: char) -> Vec<&'static str> {
    let mut found: Vec<&'static str> = Vec::new();
    if let Some(multi) = c.to_pinyin_multi() {
        for reading in multi {
            // Input methods type ü as v (lv, nv): the index spells it so.
            let plain = match reading.plain() {
                "lü" => "lv",
                "nü" => "nv",
                "lüe" => "lve",
                "nüe" => "nve",
                other => other,
            };
            if !found.contains(&plain) {
                found.push(plain);
            }
        }
    }
    found
}

/// Up to [`SPELLINGS_MAX`] full spellings and initials of a run of Han characters:
/// the most common reading of each character first, then the others while there is
/// room. A character without pinyin (a rare ideograph) leaves the run unspelled.
#[must_use]
pub fn spellings(run: &str) -> (Vec<String>, Vec<String>) {
    let full = combine(run, |c| {
        readings(c).into_iter().map(str::to_owned).collect()
    });
    let initials = combine(run, |c| {
        let mut letters: Vec<String> = Vec::new();
        for reading in readings(c) {
            let first: String = reading.chars().take(1).collect();
            if !letters.contains(&first) {
                letters.push(first);
            }
        }
        letters
    });
    (full, initials)
}

/// Every way to spell `run` choosing one option per character, the first options
/// first, at most [`SPELLINGS_MAX`] ways, without repeats.
fn combine(run: &str, options_of: impl Fn(char) -> Vec<String>) -> Vec<String> {
    let mut combined: Vec<String> = vec![String::new()];
    for c in run.chars() {
        let options = options_of(c);
        if options.is_empty() {
            return Vec::new();
        }
        let mut next: Vec<String> = Vec::with_capacity(SPELLINGS_MAX);
        for (index, option) in options.iter().enumerate() {
            for prefix in &combined {
                // The first option extends every spelling; the others only add while
                // there is room, so the list never grows past the limit.
                if index > 0 && next.len() >= SPELLINGS_MAX {
                    break;
                }
                next.push(format!("{prefix}{option}"));
            }
        }
        combined = next;
    }
    let mut unique: Vec<String> = Vec::with_capacity(combined.len());
    for spelling in combined {
        if !unique.contains(&spelling) {
            unique.push(spelling);
        }
    }
    unique
}

/// Whether a token jieba cut is a word (has a Han character, a letter or a digit)
/// rather than spaces or punctuation.
fn is_word(token: &str) -> bool {
    token.chars().any(|c| is_han(c) || is_latin_or_digit(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_mode_finds_the_short_words_inside_long_ones() {
        let analyzer = Analyzer::new();
        let words: Vec<String> = analyzer
            .words("中国农业发展银行")
            .into_iter()
            .map(|span| span.text)
            .collect();
        assert!(words.contains(&"中国".to_owned()), "{words:?}");
        assert!(words.contains(&"银行".to_owned()), "{words:?}");
    }

    #[test]
    fn grams_cover_every_two_and_three_neighbouring_han_characters() {
        let texts: Vec<String> = grams("中国农业 ab 银行")
            .into_iter()
            .map(|s| s.text)
            .collect();
        assert_eq!(texts, ["中国", "中国农", "国农", "国农业", "农业", "银行"]);
        let at: Vec<usize> = grams("中国农业").into_iter().map(|s| s.position).collect();
        assert_eq!(at, [0, 0, 1, 1, 2]);
        assert_eq!(query_grams("农业"), ["农业"]);
        assert_eq!(query_grams("农业发"), ["农业发"]);
        assert_eq!(query_grams("农业发展"), ["农业发", "业发展"]);
        assert!(query_grams("农").is_empty());
    }

    #[test]
    fn pinyin_spells_every_reading_of_a_word_with_a_heteronym() {
        let (full, initials) = spellings("银行");
        assert!(full.contains(&"yinhang".to_owned()), "{full:?}");
        assert!(full.contains(&"yinxing".to_owned()), "{full:?}");
        assert!(initials.contains(&"yh".to_owned()), "{initials:?}");
        // 信 is also read shen, rarely: the common reading comes first.
        let (full, initials) = spellings("微信");
        assert_eq!(full.first().map(String::as_str), Some("weixin"));
        assert_eq!(initials.first().map(String::as_str), Some("wx"));
        assert!(spellings("农业").0.contains(&"nongye".to_owned()));
    }

    #[test]
    fn runs_are_whole_spellings_for_prefixes() {
        let (full, initials) = pinyin_runs("中国农业发展银行 app");
        assert!(
            full.iter().any(|s| s.text.starts_with("zhongguonongye")),
            "{full:?}"
        );
        assert!(
            initials.iter().any(|s| s.text == "zgnyfzyh"),
            "{initials:?}"
        );
    }
}
