//! Which workspace crate may depend on which: every crate has a role, and the role says
//! what it may know (ARCHITECTURE.md's layering, checked).
//!
//! The checker is a pure function of the crates and their dependencies, so its unit tests
//! feed it synthetic graphs; the tidy test feeds it `cargo metadata`.

use std::collections::BTreeMap;

/// What a workspace crate is for. The role decides which workspace crates it may depend
/// on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Shared vocabulary below every system (kernel, ledger, wx, identity). Which base
    /// crate may know which other one is listed in [`BASE_EDGES`].
    Base,
    /// `plaza-store`: the only crate that knows SQL. Only the binary knows it.
    Store,
    /// A system's domain: its rules, no HTTP. Knows base crates only, so one system
    /// never reaches into another (it declares a port that the binary fills instead).
    Domain,
    /// `plaza-http`: what every surface shares. Knows base crates, and no system.
    Http,
    /// One system's surfaces (`plaza-<system>-http`): knows `plaza-http`, its own domain
    /// and base crates, never another system's surfaces and never the store.
    SystemHttp {
        /// The domain crate it serves.
        domain: &'static str,
    },
    /// `plaza`, the binary: the only crate that knows the store and every system.
    Binary,
    /// A third party Plaza ships for its demo (the demo mini program's back end): it
    /// talks to Plaza over HTTP only, as any outside program does, so it knows base
    /// crates for wire formats and nothing else, and only the binary (which runs it
    /// beside Plaza) may depend on it.
    Outsider,
    /// `plaza-testkit`: drives the real binary over HTTP, so it needs wire formats only.
    /// Every crate may have it as a dev-dependency, and nobody as anything else.
    TestKit,
    /// A crate that predates the roles and is being split; it may keep the workspace
    /// edges it has today ([`LEGACY_EDGES`]) and gain none.
    Legacy,
}

/// Every workspace crate's role, including those announced by issue 12 and not written
/// yet (an entry for a crate that does not exist is harmless). A new crate is added here
/// with its role; an unlisted one fails the tidy test.
pub(crate) const ROLES: &[(&str, Role)] = &[
    ("plaza-kernel", Role::Base),
    ("plaza-ledger", Role::Base),
    ("plaza-wx", Role::Base),
    ("plaza-identity", Role::Base),
    ("plaza-fanout", Role::Base),
    ("plaza-media", Role::Base),
    ("plaza-store", Role::Store),
    ("plaza-pay", Role::Domain),
    ("plaza-miniapp", Role::Domain),
    ("plaza-wecom", Role::Domain),
    ("plaza-channels", Role::Domain),
    ("plaza-search", Role::Domain),
    ("plaza-http", Role::Http),
    (
        "plaza-pay-http",
        Role::SystemHttp {
            domain: "plaza-pay",
        },
    ),
    (
        "plaza-miniapp-http",
        Role::SystemHttp {
            domain: "plaza-miniapp",
        },
    ),
    (
        "plaza-wecom-http",
        Role::SystemHttp {
            domain: "plaza-wecom",
        },
    ),
    (
        "plaza-channels-http",
        Role::SystemHttp {
            domain: "plaza-channels",
        },
    ),
    (
        "plaza-search-http",
        Role::SystemHttp {
            domain: "plaza-search",
        },
    ),
    ("plaza-demo-clinic", Role::Outsider),
    ("plaza", Role::Binary),
    ("plaza-testkit", Role::TestKit),
];

/// Which base crates each base crate may know: kernel and wx stand alone, the ledger
/// builds on the kernel, identity on the kernel and the ledger (its writes go through the
/// ledger's unit of work, `WriteSet`, like every domain's) and wx; media (the ffmpeg
/// tools) stands alone.
pub(crate) const BASE_EDGES: &[(&str, &[&str])] = &[
    ("plaza-kernel", &[]),
    ("plaza-wx", &[]),
    ("plaza-fanout", &[]),
    ("plaza-media", &[]),
    ("plaza-ledger", &["plaza-kernel"]),
    (
        "plaza-identity",
        &["plaza-kernel", "plaza-ledger", "plaza-wx"],
    ),
];

