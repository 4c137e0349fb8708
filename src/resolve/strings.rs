//! The strings a value holds, read through its `Serialize` without encoding it.
//!
//! `names` needs every string of an item's names and of its shape (each identifier in them is a
//! name it mentions). A packed record's names are MessagePack bytes, walked as they are
//! (`names::visit_strings`); an open record or a shape used to be encoded first, only to be
//! walked and thrown away. `for_each_string` hands the same strings to the callback straight
//! from the value: every `str` and `char`, in order, but an enum's variant names, a struct's
//! field names and a map's keys (ours, not the code's: in `rmp_serde`'s form a map is an enum's
//! variant, and `visit_strings` skips its keys too). Bytes are no strings. A unit variant's name,
//! which `rmp_serde` writes as a string, is not visited here either: `TypeExpr::Unknown` was
//! taken for a mention of a name `Unknown` (a crate indexed again that need not be; a packed
//! record's walk still takes it so, which only ever errs that way).

use serde::Serialize;
use serde::ser;

/// Calls `on_str` with every string `value` holds (see the module's comment).
pub fn for_each_string<T: Serialize + ?Sized>(value: &T, on_str: &mut dyn FnMut(&str)) {
    // Our serializer has no error of its own; a value's `Serialize` that fails stops the visit
    // where it failed, as encoding it would have.
    let _ = value.serialize(&mut Strings { on_str });
}

struct Strings<'a> {
    on_str: &'a mut dyn FnMut(&str),
}

/// A value's own `Serialize` failing (`ser::Error::custom`); nothing here makes one.
#[derive(Debug)]
struct Failed;

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a value could not be serialized")
    }
}

impl std::error::Error for Failed {}

impl ser::Error for Failed {
    fn custom<T: std::fmt::Display>(_: T) -> Failed {
        Failed
    }
}

/// The numbers, booleans and units a value holds: nothing to visit.
macro_rules! skip {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, _: $ty) -> Result<(), Failed> {
            Ok(())
        })*
    };
}

