//! `spec.prometheus` against a real Prometheus that requires TLS and basic auth
//! (`--web.config.file`): the right credentials (password from an environment variable,
//! the self-signed CA from `ca_file`) promote; a wrong password gives an error naming the
//! source, and the rollout never acts on the failed queries, whatever its `no_data` policy.

mod run_support;

use run_support::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The test user's password and its bcrypt hash (Prometheus wants bcrypt), computed with
/// `python3 -c "import bcrypt; print(bcrypt.hashpw(b'rollgate-test-secret', bcrypt.gensalt(rounds=4)).decode())"`.
const PASSWORD: &str = "rollgate-test-secret";
const BCRYPT: &str = "$2b$04$IFfm8Mk/NLzD3UeCBOk.AuAt2DuqqlEHwpvJkZyCCynMLLGa5wnFm";

struct Prometheus {
    child: Child,
    url: String,
    ca: std::path::PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn run(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A real Prometheus on loopback requiring TLS (self-signed certificate for 127.0.0.1) and
/// basic auth for user `rollgate`.
fn secured_prometheus(dir: &Path) -> Prometheus {
    // A CA, and a server certificate for 127.0.0.1 it signs (rustls refuses a CA
    // certificate used as the server's own).
    let (ca, ca_key) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
    let (cert, key, csr) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("server.csr"),
    );
    let ext = dir.join("server.ext");
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .expect("ext");
    let openssl = "openssl (needed to make the test certificates)";
    run(
        Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=rollgate test CA", "-keyout"])
            .arg(&ca_key)
            .arg("-out")
            .arg(&ca),
        openssl,
    );
    run(
        Command::new("openssl")
            .args([
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&csr),
        openssl,
    );
    run(
        Command::new("openssl")
            .args(["x509", "-req", "-days", "1", "-set_serial", "2", "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(&ca)
            .arg("-CAkey")
            .arg(&ca_key)
            .arg("-extfile")
            .arg(&ext)
            .arg("-out")
            .arg(&cert),
        openssl,
    );
    let web = dir.join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  rollgate: '{BCRYPT}'\n",
            cert.display(),
            key.display()
        ),
    )
    .expect("web config");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        "global: { scrape_interval: 15s }\nscrape_configs: []\n",
    )
    .expect("config");
    let port = free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.config.file={}", web.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus is installed (make test installs it; /usr/bin/prometheus)");
    let url = format!("https://127.0.0.1:{port}");
    let prometheus = Prometheus { child, url, ca };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        if ready {
            return prometheus;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus did not listen within 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A rollout of 10 % for 1 s then 100 %, with one custom gate `vector(0) < 1` checked every
/// 200 ms against `prometheus` authenticated with `basic_auth`.
fn spec(dir: &Path, prometheus: &Prometheus, password: &str, no_data: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("filter-config.json"), BASE_CONFIG).expect("base");
    let spec = format!(
        "apiVersion: rollgate.dev/v1\nkind: Rollout\nmetadata: {{ name: fraud-detector, namespace: ml }}\nspec:\n  experiment: fraud-v2\n  stable: stable\n  canary: canary\n  base_config: filter-config.json\n  sink:\n    ecds_file: {{ path: out/ecds.yaml }}\n  prometheus:\n    url: {}\n    ca_file: {}\n    basic_auth: {{ username: rollgate, password: {password} }}\n    headers: {{ X-Scope-OrgID: tenant-a }}\n    timeout: 2s\n  state_file: .rollgate/state.json\n  steps:\n    - {{ weight: 10, pause: 1s }}\n    - {{ weight: 100 }}\n  gates:\n    - name: up\n      query: 'vector(0)'\n      condition: \"< 1\"\n      interval: 200ms\n      no_data: {no_data}\n",
        prometheus.url,
        prometheus.ca.display()
    );
    let path = dir.join("rollout.yaml");
    std::fs::write(&path, spec).expect("spec");
    path
}

#[test]
fn tls_and_basic_auth_right_credentials_promote_wrong_ones_never_act() {
    let dir = tempfile::tempdir().expect("temp dir");
    let prometheus = secured_prometheus(dir.path());

    let good = tempfile::tempdir().expect("temp dir");
    let path = spec(
        good.path(),
        &prometheus,
        "{ env: ROLLGATE_TEST_PROM_PASSWORD }",
        "inconclusive",
    );
    let child = rollgate(&["run", path.to_str().expect("utf-8"), "--tick", "50ms"])
        .env("ROLLGATE_TEST_PROM_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let output = wait_with_deadline(child, Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let ecds = good.path().join("out/ecds.yaml");
    assert_eq!(ecds_canary(&ecds).map(|(w, _)| w), Some(10_000));

    // A wrong password (from a file), even with `no_data: pass`: the queries fail, the error
    // names the source, and nothing is decided on them.
    let bad = tempfile::tempdir().expect("temp dir");
    std::fs::write(bad.path().join("password"), "not-the-password\n").expect("secret");
    let path = spec(bad.path(), &prometheus, "{ file: password }", "pass");
    let output = run_to_end(&["run", path.to_str().expect("utf-8"), "--tick", "50ms"]);
    assert_eq!(output.status.code(), Some(4), "{}", describe(&output));
    let text = describe(&output);
    assert!(
        text.contains(&format!(
            "Prometheus {} refused the credentials (HTTP 401",
            prometheus.url
        )),
        "the error names the source: {text}"
    );
    let ecds = bad.path().join("out/ecds.yaml");
    assert_eq!(
        ecds_canary(&ecds).map(|(w, _)| w),
        Some(1_000),
        "never went past the first step on failed queries"
    );
}
