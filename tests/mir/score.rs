//! Our `calls` edges against the compiler's: maps MIR callers and callees to graph vertices by
//! path and place (an impl method by its impl's file and line, anything else by canonical path),
//! sets apart the calls written without call syntax, and counts per crate: recall of calls to the
//! crate's own functions and to its dependencies', precision of `exact` and `inferred` edges.
//! `tests/mir/README.md` says what is counted and what is set apart.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use crate::common::Graph;
use crate::mir::{Body, Call, Caller, segments, strip_generics};

/// A share: `hit` of `total`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Count {
    pub hit: usize,
    pub total: usize,
}

impl Count {
    pub fn share(self) -> Option<f64> {
        (self.total > 0).then(|| self.hit as f64 / self.total as f64)
    }

    fn add(&mut self, hit: bool) {
        self.total += 1;
        self.hit += usize::from(hit);
    }

    fn merge(&mut self, other: Count) {
        self.hit += other.hit;
        self.total += other.total;
    }
}

/// Calls (caller, callee pairs) that are neither for nor against us.
#[derive(Clone, Copy, Debug, Default)]
pub struct Apart {
    /// Calls the compiler inserts without call syntax: operators, `?`, `for` loops, auto-deref,
    /// the bodies of derives and of std's macros (`format!`, `assert!`).
    pub inserted: usize,
    /// Callers we have no function vertex for (made by a macro we do not expand).
    pub caller_unknown: usize,
    /// Callees of the crate or its dependencies we have no function vertex for.
    pub callee_unknown: usize,
    /// Calls to std, core, alloc and crates outside the graph.
    pub foreign: usize,
}

#[derive(Debug, Default)]
pub struct CrateScore {
    pub krate: String,
    pub version: String,
    pub set: String,
    /// Calls to the crate's own functions found (an edge to an acceptable target).
    pub own: Count,
    /// Calls to its dependencies' functions found.
    pub deps: Count,
    /// Exact edges (from a function the MIR knows, to a function of the graph) that are right.
    pub exact: Count,
    pub inferred: Count,
    pub apart: Apart,
    /// (class, line), in a stable order.
    pub mismatches: Vec<(String, String)>,
}

/// Our side, for the whole graph.
pub struct Ours<'g> {
    graph: &'g Graph,
    /// Function vertices: id → facts.
    fns: HashMap<&'g str, OurFn<'g>>,
    /// `calls` edges by caller id: (callee id, exact).
    calls: HashMap<&'g str, Vec<(&'g str, bool)>>,
    /// Crate vertex id per contained vertex (transitively).
    crate_of: HashMap<&'g str, &'g str>,
    /// Function ids by (crate vertex id, name).
    by_name: HashMap<(&'g str, &'g str), Vec<&'g str>>,
    /// The crate vertices.
    crates: Vec<&'g str>,
}

struct OurFn<'g> {
    path: &'g str,
    name: &'g str,
    /// The impl this is a method of: its file and line.
    parent_impl: Option<(&'g str, u64)>,
    /// For methods: the self type's last segment and the trait's last segment (if any).
    owner: Option<String>,
    trait_name: Option<String>,
}

