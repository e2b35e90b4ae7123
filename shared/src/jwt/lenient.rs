//! Reading JSON whose members may be of the wrong type without refusing the whole document:
//! a header member that is not a string reads as absent, a JWK of an unknown shape is
//! skipped.
//!
//! Written as visitors rather than `#[serde(untagged)]`, which buffers every value in serde's
//! `Content` tree to try each variant: in the SPA that machinery alone weighed more than the
//! rules it served.

use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::Audience;
use super::jwk::Jwk;

/// The `visit_*` of booleans, numbers and `null`, for a visitor whose value is an `Option`:
/// `None`.
macro_rules! other_scalars_read_as_none {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    };
}

/// A string, or `None` for any other JSON value (read through, not kept).
pub struct Text;

impl<'de> Visitor<'de> for Text {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Some(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(Some(value))
    }

    other_scalars_read_as_none!();

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| None)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        IgnoredAny.visit_map(map).map(|_| None)
    }
}

/// Strings, or `None` for any other JSON value: `key_ops`.
struct Strings;

impl<'de> Visitor<'de> for Strings {
    type Value = Option<Vec<String>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut all = Some(Vec::new());
        while let Some(item) = seq.next_element_seed(Lenient(Text))? {
            match (item, all.as_mut()) {
                (Some(text), Some(all)) => all.push(text),
                _ => all = None,
            }
        }
        Ok(all)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        IgnoredAny.visit_map(map).map(|_| None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    other_scalars_read_as_none!();
}

/// A visitor used as a seed: reads one value of any type with it.
struct Lenient<V>(V);

impl<'de, V: Visitor<'de>> de::DeserializeSeed<'de> for Lenient<V> {
    type Value = V::Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        deserializer.deserialize_any(self.0)
    }
}

/// `aud`: a string or an array of strings, and nothing else.
pub struct StringOrStrings;

impl<'de> Visitor<'de> for StringOrStrings {
    type Value = Audience;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Audience, E> {
        Ok(Audience::One(value.to_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
        let mut all = Vec::new();
        while let Some(aud) = seq.next_element::<String>()? {
            all.push(aud);
        }
        Ok(Audience::Many(all))
    }
}

/// A JWK set's `keys`: the entries that are JWKs, the others skipped.
pub struct Keys;

impl<'de> Visitor<'de> for Keys {
    type Value = Vec<Jwk>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of JWKs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Jwk>, A::Error> {
        let mut keys = Vec::new();
        while let Some(entry) = seq.next_element_seed(Lenient(MaybeJwk))? {
            keys.extend(entry);
        }
        Ok(keys)
    }
}

/// A JWK: an object with a string `kty`; its other members read leniently (a member of the
/// wrong type reads as absent). Anything else is `None`.
pub struct MaybeJwk;

impl<'de> Visitor<'de> for MaybeJwk {
    type Value = Option<Jwk>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWK")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Jwk>, A::Error> {
        let mut jwk = Jwk::default();
        let mut kty = None;
        while let Some(name) = map.next_key::<String>()? {
            let text = |map: &mut A| map.next_value_seed(Lenient(Text));
            match name.as_str() {
                "kty" => kty = text(&mut map)?,
                "kid" => jwk.kid = text(&mut map)?,
                "use" => jwk.key_use = text(&mut map)?,
                "alg" => jwk.alg = text(&mut map)?,
                "n" => jwk.n = text(&mut map)?,
                "e" => jwk.e = text(&mut map)?,
                "key_ops" => jwk.key_ops = map.next_value_seed(Lenient(Strings))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(kty.map(|kty| Jwk { kty, ..jwk }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Option<Jwk>, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    other_scalars_read_as_none!();
}
