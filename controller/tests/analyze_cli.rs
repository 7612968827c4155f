//! Process-level tests of `rollgate analyze --json`, `rollgate sample-size` and
//! `rollgate bandit`: the contract other tools depend on (JSON in, JSON out, exit code 2 with
//! `{"error": ...}` naming the field on bad input). Expected numbers come from scipy 1.17.1 /
//! statsmodels 0.15.0 (calls in comments).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

fn analyze(input: &str) -> (i32, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["analyze", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rollgate");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "exactly one JSON line: {text:?}");
    assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
    (
        out.status.code().unwrap(),
        serde_json::from_str(&text).unwrap(),
    )
}

fn close(v: &Value, expected: f64, rel: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    assert!(
        (got - expected).abs() <= rel * expected.abs().max(1e-300),
        "{got} vs {expected}"
    );
}

#[test]
fn two_proportion_z() {
    // proportions_ztest([130, 100], [1000, 1000]) -> (2.102740605622114, 0.03548845046647471)
    // confint_proportions_2indep(130, 1000, 100, 1000, method="wald", compare="diff")
    //   -> (0.0020679344393763656, 0.057932065560623636)
    let (code, out) = analyze(
        r#"{"test":"two_proportion_z","control":{"successes":100,"total":1000},
            "treatment":{"successes":130,"total":1000}}"#,
    );
    assert_eq!(code, 0, "{out}");
    close(&out["statistic"], 2.102740605622114, 1e-9);
    close(&out["p_value"], 0.03548845046647471, 1e-9);
    close(&out["ci"][0], 0.0020679344393763656, 1e-9);
    close(&out["ci"][1], 0.057932065560623636, 1e-9);
    close(&out["lift"], 0.3, 1e-12);
    assert_eq!(out["significant"], json!(true));
    assert_eq!(out["decision"], json!("promote"));
    assert_eq!(out["test"], json!("two_proportion_z"));
    // A 50/50 split with a sample-ratio mismatch overrides the decision.
    let (code, out) = analyze(
        r#"{"test":"two_proportion_z","control":{"successes":1000,"total":10000},
            "treatment":{"successes":1300,"total":10600},"weights":[5000,5000]}"#,
    );
    assert_eq!(code, 0);
    assert_eq!(out["decision"], json!("invalid_srm"));
    assert_eq!(out["srm"]["mismatch"], json!(true));
}

