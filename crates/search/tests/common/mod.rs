//! What the search crate's tests share: a post, and a search by no one in particular.

use plaza_search::{
    Answer, Context, Document, IntentDictionary, Request, SearchError, SearchIndex, Section,
};

/// A post with `title` and `body`, and nothing else of note.
pub fn post(id: &str, title: &str, body: &str) -> Document {
    Document {
        section: Section::Posts,
        id: id.to_owned(),
        title: title.to_owned(),
        body: body.to_owned(),
        keywords: Vec::new(),
        popularity: 0,
        published_at_ms: None,
        owner: String::new(),
        link: format!("/app/posts/{id}"),
        card: serde_json::Map::new(),
    }
}

/// `q` searched in `section` (all when `None`), by no one in particular.
pub fn search(
    index: &SearchIndex,
    q: &str,
    section: Option<Section>,
    explain: bool,
) -> Result<Answer, SearchError> {
    index.search(
        &Request {
            q,
            section,
            page: 0,
            explain,
            context: &Context::default(),
            now_ms: 0,
        },
        &IntentDictionary::starter(),
    )
}
