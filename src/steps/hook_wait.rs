//! Waiting for a native blue/green deployment to stop at the gate's PAUSE hook: a pure verdict
//! on each answer (`judge`), and a driver that polls it, racing every call against the aborts.

use std::time::Duration;

use aws_sdk_ecs::types::ServiceDeploymentStatus;
use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::time::Instant;

use crate::aws::deployments::{DeploymentApi, DeploymentView, HookView};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::plan::arn::id_of;
use crate::plan::stages::stage_index;
use crate::signals::{AbortEvent, Aborts};

/// The deployment stopped at the hook: what the gate answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub deployment: DeploymentView,
    pub hook: HookView,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Not there yet; the text says where the deployment is.
    Wait(String),
    Found(Box<Found>),
    /// The deployment will never stop at this hook.
    Fail(String),
}

/// Pure: what one answer (the service's newest active deployment) means for a gate at `stage`.
pub fn judge(d: Option<&DeploymentView>, stage: &str) -> Verdict {
    let Some(d) = d else {
        return Verdict::Wait("no deployment in progress yet".into());
    };
    let id = id_of(&d.arn);
    if !matches!(
        d.status,
        ServiceDeploymentStatus::InProgress | ServiceDeploymentStatus::Pending
    ) {
        return Verdict::Fail(format!(
            "deployment {id} is {}: it will not stop at the {stage} hook",
            d.status.as_str()
        ));
    }
    let at = d.stage.as_ref().map_or("PENDING", |s| s.as_str());
    if at == stage {
        if let Some(hook) = d.awaiting_hook() {
            return Verdict::Found(Box::new(Found {
                deployment: d.clone(),
                hook: hook.clone(),
            }));
        }
        return Verdict::Wait(format!(
            "deployment {id} is at {stage}, its hook not yet awaiting"
        ));
    }
    if d.stage.is_some() && stage_index(at) > stage_index(stage) {
        return Verdict::Fail(format!(
            "deployment {id} is already at {at}, past {stage}: it went on without this gate"
        ));
    }
    Verdict::Wait(format!("deployment {id} is at {at}"))
}

/// How the driver polls.
#[derive(Debug, Clone, Copy)]
pub struct Polling {
    pub interval: Duration,
    pub backoff_max: Duration,
    /// Give up when no deployment has reached the hook by then.
    pub give_up: Instant,
}

/// Polls until the hook awaits (Ok(Ok)), an abort arrives (Ok(Err)), or it never will (Err).
/// Throttling and other transient errors are retried with backoff; the rest end the wait.
pub async fn for_hook<A: DeploymentApi>(
    api: &A,
    stage: &str,
    polling: Polling,
    aborts: &mut Aborts,
    out: &Output,
) -> Result<std::result::Result<Found, AbortEvent>> {
    let mut said = String::new();
    let mut backoff = backoff(polling);
    loop {
        let wait = match aborts.race(api.active()).await {
            Err(ev) => return Ok(Err(ev)),
            Ok(Err(e)) if e.transient => {
                out.warn(format!("{e}; still waiting for the hook"));
                backoff.next().unwrap_or(polling.backoff_max)
            }
            Ok(Err(e)) => return Err(e),
            Ok(Ok(answer)) => {
                backoff = self::backoff(polling);
                match judge(answer.as_ref(), stage) {
                    Verdict::Found(found) => return Ok(Ok(*found)),
                    Verdict::Fail(why) => {
                        return Err(Error::before_run(format!("{why}; nothing was launched"))
                            .with_hint(
                                "start a new deployment (UpdateService) and rerun the gate",
                            ));
                    }
                    Verdict::Wait(status) => {
                        if status != said {
                            out.progress(format!("waiting for the {stage} hook: {status}"));
                            said = status;
                        }
                        polling.interval
                    }
                }
            }
        };
        // the window's end gets a check of its own: a hook that arrives in the last interval
        // is not missed
        let now = Instant::now();
        if now >= polling.give_up {
            return Err(Error::before_run(format!(
                "no blue/green deployment reached its PAUSE hook at {stage} in time ({said}); nothing was launched"
            ))
            .with_hint("start the deployment (UpdateService / the ECS deploy action) first, or raise --hook-wait"));
        }
        let until = (now + wait).min(polling.give_up);
        if let Err(ev) = aborts.race(tokio::time::sleep_until(until)).await {
            return Ok(Err(ev));
        }
    }
}

