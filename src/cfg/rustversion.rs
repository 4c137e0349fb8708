//! The rustversion crate's attributes (`#[rustversion::since(1.79)]`, `#[rustversion::nightly]`,
//! ...), which keep or drop their item by the compiler that builds it. `parse::render` turns one
//! into the `cfg` predicate `rustversion = "since(1.79)"`; this module evaluates its text against
//! the toolchain's `rustc -vV`, with rustversion's meaning:
//!
//! - `stable`, `beta`, `nightly`: the channel (a `-dev` build counts as nightly);
//!   `stable(1.34)` and `stable(1.34.2)`: that stable release; `nightly(2020-02-01)`: the
//!   nightly of that date;
//! - `since(1.34)`, `since(2020-02-01)`: that release or later (any channel), a compiler dated
//!   that day or later; `before(...)`: the opposite;
//! - `not(...)`, `any(...)`, `all(...)`.

use serde::{Deserialize, Serialize};

/// What rustversion reads of a compiler.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rustc {
    pub minor: u32,
    pub patch: u32,
    pub channel: Channel,
    /// `commit-date`, as (year, month, day).
    pub date: Option<(u32, u32, u32)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Channel {
    Stable,
    Beta,
    Nightly,
    Dev,
}

impl Rustc {
    /// From `rustc -vV`: `release: 1.95.0` (or `1.96.0-beta.3`, `1.97.0-nightly`, `-dev`) and
    /// `commit-date: 2026-04-14`. `None` for a Rust 2.x or a release line that does not read.
    pub fn from_verbose_version(text: &str) -> Option<Rustc> {
        let field = |name: &str| text.lines().find_map(|line| line.strip_prefix(name)).map(str::trim);
        let release = field("release:")?;
        let (numbers, suffix) = release.split_once('-').unwrap_or((release, ""));
        let mut numbers = numbers.split('.').map(str::parse::<u32>);
        let (Some(Ok(1)), Some(Ok(minor)), Some(Ok(patch))) = (numbers.next(), numbers.next(), numbers.next()) else {
            return None;
        };
        let channel = match suffix {
            "" => Channel::Stable,
            "nightly" => Channel::Nightly,
            "dev" => Channel::Dev,
            beta if beta.starts_with("beta") => Channel::Beta,
            _ => return None,
        };
        Some(Rustc { minor, patch, channel, date: field("commit-date:").and_then(date) })
    }
}

/// Whether the attribute's text (`since(1.79)`, without its `rustversion::`, spaces allowed)
/// holds for `rustc`; `None` when it does not read as rustversion's.
pub fn eval(text: &str, rustc: &Rustc) -> Option<bool> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let (holds, rest) = expression(&text, rustc, 0)?;
    rest.is_empty().then_some(holds)
}

/// `not(not(...))` deeper than this does not read (an attribute's text is already bounded, but
/// this recursion should not depend on it).
const MAX_DEPTH: usize = 32;

/// One expression at the start of `text`: whether it holds, and the text after it.
fn expression<'a>(text: &'a str, rustc: &Rustc, depth: usize) -> Option<(bool, &'a str)> {
    if depth > MAX_DEPTH {
        return None;
    }
    let name_end = text.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(text.len());
    let (name, rest) = text.split_at(name_end);
    let Some(args) = rest.strip_prefix('(') else {
        let holds = match name {
            "stable" => rustc.channel == Channel::Stable,
            "beta" => rustc.channel == Channel::Beta,
            "nightly" => matches!(rustc.channel, Channel::Nightly | Channel::Dev),
            _ => return None,
        };
        return Some((holds, rest));
    };
    match name {
        "not" | "any" | "all" => {
            let mut rest = args;
            let mut values = Vec::new();
            loop {
                if let Some(after) = rest.strip_prefix(')') {
                    rest = after;
                    break;
                }
                let (value, after) = expression(rest, rustc, depth + 1)?;
                values.push(value);
                rest = after.strip_prefix(',').unwrap_or(after);
                if !after.starts_with([',', ')']) {
                    return None;
                }
            }
            let holds = match name {
                "not" if values.len() == 1 => !values[0],
                "not" => return None,
                "any" => values.iter().any(|value| *value),
                _ => values.iter().all(|value| *value),
            };
            Some((holds, rest))
        }
        _ => {
            let (arg, rest) = args.split_once(')')?;
            let holds = match (name, bound(arg)?) {
                ("stable", Bound::Version(minor, patch)) => {
                    rustc.channel == Channel::Stable && rustc.minor == minor && patch.is_none_or(|p| p == rustc.patch)
                }
                ("nightly", Bound::Date(day)) => {
                    matches!(rustc.channel, Channel::Nightly | Channel::Dev) && rustc.date == Some(day)
                }
                ("since", bound) => since(rustc, bound)?,
                ("before", bound) => !since(rustc, bound)?,
                _ => return None,
            };
            Some((holds, rest))
        }
    }
}

