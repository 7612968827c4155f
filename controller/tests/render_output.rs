//! `rollgate render` prints exactly what the sink holds, and nothing else on stdout.

mod run_support;

use run_support::*;

#[test]
fn render_matches_the_ecds_file_before_and_after_a_run() {
    let (_prometheus, fx) = scenario(FakePrometheus::rates(0.0, 0.0), "100ms", 1);
    let spec = fx.spec_arg();

    let before = run_to_end(&["render", spec]);
    assert_eq!(before.status.code(), Some(0), "{}", describe(&before));
    let text = String::from_utf8(before.stdout).expect("utf-8");
    let file = rollgate_core::ecds::parse_plugin_config_file(&text)
        .expect("an ECDS file and nothing else");
    assert_eq!(file.version_info.as_deref(), Some("0"));
    let config =
        rollgate_core::config::FilterConfig::from_json(file.config_json.as_bytes()).expect("valid");
    let base =
        rollgate_core::config::FilterConfig::from_json(BASE_CONFIG.as_bytes()).expect("valid");
    assert_eq!(
        config, base,
        "before the first push the base config is what the sink would hold"
    );

    assert_eq!(
        run_to_end(&["run", spec, "--tick", "50ms"]).status.code(),
        Some(0)
    );
    let after = run_to_end(&["render", spec]);
    assert_eq!(after.status.code(), Some(0), "{}", describe(&after));
    let on_disk = std::fs::read(&fx.ecds).expect("ecds written");
    assert_eq!(
        after.stdout, on_disk,
        "render prints exactly the file's content"
    );
}

#[test]
fn render_of_a_kubernetes_sink_prints_the_wasm_plugin_fields() {
    let fx = fixture(
        "http://127.0.0.1:9",
        &steps("1s"),
        &error_rate_gate(1, "inconclusive"),
    );
    let text = std::fs::read_to_string(&fx.spec).expect("spec");
    let text = text.replace(
        "ecds_file: { path: out/ecds.yaml, name: rollgate }",
        "kubernetes: { wasm_plugin: fraud-detector-rollgate }",
    );
    std::fs::write(&fx.spec, text).expect("write");
    let output = rollgate(&["render", fx.spec.to_str().expect("utf-8 path")])
        .env("KUBECONFIG", fx.dir.path().join("no-kubeconfig"))
        .env("HOME", fx.dir.path())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let yaml: serde_json::Value = serde_yaml::from_slice(&output.stdout).expect("YAML on stdout");
    assert_eq!(yaml["apiVersion"], "extensions.istio.io/v1alpha1");
    assert_eq!(yaml["kind"], "WasmPlugin");
    assert_eq!(yaml["metadata"]["namespace"], "ml");
    assert_eq!(yaml["metadata"]["name"], "fraud-detector-rollgate");
    assert_eq!(
        yaml["spec"]["pluginConfig"]["experiments"][0]["id"],
        "fraud-v2"
    );
}

#[test]
fn the_stdout_sink_prints_each_push_and_render_prints_the_config() {
    let (_prometheus, fx) = scenario(FakePrometheus::rates(0.0, 0.0), "100ms", 1);
    let text = std::fs::read_to_string(&fx.spec).expect("spec");
    let text = text.replace(
        "ecds_file: { path: out/ecds.yaml, name: rollgate }",
        "stdout: {}",
    );
    std::fs::write(&fx.spec, text).expect("write");
    let output = run_to_end(&["run", fx.spec_arg(), "--tick", "50ms", "--output", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let pushes: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["sink"] == "stdout")
        .collect();
    let weights: Vec<u64> = pushes
        .iter()
        .filter_map(|p| p["config"]["experiments"][0]["variants"][1]["weight"].as_u64())
        .collect();
    assert_eq!(weights, vec![1_000, 5_000, 10_000]);
    assert!(!fx.ecds.exists());

    let rendered = run_to_end(&["render", fx.spec_arg()]);
    let config: serde_json::Value =
        serde_json::from_slice(&rendered.stdout).expect("render prints the config JSON only");
    assert_eq!(config["experiments"][0]["variants"][1]["weight"], 10_000);
}
