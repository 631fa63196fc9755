//! The three layouts every page is drawn in, each reading the navigation the systems
//! contribute from the [`Viewer`]:
//!
//! - [`layout`]: the site's pages (home, sign-in, error pages) under one header;
//! - [`console_layout`]: a role's console, desktop-first — a top bar with who is signed
//!   in and the sandbox badge, a left navigation scoped to the role (a strip above the
//!   page on a phone), and on the operator's pages the sandbox clock bar;
//! - [`app_layout`]: the user app, phone-first — a title bar, and on the three tabs'
//!   pages (Chats, Discover, Me) a bottom tab bar; on a desktop a phone-wide column.

use std::sync::Arc;

use axum::response::Html;

use super::escape;
use super::nav::{NavEntry, NavPlace, Role, consoles, entries_at};

/// The section of the shared pages outside any system's (home, error pages).
pub const SECTION_HOME: &str = "home";
/// The sign-in section.
pub const SECTION_SIGN_IN: &str = "signin";
/// The operator's console: its pages show the sandbox clock bar.
pub const SECTION_CONSOLE: &str = "console";
/// The user app (the site header's link to it).
pub const SECTION_APP: &str = "app";

/// Someone the request's cookies sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// As what.
    pub role: Role,
    /// Their account's id in the system that signed them in (a user id, an mchid).
    pub account: String,
    /// Their name, for the header.
    pub name: String,
}

/// Who is looking at a page, and what the shell shows them around it.
#[derive(Debug, Default, Clone)]
pub struct Viewer {
    /// Everyone the request's cookies sign in (one per role at most).
    pub signed_in: Vec<SignedIn>,
    /// Whether this is a sandbox.
    pub sandbox: bool,
    /// The sandbox clock and the next job's due time, both as China Standard Time.
    pub clock: Option<(String, Option<String>)>,
    /// Every system's navigation entries ([`crate::HttpState::nav`]).
    pub nav: Arc<[NavEntry]>,
}

impl Viewer {
    /// Who is signed in as `role`, if anyone.
    pub fn as_role(&self, role: Role) -> Option<&SignedIn> {
        self.signed_in
            .iter()
            .find(|signed_in| signed_in.role == role)
    }

    /// The name of whoever is signed in as `role`.
    pub fn name_as(&self, role: Role) -> Option<&str> {
        self.as_role(role).map(|signed_in| signed_in.name.as_str())
    }

    /// The navigation entries of `place` this viewer sees (sandbox-only ones in the
    /// sandbox), in registration order.
    pub fn nav_at(&self, place: NavPlace) -> impl Iterator<Item = &NavEntry> {
        entries_at(&self.nav, place).filter(|entry| self.sandbox || !entry.sandbox_only)
    }

    /// Whether the operator is signed in.
    pub fn operator(&self) -> bool {
        self.as_role(Role::OPERATOR).is_some()
    }
}

fn document(title: &str, body_class: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1, viewport-fit=cover\">\
<title>{title} · Plaza</title><link rel=\"stylesheet\" href=\"/static/plaza.css\"></head>\
<body class=\"{body_class}\">{body}</body></html>",
        title = escape(title),
    ))
}

fn link(href: &str, label: &str, current: bool) -> String {
    let class = if current {
        " class=\"current\" aria-current=\"page\""
    } else {
        ""
    };
    format!("<a href=\"{}\"{class}>{}</a>", escape(href), escape(label))
}

fn sign_out_button() -> &'static str {
    "<form method=\"post\" action=\"/signout\"><button class=\"secondary small\">Sign out</button></form>"
}

fn sandbox_badge(viewer: &Viewer) -> &'static str {
    if viewer.sandbox {
        "<span class=\"badge\">sandbox</span>"
    } else {
        ""
    }
}

/// The site header's links: home, the app, each console (where it opens), and the
/// systems' site entries.
fn site_links(viewer: &Viewer, section: &str) -> String {
    let mut links = link("/", "Home", section == SECTION_HOME);
    links.push_str(&link("/app", "App", section == SECTION_APP));
    for (role, first) in consoles(&viewer.nav) {
        let current = viewer
            .nav_at(NavPlace::Console(role))
            .any(|entry| entry.section == section);
        links.push_str(&link(first.href, role.label, current));
    }
    for entry in viewer.nav_at(NavPlace::Site) {
        links.push_str(&link(entry.href, entry.label, entry.section == section));
    }
    links
}

