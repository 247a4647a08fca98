use crate::Language;
use crate::texts::{COMMON_VARS, TEXTS};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show the defaults of one language only.
    #[arg(long, value_enum)]
    pub language: Option<Language>,
}

pub fn run(args: Args) -> u8 {
    print!("{}", listing(args.language));
    super::OK
}

/// The listing `botwright texts` prints.
pub fn listing(language: Option<Language>) -> String {
    let mut out = format!(
        "{} text keys. Every text may use: {}.\n\n",
        TEXTS.len(),
        COMMON_VARS.join(", ")
    );
    for t in TEXTS {
        out.push_str(&format!("{}: {}\n", t.key, t.about));
        if language.is_none_or(|l| l == Language::Ru) {
            out.push_str(&format!("  ru: {}\n", t.ru));
        }
        if language.is_none_or(|l| l == Language::En) {
            out.push_str(&format!("  en: {}\n", t.en));
        }
        if !t.extra_vars.is_empty() {
            out.push_str(&format!("  also: {}\n", t.extra_vars.join(", ")));
        }
        out.push('\n');
    }
    out
}
