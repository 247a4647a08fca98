//! The compiled bot as a state graph (petgraph): nodes for the entry, every
//! record, every notification and the authorization steps; edges labelled with
//! the words or buttons that take them (a notification's action buttons lead to
//! their records). Exported as Mermaid or DOT.

use crate::expr::Template;
use crate::expr::ast::Segment;
use crate::model::{Action, CompiledBot, NotificationButton};
use petgraph::graph::{DiGraph, NodeIndex};
use std::fmt::Write;

#[derive(Debug, Clone)]
pub struct Node {
    pub key: String,
    pub label: String,
    pub shape: Shape,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    Entry,
    Choice,
    Step,
    Auth,
    /// A notification the business system sends (`[notifications.<name>]`).
    Notification,
}

pub type StateGraph = DiGraph<Node, String>;

/// Builds the state graph of a compiled bot.
pub fn build(bot: &CompiledBot) -> StateGraph {
    let mut g = StateGraph::new();
    let entry = g.add_node(Node {
        key: "start".into(),
        label: format!("{} (start)", bot.name),
        shape: Shape::Entry,
    });
    let nodes: Vec<NodeIndex> = bot
        .records
        .iter()
        .map(|r| {
            let what = match &r.action {
                Action::Reply(_) => "reply".to_string(),
                Action::Run(a) => format!("run {a}"),
                Action::Choice {
                    options_from: Some(a), ..
                } => format!("choice from {a}"),
                Action::Choice { confirm: true, .. } => "choice, confirmed".to_string(),
                Action::Choice { .. } => "choice".to_string(),
                Action::Alias(_) => "alias".to_string(),
                Action::Input { save_as: Some(v), .. } => format!("input → vars.{v}"),
                Action::Input { .. } => "input".to_string(),
            };
            let name = if r.words.is_empty() {
                r.id.clone()
            } else {
                r.words.join(", ")
            };
            let shape = if r.is_choice() { Shape::Choice } else { Shape::Step };
            g.add_node(Node {
                key: node_key(&r.id),
                label: format!("{name}: {what}"),
                shape,
            })
        })
        .collect();
    for (i, r) in bot.records.iter().enumerate() {
        if r.parent.is_none() && !r.words.is_empty() {
            g.add_edge(entry, nodes[i], r.words.join(", "));
        }
        for &o in &r.options {
            let option = &bot.records[o];
            let label = if option.is_star {
                "*".to_string()
            } else {
                format!("[{}]", option.label())
            };
            g.add_edge(nodes[i], nodes[o], label);
        }
        if let Action::Alias(t) = r.action {
            g.add_edge(nodes[i], nodes[t], "alias".into());
        }
        if let Some(t) = r.then {
            g.add_edge(nodes[i], nodes[t], "then".into());
        }
    }
    // Notifications come from the business system, not from a word: their action buttons are
    // how a user reaches the records marked `action = true`.
    for (name, n) in &bot.notifications {
        let node = g.add_node(Node {
            key: format!("n_{}", &node_key(name)[2..]),
            label: format!("notification {name}"),
            shape: Shape::Notification,
        });
        for b in n.buttons.iter().flatten() {
            if let NotificationButton::Action { text, action, .. } = b
                && let Some(r) = bot.record_by_id(action)
            {
                g.add_edge(node, nodes[r], format!("[{}]", written(text)));
            }
        }
    }
    if let Some(auth) = &bot.auth {
        let add = |g: &mut StateGraph, key: &str, label: String| {
            g.add_node(Node {
                key: key.into(),
                label,
                shape: Shape::Auth,
            })
        };
        let request = add(&mut g, "auth_request", "auth request".into());
        g.add_edge(
            entry,
            request,
            if auth.required {
                "unregistered user"
            } else {
                "registration"
            }
            .into(),
        );
        let data = add(&mut g, "auth_data", "enter data".into());
        g.add_edge(request, data, "[auth_button]".into());
        let mut last = data;
        if auth.confirm {
            let confirm = add(&mut g, "auth_confirm", "confirm data".into());
            g.add_edge(data, confirm, "data".into());
            g.add_edge(confirm, data, "[no]".into());
            last = confirm;
        }
        let registered = add(&mut g, "auth_registered", "registered".into());
        let mut from = last;
        let mut edge = if auth.confirm { "[yes]" } else { "data" }.to_string();
        for (key, step) in [("auth_algorithm", &auth.algorithm), ("auth_scenario", &auth.scenario)] {
            if let Some(a) = step {
                let n = add(
                    &mut g,
                    key,
                    format!(
                        "{} {a}",
                        if key == "auth_algorithm" {
                            "algorithm"
                        } else {
                            "scenario"
                        }
                    ),
                );
                g.add_edge(from, n, edge);
                if key == "auth_algorithm" {
                    g.add_edge(n, registered, "principal".into());
                } else {
                    let pending = add(&mut g, "auth_scenario_pending", "pending (process elsewhere)".into());
                    g.add_edge(n, pending, "started".into());
                    g.add_edge(pending, registered, "API approve".into());
                }
                from = n;
                edge = "failed".into();
            }
        }
        if !auth.responsible.is_empty() {
            let n = add(&mut g, "auth_responsible", format!("operators {:?}", auth.responsible));
            g.add_edge(from, n, edge);
            g.add_edge(n, registered, "[approve]".into());
            let rejected = add(&mut g, "auth_rejected", "rejected by an operator".into());
            g.add_edge(n, rejected, "[reject]".into());
        } else {
            let failed = add(&mut g, "auth_failed", "auth failed".into());
            g.add_edge(from, failed, edge);
        }
    }
    g
}

