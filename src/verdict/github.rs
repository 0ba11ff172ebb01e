//! What GitHub Actions reads from a migration's report (pure): the failure's annotation, the job
//! summary and the step outputs, each escaped by the rules of where it goes. Text from outside
//! (the image, AWS's reasons, anything a log could have put in the report) is neutralised and
//! escaped; the report holds no secret value, and nothing here adds one. `output` writes them.

use std::fmt::Write;

use crate::plan::arn::id_of;
use crate::sanitize::neutralise;
use crate::verdict::outcome::Outcome;
use crate::verdict::report::{Report, direction};

/// Longest job summary written: GitHub refuses one over 1 MiB, so this stays far below.
pub const SUMMARY_MAX_BYTES: usize = 64 * 1024;
/// Most migrations tabled in the summary (the JSON result lists them all).
const SUMMARY_MAX_ROWS: usize = 300;
/// Longest cell of the summary, and longest annotation, in characters.
const CELL_MAX_CHARS: usize = 300;
const ANNOTATION_MAX_CHARS: usize = 4000;

/// A workflow command's message: `%`, CR and LF escaped (GitHub's `escapeData`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: as a message, and `:` and `,` (`escapeProperty`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::group::` with its title (the container's log follows, fenced).
pub fn group(title: &str) -> String {
    format!("::group::{}", escape_data(&neutralise(title)))
}

/// The migration named in a failure: the one Rails began and never finished.
fn unfinished(report: &Report) -> Option<String> {
    let u = &report.logs.unfinished_migrations;
    (!u.is_empty()).then(|| {
        u.iter()
            .map(|b| format!("{} {}", b.version, b.name))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

fn outcome_name(report: &Report) -> &'static str {
    report.outcome.map_or("unknown", Outcome::name)
}

/// `::error title=…::…` naming the migration that failed and the outcome; None on success.
pub fn annotation(report: &Report, command: &str) -> Option<String> {
    let code = report.process_exit_code();
    if code == 0 {
        return None;
    }
    let outcome = outcome_name(report);
    let title = match (unfinished(report), report.outcome) {
        (Some(m), Some(Outcome::Failed)) => format!("ecs-migrate {command}: migration {m} failed"),
        (Some(m), _) => format!("ecs-migrate {command}: {outcome}, migration {m} did not finish"),
        (None, _) => format!("ecs-migrate {command}: {outcome}"),
    };
    let mut message = format!("outcome {outcome}, exit code {code}");
    if let Some(c) = report.ended.exit_code {
        let _ = write!(message, " (container exit code {c})");
    }
    if let Some(m) = unfinished(report) {
        let _ = write!(message, "; migration {m} began and never finished");
    }
    if let Some(e) = &report.error {
        let _ = write!(message, "; {e}");
    }
    if let Some(arn) = &report.task_arn {
        let _ = write!(message, "; task {arn}");
    }
    Some(format!(
        "::error title={}::{}",
        escape_property(&clip(&neutralise(&title), CELL_MAX_CHARS)),
        escape_data(&clip(&neutralise(&message), ANNOTATION_MAX_CHARS))
    ))
}

/// The step outputs in the `name<<DELIMITER` form (`delimiter`: random, per write). Values
/// are single lines (a line break would be a way out of the form), from AWS and ecs-migrate.
pub fn outputs(report: &Report, delimiter: &str) -> String {
    let values = [
        ("task-arn", report.task_arn.clone().unwrap_or_default()),
        ("exit-code", report.process_exit_code().to_string()),
        ("outcome", outcome_name(report).to_string()),
        ("migrated-versions", report.logs.migrated_versions.join(",")),
        (
            "client-token",
            report.client_token.clone().unwrap_or_default(),
        ),
    ];
    let mut out = String::new();
    for (name, value) in values {
        let value: String = value.chars().filter(|c| !c.is_control()).collect();
        // as GitHub's toolkit: a value holding the delimiter could end its own output early
        let value = if value.contains(delimiter) {
            String::new()
        } else {
            value
        };
        let _ = write!(out, "{name}<<{delimiter}\n{value}\n{delimiter}\n");
    }
    out
}

/// The job summary (markdown): the outcome, exit code, image, links to the task and its log,
/// the migrations with their durations; at most `SUMMARY_MAX_BYTES`.
pub fn summary(report: &Report, command: &str) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        ("Outcome", format!("**{}**", md(outcome_name(report)))),
        ("Exit code", {
            let code = report.process_exit_code();
            match report.ended.exit_code {
                Some(c) => format!("{code} (container exit code {c})"),
                None => format!("{code} (no container exit code)"),
            }
        }),
    ];
    if let Some(m) = unfinished(report) {
        rows.push(("Failed migration", md(&m)));
    }
    if let Some(i) = &report.image {
        rows.push(("Image", format!("`{}`", code_span(i))));
    }
    if let Some(arn) = &report.task_arn {
        let text = md(id_of(arn));
        rows.push(("Task", link(&text, report.console_url.as_deref())));
    }
    if let Some(stream) = &report.logs.log_stream {
        let lines = match report.logs.log_lines {
            1 => "1 line".to_string(),
            n => format!("{n} lines"),
        };
        let partial = if report.logs.logs_complete {
            ""
        } else {
            ", may be incomplete"
        };
        let text = link(&md(stream), report.logs.log_console_url.as_deref());
        rows.push(("Log", format!("{text} ({lines}{partial})")));
    }
    match (report.ended.duration_seconds, report.elapsed_seconds) {
        (Some(t), Some(a)) => {
            rows.push(("Duration", format!("{t:.1} s (the task), {a:.1} s in all")))
        }
        (Some(t), None) => rows.push(("Duration", format!("{t:.1} s (the task)"))),
        (None, Some(a)) => rows.push(("Duration", format!("{a:.1} s in all"))),
        (None, None) => {}
    }
    if let Some(g) = &report.gate {
        let answer = g.action.as_deref().or(g.attempted_action.as_deref());
        rows.push(("Hook", md(answer.unwrap_or("not answered"))));
    }
    if let Some(e) = &report.error {
        rows.push(("Error", md(e)));
    }
    let mut out = format!(
        "### ecs-migrate {}: {}\n\n| | |\n| --- | --- |\n",
        md(command),
        md(outcome_name(report))
    );
    for (label, value) in rows {
        let _ = writeln!(out, "| {label} | {value} |");
    }
    let room = SUMMARY_MAX_BYTES.saturating_sub(out.len() + 200);
    out.push_str(&migrations(report, room));
    if out.len() > SUMMARY_MAX_BYTES {
        let cut = floor_boundary(&out, SUMMARY_MAX_BYTES - 100);
        out.truncate(cut);
        out.push_str("\n\n(cut: the JSON result has everything)\n");
    }
    out
}

