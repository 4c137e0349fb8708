//! The names every Rust module sees without importing them: the standard prelude (types,
//! traits, values), the standard library's macros, and the traits behind the built-in derives.
//!
//! Paths are given under `std`, whatever the crate is (`core` and `alloc` hold the same items):
//! one name for one item keeps the graph's `extern` vertices from splitting.

use super::Ns;

/// The item `name` stands for in namespace `ns` when nothing in scope defines it.
pub fn lookup(ns: Ns, name: &str) -> Option<&'static str> {
    match ns {
        Ns::Type => TYPES.iter().find(|(n, _)| *n == name).map(|(_, path)| *path),
        Ns::Value => VALUES.iter().find(|(n, _)| *n == name).map(|(_, path)| *path),
        Ns::Macro => MACROS.iter().find(|(n, _)| *n == name).map(|(_, path)| *path),
    }
}

/// The trait a built-in `#[derive(Name)]` implements, when `Name` is not in scope as a trait
/// (`Debug` and `Hash` are derivable without being in the prelude).
pub fn derived_trait(name: &str) -> Option<&'static str> {
    match name {
        "Debug" => Some("std::fmt::Debug"),
        "Hash" => Some("std::hash::Hash"),
        _ => lookup(Ns::Type, name),
    }
}

/// `std`, `core` and `alloc` are one library to the graph.
pub fn is_std_crate(name: &str) -> bool {
    matches!(name, "std" | "core" | "alloc")
}

/// Smart pointers that method calls see through (auto-deref to their first type argument).
pub fn derefs_to_argument(path: &str) -> bool {
    matches!(
        &*as_std(path),
        "std::boxed::Box"
            | "std::rc::Rc"
            | "std::sync::Arc"
            | "std::cell::Ref"
            | "std::cell::RefMut"
            | "std::sync::MutexGuard"
            | "std::sync::RwLockReadGuard"
            | "std::sync::RwLockWriteGuard"
            | "std::pin::Pin"
    )
}

/// The path `resolve` gives slices, arrays and iterators whose items it knows: no vertex has it.
pub const SEQUENCE: &str = "[]";

/// The path `resolve` gives tuples, whose type arguments are the elements: no vertex has it.
pub const TUPLE: &str = "()";

/// Whether iterating over the type at `path` yields its first type argument (a reference to it,
/// which method calls see through): std's sequences and sets, their iterators, `Option` and
/// `Result`.
pub fn yields_argument(path: &str) -> bool {
    let path = as_std(path);
    matches!(
        path.strip_prefix("std::").unwrap_or(&path),
        "[]" | "vec::Vec"
            | "Vec"
            | "collections::VecDeque"
            | "VecDeque"
            | "collections::vec_deque::VecDeque"
            | "collections::HashSet"
            | "HashSet"
            | "collections::hash_set::HashSet"
            | "collections::BTreeSet"
            | "BTreeSet"
            | "collections::btree_set::BTreeSet"
            | "collections::BinaryHeap"
            | "collections::LinkedList"
            | "option::Option"
            | "Option"
            | "result::Result"
            | "slice::Iter"
            | "slice::IterMut"
            | "vec::IntoIter"
    )
}

/// Iterator adapters (and `Vec`/slice methods) whose result yields the receiver's items.
pub fn keeps_items(method: &str) -> bool {
    matches!(
        method,
        "iter"
            | "iter_mut"
            | "into_iter"
            | "drain"
            | "filter"
            | "rev"
            | "skip"
            | "take"
            | "cloned"
            | "copied"
            | "peekable"
            | "chain"
            | "skip_while"
            | "take_while"
            | "step_by"
            | "inspect"
            | "by_ref"
            | "fuse"
            | "cycle"
            | "as_slice"
            | "as_mut_slice"
            | "to_vec"
            | "collect"
    )
}

/// Methods of sequences and iterators that give one item, as an `Option`.
pub fn gives_an_item(method: &str) -> bool {
    matches!(
        method,
        "next"
            | "next_back"
            | "last"
            | "first"
            | "nth"
            | "get"
            | "get_mut"
            | "first_mut"
            | "last_mut"
            | "pop"
            | "pop_front"
            | "pop_back"
            | "front"
            | "back"
            | "front_mut"
            | "back_mut"
            | "peek"
            | "find"
            | "max"
            | "min"
            | "max_by_key"
            | "min_by_key"
            | "max_by"
            | "min_by"
            | "reduce"
    )
}

/// std's public modules that re-export another module's items under a second path, with the
/// names they re-export: such a path is taken as the other, where std documents the items, so
/// that both spellings meet at one vertex (tokio implements `std::os::unix::io::AsRawFd`, which
/// is `std::os::fd::AsRawFd`).
const STD_FACADES: &[(&str, &str, &[&str])] = &[
    ("std::os::unix::io::", "std::os::fd::", FD_ITEMS),
    ("std::os::wasi::io::", "std::os::fd::", FD_ITEMS),
    ("std::os::unix::prelude::", "std::os::fd::", FD_ITEMS),
    ("std::io::prelude::", "std::io::", &["BufRead", "Read", "Seek", "Write"]),
];

const FD_ITEMS: &[&str] = &["AsFd", "AsRawFd", "BorrowedFd", "FromRawFd", "IntoRawFd", "OwnedFd", "RawFd"];

