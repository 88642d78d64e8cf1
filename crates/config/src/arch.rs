use std::fmt;
use std::str::FromStr;

/// A CUDA SASS target such as `sm_80`, `sm_89`, `sm_90` or `sm_90a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Arch {
    /// Compute capability major (9 for sm_90).
    pub major: u32,
    /// Compute capability minor (0 for sm_90).
    pub minor: u32,
    /// Arch-specific feature set (`sm_90a`): true when the `a` suffix is present.
    pub arch_specific: bool,
}

impl Arch {
    /// The arch for a device's compute capability (no `a` suffix).
    pub fn from_compute_capability(major: u32, minor: u32) -> Self {
        Arch {
            major,
            minor,
            arch_specific: false,
        }
    }

    /// The virtual arch for PTX (`compute_90`, `compute_90a`).
    pub fn compute_name(&self) -> String {
        format!(
            "compute_{}{}{}",
            self.major,
            self.minor,
            if self.arch_specific { "a" } else { "" }
        )
    }

    /// Compute capability as a number, 90 for sm_90.
    pub fn number(&self) -> u32 {
        self.major * 10 + self.minor
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sm_{}{}{}",
            self.major,
            self.minor,
            if self.arch_specific { "a" } else { "" }
        )
    }
}

impl FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("`{s}` is not a CUDA arch (expected sm_XY, e.g. sm_80, sm_89, sm_90, sm_90a)")
        };
        let digits = s.strip_prefix("sm_").ok_or_else(bad)?;
        let (digits, arch_specific) = match digits.strip_suffix('a') {
            Some(d) => (d, true),
            None => (digits, false),
        };
        if digits.len() < 2 || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: u32 = digits.parse().map_err(|_| bad())?;
        let arch = Arch {
            major: n / 10,
            minor: n % 10,
            arch_specific,
        };
        if arch.number() < 70 {
            return Err(format!(
                "`{s}` is older than sm_70, which cudadent does not support"
            ));
        }
        Ok(arch)
    }
}

impl<'de> serde::Deserialize<'de> for Arch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Arch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders() {
        let a: Arch = "sm_80".parse().expect("sm_80");
        let b: Arch = "sm_90a".parse().expect("sm_90a");
        assert!(a < b);
        assert_eq!(b.to_string(), "sm_90a");
        assert_eq!(b.compute_name(), "compute_90a");
        assert_eq!("sm_100".parse::<Arch>().expect("sm_100").number(), 100);
    }

    #[test]
    fn rejects_nonsense() {
        for bad in ["sm90", "sm_", "sm_x0", "compute_90", "sm_61", "sm_9999"] {
            assert!(bad.parse::<Arch>().is_err(), "{bad} accepted");
        }
    }
}
