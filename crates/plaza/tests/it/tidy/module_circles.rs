//! No module circle inside a crate: the top-level modules of each crate (the files and
//! folders under `src/`) must reference each other without a cycle, so each one can be
//! understood, tested and moved with what it uses below it.
//!
//! A reference is a path through the crate root — `crate::x::…`, `super::x::…` that
//! climbs to the root, `$crate::x` in macros, and names the root re-exports from a module
//! (`pub use x::Name;` in `lib.rs`, so `crate::Name` counts as a use of `x`) — in code,
//! not in comments or strings. Test code (`#[cfg(test)]` items) does not count: a test
//! may reach across modules for its fixtures without coupling the code it tests.
//!
//! The scanner is a small lexer over the source text (not a full parser), and the graph
//! logic is pure, so unit tests feed both synthetic inputs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Where one top-level module references another: `file:line`.
pub(crate) type Evidence = String;

/// A crate's module graph: for each referencing top-level module, the ones it references
/// and where.
pub(crate) type Graph = BTreeMap<String, BTreeMap<String, Evidence>>;

/// One source file of a crate: its module path below the crate root (`["pay_v3",
/// "orders"]` for `src/pay_v3/orders.rs`), a name for messages, and its text.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    /// The module path; empty for the crate root.
    pub(crate) module: Vec<String>,
    /// How messages name it (a path relative to the repository).
    pub(crate) name: String,
    /// The source text.
    pub(crate) text: String,
}

