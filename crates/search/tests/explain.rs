//! Explanations of queries whose alternatives are intersections (several words, long
//! substrings, several pieces): a document explained may come before an
//! intersection's first match, which tantivy must never be asked to seek back to. And
//! the exact name's constant, shown for the documents it was added to and no others.

mod common;

use common::{post, search};
use plaza_search::analyze::Analyzer;
use plaza_search::{Answer, SearchError, SearchIndex};

/// `q` searched with explanations.
fn explained(index: &SearchIndex, q: &str) -> Result<Answer, SearchError> {
    search(index, q, None, true)
}

#[test]
fn a_document_before_an_intersections_first_match_is_explained() {
    let index = SearchIndex::in_memory(Analyzer::new(), 1).unwrap();
    // The first document holds the query only as a substring of its title; the later
    // ones hold its words apart, which only the intersection of words finds.
    let documents = [
        post("a", "瑞幸咖啡新品", "今天的新品"),
        post("b", "早餐", "瑞幸 的 咖啡 不错"),
        post("c", "午餐", "咖啡 和 瑞幸"),
        post("d", "核酸检测预约点", "核酸检测 预约 在这里"),
    ];
    for document in &documents {
        index.upsert(document).unwrap();
    }
    index.commit().unwrap();
    for q in ["瑞幸咖啡", "核酸检测预约", "瑞幸 咖啡", "咖啡 新品"] {
        let answer = explained(&index, q).unwrap();
        assert!(answer.hit_count() > 0, "{q}");
        for hit in answer.sections.iter().flat_map(|s| &s.hits) {
            let explanation = hit.explanation.as_ref().unwrap();
            assert!(explanation["detail"].is_object(), "{q}: {explanation}");
            for piece in explanation["pieces"].as_array().unwrap() {
                assert_eq!(piece["matched"], true, "{q}: {explanation}");
            }
        }
    }
}

#[test]
fn the_exact_name_constant_is_explained_where_it_was_added() {
    let index = SearchIndex::in_memory(Analyzer::new(), 1).unwrap();
    // The name's spaces collapse when it is compared; the other post only holds it.
    for document in [
        post("named", "瑞幸  咖啡", "门店"),
        post("holder", "瑞幸咖啡的新品", "瑞幸 咖啡"),
    ] {
        index.upsert(&document).unwrap();
    }
    index.commit().unwrap();
    let answer = explained(&index, "瑞幸 咖啡").unwrap();
    let hits: Vec<_> = answer.sections.iter().flat_map(|s| &s.hits).collect();
    assert_eq!(hits.len(), 2);
    for hit in hits {
        let explanation = hit.explanation.as_ref().unwrap();
        let expected = if hit.document.id == "named" {
            serde_json::json!(8.0)
        } else {
            serde_json::Value::Null
        };
        assert_eq!(explanation["exact_name"], expected, "{explanation}");
    }
}
