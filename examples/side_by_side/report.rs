//! Samples by (row, side), their medians, and the ratio table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Every run's figure for each (row, side).
#[derive(Default)]
pub struct Samples {
    rows: Vec<String>,
    values: BTreeMap<(String, String), Vec<f64>>,
}

impl Samples {
    pub fn add(&mut self, row: &str, side: &str, value: f64) {
        if !self.rows.iter().any(|r| r == row) {
            self.rows.push(row.to_owned());
        }
        self.values
            .entry((row.to_owned(), side.to_owned()))
            .or_default()
            .push(value);
    }

    pub fn median(&self, row: &str, side: &str) -> Option<f64> {
        let mut values = self.values.get(&(row.to_owned(), side.to_owned()))?.clone();
        values.retain(|v| !v.is_nan());
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let mid = values.len() / 2;
        Some(if values.len() % 2 == 0 {
            (values[mid - 1] + values[mid]) / 2.0
        } else {
            values[mid]
        })
    }

    /// (min, max) over the runs: how noisy the row was.
    pub fn spread(&self, row: &str, side: &str) -> Option<(f64, f64)> {
        let values = self.values.get(&(row.to_owned(), side.to_owned()))?;
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some((min, max))
    }

    pub fn runs(&self, row: &str, side: &str) -> usize {
        self.values
            .get(&(row.to_owned(), side.to_owned()))
            .map_or(0, Vec::len)
    }

    /// Tab-separated: row, side, every run's value.
    pub fn tsv(&self) -> String {
        let mut out = String::new();
        for ((row, side), values) in &self.values {
            let values: Vec<String> = values.iter().map(|v| format!("{v:.3}")).collect();
            let _ = writeln!(out, "{row}\t{side}\t{}", values.join("\t"));
        }
        out
    }

    /// The markdown table: each row's medians for `a` and `b`, min–max, and `a / b`.
    pub fn table(&self, a: &str, b: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| figure | {a} (median) | {a} min–max | {b} (median) | {b} min–max | ratio {a}/{b} |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for row in &self.rows {
            let cell = |side: &str| match self.median(row, side) {
                Some(v) => format!("{} (n={})", fmt(v), self.runs(row, side)),
                None => "–".to_owned(),
            };
            let spread = |side: &str| match self.spread(row, side) {
                Some((lo, hi)) => format!("{}–{}", fmt(lo), fmt(hi)),
                None => "–".to_owned(),
            };
            let ratio = match (self.median(row, a), self.median(row, b)) {
                (Some(x), Some(y)) if y != 0.0 => format!("{:.2}×", x / y),
                _ => "–".to_owned(),
            };
            let _ = writeln!(
                out,
                "| {row} | {} | {} | {} | {} | {ratio} |",
                cell(a),
                spread(a),
                cell(b),
                spread(b)
            );
        }
        out
    }
}

pub fn fmt(v: f64) -> String {
    if v.is_nan() {
        "–".to_owned()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