/// The circles of a graph: each strongly connected set of two or more modules, sorted,
/// the sets in order.
pub(crate) fn circles(graph: &Graph) -> Vec<Vec<String>> {
    let mut nodes: BTreeSet<&str> = graph.keys().map(String::as_str).collect();
    for targets in graph.values() {
        nodes.extend(targets.keys().map(String::as_str));
    }
    let reaches = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_owned()];
        while let Some(node) = stack.pop() {
            for next in graph.get(&node).into_iter().flat_map(BTreeMap::keys) {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    // A few dozen modules per crate: reachability from each node is cheap and obviously
    // right, which a checker should be.
    let reach: BTreeMap<&str, BTreeSet<String>> =
        nodes.iter().map(|node| (*node, reaches(node))).collect();
    let mut found: BTreeSet<Vec<String>> = BTreeSet::new();
    for &node in &nodes {
        let mut component = Vec::new();
        for &other in &nodes {
            if reach[node].contains(other) && reach[other].contains(node) {
                component.push(other.to_owned());
            }
        }
        if component.len() >= 2 {
            found.insert(component);
        }
    }
    found.into_iter().collect()
}

/// A circle as a walk that shows it, with where each step is written:
/// `a → b (src/a.rs:3) → a (src/b.rs:9)`.
pub(crate) fn describe(graph: &Graph, circle: &[String]) -> String {
    let inside: BTreeSet<&String> = circle.iter().collect();
    // The shortest way back to the start, through the circle's own modules.
    let start = &circle[0];
    let mut previous: BTreeMap<&String, &String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    let mut back = None;
    while let Some(node) = queue.pop_front() {
        for next in graph.get(node).into_iter().flat_map(BTreeMap::keys) {
            if !inside.contains(next) {
                continue;
            }
            if next == start {
                back = Some(node);
                break;
            }
            if !previous.contains_key(next) {
                previous.insert(next, node);
                queue.push_back(next);
            }
        }
        if back.is_some() {
            break;
        }
    }
    let mut walk = vec![start];
    let mut node = back.unwrap_or(start);
    let mut reversed = Vec::new();
    while node != start {
        reversed.push(node);
        node = previous[node];
    }
    walk.extend(reversed.into_iter().rev());
    walk.push(start);
    let mut text = start.clone();
    for pair in walk.windows(2) {
        let evidence = &graph[pair[0]][pair[1]];
        text.push_str(&format!(" → {} ({evidence})", pair[1]));
    }
    text
}

/// How the circles found compare with the ones a list says are known, as sentences: a
/// circle not on the list, and a listed one that is no longer there (so the list only
/// ever shrinks to nothing).
pub(crate) fn compare(
    krate: &str,
    graph: &Graph,
    found: &[Vec<String>],
    known: &[&[&str]],
) -> Vec<String> {
    let known: BTreeSet<Vec<String>> = known
        .iter()
        .map(|circle| {
            let mut circle: Vec<String> = circle.iter().map(|name| (*name).to_owned()).collect();
            circle.sort();
            circle
        })
        .collect();
    let found_set: BTreeSet<Vec<String>> = found.iter().cloned().collect();
    let mut problems = Vec::new();
    for circle in found_set.difference(&known) {
        problems.push(format!(
            "{krate} has a module circle {{{}}}: {}; break it (move what both need below \
             both, or pass it in), or, while it is being removed, list it exactly in \
             KNOWN_CIRCLES",
            circle.join(", "),
            describe(graph, circle)
        ));
    }
    for circle in known.difference(&found_set) {
        problems.push(format!(
            "{krate}'s known circle {{{}}} is gone: delete it from KNOWN_CIRCLES",
            circle.join(", ")
        ));
    }
    problems
}

/// The graph of a crate's top-level modules from its source files. The crate root
/// (`module` empty) is not a node; it only says which names it re-exports from where.
pub(crate) fn graph(files: &[SourceFile]) -> Graph {
    let top_level: BTreeSet<String> = files
        .iter()
        .filter_map(|file| file.module.first().cloned())
        .collect();
    let mut reexports = BTreeMap::new();
    for file in files.iter().filter(|file| file.module.is_empty()) {
        reexports.extend(root_reexports(&tokens(&file.text), &top_level));
    }
    let resolver = Resolver {
        top_level: &top_level,
        reexports: &reexports,
    };
    let mut graph = Graph::new();
    for file in files {
        let Some(own) = file.module.first() else {
            continue;
        };
        for (target, line) in resolver.references(file) {
            if target != *own {
                graph
                    .entry(own.clone())
                    .or_default()
                    .entry(target)
                    .or_insert_with(|| format!("{}:{line}", file.name));
            }
        }
    }
    graph
}

/// The source files of the crate whose root is `root_file` (`src/lib.rs`,
/// `src/main.rs`), with their module paths; names are relative to `repository`.
///
/// # Panics
///
/// When a file cannot be read.
pub(crate) fn crate_files(repository: &Path, root_file: &Path) -> Vec<SourceFile> {
    let source_dir = root_file.parent().expect("a crate root is inside src/");
    let mut found = Vec::new();
    collect(source_dir, &[], &mut found);
    found
        .into_iter()
        .filter_map(|(path, module)| {
            let is_root = path == root_file;
            // Another crate root in the same folder (a second binary) is not a module.
            if module.is_empty() && !is_root {
                return None;
            }
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            let name = path
                .strip_prefix(repository)
                .unwrap_or(&path)
                .display()
                .to_string();
            Some(SourceFile { module, name, text })
        })
        .collect()
}

/// Every `.rs` file under `dir` with the module path it has (`mod.rs` is its folder's
/// module, `lib.rs` and `main.rs` at the top are the root).
fn collect(dir: &Path, module: &[String], found: &mut Vec<(PathBuf, Vec<String>)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .expect("an entry has a name")
            .to_string_lossy()
            .into_owned();
        if path.is_dir() {
            if module.is_empty() && name == "bin" {
                continue;
            }
            let mut inner = module.to_vec();
            inner.push(name);
            collect(&path, &inner, found);
        } else if let Some(stem) = name.strip_suffix(".rs") {
            let mut path_of = module.to_vec();
            let is_root = module.is_empty() && (stem == "lib" || stem == "main");
            if stem != "mod" && !is_root {
                path_of.push(stem.to_owned());
            }
            found.push((path, path_of));
        }
    }
}

/// What a token is, as far as paths are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    PathSep,
    Open(char),
    Close(char),
    Comma,
    Semicolon,
    Pound,
    Star,
    Other,
}

