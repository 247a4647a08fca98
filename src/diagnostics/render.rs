//! Drawing diagnostics: human, JSON, GitHub annotations.
//!
//! The human form is written here rather than by codespan-reporting or
//! annotate-snippets: cli.md fixes its first line as `file:line:col:
//! error[CODE]: message`, which neither crate prints before a source snippet.
//! Source lines are printed with token-shaped text masked.

use super::{Diagnostic, Severity};
use termcolor::{Color, ColorSpec, WriteColor};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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
    for d in diagnostics {
        let (line, col, end_line, end_col) = d.position();
        let (word, colour) = match d.severity() {
            Severity::Error => ("error", Color::Red),
            Severity::Warning => ("warning", Color::Yellow),
        };
        write!(out, "{}:{line}:{col}: ", d.file.path)?;
        out.set_color(ColorSpec::new().set_fg(Some(colour)).set_bold(true))?;
        write!(out, "{word}[{}]", d.code.as_str())?;
        out.reset()?;
        out.set_color(ColorSpec::new().set_bold(true))?;
        writeln!(out, ": {}", d.message)?;
        out.reset()?;
        let source_line = d.file.text.lines().nth(line - 1).unwrap_or("");
        let gutter = line.to_string().len();
        let blue = ColorSpec::new().set_fg(Some(Color::Blue)).set_bold(true).clone();
        out.set_color(&blue)?;
        writeln!(out, "{:gutter$} |", "")?;
        write!(out, "{line} | ")?;
        out.reset()?;
        writeln!(out, "{}", crate::secrets::mask_tokens(&source_line.replace('\t', " ")))?;
        let width = if end_line == line {
            end_col.saturating_sub(col)
        } else {
            (source_line.chars().count() + 1).saturating_sub(col)
        };
        out.set_color(&blue)?;
        write!(out, "{:gutter$} | ", "")?;
        out.set_color(ColorSpec::new().set_fg(Some(colour)).set_bold(true))?;
        writeln!(out, "{}{}", " ".repeat(col - 1), "^".repeat(width.max(1)))?;
        out.reset()?;
        if let Some(help) = &d.help {
            out.set_color(&blue)?;
            write!(out, "{:gutter$} = ", "")?;
            out.reset()?;
            writeln!(out, "help: {help}")?;
        }
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