/// The workspace edges each legacy crate has today, and may keep until it is split.
pub(crate) const LEGACY_EDGES: &[(&str, &[&str])] = &[];

/// HTTP frameworks (by name prefix) that base, store and domain crates never use: HTTP
/// belongs to the surfaces.
const HTTP_FRAMEWORKS: &[&str] = &["axum", "tower", "hyper"];

/// How a crate depends on another (Cargo's dependency kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `[dependencies]`.
    Normal,
    /// `[dev-dependencies]`: tests, examples and benches only.
    Dev,
    /// `[build-dependencies]`.
    Build,
}

/// One dependency of a crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dependency {
    /// The package name depended on (not a rename).
    pub(crate) name: String,
    /// How.
    pub(crate) kind: Kind,
}

/// A workspace crate and everything it depends on (workspace crates and others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Crate {
    /// The package name.
    pub(crate) name: String,
    /// Its dependencies.
    pub(crate) dependencies: Vec<Dependency>,
}

/// The rules a set of crates breaks, one sentence each (empty when it breaks none).
pub(crate) fn violations(
    crates: &[Crate],
    roles: &[(&str, Role)],
    base_edges: &[(&str, &[&str])],
    legacy_edges: &[(&str, &[&str])],
) -> Vec<String> {
    let role_of: BTreeMap<&str, Role> = roles.iter().copied().collect();
    let mut found = Vec::new();
    for krate in crates {
        let Some(&role) = role_of.get(krate.name.as_str()) else {
            found.push(format!(
                "{} has no role: classify it in ROLES (crates/plaza/tests/it/tidy/crate_edges.rs) \
                 as base, store, domain, http, a system's http crate, binary or test kit",
                krate.name
            ));
            continue;
        };
        found.extend(naming_problem(&krate.name, role, &role_of));
        for dependency in &krate.dependencies {
            let Some(&target) = role_of.get(dependency.name.as_str()) else {
                if crates.iter().any(|other| other.name == dependency.name) {
                    // Reported above, as the unclassified crate itself.
                    continue;
                }
                found.extend(external_problem(krate, role, dependency));
                continue;
            };
            let edge = Edge {
                from: &krate.name,
                from_role: role,
                to: &dependency.name,
                to_role: target,
            };
            let verdict = match dependency.kind {
                Kind::Dev if target == Role::TestKit => Ok(()),
                Kind::Normal | Kind::Dev | Kind::Build => edge.allowed(base_edges, legacy_edges),
            };
            if let Err(why) = verdict {
                let kind = match dependency.kind {
                    Kind::Normal => "depends",
                    Kind::Dev => "dev-depends",
                    Kind::Build => "build-depends",
                };
                found.push(format!(
                    "{} {kind} on {}: {why}",
                    krate.name, dependency.name
                ));
            }
        }
    }
    for (legacy, _) in legacy_edges {
        if role_of.get(legacy) == Some(&Role::Legacy)
            && !crates.iter().any(|krate| krate.name == *legacy)
        {
            found.push(format!(
                "{legacy} is gone: delete its Legacy entry from ROLES and LEGACY_EDGES"
            ));
        }
    }
    found
}

/// A crate named like a system's surfaces (`plaza-<system>-http`) must have that role,
/// and the domain it names must be a domain crate.
fn naming_problem(name: &str, role: Role, role_of: &BTreeMap<&str, Role>) -> Option<String> {
    let system_http = name
        .strip_prefix("plaza-")
        .and_then(|rest| rest.strip_suffix("-http"))
        .is_some();
    match role {
        Role::SystemHttp { domain } if role_of.get(domain) != Some(&Role::Domain) => Some(format!(
            "{name} serves {domain}, which is not classified as a domain crate"
        )),
        Role::SystemHttp { .. } => None,
        _ if system_http => Some(format!(
            "{name} is named like a system's HTTP crate: classify it as Role::SystemHttp"
        )),
        _ => None,
    }
}