impl ser::Serializer for &mut Strings<'_> {
    type Ok = ();
    type Error = Failed;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    skip!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    );

    fn serialize_char(self, c: char) -> Result<(), Failed> {
        (self.on_str)(c.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, text: &str) -> Result<(), Failed> {
        (self.on_str)(text);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), Failed> {
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Failed> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Failed> {
        Ok(())
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), Failed> {
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), Failed> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        value: &T,
    ) -> Result<(), Failed> {
        value.serialize(self)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self, Failed> {
        Ok(self)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self, Failed> {
        Ok(self)
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, Failed> {
        Ok(self)
    }

    fn serialize_tuple_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self, Failed> {
        Ok(self)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self, Failed> {
        Ok(self)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Failed> {
        Ok(self)
    }

    fn serialize_struct_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self, Failed> {
        Ok(self)
    }
}

/// The elements of sequences, tuples and the like: each visited in turn.
macro_rules! elements {
    ($($trait:ident::$method:ident),* $(,)?) => {
        $(impl ser::$trait for &mut Strings<'_> {
            type Ok = ();
            type Error = Failed;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Failed> {
                value.serialize(&mut **self)
            }

            fn end(self) -> Result<(), Failed> {
                Ok(())
            }
        })*
    };
}

elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

/// A struct's fields, by value (their names are ours).
macro_rules! fields {
    ($($trait:ident),* $(,)?) => {
        $(impl ser::$trait for &mut Strings<'_> {
            type Ok = ();
            type Error = Failed;

            fn serialize_field<T: Serialize + ?Sized>(&mut self, _: &'static str, value: &T) -> Result<(), Failed> {
                value.serialize(&mut **self)
            }

            fn end(self) -> Result<(), Failed> {
                Ok(())
            }
        })*
    };
}

fields!(SerializeStruct, SerializeStructVariant);

/// A map's values; its keys are skipped.
impl ser::SerializeMap for &mut Strings<'_> {
    type Ok = ();
    type Error = Failed;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), Failed> {
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Failed> {
        value.serialize(&mut **self)
    }

    fn end(self) -> Result<(), Failed> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings_of<T: Serialize + ?Sized>(value: &T) -> Vec<String> {
        let mut seen = Vec::new();
        for_each_string(value, &mut |text| seen.push(text.to_owned()));
        seen
    }

    /// What `names::visit_strings` finds in the value's encoding, but the name of the one unit
    /// variant of what an item names (`TypeExpr::Unknown`), which `rmp_serde` writes as a string.
    fn strings_encoded<T: Serialize + ?Sized>(value: &T) -> Vec<String> {
        let bytes = rmp_serde::to_vec(value).unwrap();
        let mut seen = Vec::new();
        assert!(super::super::names::visit_strings(&bytes, &mut |text| seen.push(text.to_owned())).is_some());
        seen.retain(|text| text != "Unknown");
        seen
    }

    #[test]
    fn every_string_is_visited_in_order_but_names_of_ours() {
        let value = (vec!["std::fmt", "Debug"], 42u32, Some(('c', vec![1u8, 2])), "last", ());
        assert_eq!(strings_of(&value), ["std::fmt", "Debug", "c", "last"]);
        let map: std::collections::BTreeMap<&str, &str> = [("key", "value")].into();
        assert_eq!(strings_of(&map), ["value"], "a map's keys are skipped");
        #[derive(Serialize)]
        enum E {
            Unit,
            Wraps(&'static str),
            Pair(&'static str, u8),
            Fields { named: &'static str },
        }
        let variants = [E::Unit, E::Wraps("a"), E::Pair("b", 1), E::Fields { named: "c" }];
        assert_eq!(strings_of(&variants), ["a", "b", "c"], "no variant or field name");
        assert_eq!(strings_of(&serde_bytes_like()), Vec::<String>::new(), "bytes are no strings");
    }

    /// Bytes serialized as bytes, not as a sequence of numbers.
    fn serde_bytes_like() -> impl Serialize {
        struct Raw;
        impl Serialize for Raw {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_bytes(b"not a name")
            }
        }
        Raw
    }

    /// On what parsing gives (every kind of name, types with arguments, calls, a record's shape),
    /// the strings are those the encoding holds, as `names` read them before: the names an item
    /// mentions did not change with the way they are read.
    #[test]
    fn the_strings_are_those_the_encoding_holds() {
        let text = "use std::{fmt::{self, Write as _}, io};\n\
                    #[derive(Clone, serde::Serialize)]\n\
                    pub struct S<T: Iterator<Item = u8>> { a: Vec<Option<T>>, b: [u8; 4], c: &'static str }\n\
                    impl<T: Iterator<Item = u8>> fmt::Debug for S<T> {\n\
                        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {\n\
                            let x: Box<dyn Fn(u8) -> u8> = Box::new(|v| v + 1);\n\
                            write!(f, \"{}\", x(self.b[0])); f.debug_struct(\"S\").finish()\n\
                        }\n\
                    }\n\
                    pub fn g<'a>(v: &'a [(u8, char)], w: impl Into<String>) -> Result<crate::a::B, E> {\n\
                        let _ = <Vec<u8> as Default>::default(); h::<T>(v.len(), w.into()); MAX\n\
                    }";
        let facts = crate::parse::parse_file(text).unwrap();
        let mut compared = 0;
        let mut each = |refs: &crate::parse::Refs| {
            assert_eq!(strings_of(refs), strings_encoded(refs));
            compared += 1;
        };
        each(&facts.refs);
        for item in &facts.items {
            each(&item.refs);
            item.children.iter().for_each(|child| each(&child.refs));
        }
        assert!(compared >= 4, "{compared} refs compared");
        let record = crate::resolve::Shape::Function {
            returns: crate::parse::TypeExpr::Path(
                crate::parse::PathRef::single("Result"),
                vec![crate::parse::TypeExpr::Path(crate::parse::PathRef::single("Thing"), Vec::new())],
            ),
            inputs: vec![crate::parse::TypeExpr::Unknown],
            receiver: true,
        };
        assert_eq!(strings_of(&record), ["Result", "Thing"]);
        assert_eq!(strings_of(&record), strings_encoded(&record));
    }
}
