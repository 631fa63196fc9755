//! Navigation as data: the roles people act in, the places of the shell that hold
//! entries, and the entries each system contributes ([`NavEntry`]). The layouts read them
//! from [`crate::HttpState::nav`] (through [`super::Viewer::nav`]); no layout names a
//! system's page.

/// A role someone signs in as: the user app's user, or one of the consoles' roles.
/// Systems may declare their own beside these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Role {
    /// Its key in URLs and forms (`merchant`).
    pub key: &'static str,
    /// What people call it (`Merchant`).
    pub label: &'static str,
}

impl Role {
    /// A person using the app (Pay's payers; later WeCom's customers, Channels' viewers).
    pub const USER: Role = Role {
        key: "user",
        label: "User",
    };
    /// A merchant.
    pub const MERCHANT: Role = Role {
        key: "merchant",
        label: "Merchant",
    };
    /// A service provider acting for its sub-merchants.
    pub const PROVIDER: Role = Role {
        key: "provider",
        label: "Service provider",
    };
    /// The platform's operator (shared by every system: one admin token).
    pub const OPERATOR: Role = Role {
        key: "operator",
        label: "Operator",
    };
    /// A developer of mini programs and official accounts.
    pub const DEVELOPER: Role = Role {
        key: "developer",
        label: "Developer",
    };
    /// An employee of a WeCom corp.
    pub const EMPLOYEE: Role = Role {
        key: "employee",
        label: "Employee",
    };
    /// A Channels creator.
    pub const CREATOR: Role = Role {
        key: "creator",
        label: "Creator",
    };
}

/// Where an entry goes in the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NavPlace {
    /// The site's header (home, sign-in and pages outside the app and the consoles).
    Site,
    /// A row of the user app's Discover tab.
    Discover,
    /// A row of the user app's Me tab.
    Me,
    /// The search bar atop every tab's page: the first such entry is drawn, a form
    /// that opens its page with the typed text as `q`.
    AppSearch,
    /// The left navigation of one role's console.
    Console(Role),
}

/// One entry of the navigation, contributed by a system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NavEntry {
    /// Where it goes.
    pub place: NavPlace,
    /// Which section it opens (pages name theirs when they render).
    pub section: &'static str,
    /// Where it links.
    pub href: &'static str,
    /// What it says.
    pub label: &'static str,
    /// One character drawn in a tile beside the label in the app's lists (`扫`); empty
    /// for the label's first letter.
    pub icon: &'static str,
    /// Shown only in the sandbox (its page is a sandbox power).
    pub sandbox_only: bool,
}

impl NavEntry {
    /// An entry of the site's header.
    pub const fn site(section: &'static str, href: &'static str, label: &'static str) -> Self {
        Self {
            place: NavPlace::Site,
            section,
            href,
            label,
            icon: "",
            sandbox_only: false,
        }
    }

    /// A row of the app's Discover tab.
    pub const fn discover(
        section: &'static str,
        href: &'static str,
        label: &'static str,
        icon: &'static str,
    ) -> Self {
        Self {
            place: NavPlace::Discover,
            section,
            href,
            label,
            icon,
            sandbox_only: false,
        }
    }

    /// A row of the app's Me tab.
    pub const fn me(
        section: &'static str,
        href: &'static str,
        label: &'static str,
        icon: &'static str,
    ) -> Self {
        Self {
            place: NavPlace::Me,
            section,
            href,
            label,
            icon,
            sandbox_only: false,
        }
    }

    /// The search bar atop the app's tabs, opening `href?q=…`; `label` is its
    /// placeholder.
    pub const fn app_search(
        section: &'static str,
        href: &'static str,
        label: &'static str,
    ) -> Self {
        Self {
            place: NavPlace::AppSearch,
            section,
            href,
            label,
            icon: "",
            sandbox_only: false,
        }
    }

    /// An entry of `role`'s console navigation.
    pub const fn console(
        role: Role,
        section: &'static str,
        href: &'static str,
        label: &'static str,
    ) -> Self {
        Self {
            place: NavPlace::Console(role),
            section,
            href,
            label,
            icon: "",
            sandbox_only: false,
        }
    }
}

impl NavEntry {
    /// The same entry, shown only in the sandbox.
    pub const fn in_sandbox_only(self) -> Self {
        Self {
            sandbox_only: true,
            ..self
        }
    }
}

/// The entries of `place`, in registration order.
pub fn entries_at(nav: &[NavEntry], place: NavPlace) -> impl Iterator<Item = &NavEntry> {
    nav.iter().filter(move |entry| entry.place == place)
}

/// Each role that has a console, with its first entry (where its console opens), in
/// registration order.
pub fn consoles(nav: &[NavEntry]) -> Vec<(Role, &NavEntry)> {
    let mut found: Vec<(Role, &NavEntry)> = Vec::new();
    for entry in nav {
        if let NavPlace::Console(role) = entry.place
            && !found.iter().any(|(seen, _)| *seen == role)
        {
            found.push((role, entry));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_found_by_place_and_consoles_open_at_their_first_entry() {
        let nav = [
            NavEntry::console(Role::MERCHANT, "orders", "/merchant", "Orders"),
            NavEntry::me("bills", "/app/me/bills", "Bills", "账"),
            NavEntry::console(Role::OPERATOR, "day", "/console", "Day"),
            NavEntry::console(Role::MERCHANT, "refunds", "/merchant/refunds", "Refunds"),
        ];
        let me: Vec<_> = entries_at(&nav, NavPlace::Me).map(|e| e.href).collect();
        assert_eq!(me, ["/app/me/bills"]);
        assert_eq!(entries_at(&nav, NavPlace::Discover).count(), 0);
        let consoles: Vec<_> = consoles(&nav)
            .into_iter()
            .map(|(role, entry)| (role.key, entry.href))
            .collect();
        assert_eq!(
            consoles,
            [("merchant", "/merchant"), ("operator", "/console")]
        );
    }
}
