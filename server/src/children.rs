//! Child processes: started, awaited until they say they are ready,
//! stopped politely (SIGTERM, then SIGKILL after a grace period), and never
//! left behind (`kill_on_drop`). The demo supervises Redis and the
//! stand-ins with it; the benchmarks start their throwaway Redis with it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a child may take to say it is ready.
const READY_WITHIN: Duration = Duration::from_secs(20);
/// How long a child may take to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Why a child could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    /// It could not be spawned at all.
    #[error("could not start {name} ({program}): {reason}")]
    Spawn {
        /// Which child.
        name: String,
        /// The executable tried.
        program: String,
        /// The OS's reason.
        reason: String,
    },
    /// It started but never said it was ready.
    #[error("{name} did not become ready (waited for '{marker}' on its output)")]
    NotReady {
        /// Which child.
        name: String,
        /// The line it should have printed.
        marker: &'static str,
    },
}

/// A port nobody listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// One restartable child process.
#[derive(Debug)]
pub struct Supervised {
    /// Shown in logs and errors (`redis`, `api-1`).
    pub name: String,
    /// The executable.
    program: PathBuf,
    /// Its arguments, reused on every start.
    args: Vec<String>,
    /// A stdout line containing this means the child is ready.
    ready_marker: &'static str,
    /// Whether to copy the child's later output to our stderr.
    echo: bool,
    /// The running process, `None` while stopped.
    child: Option<Child>,
}

impl Supervised {
    /// A child that is not started yet.
    pub fn new(
        name: impl Into<String>,
        program: impl Into<PathBuf>,
        args: Vec<String>,
        ready_marker: &'static str,
        echo: bool,
    ) -> Self {
        Self {
            name: name.into(),
            program: program.into(),
            args,
            ready_marker,
            echo,
            child: None,
        }
    }

    /// A throwaway `redis-server` on loopback `port`, without persistence.
    pub fn redis_server(port: u16) -> Self {
        let args = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ];
        Self::new(
            "redis",
            "redis-server",
            args.map(String::from).to_vec(),
            "Ready to accept connections",
            false,
        )
    }

    /// Whether the process is alive.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Starts the process (if not running) and waits until it is ready.
    pub async fn start(&mut self) -> Result<(), ChildError> {
        if self.is_running() {
            return Ok(());
        }
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if self.echo {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ChildError::Spawn {
                name: self.name.clone(),
                program: self.program.display().to_string(),
                reason: e.to_string(),
            })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        self.child = Some(child);
        let mut lines = BufReader::new(stdout).lines();
        let marker = self.ready_marker;
        let ready = tokio::time::timeout(READY_WITHIN, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains(marker) {
                    return true;
                }
            }
            false
        })
        .await;
        if ready != Ok(true) {
            self.stop().await;
            return Err(ChildError::NotReady {
                name: self.name.clone(),
                marker,
            });
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        let (name, echo) = (self.name.clone(), self.echo);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if echo {
                    eprintln!("[{name}] {line}");
                }
            }
        });
        Ok(())
    }

    /// SIGTERM, then SIGKILL if it has not exited within the grace period.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_ok() {
                return;
            }
        }
        let _ = child.kill().await;
    }
}