impl<'g> Ours<'g> {
    pub fn new(graph: &'g Graph) -> Ours<'g> {
        let mut parent: HashMap<&str, &str> = HashMap::new();
        for edge in graph.edges.iter().filter(|e| e["kind"] == "contains") {
            parent.insert(edge["to"].as_str().unwrap(), edge["from"].as_str().unwrap());
        }
        let mut crate_of = HashMap::new();
        for id in graph.vertices.keys() {
            let mut at = id.as_str();
            while let Some(&up) = parent.get(at) {
                if graph.vertices[up]["kind"] == "crate" {
                    crate_of.insert(id.as_str(), up);
                    break;
                }
                at = up;
            }
        }
        let mut fns = HashMap::new();
        for (id, vertex) in &graph.vertices {
            let props = &vertex["props"];
            // Functions whose `cfg` is off in this configuration stay in the graph (`active`
            // false), with their calls; rustc never compiles them, so they are neither callers
            // nor callees here. A cfg twin (`#[cfg(feature = "x")] fn f` beside
            // `#[cfg(not(feature = "x"))] fn f`) would otherwise stand for the compiled one.
            if vertex["kind"] != "function" || props["active"] == false {
                continue;
            }
            let path = props["path"].as_str().unwrap_or("");
            let parent_vertex = parent.get(id.as_str()).map(|p| &graph.vertices[*p]);
            let parent_impl = parent_vertex
                .filter(|v| v["kind"] == "impl")
                .map(|v| (v["props"]["file"].as_str().unwrap_or(""), v["props"]["line"].as_u64().unwrap_or(0)));
            let (owner, trait_name) = if parent_impl.is_some() { method_owner(path) } else { (None, None) };
            fns.insert(
                id.as_str(),
                OurFn { path, name: props["name"].as_str().unwrap_or(""), parent_impl, owner, trait_name },
            );
        }
        let mut calls: HashMap<&str, Vec<(&str, bool)>> = HashMap::new();
        for edge in graph.edges.iter().filter(|e| e["kind"] == "calls") {
            let exact = edge["props"]["confidence"] == "exact";
            calls.entry(edge["from"].as_str().unwrap()).or_default().push((edge["to"].as_str().unwrap(), exact));
        }
        let mut by_name: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
        for (id, f) in &fns {
            if let Some(krate) = crate_of.get(id) {
                by_name.entry((krate, f.name)).or_default().push(id);
            }
        }
        let crates = graph.vertices.iter().filter(|(_, v)| v["kind"] == "crate").map(|(id, _)| id.as_str()).collect();
        Ours { graph, fns, calls, crate_of, by_name, crates }
    }

    /// The crate vertex of the lib target of package `name` `version`.
    fn lib_crate(&self, name: &str, version: &str) -> Option<&'g str> {
        let package = self
            .graph
            .vertices
            .values()
            .find(|v| v["kind"] == "package" && v["props"]["name"] == name && v["props"]["version"] == version)?;
        let package_id = package["id"].as_str()?;
        self.graph
            .edges
            .iter()
            .filter(|e| e["kind"] == "contains" && e["from"] == package_id)
            .map(|e| &self.graph.vertices[e["to"].as_str().unwrap()])
            .find(|v| v["kind"] == "crate" && v["props"]["kind"] == "lib")
            .and_then(|v| v["id"].as_str())
    }
}

/// `<a::Foo<T> as crate::Tr>::m` → (`Foo`, `Tr`); `a::Foo::m` → (`Foo`, none).
fn method_owner(path: &str) -> (Option<String>, Option<String>) {
    let segs = segments(path);
    if let Some(qself) = segs.first().filter(|s| s.starts_with('<') && s.ends_with('>')) {
        let inner = &qself[1..qself.len() - 1];
        if let Some((ty, tr)) = split_as(inner) {
            return (Some(last_name(ty)), Some(last_name(tr)));
        }
    }
    let owner = (segs.len() >= 2).then(|| last_name(segs[segs.len() - 2]));
    (owner, None)
}

/// `X as Trait` at the top level of a qualified-self segment's inside.
fn split_as(inner: &str) -> Option<(&str, &str)> {
    let bytes = inner.as_bytes();
    let mut depth = 0i32;
    for at in 0..bytes.len() {
        match bytes[at] {
            b'<' | b'(' | b'[' => depth += 1,
            b'>' if at > 0 && bytes[at - 1] == b'-' => {}
            b'>' | b')' | b']' => depth -= 1,
            b' ' if depth == 0 && inner[at..].starts_with(" as ") => return Some((&inner[..at], &inner[at + 4..])),
            _ => {}
        }
    }
    None
}

/// A type as printed without the references, pointers, lifetimes and `dyn` before its path:
/// `&'a mut alloc::vec::Vec<T>` → `alloc::vec::Vec<T>`.
fn type_path(ty: &str) -> &str {
    let mut ty = ty.trim();
    loop {
        let before = ty;
        for prefix in ["&", "mut ", "dyn ", "*const ", "*mut "] {
            if let Some(rest) = ty.strip_prefix(prefix) {
                ty = rest.trim_start();
            }
        }
        if let Some(rest) = ty.strip_prefix('\'')
            && let Some(space) = rest.find(' ')
        {
            ty = rest[space..].trim_start();
        }
        if ty == before {
            return ty;
        }
    }
}

