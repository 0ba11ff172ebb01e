//! The engine under paused tokio time, against a scripted seam: every fault of the matrix in
//! docs/reliability.md that is about following, without AWS and without waiting.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ecs::types::{DesiredStatus, TaskStopCode};

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::machine::{OnAbort, Settings};
use super::seam::{ContainerView, LogPage, TaskApi, TaskView};
use super::{Followed, follow};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::signals::{Aborts, Signal};
use crate::verdict::outcome::{self, Abort, Ending, Outcome};

const OURS: &str = "arn:aws:ecs:r:1:task/c/ours";

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// A task's life on a scripted clock (seconds since the test started).
#[derive(Clone)]
struct Script {
    running_at: f64,
    /// The container exits with this code at this time (None: runs until stopped).
    exit: Option<(f64, i32)>,
    /// The task reaches STOPPED this long after the container exited (Fargate teardown).
    teardown: f64,
    /// After StopTask, the container exits (143) this much later.
    stop_exit_after: f64,
    /// Lines printed by the container: (time visible in CloudWatch, text).
    lines: Vec<(f64, String)>,
    stream_at: f64,
    page_size: usize,
    /// Time windows in which a call fails: (api, from, to, transient).
    failures: Vec<(&'static str, f64, f64, bool)>,
    /// Every call of this API takes this long to answer.
    slow: BTreeMap<&'static str, f64>,
    /// Other claimants' tasks (ListTasks answers them).
    others: Vec<TaskView>,
    /// The task ends without an exit code at this time (Spot / host loss).
    lost_at: Option<f64>,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            running_at: 1.0,
            exit: Some((5.0, 0)),
            teardown: 0.5,
            stop_exit_after: 1.0,
            lines: (0..20)
                .map(|i| (1.5 + i as f64 * 0.1, format!("line-{i}")))
                .collect(),
            stream_at: 1.0,
            page_size: 7,
            failures: vec![],
            slow: BTreeMap::new(),
            others: vec![],
            lost_at: None,
        }
    }
}

struct Fake {
    script: Script,
    t0: Instant,
    calls: RefCell<BTreeMap<&'static str, u32>>,
    stops: RefCell<Vec<(f64, String)>>,
}

impl Fake {
    fn new(script: Script) -> Self {
        Self {
            script,
            t0: Instant::now(),
            calls: RefCell::default(),
            stops: RefCell::default(),
        }
    }

    fn now(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    async fn enter(&self, api: &'static str) -> Result<()> {
        *self.calls.borrow_mut().entry(api).or_default() += 1;
        if let Some(s) = self.script.slow.get(api) {
            tokio::time::sleep(secs(*s)).await;
        }
        let t = self.now();
        for (name, from, to, transient) in &self.script.failures {
            if *name == api && t >= *from && t < *to {
                let mut e = Error::before_run(format!("{api} failed: ServiceUnavailable"));
                e.transient = *transient;
                return Err(e);
            }
        }
        Ok(())
    }

    fn calls(&self, api: &str) -> u32 {
        self.calls.borrow().get(api).copied().unwrap_or(0)
    }

    /// When and how the container ends: scripted exit, or 143 after a StopTask.
    fn end(&self) -> Option<(f64, Option<i32>)> {
        let stop = self.stops.borrow().first().map(|(t, _)| *t);
        let by_stop = stop.map(|t| {
            if t < self.script.running_at {
                (t + 0.3, None)
            } else {
                (t + self.script.stop_exit_after, Some(143))
            }
        });
        let natural = self.script.exit.map(|(t, c)| (t, Some(c)));
        let lost = self.script.lost_at.map(|t| (t, None));
        [by_stop, natural, lost]
            .into_iter()
            .flatten()
            .min_by(|a, b| a.0.total_cmp(&b.0))
    }

    fn view(&self) -> TaskView {
        let t = self.now();
        let started = t >= self.script.running_at
            && self
                .stops
                .borrow()
                .first()
                .is_none_or(|(s, _)| *s >= self.script.running_at);
        let mut v = TaskView {
            arn: OURS.into(),
            last_status: "PROVISIONING".into(),
            desired_status: Some(DesiredStatus::Running),
            created_at: Some(100.0),
            started_at: started.then(|| "2026-11-27T00:00:01Z".into()),
            container: Some(ContainerView::default()),
            ..Default::default()
        };
        if started {
            v.last_status = "RUNNING".into();
        }
        if let Some((at, code)) = self.end()
            && t >= at
        {
            v.desired_status = Some(DesiredStatus::Stopped);
            // ECS's clock: createdAt is 100.0 at the test's start
            v.execution_stopped_at = Some(100.0 + at);
            // ECS keeps the stop code of whatever ended the container first
            let stopped_first = self.stops.borrow().first().is_some_and(|(s, _)| *s <= at);
            v.stop_code = Some(match (code, stopped_first) {
                (_, true) => TaskStopCode::UserInitiated,
                (None, false) => TaskStopCode::from("InfrastructureHealth"),
                (Some(_), false) => TaskStopCode::EssentialContainerExited,
            });
            let c = v.container.as_mut().unwrap();
            c.last_status = Some("STOPPED".into());
            c.exit_code = code.filter(|_| started || self.script.lost_at.is_none());
            v.last_status = if t >= at + self.script.teardown {
                "STOPPED".into()
            } else {
                "DEPROVISIONING".into()
            };
        }
        v
    }
}

impl TaskApi for Fake {
    async fn describe(&self, arns: &[String]) -> Result<Vec<TaskView>> {
        self.enter("DescribeTasks").await?;
        let mut out = vec![];
        for arn in arns {
            if arn == OURS {
                out.push(self.view());
            } else if let Some(o) = self.script.others.iter().find(|o| &o.arn == arn) {
                out.push(o.clone());
            }
        }
        Ok(out)
    }