/// The tokens of a source text with their lines, leaving out comments, strings and
/// character literals.
fn tokens(text: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut line = 1;
    let mut index = 0;
    let count_lines = |from: usize, to: usize, line: &mut usize| {
        *line += chars[from..to].iter().filter(|c| **c == '\n').count();
    };
    while index < chars.len() {
        let c = chars[index];
        let next = chars.get(index + 1).copied();
        if c == '\n' {
            line += 1;
            index += 1;
        } else if c.is_whitespace() {
            index += 1;
        } else if c == '/' && next == Some('/') {
            while index < chars.len() && chars[index] != '\n' {
                index += 1;
            }
        } else if c == '/' && next == Some('*') {
            let start = index;
            let mut depth = 0;
            while index < chars.len() {
                if chars[index] == '/' && chars.get(index + 1) == Some(&'*') {
                    depth += 1;
                    index += 2;
                } else if chars[index] == '*' && chars.get(index + 1) == Some(&'/') {
                    depth -= 1;
                    index += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    index += 1;
                }
            }
            count_lines(start, index, &mut line);
        } else if c == '"' {
            let start = index;
            index = skip_string(&chars, index + 1, 0);
            count_lines(start, index, &mut line);
        } else if c == '\'' {
            index = skip_char_or_lifetime(&chars, index);
        } else if c.is_alphabetic() || c == '_' {
            let start = index;
            while index < chars.len() && (chars[index].is_alphanumeric() || chars[index] == '_') {
                index += 1;
            }
            let word: String = chars[start..index].iter().collect();
            if let Some(end) = raw_or_byte_string(&chars, &word, index) {
                count_lines(index, end, &mut line);
                index = end;
                found.push((Token::Other, line));
            } else if word == "r" && chars.get(index) == Some(&'#') {
                // A raw identifier, `r#type`: the identifier follows.
                index += 1;
            } else {
                found.push((Token::Ident(word), line));
            }
        } else if c.is_ascii_digit() {
            while index < chars.len() && (chars[index].is_alphanumeric() || chars[index] == '_') {
                index += 1;
            }
            found.push((Token::Other, line));
        } else {
            let token = match c {
                ':' if next == Some(':') => {
                    index += 1;
                    Token::PathSep
                }
                // `$crate` reads as `crate`: the `$` is dropped.
                '$' => {
                    index += 1;
                    continue;
                }
                '(' | '[' | '{' => Token::Open(c),
                ')' | ']' | '}' => Token::Close(c),
                ',' => Token::Comma,
                ';' => Token::Semicolon,
                '#' => Token::Pound,
                '*' => Token::Star,
                _ => Token::Other,
            };
            found.push((token, line));
            index += 1;
        }
    }
    found
}

/// The index after a string whose opening quote ends before `index`, closed by a quote
/// and `hashes` `#`s (escapes count only in ordinary strings).
fn skip_string(chars: &[char], mut index: usize, hashes: usize) -> usize {
    while index < chars.len() {
        if hashes == 0 && chars[index] == '\\' {
            index += 2;
            continue;
        }
        if chars[index] == '"'
            && (0..hashes).all(|offset| chars.get(index + 1 + offset) == Some(&'#'))
        {
            return index + 1 + hashes;
        }
        index += 1;
    }
    index
}

/// The end of a `b"…"`, `r"…"`, `r#"…"#`, `br#"…"#` or `c"…"` literal whose prefix
/// `word` ends before `index`, if it is one.
fn raw_or_byte_string(chars: &[char], word: &str, index: usize) -> Option<usize> {
    if !matches!(word, "b" | "r" | "br" | "c" | "cr") {
        return None;
    }
    let raw = word.contains('r');
    let mut hashes = 0;
    while raw && chars.get(index + hashes) == Some(&'#') {
        hashes += 1;
    }
    if chars.get(index + hashes) != Some(&'"') {
        return None;
    }
    Some(skip_string(
        chars,
        index + hashes + 1,
        if raw { hashes } else { 0 },
    ))
}

/// The index after a character literal (`'a'`, `'\n'`, `'\u{1F600}'`) or a lifetime's
/// quote (`'a` in `&'a str`, whose name is then read as an identifier).
fn skip_char_or_lifetime(chars: &[char], index: usize) -> usize {
    if chars.get(index + 1) == Some(&'\\') {
        // The escaped character is at `index + 2`; the closing quote comes after it.
        let mut end = index + 3;
        while end < chars.len() && chars[end] != '\'' {
            end += 1;
        }
        return end + 1;
    }
    if chars.get(index + 2) == Some(&'\'') {
        return index + 3;
    }
    index + 1
}

