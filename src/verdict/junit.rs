//! The JUnit XML report of a migration (pure), for CodeBuild's `reports:` and any CI that reads
//! JUnit: one test case per migration Rails finished (with its duration) or began and never
//! finished, and one for the run with its verdict and, on failure, the end of the log. The log
//! is untrusted: quick-xml escapes it, and the characters XML 1.0 cannot hold are dropped.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::verdict::outcome::Outcome;
use crate::verdict::report::{Report, direction};

/// The report for `command` (`run`, `gate`, `revert`, `logs`).
pub fn junit(report: &Report, command: &str) -> String {
    let code = report.process_exit_code();
    let outcome = report.outcome.map_or("unknown", Outcome::name);
    let run_name = format!("ecs-migrate {command}");
    let finished = &report.logs.migrations;
    let unfinished = &report.logs.unfinished_migrations;
    let tests = finished.len() + unfinished.len() + 1;
    let failures = unfinished.len() + usize::from(code != 0);
    let time = seconds(report.elapsed_seconds.or(report.ended.duration_seconds));
    let counts = [
        ("tests", tests.to_string()),
        ("failures", failures.to_string()),
        ("errors", "0".to_string()),
    ];

    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let mut put = |e: Event<'_>| {
        // writing to a Vec cannot fail
        let _ = w.write_event(e);
    };
    put(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let mut suites = BytesStart::new("testsuites");
    suites.push_attribute(("name", "ecs-migrate"));
    push(&mut suites, &counts);
    suites.push_attribute(("time", time.as_str()));
    put(Event::Start(suites));

    let mut suite = BytesStart::new("testsuite");
    suite.push_attribute(("name", run_name.as_str()));
    push(&mut suite, &counts);
    suite.push_attribute(("skipped", "0"));
    suite.push_attribute(("time", time.as_str()));
    put(Event::Start(suite));

    put(Event::Start(BytesStart::new("properties")));
    let exit_code = code.to_string();
    let container_code = report.ended.exit_code.map(|c| c.to_string());
    let properties = [
        ("outcome", Some(outcome)),
        ("exit-code", Some(exit_code.as_str())),
        ("container-exit-code", container_code.as_deref()),
        ("task-arn", report.task_arn.as_deref()),
        ("image", report.image.as_deref()),
        ("log-stream", report.logs.log_stream.as_deref()),
    ];
    for (name, value) in properties {
        if let Some(v) = value {
            let mut p = BytesStart::new("property");
            p.push_attribute(("name", name));
            p.push_attribute(("value", xml_text(v, false).as_str()));
            put(Event::Empty(p));
        }
    }
    put(Event::End(BytesEnd::new("properties")));

    for s in finished {
        let name = xml_text(&format!("{} {}", s.version, s.name), false);
        let class = format!("migrations.{}", direction(s.direction));
        let mut case = BytesStart::new("testcase");
        case.push_attribute(("name", name.as_str()));
        case.push_attribute(("classname", class.as_str()));
        case.push_attribute(("time", seconds(s.seconds).as_str()));
        put(Event::Empty(case));
    }
    for b in unfinished {
        let name = xml_text(&format!("{} {}", b.version, b.name), false);
        let class = format!("migrations.{}", direction(b.direction));
        let mut case = BytesStart::new("testcase");
        case.push_attribute(("name", name.as_str()));
        case.push_attribute(("classname", class.as_str()));
        put(Event::Start(case));
        let mut failure = BytesStart::new("failure");
        failure.push_attribute(("type", "unfinished"));
        failure.push_attribute((
            "message",
            "Rails began this migration and never finished it",
        ));
        put(Event::Empty(failure));
        put(Event::End(BytesEnd::new("testcase")));
    }

    let mut case = BytesStart::new("testcase");
    case.push_attribute(("name", run_name.as_str()));
    case.push_attribute(("classname", "ecs-migrate"));
    case.push_attribute(("time", time.as_str()));
    put(Event::Start(case));
    let verdict = verdict(report, outcome, code);
    if code == 0 {
        put(Event::Start(BytesStart::new("system-out")));
        put(Event::Text(BytesText::new(&verdict)));
        put(Event::End(BytesEnd::new("system-out")));
    } else {
        let mut failure = BytesStart::new("failure");
        failure.push_attribute(("type", outcome));
        failure.push_attribute(("message", verdict.as_str()));
        put(Event::Start(failure));
        let tail = xml_text(&report.logs.tail.join("\n"), true);
        put(Event::Text(BytesText::new(&tail)));
        put(Event::End(BytesEnd::new("failure")));
    }
    put(Event::End(BytesEnd::new("testcase")));
    put(Event::End(BytesEnd::new("testsuite")));
    put(Event::End(BytesEnd::new("testsuites")));
    let mut out = String::from_utf8_lossy(&w.into_inner()).into_owned();
    out.push('\n');
    out
}