/// Base, store and domain crates never use an HTTP framework.
fn external_problem(krate: &Crate, role: Role, dependency: &Dependency) -> Option<String> {
    let framework = HTTP_FRAMEWORKS.iter().any(|prefix| {
        dependency.name == *prefix || dependency.name.starts_with(&format!("{prefix}-"))
    });
    let bare = matches!(role, Role::Base | Role::Store | Role::Domain);
    (framework && bare && dependency.kind != Kind::Dev).then(|| {
        format!(
            "{} depends on {}: a {} crate knows no HTTP framework (HTTP belongs to the \
             http crates)",
            krate.name,
            dependency.name,
            role_name(role)
        )
    })
}

/// One workspace edge, with both ends' roles.
struct Edge<'a> {
    from: &'a str,
    from_role: Role,
    to: &'a str,
    to_role: Role,
}

impl Edge<'_> {
    /// Whether the edge is allowed, or why not.
    fn allowed(
        &self,
        base_edges: &[(&str, &[&str])],
        legacy_edges: &[(&str, &[&str])],
    ) -> Result<(), String> {
        let listed = |table: &[(&str, &[&str])]| {
            table
                .iter()
                .find(|(name, _)| *name == self.from)
                .is_some_and(|(_, allowed)| allowed.contains(&self.to))
        };
        let base_only = || {
            let knows = match self.from_role {
                Role::SystemHttp { .. } => "plaza-http, its own domain and base crates",
                _ => "base crates",
            };
            if self.to_role == Role::Base {
                Ok(())
            } else {
                Err(format!(
                    "a {} crate knows {knows} only, not a {} crate",
                    role_name(self.from_role),
                    role_name(self.to_role)
                ))
            }
        };
        match (self.from_role, self.to_role) {
            (_, Role::Binary) => Err("nothing depends on the binary".to_owned()),
            (_, Role::TestKit) => Err("the test kit is a dev-dependency only".to_owned()),
            (Role::Binary, Role::Outsider) => Ok(()),
            (_, Role::Outsider) => Err("only the binary runs an outside program".to_owned()),
            (Role::Base, _) if listed(base_edges) => Ok(()),
            (Role::Base, _) => Err(format!(
                "{} may know only {:?} (BASE_EDGES)",
                self.from,
                base_edges
                    .iter()
                    .find(|(name, _)| *name == self.from)
                    .map_or(&[][..], |(_, allowed)| *allowed)
            )),
            (Role::Legacy, _) if listed(legacy_edges) => Ok(()),
            (Role::Legacy, _) => Err(format!(
                "{} is being split and gains no edges (LEGACY_EDGES)",
                self.from
            )),
            (Role::Binary, _) => Ok(()),
            (Role::SystemHttp { .. }, Role::Base | Role::Http) => Ok(()),
            (Role::SystemHttp { domain }, Role::Domain) if domain == self.to => Ok(()),
            (Role::SystemHttp { domain }, Role::Domain) => Err(format!(
                "a system's HTTP crate knows its own domain ({domain}) and no other"
            )),
            (Role::SystemHttp { .. }, Role::SystemHttp { .. }) => {
                Err("a system's HTTP crate never knows another one".to_owned())
            }
            (
                Role::Store
                | Role::Domain
                | Role::Http
                | Role::TestKit
                | Role::SystemHttp { .. }
                | Role::Outsider,
                _,
            ) => base_only(),
        }
    }
}

/// The role's name in messages.
fn role_name(role: Role) -> &'static str {
    match role {
        Role::Base => "base",
        Role::Store => "store",
        Role::Domain => "domain",
        Role::Http => "shared HTTP",
        Role::SystemHttp { .. } => "system HTTP",
        Role::Binary => "binary",
        Role::TestKit => "test kit",
        Role::Outsider => "outside program",
        Role::Legacy => "legacy",
    }
}

/// The workspace's crates and their dependencies, as `cargo metadata --no-deps` reports
/// them.
///
/// # Panics
///
/// When cargo cannot run or answers something unexpected.
pub(crate) fn workspace_crates(root: &std::path::Path) -> Vec<Crate> {
    let metadata = crate::tidy::cargo_metadata(root);
    let packages = metadata["packages"]
        .as_array()
        .expect("cargo metadata lists packages");
    packages
        .iter()
        .map(|package| Crate {
            name: package["name"]
                .as_str()
                .expect("a package has a name")
                .to_owned(),
            dependencies: package["dependencies"]
                .as_array()
                .expect("a package lists its dependencies")
                .iter()
                .map(|dependency| Dependency {
                    name: dependency["name"]
                        .as_str()
                        .expect("a dependency has a name")
                        .to_owned(),
                    kind: match dependency["kind"].as_str() {
                        Some("dev") => Kind::Dev,
                        Some("build") => Kind::Build,
                        _ => Kind::Normal,
                    },
                })
                .collect(),
        })
        .collect()
}

