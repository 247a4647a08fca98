//! Checks over the record graph: hand-over cycles and reachability.

use crate::diagnostics::{Code, Diagnostic, SourceFile};
use crate::model::{Action, Record};
use crate::syntax::RawKeyword;
use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;
use petgraph::visit::Dfs;
use std::sync::Arc;

pub fn check(file: &Arc<SourceFile>, diagnostics: &mut Vec<Diagnostic>, records: &[Record], raw: &[&RawKeyword]) {
    // Hand-overs that happen without waiting for the user: `alias` and `then`.
    // A cycle of them that passes through no choice and no input loops forever.
    let mut handover = DiGraph::<usize, ()>::with_capacity(records.len(), records.len());
    let nodes: Vec<_> = (0..records.len()).map(|i| handover.add_node(i)).collect();
    let waits = |r: &Record| matches!(r.action, Action::Choice { .. } | Action::Input { .. });
    for (i, r) in records.iter().enumerate() {
        if waits(r) {
            continue;
        }
        let targets = [if let Action::Alias(t) = r.action { Some(t) } else { None }, r.then];
        for t in targets.into_iter().flatten() {
            if !waits(&records[t]) {
                handover.add_edge(nodes[i], nodes[t], ());
            }
        }
    }
    for component in tarjan_scc(&handover) {
        let looped = component.len() > 1 || handover.contains_edge(component[0], component[0]);
        if !looped {
            continue;
        }
        let mut members: Vec<usize> = component.iter().map(|n| handover[*n]).collect();
        members.sort();
        let names: Vec<&str> = members.iter().map(|&m| records[m].id.as_str()).collect();
        let first = members[0];
        let span = raw[first]
            .alias
            .as_ref()
            .or(raw[first].then.as_ref())
            .map(|a| a.span.clone())
            .unwrap_or(raw[first].span.clone());
        diagnostics.push(
            Diagnostic::new(
                file,
                span,
                Code::AliasCycle,
                format!("these records hand over to each other forever: {}", names.join(" → ")),
            )
            .with_help("let the cycle pass through a `choice` or an `input`, which waits for the user"),
        );
    }

    // Reachability from the entry points: top-level records with words.
    let mut flow = DiGraph::<usize, ()>::with_capacity(records.len() + 1, records.len() * 2);
    let entry = flow.add_node(usize::MAX);
    let nodes: Vec<_> = (0..records.len()).map(|i| flow.add_node(i)).collect();
    for (i, r) in records.iter().enumerate() {
        // Action buttons of notifications reach `action = true` records.
        if (r.parent.is_none() && !r.words.is_empty()) || r.action_target {
            flow.add_edge(entry, nodes[i], ());
        }
        for &o in &r.options {
            flow.add_edge(nodes[i], nodes[o], ());
        }
        if let Action::Alias(t) = r.action {
            flow.add_edge(nodes[i], nodes[t], ());
        }
        if let Some(t) = r.then {
            flow.add_edge(nodes[i], nodes[t], ());
        }
    }
    let mut reached = vec![false; records.len()];
    let mut dfs = Dfs::new(&flow, entry);
    while let Some(n) = dfs.next(&flow) {
        if n != entry {
            reached[flow[n]] = true;
        }
    }
    for (i, r) in records.iter().enumerate() {
        // Report only the top of an unreachable subtree: its options follow from it.
        let parent_unreached = r.parent.is_some_and(|p| !reached[p]);
        if !reached[i] && !parent_unreached {
            diagnostics.push(
                Diagnostic::new(
                    file,
                    raw[i].span.clone(),
                    Code::Unreachable,
                    format!("record `{}` is reachable from nowhere", r.id),
                )
                .with_help("give it `match` words, or point an `alias` or `then` at it"),
            );
        }
    }
}