/// The migrations table in at most `room` bytes (none: an empty string); the rows that do not
/// fit (or past `SUMMARY_MAX_ROWS`) are counted, not shown.
fn migrations(report: &Report, room: usize) -> String {
    let steps = &report.logs.migrations;
    let unfinished = &report.logs.unfinished_migrations;
    if steps.is_empty() && unfinished.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n#### Migrations\n\n| Version | Migration | Direction | Duration |\n| --- | --- | --- | ---: |\n",
    );
    let finished = steps.iter().map(|s| {
        let secs = s.seconds.map_or("-".into(), |t| format!("{t:.4} s"));
        (&s.version, &s.name, s.direction, secs)
    });
    let begun = unfinished.iter().map(|b| {
        (
            &b.version,
            &b.name,
            b.direction,
            "began, never finished".into(),
        )
    });
    let all: Vec<_> = finished.chain(begun).collect();
    let mut shown = 0;
    for (version, name, d, secs) in all.iter().take(SUMMARY_MAX_ROWS) {
        let row = format!(
            "| {} | {} | {} | {secs} |\n",
            md(version),
            md(name),
            direction(*d)
        );
        if out.len() + row.len() > room {
            break;
        }
        out.push_str(&row);
        shown += 1;
    }
    if all.len() > shown {
        let _ = writeln!(
            out,
            "\n{} more (the JSON result lists them all)",
            all.len() - shown
        );
    }
    out
}