mod tests {
    use super::*;

    fn krate(name: &str, dependencies: &[(&str, Kind)]) -> Crate {
        Crate {
            name: name.to_owned(),
            dependencies: dependencies
                .iter()
                .map(|(name, kind)| Dependency {
                    name: (*name).to_owned(),
                    kind: *kind,
                })
                .collect(),
        }
    }

    /// A workspace shaped as issue 12 wants it, with two systems.
    fn clean() -> Vec<Crate> {
        use Kind::{Dev, Normal};
        vec![
            krate("plaza-kernel", &[("thiserror", Normal)]),
            krate("plaza-wx", &[]),
            krate("plaza-ledger", &[("plaza-kernel", Normal)]),
            krate(
                "plaza-identity",
                &[("plaza-kernel", Normal), ("plaza-wx", Normal)],
            ),
            krate(
                "plaza-store",
                &[
                    ("plaza-kernel", Normal),
                    ("plaza-ledger", Normal),
                    ("plaza-testkit", Dev),
                ],
            ),
            krate(
                "plaza-pay",
                &[("plaza-kernel", Normal), ("plaza-identity", Normal)],
            ),
            krate("plaza-mini", &[("plaza-kernel", Normal)]),
            krate("plaza-http", &[("plaza-kernel", Normal), ("axum", Normal)]),
            krate(
                "plaza-pay-http",
                &[
                    ("plaza-http", Normal),
                    ("plaza-pay", Normal),
                    ("tower-http", Normal),
                ],
            ),
            krate(
                "plaza-mini-http",
                &[("plaza-http", Normal), ("plaza-mini", Normal)],
            ),
            krate(
                "plaza",
                &[
                    ("plaza-store", Normal),
                    ("plaza-pay-http", Normal),
                    ("plaza-mini-http", Normal),
                    ("plaza-testkit", Dev),
                ],
            ),
            krate("plaza-testkit", &[("plaza-wx", Normal)]),
        ]
    }

    fn roles() -> Vec<(&'static str, Role)> {
        let mut roles = ROLES.to_vec();
        roles.push(("plaza-mini", Role::Domain));
        roles.push((
            "plaza-mini-http",
            Role::SystemHttp {
                domain: "plaza-mini",
            },
        ));
        roles
    }

    fn check(crates: &[Crate]) -> Vec<String> {
        let roles = roles();
        let legacy: &[(&str, &[&str])] = &[];
        violations(crates, &roles, BASE_EDGES, legacy)
    }

    /// Adds one dependency to `from` in the clean workspace and checks it.
    fn with_edge(from: &str, to: &str, kind: Kind) -> Vec<String> {
        let mut crates = clean();
        let krate = crates
            .iter_mut()
            .find(|krate| krate.name == from)
            .expect("a crate of the clean workspace");
        krate.dependencies.push(Dependency {
            name: to.to_owned(),
            kind,
        });
        check(&crates)
    }

    #[test]
    fn a_workspace_in_the_intended_shape_breaks_no_rule() {
        assert_eq!(check(&clean()), Vec::<String>::new());
    }

