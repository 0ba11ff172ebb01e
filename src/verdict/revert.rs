//! What `revert` runs (pure): exactly the versions a recorded migration applied, newest first,
//! with the image that applied them (the older image lacks their files), in one task. It
//! refuses when a later migration applied versions since: undoing an older release under a
//! newer one would leave the schema matching neither.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::plan::identity::digest_of;
use crate::verdict::rails::Direction;
use crate::verdict::record::{Entry, Kind, Unrecorded};

/// Runs `migration_context.run(:down, v)` for each version in ARGV, in order: Rails' own code,
/// so its `== V Name: reverting/reverted` lines are printed as for `db:migrate:down`. The
/// versions are argv (`rails runner` hands them over as ARGV); nothing is built into the code.
pub const RUNNER_SCRIPT: &str = "ctx = ActiveRecord::Base.connection_pool.respond_to?(:migration_context) ? ActiveRecord::Base.connection_pool.migration_context : ActiveRecord::Base.connection.migration_context; ARGV.each { |v| ctx.run(:down, Integer(v, 10)) }";

/// The revert of one recorded migration.
#[derive(Debug, Clone, PartialEq)]
pub struct Revert {
    /// The migration it undoes.
    pub of: String,
    /// Newest first.
    pub versions: Vec<String>,
    /// The image that applied them, by digest when the record has it.
    pub image: String,
    /// The container's argv.
    pub command: Vec<String>,
}

/// What to run to undo `entries[index]` (entries newest first, as `record::entries` gives).
pub fn plan(entries: &[Entry], index: usize) -> Result<Revert> {
    let target = &entries[index];
    let arn = &target.launch.task_arn;
    let refuse = |why: String| Err(Error::usage(why));
    if target.launch.kind == Kind::Revert {
        return refuse(format!(
            "{arn} is itself a revert; to apply its versions again, run the release's migration"
        ));
    }
    let Some(verdict) = &target.verdict else {
        let state = match &target.unrecorded {
            Unrecorded::Running(status) => format!("it is still running ({status})"),
            _ => "its runner left no verdict and its log could not be read".into(),
        };
        return refuse(format!("cannot revert {arn}: {state}"));
    };
    if !verdict.logs_complete {
        return refuse(format!(
            "cannot revert {arn}: its log was not read completely ({}), so what it applied is not known; check it with the status preset",
            verdict.outcome.name()
        ));
    }
    let applied = verdict.versions(Direction::Up);
    if applied.is_empty() {
        return refuse(format!("{arn} applied no migrations: nothing to revert"));
    }
    // What the later migrations left applied (oldest first), and which of ours they undid.
    let mut since: BTreeMap<String, &Entry> = BTreeMap::new();
    let mut undone = vec![];
    for later in entries[..index].iter().rev() {
        let Some(v) = &later.verdict else {
            return refuse(format!(
                "cannot revert {arn}: a later migration, {}, has no known outcome (it may have applied versions); check it with `ecs-migrate logs {}`",
                later.launch.task_arn,
                later.task_id()
            ));
        };
        for version in v.versions(Direction::Up) {
            since.insert(version, later);
        }
        for version in v.versions(Direction::Down) {
            if since.remove(&version).is_none() && applied.contains(&version) {
                undone.push(version);
            }
        }
    }
    if let Some((version, by)) = since.iter().next_back() {
        return refuse(format!(
            "cannot revert {arn}: a later migration, {} ({}), applied {} since (latest {version}); revert that one first",
            by.launch.task_arn,
            by.launch.image.as_deref().unwrap_or("image unknown"),
            plural(since.len(), "version")
        ));
    }
    let mut versions: Vec<String> = applied
        .into_iter()
        .filter(|v| !undone.contains(v))
        .collect();
    if versions.is_empty() {
        return refuse(format!(
            "{arn}'s versions have already been reverted since: nothing to revert"
        ));
    }
    versions.sort_by(|a, b| b.cmp(a));
    versions.dedup();
    let image = pinned(
        target.launch.image.as_deref(),
        verdict
            .image_digest
            .as_deref()
            .or(target.launch.image_digest.as_deref()),
    )
    .ok_or_else(|| Error::usage(format!("cannot revert {arn}: its record names no image")))?;
    let mut command = rails_prefix(&target.launch.command);
    command.push("runner".into());
    command.push(RUNNER_SCRIPT.into());
    command.extend(versions.iter().cloned());
    Ok(Revert {
        of: arn.clone(),
        versions,
        image,
        command,
    })
}

/// `repo@sha256:…` when the digest is known (the tag may have moved since), else as recorded.
fn pinned(image: Option<&str>, digest: Option<&str>) -> Option<String> {
    let image = image?;
    let Some(digest) = digest.filter(|d| d.starts_with("sha256:")) else {
        return Some(image.to_string());
    };
    if digest_of(image).is_some() {
        return Some(image.to_string());
    }
    // strip the tag: the last `:` after the last `/` (a registry port comes before a `/`)
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    let repo = match image[slash..].rfind(':') {
        Some(i) => &image[..slash + i],
        None => image,
    };
    Some(format!("{repo}@{digest}"))
}

