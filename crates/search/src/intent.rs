//! Intents: a query that asks for a service leads straight to the mini program serving
//! it. The dictionary names services and the ways people ask for them; the operator
//! keeps it, and mini programs' declared service keywords count as phrasings of
//! themselves.

use serde::{Deserialize, Serialize};

use crate::fold::fold;

/// Words around a request that do not change what is asked for ("社保**怎么查**",
/// "**附近** 核酸"), removed before matching; longest first.
pub const FILLERS: [&str; 24] = [
    "在哪里",
    "怎么办",
    "怎么查",
    "怎么",
    "怎样",
    "如何",
    "哪里",
    "在哪",
    "附近",
    "我要",
    "我想",
    "想要",
    "一下",
    "办理",
    "查询",
    "预约",
    "在线",
    "网上",
    "入口",
    "去",
    "查",
    "的",
    "吗",
    "呢",
];

/// A service and the ways people ask for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceIntent {
    /// The service's name, as mini programs declare it (`核酸检测`).
    pub service: String,
    /// Other ways to ask (`核酸`, `做核酸`).
    #[serde(default)]
    pub phrasings: Vec<String>,
}

/// The operator's dictionary of services.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentDictionary {
    /// Its entries.
    pub entries: Vec<ServiceIntent>,
}

/// How a query was recognised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recognised {
    /// The service asked for.
    pub service: String,
    /// The words of the query that asked for it (after fillers were removed).
    pub asked: String,
    /// What it matched: `service` (its name), `phrasing` (a dictionary phrasing) or
    /// `contains` (the query holds a name or phrasing among other words).
    pub how: &'static str,
}

impl IntentDictionary {
    /// The dictionary a new platform starts with: the everyday public services.
    #[must_use]
    pub fn starter() -> Self {
        let entry = |service: &str, phrasings: &[&str]| ServiceIntent {
            service: service.to_owned(),
            phrasings: phrasings.iter().map(|p| (*p).to_owned()).collect(),
        };
        Self {
            entries: vec![
                entry(
                    "核酸检测",
                    &["核酸", "做核酸", "测核酸", "核酸采样", "核酸结果"],
                ),
                entry(
                    "疫苗预约",
                    &["打疫苗", "疫苗", "接种疫苗", "疫苗接种", "新冠疫苗"],
                ),
                entry("社保查询", &["社保", "社保卡", "社会保险", "养老保险"]),
                entry("医保", &["医疗保险", "医保卡", "医保报销"]),
                entry(
                    "公积金",
                    &["住房公积金", "公积金提取", "提取公积金", "公积金贷款"],
                ),
                entry(
                    "交通违章",
                    &["违章", "违章查询", "查违章", "交通罚款", "罚单"],
                ),
                entry("挂号", &["预约挂号", "医院挂号", "看病挂号", "门诊挂号"]),
                entry("充电", &["充电桩", "汽车充电", "新能源充电"]),
                entry("电费", &["交电费", "缴电费", "电费缴纳"]),
            ],
        }
    }

    /// Checks and tidies an operator's dictionary: names and phrasings 1–20
    /// characters, no repeats, at most 500 services.
    ///
    /// # Errors
    ///
    /// [`crate::SearchError::Invalid`] naming what is wrong.
    pub fn checked(mut self) -> Result<Self, crate::SearchError> {
        let invalid = |reason: String| crate::SearchError::Invalid {
            field: "entries",
            reason,
        };
        if self.entries.len() > 500 {
            return Err(invalid("at most 500 services".to_owned()));
        }
        let mut seen: Vec<String> = Vec::new();
        for entry in &mut self.entries {
            entry.service = entry.service.trim().to_owned();
            for text in std::iter::once(&entry.service).chain(&entry.phrasings) {
                let chars = text.trim().chars().count();
                if !(1..=20).contains(&chars) || text.chars().any(char::is_control) {
                    return Err(invalid(format!(
                        "{text:?}: a service or phrasing has 1 to 20 characters"
                    )));
                }
            }
            let folded = fold(&entry.service);
            if seen.contains(&folded) {
                return Err(invalid(format!("{}: listed twice", entry.service)));
            }
            seen.push(folded);
            entry.phrasings = entry.phrasings.iter().map(|p| p.trim().to_owned()).fold(
                Vec::new(),
                |mut kept, p| {
                    if !kept.contains(&p) {
                        kept.push(p);
                    }
                    kept
                },
            );
        }
        Ok(self)
    }