/// The names the crate root brings in from its top-level modules with `use`
/// (`pub use model::{Order, Refund as PayRefund};`), each with the module it comes from.
fn root_reexports(
    tokens: &[(Token, usize)],
    top_level: &BTreeSet<String>,
) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut depth = 0_usize;
    let mut index = 0;
    while index < tokens.len() {
        match &tokens[index].0 {
            Token::Open(_) => depth += 1,
            Token::Close(_) => depth = depth.saturating_sub(1),
            Token::Ident(word) if word == "use" && depth == 0 => {
                let mut leaves = Vec::new();
                index = use_tree(tokens, index + 1, &mut Vec::new(), &mut leaves);
                for (path, name) in leaves {
                    let path: Vec<&String> = path
                        .iter()
                        .skip_while(|segment| *segment == "crate" || *segment == "self")
                        .collect();
                    if let Some(module) = path.first().filter(|module| top_level.contains(**module))
                    {
                        found.insert(name, (*module).clone());
                    }
                }
                continue;
            }
            _ => {}
        }
        index += 1;
    }
    found
}

/// Reads a use tree starting at `index` (after `use` or inside a group) under `prefix`;
/// pushes each leaf's full path and the name it is visible as. Returns the index after
/// the tree (at the `,`, `}` or `;` that ends it).
fn use_tree(
    tokens: &[(Token, usize)],
    mut index: usize,
    prefix: &mut Vec<String>,
    leaves: &mut Vec<(Vec<String>, String)>,
) -> usize {
    let depth_at_start = prefix.len();
    loop {
        match tokens.get(index).map(|(token, _)| token) {
            Some(Token::Ident(word)) if word == "as" => {
                if let Some(Token::Ident(alias)) = tokens.get(index + 1).map(|(token, _)| token)
                    && let Some(last) = leaves.last_mut()
                {
                    last.1 = alias.clone();
                }
                index += 2;
            }
            Some(Token::Ident(word)) => {
                prefix.push(word.clone());
                index += 1;
                if tokens.get(index).map(|(token, _)| token) != Some(&Token::PathSep) {
                    let name = if word == "self" {
                        prefix
                            .get(prefix.len().wrapping_sub(2))
                            .cloned()
                            .unwrap_or_default()
                    } else {
                        word.clone()
                    };
                    leaves.push((prefix.clone(), name));
                }
            }
            Some(Token::PathSep) => index += 1,
            Some(Token::Open('{')) => {
                index += 1;
                loop {
                    let mut inner = prefix.clone();
                    index = use_tree(tokens, index, &mut inner, leaves);
                    match tokens.get(index).map(|(token, _)| token) {
                        Some(Token::Comma) => index += 1,
                        Some(Token::Close('}')) => {
                            index += 1;
                            break;
                        }
                        _ => break,
                    }
                    if tokens.get(index).map(|(token, _)| token) == Some(&Token::Close('}')) {
                        index += 1;
                        break;
                    }
                }
            }
            Some(Token::Star) => index += 1,
            _ => break,
        }
    }
    prefix.truncate(depth_at_start);
    index
}

/// Resolves paths in a crate's files to its top-level modules.
struct Resolver<'a> {
    top_level: &'a BTreeSet<String>,
    reexports: &'a BTreeMap<String, String>,
}

