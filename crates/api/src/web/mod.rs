//! Plaza's web pages: server-rendered HTML sharing one layout, stylesheet and sign-in.

/// The cookie that carries a payer's session token.
pub(crate) const SESSION_COOKIE: &str = "plaza_session";

/// The payer's session token from a `Cookie` header, if any.
pub(crate) fn session_cookie(header: &str) -> Option<&str> {
    cookie(header, SESSION_COOKIE)
}

/// The value of cookie `name` in a `Cookie` header.
pub(crate) fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name && !value.is_empty()).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name() {
        assert_eq!(
            cookie("a=1; plaza_session=tok; b=2", SESSION_COOKIE),
            Some("tok")
        );
        assert_eq!(cookie("a=1", SESSION_COOKIE), None);
        assert_eq!(cookie("plaza_session=", SESSION_COOKIE), None);
    }
}
