//! Text analysis: how folded text becomes the tokens of each field, the same way when a
//! document is indexed and when a query is read.
//!
//! - **words**: jieba's search mode (a long word and the shorter words inside it), and
//!   Latin words and numbers as they are (folding already lower-cased them);
//! - **grams**: every pair of neighbouring Han characters, so any substring of two
//!   characters is one term and a longer one is all of its pairs;
//! - **chars**: each Han character alone (titles only, for one-character queries);
//! - **pinyin**: each word's full pinyin and initials, every reading of a character with
//!   several (银行 is `yinhang` and `yinxing`), and each Han run's whole spelling, which
//!   queries match by prefix ("zgny" → 中国农业…).

use std::sync::Arc;

use jieba_rs::Jieba;
use pinyin::ToPinyinMulti;

use crate::fold::{is_han, is_latin_or_digit};
use crate::tokens::Tokens;

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

    /// Calls `found` with each word of search mode, as [`Analyzer::words`] lists them,
    /// without making a list.
    pub fn for_each_word(&self, folded: &str, mut found: impl FnMut(&str)) {
        for token in self.jieba.cut_for_search(folded, true) {
            if is_word(token.word) {
                found(token.word);
            }
        }
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

/// Adds the full pinyin and initials of each of `words` that is all Han characters to
/// `full` and `initials`: [`pinyin_of_words`] for the index, without places.
pub fn spell_words<'a>(
    words: impl Iterator<Item = &'a str>,
    full: &mut Tokens,
    initials: &mut Tokens,
) {
    for word in words {
        if !word.chars().all(is_han) {
            continue;
        }
        let spelled = spellings_of_word(word);
        let (spellings, letters) = &*spelled;
        for text in spellings {
            full.push(text);
        }
        for text in letters {
            initials.push(text);
        }
    }
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

/// Word starts of a run from which its spellings are also indexed (a name's later
/// words: 中国**工商银行**); longer runs keep their first this many starts.
pub const RUN_STARTS_MAX: usize = 16;

/// Each run of Han characters of `folded` spelled whole from its start and from each
/// of its `words`' starts on, full and initials, for prefix matching: "gongshang" and
/// "gsyh" both begin a spelling of 中国工商银行 (from 工商). `words` are `folded`'s
/// words ([`Analyzer::words`]), whose places are in `folded`'s characters.
#[must_use]
pub fn pinyin_runs(folded: &str, words: &[Span]) -> (Tokens, Tokens) {
    let word_starts: std::collections::BTreeSet<usize> =
        words.iter().map(|word| word.start).collect();
    let mut full = Tokens::default();
    let mut initials = Tokens::default();
    for (run_start, run) in han_runs(folded) {
        let full_options: Vec<Vec<&'static str>> = run.chars().map(readings).collect();
        let initial_options: Vec<Vec<&'static str>> = full_options
            .iter()
            .map(|options| initials_of(options))
            .collect();
        let starts = (0..full_options.len())
            .filter(|offset| *offset == 0 || word_starts.contains(&(run_start + offset)))
            .take(RUN_STARTS_MAX);
        for offset in starts {
            full.extend(combine(&full_options[offset..]));
            initials.extend(combine(&initial_options[offset..]));
        }
    }
    (full, initials)
}

/// The length of a gram, the longest substring indexed as one term: longer ones are
/// found as all their grams ([`query_grams`]).
pub const GRAM_MAX: usize = 2;

/// Every pair of neighbouring Han characters ([`GRAM_MAX`]): any substring of two is
/// one term, so finding it reads one posting list and no positions. Runs of three as
/// well were tried: they nearly doubled the grams and halved indexing's rate, and
/// queries were no faster.
#[must_use]
pub fn grams(folded: &str) -> Tokens {
    let mut tokens = Tokens::default();
    // Where the previous character began, when it was a Han character.
    let mut previous: Option<usize> = None;
    for (at, c) in folded.char_indices() {
        if !is_han(c) {
            previous = None;
            continue;
        }
        if let Some(start) = previous {
            tokens.push(&folded[start..at + c.len_utf8()]);
        }
        previous = Some(at);
    }
    tokens
}

/// Whether `word` is one gram: [`GRAM_MAX`] Han characters. Such a word is not kept
/// among a document's words, since its gram is the same term in the grams fields.
#[must_use]
pub fn is_gram(word: &str) -> bool {
    let mut chars = word.chars();
    chars.by_ref().take(GRAM_MAX).filter(|c| is_han(*c)).count() == GRAM_MAX
        && chars.next().is_none()
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

/// Each Han character alone.
#[must_use]
pub fn han_chars(folded: &str) -> Tokens {
    let mut tokens = Tokens::default();
    let mut one = [0_u8; 4];
    for c in folded.chars().filter(|c| is_han(*c)) {
        tokens.push(c.encode_utf8(&mut one));
    }
    tokens
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
    let full_options: Vec<Vec<&'static str>> = run.chars().map(readings).collect();
    let initial_options: Vec<Vec<&'static str>> = full_options
        .iter()
        .map(|options| initials_of(options))
        .collect();
    (combine(&full_options), combine(&initial_options))
}

/// The first letters of a character's `readings`, without repeats.
fn initials_of(readings: &[&'static str]) -> Vec<&'static str> {
    let mut letters: Vec<&'static str> = Vec::new();
    for reading in readings {
        // Readings are ASCII letters (ü is spelled v), so a first letter is one byte;
        // `get` leaves out anything else rather than cut a character.
        if let Some(first) = reading.get(..1)
            && !letters.contains(&first)
        {
            letters.push(first);
        }
    }
    letters
}

/// Every way to spell a run choosing one of each character's `options`, the first
/// options first, at most [`SPELLINGS_MAX`] ways, without repeats.
fn combine(options: &[Vec<&'static str>]) -> Vec<String> {
    // Which option each way takes at each character, decided before any spelling is
    // written: each is then written once, into a string of its final length.
    let mut ways: Vec<Vec<usize>> = vec![Vec::with_capacity(options.len())];
    for choices in options {
        if choices.is_empty() {
            return Vec::new();
        }
        // The first option extends every way; the others only add while there is
        // room, so the list never grows past the limit.
        let mut more: Vec<Vec<usize>> = Vec::new();
        'room: for other in 1..choices.len() {
            for way in &ways {
                if ways.len() + more.len() >= SPELLINGS_MAX {
                    break 'room;
                }
                let mut taken = way.clone();
                taken.push(other);
                more.push(taken);
            }
        }
        for way in &mut ways {
            way.push(0);
        }
        ways.extend(more);
    }
    let mut unique: Vec<String> = Vec::with_capacity(ways.len());
    for way in ways {
        let picked = || way.iter().zip(options).map(|(at, choices)| choices[*at]);
        let mut spelling = String::with_capacity(picked().map(str::len).sum());
        picked().for_each(|reading| spelling.push_str(reading));
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
    fn grams_cover_every_pair_of_neighbouring_han_characters() {
        let texts: Vec<String> = grams("中国农业 ab 银行")
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(texts, ["中国", "国农", "农业", "银行"]);
        assert!(grams("中 a").is_empty());
        assert_eq!(query_grams("农业"), ["农业"]);
        assert_eq!(query_grams("农业发"), ["农业", "业发"]);
        assert_eq!(query_grams("农业发展"), ["农业", "业发", "发展"]);
        assert!(query_grams("农").is_empty());
    }

    #[test]
    fn each_han_character_is_a_token() {
        let chars: Vec<String> = han_chars("微信 pay 支付")
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(chars, ["微", "信", "支", "付"]);
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
        let analyzer = Analyzer::new();
        let text = "中国农业发展银行 app";
        let (full, initials) = pinyin_runs(text, &analyzer.words(text));
        assert!(
            full.iter().any(|s| s.starts_with("zhongguonongye")),
            "{full:?}"
        );
        assert!(initials.contains("zgnyfzyh"), "{initials:?}");
        // From a later word's start, not from inside a word.
        assert!(full.contains("fazhanyinhang"), "{full:?}");
        assert!(initials.contains("yh"), "{initials:?}");
        assert!(!initials.contains("gnyfzyh"), "{initials:?}");
    }
}
