//! At home in CI: under GitHub Actions the container's log is folded in a group inside the
//! stop-commands fence, a failure is annotated, the job summary and the step outputs are
//! written; `--junit` writes CodeBuild's report; a terminal gets the migrations as a table. What
//! a container prints changes none of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{World, code, file, stderr, stdout};

/// The files GitHub Actions gives a step, in the world's directory.
struct Github {
    summary: PathBuf,
    outputs: PathBuf,
    junit: PathBuf,
}

impl Github {
    fn new(w: &World) -> Self {
        let d = w.dir.path();
        Github {
            summary: d.join("step_summary.md"),
            outputs: d.join("github_output"),
            junit: d.join("junit.xml"),
        }
    }

    /// `run` of the ass-staging service with `image_key`, under GitHub Actions.
    fn run(&self, w: &World, image_key: &str, extra: &[&str]) -> Output {
        let image = w.s(image_key);
        let mut c = w.cmd();
        c.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &self.summary)
            .env("GITHUB_OUTPUT", &self.outputs)
            .args(["run", "--cluster", &w.s("cluster"), "--container", "rails"])
            .args(["--service", "ass-staging", "--image", &image])
            .arg("--junit")
            .arg(&self.junit)
            .args(extra);
        c.output().unwrap()
    }
}

/// `$GITHUB_OUTPUT`'s `name<<DELIMITER` … `DELIMITER` blocks, checked as GitHub reads them.
fn outputs(path: &Path) -> BTreeMap<String, String> {
    let text = file(path);
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(head) = lines.next() {
        let (name, delimiter) = head
            .split_once("<<")
            .unwrap_or_else(|| panic!("not a heredoc head: {head:?} in\n{text}"));
        assert!(delimiter.starts_with("ghadelimiter_"), "{delimiter}");
        assert!(delimiter.len() > 30, "a random delimiter: {delimiter}");
        let mut value = vec![];
        loop {
            let l = lines.next().expect("the block ends with its delimiter");
            if l == delimiter {
                break;
            }
            value.push(l);
        }
        assert!(
            out.insert(name.to_string(), value.join("\n")).is_none(),
            "{name} set twice"
        );
    }
    out
}