/// A template as a label: its text, and `{{…}}` where it computes something.
fn written(t: &Template) -> String {
    t.segments
        .iter()
        .map(|s| match s {
            Segment::Text(text) => text.as_str(),
            Segment::Expr(_) => "{{…}}",
        })
        .collect()
}

fn node_key(id: &str) -> String {
    let mut key = String::from("r_");
    for c in id.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            key.push(c);
        } else {
            key.push_str(&format!("x{:x}", c as u32));
        }
    }
    key
}

fn quote_mermaid(s: &str) -> String {
    s.replace('"', "#quot;")
}

pub fn mermaid(g: &StateGraph) -> String {
    let mut out = String::from("flowchart TD\n");
    for n in g.node_indices() {
        let node = &g[n];
        let label = quote_mermaid(&node.label);
        let _ = match node.shape {
            Shape::Entry => writeln!(out, "    {}([\"{label}\"])", node.key),
            Shape::Choice => writeln!(out, "    {}{{\"{label}\"}}", node.key),
            Shape::Step => writeln!(out, "    {}[\"{label}\"]", node.key),
            Shape::Auth => writeln!(out, "    {}[/\"{label}\"/]", node.key),
            Shape::Notification => writeln!(out, "    {}>\"{label}\"]", node.key),
        };
    }
    for e in g.edge_indices() {
        let (a, b) = g.edge_endpoints(e).expect("edge of this graph");
        let label = quote_mermaid(&g[e]);
        let _ = writeln!(out, "    {} -->|\"{label}\"| {}", g[a].key, g[b].key);
    }
    out
}

fn quote_dot(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

pub fn dot(g: &StateGraph) -> String {
    let mut out = String::from("digraph bot {\n    rankdir=TB;\n");
    for n in g.node_indices() {
        let node = &g[n];
        let shape = match node.shape {
            Shape::Entry => "oval",
            Shape::Choice => "diamond",
            Shape::Step => "box",
            Shape::Auth => "parallelogram",
            Shape::Notification => "note",
        };
        let _ = writeln!(
            out,
            "    {} [label=\"{}\", shape={shape}];",
            node.key,
            quote_dot(&node.label)
        );
    }
    for e in g.edge_indices() {
        let (a, b) = g.edge_endpoints(e).expect("edge of this graph");
        let _ = writeln!(
            out,
            "    {} -> {} [label=\"{}\"];",
            g[a].key,
            g[b].key,
            quote_dot(&g[e])
        );
    }
    out.push_str("}\n");
    out
}
