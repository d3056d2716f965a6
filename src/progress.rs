//! Progress bars for long runs (indicatif): one bar for the runs of a sweep or scenario, one
//! per worker thread for the simulated time of its current run. Hidden when stderr is not a
//! terminal or with `--quiet`.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::runner::Progress;

/// Terminal progress bars.
pub struct Bars {
    _multi: MultiProgress,
    runs: ProgressBar,
    workers: Vec<ProgressBar>,
    labels: Mutex<Vec<String>>,
}

impl Bars {
    /// Bars for `runs` simulations on `jobs` workers; `visible = false` draws nothing.
    pub fn new(runs: usize, jobs: usize, visible: bool) -> Bars {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let multi = MultiProgress::with_draw_target(target);
        let overall = ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} runs  {elapsed_precise} elapsed, ETA {eta_precise}")
            .expect("valid template")
            .progress_chars("=> ");
        let runs_bar = multi.add(
            ProgressBar::new(runs as u64)
                .with_style(overall)
                .with_prefix("simulations"),
        );
        runs_bar.enable_steady_tick(Duration::from_millis(250));
        let each =
            ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} s simulated  {msg}")
                .expect("valid template")
                .progress_chars("=> ");
        let workers = (0..jobs)
            .map(|w| {
                multi.add(
                    ProgressBar::new(1)
                        .with_style(each.clone())
                        .with_prefix(format!("worker {w}")),
                )
            })
            .collect();
        Bars {
            _multi: multi,
            runs: runs_bar,
            workers,
            labels: Mutex::new(vec![String::new(); jobs]),
        }
    }

    /// Remove the bars from the terminal.
    /// Remove the worker bars and leave the runs bar at its end (`5/5 runs`).
    pub fn finish(&self) {
        for w in &self.workers {
            w.finish_and_clear();
        }
        if let Some(len) = self.runs.length() {
            self.runs.set_position(len);
        }
        self.runs.finish();
    }
}

impl Progress for Bars {
    fn start(&self, worker: usize, label: &str, end_ms: u64) {
        if let Some(bar) = self.workers.get(worker) {
            bar.set_length(end_ms / 1000);
            bar.set_position(0);
            bar.set_message(label.to_string());
        }
        if let Ok(mut l) = self.labels.lock() {
            if let Some(slot) = l.get_mut(worker) {
                *slot = label.to_string();
            }
        }
    }

    fn tick(&self, worker: usize, now_ms: u64) {
        if let Some(bar) = self.workers.get(worker) {
            // after duration_s a run goes on until its last events are delivered and its
            // connections closed: grow the bar rather than overflow it
            let s = now_ms / 1000;
            if bar.length().is_some_and(|len| s > len) {
                bar.set_length(s);
                if let Ok(l) = self.labels.lock() {
                    if let Some(label) = l.get(worker) {
                        bar.set_message(format!("{label}: delivering the last events, closing"));
                    }
                }
            }
            bar.set_position(s);
        }
    }

    fn done(&self, worker: usize) {
        if let Some(bar) = self.workers.get(worker) {
            if let Some(len) = bar.length() {
                bar.set_position(len);
            }
        }
        self.runs.inc(1);
    }
}
