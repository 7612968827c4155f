//! Child processes of a scenario: spawned with piped output, read by background threads, waited
//! on with deadlines, and killed when dropped so a failing test leaves nothing running.

use crate::E2eError;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often conditions are polled while waiting on a deadline.
pub const POLL: Duration = Duration::from_millis(25);

/// Lines a process wrote so far, kept in memory.
type Lines = Arc<Mutex<Vec<String>>>;

fn pump<R: Read + Send + 'static>(source: R, sink: Lines) {
    std::thread::spawn(move || {
        for line in BufReader::new(source).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    });
}

/// A running child process with its stdout and stderr captured line by line.
pub struct Spawned {
    name: String,
    child: Child,
    stdout: Lines,
    stderr: Lines,
    exit: Option<ExitStatus>,
}

impl Spawned {
    /// Starts `command` with stdin closed and stdout/stderr captured; `name` labels errors.
    pub fn spawn(name: &str, mut command: Command) -> Result<Self, E2eError> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| E2eError::Spawn {
                name: name.to_string(),
                program: format!("{:?}", command.get_program()),
                source,
            })?;
        let stdout = Lines::default();
        let stderr = Lines::default();
        if let Some(out) = child.stdout.take() {
            pump(out, stdout.clone());
        }
        if let Some(err) = child.stderr.take() {
            pump(err, stderr.clone());
        }
        Ok(Self {
            name: name.to_string(),
            child,
            stdout,
            stderr,
            exit: None,
        })
    }

    /// The label given at spawn time.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every stdout line so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The last `n` stderr lines, joined (for error messages).
    pub fn stderr_tail(&self, n: usize) -> String {
        let lines = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        let from = lines.len().saturating_sub(n);
        lines[from..].join("\n")
    }

    /// The last `n` stdout lines, joined.
    pub fn stdout_tail(&self, n: usize) -> String {
        let lines = self.stdout.lock().unwrap_or_else(|e| e.into_inner());
        let from = lines.len().saturating_sub(n);
        lines[from..].join("\n")
    }

    /// Waits until a stdout line satisfies `pick` (which returns what it extracted), or fails
    /// at `timeout` or when the process exits first.
    pub fn wait_for_stdout<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pick: impl FnMut(&str) -> Option<T>,
    ) -> Result<T, E2eError> {
        let deadline = Instant::now() + timeout;
        let mut seen = 0;
        loop {
            let lines = self.stdout_lines();
            for line in &lines[seen..] {
                if let Some(found) = pick(line) {
                    return Ok(found);
                }
            }
            seen = lines.len();
            if let Some(status) = self.try_exit()? {
                // One more pass: lines may have arrived between the read and the exit check.
                std::thread::sleep(POLL);
                if let Some(found) = self.stdout_lines()[seen..].iter().find_map(|l| pick(l)) {
                    return Ok(found);
                }
                return Err(self.failure(what, &format!("process exited with {status}")));
            }
            if Instant::now() >= deadline {
                return Err(self.failure(what, &format!("nothing after {timeout:?}")));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Reads `listening on ADDR` (the convention of every server here) from stdout.
    pub fn wait_listening(&mut self, timeout: Duration) -> Result<std::net::SocketAddr, E2eError> {
        self.wait_for_stdout("a `listening on ADDR` line", timeout, |line| {
            line.split_once("listening on ")
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .and_then(|addr| addr.parse().ok())
        })
    }

    /// The exit status if the process has exited.
    pub fn try_exit(&mut self) -> Result<Option<ExitStatus>, E2eError> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().map_err(|source| E2eError::Io {
                what: format!("waiting on {}", self.name),
                source,
            })?;
        }
        Ok(self.exit)
    }

    /// Waits for the process to exit, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus, E2eError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit()? {
                // Let the reader threads drain the pipes.
                std::thread::sleep(POLL * 2);
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(self.failure("exit", &format!("still running after {timeout:?}")));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Sends SIGKILL and reaps the process.
    pub fn kill(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
        }
    }

    /// Sends SIGTERM (through `kill(1)`; no libc binding needed) and waits up to `grace`,
    /// then SIGKILL.
    pub fn terminate(&mut self, grace: Duration) -> Option<ExitStatus> {
        if self.exit.is_none() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
            if self.wait_exit(grace).is_err() {
                self.kill();
            }
        }
        self.exit
    }

    /// An error naming this process, what was awaited, and its last stderr lines.
    pub fn failure(&self, what: &str, why: &str) -> E2eError {
        E2eError::Process {
            name: self.name.clone(),
            what: what.to_string(),
            why: why.to_string(),
            stderr: self.stderr_tail(30),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `condition` every [`POLL`] until it returns `Some`, or fails with `what` at `timeout`.
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut condition: impl FnMut() -> Option<T>,
) -> Result<T, E2eError> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = condition() {
            return Ok(found);
        }
        if Instant::now() >= deadline {
            return Err(E2eError::Timeout {
                what: what.to_string(),
                after: timeout,
            });
        }
        std::thread::sleep(POLL);
    }
}
