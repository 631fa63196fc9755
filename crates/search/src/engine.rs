//! Answering a search: candidates by text score, the ranking factors, sections, the
//! intent card, highlights and explanations; and suggestions as people type.

use std::collections::HashMap;

use serde::Serialize;
use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, EnableScoring, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, Searcher, Term};

use crate::document::{Document, Section};
use crate::error::SearchError;
use crate::highlight;
use crate::index::{SearchIndex, exact_name};
use crate::intent::{IntentDictionary, Recognised, strip_fillers};
use crate::query::{self, Piece, ReadQuery};
use crate::rank::{self, Context, Factors};

/// Results per page of one section.
pub const PAGE_SIZE: usize = 10;
/// Results per section when all sections are shown.
pub const OVERVIEW_SIZE: usize = 3;
/// Candidates ranked for the overview.
const OVERVIEW_DEPTH: usize = 200;
/// Candidates are ranked in blocks of this many, so pages within a block agree.
const RANK_BLOCK: usize = 100;
/// The deepest page served (pages are of [`PAGE_SIZE`]).
pub const PAGE_MAX: usize = 50;
/// Suggestions given at most.
pub const SUGGESTIONS_MAX: usize = 8;

/// A search to run.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// What was typed.
    pub q: &'a str,
    /// One section's results, or all sections' first few.
    pub section: Option<Section>,
    /// Page of the section, from 0.
    pub page: usize,
    /// Whether to explain each result's score and the intent decision.
    pub explain: bool,
    /// The searcher's context.
    pub context: &'a Context,
    /// Now, Unix milliseconds (freshness).
    pub now_ms: i64,
}

/// The answer to a search.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// The query as searched (cut and cleaned).
    pub query: String,
    /// Whether the query was cut to the limit.
    pub cut: bool,
    /// Whether nothing matched every word, so results match some of them.
    pub relaxed: bool,
    /// The card leading straight to what the query asks for.
    pub intent: Option<IntentCard>,
    /// Results by section, sections without results left out.
    pub sections: Vec<SectionHits>,
    /// When nothing matched at all: names that begin like the query.
    pub suggestions: Vec<Suggestion>,
    /// With `explain`: each intent check made and what it found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent_checks: Option<Vec<IntentCheck>>,
}

impl Answer {
    /// How many results the answer holds.
    #[must_use]
    pub fn hit_count(&self) -> usize {
        self.sections.iter().map(|s| s.hits.len()).sum()
    }
}

/// One section's results.
#[derive(Debug, Clone, Serialize)]
pub struct SectionHits {
    /// The section.
    pub section: Section,
    /// Its heading.
    pub heading: &'static str,
    /// The page shown.
    pub page: usize,
    /// Its results.
    pub hits: Vec<Hit>,
    /// Whether a next page has more.
    pub more: bool,
}

/// One result.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// What was found.
    #[serde(flatten)]
    pub document: Document,
    /// Its score.
    pub score: f32,
    /// Matched characters of the title and the text, `[start, end)` in characters.
    pub highlights: Highlights,
    /// With `explain`: the text score's parts and the factors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<serde_json::Value>,
}

/// Matched characters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Highlights {
    /// In the title.
    pub title: Vec<[usize; 2]>,
    /// In the text.
    pub body: Vec<[usize; 2]>,
}

/// The top card.
#[derive(Debug, Clone, Serialize)]
pub struct IntentCard {
    /// `service`, `creator`, `mini_program`, `merchant` or `corp`.
    pub kind: &'static str,
    /// Why this card: in people's words.
    pub reason: String,
    /// The service asked for (service intents).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Where it leads.
    pub document: Document,
}

/// One intent check, for the explanation.
#[derive(Debug, Clone, Serialize)]
pub struct IntentCheck {
    /// What was checked.
    pub check: &'static str,
    /// What it found.
    pub result: String,
}

/// A suggestion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    /// The text to search.
    pub text: String,
    /// The section of the thing it names.
    pub section: Section,
    /// Where that thing's card leads.
    pub link: String,
}

