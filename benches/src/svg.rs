//! The plots, as hand-written SVG: log-log panels side by side, a line per
//! implementation. The throughput plot has msg/s and MB/s against message
//! size; the scaling plot msg/s against the number of peers.

use std::fmt::Write;

use crate::plan::Impl;
use crate::report::{PlotSeries, bytes};

const PANEL_W: f64 = 440.0;
const PANEL_H: f64 = 300.0;
const MARGIN_L: f64 = 70.0;
const MARGIN_T: f64 = 60.0;
const GAP: f64 = 90.0;

fn color(imp: Impl) -> &'static str {
    match imp {
        Impl::Weirmq => "#d62728",
        Impl::Libzmq => "#1f77b4",
        Impl::PerfTools => "#17becf",
        Impl::Zmqrs => "#2ca02c",
        Impl::Omq => "#9467bd",
        // The floor and the cross pairs have no line of their own.
        Impl::TokioTcp | Impl::WeirmqToPerf | Impl::PerfToWeirmq => "#7f7f7f",
    }
}

fn value_label(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{}k", v / 1e3)
    } else {
        format!("{v}")
    }
}

/// What a panel's horizontal axis shows: its name, and a tick's label.
struct XAxis {
    name: &'static str,
    tick: fn(usize) -> String,
}

const SIZE: XAxis = XAxis {
    name: "message size",
    tick: bytes,
};

const PEERS: XAxis = XAxis {
    name: "N",
    tick: peers,
};

fn peers(n: usize) -> String {
    n.to_string()
}

/// The points of each implementation: (x, msg/s).
type Series = [PlotSeries];

/// One panel at horizontal offset `x0`: `value` maps (x, msg/s) to what
/// the panel shows.
fn panel(
    out: &mut String,
    x0: f64,
    series: &Series,
    (title, axis): (&str, &XAxis),
    value: impl Fn(usize, f64) -> f64,
) {
    let points: Vec<(usize, f64)> = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(s, v)| (s, value(s, v))))
        .filter(|&(_, v)| v > 0.0)
        .collect();
    let Some(min_size) = points.iter().map(|p| p.0).min() else {
        return;
    };
    let max_size = points.iter().map(|p| p.0).max().unwrap_or(min_size);
    let lo = points
        .iter()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .log10()
        .floor();
    let hi = points
        .iter()
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .log10()
        .ceil()
        .max(lo + 1.0);
    let (xs_lo, xs_hi) = (
        (min_size as f64).log2(),
        (max_size as f64).log2().max((min_size as f64).log2() + 1.0),
    );
    let x = |size: usize| x0 + (((size as f64).log2() - xs_lo) / (xs_hi - xs_lo)) * PANEL_W;
    let y = |v: f64| MARGIN_T + PANEL_H - ((v.log10() - lo) / (hi - lo)) * PANEL_H;

    let _ = writeln!(
        out,
        r##"<rect x="{x0}" y="{MARGIN_T}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#999"/>"##
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle" font-weight="bold">{title}</text>"#,
        x0 + PANEL_W / 2.0,
        MARGIN_T - 12.0
    );
    let mut decade = lo;
    while decade <= hi {
        let v = 10f64.powf(decade);
        let yy = y(v);
        let _ = writeln!(
            out,
            r##"<line x1="{x0}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            x0 + PANEL_W,
            x0 - 6.0,
            yy + 4.0,
            value_label(v)
        );
        decade += 1.0;
    }
    let mut sizes: Vec<usize> = points.iter().map(|p| p.0).collect();
    sizes.sort_unstable();
    sizes.dedup();
    for s in sizes {
        let xx = x(s);
        let _ = writeln!(
            out,
            r##"<line x1="{xx:.1}" y1="{MARGIN_T}" x2="{xx:.1}" y2="{:.1}" stroke="#eee"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            MARGIN_T + PANEL_H,
            MARGIN_T + PANEL_H + 18.0,
            (axis.tick)(s)
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">{}</text>"##,
        x0 + PANEL_W / 2.0,
        MARGIN_T + PANEL_H + 34.0,
        axis.name
    );
    for (imp, pts) in series {
        let coords: Vec<String> = pts
            .iter()
            .map(|&(s, v)| (s, value(s, v)))
            .filter(|&(_, v)| v > 0.0)
            .map(|(s, v)| format!("{:.1},{:.1}", x(s), y(v)))
            .collect();
        let c = color(*imp);
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2"/>"#,
            coords.join(" ")
        );
        for p in &coords {
            let (cx, cy) = p.split_once(',').expect("x,y");
            let _ = writeln!(out, r#"<circle cx="{cx}" cy="{cy}" r="3.5" fill="{c}"/>"#);
        }
    }
}