    #[test]
    fn each_forbidden_edge_is_reported_with_its_reason() {
        let cases = [
            (
                "plaza-pay",
                "plaza-mini",
                Kind::Normal,
                "base crates only, not a domain",
            ),
            ("plaza-pay", "plaza-store", Kind::Normal, "not a store"),
            ("plaza-pay", "plaza-http", Kind::Normal, "not a shared HTTP"),
            ("plaza-pay", "axum", Kind::Normal, "no HTTP framework"),
            ("plaza-ledger", "tower", Kind::Normal, "no HTTP framework"),
            ("plaza-kernel", "plaza-wx", Kind::Normal, "may know only []"),
            ("plaza-ledger", "plaza-wx", Kind::Normal, "may know only"),
            ("plaza-http", "plaza-pay", Kind::Normal, "not a domain"),
            (
                "plaza-http",
                "plaza-pay-http",
                Kind::Normal,
                "not a system HTTP",
            ),
            (
                "plaza-pay-http",
                "plaza-mini-http",
                Kind::Normal,
                "never knows another",
            ),
            (
                "plaza-pay-http",
                "plaza-mini",
                Kind::Normal,
                "its own domain (plaza-pay)",
            ),
            ("plaza-pay-http", "plaza-store", Kind::Normal, "not a store"),
            ("plaza-testkit", "plaza-pay", Kind::Normal, "not a domain"),
            (
                "plaza-pay",
                "plaza-testkit",
                Kind::Normal,
                "dev-dependency only",
            ),
            ("plaza-pay", "plaza-store", Kind::Dev, "not a store"),
            (
                "plaza-pay",
                "plaza",
                Kind::Build,
                "nothing depends on the binary",
            ),
        ];
        for (from, to, kind, reason) in cases {
            let found = with_edge(from, to, kind);
            assert!(
                found.len() == 1 && found[0].contains(to) && found[0].contains(reason),
                "{from} -> {to} ({kind:?}) should be refused for `{reason}`: {found:?}"
            );
        }
    }

    #[test]
    fn allowed_edges_pass() {
        for (from, to, kind) in [
            ("plaza-pay", "plaza-ledger", Kind::Normal),
            ("plaza-pay", "plaza-testkit", Kind::Dev),
            ("plaza-pay", "axum", Kind::Dev),
            ("plaza-pay-http", "plaza-identity", Kind::Normal),
            ("plaza-http", "plaza-identity", Kind::Normal),
            ("plaza", "plaza-pay", Kind::Normal),
        ] {
            assert_eq!(
                with_edge(from, to, kind),
                Vec::<String>::new(),
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn an_unclassified_crate_is_reported_with_what_to_do() {
        let mut crates = clean();
        crates.push(krate("plaza-mystery", &[("plaza-kernel", Kind::Normal)]));
        crates[0].dependencies.push(Dependency {
            name: "plaza-mystery".to_owned(),
            kind: Kind::Normal,
        });
        let found = check(&crates);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("plaza-mystery has no role: classify it in ROLES"),
            "{found:?}"
        );
    }

    #[test]
    fn a_system_http_crate_must_be_classified_as_one_and_serve_a_domain() {
        let mut roles = roles();
        roles.retain(|(name, _)| *name != "plaza-mini-http");
        roles.push(("plaza-mini-http", Role::Http));
        let legacy: &[(&str, &[&str])] = &[];
        let found = violations(&clean(), &roles, BASE_EDGES, legacy);
        assert!(
            found
                .iter()
                .any(|problem| problem.contains("classify it as Role::SystemHttp")),
            "{found:?}"
        );
    }

    #[test]
    fn a_legacy_crate_keeps_its_edges_gains_none_and_its_entry_goes_with_it() {
        let legacy: &[(&str, &[&str])] = &[("plaza-api", &["plaza-pay"])];
        let mut roles = roles();
        roles.push(("plaza-api", Role::Legacy));
        let mut crates = clean();
        crates.push(krate("plaza-api", &[("plaza-pay", Kind::Normal)]));
        assert_eq!(
            violations(&crates, &roles, BASE_EDGES, legacy),
            Vec::<String>::new()
        );
        crates
            .last_mut()
            .expect("plaza-api")
            .dependencies
            .push(Dependency {
                name: "plaza-mini".to_owned(),
                kind: Kind::Normal,
            });
        let found = violations(&crates, &roles, BASE_EDGES, legacy);
        assert!(found[0].contains("gains no edges"), "{found:?}");
        let found = violations(&clean(), &roles, BASE_EDGES, legacy);
        assert_eq!(
            found,
            ["plaza-api is gone: delete its Legacy entry from ROLES and LEGACY_EDGES"]
        );
    }
}
