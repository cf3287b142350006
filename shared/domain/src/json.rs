//! JSON numbers as JSON Schema reads them: `5.0` is the integer 5 (it is, to a JSON Schema
//! validator and to clients in languages without integers), so whole-number fields accept it;
//! `5.5`, negative or too large numbers stay errors.

use serde::{Deserialize, Deserializer};

/// A whole number in `0..=max`, written as an integer or as a float without fraction.
fn whole<'de, D: Deserializer<'de>>(d: D, max: u64) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Number {
        Int(u64),
        Float(f64),
    }
    let n = match Number::deserialize(d)? {
        Number::Int(n) => Some(n),
        Number::Float(f) if f.fract() == 0.0 && (0.0..=max as f64).contains(&f) => Some(f as u64),
        Number::Float(_) => None,
    };
    n.filter(|n| *n <= max).ok_or_else(|| serde::de::Error::custom(format!("expected a whole number from 0 to {max}")))
}

pub fn u32_whole<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    whole(d, u64::from(u32::MAX)).map(|n| n as u32)
}

pub fn opt_u32_whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    struct W(#[serde(deserialize_with = "u32_whole")] u32);
    Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
}

pub fn opt_u64_whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    struct W(#[serde(deserialize_with = "u64_whole")] u64);
    fn u64_whole<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        // Integers above 2^53 are not exact as floats: the float form is accepted only below.
        whole(d, u64::MAX)
    }
    Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct T {
        #[serde(deserialize_with = "super::u32_whole")]
        days: u32,
        #[serde(default, deserialize_with = "super::opt_u64_whole")]
        version: Option<u64>,
    }

    fn days(json: &str) -> Option<u32> {
        serde_json::from_str::<T>(json).ok().map(|t| t.days)
    }

    #[test]
    fn whole_numbers_in_either_form() {
        assert_eq!(days(r#"{"days": 5}"#), Some(5));
        assert_eq!(days(r#"{"days": 5.0}"#), Some(5));
        assert_eq!(days(r#"{"days": 5.5}"#), None);
        assert_eq!(days(r#"{"days": -1}"#), None);
        assert_eq!(days(r#"{"days": 4294967296}"#), None);
        assert_eq!(days(r#"{"days": 1e300}"#), None);
        let t: T = serde_json::from_str(r#"{"days": 1, "version": 7.0}"#).unwrap();
        assert_eq!(t.version, Some(7));
        let t: T = serde_json::from_str(r#"{"days": 1, "version": null}"#).unwrap();
        assert_eq!(t.version, None);
    }
}
