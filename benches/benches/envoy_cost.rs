//! The filter's cost in real Envoy, side by side (issue 12 item 5).
//!
//! Configs, interleaved per round on one Envoy build: (a) no wasm filter, (b) native
//! `weighted_clusters` 50/50, (c) floor SDK filter, (c2) floor filter with Rollgate's host
//! calls, (d) Rollgate 50/50, (e) Rollgate with 3 experiments and 16-header requests,
//! (f) Rollgate with a 10 % shadow. Envoy under test is pinned to core 0 (`--concurrency 1`),
//! the upstream Envoy (`direct_response`) and the load generators to core 1.
//! Per run: open-loop latency (requests scheduled at fixed intervals, latency measured from
//! the scheduled time so coordinated omission is avoided), closed-loop throughput with `wrk`
//! at 16 connections, and Envoy's CPU time per request from `/proc/<pid>/stat` over the wrk run.
//! Writes `target/bench/envoy_cost.json`. Targets are printed as PASS/MISS, never fatal.
//! Environment: `ROUNDS` (default 3), `SECS` (seconds per phase, default 3), `RATE` (default 500).

use anyhow::{bail, Context as _, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ENVOY: &str = "target/envoy/1.40.0/bin/envoy";
const ROLLGATE_WASM: &str = "target/wasm32-wasip1/release/rollgate_filter.wasm";
const FLOOR_WASM: &str = "target/wasm32-wasip1/release/rollgate_floor_filter.wasm";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One Envoy process, killed on drop.
struct Envoy {
    child: Child,
    port: u16,
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_envoy(name: &str, yaml: &str, core: u32, base_id: u32) -> Result<Envoy> {
    let dir = root().join("target/bench/envoy_cost");
    std::fs::create_dir_all(&dir)?;
    let config = dir.join(format!("{name}.yaml"));
    let admin = dir.join(format!("{name}.admin"));
    let _ = std::fs::remove_file(&admin);
    std::fs::write(&config, yaml)?;
    let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
    let child = Command::new("taskset")
        .arg("-c")
        .arg(core.to_string())
        .arg(root().join(ENVOY))
        .args(["--concurrency", "1", "--log-level", "warn", "--base-id"])
        .arg(base_id.to_string())
        .arg("-c")
        .arg(&config)
        .arg("--admin-address-path")
        .arg(&admin)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("cannot start envoy (make envoy installs it)")?;
    let mut envoy = Envoy { child, port: 0 };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if Instant::now() > deadline {
            bail!("envoy {name} not ready in 30 s, see target/bench/envoy_cost/{name}.log");
        }
        if let Ok(addr) = std::fs::read_to_string(&admin) {
            if let Ok(port) = listener_port(addr.trim()) {
                envoy.port = port;
                return Ok(envoy);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The port of the first listener, read from the admin `/listeners` once it is bound.
fn listener_port(admin: &str) -> Result<u16> {
    let out = Command::new("curl")
        .args(["-sf", &format!("http://{admin}/listeners")])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().context("no listener yet")?;
    let port = line.rsplit(':').next().context("no port")?.trim().parse()?;
    if port == 0 {
        bail!("listener not bound");
    }
    Ok(port)
}

fn upstream_yaml() -> String {
    r#"static_resources:
  listeners:
  - address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: up
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                direct_response: { status: 200, body: { inline_string: '{"prediction":0.1}' } }
                response_headers_to_add:
                - header: { key: x-seen-variant, value: "%REQ(x-rollgate-variant)%" }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
"#
    .to_string()
}

/// What a config puts in the filter chain and the route.
struct Config {
    key: &'static str,
    label: &'static str,
    wasm: Option<(&'static str, String)>,
    route: &'static str,
    many_headers: bool,
}

fn rollgate_json(experiments: usize, shadow_bp: u32) -> String {
    let shadow = if shadow_bp > 0 {
        format!(
            r#","shadow":{{"cluster":"shadow","authority":"shadow","sample":{shadow_bp},"timeout_ms":1000,"max_body_bytes":1048576,"compare":{{"json_pointer":"/prediction","tolerance":0.0}}}}"#
        )
    } else {
        String::new()
    };
    let mut list = Vec::new();
    for i in 0..experiments {
        let path = if i + 1 == experiments {
            "/predict"
        } else {
            "/other"
        };
        let sh = if i + 1 == experiments {
            shadow.as_str()
        } else {
            ""
        };
        list.push(format!(
            r#"{{"id":"exp{i}","kind":"ab","salt":"exp{i}","match":{{"path_prefix":"{path}{i}"}},"variants":[{{"name":"a","cluster":"variant_a","weight":5000}},{{"name":"b","cluster":"variant_b","weight":5000}}]{sh}}}"#
        ));
    }
    // The last experiment matches the bench's path: /predictN.
    format!(
        r#"{{"version":1,"unit":{{"header":"x-user-id","cookie":"uid","missing_unit":"stable"}},"route_header":"x-rollgate-cluster","variant_header":"x-rollgate-variant","experiments":[{}]}}"#,
        list.join(",")
    )
}

fn configs() -> Vec<Config> {
    let wasm_route = "cluster_header: x-rollgate-cluster";
    vec![
        Config { key: "a", label: "(a) no wasm filter", wasm: None, route: "cluster: variant_a", many_headers: false },
        Config { key: "b", label: "(b) native weighted_clusters 50/50", wasm: None,
            route: "weighted_clusters: { clusters: [ { name: variant_a, weight: 50 }, { name: variant_b, weight: 50 } ] }", many_headers: false },
        Config { key: "c", label: "(c) floor SDK filter", wasm: Some((FLOOR_WASM, "floor".into())), route: wasm_route, many_headers: false },
        Config { key: "c2", label: "(c') floor + Rollgate's host calls", wasm: Some((FLOOR_WASM, "hostcalls".into())), route: wasm_route, many_headers: false },
        Config { key: "d", label: "(d) Rollgate 50/50, no shadow", wasm: Some((ROLLGATE_WASM, rollgate_json(1, 0))), route: wasm_route, many_headers: false },
        Config { key: "e", label: "(e) Rollgate 3 experiments, 16 headers", wasm: Some((ROLLGATE_WASM, rollgate_json(3, 0))), route: wasm_route, many_headers: true },
        Config { key: "f", label: "(f) Rollgate 10 % shadow", wasm: Some((ROLLGATE_WASM, rollgate_json(1, 1000))), route: wasm_route, many_headers: false },
    ]
}

fn yaml_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn envoy_yaml(config: &Config, upstream: u16) -> String {
    let wasm = match &config.wasm {
        None => String::new(),
        Some((path, conf)) => format!(
            r#"          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: bench
                root_id: {root}
                configuration: {{ "@type": type.googleapis.com/google.protobuf.StringValue, value: {conf} }}
                vm_config:
                  runtime: envoy.wasm.runtime.v8
                  code: {{ local: {{ filename: {file} }} }}
"#,
            root = if path == &ROLLGATE_WASM {
                "rollgate"
            } else {
                "floor"
            },
            conf = yaml_string(conf),
            file = root().join(path).display()
        ),
    };
    let cluster = |name: &str| {
        format!(
            r#"  - name: {name}
    type: STATIC
    load_assignment: {{ cluster_name: {name}, endpoints: [ {{ lb_endpoints: [ {{ endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {upstream} }} }} }} }} ] }} ] }}
"#
        )
    };
    format!(
        r#"static_resources:
  listeners:
  - address: {{ socket_address: {{ address: 127.0.0.1, port_value: 0 }} }}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{ prefix: "/" }}
                route: {{ {route} }}
          http_filters:
{wasm}          - name: envoy.filters.http.router
            typed_config: {{ "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }}
  clusters:
{a}{b}{s}admin: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: 0 }} }} }}
"#,
        route = config.route,
        a = cluster("variant_a"),
        b = cluster("variant_b"),
        s = cluster("shadow"),
    )
}

