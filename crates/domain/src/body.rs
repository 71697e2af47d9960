//! Reading a request body: one JSON object, read in a single pass without building a
//! tree, its strings borrowed from the body where they need no unescaping. Every key is
//! matched against the fields of a lead; unknown keys are collected to be named in the
//! answer. A key that appears twice makes the body malformed: parsers that disagree on
//! which duplicate wins are a classic way to smuggle a value past a check.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::MalformedJson;

/// A field's value, as far as the parser cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scalar<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    Null,
    /// A number, an array or an object.
    Other,
}

/// The keys of a JSON object that are fields of a lead, in the order errors are
/// reported, and the unknown ones.
pub(crate) struct Object<'a> {
    values: Vec<Option<Scalar<'a>>>,
    pub unknown: Vec<String>,
}

impl<'a> Object<'a> {
    /// The value of `field` (one of the `fields` the object was read with), leaving
    /// `None` behind.
    pub fn take(&mut self, index: usize) -> Option<Scalar<'a>> {
        self.values.get_mut(index).and_then(Option::take)
    }
}

/// The longest unknown key named back (in characters), and how many are named at most.
const SHOWN_KEY_CHARS: usize = 64;
const SHOWN_KEYS: usize = 32;
const DUPLICATE: &str = "duplicate key";

/// Reads `body` as one JSON object whose known keys are `fields`.
pub(crate) fn read_object<'a>(
    body: &'a [u8],
    fields: &[&str],
) -> Result<Object<'a>, MalformedJson> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let object = deserializer
        .deserialize_any(TopLevel { fields })
        .and_then(|object| deserializer.end().map(|()| object))
        .map_err(|error| {
            if error.to_string().starts_with(DUPLICATE) {
                MalformedJson {
                    problem: "a key appears twice in the object",
                    line: error.line(),
                    column: error.column(),
                }
            } else {
                MalformedJson::from_serde(&error)
            }
        })?;
    object.ok_or(MalformedJson {
        problem: "the body must be a JSON object",
        line: 1,
        column: 1,
    })
}

/// The body: an object (`Some`), or any other JSON value (`None`).
struct TopLevel<'f> {
    fields: &'f [&'f str],
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = Option<Object<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = Object {
            values: vec![None; self.fields.len()],
            unknown: Vec::new(),
        };
        let mut unknown_seen: Vec<Cow<'de, str>> = Vec::new();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            match self.fields.iter().position(|f| *f == key) {
                Some(index) => {
                    if object.values[index].is_some() {
                        return Err(de::Error::custom(DUPLICATE));
                    }
                    object.values[index] = Some(map.next_value::<Scalar<'de>>()?);
                }
                None => {
                    if unknown_seen.contains(&key) {
                        return Err(de::Error::custom(DUPLICATE));
                    }
                    map.next_value::<IgnoredAny>()?;
                    if object.unknown.len() < SHOWN_KEYS {
                        object
                            .unknown
                            .push(key.chars().take(SHOWN_KEY_CHARS).collect());
                    }
                    unknown_seen.push(key);
                }
            }
        }
        object.unknown.sort();
        Ok(Some(object))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

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

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A string, borrowed from the body when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

impl<'de> de::Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Bool(v))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[&str] = &["name", "consent"];

    #[test]
    fn known_keys_are_read_and_strings_borrowed_when_unescaped() {
        let body = br#"{"name": "Hong", "consent": true, "extra": [1, {"a": 2}]}"#;
        let mut object = read_object(body, FIELDS).unwrap();
        assert!(matches!(
            object.take(0),
            Some(Scalar::Str(Cow::Borrowed("Hong")))
        ));
        assert_eq!(object.take(1), Some(Scalar::Bool(true)));
        assert_eq!(object.take(1), None, "taken");
        assert_eq!(object.unknown, vec!["extra"]);
        let escaped = read_object(br#"{"name": "Ho\"ng"}"#, FIELDS)
            .unwrap()
            .take(0);
        assert_eq!(escaped, Some(Scalar::Str(Cow::Owned("Ho\"ng".to_owned()))));
    }

    #[test]
    fn a_duplicate_key_known_or_unknown_is_malformed_with_its_position() {
        for body in [
            &br#"{"name": "a", "name": "b"}"#[..],
            br#"{"x": 1, "consent": true, "x": 2}"#,
            br#"{"name": null, "name": "b"}"#,
        ] {
            let error = read_object(body, FIELDS).err().unwrap();
            assert_eq!(
                error.problem, "a key appears twice in the object",
                "{body:?}"
            );
            assert_eq!(error.line, 1);
            assert!(error.column > 10);
        }
    }

    #[test]
    fn anything_but_one_object_is_malformed() {
        for (body, problem) in [
            (&b"[1, 2]"[..], "the body must be a JSON object"),
            (b"\"text\"", "the body must be a JSON object"),
            (b"42", "the body must be a JSON object"),
            (b"{} {}", "invalid JSON syntax"),
            (b"{\"name\": ", "unexpected end of input"),
        ] {
            assert_eq!(
                read_object(body, FIELDS).err().unwrap().problem,
                problem,
                "{body:?}"
            );
        }
    }
}
