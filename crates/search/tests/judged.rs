//! The judged query set: a city's public documents (`judged/corpus.json`) and queries
//! judged by what a demanding person expects (`judged/queries.json`), scored the way
//! people see an answer — the intent card and the first three results of each section.
//!
//! - **recall@3**: of all (query, expected document) pairs, the share where the document
//!   is the intent card's or among the first three results of its section;
//! - **intent**: of the queries naming an intent card, the share answered with that card;
//! - **precision**: of all (query, wrong document) pairs, the share where the document
//!   is nowhere in the answer;
//! - **nothing**: of the queries that must find nothing, the share answered with no
//!   results and no card.
//!
//! `cargo test -p plaza-search --test judged -- --nocapture` prints each category's
//! figures and every failure with what came instead.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::{BTreeMap, BTreeSet};

use plaza_search::analyze::Analyzer;
use plaza_search::engine::Answer;
use plaza_search::{Context, Document, IntentDictionary, Request, SearchIndex, Section};
use serde::Deserialize;

/// Least share of expected documents found in the top 3 of their section (or as the card).
const RECALL_AT_3_MIN: f64 = 0.95;
/// Least share of intent judgements answered with the judged card.
const INTENT_MIN: f64 = 0.95;
/// Least share of wrong documents kept out of the answer.
const PRECISION_MIN: f64 = 0.95;
/// Least share of queries answered with nothing when nothing is right.
const NOTHING_MIN: f64 = 1.0;
/// Fewest judged queries the set holds.
const QUERIES_MIN: usize = 150;
/// "Now" for the corpus: posts were published in the weeks before it.
const NOW_MS: i64 = 1_796_000_000_000;
/// Results shown per section in the overview.
const TOP: usize = 3;

const CORPUS: &str = include_str!("judged/corpus.json");
const QUERIES: &str = include_str!("judged/queries.json");

/// One judged query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Judged {
    q: String,
    category: String,
    /// Documents a person certainly expects: the card, or the top 3 of their section.
    #[serde(default)]
    must: Vec<String>,
    /// Documents it would be wrong to show anywhere in the answer.
    #[serde(default)]
    must_not: Vec<String>,
    /// The document the intent card must lead to.
    #[serde(default)]
    intent: Option<String>,
    /// Whether the answer must hold no results and no card.
    #[serde(default)]
    nothing: bool,
}

/// Hits and misses of one measure.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    good: usize,
    total: usize,
}

impl Tally {
    fn count(&mut self, good: bool) {
        self.total += 1;
        self.good += usize::from(good);
    }

    #[allow(clippy::cast_precision_loss, reason = "counts are small")]
    fn share(self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.good as f64 / self.total as f64
        }
    }

    fn cell(self) -> String {
        if self.total == 0 {
            "-".to_owned()
        } else {
            format!("{}/{} {:.3}", self.good, self.total, self.share())
        }
    }

    fn add(&mut self, other: Tally) {
        self.good += other.good;
        self.total += other.total;
    }
}

#[derive(Debug, Default)]
struct Scores {
    queries: usize,
    recall: Tally,
    intent: Tally,
    precision: Tally,
    nothing: Tally,
    failures: Vec<String>,
}

/// The section a document key names.
fn section_of(key: &str) -> Option<Section> {
    key.split_once(':')
        .and_then(|(section, _)| Section::parse(section))
}

/// "key (title)" for the failure lines.
fn described(document: &Document) -> String {
    format!("{} «{}»", document.key(), document.title)
}

/// What the answer shows: the card's kind and document, then each section's first hits.
fn shown(answer: &Answer) -> String {
    let mut parts = Vec::new();
    if let Some(card) = &answer.intent {
        parts.push(format!("card[{}] {}", card.kind, described(&card.document)));
    }
    for section in &answer.sections {
        let hits: Vec<String> = section
            .hits
            .iter()
            .take(TOP)
            .map(|h| described(&h.document))
            .collect();
        parts.push(format!("{}: {}", section.section.as_str(), hits.join(", ")));
    }
    if parts.is_empty() {
        "nothing".to_owned()
    } else {
        parts.join(" | ")
    }
}

/// The first hits of `section`, by key.
fn top_of(answer: &Answer, section: Section) -> Vec<String> {
    answer
        .sections
        .iter()
        .filter(|s| s.section == section)
        .flat_map(|s| s.hits.iter().take(TOP).map(|h| h.document.key()))
        .collect()
}

/// Every document the answer shows, the card's included.
fn every_shown(answer: &Answer) -> BTreeSet<String> {
    let mut keys: BTreeSet<String> = answer
        .sections
        .iter()
        .flat_map(|s| s.hits.iter().map(|h| h.document.key()))
        .collect();
    if let Some(card) = &answer.intent {
        keys.insert(card.document.key());
    }
    keys
}

