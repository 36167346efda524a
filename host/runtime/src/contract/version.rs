//! Version numbers of the contract, as found in a component's export and import names
//! (`omnicrm:payments/charging@0.1.0`), and how they compare.

use std::fmt;

/// A contract version, `major.minor.patch`.
///
/// A pre-release or build suffix (`0.1.0-rc.1`, `0.1.0+abc`) is accepted and ignored: the host
/// serves version lines (every `0.1.x` through the same bindings), so `0.1.0-rc.1` is of the
/// `0.1` line like `0.1.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Version {
    major: u64,
    minor: u64,
    patch: u64,
}

impl Version {
    /// The version `major.minor.patch`.
    pub(crate) const fn new(major: u64, minor: u64, patch: u64) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// Reads `major.minor.patch[-pre][+build]`; `None` for anything else.
    pub(crate) fn parse(text: &str) -> Option<Version> {
        let core = text.split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|part| part.parse::<u64>().ok());
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(Some(major)), Some(Some(minor)), Some(Some(patch)), None) => {
                Some(Version::new(major, minor, patch))
            }
            _ => None,
        }
    }

    /// The first version that is not semver-compatible with this one (the next minor version
    /// while the major is 0, the next major after that): the end of this version's line.
    pub(crate) const fn next_breaking(self) -> Version {
        if self.major == 0 {
            Version::new(0, self.minor + 1, 0)
        } else {
            Version::new(self.major + 1, 0, 0)
        }
    }

    /// The versions from `self` (included) to `end` (excluded) as messages quote them: `0.1.x`
    /// (or `1.x`) for one whole line, `>=0.1.0, <0.3.0` otherwise.
    pub(crate) fn range_to(self, end: Version) -> String {
        let line_start = if self.major == 0 {
            self.patch == 0
        } else {
            self.minor == 0 && self.patch == 0
        };
        match (line_start && end == self.next_breaking(), self.major) {
            (true, 0) => format!("0.{}.x", self.minor),
            (true, major) => format!("{major}.x"),
            (false, _) => format!(">={self}, <{end}"),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions_and_ignores_suffixes() {
        assert_eq!(Version::parse("0.1.0"), Some(Version::new(0, 1, 0)));
        assert_eq!(Version::parse("0.1.7"), Some(Version::new(0, 1, 7)));
        assert_eq!(Version::parse("0.1.0-rc.1"), Some(Version::new(0, 1, 0)));
        assert_eq!(Version::parse("1.2.3+build.5"), Some(Version::new(1, 2, 3)));
        for bad in ["", "0.1", "0.1.0.0", "a.b.c", "0..1", "-0.1.0"] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn lines_and_ranges() {
        let v0_1 = Version::new(0, 1, 0);
        assert_eq!(v0_1.next_breaking(), Version::new(0, 2, 0));
        assert_eq!(Version::new(1, 4, 2).next_breaking(), Version::new(2, 0, 0));
        assert!(Version::new(0, 1, 9) < Version::new(0, 2, 0));
        assert_eq!(v0_1.range_to(v0_1.next_breaking()), "0.1.x");
        assert_eq!(Version::new(1, 0, 0).range_to(Version::new(2, 0, 0)), "1.x");
        assert_eq!(
            Version::new(0, 1, 3).range_to(Version::new(0, 2, 0)),
            ">=0.1.3, <0.2.0"
        );
        assert_eq!(v0_1.range_to(Version::new(0, 3, 0)), ">=0.1.0, <0.3.0");
    }
}
