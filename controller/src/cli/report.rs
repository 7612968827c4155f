//! `rollgate report --input timeline.json --output report.html`: the self-contained HTML
//! report with SVG plots of a rollout's history (see `rollgate_report::timeline` for the input).

use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `rollgate report`.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// The run's timeline (JSON, `rollgate_report::Timeline`).
    #[arg(long, value_name = "TIMELINE_JSON")]
    pub input: PathBuf,
    /// Where to write the HTML report (parent directories are created).
    #[arg(long, value_name = "REPORT_HTML")]
    pub output: PathBuf,
}

/// Runs the subcommand: exit 0 and the report's path on stdout; 2 when the timeline is invalid.
pub fn execute(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.input)
        .with_context(|| format!("cannot read the timeline {}", args.input.display()))?;
    let html = match rollgate_report::Timeline::from_json(&text)
        .and_then(|timeline| rollgate_report::render_html(&timeline))
    {
        Ok(html) => html,
        Err(err @ rollgate_report::ReportError::Draw { .. }) => return Err(err.into()),
        Err(err) => {
            eprintln!("rollgate: error: {}: {err}", args.input.display());
            return Ok(ExitCode::from(2));
        }
    };
    if let Some(parent) = args.output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the directory {}", parent.display()))?;
    }
    std::fs::write(&args.output, html)
        .with_context(|| format!("cannot write the report {}", args.output.display()))?;
    println!("{}", args.output.display());
    Ok(ExitCode::SUCCESS)
}