    async fn list_running(&self, _started_by: &str) -> Result<Vec<String>> {
        self.enter("ListTasks").await?;
        let mut arns: Vec<String> = self.script.others.iter().map(|o| o.arn.clone()).collect();
        arns.push(OURS.into());
        Ok(arns)
    }

    async fn stop(&self, _arn: &str, reason: &str) -> Result<()> {
        self.enter("StopTask").await?;
        self.stops
            .borrow_mut()
            .push((self.now(), reason.to_string()));
        Ok(())
    }

    async fn log_page(&self, token: Option<&str>) -> Result<Option<LogPage>> {
        self.enter("GetLogEvents").await?;
        let t = self.now();
        if t < self.script.stream_at {
            return Ok(None);
        }
        let from: usize = token.map_or(0, |t| t.parse().unwrap());
        let visible: Vec<&String> = self
            .script
            .lines
            .iter()
            .filter(|(at, _)| *at <= t)
            .map(|(_, l)| l)
            .collect();
        let page: Vec<String> = visible
            .iter()
            .skip(from)
            .take(self.script.page_size)
            .map(|l| l.to_string())
            .collect();
        Ok(Some(LogPage {
            next_token: Some((from + page.len()).to_string()),
            messages: page,
        }))
    }
}

fn settings() -> Settings {
    Settings {
        log_interval: secs(2.0),
        describe_interval: secs(3.0),
        backoff_max: secs(10.0),
        log_quiet: secs(3.0),
        log_drain_max: secs(30.0),
        lost_after: secs(300.0),
        stop_grace: secs(150.0),
        on_abort: OnAbort::Stop,
        follow_logs: true,
        claim: true,
        deadline: None,
        deadline_label: String::new(),
        launched_at: None,
    }
}

struct Run {
    followed: Followed,
    lines: Vec<String>,
    elapsed: f64,
    fake: Fake,
}

impl Run {
    fn outcome(&self) -> Outcome {
        let view = self.followed.task.clone().unwrap_or_default();
        outcome::judge(&view.summary(), self.followed.ending)
    }

    fn exit_code(&self) -> i32 {
        let view = self.followed.task.clone().unwrap_or_default();
        self.outcome().exit_code(view.summary().exit_code)
    }

