//! Captions: topics (`#话题`) and mentions (`@名字`) read out of the text.

/// The longest caption, in characters.
pub const CAPTION_CHARS_MAX: usize = 1_000;
/// Topics a caption may name.
pub const TOPICS_MAX: usize = 10;
/// The longest topic, in characters.
const TOPIC_CHARS_MAX: usize = 32;

/// Whether `c` may be part of a topic or a mentioned name: letters (any script, so
/// Chinese), digits, `_`, `-` and `·`.
fn word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '·')
}

/// The words following `marker` in `text`, in order, each once (compared
/// case-insensitively), at most `TOPIC_CHARS_MAX` characters each.
fn marked(text: &str, marker: char) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != marker {
            continue;
        }
        let mut word = String::new();
        while let Some(&next) = chars.peek() {
            if !word_char(next) {
                break;
            }
            word.push(next);
            chars.next();
        }
        let length = word.chars().count();
        let seen = found
            .iter()
            .any(|earlier| earlier.to_lowercase() == word.to_lowercase());
        if length > 0 && length <= TOPIC_CHARS_MAX && !seen {
            found.push(word);
        }
    }
    found
}

/// The topics a caption names, without `#`.
pub fn topics(caption: &str) -> Vec<String> {
    marked(caption, '#')
}

/// The names a caption mentions, without `@`.
pub fn mentions(caption: &str) -> Vec<String> {
    marked(caption, '@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_and_mentions_are_read_once_each_in_order() {
        let caption = "周末 #露营# 和 @山野小林 去 #户外装备 ,#露营 again @Bob_1!";
        assert_eq!(topics(caption), ["露营", "户外装备"]);
        assert_eq!(mentions(caption), ["山野小林", "Bob_1"]);
        assert!(topics("# alone, ## and #").is_empty());
        assert!(topics(&format!("#{}", "长".repeat(40))).is_empty());
    }
}
