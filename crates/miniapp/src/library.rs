//! The public template library developers pick subscribe-message templates from: each
//! template has a `tid`, a title and keywords (`kid`, name, value rule), and a
//! template's data key is the rule followed by the kid (`thing1`, `time2`). The rules
//! and their limits are WeChat's.

/// One keyword of a library template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LibraryKeyword {
    /// Its id within the template.
    pub kid: u32,
    /// What it names (`预约时间`).
    pub name: &'static str,
    /// Its value rule (`time`).
    pub rule: &'static str,
    /// An example value.
    pub example: &'static str,
}

/// One template of the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LibraryTemplate {
    /// Its id.
    pub tid: u32,
    /// Its title (`预约成功通知`).
    pub title: &'static str,
    /// Its service category.
    pub category: &'static str,
    /// Its keywords.
    pub keywords: &'static [LibraryKeyword],
}

const fn keyword(
    kid: u32,
    name: &'static str,
    rule: &'static str,
    example: &'static str,
) -> LibraryKeyword {
    LibraryKeyword {
        kid,
        name,
        rule,
        example,
    }
}

/// The library.
pub const LIBRARY: &[LibraryTemplate] = &[
    LibraryTemplate {
        tid: 1001,
        title: "预约成功通知",
        category: "政务民生",
        keywords: &[
            keyword(1, "预约项目", "thing", "核酸检测"),
            keyword(2, "预约时间", "time", "2026年12月8日 09:30"),
            keyword(3, "预约地点", "thing", "市民中心采样点"),
            keyword(4, "预约人", "name", "张三"),
            keyword(5, "预约编号", "character_string", "YY20261208001"),
            keyword(6, "温馨提示", "thing", "请携带身份证按时到达"),
        ],
    },
    LibraryTemplate {
        tid: 1002,
        title: "核酸检测结果通知",
        category: "政务民生",
        keywords: &[
            keyword(1, "检测项目", "thing", "新冠病毒核酸检测"),
            keyword(2, "检测结果", "phrase", "阴性"),
            keyword(3, "采样时间", "time", "2026年12月8日 09:30"),
            keyword(4, "检测机构", "thing", "市第一人民医院"),
        ],
    },
    LibraryTemplate {
        tid: 1003,
        title: "疫苗接种提醒",
        category: "医疗",
        keywords: &[
            keyword(1, "疫苗名称", "thing", "流感疫苗"),
            keyword(2, "接种时间", "time", "2026年12月9日 14:00"),
            keyword(3, "接种地点", "thing", "社区卫生服务中心"),
            keyword(4, "接种剂次", "number", "2"),
        ],
    },
    LibraryTemplate {
        tid: 1004,
        title: "支付成功通知",
        category: "生活服务",
        keywords: &[
            keyword(1, "商品名称", "thing", "核酸检测费"),
            keyword(2, "支付金额", "amount", "¥5.00"),
            keyword(3, "支付时间", "time", "2026-12-08 09:31"),
            keyword(
                4,
                "订单号",
                "character_string",
                "4200001234202612081234567890",
            ),
        ],
    },
    LibraryTemplate {
        tid: 1005,
        title: "业务办理进度通知",
        category: "政务民生",
        keywords: &[
            keyword(1, "业务名称", "thing", "社保卡补办"),
            keyword(2, "办理进度", "phrase", "已受理"),
            keyword(3, "更新日期", "date", "2026年12月8日"),
            keyword(4, "备注", "thing", "请留意短信通知"),
            keyword(5, "联系电话", "phone_number", "0571-12345"),
        ],
    },
];

/// The library template `tid`.
pub fn template(tid: u32) -> Option<&'static LibraryTemplate> {
    LIBRARY.iter().find(|template| template.tid == tid)
}

/// Whether `value` follows `rule`; the reason when it does not.
pub fn check_value(rule: &str, value: &str) -> Result<(), &'static str> {
    let chars = value.chars().count();
    if chars == 0 {
        return Err("is empty");
    }
    let ok = match rule {
        "thing" => chars <= 20,
        "number" => chars <= 32 && is_number(value),
        "letter" => chars <= 32 && value.bytes().all(|b| b.is_ascii_alphabetic()),
        "symbol" => chars <= 5 && value.chars().all(|c| c.is_ascii_punctuation()),
        "character_string" => chars <= 32 && value.bytes().all(|b| b.is_ascii_graphic()),
        "time" => is_time(value),
        "date" => is_date_time(value),
        "amount" => is_amount(value),
        "phone_number" => {
            chars <= 17
                && value
                    .chars()
                    .all(|c| c.is_ascii_digit() || "+- ()".contains(c))
        }
        "car_number" => chars <= 8,
        "name" => {
            if value.is_ascii() {
                chars <= 20 && value.chars().all(|c| c.is_ascii_alphabetic() || c == ' ')
            } else {
                chars <= 10
            }
        }
        "phrase" => chars <= 5 && value.chars().all(is_cjk),
        _ => false,
    };
    if ok { Ok(()) } else { Err(rule_hint(rule)) }
}

