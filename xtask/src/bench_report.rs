//! What `cargo xtask bench` reports: each figure's runs, their median and range against a target, as a
//! Markdown table and an SVG chart.

use serde_json::{Value, json};

use crate::sh::Result;

/// One figure over every run of its scenario.
#[derive(Debug)]
pub struct Figure {
    pub name: String,
    pub unit: &'static str,
    /// One value per run.
    pub samples: Vec<f64>,
    pub target: Option<f64>,
    pub higher_is_better: bool,
}

impl Figure {
    /// A figure without a target.
    pub fn new(name: &str, unit: &'static str, samples: Vec<f64>) -> Figure {
        Figure { name: name.to_owned(), unit, samples, target: None, higher_is_better: false }
    }

    /// The same figure held against `target`, which it should stay at or under.
    pub fn at_most(self, target: f64) -> Figure {
        Figure { target: Some(target), higher_is_better: false, ..self }
    }

    /// The same figure held against `target`, which it should reach.
    pub fn at_least(self, target: f64) -> Figure {
        Figure { target: Some(target), higher_is_better: true, ..self }
    }

    pub fn median(&self) -> f64 {
        let mut s: Vec<f64> = self.samples.iter().copied().filter(|v| v.is_finite()).collect();
        s.sort_by(f64::total_cmp);
        match s.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => s[n / 2],
            n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
        }
    }

    fn range(&self) -> (f64, f64) {
        let finite = self.samples.iter().copied().filter(|v| v.is_finite());
        (finite.clone().fold(f64::INFINITY, f64::min), finite.fold(f64::NEG_INFINITY, f64::max))
    }

    /// The median over the target ("met"/"missed" for a target of zero, which has no ratio).
    fn ratio_text(&self) -> String {
        match self.target {
            None => "—".to_owned(),
            Some(0.0) if self.median() == 0.0 => "met".to_owned(),
            Some(0.0) => "missed".to_owned(),
            Some(t) => format!("{:.2}", self.median() / t),
        }
    }

    pub fn to_json(&self) -> Value {
        let (min, max) = self.range();
        json!({ "figure": self.name, "unit": self.unit, "runs": self.samples, "median": self.median(),
            "min": min, "max": max, "target": self.target, "higher_is_better": self.higher_is_better })
    }
}

/// Samples of the number at JSON pointer `pointer` in each run.
pub fn each(runs: &[Value], pointer: &str) -> Vec<f64> {
    runs.iter().map(|r| r.pointer(pointer).and_then(Value::as_f64).unwrap_or(f64::NAN)).collect()
}

/// Run by run, `a` over `b`.
pub fn ratio(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a / b).collect()
}

/// The Markdown table: one row per figure.
pub fn table(figures: &[Figure]) -> String {
    let runs = figures.iter().map(|f| f.samples.len()).max().unwrap_or(0);
    let mut out =
        format!("| figure | median of {runs} runs | range | target | median / target |\n|---|---|---|---|---|\n");
    for f in figures {
        let (min, max) = f.range();
        let target = match f.target {
            Some(t) => format!("{} {t} {}", if f.higher_is_better { "≥" } else { "≤" }, f.unit),
            None => "—".to_owned(),
        };
        out.push_str(&format!(
            "| {} | {} {} | {}–{} | {target} | {} |\n",
            f.name,
            short(f.median()),
            f.unit,
            short(min),
            short(max),
            f.ratio_text()
        ));
    }
    out
}

/// A number with as many decimals as its size calls for.
fn short(v: f64) -> String {
    match v.abs() {
        a if a >= 100.0 || a == 0.0 => format!("{v:.0}"),
        a if a >= 1.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    }
}

/// A bar per figure with a (non-zero) target: the median over the target, the runs' range as a line
/// across it, and the target at 1.
pub fn chart(figures: &[Figure], path: &std::path::Path) -> Result {
    use plotters::prelude::*;
    let bars: Vec<(&Figure, f64)> = figures
        .iter()
        .filter_map(|f| Some((f, f.target.filter(|t| *t != 0.0)?)))
        .filter(|(f, _)| f.median().is_finite())
        .collect();
    let height = 60 + 40 * bars.len() as u32;
    let root = SVGBackend::new(path, (900, height)).into_drawing_area();
    let draw = || -> std::result::Result<(), Box<dyn std::error::Error>> {
        root.fill(&WHITE)?;
        let max = bars.iter().map(|(f, t)| f.range().1 / t).fold(2.0_f64, f64::max) * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "median / target, with the range of the runs (higher-is-better: over 1 is met; lower: under 1)",
                ("sans-serif", 14),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(300)
            .build_cartesian_2d(0.0..max, (0..bars.len()).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(bars.len())
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => bars.get(*i).map(|b| b.0.name.clone()).unwrap_or_default(),
                _ => String::new(),
            })
            .draw()?;
        chart.draw_series(bars.iter().enumerate().map(|(i, (f, t))| {
            let ratio = f.median() / t;
            let met = if f.higher_is_better { ratio >= 1.0 } else { ratio <= 1.0 };
            let color = if met { RGBColor(46, 155, 46) } else { RGBColor(192, 57, 43) };
            let mut bar =
                Rectangle::new([(0.0, SegmentValue::Exact(i)), (ratio, SegmentValue::Exact(i + 1))], color.filled());
            bar.set_margin(6, 6, 0, 0);
            bar
        }))?;
        chart.draw_series(bars.iter().enumerate().map(|(i, (f, t))| {
            let (min, max) = f.range();
            PathElement::new(
                vec![(min / t, SegmentValue::CenterOf(i)), (max / t, SegmentValue::CenterOf(i))],
                BLACK.stroke_width(3),
            )
        }))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(1.0, SegmentValue::Exact(0)), (1.0, SegmentValue::Last)],
            BLACK.stroke_width(2),
        )))?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| format!("chart: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_range_skip_failed_runs() {
        let f = Figure::new("x", "ms", vec![3.0, f64::NAN, 1.0, 2.0]).at_most(2.0);
        assert_eq!(f.median(), 2.0);
        assert_eq!(f.range(), (1.0, 3.0));
        assert_eq!(f.ratio_text(), "1.00");
        assert!(table(&[f]).contains("| x | 2.0 ms | 1.0–3.0 | ≤ 2 ms | 1.00 |"));
    }

    #[test]
    fn zero_targets_are_met_or_missed() {
        assert_eq!(Figure::new("open", "", vec![0.0; 3]).at_most(0.0).ratio_text(), "met");
        assert_eq!(Figure::new("open", "", vec![0.0, 4.0, 4.0]).at_most(0.0).ratio_text(), "missed");
    }
}
