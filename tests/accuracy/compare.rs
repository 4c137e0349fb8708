//! Puts rustdoc's view and ours of one crate side by side: modules by (path, file), items by
//! (kind, name, file, line), then whether each hand-written trait impl has an `implements` edge
//! and each derive a `derives` edge to the same trait. Counts, the mismatches behind them, and
//! the Markdown table.

use std::collections::BTreeMap;
use std::fmt;

use crate::ours::Ours;
use crate::rustdoc::Doc;

/// What identifies an item on both sides. Impls have no name (`name` is empty on both).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub kind: &'static str,
    pub name: String,
    /// Relative to the package root.
    pub file: String,
    /// The line of the item's first token after its outer attributes.
    pub line: u32,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}` at {}:{}", self.kind, self.name, self.file, self.line)
    }
}

/// Where rustdoc's item comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Written in the source, where we can see it.
    Source,
    /// A derived impl or one of its items.
    Derive,
    /// Made by a macro call (or with no span, or with a span outside the package): what the
    /// string says.
    Macro(String),
}

/// Matched pairs and what each side has alone.
#[derive(Clone, Copy, Debug, Default)]
pub struct Score {
    pub matched: usize,
    pub only_rustdoc: usize,
    pub only_ours: usize,
}

impl Score {
    pub fn precision(&self) -> f64 {
        ratio(self.matched, self.matched + self.only_ours)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.matched, self.matched + self.only_rustdoc)
    }
}

/// How many of `total` we resolved.
#[derive(Clone, Copy, Debug, Default)]
pub struct Resolved {
    pub resolved: usize,
    pub total: usize,
}

impl Resolved {
    pub fn share(&self) -> f64 {
        ratio(self.resolved, self.total)
    }
}

/// An empty denominator is a perfect score: nothing was missed.
fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 { 1.0 } else { part as f64 / whole as f64 }
}

/// What neither counts for nor against us.
#[derive(Clone, Copy, Debug, Default)]
pub struct Apart {
    /// rustdoc's items of derived impls (the impls and their methods).
    pub derived: usize,
    /// rustdoc's items that a macro expansion made and we did not find (also counted, as
    /// missed, in `CrateReport::macro_items`).
    pub macro_expanded: usize,
    /// Our items in function, const and static bodies that rustdoc does not document.
    pub in_bodies: usize,
    /// Items on one side only under a `#[cfg]` that names `doc`, which rustdoc sets and a build
    /// does not (`#[cfg(doc)]` items are in rustdoc only, `#[cfg(not(doc))]` ones in ours only).
    pub cfg_doc: usize,
    /// Trait impls and derives that cannot be checked: rustdoc's impl or type came out of a
    /// macro and we have no vertex for it, or the type is not documented.
    pub unchecked: usize,
    /// Our unnamed constants (`const _: () = ...;`, often compile-time assertions): rustdoc lists
    /// none, since nothing can name them.
    pub unnamed: usize,
}

#[derive(Debug)]
pub struct CrateReport {
    pub krate: String,
    pub version: String,
    pub style: String,
    pub modules: Score,
    /// Written items: rustdoc's items whose span is in the source outside any macro call. Our
    /// items left over (`only_ours`) count here, whatever made them.
    pub items: Score,
    /// Items a macro call made (rustdoc's span is in a macro call, or nowhere, or outside the
    /// package): how many we found.
    pub macro_items: Resolved,
    pub apart: Apart,
    /// Written trait impls.
    pub trait_impls: Resolved,
    /// Trait impls a macro call made (counted whether or not we have a vertex for the impl).
    pub macro_trait_impls: Resolved,
    pub derives: Resolved,
    /// Derives on types a macro call made.
    pub macro_derives: Resolved,
    /// (class, detail), sorted: every mismatch behind the figures.
    pub mismatches: Vec<(String, String)>,
}

