//! Progress of a training run on the terminal: indicatif bars for the phases (a line per epoch
//! when standard error is not a terminal), and Ctrl-C as a stop request.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use symgrad::train::Event;

/// Progress bars for the phases, and Ctrl-C as a stop request.
pub struct Bars {
    bar: Option<ProgressBar>,
    phase: String,
    stop: Arc<AtomicBool>,
    pretrain_epochs: usize,
    finetune_epochs: usize,
    last_test: Option<f64>,
    /// Without a terminal the bars are hidden: print a line per epoch instead.
    tty: bool,
}

impl Bars {
    /// Bars for a run of these many pre-training epochs per layer and fine-tuning epochs,
    /// that ask the run to stop once `stop` is set.
    pub fn new(stop: Arc<AtomicBool>, pretrain_epochs: usize, finetune_epochs: usize) -> Self {
        Bars {
            bar: None,
            phase: String::new(),
            stop,
            pretrain_epochs,
            finetune_epochs,
            last_test: None,
            tty: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        }
    }

    /// Finishes the bar (or spinner) shown, if any.
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
    }

    fn style() -> ProgressStyle {
        ProgressStyle::with_template(
            "{prefix:>22} [{bar:30}] {pos}/{len} batches, ETA {eta}  {msg}",
        )
        .expect("template")
        .progress_chars("=> ")
    }

    fn start(&mut self, phase: String, len: u64) {
        if self.phase != phase {
            if let Some(b) = self.bar.take() {
                b.finish();
            }
            let b = ProgressBar::new(len)
                .with_style(Self::style())
                .with_prefix(phase.clone());
            self.bar = Some(b);
            self.phase = phase;
        }
    }

    /// Shows an event of the run; breaks once a stop was requested.
    pub fn on(&mut self, e: &Event) -> ControlFlow<()> {
        match e {
            Event::PretrainBatch {
                layer,
                epoch,
                batch,
                batches,
                error,
            } => {
                self.start(
                    format!("pre-train layer {}", layer + 1),
                    (self.pretrain_epochs * batches) as u64,
                );
                if let Some(b) = &self.bar {
                    b.set_position((epoch * batches + batch + 1) as u64);
                    b.set_message(format!(
                        "epoch {}, reconstruction error {error:.3}",
                        epoch + 1
                    ));
                }
            }
            Event::PretrainEpoch {
                layer,
                epoch,
                error,
            } => {
                if !self.tty {
                    say!(
                        "pre-train layer {}, epoch {}: reconstruction error {error:.3}",
                        layer + 1,
                        epoch + 1
                    );
                }
            }
            Event::FinetuneBatch {
                epoch,
                batch,
                batches,
                cost,
            } => {
                self.start("fine-tune".into(), (self.finetune_epochs * batches) as u64);
                if let Some(b) = &self.bar {
                    b.set_position((epoch * batches + batch + 1) as u64);
                    let test = self
                        .last_test
                        .map_or(String::new(), |t| format!(", test error {t:.3}"));
                    b.set_message(format!("epoch {}, cost {cost:.3}{test}", epoch + 1));
                }
            }
            Event::Phase(what) => {
                if let Some(b) = self.bar.take() {
                    b.finish();
                }
                if self.tty {
                    let spinner = ProgressBar::new_spinner().with_message(*what);
                    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
                    self.bar = Some(spinner);
                    self.phase = (*what).to_string();
                } else {
                    say!("{what}");
                }
            }
            Event::FinetuneEpoch(r) => {
                self.last_test = Some(r.test_error);
                let line = format!(
                    "epoch {:4}: train error {:.3}, test error {:.3} ({:.1} s)",
                    r.epoch, r.train_error, r.test_error, r.seconds
                );
                match &self.bar {
                    Some(b) if self.tty => b.println(line),
                    _ => say!("{line}"),
                }
            }
        }
        if self.stop.load(Ordering::SeqCst) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}
