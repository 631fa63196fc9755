//! The tantivy index: its fields, how a document becomes them, and the one writer.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tantivy::directory::MmapDirectory;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};

use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::analyze::{self, Analyzer, Span};
use crate::document::{Document, Section};
use crate::error::SearchError;
use crate::fold::fold;
use crate::tokens::{self, JoinedTokenizer, Tokens};

/// Bumped whenever fields or analysis change: an index of another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 7;
/// The file in the index directory naming its schema version.
const VERSION_FILE: &str = "plaza-search-version";
/// The writer's memory per thread, at most (tantivy's floor is 15 MB): a segment is
/// written out when its thread's share is full. Updates between commits use a little
/// of it; a reindex all of it. Against 64 MB, 128 MB made half as many segments to
/// write and merge, and indexing about a tenth faster; 256 MB was no faster again.
const WRITER_HEAP_BYTES: usize = 128 * 1024 * 1024;

/// The index's fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub key: Field,
    pub section: Field,
    pub title: Field,
    pub keywords: Field,
    /// Every word of the title, keywords and text but those of two Han characters,
    /// which are grams ([`analyze::is_gram`]): where all of a query's words are looked
    /// for together.
    pub words: Field,
    pub title_grams: Field,
    pub body_grams: Field,
    pub title_chars: Field,
    pub typo_names: Field,
    pub typo_body: Field,
    pub pinyin: Field,
    pub initials: Field,
    pub name_pinyin: Field,
    pub name_initials: Field,
    pub name_exact: Field,
    pub name_key: Field,
    pub service: Field,
    pub service_of: Field,
    pub popularity: Field,
    pub published: Field,
    pub owner: Field,
    pub stored: Field,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = |record: IndexRecordOption| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokens::TOKENIZER)
                .set_index_option(record)
                .set_fieldnorms(record != IndexRecordOption::Basic),
        )
    };
    let freqs = IndexRecordOption::WithFreqs;
    // Fields only ever matched by prefix or with a typo: such matches score a constant,
    // so neither how often a token occurs nor the field's length is kept.
    let matched = IndexRecordOption::Basic;
    let fields = Fields {
        key: builder.add_text_field("key", STRING),
        section: builder.add_u64_field("section", INDEXED | FAST),
        title: builder.add_text_field("title", text(freqs)),
        keywords: builder.add_text_field("keywords", text(freqs)),
        words: builder.add_text_field("words", text(freqs)),
        title_grams: builder.add_text_field("title_grams", text(freqs)),
        body_grams: builder.add_text_field("body_grams", text(freqs)),
        title_chars: builder.add_text_field("title_chars", text(freqs)),
        typo_names: builder.add_text_field("typo_names", text(matched)),
        typo_body: builder.add_text_field("typo_body", text(matched)),
        pinyin: builder.add_text_field("pinyin", text(freqs)),
        initials: builder.add_text_field("initials", text(freqs)),
        name_pinyin: builder.add_text_field("name_pinyin", text(matched)),
        name_initials: builder.add_text_field("name_initials", text(matched)),
        name_exact: builder.add_text_field("name_exact", STRING),
        name_key: builder.add_u64_field("name_key", FAST),
        service: builder.add_text_field("service", STRING),
        service_of: builder.add_text_field("service_of", STRING),
        popularity: builder.add_u64_field("popularity", FAST),
        published: builder.add_i64_field("published", FAST),
        owner: builder.add_u64_field("owner", FAST),
        stored: builder.add_text_field("doc", STORED),
    };
    (builder.build(), fields)
}

/// A document turned into the index's fields ([`SearchIndex::prepare`]), ready to add.
///
/// It is tantivy's own document, which the writer takes as it is: any other kind is
/// copied into one on the writer's thread. Analysed fields hold their tokens joined
/// ([`Tokens`]), which the index's [`JoinedTokenizer`] splits again.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    document: TantivyDocument,
    tokens: usize,
}

impl Prepared {
    fn text(&mut self, field: Field, text: &str) {
        self.document.add_text(field, text);
    }

    fn tokens(&mut self, field: Field, tokens: &Tokens) {
        self.tokens += tokens.len();
        self.document.add_text(field, tokens.joined());
    }

    fn u64(&mut self, field: Field, value: u64) {
        self.document.add_u64(field, value);
    }

    fn i64(&mut self, field: Field, value: i64) {
        self.document.add_i64(field, value);
    }

    /// How many tokens its analysed fields hold: what indexing pays for, one by one.
    #[must_use]
    pub fn token_count(&self) -> usize {
        self.tokens
    }
}

