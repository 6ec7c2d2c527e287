//! The SVG plot: the CDF of transition times per episode, in real terms, with each episode's
//! predicted floor as a dashed line. Drawn with `plotters` (SVG backend only).
//!
//! Lock latency will get a histogram panel beside it once the runtime has a lock client; until
//! then the plot says that it is not measured.

use plotters::prelude::*;

use crate::experiment::error::ExperimentError;
use crate::experiment::report::Report;

fn plot_err<E: std::fmt::Debug>(e: E) -> ExperimentError {
    ExperimentError::Plot(format!("{e:?}"))
}

/// Draws the report's plot and returns the SVG text.
///
/// # Errors
/// [`ExperimentError::Plot`] if plotters fails.
pub fn svg(report: &Report) -> Result<String, ExperimentError> {
    // Per episode: sorted transition times (real s) and the floor (real s).
    let series: Vec<(String, Vec<f64>, Option<f64>)> = report
        .episodes
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let mut xs: Vec<f64> = e
                .per_run
                .iter()
                .filter_map(|r| r.transition_us)
                .map(|us| us as f64 / 1e6 * report.time_scale)
                .collect();
            if xs.is_empty() {
                return None;
            }
            xs.sort_by(f64::total_cmp);
            let floor = e.floor.as_ref().map(|f| f.transition_ms / 1000.0);
            Some((format!("{}: {}", i + 1, e.label), xs, floor))
        })
        .collect();
    let x_max = series
        .iter()
        .flat_map(|(_, xs, f)| xs.iter().copied().chain(*f))
        .fold(0.0_f64, f64::max)
        .max(0.001)
        * 1.08;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (900, 540)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let (upper, lower) = root.split_vertically(512);
        let title = format!(
            "Transition time (every survivor committed), {} runs, real terms (time scale {})",
            report.runs_settled, report.time_scale
        );
        let mut chart = ChartBuilder::on(&upper)
            .caption(title, ("sans-serif", 18))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..x_max, 0.0..1.0)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("seconds after the fault (dashed: predicted floor)")
            .y_desc("fraction of runs")
            .draw()
            .map_err(plot_err)?;
        for (i, (label, xs, floor)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let n = xs.len() as f64;
            let mut points = vec![(0.0, 0.0), (xs[0], 0.0)];
            for (k, &x) in xs.iter().enumerate() {
                points.push((x, k as f64 / n));
                points.push((x, (k + 1) as f64 / n));
            }
            points.push((x_max, 1.0));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(plot_err)?
                .label(label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            if let Some(f) = floor {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(*f, 0.0), (*f, 1.0)],
                        6,
                        4,
                        color.stroke_width(1),
                    ))
                    .map_err(plot_err)?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
        if !report.locks.available {
            lower
                .draw(&Text::new(
                    "lock latency: not yet measured (no lock client in the runtime)",
                    (16, 6),
                    ("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90)),
                ))
                .map_err(plot_err)?;
        }
        root.present().map_err(plot_err)?;
    }
    Ok(out)
}