/// Fast fields of one segment, opened once per search.
struct SegmentColumns {
    popularity: Column<u64>,
    published: Column<i64>,
    owner: Column<u64>,
    section: Column<u64>,
    name_key: Column<u64>,
}

/// The best scores offered so far, at most a given number of them.
struct TopScores {
    depth: usize,
    /// Smallest first (a min-heap), so the one to drop is at the top.
    heap: std::collections::BinaryHeap<std::cmp::Reverse<Scored>>,
}

/// A score and its document, ordered by score, then the earlier document first.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Scored(f32, DocAddress);

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0
            .total_cmp(&other.0)
            .then_with(|| other.1.cmp(&self.1))
    }
}

impl TopScores {
    fn new(depth: usize) -> Self {
        Self {
            depth,
            heap: std::collections::BinaryHeap::with_capacity(depth + 1),
        }
    }

    /// The score a document must beat to enter once the list is full.
    fn threshold(&self) -> f32 {
        match self.heap.peek() {
            Some(std::cmp::Reverse(lowest)) if self.heap.len() >= self.depth => lowest.0,
            _ => f32::MIN,
        }
    }

    fn offer(&mut self, score: f32, address: DocAddress) {
        if self.depth == 0 {
            return;
        }
        self.heap.push(std::cmp::Reverse(Scored(score, address)));
        if self.heap.len() > self.depth {
            self.heap.pop();
        }
    }

    fn into_sorted(self) -> Vec<(f32, DocAddress)> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|std::cmp::Reverse(Scored(score, address))| (score, address))
            .collect()
    }
}

struct Candidate {
    address: DocAddress,
    section: Section,
    factors: Factors,
    /// Whether its whole name is the query: the exact name's constant is in its text
    /// score.
    exact: bool,
}

impl SearchIndex {
    /// Runs `request` with the intent `dictionary`.
    ///
    /// # Errors
    ///
    /// [`SearchError::Index`] when the index cannot be read.
    pub fn search(
        &self,
        request: &Request<'_>,
        dictionary: &IntentDictionary,
    ) -> Result<Answer, SearchError> {
        let read = ReadQuery::read(request.q);
        let mut answer = Answer {
            query: read.text.clone(),
            cut: read.cut,
            relaxed: false,
            intent: None,
            sections: Vec::new(),
            suggestions: Vec::new(),
            intent_checks: request.explain.then(Vec::new),
        };
        if read.is_empty() {
            return Ok(answer);
        }
        let searcher = self.reader.searcher();
        let mut read = read;
        if request.section.is_none() && request.page == 0 {
            let mut checks = Vec::new();
            answer.intent =
                self.intent(&searcher, &read, dictionary, request.context, &mut checks)?;
            if let Some(explained) = &mut answer.intent_checks {
                *explained = checks;
            }
        }
        // A service asked for with words around it (附近 核酸) lists what serves the
        // service: the results are searched without those words.
        let asked = strip_fillers(&read.folded);
        if answer
            .intent
            .as_ref()
            .is_some_and(|card| card.kind == "service")
            && !asked.is_empty()
        {
            read = ReadQuery::read(&asked);
        }
        for relaxed in [false, true] {
            if relaxed && (read.pieces.len() < 2 || answer.hit_count() > 0) {
                break;
            }
            answer.relaxed = relaxed;
            let query = query::build(&self.fields, &self.analyzer, &read, relaxed);
            answer.sections = self.ranked_sections(&searcher, &*query, &read, request)?;
        }
        if answer.hit_count() == 0 {
            answer.suggestions = self.suggest(request.q)?;
        }
        Ok(answer)
    }

