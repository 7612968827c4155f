//! `rollgate analyze --json`: one JSON request on stdin, one JSON result on stdout
//! (DESIGN.md "`rollgate analyze` contract"); the statistics live in `rollgate_stats::analyze`.
//! Bad input prints `{"error": "...", "field": "..."}` on stdout and exits with code 2.

use std::io::{Read, Write};
use std::process::ExitCode;

use rollgate_stats::analyze::{analyze, error_json};
use rollgate_stats::StatsError;

/// Exit code for invalid input.
const EXIT_INVALID_INPUT: u8 = 2;

/// Arguments of `rollgate analyze`.
#[derive(clap::Args)]
pub struct AnalyzeArgs {
    /// Read one JSON object on stdin and print one JSON object on stdout (the only mode).
    #[arg(long)]
    pub json: bool,
}

/// Runs the subcommand.
pub fn execute(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    if !args.json {
        anyhow::bail!(
            "`rollgate analyze` needs --json: pipe one JSON object such as \
             {{\"test\":\"two_proportion_z\",...}} on stdin"
        );
    }
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let (output, code) = match serde_json::from_str::<serde_json::Value>(&input) {
        Err(err) => (
            error_json(&StatsError::invalid(
                "(input)",
                format!("is not valid JSON: {err}"),
            )),
            ExitCode::from(EXIT_INVALID_INPUT),
        ),
        Ok(request) => match analyze(&request) {
            Ok(result) => (result, ExitCode::SUCCESS),
            Err(err) => (error_json(&err), ExitCode::from(EXIT_INVALID_INPUT)),
        },
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{output}")?;
    stdout.flush()?;
    Ok(code)
}
