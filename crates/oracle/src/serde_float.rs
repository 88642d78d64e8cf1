//! Serde helpers for `f64` values that may be infinite or NaN.
//!
//! JSON has no infinity or NaN, and serde_json writes them as `null`, which would turn
//! "the kernel produced NaN" into "no value". These helpers write a finite value as a
//! number and a non-finite one as the string `"inf"`, `"-inf"` or `"nan"`, and read both
//! forms back.

use serde::de::{self, Deserializer, Visitor};
use serde::Serializer;
use std::fmt;

/// Serialises `v` as a number when finite, else as `"inf"`, `"-inf"` or `"nan"`.
pub(crate) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else if v.is_nan() {
        s.serialize_str("nan")
    } else if *v > 0.0 {
        s.serialize_str("inf")
    } else {
        s.serialize_str("-inf")
    }
}

/// Reads a number, or one of the strings that [`serialize`] writes.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_any(FloatVisitor)
}

struct FloatVisitor;

impl Visitor<'_> for FloatVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, or \"inf\", \"-inf\" or \"nan\"")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        match v {
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            "nan" => Ok(f64::NAN),
            other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug)]
    struct W {
        #[serde(with = "super")]
        x: f64,
    }

    #[test]
    fn round_trips_finite_and_non_finite() {
        for (x, text) in [
            (1.5, r#"{"x":1.5}"#),
            (f64::INFINITY, r#"{"x":"inf"}"#),
            (f64::NEG_INFINITY, r#"{"x":"-inf"}"#),
            (f64::NAN, r#"{"x":"nan"}"#),
        ] {
            let s = serde_json::to_string(&W { x }).unwrap();
            assert_eq!(s, text);
            let back: W = serde_json::from_str(&s).unwrap();
            assert!(back.x == x || (back.x.is_nan() && x.is_nan()));
        }
        let w: W = serde_json::from_str(r#"{"x":3}"#).unwrap();
        assert_eq!(w.x, 3.0);
        assert!(serde_json::from_str::<W>(r#"{"x":"big"}"#).is_err());
    }
}