/// Text from outside as one markdown table cell: control characters made visible, clipped,
/// every ASCII punctuation character backslash-escaped (CommonMark's rule: no link, image,
/// emphasis, HTML tag, mention or cell break survives), line breaks made spaces.
pub fn md(s: &str) -> String {
    let clean = clip(&neutralise(s), CELL_MAX_CHARS);
    let mut out = String::with_capacity(clean.len() + 8);
    for c in clean.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
            out.push(c);
        } else if c == '\n' || c == '\r' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// Text inside a code span: no backtick to close it early, no `|` to break the cell.
fn code_span(s: &str) -> String {
    clip(&neutralise(s), CELL_MAX_CHARS)
        .replace('`', "'")
        .replace('|', "\\|")
}

/// A link to one of our console URLs: the text is already escaped; the URL is
/// percent-encoded beyond a conservative set, so no `)` or space can end it early.
fn link(text: &str, url: Option<&str>) -> String {
    let Some(url) = url.filter(|u| u.starts_with("https://")) else {
        return text.to_string();
    };
    let mut target = String::with_capacity(url.len());
    for b in url.bytes() {
        let safe = b.is_ascii_alphanumeric() || b"-._~:/?#=&$%+,;@".contains(&b);
        if safe {
            target.push(b as char);
        } else {
            let _ = write!(target, "%{b:02X}");
        }
    }
    format!("[{text}]({target})")
}

/// At most `max` characters of `s`, marked when cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