fn extra_headers(many: bool) -> Vec<(&'static str, &'static str)> {
    if !many {
        return vec![];
    }
    vec![
        ("content-type", "application/json"),
        ("accept", "application/json"),
        ("user-agent", "checkout-service/4.12.1 (grpc-gateway)"),
        ("cookie", "session=3f9a1c; uid=ignored; theme=dark"),
        ("x-request-id", "9b1c3c2e-5d8f-4f1e-9a77-2c1d0e6f4b3a"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-for", "10.12.4.7, 10.0.0.1"),
        ("x-envoy-attempt-count", "1"),
        ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ("x-region", "eu"),
    ]
}

fn path_for(config: &Config) -> &'static str {
    if config.key == "e" {
        "/predict2"
    } else {
        "/predict0"
    }
}

/// Open loop: `rate` requests per second for `secs`, latency from the scheduled send time.
fn open_loop(port: u16, config: &Config, rate: u32, secs: u64) -> Result<(f64, f64)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()?;
        let url = format!("http://127.0.0.1:{port}{}", path_for(config));
        let total = rate as u64 * secs;
        let interval = Duration::from_nanos(1_000_000_000 / rate as u64);
        let start = tokio::time::Instant::now() + Duration::from_millis(50);
        let mut tasks = Vec::with_capacity(total as usize);
        for i in 0..total {
            let scheduled = start + interval * i as u32;
            tokio::time::sleep_until(scheduled).await;
            let mut req = client.get(&url).header("x-user-id", format!("user-{i}"));
            for (k, v) in extra_headers(config.many_headers) {
                req = req.header(k, v);
            }
            tasks.push(tokio::spawn(async move {
                let ok = matches!(req.send().await, Ok(r) if r.status().is_success());
                (ok, scheduled.elapsed().as_secs_f64() * 1e6)
            }));
        }
        let mut lat = Vec::with_capacity(tasks.len());
        for t in tasks {
            let (ok, us) = t.await?;
            if !ok {
                bail!("a request failed in the open-loop run");
            }
            lat.push(us);
        }
        lat.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
        Ok((q(0.5), q(0.99)))
    })
}

fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = stat.rsplit(')').next().context("bad stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Ok(f[11].parse::<u64>()? + f[12].parse::<u64>()?)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Closed loop with wrk at 16 connections: (requests/s, requests, CPU µs per request).
fn closed_loop(envoy: &Envoy, config: &Config, secs: u64) -> Result<(f64, f64)> {
    let dir = root().join("target/bench/envoy_cost");
    let script = dir.join(format!("{}.lua", config.key));
    let mut lua = String::from("local n = 0\nrequest = function()\n  n = n + 1\n  local h = { [\"x-user-id\"] = \"user-\" .. n");
    for (k, v) in extra_headers(config.many_headers) {
        lua.push_str(&format!(", [\"{k}\"] = \"{v}\""));
    }
    lua.push_str(&format!(
        " }}\n  return wrk.format(\"GET\", \"{}\", h)\nend\n",
        path_for(config)
    ));
    std::fs::write(&script, lua)?;
    let before = cpu_ticks(envoy.child.id())?;
    let out = Command::new("taskset")
        .args(["-c", "1", "wrk", "-t1", "-c16", &format!("-d{secs}s"), "-s"])
        .arg(&script)
        .arg(format!("http://127.0.0.1:{}/", envoy.port))
        .output()
        .context("cannot run wrk (apt-get install wrk)")?;
    let after = cpu_ticks(envoy.child.id())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let requests: f64 = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("cannot read wrk output: {text}"))?;
    if text.contains("Non-2xx") {
        bail!("wrk saw non-2xx responses for {}: {text}", config.key);
    }
    let tick_us = 1e6 / 100.0; // USER_HZ is 100 on Linux
    Ok((
        requests / secs as f64,
        (after - before) as f64 * tick_us / requests,
    ))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn build_floor() -> Result<()> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root())
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip1",
            "-p",
            "rollgate-floor-filter",
        ])
        .status()?;
    if !status.success() {
        bail!("building the floor filter failed");
    }
    Ok(())
}

