//! The libzmq 4.3.5 draft-API peer (`peers/c/draft_peer.c`, built by the
//! `peers` crate) as a child process: started with its arguments, read
//! line by line with a deadline, and killed (by its own pid) if it is still
//! running when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The program's path, set by this crate's build script.
pub const PROGRAM: &str = env!("WEIRMQ_LIBZMQ_DRAFT_PEER");

/// A running draft peer.
pub struct DraftPeer {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl DraftPeer {
    /// Starts it with `args` (and `env`), and waits for its READY line.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> DraftPeer {
        let mut child = Command::new(PROGRAM)
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {PROGRAM}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        // Bounded: a reader that falls behind holds the peer back.
        let (tx, lines) = mpsc::sync_channel(1024);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut peer = DraftPeer { child, lines };
        let ready = peer.next_line(crate::STEP);
        assert_eq!(
            ready.as_deref(),
            Some("READY"),
            "the draft peer did not start"
        );
        peer
    }

    /// Its next line, or `None` once it has exited (or after `wait`).
    pub fn next_line(&mut self, wait: Duration) -> Option<String> {
        self.lines.recv_timeout(wait).ok()
    }

    /// Every line it prints until it exits (bounded by [`crate::STEP`]).
    pub fn rest(&mut self) -> Vec<String> {
        let deadline = Instant::now() + crate::STEP;
        let mut lines = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => return lines,
                Err(mpsc::RecvTimeoutError::Timeout) => break,
            }
        }
        panic!("the draft peer did not exit; it printed {lines:?}");
    }
}

impl Drop for DraftPeer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A message's frames as the draft peer prints them: each in hex, an empty
/// one as "-", separated by spaces.
pub fn frames_line(frames: &[bytes::Bytes]) -> String {
    frames
        .iter()
        .map(|f| {
            if f.is_empty() {
                "-".to_owned()
            } else {
                f.iter().map(|b| format!("{b:02x}")).collect()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