fn floor_boundary(s: &str, mut at: usize) -> usize {
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::report::{Ended, LogFacts};
    use crate::verdict::transcript::Transcript;

    fn broken() -> Report {
        let mut t = Transcript::default();
        for l in [
            "rails aborted!",
            "== 20240101000000 CreateUsers: migrated (0.0011s) ==",
            "== 20240401000000 AddUniqueIndexToUsers: migrating ==",
        ] {
            t.read(l);
        }
        let mut logs = LogFacts {
            log_stream: Some("ecs/rails/abc123".into()),
            log_console_url: Some("https://r.console.aws.amazon.com/cloudwatch/home?region=r#logsV2:log-groups/log-group/$252Fecs/log-events/x".into()),
            log_lines: 12,
            logs_complete: true,
            ..Default::default()
        };
        logs.set_transcript(&t);
        Report {
            outcome: Some(Outcome::Failed),
            ended: Ended {
                exit_code: Some(1),
                duration_seconds: Some(4.25),
                ..Default::default()
            },
            task_arn: Some("arn:aws:ecs:r:1:task/c/abc123".into()),
            console_url: Some("https://r.console.aws.amazon.com/ecs/v2/clusters/c/tasks/abc123/configuration?region=r".into()),
            client_token: Some("exec-1".into()),
            image: Some("1.dkr.ecr.r.amazonaws.com/rails:v3".into()),
            logs,
            ..Default::default()
        }
    }

    #[test]
    fn workflow_command_values_are_escaped_by_githubs_rules() {
        assert_eq!(escape_data("50% a\r\nb"), "50%25 a%0D%0Ab");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }

    #[test]
    fn the_annotation_names_the_failed_migration_and_the_outcome() {
        let a = annotation(&broken(), "run").unwrap();
        assert_eq!(
            a,
            "::error title=ecs-migrate run%3A migration 20240401000000 AddUniqueIndexToUsers failed::outcome failed, exit code 1 (container exit code 1); migration 20240401000000 AddUniqueIndexToUsers began and never finished; task arn:aws:ecs:r:1:task/c/abc123"
        );
        let mut ok = broken();
        ok.outcome = Some(Outcome::Succeeded);
        assert_eq!(annotation(&ok, "run"), None);
        let mut busy = Report {
            outcome: Some(Outcome::Busy),
            error: Some("another migration is running:\n::error::x\x1b[2K".into()),
            ..Default::default()
        };
        let a = annotation(&busy, "gate").unwrap();
        assert!(a.starts_with("::error title=ecs-migrate gate%3A busy::outcome busy, exit code 121; another migration is running:\\x0a::error::x\\x1b[2K"), "{a}");
        assert_eq!(a.lines().count(), 1, "one line, whatever the error held");
        busy.error = Some("x".repeat(10 * ANNOTATION_MAX_CHARS));
        assert!(annotation(&busy, "run").unwrap().len() < ANNOTATION_MAX_CHARS + 200);
    }

    #[test]
    fn the_outputs_use_the_delimiter_form_and_single_lines() {
        let mut r = broken();
        r.logs.migrated_versions = vec!["20240101000000".into(), "20240215093000".into()];
        r.client_token = Some("tok\nexit-code<<D\n0\nD".into());
        let o = outputs(&r, "ghadelimiter_X");
        assert_eq!(
            o,
            "task-arn<<ghadelimiter_X\narn:aws:ecs:r:1:task/c/abc123\nghadelimiter_X\n\
             exit-code<<ghadelimiter_X\n1\nghadelimiter_X\n\
             outcome<<ghadelimiter_X\nfailed\nghadelimiter_X\n\
             migrated-versions<<ghadelimiter_X\n20240101000000,20240215093000\nghadelimiter_X\n\
             client-token<<ghadelimiter_X\ntokexit-code<<D0D\nghadelimiter_X\n"
        );
    }

    #[test]
    fn the_summary_has_the_facts_links_and_the_migrations_table() {
        let s = summary(&broken(), "run");
        for want in [
            "### ecs-migrate run: failed\n",
            "| Outcome | **failed** |\n",
            "| Exit code | 1 (container exit code 1) |\n",
            "| Failed migration | 20240401000000 AddUniqueIndexToUsers |\n",
            "| Image | `1.dkr.ecr.r.amazonaws.com/rails:v3` |\n",
            "| Task | [abc123](https://r.console.aws.amazon.com/ecs/v2/clusters/c/tasks/abc123/configuration?region=r) |\n",
            "| Log | [ecs\\/rails\\/abc123](https://r.console.aws.amazon.com/cloudwatch/home?region=r#logsV2:log-groups/log-group/$252Fecs/log-events/x) (12 lines) |\n",
            "| Duration | 4.2 s (the task) |\n",
            "| Version | Migration | Direction | Duration |\n| --- | --- | --- | ---: |\n",
            "| 20240101000000 | CreateUsers | up | 0.0011 s |\n",
            "| 20240401000000 | AddUniqueIndexToUsers | up | began, never finished |\n",
        ] {
            assert!(s.contains(want), "{want:?} in\n{s}");
        }
    }

    #[test]
    fn outside_text_cannot_break_the_summary_and_its_size_is_capped() {
        let mut r = broken();
        r.error =
            Some("x | y\n| Outcome | **succeeded** |\n<img src=x> [a](javascript:1) @team".into());
        r.image = Some("img`|` <b>".into());
        r.console_url = Some("https://x/a) [b](c d".into());
        let s = summary(&r, "run");
        assert!(s.contains("| Error | x \\| y\\\\x0a\\| Outcome \\| \\*\\*succeeded\\*\\* \\|\\\\x0a\\<img src\\=x\\> \\[a\\]\\(javascript\\:1\\) \\@team |"), "{s}");
        assert!(s.contains("| Image | `img'\\|' <b>` |"), "{s}");
        assert!(s.contains("(https://x/a%29%20%5Bb%5D%28c%20d)"), "{s}");
        assert_eq!(s.matches("| Outcome |").count(), 1);
        // a huge report stays far below GitHub's 1 MiB
        r.logs.migrations = (0..100_000)
            .map(|i| crate::verdict::rails::Step {
                version: format!("{i:014}"),
                name: "N".repeat(500),
                direction: crate::verdict::rails::Direction::Up,
                seconds: Some(1.0),
            })
            .collect();
        r.error = Some("e".repeat(1 << 20));
        let s = summary(&r, "run");
        assert!(s.len() <= SUMMARY_MAX_BYTES, "{}", s.len());
        assert!(
            s.contains(" more (the JSON result lists them all)\n"),
            "{}",
            &s[s.len() - 300..]
        );
    }
}
