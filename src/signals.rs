//! SIGINT/SIGTERM and the deadline become abort events. A second SIGINT is an event of its
//! own, which reaches `main` (the only place that exits).

use std::future::Future;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

pub type Receiver = mpsc::UnboundedReceiver<Signal>;

/// The signals, as they arrive: the aborts' source, and the second SIGINT (exit at once).
pub struct Listening {
    pub signals: Receiver,
    pub second_interrupt: oneshot::Receiver<()>,
}

/// Starts listening for SIGINT and SIGTERM.
pub fn listen() -> std::io::Result<Listening> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = mpsc::unbounded_channel();
    let (second_tx, second_rx) = oneshot::channel();
    let mut second_tx = Some(second_tx);
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        let mut interrupts = 0;
        loop {
            let sig = tokio::select! {
                _ = int.recv() => Signal::Interrupt,
                _ = term.recv() => Signal::Terminate,
            };
            if sig == Signal::Interrupt {
                interrupts += 1;
                if interrupts > 1
                    && let Some(tx) = second_tx.take()
                {
                    let _ = tx.send(());
                }
            }
            let _ = tx.send(sig);
        }
    });
    Ok(Listening {
        signals: rx,
        second_interrupt: second_rx,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortEvent {
    Deadline,
    Signal(Signal),
}

/// The two ways a run is cut short, as one awaitable source. The deadline fires once.
pub struct Aborts {
    signals: Receiver,
    deadline: Option<Instant>,
    /// Where the deadline comes from (`--timeout 45m`, the hook's expiry), for messages.
    label: String,
    deadline_fired: bool,
}

impl Aborts {
    pub fn new(signals: Receiver, deadline: Option<Instant>) -> Self {
        Self {
            signals,
            deadline,
            label: "--timeout".into(),
            deadline_fired: false,
        }
    }

    /// Names where the deadline comes from.
    pub fn labelled(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Moves the deadline earlier (never later), naming its new source: `gate` ends the
    /// migration before its hook expires.
    pub fn tighten(&mut self, deadline: Instant, label: impl Into<String>) {
        if !self.deadline_fired && self.deadline.is_none_or(|d| deadline < d) {
            self.deadline = Some(deadline);
            self.label = label.into();
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Where the deadline comes from: `--timeout 45m`, or the hook's expiry.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The next abort event (cancel-safe: nothing is lost when the future is dropped).
    pub async fn next(&mut self) -> AbortEvent {
        let deadline = self.deadline.filter(|_| !self.deadline_fired);
        let until_deadline = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            Some(sig) = self.signals.recv() => AbortEvent::Signal(sig),
            () = until_deadline => {
                self.deadline_fired = true;
                AbortEvent::Deadline
            }
        }
    }

    /// An abort that is already due (a queued signal, a passed deadline), without waiting.
    /// A passed deadline is due even after it fired: the last check before a launch must
    /// never let one through past it.
    pub fn ready(&mut self) -> Option<AbortEvent> {
        if let Ok(sig) = self.signals.try_recv() {
            return Some(AbortEvent::Signal(sig));
        }
        match self.deadline {
            Some(d) if Instant::now() >= d => {
                self.deadline_fired = true;
                Some(AbortEvent::Deadline)
            }
            _ => None,
        }
    }

    /// Runs `fut` unless an abort comes first (then `fut` is dropped).
    pub async fn race<T>(&mut self, fut: impl Future<Output = T>) -> Result<T, AbortEvent> {
        tokio::select! {
            biased;
            ev = self.next() => Err(ev),
            v = fut => Ok(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn the_deadline_wins_a_slow_call_once() {
        let (_tx, rx) = mpsc::unbounded_channel();
        let mut aborts = Aborts::new(rx, Some(Instant::now() + Duration::from_secs(5)));
        let slow = tokio::time::sleep(Duration::from_secs(60));
        let started = Instant::now();
        assert_eq!(aborts.race(slow).await, Err(AbortEvent::Deadline));
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        // fired once: a later call runs to its end
        let r = aborts
            .race(tokio::time::sleep(Duration::from_secs(1)))
            .await;
        assert_eq!(r, Ok(()));
        // but the check before a launch still sees it passed
        assert_eq!(aborts.ready(), Some(AbortEvent::Deadline));
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_is_due_before_the_deadline() {
        let (_tx, rx) = mpsc::unbounded_channel();
        let mut aborts = Aborts::new(rx, Some(Instant::now() + Duration::from_secs(5)));
        assert_eq!(aborts.ready(), None);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(aborts.ready(), Some(AbortEvent::Deadline));
    }

    #[tokio::test(start_paused = true)]
    async fn a_signal_wins_at_once() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut aborts = Aborts::new(rx, None);
        tx.send(Signal::Terminate).unwrap();
        let r = aborts.race(std::future::pending::<()>()).await;
        assert_eq!(r, Err(AbortEvent::Signal(Signal::Terminate)));
    }
}