/// The SVG document: msg/s and MB/s against message size.
pub(crate) fn throughput_plot(series: &Series, caption: &str) -> String {
    document(2, series.iter().map(|s| s.0), caption, |out| {
        panel(
            out,
            x_of(0),
            series,
            ("messages per second", &SIZE),
            |_, v| v,
        );
        panel(out, x_of(1), series, ("MB per second", &SIZE), |size, v| {
            v * size as f64 / 1e6
        });
    })
}

/// The SVG document: a panel of msg/s against N for each titled series.
pub(crate) fn scaling_plot(panels: &[(&str, Vec<PlotSeries>)], caption: &str) -> String {
    let mut legend: Vec<Impl> = Vec::new();
    for imp in panels
        .iter()
        .flat_map(|(_, series)| series.iter().map(|s| s.0))
    {
        if !legend.contains(&imp) {
            legend.push(imp);
        }
    }
    document(panels.len(), legend.into_iter(), caption, |out| {
        for (i, (title, series)) in panels.iter().enumerate() {
            panel(out, x_of(i), series, (title, &PEERS), |_, v| v);
        }
    })
}

/// The left edge of the `i`th panel.
fn x_of(i: usize) -> f64 {
    MARGIN_L + (PANEL_W + GAP) * i as f64
}

/// `panels` panels drawn by `draw`, with a legend of `legend` and the
/// caption under them.
fn document(
    panels: usize,
    legend: impl Iterator<Item = Impl>,
    caption: &str,
    draw: impl FnOnce(&mut String),
) -> String {
    let width = x_of(panels) - GAP + 30.0;
    let height = MARGIN_T + PANEL_H + 75.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    draw(&mut out);
    // The legend, under the panels.
    let mut lx = MARGIN_L;
    let ly = MARGIN_T + PANEL_H + 58.0;
    for imp in legend {
        let _ = writeln!(
            out,
            r#"<rect x="{lx}" y="{:.1}" width="14" height="4" fill="{}"/><text x="{:.1}" y="{ly:.1}">{}</text>"#,
            ly - 6.0,
            color(imp),
            lx + 20.0,
            imp.name()
        );
        lx += 100.0;
    }
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{ly:.1}" fill="#555">{caption}</text>"##,
        lx + 10.0
    );
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_and_a_point_per_implementation_and_size() {
        let series = vec![
            (Impl::Weirmq, vec![(16, 1e6), (1024, 5e5), (65536, 2e4)]),
            (Impl::Libzmq, vec![(16, 2e6), (1024, 4e5)]),
            (Impl::Zmqrs, vec![]),
        ];
        let svg = throughput_plot(&series, "test");
        assert!(svg.starts_with("<svg "));
        assert!(svg.trim_end().ends_with("</svg>"));
        // Two panels.
        assert_eq!(svg.matches("<polyline").count(), 6);
        assert_eq!(svg.matches("<circle").count(), 10);
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn a_panel_per_scaling_series_with_n_on_its_axis() {
        let spread = vec![(Impl::Weirmq, vec![(1, 1e6), (10, 9e5), (100, 8e5)])];
        let gather = vec![
            (Impl::Weirmq, vec![(1, 1e6), (100, 1e6)]),
            (Impl::Omq, vec![(1, 9e5)]),
        ];
        let svg = scaling_plot(&[("PUSH→N PULL", spread), ("N PUSH→PULL", gather)], "test");
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert_eq!(svg.matches("<circle").count(), 6);
        assert!(svg.contains(">PUSH→N PULL<") && svg.contains(">N PUSH→PULL<"));
        // N's ticks, not sizes; one legend entry per implementation.
        assert!(svg.contains(">100<") && !svg.contains(" B<"));
        assert_eq!(svg.matches(">omq.rs<").count(), 1);
        assert_eq!(svg.matches(">weirmq<").count(), 1);
    }
}