/// The last name of a type or trait as printed: `&mut alloc::vec::Vec<T>` → `Vec`.
fn last_name(ty: &str) -> String {
    let stripped = strip_generics(type_path(ty));
    segments(&stripped).last().map_or(String::new(), |s| s.trim_start_matches("r#").to_owned())
}

/// One lib crate to score.
pub struct Subject<'a> {
    pub package: &'a str,
    pub version: &'a str,
    /// The lib target's crate name (`crossbeam_channel`).
    pub crate_name: &'a str,
    pub package_dir: &'a Path,
    /// Its direct dependencies: (the name its code uses, which MIR paths start with; the lib
    /// target's crate name).
    pub deps: &'a [(String, String)],
    pub set: &'a str,
}

/// What the compiler lets a call's callee be, as vertices of ours.
enum Callee<'g> {
    Own(BTreeSet<&'g str>),
    Dep(BTreeSet<&'g str>),
    /// Of the crate or a dependency, but no vertex of ours stands for it.
    Unknown,
    Foreign,
}

pub fn score(ours: &Ours, subject: &Subject, bodies: &[Body], sources: &mut Sources) -> CrateScore {
    let graph = ours.graph;
    let mut out = CrateScore {
        krate: subject.crate_name.to_owned(),
        version: subject.version.to_owned(),
        set: subject.set.to_owned(),
        ..CrateScore::default()
    };
    let Some(krate) = ours.lib_crate(subject.package, subject.version) else {
        out.mismatches.push(("no crate".into(), format!("no lib crate vertex for {}", subject.package)));
        return out;
    };
    // Our file names of the package: `name-version/src/…` (or workspace-relative): the prefix
    // is what the root module's file has before the package-relative part.
    let package_prefix = package_prefix(graph, krate, subject.package_dir);
    let dep_crates: BTreeMap<&str, &str> = subject
        .deps
        .iter()
        .filter_map(|(alias, lib)| {
            let id = ours.crates.iter().find(|c| crate_name(graph, c) == *lib)?;
            Some([(alias.as_str(), *id), (lib.as_str(), *id)])
        })
        .flatten()
        .collect();

    // Our callers by key.
    let mut our_callers: HashMap<String, Vec<&str>> = HashMap::new();
    let mut local_firsts: BTreeSet<String> = BTreeSet::new();
    for (id, f) in &ours.fns {
        if ours.crate_of.get(id) != Some(&krate) {
            continue;
        }
        let key = match f.parent_impl {
            Some((file, line)) => impl_key(file.strip_prefix(package_prefix.as_str()).unwrap_or(file), line, f.name),
            None => format!("path {}", f.path),
        };
        our_callers.entry(key).or_default().push(id);
    }
    for (id, vertex) in &graph.vertices {
        if ours.crate_of.get(id.as_str()) == Some(&krate)
            && let Some(path) = vertex["props"]["path"].as_str()
            && let Some(rest) = path.strip_prefix(subject.crate_name).and_then(|r| r.strip_prefix("::"))
        {
            local_firsts.insert(segments(rest)[0].to_owned());
        }
    }
    let context = CalleeContext { ours, krate, crate_name: subject.crate_name, dep_crates: &dep_crates, local_firsts };

    // The MIR's calls, by caller key: callee → (written with call syntax, a site).
    let mut mir: BTreeMap<String, BTreeMap<String, (bool, String)>> = BTreeMap::new();
    for body in bodies {
        let key = match &body.caller {
            Caller::Impl { file, line, name } => {
                let rel = relative(file, subject.package_dir);
                impl_key(&rel, u64::from(*line), name)
            }
            Caller::Path(path) => format!("path {}::{path}", subject.crate_name),
        };
        let calls = mir.entry(key).or_default();
        for call in &body.calls {
            let written = sources.call_syntax(call);
            let site = format!("{}:{}", relative(&call.site.file, subject.package_dir), call.site.start.0);
            let entry = calls.entry(call.callee.clone()).or_insert((written, site.clone()));
            if written && !entry.0 {
                *entry = (true, site);
            }
        }
    }

    for (key, calls) in &mir {
        let callers = our_callers.get(key);
        let ours_from: BTreeMap<&str, bool> = callers
            .into_iter()
            .flatten()
            .flat_map(|id| ours.calls.get(id).into_iter().flatten().copied())
            .fold(BTreeMap::new(), |mut map, (to, exact)| {
                *map.entry(to).or_default() |= exact;
                map
            });
        let mut acceptable: BTreeSet<&str> = BTreeSet::new();
        for (callee, (written, site)) in calls {
            let resolved = context.callee(callee);
            if let Callee::Own(ids) | Callee::Dep(ids) = &resolved {
                acceptable.extend(ids.iter().copied());
            }
            if callers.is_none() {
                if matches!(resolved, Callee::Own(_) | Callee::Dep(_)) {
                    out.apart.caller_unknown += 1;
                }
                continue;
            }
            match (&resolved, written) {
                (Callee::Foreign, _) => out.apart.foreign += 1,
                (Callee::Unknown, _) => {
                    out.apart.callee_unknown += 1;
                    if *written {
                        out.mismatches.push(("callee unknown".into(), format!("{site}: {key} → {callee}")));
                    }
                }
                (_, false) => out.apart.inserted += 1,
                (Callee::Own(ids), true) | (Callee::Dep(ids), true) => {
                    let hit = ids.iter().any(|id| ours_from.contains_key(id));
                    let (count, class) = match resolved {
                        Callee::Own(_) => (&mut out.own, "missed, own"),
                        _ => (&mut out.deps, "missed, deps"),
                    };
                    count.add(hit);
                    if !hit {
                        let line = sources.line_text(&call_site_file(site, subject.package_dir), site);
                        out.mismatches.push((class.into(), format!("{site}: {key} → {callee}   | {line}")));
                    }
                }
            }
        }
        // Precision: our edges from this caller to functions of the graph.
        for (to, exact) in &ours_from {
            let Some(target) = ours.fns.get(to) else { continue };
            if !ours.crate_of.contains_key(to) {
                continue;
            }
            let right = acceptable.contains(to);
            if *exact {
                out.exact.add(right)
            } else {
                out.inferred.add(right)
            }
            if !right {
                let class = if *exact { "wrong, exact" } else { "wrong, inferred" };
                out.mismatches.push((class.into(), format!("{key} → {}", target.path)));
            }
        }
    }
    out.mismatches.sort();
    out
}

fn call_site_file(site: &str, package_dir: &Path) -> String {
    let file = site.rsplit_once(':').map_or(site, |(file, _)| file);
    package_dir.join(file).to_string_lossy().into_owned()
}

fn impl_key(file: &str, line: u64, name: &str) -> String {
    format!("impl {file}:{line} {name}")
}

fn relative(file: &str, package_dir: &Path) -> String {
    Path::new(file).strip_prefix(package_dir).map_or_else(|_| file.to_owned(), |p| p.to_string_lossy().into_owned())
}

fn crate_name(graph: &Graph, id: &str) -> String {
    graph.vertices[id]["props"]["name"].as_str().unwrap_or("").replace('-', "_")
}

/// What our files of the package start with, before the package-relative part.
fn package_prefix(graph: &Graph, krate: &str, package_dir: &Path) -> String {
    let root = graph
        .edges
        .iter()
        .find(|e| e["kind"] == "contains" && e["from"] == krate)
        .map(|e| &graph.vertices[e["to"].as_str().unwrap()]);
    let root_file = root.and_then(|v| v["props"]["file"].as_str()).unwrap_or("");
    // The root file is `<prefix>src/lib.rs` (or wherever the lib's root is): find the longest
    // suffix of it that names an existing file in the package.
    let mut at = 0;
    while let Some(slash) = root_file[at..].find('/') {
        let candidate = &root_file[at..];
        if package_dir.join(candidate).is_file() && root_file[..at].ends_with('/') {
            return root_file[..at].to_owned();
        }
        at += slash + 1;
    }
    if package_dir.join(root_file).is_file() { String::new() } else { root_file[..at].to_owned() }
}

struct CalleeContext<'a, 'g> {
    ours: &'a Ours<'g>,
    krate: &'g str,
    crate_name: &'a str,
    dep_crates: &'a BTreeMap<&'a str, &'g str>,
    /// The first segments of the crate's own paths (`channel`, `Buffer`): a MIR path that starts
    /// with one is the crate's.
    local_firsts: BTreeSet<String>,
}

impl<'g> CalleeContext<'_, 'g> {
    fn callee(&self, callee: &str) -> Callee<'g> {
        let stripped = strip_generics(callee);
        let segs = segments(&stripped);
        let Some(name) = segs.last().map(|s| s.trim_start_matches("r#")) else { return Callee::Foreign };
        // A function declared in an impl method's body: `<X as Tr>::method::nested`,
        // `m::<impl Tr for X>::method::nested`, which our paths spell `<..>::method::nested`.
        if let Some(at) = segs.iter().position(|s| s.starts_with('<'))
            && segs.len() == at + 3
            && (at == 0 || self.local_firsts.contains(segs[0]))
        {
            let suffix = format!(">::{}::{name}", segs[at + 1]);
            let ids = self.fns_of(self.krate, name, |f| f.path.ends_with(&suffix));
            if !ids.is_empty() {
                return Callee::Own(ids);
            }
        }
        if let Some(qself) = segs.first().filter(|s| s.starts_with('<') && s.contains(" as ")) {
            let Some((ty, tr)) = split_as(&qself[1..qself.len() - 1]) else { return Callee::Foreign };
            return self.trait_call(ty, tr, name);
        }
        let first = segs[0];
        if let Some(at) = segs.iter().position(|s| s.starts_with("<impl ")) {
            // `error::<impl Error>::construct`: a method of an inherent impl of `Error`, printed
            // where the type's own path is not the impl's module.
            if at + 2 != segs.len() {
                return Callee::Foreign;
            }
            let owner = last_name(&segs[at]["<impl ".len()..segs[at].len() - 1]);
            let krate = if at == 0 || self.local_firsts.contains(first) && !self.dep_crates.contains_key(first) {
                self.krate
            } else if let Some(&dep) = self.dep_crates.get(first) {
                dep
            } else {
                return Callee::Foreign;
            };
            let ids = self.fns_of(krate, name, |f| {
                f.name == name && f.trait_name.is_none() && f.owner.as_deref() == Some(owner.as_str())
            });
            return match (ids.is_empty(), krate == self.krate) {
                (true, _) => Callee::Unknown,
                (false, true) => Callee::Own(ids),
                (false, false) => Callee::Dep(ids),
            };
        }
        if self.local_firsts.contains(first) && !self.dep_crates.contains_key(first) {
            let path = format!("{}::{stripped}", self.crate_name);
            let ids = self.fns_of(self.krate, name, |f| f.path == path);
            let ids = if ids.is_empty() && segs.len() >= 2 {
                // An inherent method whose impl names the type another way.
                let owner = segs[segs.len() - 2];
                self.fns_of(self.krate, name, |f| {
                    f.name == name && f.trait_name.is_none() && f.owner.as_deref() == Some(owner)
                })
            } else {
                ids
            };
            return if ids.is_empty() { Callee::Unknown } else { Callee::Own(ids) };
        }
        if let Some(&dep) = self.dep_crates.get(first) {
            let owner = (segs.len() >= 3).then(|| segs[segs.len() - 2]).filter(|o| o.starts_with(char::is_uppercase));
            let ids = self.fns_of(dep, name, |f| {
                f.name == name
                    && match owner {
                        Some(owner) => {
                            f.owner.as_deref() == Some(owner) || f.path.ends_with(&format!("{owner}::{name}"))
                        }
                        None => f.parent_impl.is_none(),
                    }
            });
            return if ids.is_empty() { Callee::Unknown } else { Callee::Dep(ids) };
        }
        Callee::Foreign
    }

    /// `<ty as tr>::name`.
    fn trait_call(&self, ty: &str, tr: &str, name: &str) -> Callee<'g> {
        let tr_path = strip_generics(tr);
        let tr_first = segments(&tr_path)[0].to_owned();
        let tr_last = last_name(tr);
        let owner = last_name(ty);
        let impl_of = |f: &OurFn| f.name == name && f.trait_name.as_deref() == Some(tr_last.as_str());
        // A generic parameter prints as one bare name that no impl of ours has for self type.
        let local_impls = self.fns_of(self.krate, name, |f| impl_of(f) && f.owner.as_deref() == Some(owner.as_str()));
        let bare = !ty.contains("::") && !ty.contains('<') && !ty.contains('[') && !ty.contains('(');
        if self.local_firsts.contains(&tr_first) && !self.dep_crates.contains_key(tr_first.as_str()) {
            let decl = format!("{}::{tr_path}::{name}", self.crate_name);
            let mut ids = self.fns_of(self.krate, name, |f| f.path == decl);
            if local_impls.is_empty() && bare {
                ids.extend(self.fns_of(self.krate, name, impl_of));
            }
            ids.extend(local_impls);
            return if ids.is_empty() { Callee::Unknown } else { Callee::Own(ids) };
        }
        // A trait of another crate is implemented here only for the crate's own types (the orphan
        // rule): `<std::net::TcpListener as AsRawFd>::as_raw_fd` is std's, however the crate's
        // own `TcpListener` implements the trait.
        let ty_path = strip_generics(type_path(ty));
        let ty_first = segments(&ty_path).first().map_or(String::new(), |s| (*s).to_owned());
        let own_type = self.local_firsts.contains(&ty_first) && !self.dep_crates.contains_key(ty_first.as_str());
        if own_type && !local_impls.is_empty() {
            return Callee::Own(local_impls);
        }
        if let Some(&dep) = self.dep_crates.get(tr_first.as_str()) {
            let ids = self.fns_of(dep, name, |f| {
                f.name == name
                    && (f.trait_name.as_deref() == Some(tr_last.as_str())
                        || f.parent_impl.is_none() && f.path.ends_with(&format!("{tr_last}::{name}")))
            });
            return if ids.is_empty() { Callee::Unknown } else { Callee::Dep(ids) };
        }
        // A dependency's type with its impl of a std trait (`<foldhash::fast::FoldHasher<'_> as
        // core::hash::Hasher>::write`): that impl's method, where it defines one.
        if let Some(&dep) = self.dep_crates.get(ty_first.as_str()) {
            let ids = self.fns_of(dep, name, |f| impl_of(f) && f.owner.as_deref() == Some(owner.as_str()));
            if !ids.is_empty() {
                return Callee::Dep(ids);
            }
        }
        Callee::Foreign
    }

    /// The functions named `name` of crate `krate` that `keep` accepts.
    fn fns_of(&self, krate: &str, name: &str, keep: impl Fn(&OurFn) -> bool) -> BTreeSet<&'g str> {
        self.ours
            .by_name
            .get(&(krate, name))
            .into_iter()
            .flatten()
            .filter(|id| keep(&self.ours.fns[*id]))
            .copied()
            .collect()
    }
}