enum Bound {
    /// `1.34` or `1.34.2`: the minor version, and the patch if given.
    Version(u32, Option<u32>),
    Date((u32, u32, u32)),
}

fn bound(text: &str) -> Option<Bound> {
    if text.contains('-') {
        return date(text).map(Bound::Date);
    }
    let mut numbers = text.split('.').map(str::parse::<u32>);
    match (numbers.next(), numbers.next(), numbers.next(), numbers.next()) {
        (Some(Ok(1)), Some(Ok(minor)), None, None) => Some(Bound::Version(minor, None)),
        (Some(Ok(1)), Some(Ok(minor)), Some(Ok(patch)), None) => Some(Bound::Version(minor, Some(patch))),
        _ => None,
    }
}

fn since(rustc: &Rustc, bound: Bound) -> Option<bool> {
    Some(match bound {
        Bound::Version(minor, patch) => (rustc.minor, rustc.patch) >= (minor, patch.unwrap_or(0)),
        Bound::Date(day) => rustc.date? >= day,
    })
}

/// `2020-02-01`.
fn date(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split('-').map(str::parse::<u32>);
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Ok(year)), Some(Ok(month)), Some(Ok(day)), None) => Some((year, month, day)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STABLE: &str = "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\ncommit-date: 2026-04-14\n\
        host: x86_64-unknown-linux-gnu\nrelease: 1.95.0\nLLVM version: 22.1.2\n";

    fn stable() -> Rustc {
        Rustc::from_verbose_version(STABLE).unwrap()
    }

    #[test]
    fn the_compiler_is_read_from_rustc_verbose_version() {
        assert_eq!(stable(), Rustc { minor: 95, patch: 0, channel: Channel::Stable, date: Some((2026, 4, 14)) });
        let nightly = Rustc::from_verbose_version("release: 1.97.0-nightly\ncommit-date: 2026-05-01\n").unwrap();
        assert_eq!((nightly.minor, nightly.channel), (97, Channel::Nightly));
        let beta = Rustc::from_verbose_version("release: 1.96.0-beta.3\n").unwrap();
        assert_eq!((beta.channel, beta.date), (Channel::Beta, None));
        assert_eq!(Rustc::from_verbose_version("release: 1.90.0-dev\n").unwrap().channel, Channel::Dev);
        for unreadable in ["", "release: 2.0.0\n", "release: 1.90\n", "release: 1.90.0-custom\n"] {
            assert_eq!(Rustc::from_verbose_version(unreadable), None, "{unreadable}");
        }
    }

    #[test]
    fn rustversions_attributes_hold_as_rustversion_says() {
        let rustc = stable();
        let holds = |text: &str| eval(text, &rustc);
        for (text, expected) in [
            ("stable", true),
            ("beta", false),
            ("nightly", false),
            ("stable(1.95)", true),
            ("stable(1.95.0)", true),
            ("stable(1.95.1)", false),
            ("stable(1.94)", false),
            ("since(1.79)", true),
            ("since(1.95)", true),
            ("since(1.95.1)", false),
            ("since(1.96)", false),
            ("before(1.79)", false),
            ("before(1.96)", true),
            ("since(2026-04-14)", true),
            ("since(2026-04-15)", false),
            ("before(2020-01-01)", false),
            ("nightly(2026-04-14)", false),
            ("not(nightly)", true),
            ("any(nightly, since(1.80))", true),
            ("all(stable, before(1.80))", false),
            ("all()", true),
            ("any()", false),
            (" since ( 1.79 ) ", true),
        ] {
            assert_eq!(holds(text), Some(expected), "{text}");
        }
        let nightly = Rustc { minor: 97, patch: 0, channel: Channel::Nightly, date: Some((2026, 5, 1)) };
        assert_eq!(eval("nightly(2026-05-01)", &nightly), Some(true));
        assert_eq!(eval("nightly", &Rustc { channel: Channel::Dev, ..nightly.clone() }), Some(true));
        for unreadable in
            ["", "since", "since(2.0)", "since(1.x)", "not(stable, beta)", "maybe", "all(stable", "stable)"]
        {
            assert_eq!(holds(unreadable), None, "{unreadable}");
        }
        let deep = format!("{}stable{}", "not(".repeat(1_000), ")".repeat(1_000));
        assert_eq!(holds(&deep), None, "too deep to read");
    }
}