/// A page in the site's layout: the header with the navigation (`section` marked), who
/// is signed in, and the body (`narrow` for a phone-width column). On the operator's
/// console section it shows the sandbox clock bar.
pub fn layout(
    title: &str,
    section: &str,
    viewer: &Viewer,
    narrow: bool,
    body: &str,
) -> Html<String> {
    let mut who: Vec<String> = viewer
        .signed_in
        .iter()
        .map(|signed_in| {
            format!(
                "<span>{}: <strong>{}</strong></span>",
                escape(signed_in.role.label),
                escape(&signed_in.name)
            )
        })
        .collect();
    if who.is_empty() {
        who.push(link("/signin", "Sign in", section == SECTION_SIGN_IN));
    } else {
        who.push(sign_out_button().to_owned());
    }
    who.push(sandbox_badge(viewer).to_owned());
    let clock_bar = match &viewer.clock {
        Some((now, next_job)) if section == SECTION_CONSOLE => clock_bar(now, next_job.as_deref()),
        _ => String::new(),
    };
    document(
        title,
        "site",
        &format!(
            "<header class=\"top\"><a class=\"brand\" href=\"/\">Pla<span>za</span></a>\
             <nav>{links}</nav><div class=\"who\">{who}</div></header>\
             <main{main_class}>{clock_bar}{body}</main>\
             <footer>Plaza — an open, self-hostable super-app platform. Amounts in CNY.</footer>",
            links = site_links(viewer, section),
            who = who.join(""),
            main_class = if narrow { " class=\"narrow\"" } else { "" },
        ),
    )
}

/// A page of `role`'s console: the top bar (the console's name, who is signed in as the
/// role, the sandbox badge), the left navigation of the role's entries with `section`
/// marked, and the body; the operator's pages carry the sandbox clock bar on top.
pub fn console_layout(
    role: Role,
    section: &str,
    viewer: &Viewer,
    title: &str,
    body: &str,
) -> Html<String> {
    let links: String = viewer
        .nav_at(NavPlace::Console(role))
        .map(|entry| link(entry.href, entry.label, entry.section == section))
        .collect();
    let elsewhere: String = consoles(&viewer.nav)
        .into_iter()
        .filter(|(other, _)| *other != role && viewer.as_role(*other).is_some())
        .map(|(other, first)| {
            format!(
                "<a class=\"switch\" href=\"{}\">{} console</a>",
                escape(first.href),
                escape(other.label)
            )
        })
        .collect();
    let who = match viewer.name_as(role) {
        Some(name) => format!(
            "<span class=\"signed-in\" id=\"signed-in-as\">{}: <strong>{}</strong></span>{}",
            escape(role.label),
            escape(name),
            sign_out_button()
        ),
        None => link("/signin", "Sign in", false),
    };
    let clock_bar = match &viewer.clock {
        Some((now, next_job)) if role == Role::OPERATOR => clock_bar(now, next_job.as_deref()),
        _ => String::new(),
    };
    document(
        title,
        "console",
        &format!(
            "<header class=\"console-top\"><a class=\"brand\" href=\"/\">Pla<span>za</span></a>\
             <span class=\"console-name\">{role_label} console</span>\
             <div class=\"who\">{elsewhere}{who}{badge}</div></header>\
             <div class=\"console-frame\"><nav class=\"console-nav\" aria-label=\"{role_label} console\">{links}</nav>\
             <main class=\"console-main\" data-role=\"{role_key}\">{clock_bar}{body}</main></div>",
            role_label = escape(role.label),
            role_key = escape(role.key),
            badge = sandbox_badge(viewer),
        ),
    )
}

/// The user app's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppTab {
    /// Conversations and service notifications.
    Chats,
    /// What the systems offer: Channels, Mini Programs, Search, Scan.
    Discover,
    /// The user: wallet, payment code, coupons and the systems' entries.
    Me,
}

impl AppTab {
    /// Every tab, in the bar's order.
    pub const ALL: [AppTab; 3] = [AppTab::Chats, AppTab::Discover, AppTab::Me];

    /// Where the tab opens.
    pub fn href(self) -> &'static str {
        match self {
            AppTab::Chats => "/app",
            AppTab::Discover => "/app/discover",
            AppTab::Me => "/app/me",
        }
    }

    fn label(self) -> &'static str {
        match self {
            AppTab::Chats => "Chats",
            AppTab::Discover => "Discover",
            AppTab::Me => "Me",
        }
    }

    fn key(self) -> &'static str {
        match self {
            AppTab::Chats => "chats",
            AppTab::Discover => "discover",
            AppTab::Me => "me",
        }
    }

    /// The tab's outline icon, drawn in the current colour.
    fn icon(self) -> &'static str {
        match self {
            AppTab::Chats => {
                "<svg viewBox=\"0 0 24 24\" aria-hidden=\"true\"><path d=\"M4 5.5h16v10.5H10l-4.5 3.5V16H4z\"/></svg>"
            }
            AppTab::Discover => {
                "<svg viewBox=\"0 0 24 24\" aria-hidden=\"true\"><circle cx=\"12\" cy=\"12\" r=\"8.5\"/><path d=\"M15.5 8.5l-2 5-5 2 2-5z\"/></svg>"
            }
            AppTab::Me => {
                "<svg viewBox=\"0 0 24 24\" aria-hidden=\"true\"><circle cx=\"12\" cy=\"8.5\" r=\"4\"/><path d=\"M4.5 20c1-4 4-6 7.5-6s6.5 2 7.5 6\"/></svg>"
            }
        }
    }
}

