//! JSON bodies read strictly. serde's derived `Deserialize` reads a struct from a sequence as
//! well as from a map (`["a", "b"]` for `{"x": "a", "y": "b"}`), so without this an array sent
//! where the API documents an object would be accepted, field by field. [`from_slice`] wraps the
//! JSON deserializer in [`Strict`], which refuses a sequence wherever a struct or a struct
//! variant is expected, at any depth, and keeps serde's path to the offending value.
//!
//! Values that serde buffers before deciding (untagged enums, `flatten`) are read by serde's own
//! buffer, not through [`Strict`]: they keep serde's leniency (none of the API's types use a
//! struct inside them).

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

/// The error of a strict read: serde_json's, with the path to the value it is about.
#[derive(Debug)]
pub struct Error {
    /// serde_path_to_error's path (`records.label`, `list[0]`); `.` for the whole body.
    path: String,
    inner: serde_json::Error,
}

impl Error {
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn inner(&self) -> &serde_json::Error {
        &self.inner
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.path == "." {
            write!(f, "{}", self.inner)
        } else {
            write!(f, "{}: {}", self.path, self.inner)
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.inner)
    }
}

/// Reads one JSON value of type `T` from `bytes`, refusing trailing characters and any array
/// given for a struct.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(Strict(&mut de)).map_err(|e| Error {
        path: e.path().to_string(),
        inner: e.into_inner(),
    })?;
    de.end().map_err(|inner| Error {
        path: ".".into(),
        inner,
    })?;
    Ok(value)
}

/// A deserializer that hands every nested value to [`Strict`] again and refuses a sequence for
/// a struct.
pub struct Strict<D>(pub D);

/// A visitor passed down by [`Strict`]: forwards to the caller's visitor, wrapping what it is
/// given; `structure` is set when the caller asked for a struct.
struct Wrap<V> {
    inner: V,
    structure: bool,
}

impl<V> Wrap<V> {
    fn any(inner: V) -> Self {
        Wrap {
            inner,
            structure: false,
        }
    }

    fn structure(inner: V) -> Self {
        Wrap {
            inner,
            structure: true,
        }
    }
}

macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method($($arg,)* Wrap::any(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any(); deserialize_bool(); deserialize_i8(); deserialize_i16();
        deserialize_i32(); deserialize_i64(); deserialize_i128(); deserialize_u8();
        deserialize_u16(); deserialize_u32(); deserialize_u64(); deserialize_u128();
        deserialize_f32(); deserialize_f64(); deserialize_char(); deserialize_str();
        deserialize_string(); deserialize_bytes(); deserialize_byte_buf(); deserialize_option();
        deserialize_unit(); deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str); deserialize_seq();
        deserialize_tuple(len: usize); deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map(); deserialize_identifier(); deserialize_ignored_any();
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_struct(name, fields, Wrap::structure(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool); visit_i8(i8); visit_i16(i16); visit_i32(i32); visit_i64(i64);
        visit_i128(i128); visit_u8(u8); visit_u16(u16); visit_u32(u32); visit_u64(u64);
        visit_u128(u128); visit_f32(f32); visit_f64(f64); visit_char(char); visit_str(&str);
        visit_borrowed_str(&'de str); visit_string(String); visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]); visit_byte_buf(Vec<u8>);
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
        self.inner.visit_some(Strict(d))
    }

    fn visit_newtype_struct<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
        self.inner.visit_newtype_struct(Strict(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        if self.structure {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        }
        self.inner.visit_seq(Strict(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_map(Strict(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_enum(Strict(data))
    }
}

/// A seed whose deserializer is wrapped in [`Strict`].
struct Seed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(Strict(d))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Strict<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Strict<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Seed(seed))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Strict<A> {
    type Error = A::Error;
    type Variant = Strict<A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let (value, variant) = self.0.variant_seed(Seed(seed))?;
        Ok((value, Strict(variant)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Strict<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Seed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Wrap::any(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, Wrap::structure(visitor))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::from_slice;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Record {
        id: String,
        #[serde(default)]
        label: Option<String>,
        version: u64,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Action {
        Block,
        Send { upstream: String },
        Pair(u8, u8),
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Body {
        records: BTreeMap<String, Record>,
        #[serde(default)]
        list: Vec<Record>,
        #[serde(default)]
        maybe: Option<Record>,
        #[serde(default)]
        actions: Vec<Action>,
        #[serde(default)]
        pair: Option<(u8, String)>,
    }

    #[test]
    fn objects_sequences_tuples_and_enums_read_as_serde_reads_them() {
        let json = br#"{"records": {"a": {"id": "a", "version": 1}},
            "list": [{"id": "b", "label": "x", "version": 2}],
            "maybe": {"id": "c", "version": 3},
            "actions": ["block", {"send": {"upstream": "u"}}, {"pair": [1, 2]}],
            "pair": [7, "seven"]}"#;
        let strict: Body = from_slice(json).expect("valid body");
        let lenient: Body = serde_json::from_slice(json).expect("valid body");
        assert_eq!(strict, lenient);
        assert_eq!(strict.actions[2], Action::Pair(1, 2));
    }

    #[test]
    fn an_array_for_a_struct_is_refused_at_any_depth_with_its_path() {
        let top = br#"["a", null, 1]"#;
        assert!(
            serde_json::from_slice::<Record>(top).is_ok(),
            "serde alone accepts it"
        );
        let err = from_slice::<Record>(top).expect_err("an array for a struct");
        assert!(
            err.inner().to_string().contains("invalid type: sequence"),
            "{err}"
        );

        let cases: [(&[u8], &str); 4] = [
            (
                br#"{"records": {"label": ["a", null, 1]}}"#,
                "records.label",
            ),
            (br#"{"records": {}, "list": [["a", null, 1]]}"#, "list[0]"),
            (br#"{"records": {}, "maybe": ["a", null, 1]}"#, "maybe"),
            (
                br#"{"records": {}, "actions": [{"send": ["u"]}]}"#,
                "actions[0].send",
            ),
        ];
        for (json, path) in cases {
            let text = String::from_utf8_lossy(json);
            assert!(
                serde_json::from_slice::<Body>(json).is_ok(),
                "serde alone accepts {text}"
            );
            let err = from_slice::<Body>(json).expect_err("an array for a struct");
            assert_eq!(err.path(), path, "{text}: {err}");
            assert!(
                err.inner().to_string().contains("invalid type: sequence"),
                "{err}"
            );
        }
    }

    #[test]
    fn trailing_characters_are_refused() {
        let err = from_slice::<Record>(br#"{"id": "a", "version": 1} x"#).expect_err("trailing");
        assert!(err.inner().to_string().contains("trailing"), "{err}");
    }
}
