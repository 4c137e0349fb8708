//! Deterministic vertex ids: UUIDv5 over a key made only of logical facts.
//!
//! This module alone decides what an id is. A key is a chain of segments from a package down to an
//! item: the package (its name; its version too when it is not a workspace member), the crate
//! target (kind and name), the module path, the item's kind and name, and a disambiguator where
//! siblings would otherwise collide. Nothing machine- or run-specific (absolute paths, counters,
//! thread order, timestamps) may reach a key: the same code gives the same ids everywhere.

use std::fmt;

use uuid::Uuid;

use crate::model::VertexKind;

/// The namespace of every cargo-codegraph id. Never change it: every stored graph depends on it.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x5f1d_2c3e_8a4b_4c6d_9e7f_0a1b_2c3d_4e5f);

/// Separates the levels of a key (package, crate, module, item).
const LEVEL: char = '\u{1e}';
/// Separates the fields within one level (kind, name, disambiguator).
const FIELD: char = '\u{1f}';

/// The logical key of a vertex. Its UUIDv5 is the vertex id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Key(String);

impl Key {
    /// A package: workspace members are known by name alone (a workspace cannot hold two members
    /// of one name); other packages by name and version, since one graph may hold several
    /// versions of a dependency.
    pub fn package(name: &str, version: Option<&str>) -> Key {
        let mut key = format!("package{FIELD}{name}");
        if let Some(version) = version {
            key.push(FIELD);
            key.push_str(version);
        }
        Key(key)
    }

    /// Something outside the indexed set, known by its resolved path (`std::fmt::Debug`).
    pub fn extern_item(path: &str) -> Key {
        Key(format!("extern{FIELD}{path}"))
    }

    /// A child of this vertex, known by its kind and name.
    pub fn child(&self, kind: VertexKind, name: &str) -> Key {
        let mut key = String::with_capacity(self.0.len() + kind.as_str().len() + name.len() + 2);
        key.push_str(&self.0);
        key.push(LEVEL);
        key.push_str(kind.as_str());
        key.push(FIELD);
        key.push_str(name);
        Key(key)
    }

    /// This key, told apart from siblings of the same kind and name by `disambiguator`.
    pub fn disambiguated(mut self, disambiguator: &str) -> Key {
        self.0.push(FIELD);
        self.0.push_str(disambiguator);
        self
    }

    pub fn id(&self) -> Uuid {
        Uuid::new_v5(&NAMESPACE, self.0.as_bytes())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Shows the separators as `/` and `:` so that a key reads like a path in test output.
        let readable: String = self
            .0
            .chars()
            .map(|c| match c {
                LEVEL => '/',
                FIELD => ':',
                c => c,
            })
            .collect();
        write!(f, "Key({readable})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_across_releases() {
        // A changed value here means every stored graph changes id: that needs a schema bump.
        let key = Key::package("demo", None).child(VertexKind::Crate, "lib:demo");
        assert_eq!(key.id().to_string(), "2b42124f-c5ce-54a6-9cc9-c057555e3263");
    }

    #[test]
    fn fields_cannot_run_into_each_other() {
        let a = Key::package("a", None).child(VertexKind::Function, "bc");
        let b = Key::package("ab", None).child(VertexKind::Function, "c");
        assert_ne!(a.id(), b.id());
        let c = Key::package("a", None).child(VertexKind::Function, "b").disambiguated("c");
        let d = Key::package("a", None).child(VertexKind::Function, "b").child(VertexKind::Function, "c");
        assert_ne!(c.id(), d.id());
    }

    #[test]
    fn version_separates_packages_outside_the_workspace() {
        let member = Key::package("serde", None);
        let v1 = Key::package("serde", Some("1.0.0"));
        let v2 = Key::package("serde", Some("1.0.1"));
        assert_ne!(member.id(), v1.id());
        assert_ne!(v1.id(), v2.id());
    }
}
