//! `history`'s result (pure): the recorded migrations as a table for a terminal and as JSON.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::plan::arn::id_of;
use crate::verdict::outcome::Outcome;
use crate::verdict::rails::Direction;
use crate::verdict::record::{Entry, Unrecorded};

/// The JSON document: every migration, newest first.
pub fn to_json(family: &str, group: &str, stream: &str, entries: &[Entry]) -> Value {
    let migrations: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut launch = serde_json::to_value(&e.launch).unwrap_or_default();
            launch["launched_at"] = json!(when(e.launched_ms, 'T') + "Z");
            launch["status"] = json!(status(e));
            launch["verdict"] = serde_json::to_value(&e.verdict).unwrap_or_default();
            launch
        })
        .collect();
    json!({
        "outcome": Outcome::Succeeded,
        "process_exit_code": 0,
        "migration_family": family,
        "record": {"log_group": group, "log_stream": stream},
        "migrations": migrations,
    })
}

/// A history that could not be read: its JSON document.
pub fn failed_json(outcome: Outcome, error: &str) -> Value {
    json!({
        "outcome": outcome,
        "process_exit_code": outcome.exit_code(None),
        "error": error,
        "migrations": [],
    })
}

/// The verdict's outcome, or what is known without one.
fn status(e: &Entry) -> String {
    match (&e.verdict, &e.unrecorded) {
        (Some(v), _) => v.outcome.name().to_string(),
        (None, Unrecorded::Running(s)) => format!("running ({})", s.to_lowercase()),
        (None, Unrecorded::Forgotten) => "unknown".into(),
        (None, Unrecorded::Unknown) => "unknown".into(),
    }
}

/// The table: a header and one row per migration, columns aligned.
pub fn table(entries: &[Entry]) -> Vec<String> {
    let header = [
        "LAUNCHED (UTC)",
        "TASK",
        "KIND",
        "IMAGE",
        "COMMAND",
        "OUTCOME",
        "EXIT",
        "VERSIONS",
        "DURATION",
        "WHO",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for e in entries {
        let v = e.verdict.as_ref();
        let up = e.versions(Direction::Up).len();
        let down = e.versions(Direction::Down).len();
        let versions = match (up, down) {
            _ if v.is_none() => "?".to_string(),
            (0, 0) => "none".to_string(),
            (u, 0) => format!("+{u}"),
            (0, d) => format!("-{d}"),
            (u, d) => format!("+{u} -{d}"),
        };
        rows.push(vec![
            when(e.launched_ms, ' '),
            id_of(&e.launch.task_arn).chars().take(8).collect(),
            serde_json::to_value(e.launch.kind)
                .ok()
                .and_then(|k| k.as_str().map(String::from))
                .unwrap_or_default(),
            short_image(e.launch.image.as_deref().unwrap_or("?")),
            e.launch
                .preset
                .clone()
                .unwrap_or_else(|| clip(&e.launch.command.join(" "), 30)),
            status(e),
            v.and_then(|v| v.exit_code)
                .map_or("-".into(), |c| c.to_string()),
            versions,
            v.and_then(|v| v.duration_seconds)
                .map_or("-".into(), |d| format!("{d:.1}s")),
            e.launch.who.short(),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect()
}

/// `2026-11-30 08:26:30` (UTC) from epoch milliseconds; `sep` between date and time.
pub fn when(ms: i64, sep: char) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    let s = humantime::format_rfc3339_seconds(t).to_string();
    s.trim_end_matches('Z').replacen('T', &sep.to_string(), 1)
}

/// The repository's last segment and the tag (or the digest's first 12 hex digits).
fn short_image(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match digest {
        Some(d) => {
            let hex: String = d.trim_start_matches("sha256:").chars().take(12).collect();
            format!("{last}@{hex}")
        }
        None => last.to_string(),
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).collect::<String>() + "…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::record::tests::{events, launch, verdict};
    use crate::verdict::record::{Event, entries};

    #[test]
    fn a_table_a_reader_can_scan() {
        let mut l2 = launch("bbbbbbbb22", "123.dkr.ecr.r.amazonaws.com/app/rails:v2");
        l2.who.codebuild_build_id = Some("migrate:0f3c".into());
        let e = entries(events(vec![
            (
                1_764_489_600_000,
                Event::from(launch("aaaaaaaa11", "repo/rails:v1")),
            ),
            (
                1_764_489_601_000,
                Event::from(verdict("aaaaaaaa11", &["20240101000000"], &[])),
            ),
            (1_764_493_200_000, Event::from(l2)),
        ]));
        let t = table(&e);
        assert_eq!(t.len(), 3);
        assert!(
            t[0].starts_with("LAUNCHED (UTC)       TASK      KIND"),
            "{}",
            t[0]
        );
        assert!(
            t[1].starts_with("2025-11-30 09:00:00  bbbbbbbb  run "),
            "{}",
            t[1]
        );
        assert!(
            t[1].contains("rails:v2") && t[1].contains("unknown"),
            "{}",
            t[1]
        );
        assert!(t[1].ends_with("codebuild:migrate:0f3c"), "{}", t[1]);
        assert!(
            t[2].contains("succeeded") && t[2].contains("+1"),
            "{}",
            t[2]
        );
        // the columns line up
        let col = t[0].find("OUTCOME").unwrap();
        assert_eq!(&t[2][col..col + 9], "succeeded");
    }

    #[test]
    fn images_are_short() {
        let d = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(
            short_image(&format!("r/app/rails@{d}")),
            "rails@abababababab"
        );
        assert_eq!(short_image("localhost:5000/rails:v2"), "rails:v2");
    }
}