impl Resolver<'_> {
    /// The top-level modules `file` references outside its test code, with the line of
    /// each reference.
    fn references(&self, file: &SourceFile) -> Vec<(String, usize)> {
        let tokens = tokens(&file.text);
        let mut found = Vec::new();
        // The inline modules we are in: the module path and the depth their body opens at.
        let mut inline: Vec<(String, usize)> = Vec::new();
        let mut depth = 0_usize;
        let mut index = 0;
        while index < tokens.len() {
            let (token, line) = &tokens[index];
            match token {
                Token::Pound if is_cfg_test(&tokens, index) => {
                    index = skip_item(&tokens, skip_attribute(&tokens, index));
                    continue;
                }
                Token::Open(_) => depth += 1,
                Token::Close(_) => {
                    depth = depth.saturating_sub(1);
                    if inline.last().is_some_and(|(_, opened)| *opened == depth) {
                        inline.pop();
                    }
                }
                Token::Ident(word) if word == "mod" => {
                    if let (Some((Token::Ident(name), _)), Some((Token::Open('{'), _))) =
                        (tokens.get(index + 1), tokens.get(index + 2))
                    {
                        inline.push((name.clone(), depth));
                    }
                }
                Token::Ident(word) if word == "crate" || word == "super" => {
                    let mut module = file.module.clone();
                    module.extend(inline.iter().map(|(name, _)| name.clone()));
                    let (base, after) = if word == "crate" {
                        (Some(Vec::new()), index + 1)
                    } else {
                        climb(&tokens, index, module)
                    };
                    if let Some(base) = base
                        && tokens.get(after).map(|(token, _)| token) == Some(&Token::PathSep)
                    {
                        for name in first_segments(&tokens, after + 1) {
                            if let Some(target) = self.target(&base, &name) {
                                found.push((target, *line));
                            }
                        }
                    }
                }
                _ => {}
            }
            index += 1;
        }
        found
    }

    /// The top-level module that `name` under module `base` belongs to, if any.
    fn target(&self, base: &[String], name: &str) -> Option<String> {
        match base.first() {
            Some(module) => Some(module.clone()),
            None if self.top_level.contains(name) => Some(name.to_owned()),
            None => self.reexports.get(name).cloned(),
        }
    }
}

/// Follows `super::super::…` from the `super` at `index` in `module`: the module it
/// reaches (`None` above the root) and the index after the last `super`.
fn climb(
    tokens: &[(Token, usize)],
    mut index: usize,
    mut module: Vec<String>,
) -> (Option<Vec<String>>, usize) {
    loop {
        if module.pop().is_none() {
            return (None, index + 1);
        }
        let more = tokens.get(index + 1).map(|(token, _)| token) == Some(&Token::PathSep)
            && matches!(tokens.get(index + 2), Some((Token::Ident(word), _)) if word == "super");
        if !more {
            return (Some(module), index + 1);
        }
        index += 2;
    }
}

/// The first names of the path or group starting at `index` (after a `::`): `x` for
/// `x::y`, and `a`, `b` for `{a::y, b}`.
fn first_segments(tokens: &[(Token, usize)], index: usize) -> Vec<String> {
    match tokens.get(index).map(|(token, _)| token) {
        Some(Token::Ident(word)) if word != "self" => vec![word.clone()],
        Some(Token::Open('{')) => {
            let mut names = Vec::new();
            let mut depth = 0_usize;
            let mut at_start = true;
            for (token, _) in &tokens[index..] {
                match token {
                    Token::Open(_) => {
                        depth += 1;
                        at_start = depth == 1;
                    }
                    Token::Close(_) => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    Token::Comma if depth == 1 => at_start = true,
                    Token::Ident(word) if at_start && depth == 1 => {
                        if word != "self" {
                            names.push(word.clone());
                        }
                        at_start = false;
                    }
                    _ => at_start = false,
                }
            }
            names
        }
        _ => Vec::new(),
    }
}

/// Whether the `#` at `index` starts `#[cfg(test)]` (or another `cfg` that needs `test`).
fn is_cfg_test(tokens: &[(Token, usize)], index: usize) -> bool {
    let end = skip_attribute(tokens, index);
    let inside: Vec<&Token> = tokens[index..end].iter().map(|(token, _)| token).collect();
    let ident = |name: &str| {
        inside
            .iter()
            .any(|token| **token == Token::Ident(name.to_owned()))
    };
    matches!(inside.get(2), Some(Token::Ident(word)) if word == "cfg")
        && ident("test")
        && !ident("not")
}