fn rule_hint(rule: &str) -> &'static str {
    match rule {
        "thing" => "thing: at most 20 characters",
        "number" => "number: at most 32 digits, a decimal point allowed",
        "letter" => "letter: at most 32 letters",
        "symbol" => "symbol: at most 5 symbols",
        "character_string" => "character_string: at most 32 letters, digits and symbols",
        "time" => {
            "time: a 24-hour time, alone or after a date (15:01, 2026年12月8日 15:01, 2026-12-08 15:01)"
        }
        "date" => "date: 2026年12月8日 or 2026-12-08, a time allowed after it",
        "amount" => {
            "amount: up to 10 digits with decimals, a currency sign before or 元 after allowed"
        }
        "phone_number" => "phone_number: at most 17 digits and + - ( ) or spaces",
        "car_number" => "car_number: at most 8 characters",
        "name" => "name: at most 10 characters (20 letters)",
        "phrase" => "phrase: at most 5 Chinese characters",
        _ => "an unknown rule",
    }
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3400}'..='\u{4dbf}').contains(&c)
}

fn is_number(value: &str) -> bool {
    let digits = value.strip_prefix('-').unwrap_or(value);
    let mut parts = digits.split('.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next();
    parts.next().is_none()
        && !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

fn is_amount(value: &str) -> bool {
    let value = value
        .strip_prefix('¥')
        .or_else(|| value.strip_prefix('￥'))
        .or_else(|| value.strip_prefix('$'))
        .unwrap_or(value);
    let value = value.strip_suffix('元').unwrap_or(value);
    let whole = value.split('.').next().unwrap_or("");
    !value.starts_with('-') && is_number(value) && whole.len() <= 10
}

/// `HH:MM` or `HH:MM:SS`, 24-hour.
fn is_clock(value: &str) -> bool {
    let parts: Vec<&str> = value.split(':').collect();
    let number = |text: &str, max: u32| {
        text.len() == 2
            && text.bytes().all(|b| b.is_ascii_digit())
            && text.parse::<u32>().is_ok_and(|n| n <= max)
    };
    match parts.as_slice() {
        [hours, minutes] => number(hours, 23) && number(minutes, 59),
        [hours, minutes, seconds] => {
            number(hours, 23) && number(minutes, 59) && number(seconds, 59)
        }
        _ => false,
    }
}

/// `2026-12-08` or `2026年12月8日`.
fn is_calendar_date(value: &str) -> bool {
    calendar_fields(value).is_some_and(|(year, month, day)| {
        (1900..=2999).contains(&year) && (1..=12).contains(&month) && (1..=31).contains(&day)
    })
}

fn calendar_fields(value: &str) -> Option<(u32, u32, u32)> {
    let (year, month, day) = if let Some(rest) = value.strip_suffix('日') {
        let (year, rest) = rest.split_once('年')?;
        let (month, day) = rest.split_once('月')?;
        (year, month, day)
    } else {
        let mut parts = value.split('-');
        let fields = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || fields.0.len() != 4 {
            return None;
        }
        fields
    };
    Some((year.parse().ok()?, month.parse().ok()?, day.parse().ok()?))
}

/// A date, optionally followed by a time.
fn is_date_time(value: &str) -> bool {
    match value.split_once(' ') {
        Some((date, time)) => is_calendar_date(date) && is_clock(time.trim()),
        None => is_calendar_date(value),
    }
}

/// A time, optionally after a date.
fn is_time(value: &str) -> bool {
    match value.split_once(' ') {
        Some((date, time)) => is_calendar_date(date) && is_clock(time.trim()),
        None => is_clock(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_their_rules() {
        for (rule, good, bad) in [
            (
                "thing",
                "市民中心采样点",
                "这是一段超过二十个字的很长很长很长很长的说明文字",
            ),
            ("number", "12.5", "12a"),
            ("letter", "abc", "ab1"),
            ("character_string", "YY-2026_001", "含中文"),
            ("time", "2026年12月8日 09:30", "9点半"),
            ("time", "15:01", "25:00"),
            ("time", "2026-12-08 15:01:02", "2026-13-08 15:01"),
            ("date", "2026年12月8日", "12月8日"),
            ("date", "2026-12-08 10:00", "2026/12/08"),
            ("amount", "¥5.00", "五元"),
            ("amount", "100元", "12345678901"),
            ("phone_number", "0571-12345", "call me"),
            ("name", "张三", "一个非常非常长的名字啊"),
            ("phrase", "阴性", "negative"),
            ("phrase", "已受理", "已经受理完毕了"),
        ] {
            assert_eq!(check_value(rule, good), Ok(()), "{rule}: {good}");
            assert!(check_value(rule, bad).is_err(), "{rule}: {bad}");
        }
        assert!(check_value("thing", "").is_err());
        assert!(check_value("no_such_rule", "x").is_err());
    }

    #[test]
    fn every_library_example_follows_its_rule_and_kids_are_unique() {
        for template in LIBRARY {
            let mut kids = std::collections::HashSet::new();
            for keyword in template.keywords {
                assert!(
                    kids.insert(keyword.kid),
                    "{} kid {}",
                    template.tid,
                    keyword.kid
                );
                assert_eq!(
                    check_value(keyword.rule, keyword.example),
                    Ok(()),
                    "{} {}",
                    template.title,
                    keyword.name
                );
            }
        }
    }
}