fn push(start: &mut BytesStart<'_>, attributes: &[(&str, String)]) {
    for (k, v) in attributes {
        start.push_attribute((*k, v.as_str()));
    }
}

/// The run's verdict in one line: outcome, exit codes, the migration left unfinished, the error.
fn verdict(report: &Report, outcome: &str, code: i32) -> String {
    let mut out = format!("outcome {outcome}, exit code {code}");
    if let Some(c) = report.ended.exit_code {
        out.push_str(&format!(" (container exit code {c})"));
    }
    for b in &report.logs.unfinished_migrations {
        out.push_str(&format!(
            "; migration {} {} began and never finished",
            b.version, b.name
        ));
    }
    if let Some(e) = &report.error {
        out.push_str(&format!("; {e}"));
    }
    xml_text(&out, false)
}

/// Seconds with three decimals (Surefire's time), 0 when unknown or not a duration.
fn seconds(s: Option<f64>) -> String {
    let s = s.filter(|s| s.is_finite() && *s >= 0.0).unwrap_or(0.0);
    format!("{s:.3}")
}

/// Text XML 1.0 can hold: control characters dropped (line breaks kept in a body, made spaces
/// in an attribute), and the noncharacters U+FFFE/U+FFFF.
fn xml_text(s: &str, body: bool) -> String {
    s.chars()
        .filter_map(|c| match c {
            '\n' if body => Some('\n'),
            '\n' | '\r' | '\t' => Some(' '),
            '\u{fffe}' | '\u{ffff}' => None,
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::report::Ended;
    use crate::verdict::transcript::Transcript;

    fn report(lines: &[&str], outcome: Outcome, exit: i32) -> Report {
        let mut t = Transcript::default();
        lines.iter().for_each(|l| t.read(l));
        let mut r = Report {
            outcome: Some(outcome),
            ended: Ended {
                exit_code: Some(exit),
                duration_seconds: Some(4.25),
                ..Default::default()
            },
            task_arn: Some("arn:aws:ecs:r:1:task/c/abc".into()),
            elapsed_seconds: Some(9.5),
            ..Default::default()
        };
        r.logs.set_transcript(&t);
        r
    }

    #[test]
    fn a_success_has_a_case_per_migration_and_one_for_the_run() {
        let x = junit(
            &report(
                &[
                    "== 20240101000000 CreateUsers: migrated (0.0011s) ==",
                    "== 20240215093000 AddEmailToUsers: migrated (1.5s) ==",
                ],
                Outcome::Succeeded,
                0,
            ),
            "run",
        );
        for want in [
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<testsuite name="ecs-migrate run" tests="3" failures="0" errors="0" skipped="0" time="9.500">"#,
            r#"<testcase name="20240101000000 CreateUsers" classname="migrations.up" time="0.001"/>"#,
            r#"<testcase name="20240215093000 AddEmailToUsers" classname="migrations.up" time="1.500"/>"#,
            r#"<testcase name="ecs-migrate run" classname="ecs-migrate" time="9.500">"#,
            "<system-out>outcome succeeded, exit code 0 (container exit code 0)</system-out>",
        ] {
            assert!(x.contains(want), "{want} in\n{x}");
        }
        assert!(!x.contains("<failure"), "{x}");
    }

    #[test]
    fn a_failure_names_the_unfinished_migration_and_quotes_the_tail_escaped() {
        let x = junit(
            &report(
                &[
                    "rails aborted! <script>&\x1b[31m\x07 ]]> \u{fffe}",
                    "== 20240101000000 CreateUsers: migrated (0.0011s) ==",
                    "== 20240401000000 AddUniqueIndexToUsers: migrating ==",
                ],
                Outcome::Failed,
                1,
            ),
            "gate",
        );
        for want in [
            r#"tests="3" failures="2""#,
            r#"<testcase name="20240401000000 AddUniqueIndexToUsers" classname="migrations.up">"#,
            r#"<failure type="unfinished""#,
            r#"<failure type="failed" message="outcome failed, exit code 1 (container exit code 1); migration 20240401000000 AddUniqueIndexToUsers began and never finished">"#,
            "rails aborted! &lt;script&gt;&amp;[31m ]]&gt; \n== 20240101000000",
        ] {
            assert!(x.contains(want), "{want} in\n{x}");
        }
        assert!(!x.chars().any(|c| c.is_control() && c != '\n'), "{x:?}");
    }

    #[test]
    fn times_are_surefire_times() {
        assert_eq!(seconds(Some(1234.56789)), "1234.568");
        assert_eq!(seconds(Some(f64::NAN)), "0.000");
        assert_eq!(seconds(Some(-1.0)), "0.000");
        assert_eq!(seconds(None), "0.000");
    }
}
