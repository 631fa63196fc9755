//! Content security (`msg_sec_check`): a word list the operator keeps, each word with
//! WeChat's label (20001 politics, 20002 porn, 20003 abuse, 20006 illegal, 20008 fraud,
//! 20012 vulgar, 10001 ads, 21000 other) and whether a match makes the text `risky` or
//! only sends it to `review`. Text is matched case-insensitively, full-width letters and
//! digits folded to half-width, ignoring spaces.

use plaza_kernel::clock::Timestamp;
use plaza_kernel::record::Expect;
use serde::{Deserialize, Serialize};

use crate::store::{kind, load, write};
use crate::{CONFLICT_RETRIES_MAX, MiniAppError, MiniApps};

/// Words in the list at most.
pub const WORDS_MAX: usize = 2_000;
/// The labels a word may carry.
pub const LABELS: &[u32] = &[
    10001, 20001, 20002, 20003, 20006, 20008, 20012, 20013, 21000,
];

/// One word of the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Word {
    /// The word (at least one character).
    pub word: String,
    /// WeChat's label for what it is.
    pub label: u32,
    /// A match makes the text risky (else it goes to review).
    pub risky: bool,
}

/// The operator's list, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordList {
    /// The words.
    pub words: Vec<Word>,
    /// When it was last changed.
    pub updated_at: Option<Timestamp>,
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `pass`, `review` or `risky`.
    pub suggest: &'static str,
    /// 100 when nothing matched, else the strongest match's label.
    pub label: u32,
    /// The word that decided, if any.
    pub keyword: Option<String>,
}

const LIST_KEY: &str = "words";

/// Text as words are compared: lower case, full-width ASCII folded, no whitespace.
pub fn fold(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(u32::from(c) - 0xfee0).unwrap_or(c),
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

impl MiniApps {
    /// The operator's word list.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn word_list(&self) -> Result<WordList, MiniAppError> {
        Ok(load::<WordList>(&*self.records, kind::WORD_LIST, LIST_KEY)
            .await?
            .map(|(list, _)| list)
            .unwrap_or_default())
    }

    /// Replaces the word list.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Invalid`] naming a bad word or label.
    pub async fn set_word_list(&self, words: Vec<Word>) -> Result<WordList, MiniAppError> {
        if words.len() > WORDS_MAX {
            return Err(MiniAppError::invalid(
                "words",
                format!("at most {WORDS_MAX}"),
            ));
        }
        for (index, word) in words.iter().enumerate() {
            if fold(&word.word).is_empty() || word.word.chars().count() > 50 {
                return Err(MiniAppError::invalid(
                    &format!("words[{index}].word"),
                    "1 to 50 characters",
                ));
            }
            if !LABELS.contains(&word.label) {
                return Err(MiniAppError::invalid(
                    &format!("words[{index}].label"),
                    format!("one of {LABELS:?}"),
                ));
            }
        }
        for _ in 0..CONFLICT_RETRIES_MAX {
            let expect = match load::<WordList>(&*self.records, kind::WORD_LIST, LIST_KEY).await? {
                Some((_, version)) => Expect::Version(version),
                None => Expect::Absent,
            };
            let list = WordList {
                words: words.clone(),
                updated_at: Some(self.now()),
            };
            if self
                .try_commit(vec![write(
                    kind::WORD_LIST,
                    LIST_KEY,
                    expect,
                    &list,
                    vec![],
                )?])
                .await?
            {
                return Ok(list);
            }
        }
        Err(MiniAppError::Busy {
            what: "word list".to_owned(),
        })
    }

    /// Checks `texts` (content, nickname, title, signature) against the word list: the
    /// strongest match decides (risky over review).
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn check_text(&self, texts: &[&str]) -> Result<Verdict, MiniAppError> {
        let list = self.word_list().await?;
        let folded: Vec<String> = texts.iter().map(|text| fold(text)).collect();
        let mut verdict = Verdict {
            suggest: "pass",
            label: 100,
            keyword: None,
        };
        for word in &list.words {
            let needle = fold(&word.word);
            if !folded.iter().any(|text| text.contains(&needle)) {
                continue;
            }
            if word.risky || verdict.suggest == "pass" {
                verdict = Verdict {
                    suggest: if word.risky { "risky" } else { "review" },
                    label: word.label,
                    keyword: Some(word.word.clone()),
                };
                if word.risky {
                    break;
                }
            }
        }
        Ok(verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folding_ignores_case_width_and_spaces() {
        assert_eq!(fold("ＶＩＰ 代 开"), "vip代开");
        assert_eq!(fold("Fa Piao"), "fapiao");
    }
}
