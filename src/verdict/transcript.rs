//! What a migration's log said, read line by line (pure): the steps Rails finished, the
//! migrations it began and never finished, and the last lines, for a failure's report.
//!
//! The migration that failed is the one with a `migrating` banner and no `migrated`, matched by
//! version, never by position: Ruby buffers stdout in a container, so Rails' error on stderr
//! reaches the log before the banners of the migration it belongs to.

use std::collections::VecDeque;

use crate::verdict::rails::{self, Begun, Step};

/// How many of the last lines a failure's report keeps.
pub const TAIL_LINES: usize = 50;
/// Longest line kept in the tail, in bytes (a longer one is cut, and says so).
const TAIL_LINE_BYTES: usize = 2000;

#[derive(Debug, Clone, Default)]
pub struct Transcript {
    steps: Vec<Step>,
    begun: Vec<Begun>,
    tail: VecDeque<String>,
}

impl Transcript {
    /// One line of the log, in the order read.
    pub fn read(&mut self, line: &str) {
        self.steps.extend(rails::step(line));
        self.begun.extend(rails::began(line));
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(cut(line, TAIL_LINE_BYTES));
    }

    /// Each migration Rails finished, in the order read.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The migrations Rails began and did not finish (that way): the one that failed, or the
    /// one running when the task was stopped.
    pub fn unfinished(&self) -> Vec<Begun> {
        let mut out: Vec<Begun> = vec![];
        for b in &self.begun {
            let finished = self
                .steps
                .iter()
                .any(|s| s.version == b.version && s.direction == b.direction);
            if !finished && !out.contains(b) {
                out.push(b.clone());
            }
        }
        out
    }

    /// The last lines read (at most `TAIL_LINES`), oldest first, as they were (untrusted).
    pub fn tail(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }
}

/// The line, at most `max` bytes of it (on a character boundary), marked when cut.
fn cut(line: &str, max: usize) -> String {
    if line.len() <= max {
        return line.to_string();
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} [{} more bytes]", &line[..end], line.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::rails::Direction;

    fn read(lines: &[&str]) -> Transcript {
        let mut t = Transcript::default();
        lines.iter().for_each(|l| t.read(l));
        t
    }

    /// The rails-broken image's log as the task's log has it: Rails' report (stderr) first.
    const BROKEN: [&str; 9] = [
        "rails aborted!",
        "StandardError: An error has occurred, this and all later migrations canceled:",
        "== 20240101000000 CreateUsers: migrating =====",
        "== 20240101000000 CreateUsers: migrated (0.0011s) ====",
        "== 20240215093000 AddEmailToUsers: migrating =====",
        "== 20240215093000 AddEmailToUsers: migrated (0.0005s) ====",
        "== 20240401000000 AddUniqueIndexToUsers: migrating =====",
        "-- add_index(:users, :email, {:unique=>true})",
        "== 20240301120000 CreatePosts: migrated (0.0009s) ====",
    ];

    #[test]
    fn the_failed_migration_is_the_one_begun_and_never_finished_whatever_the_order() {
        let t = read(&BROKEN);
        let unfinished = t.unfinished();
        let names: Vec<&str> = unfinished.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["AddUniqueIndexToUsers"]);
        assert_eq!(t.steps().len(), 3);
        // the closing banner of CreatePosts came without its opening one: still finished
        let mut reversed = BROKEN;
        reversed.reverse();
        let names: Vec<String> = read(&reversed)
            .unfinished()
            .into_iter()
            .map(|b| b.name)
            .collect();
        assert_eq!(names, ["AddUniqueIndexToUsers"]);
    }

    #[test]
    fn a_migration_finished_the_other_way_is_still_unfinished() {
        let t = read(&[
            "== 20240101000000 CreateUsers: migrated (0.1s) ==",
            "== 20240101000000 CreateUsers: reverting ==",
            "== 20240101000000 CreateUsers: reverting ==",
        ]);
        let u = t.unfinished();
        assert_eq!(u.len(), 1, "once, though begun twice: {u:?}");
        assert_eq!(u[0].direction, Direction::Down);
        assert!(read(&["plain output"]).unfinished().is_empty());
    }

    #[test]
    fn the_tail_keeps_the_last_lines_each_cut_to_size() {
        let mut t = Transcript::default();
        for i in 0..(TAIL_LINES + 7) {
            t.read(&format!("line {i}"));
        }
        let tail = t.tail();
        assert_eq!(tail.len(), TAIL_LINES);
        assert_eq!(tail[0], "line 7");
        assert_eq!(tail.last().unwrap(), &format!("line {}", TAIL_LINES + 6));
        let long = "é".repeat(TAIL_LINE_BYTES);
        t.read(&long);
        let kept = t.tail().pop().unwrap();
        assert!(kept.len() < TAIL_LINE_BYTES + 30, "{}", kept.len());
        assert!(kept.ends_with(&format!("[{} more bytes]", TAIL_LINE_BYTES)));
    }
}
