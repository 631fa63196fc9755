//! A word of two Han characters is indexed once, as its gram: the words field leaves it
//! out, and a query finds it through the grams fields, alone or beside other words.

mod common;

use common::{post, search};
use plaza_search::analyze::{Analyzer, is_gram};
use plaza_search::{SearchError, SearchIndex, Section};

/// The ids `q` finds among posts, best first.
fn found(index: &SearchIndex, q: &str) -> Result<Vec<String>, SearchError> {
    let answer = search(index, q, Some(Section::Posts), false)?;
    Ok(answer
        .sections
        .iter()
        .flat_map(|section| &section.hits)
        .map(|hit| hit.document.id.clone())
        .collect())
}

#[test]
fn a_gram_is_two_han_characters_exactly() {
    assert!(is_gram("咖啡"));
    assert!(!is_gram("咖"));
    assert!(!is_gram("咖啡店"));
    assert!(!is_gram("a咖"));
    assert!(!is_gram("ab"));
}

#[test]
fn words_of_two_characters_are_found_apart_and_alone_through_their_grams() {
    let index = SearchIndex::in_memory(Analyzer::new(), 1).unwrap();
    for document in [
        post("apart", "早餐", "瑞幸 的 拿铁 和 咖啡 不错"),
        post("title", "咖啡地图", "城市里的好店"),
        post("other", "午餐", "今天吃面"),
    ] {
        index.upsert(&document).unwrap();
    }
    index.commit().unwrap();
    // Two words, apart in the text: only every word found anywhere matches.
    assert_eq!(found(&index, "瑞幸咖啡").unwrap(), ["apart"]);
    // One word: in the title first, then in the text.
    assert_eq!(found(&index, "咖啡").unwrap(), ["title", "apart"]);
    // A word of three characters stays a word.
    assert_eq!(found(&index, "城市里").unwrap(), ["title"]);
    // Pieces apart: each must match, the gram in the text and the title's word.
    assert_eq!(found(&index, "咖啡 早餐").unwrap(), ["apart"]);
}