/// How the migration called Rails (`bundle exec rails`, `bin/rails`): the recorded command up
/// to its `db:…` task; `bundle exec rails` when it named none.
fn rails_prefix(command: &[String]) -> Vec<String> {
    match command.iter().position(|a| a.starts_with("db:")) {
        Some(i) if i > 0 => command[..i].to_vec(),
        _ => ["bundle", "exec", "rails"].map(String::from).to_vec(),
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::record::tests::{events, launch, verdict};
    use crate::verdict::record::{Event, entries};

    const R1: [&str; 3] = ["20240101000000", "20240215093000", "20240301120000"];
    const R2: [&str; 2] = ["20240501000000", "20240502000000"];

    fn two_releases() -> Vec<Entry> {
        entries(events(vec![
            (1, Event::from(launch("release1", "repo/rails:v1"))),
            (2, Event::from(verdict("release1", &R1, &[]))),
            (3, Event::from(launch("release2", "repo/rails:v2"))),
            (4, Event::from(verdict("release2", &R2, &[]))),
        ]))
    }

    #[test]
    fn the_newer_release_reverts_exactly_its_versions_newest_first_with_its_image() {
        let e = two_releases();
        let r = plan(&e, 0).unwrap();
        assert_eq!(r.versions, ["20240502000000", "20240501000000"]);
        assert_eq!(r.image, "repo/rails:v2");
        assert_eq!(
            r.command[..4],
            ["bundle", "exec", "rails", "runner"].map(String::from)
        );
        assert_eq!(r.command[4], RUNNER_SCRIPT);
        assert_eq!(r.command[5..], ["20240502000000", "20240501000000"]);
    }

    #[test]
    fn the_older_release_is_refused_naming_the_newer() {
        let e = two_releases();
        let err = plan(&e, 1).unwrap_err();
        assert_eq!(err.exit_code(), crate::exit::USAGE);
        assert!(
            err.message.contains("task/c/release2 (repo/rails:v2)"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("applied 2 versions since"),
            "{}",
            err.message
        );
    }

    #[test]
    fn once_the_newer_is_reverted_the_older_can_be() {
        let mut list = vec![
            (1, Event::from(launch("release1", "repo/rails:v1"))),
            (2, Event::from(verdict("release1", &R1, &[]))),
            (3, Event::from(launch("release2", "repo/rails:v2"))),
            (4, Event::from(verdict("release2", &R2, &[]))),
        ];
        let mut undo = launch("undo2", "repo/rails:v2");
        undo.kind = Kind::Revert;
        list.push((5, Event::from(undo)));
        list.push((6, Event::from(verdict("undo2", &[], &R2))));
        let e = entries(events(list));
        assert_eq!(plan(&e, 2).unwrap().versions.len(), 3);
        assert!(plan(&e, 0).unwrap_err().message.contains("itself a revert"));
    }

    #[test]
    fn a_later_migration_without_a_known_outcome_blocks_the_revert() {
        let e = entries(events(vec![
            (1, Event::from(launch("release1", "repo/rails:v1"))),
            (2, Event::from(verdict("release1", &R1, &[]))),
            (3, Event::from(launch("vanished", "repo/rails:v2"))),
        ]));
        let err = plan(&e, 1).unwrap_err();
        assert!(err.message.contains("task/c/vanished"), "{}", err.message);
        assert!(plan(&e, 0).unwrap_err().message.contains("no verdict"));
    }

    #[test]
    fn nothing_applied_nothing_to_revert() {
        let e = entries(events(vec![
            (1, Event::from(launch("noop", "repo/rails:v1"))),
            (2, Event::from(verdict("noop", &[], &[]))),
        ]));
        assert!(
            plan(&e, 0)
                .unwrap_err()
                .message
                .contains("applied no migrations")
        );
    }

    #[test]
    fn the_image_is_pinned_to_the_digest_ecs_ran() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            pinned(Some("123.dkr.ecr.r.amazonaws.com/app/rails:v2"), Some(&d)),
            Some(format!("123.dkr.ecr.r.amazonaws.com/app/rails@{d}"))
        );
        assert_eq!(
            pinned(Some("localhost:5000/rails"), Some(&d)),
            Some(format!("localhost:5000/rails@{d}"))
        );
        assert_eq!(pinned(Some("rails:v2"), None), Some("rails:v2".into()));
        assert_eq!(pinned(None, Some(&d)), None);
    }

    #[test]
    fn rails_is_called_the_way_the_migration_called_it() {
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            rails_prefix(&argv(&["bin/rails", "db:migrate"])),
            ["bin/rails"]
        );
        assert_eq!(
            rails_prefix(&argv(&["sh", "-c", "echo"])),
            ["bundle", "exec", "rails"]
        );
    }
}