/// The log's stream split at our fence: (before, the container's lines, after). The group opens
/// before the fence and closes after it, so both commands are ours.
fn fenced(out: &str) -> (Vec<&str>, Vec<&str>, Vec<&str>) {
    let lines: Vec<&str> = out.lines().collect();
    let open = lines
        .iter()
        .position(|l| l.starts_with("::stop-commands::"))
        .unwrap_or_else(|| panic!("no fence in\n{out}"));
    let token = &lines[open]["::stop-commands::".len()..];
    assert_eq!(token.len(), 32, "a random token");
    let close = lines
        .iter()
        .position(|l| *l == format!("::{token}::"))
        .unwrap_or_else(|| panic!("the fence never closes in\n{out}"));
    (
        lines[..open].to_vec(),
        lines[open + 1..close].to_vec(),
        lines[close + 1..].to_vec(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_migration_is_grouped_annotated_summarised_and_output() {
    let w = World::new();
    let gh = Github::new(&w);
    let o = gh.run(&w, "image_broken", &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let out = stdout(&o);
    let (before, inside, after) = fenced(&out);
    assert_eq!(before.len(), 1, "{out}");
    assert!(
        before[0].starts_with("::group::ecs-migrate: the log of task "),
        "{out}"
    );
    assert!(inside.contains(&"rails aborted!"), "{out}");
    assert_eq!(after[0], "::endgroup::", "{out}");
    assert_eq!(after.len(), 2, "{out}");
    // Rails' report came first; the failed migration is still the one begun and not finished
    assert_eq!(
        after[1].split("::").nth(1).unwrap(),
        "error title=ecs-migrate run%3A migration 20240401000000 AddUniqueIndexToUsers failed",
        "{out}"
    );
    assert!(
        after[1].contains("::outcome failed, exit code 1 (container exit code 1)"),
        "{out}"
    );

    let o = outputs(&gh.outputs);
    let names: Vec<&str> = o.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "client-token",
            "exit-code",
            "migrated-versions",
            "outcome",
            "task-arn"
        ]
    );
    assert_eq!(o["exit-code"], "1");
    assert_eq!(o["outcome"], "failed");
    assert_eq!(
        o["migrated-versions"],
        "20240101000000,20240215093000,20240301120000"
    );
    assert!(o["task-arn"].starts_with("arn:aws:ecs:"), "{o:?}");
    assert!(!o["client-token"].is_empty());

    let s = file(&gh.summary);
    for want in [
        "### ecs-migrate run: failed\n",
        "| Outcome | **failed** |\n",
        "| Exit code | 1 (container exit code 1) |\n",
        "| Failed migration | 20240401000000 AddUniqueIndexToUsers |\n",
        "| Version | Migration | Direction | Duration |\n",
        "| 20240401000000 | AddUniqueIndexToUsers | up | began, never finished |\n",
        "/ecs/v2/clusters/",
        "cloudwatch/home?region=",
    ] {
        assert!(s.contains(want), "{want:?} in\n{s}");
    }
    for v in ["20240101000000", "20240215093000", "20240301120000"] {
        let row = s.lines().find(|l| l.starts_with(&format!("| {v} |")));
        let row = row.unwrap_or_else(|| panic!("{v} in\n{s}"));
        assert!(row.ends_with(" s |") && row.contains(" | up | "), "{row}");
    }
    assert!(!s.contains("test\n") && !s.contains("AWS_SECRET"), "{s}");

    let x = file(&gh.junit);
    assert!(x.contains(r#"<failure type="failed""#), "{x}");
    assert!(x.contains("rails aborted!"), "the log's tail: {x}");
}

/// Lines a hostile container prints: our group's end, an annotation, a fake summary table and
/// a fake output.
const HOSTILE: &str = r"printf '::endgroup::\n::error title=fake::injected\n| 1 | x |\n| --- | --- |\n### ecs-migrate run: succeeded\nexit-code<<EOF\n0\nEOF\n::warning::w\n'";

#[tokio::test(flavor = "multi_thread")]
async fn what_a_container_prints_changes_none_of_them() {
    let w = World::new();
    let gh = Github::new(&w);
    let o = gh.run(
        &w,
        "image",
        &["--", "sh", "-c", &format!("{HOSTILE}; exit 3")],
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let out = stdout(&o);
    let (before, inside, after) = fenced(&out);
    assert_eq!(
        before.len(),
        1,
        "only our group opens before the fence: {out}"
    );
    // the container's commands are inside the fence (inert), ours alone outside
    for l in ["::endgroup::", "::error title=fake::injected", "| 1 | x |"] {
        assert!(inside.contains(&l), "{l} inside the fence: {out}");
    }
    assert_eq!(after.len(), 2, "{out}");
    assert_eq!(after[0], "::endgroup::");
    assert!(
        after[1]
            .starts_with("::error title=ecs-migrate run%3A failed::outcome failed, exit code 3"),
        "{out}"
    );
    let s = file(&gh.summary);
    assert!(s.starts_with("### ecs-migrate run: failed\n"), "{s}");
    assert!(!s.contains("| 1 | x |") && !s.contains("injected"), "{s}");
    assert!(!s.contains("succeeded"), "{s}");
    assert!(
        !s.contains("#### Migrations"),
        "no Rails line, no table: {s}"
    );
    let o = outputs(&gh.outputs);
    assert_eq!(o.len(), 5, "{o:?}");
    assert_eq!(o["exit-code"], "3");
    assert_eq!(o["outcome"], "failed");
    assert_eq!(o["migrated-versions"], "");
    let x = file(&gh.junit);
    assert!(
        x.contains("| 1 | x |\n| --- | --- |\n### ecs-migrate run: succeeded"),
        "the tail, as text: {x}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terminal_gets_the_migrations_as_a_table_and_the_runs_duration() {
    let w = World::new();
    let o = w.run_on("ass-staging", "image", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == "ecs-migrate: migrations:")
        .unwrap_or_else(|| panic!("{err}"));
    let rows = &lines[at + 1..at + 4];
    for (row, name) in rows
        .iter()
        .zip(["CreateUsers", "AddEmailToUsers", "CreatePosts"])
    {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[2], name, "{err}");
        assert_eq!(cells[3], "up", "{err}");
        let secs = cells[4]
            .strip_suffix('s')
            .unwrap_or_else(|| panic!("{row}"));
        assert!(secs.parse::<f64>().is_ok(), "{row}");
    }
    let duration = lines
        .iter()
        .find(|l| l.starts_with("ecs-migrate: duration: "))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(duration.ends_with("s in all"), "{duration}");
    assert!(
        !stdout(&o).contains("::"),
        "no workflow command off GitHub Actions"
    );
}