fn backoff(p: Polling) -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(p.interval)
        .with_max_delay(p.backoff_max)
        .with_jitter()
        .without_max_times()
        .build()
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use aws_sdk_ecs::types::{
        DeploymentLifecycleHookAction, DeploymentLifecycleHookStatus,
        ServiceDeploymentLifecycleStage,
    };
    use tokio::sync::mpsc;

    use super::*;
    use crate::signals::Signal;

    const STAGE: &str = "PRE_SCALE_UP";

    fn deployment(status: &str, stage: Option<&str>, hook: Option<&str>) -> DeploymentView {
        DeploymentView {
            arn: "arn:aws:ecs:r:1:service-deployment/c/s/d1".into(),
            status: ServiceDeploymentStatus::from(status),
            stage: stage.map(ServiceDeploymentLifecycleStage::from),
            target_revision: Some("arn:aws:ecs:r:1:service-revision/c/s/2".into()),
            source_revisions: vec!["arn:aws:ecs:r:1:service-revision/c/s/1".into()],
            hooks: hook
                .map(|status| HookView {
                    id: "h1".into(),
                    pause: true,
                    status: DeploymentLifecycleHookStatus::from(status),
                    expires_at: None,
                    timeout_action: Some(DeploymentLifecycleHookAction::Rollback),
                })
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn judging_each_answer() {
        assert!(matches!(judge(None, STAGE), Verdict::Wait(_)));
        let early = deployment("IN_PROGRESS", Some("RECONCILE_SERVICE"), None);
        assert!(
            matches!(judge(Some(&early), STAGE), Verdict::Wait(w) if w.contains("RECONCILE_SERVICE"))
        );
        let arriving = deployment("IN_PROGRESS", Some(STAGE), None);
        assert!(matches!(judge(Some(&arriving), STAGE), Verdict::Wait(_)));
        let paused = deployment("IN_PROGRESS", Some(STAGE), Some("AWAITING_ACTION"));
        match judge(Some(&paused), STAGE) {
            Verdict::Found(f) => assert_eq!(f.hook.id, "h1"),
            other => panic!("{other:?}"),
        }
        let past = deployment("IN_PROGRESS", Some("SCALE_UP"), Some("SUCCEEDED"));
        assert!(
            matches!(judge(Some(&past), STAGE), Verdict::Fail(w) if w.contains("past PRE_SCALE_UP"))
        );
        let rolling_back = deployment("ROLLBACK_IN_PROGRESS", Some(STAGE), None);
        assert!(
            matches!(judge(Some(&rolling_back), STAGE), Verdict::Fail(w) if w.contains("ROLLBACK_IN_PROGRESS"))
        );
    }

    /// Answers on a scripted clock: (from second, answer); an error answer by its transience.
    struct Fake {
        start: Instant,
        script: Vec<(f64, std::result::Result<Option<DeploymentView>, bool>)>,
        call_seconds: f64,
        calls: RefCell<u32>,
    }

    impl DeploymentApi for Fake {
        async fn active(&self) -> Result<Option<DeploymentView>> {
            *self.calls.borrow_mut() += 1;
            tokio::time::sleep(Duration::from_secs_f64(self.call_seconds)).await;
            let now = self.start.elapsed().as_secs_f64();
            let (_, answer) = self
                .script
                .iter()
                .rev()
                .find(|(from, _)| *from <= now)
                .expect("scripted from 0");
            match answer {
                Ok(d) => Ok(d.clone()),
                Err(transient) => {
                    let mut e =
                        Error::before_run("ecs:ListServiceDeployments failed: Rate exceeded");
                    e.transient = *transient;
                    Err(e)
                }
            }
        }
    }

    fn fake(script: Vec<(f64, std::result::Result<Option<DeploymentView>, bool>)>) -> Fake {
        Fake {
            start: Instant::now(),
            script,
            call_seconds: 0.1,
            calls: RefCell::new(0),
        }
    }

    fn polling(give_up_after: f64) -> Polling {
        Polling {
            interval: Duration::from_secs(3),
            backoff_max: Duration::from_secs(10),
            give_up: Instant::now() + Duration::from_secs_f64(give_up_after),
        }
    }

    fn aborts() -> (mpsc::UnboundedSender<Signal>, Aborts) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, Aborts::new(rx, None))
    }

    #[tokio::test(start_paused = true)]
    async fn waits_through_the_stages_until_the_hook_awaits() {
        let api = fake(vec![
            (0.0, Ok(None)),
            (
                10.0,
                Ok(Some(deployment(
                    "IN_PROGRESS",
                    Some("RECONCILE_SERVICE"),
                    None,
                ))),
            ),
            (
                20.0,
                Ok(Some(deployment(
                    "IN_PROGRESS",
                    Some(STAGE),
                    Some("AWAITING_ACTION"),
                ))),
            ),
        ]);
        let (_tx, mut aborts) = aborts();
        let started = Instant::now();
        let found = for_hook(&api, STAGE, polling(600.0), &mut aborts, &Output::silent())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.hook.id, "h1");
        let waited = started.elapsed().as_secs_f64();
        assert!(
            (20.0..24.0).contains(&waited),
            "found {waited} s in: one poll interval late at most"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_deployment_gives_up_at_the_wait_limit() {
        let api = fake(vec![(0.0, Ok(None))]);
        let (_tx, mut aborts) = aborts();
        let started = Instant::now();
        let e = for_hook(&api, STAGE, polling(30.0), &mut aborts, &Output::silent())
            .await
            .unwrap_err();
        assert!(
            e.message
                .contains("no blue/green deployment reached its PAUSE hook at PRE_SCALE_UP"),
            "{}",
            e.message
        );
        assert!(e.message.contains("nothing was launched"));
        // a last check at the window's end, then no more
        assert!(started.elapsed() <= Duration::from_millis(30_200));
        assert!(
            *api.calls.borrow() >= 9,
            "polled every 3 s: {}",
            api.calls.borrow()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_waited_out_but_a_hard_error_ends_the_wait() {
        let api = fake(vec![
            (0.0, Err(true)),
            (
                15.0,
                Ok(Some(deployment(
                    "IN_PROGRESS",
                    Some(STAGE),
                    Some("AWAITING_ACTION"),
                ))),
            ),
        ]);
        let (_tx, mut aborts) = aborts();
        assert!(
            for_hook(&api, STAGE, polling(600.0), &mut aborts, &Output::silent())
                .await
                .unwrap()
                .is_ok()
        );

        let api = fake(vec![(0.0, Err(false))]);
        let e = for_hook(&api, STAGE, polling(600.0), &mut aborts, &Output::silent())
            .await
            .unwrap_err();
        assert!(
            e.message.contains("ListServiceDeployments"),
            "{}",
            e.message
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_deployment_that_passed_the_stage_is_not_waited_for() {
        let api = fake(vec![(
            0.0,
            Ok(Some(deployment("IN_PROGRESS", Some("POST_SCALE_UP"), None))),
        )]);
        let (_tx, mut aborts) = aborts();
        let e = for_hook(&api, STAGE, polling(600.0), &mut aborts, &Output::silent())
            .await
            .unwrap_err();
        assert!(e.message.contains("past PRE_SCALE_UP"), "{}", e.message);
    }

    #[tokio::test(start_paused = true)]
    async fn a_signal_during_a_slow_call_ends_the_wait_at_once() {
        let mut api = fake(vec![(0.0, Ok(None))]);
        api.call_seconds = 60.0;
        let (tx, mut aborts) = aborts();
        let started = Instant::now();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            tx.send(Signal::Interrupt).unwrap();
        });
        let ev = for_hook(&api, STAGE, polling(600.0), &mut aborts, &Output::silent())
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(ev, AbortEvent::Signal(Signal::Interrupt));
        assert!(started.elapsed() < Duration::from_secs(6));
    }

    #[tokio::test(start_paused = true)]
    async fn a_hook_arriving_in_the_last_interval_of_the_window_is_found() {
        // polls at 0, 3, then the window's end (5): the hook arrived at 4.4
        let api = fake(vec![
            (0.0, Ok(None)),
            (
                4.4,
                Ok(Some(deployment(
                    "IN_PROGRESS",
                    Some(STAGE),
                    Some("AWAITING_ACTION"),
                ))),
            ),
        ]);
        let (_tx, mut aborts) = aborts();
        let started = Instant::now();
        let found = for_hook(&api, STAGE, polling(5.0), &mut aborts, &Output::silent())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.hook.id, "h1");
        let at = started.elapsed().as_secs_f64();
        assert!(
            (5.0..5.5).contains(&at),
            "found at {at} s, at the window's end"
        );
    }
}
