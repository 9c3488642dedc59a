//! The throughput plot, as hand-written SVG: two log-log panels (msg/s and
//! MB/s against message size), a line per implementation.

use std::fmt::Write;

use crate::plan::Impl;
use crate::report::bytes;

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

/// One panel at horizontal offset `x0`: `value` maps (size, msg/s) to what
/// the panel shows.
fn panel(
    out: &mut String,
    x0: f64,
    series: &[(Impl, Vec<(usize, f64)>)],
    title: &str,
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
            bytes(s)
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">message size</text>"##,
        x0 + PANEL_W / 2.0,
        MARGIN_T + PANEL_H + 34.0
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
pub(crate) fn throughput_plot(series: &[(Impl, Vec<(usize, f64)>)], caption: &str) -> String {
    let width = MARGIN_L + PANEL_W * 2.0 + GAP + 30.0;
    let height = MARGIN_T + PANEL_H + 75.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    panel(&mut out, MARGIN_L, series, "messages per second", |_, v| v);
    panel(
        &mut out,
        MARGIN_L + PANEL_W + GAP,
        series,
        "MB per second",
        |size, v| v * size as f64 / 1e6,
    );
    // The legend, under the panels.
    let mut lx = MARGIN_L;
    let ly = MARGIN_T + PANEL_H + 58.0;
    for (imp, _) in series {
        let _ = writeln!(
            out,
            r#"<rect x="{lx}" y="{:.1}" width="14" height="4" fill="{}"/><text x="{:.1}" y="{ly:.1}">{}</text>"#,
            ly - 6.0,
            color(*imp),
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
}
