//! What Rails said it did (pure): the `== 20240101000000 CreateUsers: migrated (0.0012s) ===`
//! lines of a migration's log, with each migration's duration. The order of the lines is not
//! relied on: Ruby buffers stdout in a container, so an error on stderr can land first.

use serde::{Deserialize, Serialize};

/// Which way a migration went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// `migrated`: applied.
    Up,
    /// `reverted`: undone.
    Down,
}

/// One migration Rails finished, as its closing banner says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub version: String,
    /// The migration's class name (`CreateUsers`).
    pub name: String,
    pub direction: Direction,
    /// Rails' own measure (`(0.0012s)`).
    pub seconds: Option<f64>,
}

/// A migration Rails began (`== 20240101000000 CreateUsers: migrating ===`), finished or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Begun {
    pub version: String,
    pub name: String,
    pub direction: Direction,
}

/// A banner's version, name and word (`migrated`, `migrating`, …), and what follows; None for
/// any other line, or one whose version or name is not Rails' (so nothing else gets through).
fn banner(line: &str) -> Option<(&str, &str, &str, std::str::SplitWhitespace<'_>)> {
    let rest = line.strip_prefix("== ")?;
    let mut parts = rest.split_whitespace();
    let version = parts.next()?;
    let name = parts.next()?.strip_suffix(':')?;
    let word = parts.next()?;
    let is_version = version.len() >= 3 && version.chars().all(|c| c.is_ascii_digit());
    let is_name = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (is_version && is_name).then_some((version, name, word, parts))
}

/// The migration an opening banner announces (`migrating`, `reverting`); None for any other line.
pub fn began(line: &str) -> Option<Begun> {
    let (version, name, word, _) = banner(line)?;
    let direction = match word {
        "migrating" => Direction::Up,
        "reverting" => Direction::Down,
        _ => return None,
    };
    Some(Begun {
        version: version.to_string(),
        name: name.to_string(),
        direction,
    })
}

/// The step a closing banner announces; None for any other line (`migrating`, `-- …`).
pub fn step(line: &str) -> Option<Step> {
    let (version, name, word, mut parts) = banner(line)?;
    let direction = match word {
        "migrated" => Direction::Up,
        "reverted" => Direction::Down,
        _ => return None,
    };
    let seconds = parts
        .next()
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.strip_suffix("s)"))
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0);
    Some(Step {
        version: version.to_string(),
        name: name.to_string(),
        direction,
        seconds,
    })
}

/// The versions that went one way.
pub fn versions(steps: &[Step], direction: Direction) -> Vec<String> {
    steps
        .iter()
        .filter(|s| s.direction == direction)
        .map(|s| s.version.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_banners_give_version_name_direction_and_duration() {
        let l = "== 20240101000000 CreateUsers: migrated (0.0011s) =============================";
        assert_eq!(
            step(l),
            Some(Step {
                version: "20240101000000".into(),
                name: "CreateUsers".into(),
                direction: Direction::Up,
                seconds: Some(0.0011),
            })
        );
        let r = step("== 20240101000000 CreateUsers: reverted (0.1s) ==").unwrap();
        assert_eq!((r.direction, r.seconds), (Direction::Down, Some(0.1)));
    }

    #[test]
    fn other_lines_are_not_steps() {
        for l in [
            "== 20240101000000 CreateUsers: migrating ====",
            "== 20240101000000 CreateUsers: reverting ====",
            "-- create_table(:users)",
            "   -> 0.0008s",
            "== notaversion CreateUsers: migrated (0.1s) ==",
            "== 20240101000000 Create\u{1b}[2KUsers: migrated (0.1s) ==",
            "",
        ] {
            assert_eq!(step(l), None, "{l:?}");
        }
        // a banner without Rails' duration is still a step
        assert_eq!(
            step("== 20240101000000 CreateUsers: migrated").map(|s| s.seconds),
            Some(None)
        );
    }

    #[test]
    fn opening_banners_are_begun_migrations_and_nothing_else_is() {
        let b = began("== 20240401000000 AddUniqueIndexToUsers: migrating =====").unwrap();
        assert_eq!(
            (b.version.as_str(), b.name.as_str(), b.direction),
            ("20240401000000", "AddUniqueIndexToUsers", Direction::Up)
        );
        let r = began("== 20240401000000 AddUniqueIndexToUsers: reverting ==").unwrap();
        assert_eq!(r.direction, Direction::Down);
        for l in [
            "== 20240101000000 CreateUsers: migrated (0.0011s) ==",
            "== 2024 Create::Users: migrating ==",
            "== 20240101000000 Create|Users: migrating ==",
            "rails aborted!",
        ] {
            assert_eq!(began(l), None, "{l:?}");
        }
    }

    #[test]
    fn versions_of_a_log_whatever_the_order() {
        let log = [
            "rails aborted!",
            "== 20240502000000 CreateComments: reverted (0.0100s) ==",
            "== 20240501000000 AddRoleToUsers: migrated (2.0000s) ==",
        ];
        let s: Vec<Step> = log.into_iter().filter_map(step).collect();
        assert_eq!(versions(&s, Direction::Up), ["20240501000000"]);
        assert_eq!(versions(&s, Direction::Down), ["20240502000000"]);
    }
}