/// The index after the attribute `#[…]` (or `#![…]`) at `index`.
fn skip_attribute(tokens: &[(Token, usize)], index: usize) -> usize {
    let mut depth = 0_usize;
    for (offset, (token, _)) in tokens[index..].iter().enumerate() {
        match token {
            Token::Open(_) => depth += 1,
            Token::Close(_) => {
                depth -= 1;
                if depth == 0 {
                    return index + offset + 1;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

/// The index after the item starting at `index`: its `;`, or the end of its first
/// `{…}` block, with any further attributes skipped first.
fn skip_item(tokens: &[(Token, usize)], mut index: usize) -> usize {
    while tokens.get(index).map(|(token, _)| token) == Some(&Token::Pound) {
        index = skip_attribute(tokens, index);
    }
    let mut depth = 0_usize;
    while index < tokens.len() {
        match &tokens[index].0 {
            Token::Semicolon if depth == 0 => return index + 1,
            Token::Open(_) => depth += 1,
            Token::Close(bracket) => {
                depth = depth.saturating_sub(1);
                if depth == 0 && *bracket == '}' {
                    return index + 1;
                }
            }
            _ => {}
        }
        index += 1;
    }
    index
}

mod tests {
    use super::*;

    fn file(module: &[&str], text: &str) -> SourceFile {
        SourceFile {
            module: module.iter().map(|segment| (*segment).to_owned()).collect(),
            name: format!("src/{}.rs", module.join("/")),
            text: text.to_owned(),
        }
    }

    fn edges(graph: &Graph) -> Vec<(String, String)> {
        graph
            .iter()
            .flat_map(|(from, targets)| targets.keys().map(move |to| (from.clone(), to.clone())))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(from, to)| ((*from).to_owned(), (*to).to_owned()))
            .collect()
    }

    #[test]
    fn paths_through_the_root_are_edges_and_comments_strings_and_tests_are_not() {
        let files = [
            file(
                &[],
                "mod a; mod b; mod c; mod d;\npub use d::Thing;\npub use c::{self as sea};",
            ),
            file(
                &["a"],
                "//! Uses b.\nuse crate::b::Helper;\n// crate::c::Nothing\n\
                 const TEXT: &str = \"crate::c::Nothing\";\nconst RAW: &str = r#\"crate::c\"#;\n\
                 fn f<'a>(x: &'a str) -> char { let _ = crate::Thing::new(); 'c' }\n\
                 #[cfg(test)]\nmod tests { use crate::c::Fixture; }",
            ),
            file(
                &["b"],
                "use super::{c::One, a};\nfn g() { super::super::x(); }",
            ),
            file(
                &["c", "inner"],
                "use super::sibling; use super::super::d::Deep;",
            ),
            file(
                &["d"],
                "macro_rules! m { () => { $crate::a::f() }; }\nmod nested { use super::super::b::B; }",
            ),
        ];
        assert_eq!(
            edges(&graph(&files)),
            pairs(&[
                ("a", "b"),
                ("a", "d"),
                ("b", "a"),
                ("b", "c"),
                ("c", "d"),
                ("d", "a"),
                ("d", "b")
            ])
        );
    }

    #[test]
    fn a_circle_is_found_named_and_shown_with_where_each_step_is_written() {
        let files = [
            file(&["model"], "use crate::service::Service;"),
            file(&["service"], "use crate::coupons::Coupons;"),
            file(&["coupons"], "fn f() { crate::model::Order::new(); }"),
            file(&["money"], "use crate::model::Order;"),
        ];
        let graph = graph(&files);
        let found = circles(&graph);
        assert_eq!(found, [["coupons", "model", "service"]]);
        assert_eq!(
            describe(&graph, &found[0]),
            "coupons → model (src/coupons.rs:1) → service (src/model.rs:1) → coupons (src/service.rs:1)"
        );
    }

    #[test]
    fn a_graph_without_cycles_has_no_circles() {
        let files = [
            file(&["a"], "use crate::b::B; use crate::c::C;"),
            file(&["b"], "use crate::c::C;"),
            file(&["c"], "pub struct C;"),
        ];
        assert_eq!(circles(&graph(&files)), Vec::<Vec<String>>::new());
    }

    #[test]
    fn the_known_list_must_match_exactly() {
        let files = [
            file(&["a"], "use crate::b::B;"),
            file(&["b"], "use crate::a::A;"),
            file(&["c"], "use crate::d::D;"),
            file(&["d"], "use crate::c::C;"),
        ];
        let graph = graph(&files);
        let found = circles(&graph);
        assert_eq!(
            compare("demo", &graph, &found, &[&["b", "a"], &["c", "d"]]),
            Vec::<String>::new()
        );
        let problems = compare("demo", &graph, &found, &[&["a", "b"], &["e", "f"]]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with(
                "demo has a module circle {c, d}: c → d (src/c.rs:1) → c (src/d.rs:1)"
            ),
            "{problems:?}"
        );
        assert_eq!(
            problems[1],
            "demo's known circle {e, f} is gone: delete it from KNOWN_CIRCLES"
        );
    }
}
