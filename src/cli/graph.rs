use std::path::PathBuf;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    pub bot_file: PathBuf,
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: GraphFormat,
}

pub fn run(args: Args) -> u8 {
    let Some(bot) = super::load_bot(&args.bot_file) else {
        return super::PROBLEMS;
    };
    let g = crate::graph::build(&bot);
    match args.format {
        GraphFormat::Mermaid => print!("{}", crate::graph::mermaid(&g)),
        GraphFormat::Dot => print!("{}", crate::graph::dot(&g)),
    }
    super::OK
}