/// Source files, read once, to tell calls written with call syntax from the ones the compiler
/// inserts.
#[derive(Default)]
pub struct Sources {
    files: HashMap<String, Option<Vec<Vec<char>>>>,
}

impl Sources {
    fn lines(&mut self, file: &str) -> Option<&Vec<Vec<char>>> {
        self.files
            .entry(file.to_owned())
            .or_insert_with(|| {
                let text = std::fs::read_to_string(file).ok()?;
                Some(text.lines().map(|l| l.chars().collect()).collect())
            })
            .as_ref()
    }

    /// Whether `call` is written with call syntax naming its callee: the callee operand's text
    /// ends with the callee's name, and a `(` follows it (after a turbofish, if the operand does
    /// not include it). An operator's operand is the whole expression, a `?`'s ends with `?`, a
    /// `for` loop's `into_iter` is the iterated expression, a derive's is the trait's name in the
    /// attribute, a macro's is the macro call.
    pub fn call_syntax(&mut self, call: &Call) -> bool {
        let stripped = strip_generics(&call.callee);
        let Some(name) = segments(&stripped).last().map(|s| s.to_string()) else { return false };
        let name = name.trim_start_matches("r#");
        let Some(lines) = self.lines(&call.operand.file) else { return false };
        let (start, end) = (call.operand.start, call.operand.end);
        let mut text = String::new();
        for line_no in start.0..=end.0 {
            let Some(line) = lines.get(line_no as usize - 1) else { return false };
            let from = if line_no == start.0 { start.1 as usize - 1 } else { 0 };
            let to = if line_no == end.0 { (end.1 as usize - 1).min(line.len()) } else { line.len() };
            text.extend(line.get(from..to).into_iter().flatten());
        }
        let mut text = text.trim();
        if text.ends_with('>')
            && let Some(at) = text.rfind("::<")
        {
            text = &text[..at];
        }
        let text = text.trim_start_matches("r#");
        if !text.ends_with(name) {
            return false;
        }
        let before = text[..text.len() - name.len()].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return false;
        }
        // What follows the operand.
        let mut after = String::new();
        for line_no in end.0..=end.0 + 3 {
            let Some(line) = lines.get(line_no as usize - 1) else { break };
            let from = if line_no == end.0 { (end.1 as usize - 1).min(line.len()) } else { 0 };
            after.extend(&line[from..]);
            after.push('\n');
        }
        let mut after = after.trim_start();
        if let Some(rest) = after.strip_prefix("::<") {
            let mut depth = 1;
            let mut cut = rest.len();
            for (at, c) in rest.char_indices() {
                match c {
                    '<' => depth += 1,
                    '>' => {
                        depth -= 1;
                        if depth == 0 {
                            cut = at + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            after = rest[cut..].trim_start();
        }
        after.starts_with('(')
    }

    /// The trimmed text of the line `site` (`file:line`, package-relative) names.
    fn line_text(&mut self, file: &str, site: &str) -> String {
        let line_no: usize = site.rsplit_once(':').and_then(|(_, l)| l.parse().ok()).unwrap_or(0);
        self.lines(file)
            .and_then(|lines| lines.get(line_no.wrapping_sub(1)))
            .map(|l| l.iter().collect::<String>().trim().chars().take(120).collect())
            .unwrap_or_default()
    }
}

/// The Markdown table: one row per crate, then one per set and the total.
pub fn table(scores: &[CrateScore]) -> String {
    let mut out = String::from(
        "| crate | set | own calls found | deps' calls found | exact right | inferred right | apart: inserted / caller unknown / callee unknown |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let row = |out: &mut String, name: &str, set: &str, s: &[&CrateScore]| {
        let (mut own, mut deps, mut exact, mut inferred) =
            (Count::default(), Count::default(), Count::default(), Count::default());
        let mut apart = Apart::default();
        for score in s {
            own.merge(score.own);
            deps.merge(score.deps);
            exact.merge(score.exact);
            inferred.merge(score.inferred);
            apart.inserted += score.apart.inserted;
            apart.caller_unknown += score.apart.caller_unknown;
            apart.callee_unknown += score.apart.callee_unknown;
        }
        let _ = writeln!(
            out,
            "| {name} | {set} | {} | {} | {} | {} | {} / {} / {} |",
            cell(own),
            cell(deps),
            cell(exact),
            cell(inferred),
            apart.inserted,
            apart.caller_unknown,
            apart.callee_unknown
        );
    };
    for score in scores {
        row(&mut out, &format!("{} {}", score.krate, score.version), &score.set, &[score]);
    }
    let sets: BTreeSet<&str> = scores.iter().map(|s| s.set.as_str()).collect();
    for set in &sets {
        let members: Vec<&CrateScore> = scores.iter().filter(|s| s.set == *set).collect();
        row(&mut out, "**all**", set, &members);
    }
    if sets.len() > 1 {
        row(&mut out, "**all**", "both", &scores.iter().collect::<Vec<_>>());
    }
    out
}

fn cell(count: Count) -> String {
    match count.share() {
        Some(share) => format!("{:.1}% ({}/{})", share * 100.0, count.hit, count.total),
        None => "–".to_owned(),
    }
}

/// Every mismatch, or the first `per_class` of each class per crate.
pub fn mismatch_listing(scores: &[CrateScore], per_class: usize) -> String {
    let mut out = String::new();
    for score in scores {
        let mut by_class: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (class, line) in &score.mismatches {
            by_class.entry(class).or_default().push(line);
        }
        for (class, lines) in by_class {
            let _ = writeln!(out, "## {} {}: {class} ({})", score.krate, score.version, lines.len());
            for line in lines.iter().take(per_class) {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    out
}
