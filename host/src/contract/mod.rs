//! The host side of the WIT contract `infragen:generator`.
//!
//! One module per supported contract version (`v0_1` for `0.1.x`), the way
//! Zed keeps `since_v*` modules: when the contract grows, the old module stays
//! so plugins built against it keep loading.

pub mod v0_1;

use std::fmt;

/// The WIT package every plugin is built against.
pub const PACKAGE: &str = "infragen:generator";

/// The interface a plugin exports (`generate` lives there).
pub const EXPORTED_INTERFACE: &str = "plugin";

/// The interfaces a plugin may import from the host.
pub const IMPORTED_INTERFACES: &[&str] =
    &["types", "graphql", "nodes", "pools", "tracking", "logging"];

/// The contract version this host implements.
pub const HOST_VERSION: Version = Version {
    major: 0,
    minor: 1,
    patch: 0,
};

/// A semver version of the contract package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// Incompatible changes (for `0.x`, the minor number plays this role).
    pub major: u64,
    /// Additions.
    pub minor: u64,
    /// Fixes that change no signature.
    pub patch: u64,
}

impl Version {
    /// Parses `MAJOR.MINOR.PATCH` (pre-release and build suffixes are refused:
    /// the contract is never published as a pre-release).
    pub fn parse(text: &str) -> Option<Version> {
        let mut parts = text.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = parts.next()?.parse().ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
        })
    }

    /// Whether a host implementing `self` can run a plugin built against
    /// `plugin`: semver caret rules (same major, or same minor while the major
    /// is 0) and the plugin no newer than the host, since a newer minor may
    /// import functions this host lacks.
    pub fn accepts(self, plugin: Version) -> bool {
        let same_line = if self.major == 0 {
            plugin.major == 0 && plugin.minor == self.minor
        } else {
            plugin.major == self.major
        };
        same_line && plugin <= self
    }

    /// The range of plugin versions this host accepts, for error messages.
    pub fn accepted_range(self) -> String {
        if self.major == 0 {
            format!("{}.{}.0 to {self}", self.major, self.minor)
        } else {
            format!("{}.0.0 to {self}", self.major)
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Splits a component import/export name such as
/// `infragen:generator/nodes@0.1.0` into `(package, interface, version)`.
/// Returns `None` for names without a package (plain world-level functions).
pub fn split_interface_name(name: &str) -> Option<(&str, &str, Option<&str>)> {
    let (path, version) = match name.split_once('@') {
        Some((path, version)) => (path, Some(version)),
        None => (name, None),
    };
    let (package, interface) = path.split_once('/')?;
    Some((package, interface, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).expect("valid version")
    }

    #[test]
    fn zero_major_accepts_only_the_same_minor_no_newer_than_the_host() {
        let host = v("0.1.3");
        assert!(host.accepts(v("0.1.0")));
        assert!(host.accepts(v("0.1.3")));
        assert!(
            !host.accepts(v("0.1.4")),
            "a newer patch may rely on fixes we lack"
        );
        assert!(!host.accepts(v("0.2.0")));
        assert!(!host.accepts(v("0.0.9")));
        assert!(!host.accepts(v("1.1.0")));
    }

    #[test]
    fn stable_major_accepts_older_minors() {
        let host = v("1.4.0");
        assert!(host.accepts(v("1.0.0")));
        assert!(host.accepts(v("1.4.0")));
        assert!(!host.accepts(v("1.5.0")));
        assert!(!host.accepts(v("2.0.0")));
        assert!(!host.accepts(v("0.1.0")));
    }

    #[test]
    fn version_parsing_refuses_partial_and_prerelease_versions() {
        assert_eq!(Version::parse("0.1"), None);
        assert_eq!(Version::parse("0.1.0-rc1"), None);
        assert_eq!(Version::parse("0.1.0.1"), None);
        assert_eq!(v("10.20.30").to_string(), "10.20.30");
    }

    #[test]
    fn interface_names_split_into_package_interface_and_version() {
        assert_eq!(
            split_interface_name("infragen:generator/nodes@0.1.0"),
            Some(("infragen:generator", "nodes", Some("0.1.0")))
        );
        assert_eq!(
            split_interface_name("wasi:io/streams@0.2.6"),
            Some(("wasi:io", "streams", Some("0.2.6")))
        );
        assert_eq!(split_interface_name("hello"), None);
    }
}
