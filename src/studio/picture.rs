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

/// A box on the picture: left, top, right, bottom.
#[derive(Debug, Clone, Copy)]
struct Area(f64, f64, f64, f64);

impl Area {
    fn overlaps(&self, o: &Area) -> bool {
        self.0 < o.2 && o.0 < self.2 && self.1 < o.3 && o.1 < self.3
    }
}

/// The point at `t` of the cubic Bézier curve `p`.
fn bezier(p: [(f64, f64); 4], t: f64) -> (f64, f64) {
    let u = 1.0 - t;
    let (a, b, c, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
    (
        a * p[0].0 + b * p[1].0 + c * p[2].0 + d * p[3].0,
        a * p[0].1 + b * p[1].1 + c * p[2].1 + d * p[3].1,
    )
}

/// The width an edge label takes at 11 px.
fn label_width(text: &str) -> f64 {
    text.chars().count() as f64 * 6.6 + 8.0
}

/// The graph as an SVG document.
///
/// Nodes are laid out in layers by their distance from the entry or from a notification
/// (where the business system comes in, so that action records stand under the
/// notifications whose buttons reach them), and ordered in each layer by where their
/// parents stand (barycentres), which keeps edges short and few of them crossing. An edge
/// back up (an alias or `then` to an earlier layer) is drawn round the side. Each edge's
/// label goes at the first place along its curve where it covers no node and no other
/// label, on a white ground.
pub fn svg(g: &StateGraph) -> String {
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
    // Order each layer by the mean position of its parents in the layer above (two sweeps
    // down); a node with none keeps its place.
    for _ in 0..2 {
        for l in 1..layers {
            let above: std::collections::HashMap<usize, usize> =
                rows[l - 1].iter().enumerate().map(|(k, &i)| (i, k)).collect();
            let mut keyed: Vec<(f64, usize, usize)> = rows[l]
                .iter()
                .enumerate()
                .map(|(k, &i)| {
                    let parents: Vec<f64> = g
                        .edges_directed(NodeIndex::new(i), petgraph::Direction::Incoming)
                        .filter_map(|e| above.get(&e.source().index()).map(|&p| p as f64))
                        .collect();
                    let centre = if parents.is_empty() {
                        k as f64
                    } else {
                        parents.iter().sum::<f64>() / parents.len() as f64
                    };
                    (centre, k, i)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            rows[l] = keyed.into_iter().map(|(_, _, i)| i).collect();
        }
    }
    let widest = rows.iter().map(Vec::len).max().unwrap_or(1).max(1);
    // Room on the right for edges drawn round the side.
    let width = MARGIN * 2.0 + widest as f64 * (NODE_W + GAP_X) - GAP_X + 60.0;
    let height = MARGIN * 2.0 + layers as f64 * (NODE_H + GAP_Y) - GAP_Y;
    let mut pos = vec![(0.0, 0.0); n];
    for (l, row) in rows.iter().enumerate() {
        let row_w = row.len() as f64 * (NODE_W + GAP_X) - GAP_X;
        let x0 = (width - 60.0 - row_w) / 2.0;
        for (k, &i) in row.iter().enumerate() {
            pos[i] = (x0 + k as f64 * (NODE_W + GAP_X), MARGIN + l as f64 * (NODE_H + GAP_Y));
        }
    }
    let mut taken: Vec<Area> = pos
        .iter()
        .map(|&(x, y)| Area(x - 2.0, y - 2.0, x + NODE_W + 2.0, y + NODE_H + 2.0))
        .collect();
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"12\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
         <path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#667\"/></marker></defs>"
    );
    let mut labels = String::new();
    // Edges between the same two nodes spread apart.
    let mut pairs: std::collections::HashMap<(usize, usize), usize> = std::collections::HashMap::new();
    for e in g.edge_references() {
        let (s, t) = (e.source().index(), e.target().index());
        let nth = pairs.entry((s.min(t), s.max(t))).or_insert(0);
        let spread = *nth as f64 * 18.0;
        *nth += 1;
        let (a, b) = (pos[s], pos[t]);
        let curve = if layer[t] > layer[s] {
            // Down: bottom centre to top centre.
            let (x1, y1) = (a.0 + NODE_W / 2.0 + spread, a.1 + NODE_H);
            let (x2, y2) = (b.0 + NODE_W / 2.0 + spread, b.1);
            [(x1, y1), (x1, y1 + GAP_Y / 2.0), (x2, y2 - GAP_Y / 2.0), (x2, y2)]
        } else {
            // Back up, across or to itself: right side to right side, bulging right.
            let (x1, y1) = (a.0 + NODE_W, a.1 + NODE_H / 2.0 + spread / 2.0);
            let (x2, y2) = (b.0 + NODE_W, b.1 + NODE_H / 2.0 - spread / 2.0);
            let bulge = x1.max(x2) + 45.0 + spread;
            let y2 = if s == t { y2 + 8.0 } else { y2 };
            [(x1, y1), (bulge, y1), (bulge, y2), (x2, y2)]
        };
        let [p0, p1, p2, p3] = curve;
        let _ = write!(
            out,
            "<path d=\"M {:.1} {:.1} C {:.1} {:.1}, {:.1} {:.1}, {:.1} {:.1}\" fill=\"none\" stroke=\"#889\" marker-end=\"url(#arrow)\"/>",
            p0.0, p0.1, p1.0, p1.1, p2.0, p2.1, p3.0, p3.1
        );
        if e.weight().is_empty() {
            continue;
        }
        let text = short(e.weight(), 28);
        let w = label_width(&text);
        let h = 14.0;
        let spots = [0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78, 0.15, 0.85];
        let place = |t: f64, lift: f64| {
            let (x, y) = bezier(curve, t);
            Area(x - w / 2.0, y - h / 2.0 + lift, x + w / 2.0, y + h / 2.0 + lift)
        };
        let found = spots
            .iter()
            .flat_map(|&t| [0.0, -h, h].into_iter().map(move |lift| (t, lift)))
            .map(|(t, lift)| place(t, lift))
            .find(|area| !taken.iter().any(|o| o.overlaps(area)));
        // Nowhere free: below every label placed so far near the middle.
        let area = found.unwrap_or_else(|| {
            let mut area = place(0.5, 0.0);
            while taken.iter().any(|o| o.overlaps(&area)) {
                area = Area(area.0, area.1 + h, area.2, area.3 + h);
            }
            area
        });
        taken.push(area);
        let _ = write!(
            labels,
            "<g class=\"label\"><title>{}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{h}\" rx=\"3\" fill=\"#fff\" fill-opacity=\"0.9\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#446\" text-anchor=\"middle\" dominant-baseline=\"middle\" font-size=\"11\">{}</text></g>",
            escape(e.weight()),
            area.0,
            area.1,
            (area.0 + area.2) / 2.0,
            (area.1 + area.3) / 2.0,
            escape(&text)
        );
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
    // Labels last: above every edge and node.
    out.push_str(&labels);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The label boxes of a picture: (x, y, width, height).
    fn label_boxes(svg: &str) -> Vec<(f64, f64, f64, f64)> {
        svg.split("<g class=\"label\">")
            .skip(1)
            .map(|g| {
                let attr = |name: &str| -> f64 {
                    let at = g.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                    g[at..].split('"').next().unwrap().parse().unwrap()
                };
                (attr("x"), attr("y"), attr("width"), attr("height"))
            })
            .collect()
    }

    #[test]
    fn no_two_labels_overlap_in_the_shipped_bots() {
        for name in ["demo", "signal", "support"] {
            let path = std::path::Path::new("bots").join(format!("{name}.toml"));
            let text = std::fs::read_to_string(&path).unwrap();
            let file = crate::diagnostics::SourceFile::new(path.display().to_string(), text);
            let mut found = Vec::new();
            let bot = crate::validate::compile_with(name, &file, &crate::validate::Neighbours::default(), &mut found)
                .unwrap();
            let picture = svg(&crate::graph::build(&bot));
            let boxes = label_boxes(&picture);
            assert!(boxes.len() > 5, "{name}: {} labels", boxes.len());
            for (i, a) in boxes.iter().enumerate() {
                for b in &boxes[i + 1..] {
                    let apart = a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0 || a.1 + a.3 <= b.1 || b.1 + b.3 <= a.1;
                    assert!(apart, "{name}: labels at {a:?} and {b:?} overlap");
                }
            }
        }
    }
}