    fn ranked_sections(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        read: &ReadQuery,
        request: &Request<'_>,
    ) -> Result<Vec<SectionHits>, SearchError> {
        let page = request.page.min(PAGE_MAX);
        let depth = match request.section {
            None => OVERVIEW_DEPTH,
            Some(_) => ((page + 1) * PAGE_SIZE).div_ceil(RANK_BLOCK) * RANK_BLOCK + 1,
        };
        let top = self.top_by_text(searcher, query, depth, request.section)?;
        let candidates = self.scored(searcher, top, Some(&read.folded), request)?;
        let mut by_section: HashMap<Section, Vec<Candidate>> = HashMap::new();
        for candidate in candidates {
            by_section
                .entry(candidate.section)
                .or_default()
                .push(candidate);
        }
        let mut sections = Vec::new();
        for section in Section::ALL {
            let Some(mut list) = by_section.remove(&section) else {
                continue;
            };
            list.sort_by(|a, b| b.factors.score.total_cmp(&a.factors.score));
            let (skip, take) = match request.section {
                None => (0, OVERVIEW_SIZE),
                Some(_) => (page * PAGE_SIZE, PAGE_SIZE),
            };
            let more = list.len() > skip + take;
            let mut hits = Vec::new();
            for candidate in list.into_iter().skip(skip).take(take) {
                hits.push(self.hit(searcher, query, read, &candidate, request.explain)?);
            }
            if hits.is_empty() {
                continue;
            }
            sections.push(SectionHits {
                section,
                heading: section.heading(),
                page,
                hits,
                more,
            });
        }
        Ok(sections)
    }

    /// The best `depth` documents by text score, each with its ranking factors.
    fn candidates(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        depth: usize,
        request: &Request<'_>,
    ) -> Result<Vec<Candidate>, SearchError> {
        let top = self.top_by_text(searcher, query, depth, None)?;
        self.scored(searcher, top, None, request)
    }

    /// The best `depth` documents of `query` by text score, of `section` only when one
    /// is given, best first. Segments are read in turn with one threshold, the score a
    /// document must beat to enter, which tantivy uses to skip blocks of documents that
    /// cannot (block-max WAND, for a query that is a disjunction of terms); the section
    /// is checked only for documents that would enter, so a section's page is pruned
    /// like the whole index.
    fn top_by_text(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        depth: usize,
        section: Option<Section>,
    ) -> Result<Vec<(f32, DocAddress)>, SearchError> {
        let weight = query.weight(EnableScoring::enabled_from_searcher(searcher))?;
        let mut best = TopScores::new(depth);
        for (ord, reader) in searcher.segment_readers().iter().enumerate() {
            let segment_ord = u32::try_from(ord)
                .map_err(|_| SearchError::Index("more segments than addresses".to_owned()))?;
            let alive = reader.alive_bitset();
            let sections = match section {
                Some(_) => Some(reader.fast_fields().u64("section")?),
                None => None,
            };
            let wanted = section.map(Section::code);
            weight.for_each_pruning(best.threshold(), reader, &mut |doc, score| {
                let dead = alive.is_some_and(|alive| !alive.is_alive(doc));
                let elsewhere = sections
                    .as_ref()
                    .is_some_and(|column| column.first(doc) != wanted);
                if !dead && !elsewhere {
                    best.offer(score, DocAddress::new(segment_ord, doc));
                }
                best.threshold()
            })?;
        }
        Ok(best.into_sorted())
    }

    /// Each of `top` with its ranking factors; those whose whole name is `exact_name`
    /// (a folded query) have the exact name's constant added to their text score.
    fn scored(
        &self,
        searcher: &Searcher,
        top: Vec<(f32, DocAddress)>,
        exact_name: Option<&str>,
        request: &Request<'_>,
    ) -> Result<Vec<Candidate>, SearchError> {
        let exact_key = exact_name
            .map(crate::index::name_key)
            .filter(|key| *key != 0);
        let mut columns: HashMap<u32, SegmentColumns> = HashMap::new();
        let mut candidates = Vec::with_capacity(top.len());
        for (text, address) in top {
            let columns = match columns.entry(address.segment_ord) {
                std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::hash_map::Entry::Vacant(entry) => {
                    entry.insert(self.columns(searcher, address.segment_ord)?)
                }
            };
            let doc = address.doc_id;
            let Some(section) = columns.section.first(doc).and_then(Section::from_code) else {
                continue;
            };
            let popularity = columns.popularity.first(doc).unwrap_or(0);
            let published = columns.published.first(doc).unwrap_or(0);
            let owner = columns.owner.first(doc).unwrap_or(0);
            let exact = exact_key.is_some() && columns.name_key.first(doc) == exact_key;
            let text = if exact {
                text + query::weight::EXACT_NAME
            } else {
                text
            };
            let in_context = owner != 0 && request.context.owners.contains(&owner);
            let factors = rank::score(
                text,
                section,
                popularity,
                published,
                request.now_ms,
                in_context,
            );
            candidates.push(Candidate {
                address,
                section,
                factors,
                exact,
            });
        }
        Ok(candidates)
    }

