//! The runner's side of a child process: spawn this binary in a role (or
//! one of libzmq's perf tools), read its protocol lines with deadlines, and
//! end it by its pid, always.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a child may take to end after its stdin closes before it is
/// killed.
const GRACE: Duration = Duration::from_secs(3);
/// Lines of a child's stderr (and of the stdout lines it skipped) kept to
/// explain a failure.
const STDERR_TAIL: usize = 4;

/// A running child. Dropping it ends it: stdin closes (the child exits),
/// and one still running after [`GRACE`] is killed by its pid.
pub(crate) struct Child {
    name: String,
    process: std::process::Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// The last lines of stdout that [`Child::expect`] skipped: libzmq's
    /// perf tools print their errors there.
    skipped: VecDeque<String>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl Child {
    /// Starts `weirmq-benches role ARGS...`.
    pub(crate) fn spawn(name: String, args: &[String]) -> Result<Child, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut with_role = vec!["role".to_owned()];
        with_role.extend_from_slice(args);
        Child::spawn_program(name, &exe, &with_role)
    }

    /// Starts `program ARGS...` (its stdin a pipe that [`Drop`] closes).
    pub(crate) fn spawn_program(
        name: String,
        program: &Path,
        args: &[String],
    ) -> Result<Child, String> {
        let mut process = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn {name}: {e}"))?;
        let stdout = process.stdout.take().expect("piped");
        let stderr_pipe = process.stderr.take().expect("piped");
        let (tx, lines) = sync_channel(64);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let tail = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines() {
                let Ok(line) = line else { break };
                let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
                if tail.len() == STDERR_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        Ok(Child {
            name,
            stdin: process.stdin.take(),
            process,
            lines,
            skipped: VecDeque::new(),
            stderr,
        })
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.process.id()
    }

    /// Waits for the line starting with `word` (other lines are skipped) and
    /// returns the rest of it.
    pub(crate) fn expect(&mut self, word: &str, deadline: Instant) -> Result<String, String> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(word) {
                        return Ok(rest.trim().to_owned());
                    }
                    if self.skipped.len() == STDERR_TAIL {
                        self.skipped.pop_front();
                    }
                    self.skipped.push_back(line);
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("timeout: {} gave no {word}", self.name));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // Stdout closed: the child is ending. Give it, and the
                    // stderr reader, a moment to tell why.
                    let until = Instant::now() + Duration::from_secs(1);
                    let mut status = None;
                    while status.is_none() && Instant::now() < until {
                        status = self.process.try_wait().ok().flatten();
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    let status = status.map_or("still running".to_owned(), |s| s.to_string());
                    let tail = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
                    let why = self
                        .skipped
                        .iter()
                        .chain(tail.iter())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" / ");
                    return Err(format!(
                        "{} exited ({}) before {word}: {why}",
                        self.name, status
                    ));
                }
            }
        }
    }

    /// Whether the child has not ended yet.
    pub(crate) fn running(&mut self) -> bool {
        matches!(self.process.try_wait(), Ok(None))
    }

    /// Writes a line to the child's stdin.
    pub(crate) fn tell(&mut self, line: &str) {
        if let Some(stdin) = self.stdin.as_mut() {
            // A child that is gone shows up at the next `expect`.
            let _ = writeln!(stdin, "{line}").and_then(|()| stdin.flush());
        }
    }

    /// The child's peak resident set (VmHWM in /proc/PID/status), in KiB.
    pub(crate) fn peak_rss_kib(&self) -> Option<u64> {
        self.status_kib("VmHWM:")
    }

    /// Its resident memory now, in KiB.
    pub(crate) fn rss_kib(&self) -> Option<u64> {
        self.status_kib("VmRSS:")
    }

    /// A KiB field of `/proc/PID/status`.
    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let until = Instant::now() + GRACE;
        while Instant::now() < until {
            if let Ok(Some(_)) = self.process.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        eprintln!(
            "  killing {} (pid {}): still running",
            self.name,
            self.pid()
        );
        // Child::kill sends SIGKILL to this child's pid, and only to it.
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Parses `key=value key=value` into pairs.
pub(crate) fn fields(text: &str) -> Result<Vec<(String, f64)>, String> {
    text.split_whitespace()
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("bad field {kv}"))?;
            let v = v.parse().map_err(|_| format!("bad value in {kv}"))?;
            Ok((k.to_owned(), v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::fields;

    #[test]
    fn result_fields_parse() {
        let f = fields("received=10 secs=0.5").unwrap();
        assert_eq!(f, vec![("received".into(), 10.0), ("secs".into(), 0.5)]);
        assert!(fields("received").is_err());
        assert!(fields("secs=fast").is_err());
    }
}
