//! `rollgate sample-size`: per-group sample size for a conversion-rate A/B test, for people
//! (statsmodels `TTestIndPower.solve_power` with effect size mde / sqrt(b (1 - b)), seed 004).

use std::process::ExitCode;

use rollgate_stats::power::sample_size_for_proportions;

/// Arguments of `rollgate sample-size`.
#[derive(clap::Args)]
pub struct SampleSizeArgs {
    /// Current conversion rate of the control, in (0, 1), e.g. 0.12.
    #[arg(long)]
    pub baseline: f64,
    /// Minimum detectable effect, absolute change in rate, e.g. 0.01 (12 % → 13 %).
    #[arg(long)]
    pub mde: f64,
    /// Significance level (two-sided).
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Wanted power (probability of detecting an effect of size mde).
    #[arg(long, default_value_t = 0.8)]
    pub power: f64,
    /// Treatment size over control size (1 = equal groups).
    #[arg(long, default_value_t = 1.0)]
    pub ratio: f64,
}

/// Runs the subcommand; invalid arguments exit with code 2.
pub fn execute(args: SampleSizeArgs) -> anyhow::Result<ExitCode> {
    let plan = match sample_size_for_proportions(
        args.baseline,
        args.mde,
        args.alpha,
        args.power,
        args.ratio,
    ) {
        Ok(plan) => plan,
        Err(err) => {
            eprintln!("rollgate: sample-size: {err}");
            return Ok(ExitCode::from(2));
        }
    };
    println!(
        "Baseline {:.4} → {:.4} (MDE {:+.4} absolute, {:+.2} % relative), alpha {}, power {}, ratio {}",
        args.baseline,
        args.baseline + args.mde,
        args.mde,
        100.0 * args.mde / args.baseline,
        args.alpha,
        args.power,
        args.ratio
    );
    println!("Effect size (Cohen's d): {:.6}", plan.effect_size);
    println!("Required n per group: {} (control)", plan.n_per_group);
    if (args.ratio - 1.0).abs() > f64::EPSILON {
        println!("Treatment group: {}", plan.n_treatment);
    }
    println!(
        "Total: {} units (two-sided t-test, exact solution {:.3})",
        plan.n_total, plan.n_control_exact
    );
    Ok(ExitCode::SUCCESS)
}