    fn columns(&self, searcher: &Searcher, segment: u32) -> Result<SegmentColumns, SearchError> {
        let fast = searcher.segment_reader(segment).fast_fields();
        Ok(SegmentColumns {
            popularity: fast.u64("popularity")?,
            published: fast.i64("published")?,
            owner: fast.u64("owner")?,
            section: fast.u64("section")?,
            name_key: fast.u64("name_key")?,
        })
    }

    fn hit(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        read: &ReadQuery,
        candidate: &Candidate,
        explain: bool,
    ) -> Result<Hit, SearchError> {
        let document = self.stored(searcher, candidate.address)?;
        let highlights = Highlights {
            title: highlight::spans(&self.analyzer, read, &document.title, true),
            body: highlight::spans(&self.analyzer, read, &document.body, false),
        };
        let explanation = if explain {
            Some(self.explanation(searcher, query, read, candidate)?)
        } else {
            None
        };
        Ok(Hit {
            document,
            score: candidate.factors.score,
            highlights,
            explanation,
        })
    }

    fn explanation(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        read: &ReadQuery,
        candidate: &Candidate,
    ) -> Result<serde_json::Value, SearchError> {
        let mut pieces = Vec::new();
        for piece in &read.pieces {
            let piece_query = query::piece_query(&self.fields, &self.analyzer, piece);
            let matched = piece_query.explain(searcher, candidate.address).ok();
            pieces.push(serde_json::json!({
                "piece": piece.text(),
                "kind": match piece { Piece::Han(_) => "han", Piece::Latin(_) => "latin" },
                "score": matched.as_ref().map_or(0.0, tantivy::query::Explanation::value),
                "matched": matched.is_some(),
            }));
        }
        let detail = query
            .explain(searcher, candidate.address)
            .ok()
            .and_then(|e| serde_json::to_value(&e).ok());
        let f = &candidate.factors;
        Ok(serde_json::json!({
            "formula": "score = text × popularity × freshness × context",
            "text": f.text,
            "pieces": pieces,
            "exact_name": candidate.exact.then_some(query::weight::EXACT_NAME),
            "popularity": { "count": f.popularity_count, "factor": f.popularity },
            "freshness": f.freshness,
            "context": f.context,
            "score": f.score,
            "detail": detail,
        }))
    }

    /// The intent card, if the query asks for a service or names a creator, a mini
    /// program, a merchant or a corp exactly. Every check is recorded in `checks`.
    fn intent(
        &self,
        searcher: &Searcher,
        read: &ReadQuery,
        dictionary: &IntentDictionary,
        context: &Context,
        checks: &mut Vec<IntentCheck>,
    ) -> Result<Option<IntentCard>, SearchError> {
        let asked = strip_fillers(&read.folded);
        // A mini program's own keyword counts as typed (快递查询) and without fillers.
        let mut declared: Vec<String> = Vec::new();
        let typed: String = read.folded.split_whitespace().collect();
        for candidate in [typed, asked.clone()] {
            if candidate.is_empty() || declared.contains(&candidate) {
                continue;
            }
            let term = Term::from_field_text(self.fields.service, &candidate);
            if searcher.doc_freq(&term)? > 0 {
                declared.push(candidate);
            }
        }
        match dictionary.recognise(&read.folded, &declared) {
            Some(recognised) => {
                checks.push(IntentCheck {
                    check: "service",
                    result: format!(
                        "“{}” asks for {} ({})",
                        recognised.asked, recognised.service, recognised.how
                    ),
                });
                if let Some(card) = self.serving(searcher, &recognised, dictionary, context)? {
                    checks.push(IntentCheck {
                        check: "serving mini program",
                        result: format!("{} serves it", card.document.card_name()),
                    });
                    return Ok(Some(card));
                }
                checks.push(IntentCheck {
                    check: "serving mini program",
                    result: "no mini program declares this service".to_owned(),
                });
            }
            None => checks.push(IntentCheck {
                check: "service",
                result: format!("“{asked}” is no service of the dictionary or of a mini program"),
            }),
        }
        self.named_intent(searcher, read, context, checks)
    }

