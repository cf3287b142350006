//! Evaluation of the domain classifier on a labelled CSV (the format of `labelled_dev.csv`):
//! confusion matrix, per-class precision and recall, and one summary line.

use crate::classifier::{argmax, Classifier};
use crate::domain::{csv_rows, ModelError, DOMAINS};
use std::fmt::Write as _;

pub const COLUMNS: [&str; 6] = ["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "一级分类"];

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// confusion[actual][predicted], in `DOMAINS` order.
    pub confusion: [[u32; 7]; 7],
    pub n: u32,
    /// Rows whose label is not one of the seven domains; left out of the figures.
    pub unknown_labels: u32,
}

impl Evaluation {
    /// From (actual, predicted) pairs, in `DOMAINS` indices.
    pub fn of(pairs: impl IntoIterator<Item = (usize, usize)>) -> Evaluation {
        let mut e = Evaluation { confusion: [[0; 7]; 7], n: 0, unknown_labels: 0 };
        for (actual, predicted) in pairs {
            e.confusion[actual][predicted] += 1;
            e.n += 1;
        }
        e
    }

    pub fn accuracy(&self) -> f64 {
        let right: u32 = (0..7).map(|i| self.confusion[i][i]).sum();
        if self.n == 0 {
            0.0
        } else {
            f64::from(right) / f64::from(self.n)
        }
    }

    /// (precision, recall, F1) of a class; 0 where undefined.
    pub fn class(&self, c: usize) -> (f64, f64, f64) {
        let tp = f64::from(self.confusion[c][c]);
        let predicted: u32 = (0..7).map(|a| self.confusion[a][c]).sum();
        let actual: u32 = self.confusion[c].iter().sum();
        let p = if predicted == 0 { 0.0 } else { tp / f64::from(predicted) };
        let r = if actual == 0 { 0.0 } else { tp / f64::from(actual) };
        let f = if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) };
        (p, r, f)
    }

    /// Mean F1 over the classes present in the file (as labels or as predictions).
    pub fn macro_f1(&self) -> f64 {
        let present: Vec<usize> = (0..7)
            .filter(|&c| self.confusion[c].iter().sum::<u32>() + (0..7).map(|a| self.confusion[a][c]).sum::<u32>() > 0)
            .collect();
        if present.is_empty() {
            return 0.0;
        }
        present.iter().map(|&c| self.class(c).2).sum::<f64>() / present.len() as f64
    }

    pub fn report(&self) -> String {
        let mut out = String::new();
        let short: Vec<&str> = DOMAINS.iter().map(|d| &d[..6]).collect(); // first two characters
        let _ = writeln!(out, "混淆矩阵（行：实际，列：预测）");
        let _ = writeln!(out, "{:<10}{}", "", short.iter().map(|s| format!("{s:>6}")).collect::<String>());
        for (a, row) in self.confusion.iter().enumerate() {
            let _ = writeln!(out, "{:<10}{}", short[a], row.iter().map(|v| format!("{v:>8}")).collect::<String>());
        }
        let _ = writeln!(out, "\n{:<10}{:>10}{:>10}{:>10}{:>8}", "class", "precision", "recall", "f1", "n");
        for (c, name) in short.iter().enumerate() {
            let (p, r, f) = self.class(c);
            let n: u32 = self.confusion[c].iter().sum();
            let _ = writeln!(out, "{name:<10}{p:>10.3}{r:>10.3}{f:>10.3}{n:>8}");
        }
        if self.unknown_labels > 0 {
            let _ =
                writeln!(out, "\n{} rows with a label outside the seven domains were left out", self.unknown_labels);
        }
        let _ = write!(out, "accuracy={:.3} macro_f1={:.3} n={}", self.accuracy(), self.macro_f1(), self.n);
        out
    }
}

/// Classifies every row of a labelled CSV text from its title and body.
pub fn evaluate(model: &Classifier, csv: &str, file: &str) -> Result<Evaluation, ModelError> {
    let rows = csv_rows(csv, file, &["留言主题", "留言详情", "一级分类"])?;
    let mut e = Evaluation { confusion: [[0; 7]; 7], n: 0, unknown_labels: 0 };
    for row in rows {
        let Some(actual) = DOMAINS.iter().position(|d| *d == row[2].trim()) else {
            e.unknown_labels += 1;
            continue;
        };
        // A message without any known feature gets the biases' choice, the likeliest domain a priori.
        let predicted = argmax(&model.probabilities(&row[0], &row[1]));
        e.confusion[actual][predicted] += 1;
        e.n += 1;
    }
    Ok(e)
}
