//! A service binary run by tests: started on a free port over a database of its own, talked to
//! over real HTTP, stopped with SIGTERM and restarted over the same data. Failures panic with
//! the service's log, as a test wants.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (a JSON string when it is not JSON).
    pub body: Value,
}

impl Answer {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A running service binary.
pub struct ServiceProcess {
    binary: PathBuf,
    dir: PathBuf,
    address: SocketAddr,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl ServiceProcess {
    /// Starts `binary serve` on a free port with a fresh database; waits until `/readyz` answers.
    pub fn start(binary: impl AsRef<Path>) -> Self {
        Self::start_with(binary, &[])
    }

    /// [`start`](Self::start) with extra environment variables (like `EVENTSMITH_TOKEN`).
    pub fn start_with(binary: impl AsRef<Path>, env: &[(&str, &str)]) -> Self {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "eventsmith-service-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let mut process = ServiceProcess {
            binary: binary.as_ref().to_path_buf(),
            dir,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            child: None,
        };
        process.launch();
        process
    }

    /// The database URL it runs on: `DATABASE_URL` if started with one (a PostgreSQL
    /// database several instances share, say), else `sqlite://<temporary dir>/events.db`.
    pub fn database_url(&self) -> String {
        match self.env.iter().find(|(key, _)| key == "DATABASE_URL") {
            Some((_, url)) => url.clone(),
            None => format!("sqlite://{}", self.dir.join("events.db").display()),
        }
    }

    /// The directory holding its database and log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("service.log"))
            .expect("a log file");
        let mut command = Command::new(&self.binary);
        command
            .arg("serve")
            // Port 0: the service says which port it got (no race for a "free" one).
            .env("EVENTSMITH_LISTEN", "127.0.0.1:0")
            .env("DATABASE_URL", self.database_url())
            .env_remove("EVENTSMITH_TOKEN")
            .env_remove("EVENTSMITH_READ_TOKEN")
            .env_remove("EVENTSMITH_CORS_ORIGINS")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("a log file"))
            .stderr(log);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        self.child = Some(child);
        let started = self.logs().len();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "the service exited ({status}) before it was ready:\n{}",
                    self.logs()
                );
            }
            let logs = self.logs();
            let listening = logs
                .get(started..)
                .unwrap_or_default()
                .lines()
                .find_map(|line| {
                    line.strip_prefix("listening on http://")?
                        .trim()
                        .parse()
                        .ok()
                });
            if let Some(address) = listening {
                self.address = address;
                if try_request(address, "GET", "/readyz", &[], b"").is_some_and(|a| a.status == 200)
                {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the service was not ready within 60 s:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// What it has logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.join("service.log")).unwrap_or_default()
    }

    /// Sends a request; `body` is sent as JSON.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        try_request(self.address, method, path, headers, body)
            .unwrap_or_else(|| panic!("no answer to {method} {path}:\n{}", self.logs()))
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Answer {
        self.request("GET", path, &[], b"")
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Answer {
        self.request("POST", path, &[], body.to_string().as_bytes())
    }

    /// Polls `GET path` until `ready` holds of the answer (10 s at most).
    pub fn wait_for(&self, path: &str, ready: impl Fn(&Answer) -> bool) -> Answer {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answer = self.get(path);
            if ready(&answer) {
                return answer;
            }
            assert!(
                Instant::now() < deadline,
                "GET {path} never got there; last answer: {answer:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it with SIGTERM (a kill elsewhere) and waits for it to exit.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the service is running");
        #[cfg(unix)]
        {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        #[cfg(not(unix))]
        {
            let _ = child.kill();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("the service's status") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the service did not stop within 30 s:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills it with SIGKILL (a crash: no graceful stop) and waits until it is gone.
    pub fn kill(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the service is running");
        let _ = child.kill();
        child.wait().expect("the service's status")
    }

    /// Starts it again over the same database (on a new port).
    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        self.launch();
    }

    /// Runs another subcommand (`replay`, `dlq`) of the binary on the same database (with
    /// the environment it was started with).
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.binary)
            .args(args)
            .env("DATABASE_URL", self.database_url())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.binary.display()))
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One request to `address` on a fresh connection (blocking); `None` when nothing answers.
pub fn try_request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<Answer> {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    // The address as host, and JSON, unless the caller says otherwise.
    let given = |header: &str| {
        headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(header))
    };
    if !given("host") {
        request.push_str(&format!("Host: {address}\r\n"));
    }
    if !given("content-type") {
        request.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    // A server may answer (413) before reading the whole body.
    let _ = stream.write_all(&bytes);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    Some(Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    })
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        raw = &raw[end + 2..];
        if size == 0 || raw.len() < size {
            break;
        }
        body.extend_from_slice(&raw[..size]);
        raw = raw.get(size + 2..).unwrap_or_default();
    }
    body
}