    fn assert_every_line_once_in_order(&self) {
        let want: Vec<String> = self
            .fake
            .script
            .lines
            .iter()
            .map(|(_, l)| l.clone())
            .collect();
        assert_eq!(self.lines, want);
    }
}

/// Follows the scripted task; `signal_at` sends SIGTERM at that time, `deadline` is --timeout.
async fn run(script: Script, s: Settings, signal_at: Option<f64>, deadline: Option<f64>) -> Run {
    let fake = Fake::new(script);
    let (tx, rx) = mpsc::unbounded_channel();
    if let Some(at) = signal_at {
        tokio::spawn(async move {
            tokio::time::sleep(secs(at)).await;
            let _ = tx.send(Signal::Terminate);
            std::mem::forget(tx);
        });
    } else {
        std::mem::forget(tx);
    }
    let mut s = s;
    if let Some(d) = deadline {
        s.deadline = Some(Instant::now() + secs(d));
        s.deadline_label = format!("--timeout {}", humantime::format_duration(secs(d)));
    }
    let mut aborts = Aborts::new(rx, s.deadline);
    let out = Output::silent();
    let mut lines = vec![];
    let mut sink = |l: &str| lines.push(l.to_string());
    let started_by = s.claim.then_some("ecs-migrate/fam");
    let followed = follow(&fake, OURS, started_by, s, &mut aborts, &out, &mut sink).await;
    let elapsed = fake.now();
    Run {
        followed,
        lines,
        elapsed,
        fake,
    }
}

#[tokio::test(start_paused = true)]
async fn happy_path_every_line_once_and_the_exit_code() {
    let r = run(Script::default(), settings(), None, None).await;
    assert_eq!(r.followed.ending, Ending::Exited);
    assert_eq!(r.outcome(), Outcome::Succeeded);
    r.assert_every_line_once_in_order();
    assert!(r.followed.logs_complete);
    assert_eq!(r.fake.calls("StopTask"), 0);
}

#[tokio::test(start_paused = true)]
async fn throttled_describes_are_retried_not_fatal() {
    let script = Script {
        exit: Some((20.0, 7)),
        failures: vec![("DescribeTasks", 0.5, 40.0, true)],
        ..Default::default()
    };
    let r = run(script, settings(), None, None).await;
    assert_eq!(
        r.exit_code(),
        7,
        "the task's own exit code, not 'failed before the task ran'"
    );
    r.assert_every_line_once_in_order();
    assert!(
        r.fake.calls("DescribeTasks") >= 5,
        "DescribeTasks failed at least 5 times"
    );
}

#[tokio::test(start_paused = true)]
async fn failing_log_reads_at_the_stop_are_never_quiet_time() {
    // the last lines land while every read fails: the drain waits for clean reads
    let mut script = Script {
        exit: Some((5.0, 0)),
        failures: vec![("GetLogEvents", 3.0, 12.0, true)],
        ..Default::default()
    };
    script
        .lines
        .extend((0..5).map(|i| (5.5 + i as f64 * 0.1, format!("tail-{i}"))));
    let r = run(script, settings(), None, None).await;
    r.assert_every_line_once_in_order();
    assert!(r.followed.logs_complete);
    assert!(
        r.elapsed >= 12.0 + 1.5,
        "drained only after clean reads ({})",
        r.elapsed
    );
}

/// The bench's fast teardown: the last line lands 2.9 s after the exit, with nothing before
/// it; whatever the phase of the describe that sees the exit, it is not lost.
#[tokio::test(start_paused = true)]
async fn a_last_line_landing_long_after_the_exit_is_not_lost() {
    for phase in 0..12 {
        let exit = 5.0 + phase as f64 * 0.25;
        let mut script = Script {
            exit: Some((exit, 0)),
            teardown: 0.9,
            ..Default::default()
        };
        script.lines.push((exit + 2.9, "the-last-line".into()));
        let r = run(script, settings(), None, None).await;
        r.assert_every_line_once_in_order();
        assert!(r.followed.logs_complete);
        // and not much later: one gap after the last line, or log_quiet after the exit seen
        assert!(
            r.elapsed <= exit + 3.0 + 3.0 + 0.5,
            "phase {phase}: {}",
            r.elapsed
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_late_stream_is_read_from_its_head() {
    let script = Script {
        exit: Some((2.0, 0)),
        teardown: 0.3,
        stream_at: 9.0, // 8 s after the container started
        ..Default::default()
    };
    let r = run(script, settings(), None, None).await;
    r.assert_every_line_once_in_order();
    assert!(r.followed.logs_complete);
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_never_appears_is_reported_not_silent() {
    let script = Script {
        stream_at: 1e9,
        ..Default::default()
    };
    let r = run(script, settings(), None, None).await;
    assert_eq!(r.outcome(), Outcome::Succeeded);
    assert!(!r.followed.logs_complete);
    assert!(
        r.followed
            .warnings
            .iter()
            .any(|w| w.contains("never appeared")),
        "{:?}",
        r.followed.warnings
    );
}

#[tokio::test(start_paused = true)]
async fn a_signal_during_a_slow_call_reaches_stop_task_within_a_second() {
    let mut script = Script {
        exit: None,
        ..Default::default()
    };
    script.slow.insert("GetLogEvents", 60.0);
    script.slow.insert("DescribeTasks", 60.0);
    let r = run(script, settings(), Some(10.0), None).await;
    let stops = r.fake.stops.borrow().clone();
    assert_eq!(stops.len(), 1);
    assert!(stops[0].0 - 10.0 < 1.0, "StopTask at {}", stops[0].0);
    assert_eq!(stops[0].1, "ecs-migrate: interrupted by SIGTERM");
    assert_eq!(r.followed.ending, Ending::Aborted(Abort::Signal));
    assert_eq!(r.exit_code(), 130);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_during_failing_log_reads_stops_the_task() {
    let script = Script {
        exit: None,
        failures: vec![("GetLogEvents", 0.0, 1e9, true)],
        ..Default::default()
    };
    let r = run(script, settings(), None, Some(20.0)).await;
    let stops = r.fake.stops.borrow().clone();
    assert!(stops[0].0 - 20.0 < 1.0, "StopTask at {}", stops[0].0);
    assert!(
        stops[0].1.contains("deadline reached (--timeout 20s)"),
        "{}",
        stops[0].1
    );
    assert_eq!(r.exit_code(), 124);
}

#[tokio::test(start_paused = true)]
async fn detach_leaves_the_task_alone() {
    let script = Script {
        exit: None,
        ..Default::default()
    };
    let mut s = settings();
    s.on_abort = OnAbort::Detach;
    let r = run(script, s, Some(4.0), None).await;
    assert_eq!(r.fake.calls("StopTask"), 0);
    assert!(r.followed.detached);
    assert_eq!(r.exit_code(), 130);
}

#[tokio::test(start_paused = true)]
async fn the_verdict_comes_at_the_containers_exit_not_the_tasks_stop() {
    let script = Script {
        exit: Some((10.0, 3)),
        teardown: 60.0,
        ..Default::default()
    };
    let r = run(script, settings(), None, None).await;
    assert_eq!(r.exit_code(), 3);
    assert_eq!(
        r.followed.task.as_ref().unwrap().last_status,
        "DEPROVISIONING"
    );
    // exit seen within one describe interval, then 2 s of quiet measured by fast reads
    assert!(
        r.elapsed <= 10.0 + 3.0 + 2.0 + 0.5,
        "returned at {}",
        r.elapsed
    );
}

#[tokio::test(start_paused = true)]
async fn api_calls_stay_within_sixty_per_task_minute() {
    let script = Script {
        exit: Some((121.0, 0)),
        ..Default::default()
    };
    let r = run(script, settings(), None, None).await;
    let total: u32 = r.fake.calls.borrow().values().sum();
    let per_minute = total as f64 / (r.elapsed / 60.0);
    assert!(
        per_minute <= 60.0,
        "{per_minute:.1} calls per minute: {:?}",
        r.fake.calls
    );
    // and no long gaps: DescribeTasks at least every describe interval
    assert!(r.fake.calls("DescribeTasks") as f64 >= 120.0 / 3.0 - 1.0);
}

#[tokio::test(start_paused = true)]
async fn describes_failing_for_too_long_lose_track_and_stop_the_task() {
    let script = Script {
        exit: None,
        failures: vec![("DescribeTasks", 2.0, 1e9, true)],
        ..Default::default()
    };
    let mut s = settings();
    s.lost_after = secs(60.0);
    let r = run(script, s, None, None).await;
    assert_eq!(r.followed.ending, Ending::LostTrack);
    assert_eq!(r.exit_code(), 123);
    assert_eq!(r.fake.calls("StopTask"), 1, "no orphan");
    assert!(!r.followed.logs_complete);
}

#[tokio::test(start_paused = true)]
async fn a_non_retryable_describe_error_loses_track_at_once() {
    let script = Script {
        exit: None,
        failures: vec![("DescribeTasks", 2.0, 1e9, false)],
        ..Default::default()
    };
    let r = run(script, settings(), None, None).await;
    assert_eq!(r.followed.ending, Ending::LostTrack);
    assert!(r.elapsed < 10.0);
}

#[tokio::test(start_paused = true)]
async fn a_task_lost_after_it_started_is_not_never_ran() {
    let script = Script {
        exit: None,
        lost_at: Some(6.0),
        ..Default::default()
    };
    let r = run(script, settings(), None, None).await;
    assert_eq!(r.outcome(), Outcome::NoExitCode);
    assert_eq!(r.exit_code(), 122);
}

#[tokio::test(start_paused = true)]
async fn an_older_claimant_wins_and_ours_is_stopped_before_it_runs() {
    let other = TaskView {
        arn: "arn:aws:ecs:r:1:task/c/older".into(),
        created_at: Some(99.0),
        desired_status: Some(DesiredStatus::Running),
        last_status: "PENDING".into(),
        ..Default::default()
    };
    let script = Script {
        running_at: 5.0,
        others: vec![other],
        ..Default::default()
    };
    let r = run(script, settings(), None, None).await;
    assert_eq!(r.followed.ending, Ending::LostClaim);
    assert_eq!(r.exit_code(), 121);
    assert_eq!(
        r.followed.winner.as_ref().unwrap().arn,
        "arn:aws:ecs:r:1:task/c/older"
    );
    let stops = r.fake.stops.borrow().clone();
    assert!(stops[0].0 < 5.0, "stopped while PROVISIONING");
    assert!(stops[0].1.contains("another migration is running"));
}

#[tokio::test(start_paused = true)]
async fn a_younger_claimant_does_not_stop_us() {
    let other = TaskView {
        arn: "arn:aws:ecs:r:1:task/c/younger".into(),
        created_at: Some(101.0),
        desired_status: Some(DesiredStatus::Running),
        last_status: "PROVISIONING".into(),
        ..Default::default()
    };
    let script = Script {
        others: vec![other],
        ..Default::default()
    };
    let r = run(script, settings(), None, None).await;
    assert_eq!(r.outcome(), Outcome::Succeeded);
    assert_eq!(r.fake.calls("StopTask"), 0);
}

#[tokio::test(start_paused = true)]
async fn the_drain_cap_without_a_clean_read_is_reported() {
    let script = Script {
        failures: vec![("GetLogEvents", 4.0, 1e9, true)],
        ..Default::default()
    };
    let r = run(script, settings(), None, None).await;
    assert_eq!(r.outcome(), Outcome::Succeeded);
    assert!(!r.followed.logs_complete);
    assert!(r.elapsed <= 5.0 + 3.0 + 30.0 + 1.0);
}

#[tokio::test(start_paused = true)]
async fn an_exit_just_before_the_deadline_is_the_containers_own_verdict() {
    // describes every 4 s (0, 4, 8, then 9 just before the deadline); the container exits 0
    // at 9.5, unseen until the deadline at 10
    let script = Script {
        exit: Some((9.5, 0)),
        ..Default::default()
    };
    let mut s = settings();
    s.describe_interval = secs(4.0);
    let r = run(script, s, None, Some(10.0)).await;
    assert_eq!(
        r.fake.calls("StopTask"),
        0,
        "no StopTask for an exited container"
    );
    assert_eq!(r.outcome(), Outcome::Succeeded);
    assert_eq!(r.exit_code(), 0);
    assert!(!r.followed.logs_complete, "the drain was cut short");
    assert!(
        r.followed.warnings.iter().any(|w| w.contains(
            "deadline reached (--timeout 10s), but the container had already exited (code 0)"
        )),
        "{:?}",
        r.followed.warnings
    );
}

#[tokio::test(start_paused = true)]
async fn a_describe_just_before_the_deadline_sees_an_exit_in_time() {
    // describes every 4 s would come at 8 and 12; one more at 9 sees the exit at 8.7
    let script = Script {
        exit: Some((8.7, 0)),
        ..Default::default()
    };
    let mut s = settings();
    s.describe_interval = secs(4.0);
    let r = run(script, s, None, Some(10.0)).await;
    assert_eq!(r.fake.calls("StopTask"), 0);
    assert_eq!(r.outcome(), Outcome::Succeeded);
    assert!(
        r.followed
            .warnings
            .iter()
            .all(|w| !w.contains("but the container had already exited")),
        "the exit was seen before the deadline: {:?}",
        r.followed.warnings
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_last_look_still_stops_within_a_second_and_an_earlier_exit_keeps_its_verdict() {
    // every DescribeTasks takes 2 s: the last look at the deadline (10) cannot answer in time,
    // so StopTask goes out; the describe after it shows the container's own exit at 9.5
    let mut script = Script {
        exit: Some((9.5, 3)),
        ..Default::default()
    };
    script.slow.insert("DescribeTasks", 2.0);
    let r = run(script, settings(), None, Some(10.0)).await;
    let stops = r.fake.stops.borrow().clone();
    assert_eq!(stops.len(), 1);
    assert!(stops[0].0 - 10.0 < 1.0, "StopTask at {}", stops[0].0);
    assert_eq!(r.outcome(), Outcome::Failed, "the container's own exit (3)");
    assert_eq!(r.exit_code(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_container_still_running_at_the_deadline_is_stopped_and_timed_out() {
    let script = Script {
        exit: Some((30.0, 0)),
        ..Default::default()
    };
    let r = run(script, settings(), None, Some(10.0)).await;
    let stops = r.fake.stops.borrow().clone();
    assert!(stops[0].0 - 10.0 < 1.0, "StopTask at {}", stops[0].0);
    assert_eq!(stops[0].1, "ecs-migrate: deadline reached (--timeout 10s)");
    assert_eq!(r.outcome(), Outcome::TimedOut);
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_appears_empty_after_the_quiet_window_is_not_quiet() {
    // the container exits at 5; the stream is created at 9, after the quiet window, and is
    // empty for 0.8 s before its lines land: that first empty read proves nothing
    let script = Script {
        stream_at: 9.0,
        lines: (0..20)
            .map(|i| (9.8 + i as f64 * 0.01, format!("line-{i}")))
            .collect(),
        ..Default::default()
    };
    let r = run(script, settings(), None, None).await;
    r.assert_every_line_once_in_order();
    assert!(r.followed.logs_complete);
    assert_eq!(r.exit_code(), 0);
}

/// The quiet window counts from the exit as ECS reports it (`executionStoppedAt`, placed on
/// the local clock through `createdAt` and our launch), not from the describe that noticed
/// it: with a 3 s describe interval the run returns up to 3 s sooner, every line still read.
#[tokio::test(start_paused = true)]
async fn the_quiet_window_starts_at_the_exit_ecs_reports() {
    for phase in 0..12 {
        let exit = 5.0 + phase as f64 * 0.25;
        let script = Script {
            exit: Some((exit, 0)),
            teardown: 0.9,
            ..Default::default()
        };
        let noticed = run(script.clone(), settings(), None, None).await;
        let s = Settings {
            launched_at: Some(Instant::now()),
            ..settings()
        };
        let r = run(script, s, None, None).await;
        r.assert_every_line_once_in_order();
        assert!(r.followed.logs_complete);
        // one quiet window after the exit itself, plus at most one drain read
        assert!(
            r.elapsed <= exit + 3.0 + 0.25 + 0.01,
            "phase {phase}: {} (noticed-based: {})",
            r.elapsed,
            noticed.elapsed
        );
        assert!(r.elapsed >= exit + 3.0, "phase {phase}: {}", r.elapsed);
        assert!(r.elapsed <= noticed.elapsed, "phase {phase}");
    }
}

/// A line landing long after the exit still holds the drain open, with the exit placed early.
#[tokio::test(start_paused = true)]
async fn an_early_exit_mark_still_waits_for_a_late_last_line() {
    let mut script = Script {
        exit: Some((5.0, 0)),
        teardown: 0.9,
        ..Default::default()
    };
    script.lines.push((5.0 + 2.9, "the-last-line".into()));
    let s = Settings {
        launched_at: Some(Instant::now()),
        ..settings()
    };
    let r = run(script, s, None, None).await;
    r.assert_every_line_once_in_order();
    assert!(r.followed.logs_complete);
    assert!(r.elapsed >= 5.0 + 2.9 + 1.5, "{}", r.elapsed);
}
