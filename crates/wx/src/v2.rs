//! WeChat Pay APIv2: the flat `<xml>` documents requests and answers travel in, and their
//! `sign` (MD5 or HMAC-SHA256 over the sorted parameters and the merchant's API key).

use std::collections::BTreeMap;

use aws_lc_rs::hmac;
use md5::{Digest, Md5};
use quick_xml::Reader;
use quick_xml::events::Event;

/// Parameters of a v2 document, by name.
pub type Params = BTreeMap<String, String>;

/// How a v2 document is signed (`sign_type`; MD5 when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignType {
    /// `MD5`, the default.
    Md5,
    /// `HMAC-SHA256`, keyed with the API key.
    HmacSha256,
}

impl SignType {
    /// Reads `sign_type`: absent or `MD5`, or `HMAC-SHA256`.
    ///
    /// # Errors
    ///
    /// [`V2Error::SignType`] for anything else.
    pub fn parse(text: Option<&str>) -> Result<Self, V2Error> {
        match text {
            None | Some("MD5") => Ok(Self::Md5),
            Some("HMAC-SHA256") => Ok(Self::HmacSha256),
            Some(other) => Err(V2Error::SignType(other.to_owned())),
        }
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::HmacSha256 => "HMAC-SHA256",
        }
    }
}

/// A v2 document that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum V2Error {
    /// The body is not UTF-8.
    #[error("the body is not UTF-8")]
    NotUtf8,
    /// The body is not a flat `<xml>` document.
    #[error("not a flat <xml> document: {0}")]
    Malformed(String),
    /// An unknown `sign_type`.
    #[error("sign_type {0:?} is neither MD5 nor HMAC-SHA256")]
    SignType(String),
}

/// `k1=v1&k2=v2&…&key=<api key>` over the non-empty parameters except `sign`, sorted by
/// name: what both signatures hash.
fn string_to_sign(params: &Params, api_key: &str) -> String {
    let mut text = String::new();
    for (name, value) in params {
        if name == "sign" || value.is_empty() {
            continue;
        }
        text.push_str(name);
        text.push('=');
        text.push_str(value);
        text.push('&');
    }
    text.push_str("key=");
    text.push_str(api_key);
    text
}

fn upper_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02X}")).collect()
}

/// The `sign` of `params` (upper-case hex).
pub fn sign(params: &Params, api_key: &str, sign_type: SignType) -> String {
    let text = string_to_sign(params, api_key);
    match sign_type {
        SignType::Md5 => upper_hex(&Md5::digest(text.as_bytes())),
        SignType::HmacSha256 => {
            let key = hmac::Key::new(hmac::HMAC_SHA256, api_key.as_bytes());
            upper_hex(hmac::sign(&key, text.as_bytes()).as_ref())
        }
    }
}