fn judge(judged: &Judged, answer: &Answer, scores: &mut Scores) {
    let q = &judged.q;
    let card = answer.intent.as_ref().map(|c| c.document.key());
    scores.queries += 1;
    for key in &judged.must {
        let section = section_of(key).unwrap();
        let top = top_of(answer, section);
        let found = card.as_deref() == Some(key.as_str()) || top.contains(key);
        scores.recall.count(found);
        if !found {
            scores.failures.push(format!(
                "recall     {q:?}: missing {key}; shown: {}",
                shown(answer)
            ));
        }
    }
    if let Some(expected) = &judged.intent {
        let good = card.as_deref() == Some(expected.as_str());
        scores.intent.count(good);
        if !good {
            let got = answer.intent.as_ref().map_or_else(
                || "no card".to_owned(),
                |c| format!("[{}] {}", c.kind, described(&c.document)),
            );
            scores.failures.push(format!(
                "intent     {q:?}: expected card {expected}, got {got}"
            ));
        }
    }
    let all = every_shown(answer);
    for key in &judged.must_not {
        let absent = !all.contains(key);
        scores.precision.count(absent);
        if !absent {
            scores.failures.push(format!(
                "precision  {q:?}: shows wrong {key}; shown: {}",
                shown(answer)
            ));
        }
    }
    if judged.nothing {
        let empty = answer.intent.is_none() && answer.hit_count() == 0;
        scores.nothing.count(empty);
        if !empty {
            scores.failures.push(format!(
                "nothing    {q:?}: expected nothing; shown: {}",
                shown(answer)
            ));
        }
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "one scenario read top to bottom: load, index, score, report, assert"
)]
#[test]
fn judged_queries_meet_the_thresholds() {
    let corpus: Vec<Document> = serde_json::from_str(CORPUS).unwrap();
    let queries: Vec<Judged> = serde_json::from_str(QUERIES).unwrap();

    // The judgements name documents that exist: a typo in a key fails here, not silently.
    let keys: BTreeSet<String> = corpus.iter().map(Document::key).collect();
    assert_eq!(
        keys.len(),
        corpus.len(),
        "document keys repeat in the corpus"
    );
    let mut unknown = Vec::new();
    for judged in &queries {
        let named = judged
            .must
            .iter()
            .chain(&judged.must_not)
            .chain(&judged.intent);
        for key in named {
            if !keys.contains(key) {
                unknown.push(format!("{:?} names {key}", judged.q));
            }
        }
        let judgements =
            judged.must.len() + judged.must_not.len() + usize::from(judged.intent.is_some());
        assert!(
            judged.nothing == (judgements == 0),
            "{:?}: a query is judged either by documents or as finding nothing",
            judged.q
        );
    }
    assert!(
        unknown.is_empty(),
        "judgements name documents not in the corpus:\n{}",
        unknown.join("\n")
    );
    assert!(
        queries.len() >= QUERIES_MIN,
        "{} queries, at least {QUERIES_MIN} wanted",
        queries.len()
    );

    let index = SearchIndex::in_memory(Analyzer::new(), 1).unwrap();
    for document in &corpus {
        index.upsert(document).unwrap();
    }
    index.commit().unwrap();
    let dictionary = IntentDictionary::starter();
    let context = Context::default();

    let mut by_category: BTreeMap<&str, Scores> = BTreeMap::new();
    for judged in &queries {
        let request = Request {
            q: &judged.q,
            section: None,
            page: 0,
            explain: false,
            context: &context,
            now_ms: NOW_MS,
        };
        let answer = index.search(&request, &dictionary).unwrap();
        judge(
            judged,
            &answer,
            by_category.entry(judged.category.as_str()).or_default(),
        );
    }

    let mut total = Scores::default();
    eprintln!(
        "\n{:<12} {:>7}  {:<17} {:<17} {:<17} {:<17}",
        "category", "queries", "recall@3", "intent", "precision", "nothing"
    );
    for (category, scores) in &by_category {
        eprintln!(
            "{category:<12} {:>7}  {:<17} {:<17} {:<17} {:<17}",
            scores.queries,
            scores.recall.cell(),
            scores.intent.cell(),
            scores.precision.cell(),
            scores.nothing.cell()
        );
        total.queries += scores.queries;
        total.recall.add(scores.recall);
        total.intent.add(scores.intent);
        total.precision.add(scores.precision);
        total.nothing.add(scores.nothing);
    }
    eprintln!(
        "{:<12} {:>7}  {:<17} {:<17} {:<17} {:<17}",
        "all",
        total.queries,
        total.recall.cell(),
        total.intent.cell(),
        total.precision.cell(),
        total.nothing.cell()
    );
    for (category, scores) in &by_category {
        if !scores.failures.is_empty() {
            eprintln!("\n{category}: {} failures", scores.failures.len());
            for failure in &scores.failures {
                eprintln!("  {failure}");
            }
        }
    }
    eprintln!();

    let failed: Vec<String> = [
        ("recall@3", total.recall.share(), RECALL_AT_3_MIN),
        ("intent", total.intent.share(), INTENT_MIN),
        ("precision", total.precision.share(), PRECISION_MIN),
        ("nothing", total.nothing.share(), NOTHING_MIN),
    ]
    .into_iter()
    .filter(|(_, share, min)| share < min)
    .map(|(name, share, min)| format!("{name} {share:.3} < {min}"))
    .collect();
    assert!(
        failed.is_empty(),
        "below the thresholds: {}",
        failed.join(", ")
    );
}