fn main() -> Result<()> {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return Ok(());
    }
    std::env::set_current_dir(root())?;
    build_floor()?;
    if !root().join(ROLLGATE_WASM).exists() {
        bail!("{ROLLGATE_WASM} missing: run `make wasm`");
    }
    let rounds = env_or("ROUNDS", 3) as usize;
    let secs = env_or("SECS", 3);
    let rate = env_or("RATE", 500) as u32;
    let base = std::process::id() % 1000 * 20;
    let upstream = spawn_envoy("upstream", &upstream_yaml(), 1, base)?;
    let configs = configs();
    let n = configs.len();
    let (mut p50, mut p99, mut rps, mut cpu, mut rss) = (
        vec![vec![]; n],
        vec![vec![]; n],
        vec![vec![]; n],
        vec![vec![]; n],
        vec![0u64; n],
    );
    for round in 0..rounds {
        for (i, config) in configs.iter().enumerate() {
            let envoy = spawn_envoy(
                config.key,
                &envoy_yaml(config, upstream.port),
                0,
                base + 1 + i as u32,
            )?;
            open_loop(envoy.port, config, rate, 1)?; // warm up
            let (m, p) = open_loop(envoy.port, config, rate, secs)?;
            let (t, c) = closed_loop(&envoy, config, secs)?;
            rss[i] = rss_kib(envoy.child.id());
            eprintln!("round {round} {:<40} p50 {m:8.1} µs p99 {p:8.1} µs {t:9.0} req/s {c:6.1} µs CPU/req", config.label);
            p50[i].push(m);
            p99[i].push(p);
            rps[i].push(t);
            cpu[i].push(c);
        }
    }
    let med: Vec<[f64; 4]> = (0..n)
        .map(|i| {
            [
                median(&mut p50[i]),
                median(&mut p99[i]),
                median(&mut rps[i]),
                median(&mut cpu[i]),
            ]
        })
        .collect();
    let idx = |k: &str| configs.iter().position(|c| c.key == k).unwrap_or(0);
    let (b, c, c2) = (idx("b"), idx("c"), idx("c2"));
    println!("\nEnvoy 1.40.0, {rounds} interleaved rounds, open loop {rate} req/s x {secs} s, wrk 16 connections x {secs} s; medians over rounds");
    println!(
        "{:<40} {:>9} {:>9} {:>9} {:>8} {:>8} | thr/c  cpu/c  cpu/c' thr/b  cpu/b  Δp50 vs c",
        "config", "p50 µs", "p99 µs", "req/s", "CPU µs", "RSS KiB"
    );
    let mut json = Vec::new();
    for (i, config) in configs.iter().enumerate() {
        let [m, p, t, u] = med[i];
        println!(
            "{:<40} {m:9.1} {p:9.1} {t:9.0} {u:8.1} {:8} | {:5.2} {:6.2} {:6.2} {:5.2} {:6.2} {:+7.1}",
            config.label, rss[i], t / med[c][2], u / med[c][3], u / med[c2][3], t / med[b][2], u / med[b][3], m - med[c][0]
        );
        json.push(serde_json::json!({"config": config.key, "label": config.label, "p50_us": m, "p99_us": p,
            "throughput_rps": t, "cpu_us_per_request": u, "rss_kib": rss[i],
            "throughput_vs_c": t / med[c][2], "cpu_vs_c": u / med[c][3], "cpu_vs_c2": u / med[c2][3],
            "throughput_vs_b": t / med[b][2], "cpu_vs_b": u / med[b][3], "p50_delta_vs_c_us": m - med[c][0]}));
    }
    let (d, e, f) = (idx("d"), idx("e"), idx("f"));
    let check = |name: &str, ok: bool, got: String| {
        println!(
            "target {name:<45} {got:>10}  {}",
            if ok { "PASS" } else { "MISS" }
        )
    };
    println!();
    check(
        "(d) throughput >= 0.95x (c)",
        med[d][2] / med[c][2] >= 0.95,
        format!("{:.3}", med[d][2] / med[c][2]),
    );
    check(
        "(d) CPU/request <= 1.06x (c)",
        med[d][3] / med[c][3] <= 1.06,
        format!("{:.3}", med[d][3] / med[c][3]),
    );
    check(
        "(d) median latency <= +5 us vs (c)",
        med[d][0] - med[c][0] <= 5.0,
        format!("{:+.1}", med[d][0] - med[c][0]),
    );
    check(
        "(d) CPU/request <= 1.02x (c')",
        med[d][3] / med[c2][3] <= 1.02,
        format!("{:.3}", med[d][3] / med[c2][3]),
    );
    check(
        "(e) throughput >= 0.92x (c)",
        med[e][2] / med[c][2] >= 0.92,
        format!("{:.3}", med[e][2] / med[c][2]),
    );
    check(
        "(f) throughput >= 0.92x (c)",
        med[f][2] / med[c][2] >= 0.92,
        format!("{:.3}", med[f][2] / med[c][2]),
    );
    let size = std::fs::metadata(ROLLGATE_WASM)?.len();
    println!(
        "{ROLLGATE_WASM}: {size} bytes ({:.1} KiB; budget 320 KiB{})",
        size as f64 / 1024.0,
        if size > 320 * 1024 {
            ": WARNING over budget"
        } else {
            ""
        }
    );
    let out = serde_json::json!({"envoy": "1.40.0", "rounds": rounds, "rate": rate, "secs": secs, "wasm_bytes": size, "configs": json});
    std::fs::write(
        "target/bench/envoy_cost.json",
        serde_json::to_string_pretty(&out)?,
    )?;
    Ok(())
}