/// The path std documents `path` at, when `path` goes through one of its re-exporting modules
/// (`STD_FACADES`).
pub fn std_facade(path: &str) -> Option<String> {
    STD_FACADES.iter().find_map(|(facade, home, names)| {
        let name = path.strip_prefix(facade)?;
        names.contains(&name).then(|| format!("{home}{name}"))
    })
}

/// `core::x` and `alloc::x` as `std::x`, where std re-exports them under the same path.
fn as_std(path: &str) -> std::borrow::Cow<'_, str> {
    match path.strip_prefix("core::").or_else(|| path.strip_prefix("alloc::")) {
        Some(rest) => std::borrow::Cow::Owned(format!("std::{rest}")),
        None => std::borrow::Cow::Borrowed(path),
    }
}

/// `Option` and `Result`, whose `?`, `unwrap()` and `expect()` give their first type argument.
pub fn unwraps_to_argument(path: &str) -> bool {
    matches!(&*as_std(path), "std::option::Option" | "std::result::Result")
}

/// `Fn`, `FnMut`, `FnOnce`: a closure's traits, whose arguments are its parameters' types.
pub fn is_fn_trait(path: &str) -> bool {
    matches!(path.rsplit("::").next(), Some("Fn" | "FnMut" | "FnOnce"))
}

/// Methods of `Option` and `Result` that return the success value.
pub fn is_unwrap(method: &str) -> bool {
    matches!(method, "unwrap" | "expect" | "unwrap_or" | "unwrap_or_default" | "unwrap_or_else" | "unwrap_unchecked")
}

const TYPES: &[(&str, &str)] = &[
    ("Option", "std::option::Option"),
    ("Result", "std::result::Result"),
    ("Vec", "std::vec::Vec"),
    ("String", "std::string::String"),
    ("Box", "std::boxed::Box"),
    ("ToString", "std::string::ToString"),
    ("ToOwned", "std::borrow::ToOwned"),
    ("Clone", "std::clone::Clone"),
    ("Copy", "std::marker::Copy"),
    ("Send", "std::marker::Send"),
    ("Sync", "std::marker::Sync"),
    ("Sized", "std::marker::Sized"),
    ("Unpin", "std::marker::Unpin"),
    ("Drop", "std::ops::Drop"),
    ("Fn", "std::ops::Fn"),
    ("FnMut", "std::ops::FnMut"),
    ("FnOnce", "std::ops::FnOnce"),
    ("Default", "std::default::Default"),
    ("Eq", "std::cmp::Eq"),
    ("Ord", "std::cmp::Ord"),
    ("PartialEq", "std::cmp::PartialEq"),
    ("PartialOrd", "std::cmp::PartialOrd"),
    ("AsRef", "std::convert::AsRef"),
    ("AsMut", "std::convert::AsMut"),
    ("From", "std::convert::From"),
    ("Into", "std::convert::Into"),
    ("TryFrom", "std::convert::TryFrom"),
    ("TryInto", "std::convert::TryInto"),
    ("Iterator", "std::iter::Iterator"),
    ("IntoIterator", "std::iter::IntoIterator"),
    ("Extend", "std::iter::Extend"),
    ("FromIterator", "std::iter::FromIterator"),
    ("DoubleEndedIterator", "std::iter::DoubleEndedIterator"),
    ("ExactSizeIterator", "std::iter::ExactSizeIterator"),
];

const VALUES: &[(&str, &str)] = &[
    ("Some", "std::option::Option::Some"),
    ("None", "std::option::Option::None"),
    ("Ok", "std::result::Result::Ok"),
    ("Err", "std::result::Result::Err"),
    ("drop", "std::mem::drop"),
];

const MACROS: &[(&str, &str)] = &[
    ("assert", "std::assert"),
    ("assert_eq", "std::assert_eq"),
    ("assert_ne", "std::assert_ne"),
    ("cfg", "std::cfg"),
    ("column", "std::column"),
    ("compile_error", "std::compile_error"),
    ("concat", "std::concat"),
    ("dbg", "std::dbg"),
    ("debug_assert", "std::debug_assert"),
    ("debug_assert_eq", "std::debug_assert_eq"),
    ("debug_assert_ne", "std::debug_assert_ne"),
    ("env", "std::env"),
    ("eprint", "std::eprint"),
    ("eprintln", "std::eprintln"),
    ("file", "std::file"),
    ("format", "std::format"),
    ("format_args", "std::format_args"),
    ("include", "std::include"),
    ("include_bytes", "std::include_bytes"),
    ("include_str", "std::include_str"),
    ("line", "std::line"),
    ("matches", "std::matches"),
    ("module_path", "std::module_path"),
    ("option_env", "std::option_env"),
    ("panic", "std::panic"),
    ("print", "std::print"),
    ("println", "std::println"),
    ("stringify", "std::stringify"),
    ("thread_local", "std::thread_local"),
    ("todo", "std::todo"),
    ("unimplemented", "std::unimplemented"),
    ("unreachable", "std::unreachable"),
    ("vec", "std::vec"),
    ("write", "std::write"),
    ("writeln", "std::writeln"),
];

/// std's marker traits: bounds that give a value no methods (`T: Sized`, `?Sized`, `Send`).
pub fn is_marker_trait(path: &str) -> bool {
    let name = path.rsplit("::").next().unwrap_or(path);
    matches!(name, "Sized" | "Send" | "Sync" | "Unpin" | "Copy" | "UnwindSafe" | "RefUnwindSafe")
        && (path == name || path.starts_with("std::") || path.starts_with("core::"))
}