/// Whether `params["sign"]` is the right signature (compared in constant time).
pub fn verify(params: &Params, api_key: &str, sign_type: SignType) -> bool {
    let Some(given) = params.get("sign") else {
        return false;
    };
    let expected = sign(params, api_key, sign_type);
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0_u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Reads a flat `<xml><name>value</name>…</xml>` document (values as text or CDATA).
///
/// # Errors
///
/// [`V2Error::NotUtf8`], or [`V2Error::Malformed`] for another root, nested elements,
/// repeated names or broken XML.
#[expect(
    clippy::too_many_lines,
    reason = "a small hand-written XML reader whose states share the cursor; split, each part would take all of it"
)]
pub fn parse_xml(body: &[u8]) -> Result<Params, V2Error> {
    let text = std::str::from_utf8(body).map_err(|_| V2Error::NotUtf8)?;
    let mut reader = Reader::from_str(text);
    let mut params = Params::new();
    let mut depth = 0_usize;
    let mut current: Option<(String, String)> = None;
    let malformed = |what: String| V2Error::Malformed(what);
    loop {
        match reader
            .read_event()
            .map_err(|error| malformed(error.to_string()))?
        {
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                depth += 1;
                match depth {
                    1 if name == "xml" => {}
                    1 => return Err(malformed(format!("the root is <{name}>, not <xml>"))),
                    2 => current = Some((name, String::new())),
                    _ => return Err(malformed(format!("<{name}> is nested too deep"))),
                }
            }
            Event::Empty(empty) => {
                let name = String::from_utf8_lossy(empty.name().as_ref()).into_owned();
                if depth != 1 {
                    return Err(malformed(format!("<{name}/> is out of place")));
                }
                insert(&mut params, name, String::new())?;
            }
            Event::Text(content) => {
                let unescaped = content
                    .decode()
                    .map_err(|error| malformed(error.to_string()))?;
                let unescaped = quick_xml::escape::unescape(&unescaped)
                    .map_err(|error| malformed(error.to_string()))?;
                match &mut current {
                    Some((_, value)) => value.push_str(&unescaped),
                    None if unescaped.trim().is_empty() => {}
                    None => return Err(malformed("text outside an element".to_owned())),
                }
            }
            Event::CData(content) => match &mut current {
                Some((_, value)) => value.push_str(&String::from_utf8_lossy(&content)),
                None => return Err(malformed("CDATA outside an element".to_owned())),
            },
            Event::End(_) => {
                if depth == 2
                    && let Some((name, value)) = current.take()
                {
                    insert(&mut params, name, value)?;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::GeneralRef(reference) => {
                let name = String::from_utf8_lossy(&reference).into_owned();
                let resolved = match name.as_str() {
                    "lt" => "<",
                    "gt" => ">",
                    "amp" => "&",
                    "apos" => "'",
                    "quot" => "\"",
                    _ => return Err(malformed(format!("unknown entity &{name};"))),
                };
                match &mut current {
                    Some((_, value)) => value.push_str(resolved),
                    None => return Err(malformed("an entity outside an element".to_owned())),
                }
            }
        }
    }
    if depth != 0 {
        return Err(malformed("the document ends inside an element".to_owned()));
    }
    Ok(params)
}

fn insert(params: &mut Params, name: String, value: String) -> Result<(), V2Error> {
    if params.contains_key(&name) {
        return Err(V2Error::Malformed(format!("<{name}> appears twice")));
    }
    params.insert(name, value);
    Ok(())
}

/// Writes a flat `<xml>` document: each value in CDATA (escaped text when it holds
/// `]]>`), digits bare, as WeChat writes them.
pub fn to_xml(params: &Params) -> String {
    let mut xml = String::from("<xml>");
    for (name, value) in params {
        xml.push('<');
        xml.push_str(name);
        xml.push('>');
        if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
            xml.push_str(value);
        } else if value.contains("]]>") {
            xml.push_str(&quick_xml::escape::escape(value.as_str()));
        } else {
            xml.push_str("<![CDATA[");
            xml.push_str(value);
            xml.push_str("]]>");
        }
        xml.push_str("</");
        xml.push_str(name);
        xml.push('>');
    }
    xml.push_str("</xml>");
    xml
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn official() -> Params {
        [
            ("appid", "wxd930ea5d5a258f4f"),
            ("mch_id", "10000100"),
            ("device_info", "1000"),
            ("body", "test"),
            ("nonce_str", "ibuaiVcKdpRxkhJA"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }

    const KEY: &str = "192006250b4c09247ec02edce69f6a2d";

    #[test]
    fn the_official_vectors_sign_as_documented() {
        assert_eq!(
            sign(&official(), KEY, SignType::Md5),
            "9A0A8659F005D6984697E2CA0A9CF3B7"
        );
        assert_eq!(
            sign(&official(), KEY, SignType::HmacSha256),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
        );
    }

    #[test]
    fn empty_values_and_the_sign_itself_are_left_out() {
        let mut params = official();
        params.insert("detail".to_owned(), String::new());
        params.insert(
            "sign".to_owned(),
            "9A0A8659F005D6984697E2CA0A9CF3B7".to_owned(),
        );
        assert!(verify(&params, KEY, SignType::Md5));
        params.insert("body".to_owned(), "tset".to_owned());
        assert!(!verify(&params, KEY, SignType::Md5));
        assert!(!verify(&official(), KEY, SignType::Md5), "no sign at all");
    }

    #[test]
    fn a_document_as_wechatpy_writes_it_is_read() {
        let body = "<xml>\n<appid><![CDATA[wx1]]></appid>\n<body><![CDATA[咖啡 & <cake>]]></body>\n\
                    <total_fee>100</total_fee>\n<attach>a &amp; b</attach>\n<sign><![CDATA[AB]]></sign>\n</xml>";
        let params = parse_xml(body.as_bytes()).unwrap();
        assert_eq!(params["appid"], "wx1");
        assert_eq!(params["body"], "咖啡 & <cake>");
        assert_eq!(params["total_fee"], "100");
        assert_eq!(params["attach"], "a & b");
        assert_eq!(params["sign"], "AB");
    }

    #[test]
    fn broken_documents_are_refused() {
        for body in [
            "<xml><a>1</a>",
            "<root><a>1</a></root>",
            "<xml><a><b>1</b></a></xml>",
            "<xml><a>1</a><a>2</a></xml>",
            "not xml at all",
            "<xml><a>&nope;</a></xml>",
        ] {
            assert!(parse_xml(body.as_bytes()).is_err(), "{body}");
        }
        assert_eq!(parse_xml(&[0xff, 0xfe]), Err(V2Error::NotUtf8));
    }

    proptest! {
        #[test]
        fn documents_round_trip(
            params in proptest::collection::btree_map("[a-z_]{1,12}", "\\PC{0,40}", 0..8)
        ) {
            let read = parse_xml(to_xml(&params).as_bytes()).unwrap();
            prop_assert_eq!(read, params);
        }
    }
}