/// What opening found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// The index on disk, as it was.
    Existing,
    /// A new empty index: the reason is why (none there, unreadable, another version).
    /// The caller rebuilds it from the database.
    Fresh(String),
}

/// The search index: a reader reloaded after each commit and one writer.
pub struct SearchIndex {
    pub(crate) reader: IndexReader,
    writer: Mutex<IndexWriter>,
    pub(crate) fields: Fields,
    pub(crate) analyzer: Analyzer,
    dir: Option<PathBuf>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl SearchIndex {
    /// An index in memory (tests and measurements).
    ///
    /// # Errors
    ///
    /// [`SearchError::Index`] when tantivy cannot make its writer.
    pub fn in_memory(analyzer: Analyzer, writer_threads: usize) -> Result<Self, SearchError> {
        let (schema, fields) = schema();
        let index = Index::create_in_ram(schema);
        Self::with_index(index, fields, analyzer, None, writer_threads)
    }

    /// Opens the index in `dir`, or makes a new one there when it is missing, cannot be
    /// read, or was written by another schema version.
    ///
    /// # Errors
    ///
    /// [`SearchError::Index`] when even a new index cannot be made there.
    pub fn open(
        dir: &Path,
        analyzer: Analyzer,
        writer_threads: usize,
    ) -> Result<(Self, Opened), SearchError> {
        let (schema, fields) = schema();
        let version = std::fs::read_to_string(dir.join(VERSION_FILE)).ok();
        let existing = match version.as_deref().map(str::trim) {
            Some(v) if v == SCHEMA_VERSION.to_string() => Index::open_in_dir(dir)
                .map_err(|error| format!("the index could not be read: {error}"))
                .and_then(|index| {
                    if index.schema() == schema {
                        Ok(index)
                    } else {
                        Err("the index's fields differ from this version's".to_owned())
                    }
                }),
            Some(other) => Err(format!("the index has schema version {other}")),
            None if dir.exists() => Err("the index has no version file".to_owned()),
            None => Err("there was no index".to_owned()),
        };
        let (index, opened) = match existing {
            Ok(index) => (index, Opened::Existing),
            Err(reason) => {
                if dir.exists() {
                    std::fs::remove_dir_all(dir).map_err(|error| SearchError::io(dir, &error))?;
                }
                std::fs::create_dir_all(dir).map_err(|error| SearchError::io(dir, &error))?;
                let directory = MmapDirectory::open(dir)?;
                let index = Index::create(directory, schema, tantivy::IndexSettings::default())?;
                std::fs::write(dir.join(VERSION_FILE), SCHEMA_VERSION.to_string())
                    .map_err(|error| SearchError::io(dir, &error))?;
                (index, Opened::Fresh(reason))
            }
        };
        let search = Self::with_index(
            index,
            fields,
            analyzer,
            Some(dir.to_owned()),
            writer_threads,
        )?;
        Ok((search, opened))
    }

    fn with_index(
        index: Index,
        fields: Fields,
        analyzer: Analyzer,
        dir: Option<PathBuf>,
        writer_threads: usize,
    ) -> Result<Self, SearchError> {
        // The analysed fields' tokens arrive joined; tantivy reads them with this.
        index.tokenizers().register(
            tokens::TOKENIZER,
            TextAnalyzer::from(JoinedTokenizer::default()),
        );
        let threads = writer_threads.max(1);
        let writer = index.writer_with_num_threads(threads, WRITER_HEAP_BYTES * threads)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            reader,
            writer: Mutex::new(writer),
            fields,
            analyzer,
            dir,
        })
    }

    /// The analyzer this index reads text with.
    #[must_use]
    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// Closes the index once the merges its writer started have finished (after a bulk
    /// load, before measuring anything else).
    ///
    /// # Errors
    ///
    /// [`SearchError::Index`] when a merge failed or the writer was poisoned.
    pub fn wait_for_merges(self) -> Result<(), SearchError> {
        let writer = self.writer.into_inner().map_err(|_| {
            SearchError::Index("the index writer was poisoned by a panic".to_owned())
        })?;
        writer.wait_merging_threads()?;
        Ok(())
    }

    /// Turns `document` into the index's fields: all analysis happens here, so callers
    /// may prepare documents on several threads before [`SearchIndex::add_prepared`].
    ///
    /// # Errors
    ///
    /// [`SearchError::Document`] when the document cannot be stored as JSON.
    pub fn prepare(&self, document: &Document) -> Result<Prepared, SearchError> {
        let f = &self.fields;
        let mut doc = Prepared::default();
        doc.text(f.key, &document.key());
        doc.u64(f.section, document.section.code());
        let title = fold(document.title.trim());
        let body = fold(&document.body);
        let keywords = fold(&document.keywords.join(" | "));
        let analyzer = &self.analyzer;
        let title_words = analyzer.words(&title);
        let keyword_words = analyzer.words(&keywords);
        let named_words = || {
            title_words
                .iter()
                .chain(&keyword_words)
                .map(|w| w.text.as_str())
        };
        // Keywords are a title's extension for substrings and pinyin alike; a gap
        // between the two keeps grams from spanning them.
        let named = format!("{title} | {keywords}");
        let (mut full, mut initials) = (Tokens::default(), Tokens::default());
        analyze::spell_words(named_words(), &mut full, &mut initials);
        doc.tokens(f.pinyin, &full);
        doc.tokens(f.initials, &initials);
        // Typos are looked for among letter words only, whose dictionary is small.
        doc.tokens(
            f.typo_names,
            &named_words().filter(|word| is_typo_word(word)).collect(),
        );
        // A word of two Han characters is a gram, already a term of the grams fields.
        let mut words: Tokens = named_words()
            .filter(|word| !analyze::is_gram(word))
            .collect();
        let mut typo_body = Tokens::default();
        analyzer.for_each_word(&body, |word| {
            if !analyze::is_gram(word) {
                words.push(word);
            }
            if is_typo_word(word) {
                typo_body.push(word);
            }
        });
        doc.tokens(f.words, &words);
        doc.tokens(f.typo_body, &typo_body);
        doc.tokens(f.title_grams, &analyze::grams(&named));
        doc.tokens(f.body_grams, &analyze::grams(&body));
        doc.tokens(f.title_chars, &analyze::han_chars(&title));
        let (full, initials) = analyze::pinyin_runs(&title, &title_words);
        doc.tokens(f.name_pinyin, &full);
        doc.tokens(f.name_initials, &initials);
        let texts = |words: &[Span]| words.iter().map(|word| word.text.as_str()).collect();
        doc.tokens(f.title, &texts(&title_words));
        doc.tokens(f.keywords, &texts(&keyword_words));
        let exact = exact_name(&title);
        doc.u64(f.name_key, name_key(&exact));
        if document.section == Section::Services {
            doc.text(f.service, &exact);
            doc.text(f.service_of, &document.owner);
        }
        doc.text(f.name_exact, &exact);
        doc.u64(f.popularity, document.popularity);
        doc.i64(f.published, document.published_at_ms.unwrap_or(0));
        doc.u64(f.owner, owner_hash(&document.owner));
        let json = serde_json::to_string(document).map_err(SearchError::document)?;
        doc.text(f.stored, &json);
        Ok(doc)
    }

    /// Adds a prepared document without removing an earlier one of the same key (bulk
    /// loading into an empty index).
    ///
    /// # Errors
    ///
    /// [`SearchError::Index`] when tantivy refuses it.
    pub fn add_prepared(&self, doc: Prepared) -> Result<(), SearchError> {
        self.writer()?.add_document(doc.document)?;
        Ok(())
    }

    /// Puts `document` in the index in place of any earlier one with its key. Visible
    /// after the next [`SearchIndex::commit`].
    ///
    /// # Errors
    ///
    /// [`SearchError`] when it cannot be prepared or written.
    pub fn upsert(&self, document: &Document) -> Result<(), SearchError> {
        let prepared = self.prepare(document)?;
        let writer = self.writer()?;
        writer.delete_term(Term::from_field_text(self.fields.key, &document.key()));
        writer.add_document(prepared.document)?;
        Ok(())
    }

    /// The document with `key` as searches now see it (written but uncommitted changes
    /// not included).
    ///
    /// # Errors
    ///
    /// [`SearchError`] when the index cannot be read.
    pub fn document(&self, key: &str) -> Result<Option<Document>, SearchError> {
        let searcher = self.reader.searcher();
        let query = tantivy::query::TermQuery::new(
            Term::from_field_text(self.fields.key, key),
            IndexRecordOption::Basic,
        );
        let top = searcher.search(
            &query,
            &tantivy::collector::TopDocs::with_limit(1).order_by_score(),
        )?;
        top.first()
            .map(|(_, address)| self.stored(&searcher, *address))
            .transpose()
    }

    /// Puts `document` in place like [`SearchIndex::upsert`], keeping the popularity
    /// the index knows when the document comes without one: producers' events describe
    /// a thing, and its popularity is refreshed apart ([`SearchIndex::set_popularity`]).
    ///
    /// # Errors
    ///
    /// [`SearchError`] when it cannot be read, prepared or written.
    pub fn upsert_keeping_popularity(&self, document: &Document) -> Result<(), SearchError> {
        if document.popularity == 0
            && let Some(known) = self.document(&document.key())?
            && known.popularity > 0
        {
            let mut document = document.clone();
            document.popularity = known.popularity;
            return self.upsert(&document);
        }
        self.upsert(document)
    }

    /// Sets the popularity of the document with `key`, if there is one and it differs;
    /// whether it changed. Visible after the next commit.
    ///
    /// # Errors
    ///
    /// [`SearchError`] when it cannot be read or written.
    pub fn set_popularity(&self, key: &str, popularity: u64) -> Result<bool, SearchError> {
        match self.document(key)? {
            Some(mut document) if document.popularity != popularity => {
                document.popularity = popularity;
                self.upsert(&document)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Removes the document with `key`. Visible after the next commit.
    ///
    /// # Errors
    ///
    /// [`SearchError::Index`] when the writer is unusable.
    pub fn delete(&self, key: &str) -> Result<(), SearchError> {
        self.writer()?
            .delete_term(Term::from_field_text(self.fields.key, key));
        Ok(())
    }

    /// Removes the services mini program `appid` declared. Visible after the next
    /// commit.
    ///
    /// # Errors
    ///
    /// [`SearchError::Index`] when the writer is unusable.
    pub fn delete_services_of(&self, appid: &str) -> Result<(), SearchError> {
        self.writer()?
            .delete_term(Term::from_field_text(self.fields.service_of, appid));
        Ok(())
    }

    /// Applies `change`. Visible after the next commit.
    ///
    /// # Errors
    ///
    /// [`SearchError`] when it cannot be written.
    pub fn apply(&self, change: &crate::events::Change) -> Result<(), SearchError> {
        match change {
            crate::events::Change::Upsert(document) => self.upsert_keeping_popularity(document),
            crate::events::Change::Delete(key) => self.delete(key),
            crate::events::Change::DeleteServicesOf(appid) => self.delete_services_of(appid),
        }
    }

    /// Removes every document. Visible after the next commit.
    ///
    /// # Errors
    ///
    /// [`SearchError::Index`] when tantivy refuses.
    pub fn clear(&self) -> Result<(), SearchError> {
        self.writer()?.delete_all_documents()?;
        Ok(())
    }

    /// Makes everything written so far durable and visible to searches.
    ///
    /// # Errors
    ///
    /// [`SearchError::Index`] when tantivy cannot commit.
    pub fn commit(&self) -> Result<(), SearchError> {
        self.writer()?.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Which commit searches see: it changes whenever what they find may have.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.reader.searcher().generation().generation_id()
    }

    /// How many documents searches see.
    #[must_use]
    pub fn document_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The index's size on disk, in bytes (0 in memory).
    #[must_use]
    pub fn bytes_on_disk(&self) -> u64 {
        let Some(dir) = &self.dir else { return 0 };
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|entry| entry.metadata().ok())
                    .filter(std::fs::Metadata::is_file)
                    .map(|meta| meta.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// The stored document at `address`.
    pub(crate) fn stored(
        &self,
        searcher: &tantivy::Searcher,
        address: DocAddress,
    ) -> Result<Document, SearchError> {
        let doc: TantivyDocument = searcher.doc(address)?;
        let json = doc
            .get_first(self.fields.stored)
            .and_then(|value| value.as_str())
            .ok_or_else(|| SearchError::Document("a stored document has no body".to_owned()))?;
        serde_json::from_str(json).map_err(SearchError::document)
    }

    fn writer(&self) -> Result<std::sync::MutexGuard<'_, IndexWriter>, SearchError> {
        self.writer
            .lock()
            .map_err(|_| SearchError::Index("the index writer was poisoned by a panic".to_owned()))
    }
}

/// Whether `word` is all ASCII letters and long enough to be matched with a typo
/// ([`analyze::TYPO_MIN_LETTERS`]).
fn is_typo_word(word: &str) -> bool {
    word.len() >= analyze::TYPO_MIN_LETTERS && word.bytes().all(|b| b.is_ascii_lowercase())
}

/// A name as exact matching sees it: folded, spaces collapsed.
#[must_use]
pub fn exact_name(folded: &str) -> String {
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A stable 64-bit hash of an exact name ([`exact_name`]), kept as a fast field so a
/// candidate's name is compared with the query without reading its stored document;
/// 0 for no name.
#[must_use]
pub fn name_key(exact: &str) -> u64 {
    owner_hash(exact)
}

/// A stable 64-bit hash of an owner id (FNV-1a), kept as a fast field so the searcher's
/// context is compared without reading stored documents. Stable across builds, unlike
/// the standard library's hasher; 0 means no owner.
#[must_use]
pub fn owner_hash(owner: &str) -> u64 {
    if owner.is_empty() {
        return 0;
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in owner.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash.max(1)
}
