//! SIGINT/SIGTERM become abort requests for the run loop. A second SIGINT exits at once
//! (handled in main, the only place that exits).

use tokio::sync::mpsc;

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

/// Starts listening; `on_second_interrupt` runs when SIGINT arrives a second time.
pub fn listen(on_second_interrupt: fn() -> !) -> std::io::Result<Receiver> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = mpsc::unbounded_channel();
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
                if interrupts > 1 {
                    on_second_interrupt();
                }
            }
            let _ = tx.send(sig);
        }
    });
    Ok(rx)
}