    /// What `folded_query` asks for, if it asks for a service of the dictionary or one
    /// of `declared` (mini programs' service keywords, folded).
    #[must_use]
    pub fn recognise(&self, folded_query: &str, declared: &[String]) -> Option<Recognised> {
        let asked = strip_fillers(folded_query);
        if asked.is_empty() {
            return None;
        }
        // Exact: a service's name or a phrasing is the whole request.
        for entry in &self.entries {
            if fold(&entry.service) == asked {
                return Some(recognised(&entry.service, &asked, "service"));
            }
            if entry.phrasings.iter().any(|p| fold(p) == asked) {
                return Some(recognised(&entry.service, &asked, "phrasing"));
            }
        }
        if let Some(keyword) = declared
            .iter()
            .find(|k| **k == asked || strip_fillers(k) == asked)
        {
            return Some(recognised(keyword, &asked, "service"));
        }
        // Contained: the longest name or phrasing of two or more characters inside it.
        let mut best: Option<(usize, &str)> = None;
        for entry in &self.entries {
            for text in std::iter::once(&entry.service).chain(&entry.phrasings) {
                let folded = fold(text);
                let chars = folded.chars().count();
                if chars >= 2 && asked.contains(&folded) && best.is_none_or(|(n, _)| chars > n) {
                    best = Some((chars, &entry.service));
                }
            }
        }
        best.map(|(_, service)| recognised(service, &asked, "contains"))
    }
}

fn recognised(service: &str, asked: &str, how: &'static str) -> Recognised {
    Recognised {
        service: service.to_owned(),
        asked: asked.to_owned(),
        how,
    }
}

/// `folded` without spaces and filler words.
#[must_use]
pub fn strip_fillers(folded: &str) -> String {
    let mut text: String = folded
        .chars()
        .filter(|c| !c.is_whitespace() && !"?？!！,，。".contains(*c))
        .collect();
    for filler in FILLERS {
        // A filler is removed only when something is left: "预约" alone stays a request.
        let without = text.replace(filler, "");
        if !without.is_empty() {
            text = without;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everyday_requests_are_recognised() {
        let dictionary = IntentDictionary::starter();
        let service = |q: &str| dictionary.recognise(&fold(q), &[]).map(|r| r.service);
        assert_eq!(service("核酸检测预约").as_deref(), Some("核酸检测"));
        assert_eq!(service("附近 核酸").as_deref(), Some("核酸检测"));
        assert_eq!(service("社保怎么查").as_deref(), Some("社保查询"));
        assert_eq!(service("打疫苗").as_deref(), Some("疫苗预约"));
        assert_eq!(service("北京社保").as_deref(), Some("社保查询"));
        assert_eq!(service("奶茶"), None);
        assert_eq!(service("怎么"), None);
    }

    #[test]
    fn declared_keywords_are_services_of_their_own() {
        let dictionary = IntentDictionary::default();
        let recognised = dictionary.recognise("停车缴费", &["停车缴费".to_owned()]);
        assert_eq!(recognised.map(|r| r.how), Some("service"));
    }

    #[test]
    fn a_bad_dictionary_is_refused() {
        let twice = IntentDictionary {
            entries: vec![
                ServiceIntent {
                    service: "挂号".into(),
                    phrasings: vec![],
                },
                ServiceIntent {
                    service: "掛號".into(),
                    phrasings: vec![],
                },
            ],
        };
        assert!(twice.checked().is_err());
        let empty = IntentDictionary {
            entries: vec![ServiceIntent {
                service: " ".into(),
                phrasings: vec![],
            }],
        };
        assert!(empty.checked().is_err());
    }
}
