//! Progress of a pull or an import. On a terminal: a bar per layer (bytes,
//! rate) under a line counting the layers done (indicatif). Off a terminal
//! nothing is drawn; the caller prints one line at the end.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Read;
use std::time::Duration;

/// How often the bars are redrawn without news. indicatif draws only on an
/// update and drops updates that come too fast, so a transfer that stalls
/// would go on showing a stale count and rate.
const TICK: Duration = Duration::from_millis(250);

pub struct Progress {
    bars: Option<(MultiProgress, ProgressBar)>,
}

impl Progress {
    /// Bars on standard error when `terminal`, else nothing.
    pub fn new(terminal: bool) -> Progress {
        let bars = terminal.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let total = multi.add(
                ProgressBar::new(0).with_style(
                    ProgressStyle::with_template("{prefix} {pos}/{len} layers {wide_msg}")
                        .expect("a valid template"),
                ),
            );
            total.enable_steady_tick(TICK);
            (multi, total)
        });
        Progress { bars }
    }

    /// No output at all (callers that report otherwise).
    pub fn hidden() -> Progress {
        Progress { bars: None }
    }

    /// The image `name` has `layers` layers to bring in.
    pub fn begin(&self, name: &str, layers: usize) {
        if let Some((_, total)) = &self.bars {
            total.set_prefix(name.to_string());
            total.set_length(layers as u64);
        }
    }

    /// A bar for one layer of `size` bytes.
    pub fn layer(&self, short_digest: &str, size: u64) -> LayerProgress {
        let bar = self.bars.as_ref().map(|(multi, total)| {
            let bar = multi.add(
                ProgressBar::new(size).with_style(
                    ProgressStyle::with_template(
                        "  {prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
                    )
                    .expect("a valid template")
                    .progress_chars("=> "),
                ),
            );
            bar.set_prefix(short_digest.to_string());
            bar.enable_steady_tick(TICK);
            (bar, total.clone())
        });
        LayerProgress { bar }
    }

    /// Clears the bars (the caller prints its summary after this).
    pub fn finish(&self) {
        if let Some((multi, total)) = &self.bars {
            total.finish_and_clear();
            let _ = multi.clear();
        }
    }
}

pub struct LayerProgress {
    bar: Option<(ProgressBar, ProgressBar)>,
}

impl LayerProgress {
    /// Wraps `read` so that bytes read move the bar.
    pub fn wrap<'a, R: Read + 'a>(&self, read: R) -> Box<dyn Read + 'a> {
        match &self.bar {
            Some((bar, _)) => Box::new(bar.wrap_read(read)),
            None => Box::new(read),
        }
    }

    /// The layer is in the store (`message`: "done", "already present").
    pub fn done(&self, message: &'static str) {
        if let Some((bar, total)) = &self.bar {
            bar.finish_with_message(message);
            total.inc(1);
        }
    }
}
