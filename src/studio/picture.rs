//! The state graph (`graph::build`) drawn as an SVG picture, laid out in
//! layers by distance from the entry, with no JavaScript and nothing fetched:
//! the studio shows it as it is.

use crate::graph::{Shape, StateGraph};
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use std::fmt::Write;

const NODE_W: f64 = 190.0;
const NODE_H: f64 = 44.0;
const GAP_X: f64 = 40.0;
const GAP_Y: f64 = 90.0;
const MARGIN: f64 = 20.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `s` cut to `max` characters, with `…` when cut.
fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

/// The graph as an SVG document.
pub fn svg(g: &StateGraph) -> String {
    // Layers: the shortest distance from the entry (node 0) or a notification (where the
    // business system comes in); nodes reached from neither go last.
    let n = g.node_count();
    let mut layer = vec![usize::MAX; n];
    let mut queue: std::collections::VecDeque<NodeIndex> = g
        .node_indices()
        .filter(|&i| i.index() == 0 || g[i].shape == Shape::Notification)
        .collect();
    for &root in &queue {
        layer[root.index()] = 0;
    }
    while let Some(node) = queue.pop_front() {
        for e in g.edges(node) {
            let t = e.target();
            if layer[t.index()] == usize::MAX {
                layer[t.index()] = layer[node.index()] + 1;
                queue.push_back(t);
            }
        }
    }
    let deepest = layer.iter().copied().filter(|&l| l != usize::MAX).max().unwrap_or(0);
    for l in layer.iter_mut().filter(|l| **l == usize::MAX) {
        *l = deepest + 1;
    }
    let layers = layer.iter().copied().max().map_or(0, |m| m + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (i, &l) in layer.iter().enumerate() {
        rows[l].push(i);
    }
    let widest = rows.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let width = MARGIN * 2.0 + widest as f64 * (NODE_W + GAP_X) - GAP_X;
    let height = MARGIN * 2.0 + layers as f64 * (NODE_H + GAP_Y) - GAP_Y;
    let mut pos = vec![(0.0, 0.0); n];
    for (l, row) in rows.iter().enumerate() {
        let row_w = row.len() as f64 * (NODE_W + GAP_X) - GAP_X;
        let x0 = (width - row_w) / 2.0;
        for (k, &i) in row.iter().enumerate() {
            pos[i] = (x0 + k as f64 * (NODE_W + GAP_X), MARGIN + l as f64 * (NODE_H + GAP_Y));
        }
    }
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"12\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
         <path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#667\"/></marker></defs>"
    );
    for e in g.edge_references() {
        let (a, b) = (pos[e.source().index()], pos[e.target().index()]);
        let (x1, y1) = (a.0 + NODE_W / 2.0, a.1 + NODE_H);
        let (x2, y2) = (b.0 + NODE_W / 2.0, b.1);
        let (x2, y2) = if e.source() == e.target() {
            (x1 + 30.0, y1 + 20.0)
        } else {
            (x2, y2)
        };
        let _ = write!(
            out,
            "<path d=\"M {x1:.1} {y1:.1} C {x1:.1} {:.1}, {x2:.1} {:.1}, {x2:.1} {y2:.1}\" fill=\"none\" stroke=\"#889\" marker-end=\"url(#arrow)\"/>",
            y1 + GAP_Y / 2.0,
            y2 - GAP_Y / 2.0
        );
        if !e.weight().is_empty() {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#446\" text-anchor=\"middle\" font-size=\"11\"><title>{}</title>{}</text>",
                (x1 + x2) / 2.0,
                (y1 + y2) / 2.0,
                escape(e.weight()),
                escape(&short(e.weight(), 28))
            );
        }
    }
    for i in g.node_indices() {
        let node = &g[i];
        let (x, y) = pos[i.index()];
        let (fill, stroke, rx) = match node.shape {
            Shape::Entry => ("#e6f4ea", "#2e7d32", 22.0),
            Shape::Choice => ("#fff4e0", "#ef6c00", 12.0),
            Shape::Step => ("#eef2ff", "#3949ab", 4.0),
            Shape::Auth => ("#fdecef", "#c2185b", 4.0),
            Shape::Notification => ("#f3e8fd", "#7b1fa2", 14.0),
        };
        let _ = write!(
            out,
            "<g class=\"node\"><title>{}</title><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"{rx}\" fill=\"{fill}\" stroke=\"{stroke}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" dominant-baseline=\"middle\">{}</text></g>",
            escape(&node.label),
            x + NODE_W / 2.0,
            y + NODE_H / 2.0,
            escape(&short(&node.label, 30))
        );
    }
    out.push_str("</svg>");
    out
}