    /// The card of a creator, mini program, merchant or corp whose exact name is the
    /// query, in that order.
    fn named_intent(
        &self,
        searcher: &Searcher,
        read: &ReadQuery,
        context: &Context,
        checks: &mut Vec<IntentCheck>,
    ) -> Result<Option<IntentCard>, SearchError> {
        for (section, kind, what) in [
            (Section::Creators, "creator", "a creator"),
            (Section::MiniPrograms, "mini_program", "a mini program"),
            (Section::Merchants, "merchant", "a merchant"),
            (Section::Corps, "corp", "a corp"),
        ] {
            let query = BooleanQuery::new(vec![
                (
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_text(self.fields.name_exact, &exact_name(&read.folded)),
                        IndexRecordOption::Basic,
                    )) as Box<dyn Query>,
                ),
                (Occur::Must, query::section_filter(&self.fields, section)),
            ]);
            let best = self.best(searcher, &query, context)?;
            if let Some(document) = best {
                checks.push(IntentCheck {
                    check: kind,
                    result: format!("the query is the exact name of {what}"),
                });
                return Ok(Some(IntentCard {
                    kind,
                    reason: format!("“{}” is the name of {what}", read.text),
                    service: None,
                    document,
                }));
            }
            checks.push(IntentCheck {
                check: kind,
                result: format!("no {} has this exact name", kind.replace('_', " ")),
            });
        }
        Ok(None)
    }

    /// The mini program service serving `recognised`, looked for in tiers: a service
    /// declared as exactly what was asked, then under the service's name, then under one
    /// of its phrasings. Within a tier, the rest of the query (浙大一院 in 浙大一院挂号)
    /// scores the services by their text, then popularity and the searcher's context.
    fn serving(
        &self,
        searcher: &Searcher,
        recognised: &Recognised,
        dictionary: &IntentDictionary,
        context: &Context,
    ) -> Result<Option<IntentCard>, SearchError> {
        let fold = |text: &str| exact_name(&crate::fold::fold(text));
        let mut tiers: Vec<Vec<String>> = vec![
            vec![fold(&recognised.asked)],
            vec![fold(&recognised.service)],
        ];
        if let Some(entry) = dictionary
            .entries
            .iter()
            .find(|e| e.service == recognised.service)
        {
            tiers.push(entry.phrasings.iter().map(|p| fold(p)).collect());
        }
        for names in &tiers {
            let mut rest = recognised.asked.clone();
            for name in tiers.iter().flatten() {
                rest = rest.replace(name.as_str(), " ");
            }
            let any_name: Vec<(Occur, Box<dyn Query>)> = names
                .iter()
                .map(|name| {
                    (
                        Occur::Should,
                        Box::new(TermQuery::new(
                            Term::from_field_text(self.fields.service, name),
                            IndexRecordOption::Basic,
                        )) as Box<dyn Query>,
                    )
                })
                .collect();
            let mut clauses: Vec<(Occur, Box<dyn Query>)> =
                vec![(Occur::Must, Box::new(BooleanQuery::new(any_name)))];
            for piece in &ReadQuery::read(&rest).pieces {
                clauses.push((
                    Occur::Should,
                    query::piece_query(&self.fields, &self.analyzer, piece),
                ));
            }
            let query = BooleanQuery::new(clauses);
            if let Some(document) = self.best(searcher, &query, context)? {
                return Ok(Some(IntentCard {
                    kind: "service",
                    reason: format!("“{}” asks for {}", recognised.asked, recognised.service),
                    service: Some(recognised.service.clone()),
                    document,
                }));
            }
        }
        Ok(None)
    }

    /// The best of `query`'s matches by the full score (text, popularity, context).
    fn best(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        context: &Context,
    ) -> Result<Option<Document>, SearchError> {
        let request = Request {
            q: "",
            section: None,
            page: 0,
            explain: false,
            context,
            now_ms: 0,
        };
        let candidates = self.candidates(searcher, query, 50, &request)?;
        let best = candidates
            .into_iter()
            .max_by(|a, b| a.factors.score.total_cmp(&b.factors.score));
        best.map(|c| self.stored(searcher, c.address)).transpose()
    }

    /// Names that begin like `q`: by words, by pinyin and by initials.
    ///
    /// # Errors
    ///
    /// [`SearchError::Index`] when the index cannot be read.
    pub fn suggest(&self, q: &str) -> Result<Vec<Suggestion>, SearchError> {
        let read = ReadQuery::read(q);
        let searcher = self.reader.searcher();
        let Some(query) = self.suggest_query(&read) else {
            return Ok(Vec::new());
        };
        let request = Request {
            q,
            section: None,
            page: 0,
            explain: false,
            context: &Context::default(),
            now_ms: 0,
        };
        let mut candidates = self.candidates(&searcher, &query, 40, &request)?;
        candidates.sort_by(|a, b| {
            let key = |c: &Candidate| c.factors.popularity;
            key(b).total_cmp(&key(a))
        });
        let mut suggestions: Vec<Suggestion> = Vec::new();
        for candidate in candidates {
            let document = self.stored(&searcher, candidate.address)?;
            if document.section == Section::Posts {
                continue;
            }
            let text = document.title.trim().to_owned();
            if suggestions.iter().any(|s| s.text == text) {
                continue;
            }
            suggestions.push(Suggestion {
                text,
                section: document.section,
                link: document.link,
            });
            if suggestions.len() == SUGGESTIONS_MAX {
                break;
            }
        }
        Ok(suggestions)
    }

    /// What suggestions match: the last piece as the beginning of a word, a name, its
    /// pinyin or initials; the pieces before it as a search reads them.
    fn suggest_query(&self, read: &ReadQuery) -> Option<BooleanQuery> {
        let last = read.pieces.last()?;
        let f = &self.fields;
        let prefix = |field, text: &str| -> Box<dyn Query> {
            Box::new(FuzzyTermQuery::new_prefix(
                Term::from_field_text(field, text),
                0,
                false,
            ))
        };
        let mut alternatives: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        match last {
            Piece::Han(run) => {
                alternatives.push((Occur::Should, prefix(f.title, run)));
                alternatives.push((Occur::Should, prefix(f.name_exact, &read.folded)));
                if run.chars().count() >= 2 {
                    alternatives.push((Occur::Should, query::piece_query(f, &self.analyzer, last)));
                }
            }
            Piece::Latin(word) => {
                alternatives.push((Occur::Should, prefix(f.title, word)));
                alternatives.push((Occur::Should, prefix(f.name_exact, &read.folded)));
                if word.chars().all(|c| c.is_ascii_lowercase()) {
                    alternatives.push((Occur::Should, prefix(f.name_pinyin, word)));
                    alternatives.push((Occur::Should, prefix(f.pinyin, word)));
                    if word.len() >= 2 {
                        alternatives.push((Occur::Should, prefix(f.name_initials, word)));
                    }
                }
            }
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, Box::new(BooleanQuery::new(alternatives)))];
        for piece in &read.pieces[..read.pieces.len() - 1] {
            clauses.push((Occur::Must, query::piece_query(f, &self.analyzer, piece)));
        }
        Some(BooleanQuery::new(clauses))
    }
}

impl Document {
    /// The name a card shows for it: a service's mini program, else its title.
    #[must_use]
    pub fn card_name(&self) -> String {
        self.card
            .get("app_name")
            .and_then(serde_json::Value::as_str)
            .map_or_else(|| self.title.clone(), str::to_owned)
    }
}