#[test]
fn t_tests_and_mann_whitney() {
    let body = r#""control":{"values":[12.1,14.3,11.8,13.5,12.9,15.2,13.3]},
                  "treatment":{"values":[14.2,15.1,13.9,16.4,15.5,14.8]},"confidence":0.9"#;
    // ttest_ind(t, c, equal_var=False) -> 2.889761099836281, p 0.014856680701552384;
    // .confidence_interval(0.9) -> (0.6361970269601498, 2.730469639706514)
    let (code, out) = analyze(&format!(r#"{{"test":"welch_t",{body}}}"#));
    assert_eq!(code, 0, "{out}");
    close(&out["statistic"], 2.889761099836281, 1e-9);
    close(&out["p_value"], 0.014856680701552384, 1e-9);
    close(&out["ci"][0], 0.6361970269601498, 1e-9);
    close(&out["ci"][1], 2.730469639706514, 1e-9);
    assert_eq!(out["confidence"], json!(0.9));
    // ttest_ind(t, c, equal_var=True) -> 2.826119970948275, p 0.016486189919684004
    let (_, out) = analyze(&format!(r#"{{"test":"student_t",{body}}}"#));
    close(&out["statistic"], 2.826119970948275, 1e-9);
    close(&out["p_value"], 0.016486189919684004, 1e-9);
    // mannwhitneyu([4.5,6.7,7.8,8.1,9.0], [1.1,3.4,2.2,5.6]) -> U 19.0, p 0.031746031746031744 (exact)
    let (code, out) = analyze(
        r#"{"test":"mann_whitney_u","control":{"values":[1.1,3.4,2.2,5.6]},
            "treatment":{"values":[4.5,6.7,7.8,8.1,9.0]}}"#,
    );
    assert_eq!(code, 0);
    close(&out["statistic"], 19.0, 1e-12);
    close(&out["p_value"], 0.031746031746031744, 1e-9);
    assert_eq!(out["method"], json!("exact"));
}

#[test]
fn tables_and_sample_size() {
    // chi2_contingency([[120, 880], [150, 850]], correction=False) -> 3.8535645472061657, p 0.049640386865368834
    let (code, out) = analyze(r#"{"test":"chi_squared","table":[[120,880],[150,850]]}"#);
    assert_eq!(code, 0, "{out}");
    close(&out["statistic"], 3.8535645472061657, 1e-9);
    close(&out["p_value"], 0.049640386865368834, 1e-9);
    // chisquare([9500, 560], f_exp=[10060*0.95, 10060*0.05]) -> 6.79920477137177, p 0.009119848368741103
    let (code, out) = analyze(r#"{"test":"srm","observed":[9500,560],"weights":[9500,500]}"#);
    assert_eq!(code, 0);
    close(&out["p_value"], 0.009119848368741103, 1e-9);
    assert_eq!(out["srm"], json!(false));
    // TTestIndPower().solve_power(effect_size=0.01/(0.12*0.88)**0.5, alpha=0.05, power=0.8) -> 16577.75...
    let (code, out) = analyze(r#"{"test":"sample_size","baseline":0.12,"mde":0.01}"#);
    assert_eq!(code, 0);
    assert_eq!(out["n_per_group"], json!(16578));
    // multipletests([0.01, 0.04, 0.03], method="holm") -> [0.03, 0.06, 0.06]
    let (_, out) = analyze(r#"{"test":"holm","p_values":[0.01,0.04,0.03]}"#);
    close(&out["p_values"][1], 0.06, 1e-12);
    assert_eq!(out["reject"], json!([true, false, false]));
}

#[test]
fn extra_tests_never_emit_nan() {
    let (code, out) = analyze(
        r#"{"test":"sequential","control":{"successes":1000,"total":10000},
            "treatment":{"successes":1300,"total":10000}}"#,
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["significant"], json!(true));
    let (code, out) = analyze(
        r#"{"test":"bootstrap","statistic":"p99","resamples":200,"seed":3,
            "control":{"values":[1,2,3,4,5,6,7,8,9,10]},"treatment":{"values":[2,3,4,5,6,7,8,9,10,30]}}"#,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out["ci"][0].is_number() && out["ci"][1].is_number());
    // All failures in both groups: defined result (z 0, p 1), lift null rather than NaN.
    let (code, out) = analyze(
        r#"{"test":"two_proportion_z","control":{"successes":0,"total":10},"treatment":{"successes":0,"total":10}}"#,
    );
    assert_eq!(code, 0);
    assert_eq!(
        (out["statistic"].as_f64(), out["p_value"].as_f64()),
        (Some(0.0), Some(1.0))
    );
    assert!(out["lift"].is_null());
}

#[test]
fn cuped_matches_numpy_scipy() {
    // Reference (numpy 2.4.6, scipy 1.17.1), X = xc + xt, Y = yc + yt pooled:
    //   theta = np.cov(X, Y)[0, 1] / np.var(X, ddof=1)            -> 1.1342198581560279
    //   adj_* = y_* - theta * (x_* - X.mean())
    //   adj_t.mean() - adj_c.mean()                               -> 0.7928085106382969
    //   r = scipy.stats.ttest_ind(adj_t, adj_c, equal_var=False)  -> 4.750096858550939,
    //                                  p 0.0002933688756046219, df 14.296587049438207
    //   r.confidence_interval(0.95) -> (0.4355312324131001, 1.1500857888634939)
    //   1 - np.var(np.concatenate([adj_c, adj_t]), ddof=1) / np.var(Y, ddof=1)
    //                                                             -> 0.8365898609786244
    let (code, out) = analyze(
        r#"{"test":"cuped",
            "control":{"values":[12.1,14.3,11.8,13.5,12.9,15.2,13.3,12.4,14.0,13.1],
                       "covariate":[11.0,13.9,11.2,12.8,12.0,14.1,12.9,11.5,13.2,12.6]},
            "treatment":{"values":[14.2,15.1,13.9,16.4,15.5,14.8,13.7,15.9],
                         "covariate":[12.1,13.8,12.9,14.6,13.7,13.0,12.2,14.1]},
            "confidence":0.95}"#,
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["test"], json!("cuped"));
    close(&out["theta"], 1.1342198581560279, 1e-9);
    close(&out["effect"], 0.7928085106382969, 1e-9);
    close(&out["statistic"], 4.750096858550939, 1e-9);
    close(&out["p_value"], 0.0002933688756046219, 1e-9);
    close(&out["df"], 14.296587049438207, 1e-9);
    close(&out["ci"][0], 0.4355312324131001, 1e-9);
    close(&out["ci"][1], 1.1500857888634939, 1e-9);
    close(&out["variance_reduction"], 0.8365898609786244, 1e-9);
    assert_eq!(out["significant"], json!(true));
}

#[test]
fn ratio_delta_matches_numpy_scipy() {
    // Reference (numpy 2.4.6, scipy 1.17.1), per group with n, d = np.array(num), np.array(den):
    //   R = n.sum() / d.sum(); c = np.cov(n, d, ddof=1); mn, md = n.mean(), d.mean()
    //   Var = (c[0,0]/md**2 - 2*mn*c[0,1]/md**3 + mn**2*c[1,1]/md**4) / len(n)
    //   control_ratio 1.5, treatment_ratio 1.84375, difference 0.34375
    //   se = np.sqrt(Var_t + Var_c)                       -> 0.07341931094117658
    //   z = difference / se                               -> 4.682010707992232
    //   2 * scipy.stats.norm.sf(abs(z))                   -> 2.8407463812795185e-06
    //   difference -/+ scipy.stats.norm.ppf(0.975) * se   -> (0.19985079478554635, 0.48764920521445365)
    //   difference / control_ratio                        -> 0.22916666666666666
    let (code, out) = analyze(
        r#"{"test":"ratio_delta",
            "control":{"numerator":[3,5,2,8,4,6,1,7,5,3,4,6],"denominator":[2,3,2,5,3,4,1,4,3,2,3,4]},
            "treatment":{"numerator":[4,6,3,9,5,8,2,7,6,5,4],"denominator":[2,3,2,5,3,4,1,4,3,3,2]}}"#,
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["test"], json!("ratio_delta"));
    close(&out["control_ratio"], 1.5, 1e-12);
    close(&out["treatment_ratio"], 1.84375, 1e-12);
    close(&out["difference"], 0.34375, 1e-12);
    close(&out["se"], 0.07341931094117658, 1e-9);
    close(&out["statistic"], 4.682010707992232, 1e-9);
    close(&out["p_value"], 2.8407463812795185e-06, 1e-9);
    close(&out["ci"][0], 0.19985079478554635, 1e-9);
    close(&out["ci"][1], 0.48764920521445365, 1e-9);
    close(&out["lift"], 0.22916666666666666, 1e-9);
    assert_eq!(out["significant"], json!(true));
}

#[test]
fn bad_input_exits_2_naming_the_field() {
    let cases = [
        (
            r#"{"test":"two_proportion_z","treatment":{"successes":1,"total":2}}"#,
            "control",
        ),
        (
            r#"{"test":"two_proportion_z","control":{"successes":-1,"total":2},"treatment":{"successes":1,"total":2}}"#,
            "control.successes",
        ),
        (
            r#"{"test":"two_proportion_z","control":{"successes":5,"total":2},"treatment":{"successes":1,"total":2}}"#,
            "control.successes",
        ),
        (
            r#"{"test":"two_proportion_z","control":{"successes":1},"treatment":{"successes":1,"total":2}}"#,
            "control.total",
        ),
        (
            r#"{"test":"welch_t","control":{"values":[]},"treatment":{"values":[1,2]}}"#,
            "control.values",
        ),
        (
            r#"{"test":"welch_t","control":{"values":[1,2]},"treatment":{"values":[1,2]},"confidence":1.5}"#,
            "confidence",
        ),
        (
            r#"{"test":"student_t","control":{"values":[1,2]},"treatment":{"values":[3,4]},"confidence":0}"#,
            "confidence",
        ),
        (
            r#"{"test":"welch_t","control":{"values":[5,5]},"treatment":{"values":[6,6]}}"#,
            "treatment.values",
        ),
        (
            r#"{"test":"mann_whitney_u","control":{"values":[1,"x"]},"treatment":{"values":[1]}}"#,
            "control.values[1]",
        ),
        (
            r#"{"test":"chi_squared","table":[[1,2],[3,-4]]}"#,
            "table[1][1]",
        ),
        (r#"{"test":"srm","observed":[10,20]}"#, "weights"),
        (r#"{"test":"sample_size","baseline":0.12}"#, "mde"),
        (
            r#"{"test":"cuped","control":{"values":[1,2,3],"covariate":[1,2]},"treatment":{"values":[1,2],"covariate":[3,4]}}"#,
            "control.covariate",
        ),
        (
            r#"{"test":"cuped","control":{"values":[1,2]},"treatment":{"values":[1,2],"covariate":[3,4]}}"#,
            "control.covariate",
        ),
        (
            r#"{"test":"cuped","control":{"values":[1,2],"covariate":[5,5]},"treatment":{"values":[1,3],"covariate":[5,5]}}"#,
            "covariate",
        ),
        (
            r#"{"test":"ratio_delta","control":{"numerator":[1,2],"denominator":[1,2]},"treatment":{"numerator":[1,2,3],"denominator":[1,2]}}"#,
            "treatment.denominator",
        ),
        (
            r#"{"test":"ratio_delta","control":{"numerator":[1,2],"denominator":[0,0]},"treatment":{"numerator":[1,2],"denominator":[1,2]}}"#,
            "control.denominator",
        ),
        (r#"{"test":"anova"}"#, "test"),
        (r#"{"control":{}}"#, "test"),
        ("not json", "(input)"),
    ];
    for (input, field) in cases {
        let (code, out) = analyze(input);
        assert_eq!(code, 2, "{input} -> {out}");
        let message = out["error"].as_str().unwrap();
        assert!(
            message.contains(field),
            "{input}: {message:?} should name {field}"
        );
        assert_eq!(out["field"], json!(field), "{input}");
    }
}

#[test]
fn sample_size_and_bandit_commands() {
    let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["sample-size", "--baseline", "0.12", "--mde", "0.01"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Required n per group: 16578"), "{text}");
    let bad = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["sample-size", "--baseline", "1.5", "--mde", "0.01"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));

    let dir = tempfile::tempdir().unwrap();
    let arms = dir.path().join("arms.json");
    std::fs::write(
        &arms,
        r#"[{"name":"control","successes":50,"total":1000},{"name":"treatment","successes":80,"total":1000}]"#,
    )
    .unwrap();
    for algorithm in ["thompson", "ucb1", "epsilon-greedy"] {
        let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
            .args(["bandit", "--input"])
            .arg(&arms)
            .args([
                "--algorithm",
                algorithm,
                "--seed",
                "7",
                "--min-weight-bp",
                "200",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let control = v["weights"]["control"].as_u64().unwrap();
        let treatment = v["weights"]["treatment"].as_u64().unwrap();
        assert_eq!(control + treatment, 10_000, "{algorithm}");
        assert!(control >= 200 && treatment > control, "{algorithm}: {v}");
    }
}

#[test]
fn bandit_pushes_weights_through_the_rollout_sink() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "filter.json",
        r#"{"version":1,"experiments":[{"id":"rank-ab","kind":"ab","salt":"rank-ab","variants":[
            {"name":"control","cluster":"c","weight":5000},{"name":"treatment","cluster":"t","weight":5000}]}]}"#,
    );
    write(
        "rollout.yaml",
        "apiVersion: rollgate.dev/v1\nkind: Rollout\nmetadata: { name: rank, namespace: ml }\n\
         spec:\n  experiment: rank-ab\n  stable: control\n  canary: treatment\n  \
         base_config: filter.json\n  sink:\n    ecds_file: { path: ecds.yaml, name: rollgate }\n  \
         prometheus: { url: http://127.0.0.1:9090 }\n  state_file: state.json\n",
    );
    write(
        "arms.json",
        r#"{"arms":[{"name":"control","successes":50,"total":1000},{"name":"treatment","successes":80,"total":1000}]}"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .current_dir(dir.path())
        .args([
            "bandit",
            "--input",
            "arms.json",
            "--algorithm",
            "ucb1",
            "--rollout",
            "rollout.yaml",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ecds = std::fs::read_to_string(dir.path().join("ecds.yaml")).unwrap();
    assert!(
        ecds.contains(r#"{"name":"control","cluster":"c","weight":100},{"name":"treatment","cluster":"t","weight":9900}"#),
        "{ecds}"
    );
}