/// Compares one crate.
pub fn compare(krate: &str, version: &str, style: &str, doc: &Doc, ours: &Ours) -> CrateReport {
    let mut report = CrateReport {
        krate: krate.to_owned(),
        version: version.to_owned(),
        style: style.to_owned(),
        modules: Score::default(),
        items: Score::default(),
        macro_items: Resolved::default(),
        apart: Apart::default(),
        trait_impls: Resolved::default(),
        macro_trait_impls: Resolved::default(),
        derives: Resolved::default(),
        macro_derives: Resolved::default(),
        mismatches: Vec::new(),
    };
    let mut miss = |class: &str, detail: String| report.mismatches.push((class.to_owned(), detail));

    // Modules: the path is the name rustc gives a module, and the file says we read the right
    // one. (A module file's span is the whole file, an inline module's the `mod` line in its
    // parent: lines would add nothing the path does not say.)
    let mut our_modules: BTreeMap<(&str, &str), Vec<bool>> = BTreeMap::new();
    for module in &ours.modules {
        our_modules.entry((module.path.as_str(), module.file.as_str())).or_default().push(module.in_body);
    }
    for module in &doc.modules {
        let file = module.file.as_deref().unwrap_or("<outside the package>");
        let found = our_modules.get_mut(&(module.path.as_str(), file)).and_then(Vec::pop);
        match (found, &module.origin) {
            (Some(_), _) => report.modules.matched += 1,
            (None, Origin::Macro(why)) => {
                report.apart.macro_expanded += 1;
                miss("apart: module from a macro", format!("module `{}` ({why})", module.path));
            }
            (None, _) => {
                report.modules.only_rustdoc += 1;
                let ours_elsewhere: Vec<&str> =
                    ours.modules.iter().filter(|m| m.path == module.path).map(|m| m.file.as_str()).collect();
                let class = if ours_elsewhere.is_empty() { "module only in rustdoc" } else { "module in another file" };
                miss(class, format!("module `{}` in {file}:{} (ours: {ours_elsewhere:?})", module.path, module.line));
            }
        }
    }
    for ((path, file), left) in &our_modules {
        for in_body in left {
            if *in_body {
                report.apart.in_bodies += 1;
            } else {
                report.modules.only_ours += 1;
                miss("module only in ours", format!("module `{path}` in {file}"));
            }
        }
    }

    // Items: a multiset match on the key.
    let mut our_items: BTreeMap<&Key, Vec<usize>> = BTreeMap::new();
    for (index, item) in ours.items.iter().enumerate() {
        our_items.entry(&item.key).or_default().push(index);
    }
    // Ours in a body last, so that they are what is left when rustdoc lists fewer at a key: it
    // lists every item outside bodies, and in a body only the impls of traits it documents
    // (pin-project-lite's `impl MustNotImplDrop for T`, in a `const _`, it does not).
    for indices in our_items.values_mut() {
        indices.sort_by_key(|&index| !ours.items[index].in_body);
    }
    let by_key = our_items.clone();
    let mut matched_doc = vec![false; doc.items.len()];
    for (index, item) in doc.items.iter().enumerate() {
        if item.origin == Origin::Derive {
            report.apart.derived += 1;
            continue;
        }
        let from_macro = matches!(item.origin, Origin::Macro(_));
        if from_macro && !item.cfg_doc {
            report.macro_items.total += 1;
        }
        if our_items.get_mut(&item.key).and_then(Vec::pop).is_some() {
            if from_macro {
                report.macro_items.resolved += usize::from(!item.cfg_doc);
            } else {
                report.items.matched += 1;
            }
            matched_doc[index] = true;
            continue;
        }
        if let Origin::Macro(why) = &item.origin {
            if item.cfg_doc {
                report.apart.cfg_doc += 1;
                miss("apart: `cfg(doc)` only in rustdoc", item.key.to_string());
                continue;
            }
            report.apart.macro_expanded += 1;
            let class = if why.starts_with("written") {
                "macro item missed (written in the call)"
            } else {
                "macro item missed"
            };
            miss(class, format!("{} ({why})", item.key));
            continue;
        }
        if item.cfg_doc {
            report.apart.cfg_doc += 1;
            miss("apart: `cfg(doc)` only in rustdoc", item.key.to_string());
            continue;
        }
        report.items.only_rustdoc += 1;
        let class = if ours.inactive.contains(&item.key) {
            "item only in rustdoc: inactive in ours"
        } else if ours
            .items
            .iter()
            .any(|o| o.key.kind == item.key.kind && o.key.name == item.key.name && o.key.file == item.key.file)
        {
            "item only in rustdoc: ours on another line"
        } else {
            "item only in rustdoc"
        };
        miss(class, item.key.to_string());
    }
    for indices in our_items.values() {
        for &index in indices {
            let item = &ours.items[index];
            if item.in_body {
                report.apart.in_bodies += 1;
            } else if item.cfg_doc {
                report.apart.cfg_doc += 1;
                miss("apart: `cfg(not(doc))` only in ours", item.key.to_string());
            } else if item.key.kind == "const" && item.key.name == "_" {
                report.apart.unnamed += 1;
                miss("apart: `const _`, which rustdoc does not list", item.key.to_string());
            } else {
                report.items.only_ours += 1;
                miss("item only in ours", item.key.to_string());
            }
        }
    }

    // Hand-written trait impls: our impl vertex at the same place implements the same trait.
    for trait_impl in &doc.trait_impls {
        let item = &doc.items[trait_impl.item];
        let candidates = by_key.get(&item.key).map(Vec::as_slice).unwrap_or_default();
        let from_macro = matches!(item.origin, Origin::Macro(_));
        if from_macro && item.cfg_doc {
            report.apart.unchecked += 1;
            continue;
        }
        let score = if from_macro { &mut report.macro_trait_impls } else { &mut report.trait_impls };
        score.total += 1;
        let targets: Vec<&String> =
            candidates.iter().flat_map(|&i| ours.implements.get(&ours.items[i].id)).flatten().collect();
        if targets.iter().any(|target| same_trait(target, &trait_impl.trait_path)) {
            score.resolved += 1;
        } else {
            let class = match (from_macro, candidates.is_empty()) {
                (false, true) => "trait impl: no impl vertex",
                (false, false) => "trait impl: unresolved",
                (true, true) => "macro trait impl: no impl vertex",
                (true, false) => "macro trait impl: unresolved",
            };
            miss(class, format!("{} implements `{}` (ours: {targets:?})", item.key, trait_impl.trait_path));
        }
    }

    // Derives: our vertex of the deriving type has a `derives` edge to the same trait.
    for derive in &doc.derives {
        let Some(ty) = derive.ty.map(|index| &doc.items[index]) else {
            report.apart.unchecked += 1;
            continue;
        };
        let candidates = by_key.get(&ty.key).map(Vec::as_slice).unwrap_or_default();
        let from_macro = matches!(ty.origin, Origin::Macro(_));
        if from_macro && ty.cfg_doc {
            report.apart.unchecked += 1;
            continue;
        }
        let score = if from_macro { &mut report.macro_derives } else { &mut report.derives };
        score.total += 1;
        let targets: Vec<&String> =
            candidates.iter().flat_map(|&i| ours.derives.get(&ours.items[i].id)).flatten().collect();
        if targets.iter().any(|target| same_trait(target, &derive.trait_path)) {
            score.resolved += 1;
        } else {
            let class = match (from_macro, candidates.is_empty()) {
                (false, true) => "derive: no type vertex",
                (false, false) => "derive: unresolved",
                (true, true) => "macro derive: no type vertex",
                (true, false) => "macro derive: unresolved",
            };
            miss(class, format!("{} derives `{}` at {} (ours: {targets:?})", ty.key, derive.trait_path, derive.at));
        }
    }
    report.mismatches.sort();
    report
}