/// What the app's frame needs to know about a page.
#[derive(Debug, Clone, Copy)]
pub struct AppPage<'a> {
    /// The title bar's text (and the document's title).
    pub title: &'a str,
    /// The tab the page belongs to.
    pub tab: AppTab,
    /// Where the title bar's back arrow leads; `None` on a tab's own page, which shows
    /// the tab bar instead.
    pub back: Option<&'a str>,
}

impl<'a> AppPage<'a> {
    /// A tab's own page: no back arrow, the tab bar below.
    pub fn tab(tab: AppTab, title: &'a str) -> Self {
        Self {
            title,
            tab,
            back: None,
        }
    }

    /// A page below a tab, with a back arrow to `back`.
    pub fn below(tab: AppTab, title: &'a str, back: &'a str) -> Self {
        Self {
            title,
            tab,
            back: Some(back),
        }
    }
}

/// A page of the user app: the title bar, the body, and on a tab's own page the bottom
/// tab bar with that tab marked.
pub fn app_layout(page: AppPage<'_>, viewer: &Viewer, body: &str) -> Html<String> {
    let back = page.back.map_or_else(String::new, |href| {
        format!(
            "<a class=\"back\" id=\"app-back\" href=\"{}\" aria-label=\"Back\">\
             <svg viewBox=\"0 0 24 24\" aria-hidden=\"true\"><path d=\"M15 4l-8 8 8 8\"/></svg></a>",
            escape(href)
        )
    });
    let tabbar = if page.back.is_none() {
        let tabs: String = AppTab::ALL
            .iter()
            .map(|tab| {
                let current = if *tab == page.tab {
                    " class=\"current\" aria-current=\"page\""
                } else {
                    ""
                };
                format!(
                    "<a href=\"{href}\" id=\"tab-{key}\"{current}>{icon}<span>{label}</span></a>",
                    href = tab.href(),
                    key = tab.key(),
                    icon = tab.icon(),
                    label = tab.label(),
                )
            })
            .collect();
        format!("<nav class=\"tabbar\" aria-label=\"Tabs\">{tabs}</nav>")
    } else {
        String::new()
    };
    let search_bar = match viewer.nav_at(NavPlace::AppSearch).next() {
        Some(entry) if page.back.is_none() => format!(
            "<form class=\"app-search\" role=\"search\" method=\"get\" action=\"{href}\">\
             <svg viewBox=\"0 0 24 24\" aria-hidden=\"true\"><circle cx=\"11\" cy=\"11\" r=\"6.5\"/><path d=\"M16 16l4 4\"/></svg>\
             <input type=\"search\" name=\"q\" id=\"app-search-bar\" placeholder=\"{label}\" aria-label=\"{label}\" autocomplete=\"off\" enterkeyhint=\"search\"></form>",
            href = escape(entry.href),
            label = escape(entry.label),
        ),
        _ => String::new(),
    };
    let with_tabs = if page.back.is_none() {
        " with-tabs"
    } else {
        ""
    };
    document(
        page.title,
        &format!("app{with_tabs}"),
        &format!(
            "<div class=\"app-frame\" data-tab=\"{key}\"><header class=\"app-bar\">{back}\
             <h1>{title}</h1>{badge}</header>{search_bar}<main class=\"app-main\">{body}</main>{tabbar}</div>",
            key = page.tab.key(),
            title = escape(page.title),
            badge = sandbox_badge(viewer),
        ),
    )
}

