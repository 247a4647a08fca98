//! Drawing diagnostics: human, JSON, GitHub annotations.
//!
//! The human form starts with the header cli.md fixes, `file:line:col:
//! error[CODE]: message` (neither codespan-reporting nor annotate-snippets
//! prints that form), then annotate-snippets draws the source lines, the
//! caret and the help under it. Source lines are printed with token-shaped
//! text masked.

use super::{Diagnostic, Severity};
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use termcolor::{Color, ColorSpec, WriteColor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "runtime", derive(clap::ValueEnum))]
pub enum Format {
    Human,
    Json,
    Github,
}

/// Writes every diagnostic in `format`. Human output is coloured only when `out` supports it.
pub fn render(diagnostics: &[Diagnostic], format: Format, out: &mut dyn WriteColor) -> std::io::Result<()> {
    match format {
        Format::Human => human(diagnostics, out),
        Format::Json => {
            let items: Vec<serde_json::Value> = diagnostics.iter().map(json_item).collect();
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&items).expect("JSON of plain values")
            )
        }
        Format::Github => {
            for d in diagnostics {
                let (line, col, end_line, end_col) = d.position();
                let kind = match d.severity() {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                };
                let mut message = format!("{}: {}", d.code.as_str(), d.message);
                if let Some(help) = &d.help {
                    message.push_str(&format!(" (help: {help})"));
                }
                writeln!(
                    out,
                    "::{kind} file={},line={line},col={col},endLine={end_line},endColumn={end_col},title={}::{}",
                    escape_property(&d.file.path),
                    d.code.as_str(),
                    escape_data(&message)
                )?;
            }
            Ok(())
        }
    }
}

fn human(diagnostics: &[Diagnostic], out: &mut dyn WriteColor) -> std::io::Result<()> {
    let snippets = if out.supports_color() {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    for d in diagnostics {
        let (line, col, _, _) = d.position();
        let (word, colour) = match d.severity() {
            Severity::Error => ("error", Color::Red),
            Severity::Warning => ("warning", Color::Yellow),
        };
        // cli.md's header: `file:line:col: error[CODE]: message`.
        write!(out, "{}:{line}:{col}: ", d.file.path)?;
        out.set_color(ColorSpec::new().set_fg(Some(colour)).set_bold(true))?;
        write!(out, "{word}[{}]", d.code.as_str())?;
        out.reset()?;
        out.set_color(ColorSpec::new().set_bold(true))?;
        writeln!(out, ": {}", d.message)?;
        out.reset()?;
        // The source lines, the caret and the help: annotate-snippets, with no title of its
        // own, given only the lines the span touches. Token-shaped text is masked byte for byte,
        // so the span still points at the same place.
        let (first_line, lines) = d.file.lines_of(&d.span);
        let text = crate::secrets::mask_tokens(&d.file.text[lines.clone()]);
        let start = text.floor_char_boundary(d.span.start.saturating_sub(lines.start));
        let end = text
            .floor_char_boundary(d.span.end.saturating_sub(lines.start))
            .max(start);
        let level = match d.severity() {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let mut group = Group::with_level(level).element(
            Snippet::source(text.as_str())
                .line_start(first_line)
                .annotation(AnnotationKind::Primary.span(start..end)),
        );
        if let Some(help) = &d.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        writeln!(out, "{}", snippets.render(&[group]))?;
        writeln!(out)?;
    }
    Ok(())
}

fn json_item(d: &Diagnostic) -> serde_json::Value {
    let (line, column, end_line, end_column) = d.position();
    serde_json::json!({
        "file": d.file.path,
        "line": line,
        "column": column,
        "end_line": end_line,
        "end_column": end_column,
        "severity": d.severity(),
        "code": d.code.as_str(),
        "message": d.message,
        "help": d.help,
    })
}

/// The closing line of `check`: counts of files, errors and warnings.
pub fn summary(files: usize, diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "checked {}: {}, {}",
        plural(files, "bot file"),
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}