/// Whether our trait path names rustdoc's. rustdoc gives the path where the trait is defined;
/// `core`, `alloc` and `std` are one root. The standard library's traits are defined in private
/// modules and used through public ones (`core::iter::traits::iterator::Iterator` is
/// `std::iter::Iterator`), which is all a tool that does not index the standard library can know,
/// so there our path may skip modules of rustdoc's: same root, same first module, same name.
/// Anywhere else the paths must be equal.
pub fn same_trait(ours: &str, rustdoc: &str) -> bool {
    let ours = ours.split('<').next().unwrap_or(ours);
    let normalize = |path: &str| -> Vec<String> {
        let mut segments: Vec<String> = path.split("::").map(str::to_owned).collect();
        if matches!(segments[0].as_str(), "core" | "alloc" | "std") {
            segments[0] = "std".to_owned();
        }
        segments
    };
    let (ours, theirs) = (normalize(ours), normalize(rustdoc));
    if ours == theirs {
        return true;
    }
    if ours[0] != "std" || theirs[0] != "std" || ours.len() < 3 || ours.len() > theirs.len() {
        return false;
    }
    if ours[1] != theirs[1] || ours.last() != theirs.last() {
        return false;
    }
    let mut rest = theirs.iter();
    ours.iter().all(|segment| rest.any(|s| s == segment))
}

impl CrateReport {
    /// Of all our items, the share rustdoc has too (written or made by a macro call).
    pub fn precision(&self) -> f64 {
        let matched = self.items.matched + self.macro_items.resolved;
        ratio(matched, matched + self.items.only_ours)
    }
}