/// The sandbox clock with its buttons, on top of every operator page.
fn clock_bar(now: &str, next_job: Option<&str>) -> String {
    let next = next_job.map_or_else(
        || "no job waiting".to_owned(),
        |due| {
            format!(
                "next job due <span id=\"clock-next-job\">{}</span>",
                escape(due)
            )
        },
    );
    format!(
        "<div class=\"clockbar\" id=\"sandbox-clock\"><div><span class=\"muted\">Sandbox clock</span> \
         <strong id=\"clock-now\">{now}</strong> <span class=\"muted\">CST · {next}</span></div>\
         <form method=\"post\" action=\"/console/clock\">\
         <button class=\"secondary\" name=\"advance\" value=\"hour\" id=\"advance-hour\">+1 hour</button>\
         <button class=\"secondary\" name=\"advance\" value=\"day\" id=\"advance-day\">+1 day</button>\
         <button class=\"secondary\" name=\"advance\" value=\"next-job\" id=\"advance-next-job\"{disabled}>To next job</button>\
         </form></div>",
        now = escape(now),
        disabled = if next_job.is_none() { " disabled" } else { "" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(signed_in: Vec<SignedIn>) -> Viewer {
        Viewer {
            signed_in,
            sandbox: true,
            clock: Some(("2026-11-26 10:00:00".to_owned(), None)),
            nav: vec![
                NavEntry::console(Role::MERCHANT, "orders", "/merchant", "Orders"),
                NavEntry::console(Role::OPERATOR, "console", "/console", "Day report"),
                NavEntry::console(
                    Role::OPERATOR,
                    "notices",
                    "/console/notifications",
                    "Notices",
                )
                .in_sandbox_only(),
            ]
            .into(),
        }
    }

    fn operator() -> SignedIn {
        SignedIn {
            role: Role::OPERATOR,
            account: "operator".to_owned(),
            name: "Operator".to_owned(),
        }
    }

    #[test]
    fn a_console_shows_its_role_entries_and_the_clock_only_to_the_operator() {
        let viewer = viewer(vec![operator()]);
        let page = console_layout(Role::OPERATOR, "notices", &viewer, "Notices", "<p>x</p>").0;
        assert!(page.contains("<a href=\"/console/notifications\" class=\"current\""));
        assert!(page.contains("Day report") && !page.contains(">Orders<"));
        assert!(page.contains("id=\"clock-now\""), "{page}");
        assert!(page.contains("Operator: <strong>Operator</strong>"));
        let merchant = console_layout(Role::MERCHANT, "orders", &viewer, "Orders", "").0;
        assert!(!merchant.contains("id=\"clock-now\""));
        let production = Viewer {
            sandbox: false,
            ..viewer
        };
        let page = console_layout(Role::OPERATOR, "console", &production, "Day", "").0;
        assert!(
            !page.contains("Notices"),
            "a sandbox power is not offered outside it"
        );
        assert!(
            merchant.contains("href=\"/signin\""),
            "not signed in as a merchant"
        );
        assert!(
            merchant.contains("Operator console"),
            "a way to the console they are signed in to"
        );
    }

    #[test]
    fn the_app_shows_the_tab_bar_on_tabs_and_a_back_arrow_below_them() {
        let viewer = viewer(Vec::new());
        let tab = app_layout(AppPage::tab(AppTab::Me, "Me"), &viewer, "").0;
        assert!(tab.contains("id=\"tab-me\" class=\"current\""), "{tab}");
        assert!(!tab.contains("app-back"));
        let below = app_layout(AppPage::below(AppTab::Me, "Bills", "/app/me"), &viewer, "").0;
        assert!(below.contains("id=\"app-back\" href=\"/app/me\""));
        assert!(!below.contains("class=\"tabbar\""));
        assert!(!tab.contains("app-search"), "no system offers search here");
        let mut nav = viewer.nav.to_vec();
        nav.push(NavEntry::app_search("search", "/app/search", "搜索 Search"));
        let searching = Viewer {
            nav: nav.into(),
            ..viewer
        };
        let tab = app_layout(AppPage::tab(AppTab::Chats, "Chats"), &searching, "").0;
        assert!(tab.contains("action=\"/app/search\""), "{tab}");
        assert!(tab.contains("name=\"q\""));
        let below = app_layout(
            AppPage::below(AppTab::Me, "Bills", "/app/me"),
            &searching,
            "",
        )
        .0;
        assert!(
            !below.contains("app-search"),
            "below a tab the page has its own bar"
        );
    }

    #[test]
    fn the_site_header_links_each_console_where_it_opens() {
        let viewer = viewer(vec![operator()]);
        let page = layout("Home", SECTION_HOME, &viewer, false, "").0;
        assert!(page.contains("<header class=\"top\">"));
        assert!(page.contains("<a href=\"/merchant\">Merchant</a>"));
        assert!(page.contains("<a href=\"/console\">Operator</a>"));
        assert!(page.contains("action=\"/signout\""));
        let console = layout("Console", SECTION_CONSOLE, &viewer, false, "").0;
        assert!(console.contains("<a href=\"/console\" class=\"current\""));
        assert!(console.contains("id=\"sandbox-clock\""));
    }
}
