//! Progress of long command-line work: a bar on a terminal (indicatif), and on anything else (a log
//! file, CI) a plain line at each tenth of the way — never control codes where nobody watches.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    /// `None` when the amount of work is not known in advance (a count, no bar).
    total: Option<u64>,
    done: u64,
    /// The next count at which a plain line is written.
    next_line: u64,
}

impl Progress {
    pub fn new(label: &str, total: Option<u64>) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let (bar, template) = match total {
                Some(n) => (ProgressBar::new(n), "{msg} [{bar:40}] {pos}/{len} ({elapsed}, {eta} left)"),
                None => (ProgressBar::new_spinner(), "{msg} {spinner} {pos} ({elapsed})"),
            };
            let style = ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.with_style(style.progress_chars("=> ")).with_message(label.to_owned())
        });
        let mut p = Progress { bar, label: label.to_owned(), total, done: 0, next_line: 0 };
        p.next_line = p.step();
        p
    }

    /// Plain lines every tenth of a known total; every 10,000 when it is not known.
    fn step(&self) -> u64 {
        self.total.map_or(10_000, |n| (n / 10).max(1))
    }

    pub fn inc(&mut self, n: u64) {
        self.done += n;
        match &self.bar {
            Some(bar) => bar.inc(n),
            None if self.done >= self.next_line => {
                match self.total {
                    Some(total) => eprintln!("{}: {}/{total}", self.label, self.done),
                    None => eprintln!("{}: {}", self.label, self.done),
                }
                self.next_line = self.done + self.step();
            }
            None => {}
        }
    }

    pub fn finish(self) {
        match self.bar {
            Some(bar) => bar.finish_and_clear(),
            None => eprintln!("{}: done ({})", self.label, self.done),
        }
    }
}