/// The Markdown table of the reports, one row per crate.
pub fn table(reports: &[CrateReport]) -> String {
    let percent = |value: f64| format!("{:.1}", value * 100.0);
    let share = |r: &Resolved| format!("{} ({})", percent(r.share()), r.total);
    let mut out = String::from(
        "| crate | version | style | modules P / R % | written items R % (n) | macro items found % (n) | item precision % | apart: derive / bodies / cfg(doc) | written trait impls % (n) | macro trait impls % (n) | derives % (n) | macro derives % (n) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in reports {
        out.push_str(&format!(
            "| {} | {} | {} | {} / {} | {} ({}) | {} | {} | {} / {} / {} | {} | {} | {} | {} |\n",
            r.krate,
            r.version,
            r.style,
            percent(r.modules.precision()),
            percent(r.modules.recall()),
            percent(r.items.recall()),
            r.items.matched + r.items.only_rustdoc,
            share(&r.macro_items),
            percent(r.precision()),
            r.apart.derived,
            r.apart.in_bodies,
            r.apart.cfg_doc,
            share(&r.trait_impls),
            share(&r.macro_trait_impls),
            share(&r.derives),
            share(&r.macro_derives),
        ));
    }
    out
}

/// Every mismatch of the reports, grouped by class, `limit` examples per class and crate.
pub fn mismatch_listing(reports: &[CrateReport], limit: usize) -> String {
    let mut out = String::new();
    for r in reports {
        let mut classes: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (class, detail) in &r.mismatches {
            classes.entry(class).or_default().push(detail);
        }
        for (class, details) in classes {
            out.push_str(&format!("{} {}: {class}: {}\n", r.krate, r.version, details.len()));
            for detail in details.iter().take(limit) {
                out.push_str(&format!("    {detail}\n"));
            }
        }
    }
    out
}

#[test]
fn trait_paths_compare_modulo_std_roots_and_private_std_modules() {
    assert!(same_trait("std::fmt::Debug", "core::fmt::Debug"));
    assert!(same_trait("std::iter::Iterator", "core::iter::traits::iterator::Iterator"));
    assert!(same_trait("std::ops::Deref", "core::ops::deref::Deref"));
    assert!(same_trait("alloc::borrow::ToOwned", "alloc::borrow::ToOwned"));
    assert!(same_trait("serde_core::ser::Serialize", "serde_core::ser::Serialize"));
    assert!(!same_trait("serde::Serialize", "serde_core::ser::Serialize"));
    assert!(!same_trait("std::fmt::Display", "core::fmt::Debug"));
    assert!(!same_trait("std::Iterator", "core::iter::traits::iterator::Iterator"));
    assert!(!same_trait("std::io::Read", "core::iter::traits::iterator::Read"));
    assert!(!same_trait("fx_core::Area", "fx_core::shapes::Area"));
}

#[test]
fn trait_impls_and_derives_resolve_through_edges() {
    use crate::ours::OurItem;
    use crate::rustdoc::{DocDerive, DocItem, DocTraitImpl};
    let key = |kind, name: &str, line| Key { kind, name: name.to_owned(), file: "src/lib.rs".to_owned(), line };
    let source = |key| DocItem { key, origin: Origin::Source, cfg_doc: false };
    let ours_item = |key, id: &str| OurItem { key, id: id.to_owned(), in_body: false, cfg_doc: false };
    let derive =
        |trait_path: &str| DocDerive { ty: Some(0), trait_path: trait_path.to_owned(), at: "src/lib.rs:2".to_owned() };
    let doc = Doc {
        items: vec![source(key("struct", "S", 3)), source(key("impl", "", 5))],
        trait_impls: vec![DocTraitImpl { item: 1, trait_path: "core::fmt::Display".to_owned() }],
        derives: vec![derive("core::clone::Clone"), derive("core::fmt::Debug")],
        ..Doc::default()
    };
    let ours = Ours {
        items: vec![ours_item(key("struct", "S", 3), "s"), ours_item(key("impl", "", 5), "i")],
        implements: [("i".to_owned(), vec!["std::fmt::Display".to_owned()])].into(),
        derives: [("s".to_owned(), vec!["std::clone::Clone".to_owned()])].into(),
        ..Ours::default()
    };
    let report = compare("c", "0.1.0", "test", &doc, &ours);
    assert_eq!((report.items.matched, report.items.only_rustdoc, report.items.only_ours), (2, 0, 0));
    assert_eq!((report.trait_impls.resolved, report.trait_impls.total), (1, 1));
    assert_eq!((report.derives.resolved, report.derives.total), (1, 2));
    assert_eq!(report.mismatches.len(), 1, "{:?}", report.mismatches);
}
