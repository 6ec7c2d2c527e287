//! The SVG plot: the CDF of transition times per episode, in real terms, with each episode's
//! predicted floor as a dashed line; below it, when the scenario had a `[load]`, a histogram of
//! lock grant latency per class (real ms) with every route's floor as a dashed line. Drawn with
//! `plotters` (SVG backend only). A panel with nothing to show is left out (a lock-only
//! scenario has no transitions; a scenario without `[load]` says so in one line).

use plotters::prelude::*;
use vmsc_runtime::cluster::console::count;

use crate::experiment::error::ExperimentError;
use crate::experiment::locks::LockClass;
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
    let locks = lock_series(report);
    let cdf_h: u32 = if series.is_empty() { 0 } else { 512 };
    let lock_h: u32 = if locks.is_some() { 440 } else { 28 };
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (900, cdf_h + lock_h)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let (upper, lower) = root.split_vertically(cdf_h);
        if !series.is_empty() {
            draw_cdf(&upper, report, &series, x_max)?;
        }
        match &locks {
            Some(l) => draw_locks(&lower, report, l)?,
            None => {
                lower
                    .draw(&Text::new(
                        "lock latency: not measured (the scenario has no [load] section)",
                        (16, 6),
                        ("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90)),
                    ))
                    .map_err(plot_err)?;
            }
        }
        root.present().map_err(plot_err)?;
    }
    Ok(out)
}

type Series = Vec<(String, Vec<f64>, Option<f64>)>;

fn draw_cdf<DB: DrawingBackend>(
    upper: &DrawingArea<DB, plotters::coord::Shift>,
    report: &Report,
    series: &Series,
    x_max: f64,
) -> Result<(), ExperimentError>
where
    DB::ErrorType: 'static,
{
    let title = format!(
        "Transition time (every survivor committed), {}, real terms (time scale {})",
        count(report.runs_settled as u64, "run", "runs"),
        report.time_scale
    );
    let mut chart = ChartBuilder::on(upper)
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
    Ok(())
}

/// Per class: name, real-ms latencies, and the distinct route floors (real ms).
type LockSeries = Vec<(String, Vec<f64>, Vec<f64>)>;

/// Local, remote, directory + remote.
const CLASS_COLORS: [RGBColor; 3] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
];

fn lock_series(report: &Report) -> Option<LockSeries> {
    let classes = report.locks.classes.as_ref()?;
    let runs = report.locks.per_request.as_ref()?;
    let out: LockSeries = classes
        .iter()
        .map(|c| {
            let xs = runs
                .iter()
                .filter(|r| r.class == c.class)
                .map(|r| r.latency_us as f64 / 1000.0 * report.time_scale)
                .collect();
            let mut floors: Vec<f64> = c.routes.iter().map(|r| r.figures.floor_real).collect();
            floors.sort_by(f64::total_cmp);
            floors.dedup();
            let label = format!(
                "{} ({} msg{}, {} requests)",
                c.class.name(),
                c.messages,
                if c.messages == 1 { "" } else { "s" },
                c.figures.count
            );
            (label, xs, floors)
        })
        .collect();
    (!out.is_empty()).then_some(out)
}

fn draw_locks<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    report: &Report,
    series: &LockSeries,
) -> Result<(), ExperimentError>
where
    DB::ErrorType: 'static,
{
    const BINS: usize = 90;
    let x_max = series
        .iter()
        .flat_map(|(_, xs, floors)| xs.iter().chain(floors))
        .copied()
        .fold(0.0_f64, f64::max)
        .max(1.0)
        * 1.05;
    let width = x_max / BINS as f64;
    let counts: Vec<Vec<u32>> = series
        .iter()
        .map(|(_, xs, _)| {
            let mut c = vec![0u32; BINS];
            for &x in xs {
                c[((x / width) as usize).min(BINS - 1)] += 1;
            }
            c
        })
        .collect();
    let y_max = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64 * 1.1;
    let title = format!(
        "Lock grant latency under load, {}, real terms (time scale {})",
        count(report.locks.requests.unwrap_or(0), "request", "requests"),
        report.time_scale
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("ms from the enq to its grant (dashed: floor of each route, RTTs from the table)")
        .y_desc("requests")
        .draw()
        .map_err(plot_err)?;
    for ((label, _, floors), c) in series.iter().zip(&counts) {
        let class = LockClass::ALL
            .iter()
            .position(|k| label.starts_with(&format!("{} (", k.name())))
            .unwrap_or(0);
        let color = CLASS_COLORS[class].to_rgba();
        chart
            .draw_series(c.iter().enumerate().filter(|(_, &n)| n > 0).map(|(b, &n)| {
                let x0 = b as f64 * width;
                Rectangle::new(
                    [(x0, 0.0), (x0 + width, f64::from(n))],
                    color.mix(0.6).filled(),
                )
            }))
            .map_err(plot_err)?
            .label(label.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], color.filled()));
        for &f in floors {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(f, 0.0), (f, y_max)],
                    6,
                    4,
                    color.stroke_width(1),
                ))
                .map_err(plot_err)?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)?;
    Ok(())
}
