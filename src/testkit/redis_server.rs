//! A `redis-server` of a test's own, on a free port.

use std::{
    fmt,
    io::{self, BufRead as _, BufReader, Read as _, Write as _},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// How long a started server may take to answer `PING`.
const STARTUP: Duration = Duration::from_secs(15);

/// A real `redis-server` started for a test (never a mock), on a free port of the loopback
/// interface, with no persistence (`--save "" --appendonly no`) and its working directory
/// in a temporary directory. Dropping it kills the server and removes the directory.
///
/// It installs nothing: when `redis-server` is not on `PATH`, [`start`](Self::start)
/// fails with an error that names the package to install (Debian's and Ubuntu's
/// `redis-server`), so a test fails loudly instead of being skipped. The project's CI
/// installs it before the tests run.
///
/// [`kill`](Self::kill) and [`restart`](Self::restart) (on the same port) test what a
/// client does when Redis goes away and comes back; [`kill_clients`](Self::kill_clients)
/// what it does when Redis closes its connection (as an idle timeout or a failover does),
/// and [`clients`](Self::clients) whether it has connected again by itself.
///
/// The methods block (they start a process and wait for it): call them from a test's
/// body, not from a busy runtime's worker.
///
/// ```
/// use vocals_callback::testkit::RedisServer;
///
/// let mut redis = RedisServer::start()?;
/// let url = redis.url(); // redis://127.0.0.1:<port>/
/// redis.kill();          // requests now fail: 503s
/// redis.restart()?;      // the same port, empty (nothing persisted)
/// # let _ = url;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers `PING`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotFound`] when `redis-server` is not on `PATH`; any other error
    /// when it cannot be started or does not answer in time.
    pub fn start() -> io::Result<Self> {
        ensure_installed()?;
        let mut last = None;
        // The free port is found by binding port 0 and letting it go, so another process
        // may take it before the server binds it: try a few.
        for _ in 0..5 {
            let port = free_port()?;
            let dir = temp_dir(port)?;
            let mut server = Self {
                port,
                dir,
                child: None,
            };
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("redis-server did not start")))
    }

    /// The URL to connect to: `redis://127.0.0.1:<port>/`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `true` while the server runs (between a start and a [`kill`](Self::kill)).
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server (`SIGKILL`, as a crash) and waits for it to exit. Its data is gone:
    /// nothing is persisted.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server if it runs and starts a new, empty one on the same port, waiting
    /// until it answers `PING`.
    ///
    /// # Errors
    ///
    /// When the server cannot be started or does not answer in time.
    pub fn restart(&mut self) -> io::Result<()> {
        self.kill();
        // The port was the server's: no one else is likely to take it in between, but a
        // socket of the old one may linger a moment.
        let deadline = Instant::now() + STARTUP;
        loop {
            match self.spawn() {
                Ok(()) => return Ok(()),
                Err(err) if Instant::now() >= deadline => return Err(err),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Sends one command over a connection of its own and answers the reply as text: a
    /// simple string, a bulk string (empty for nil) or an integer in decimal. For a look at
    /// the server that does not go through the client under test.
    ///
    /// ```
    /// use vocals_callback::testkit::RedisServer;
    ///
    /// let redis = RedisServer::start()?;
    /// assert_eq!(redis.command(&["SET", "k", "v"])?, "OK");
    /// assert_eq!(redis.command(&["GET", "k"])?, "v");
    /// assert_eq!(redis.command(&["EXISTS", "k"])?, "1");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// When the server is not running or does not answer within a second; an error reply
    /// (`-ERR …`) as [`io::ErrorKind::Other`] with its text; an array reply as
    /// [`io::ErrorKind::Unsupported`] (no command this is meant for answers one).
    pub fn command(&self, args: &[&str]) -> io::Result<String> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
        stream.set_read_timeout(Some(Duration::from_secs(1)))?;
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        stream.write_all(&request)?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end_matches(['\r', '\n']);
        let (kind, rest) = line.split_at(line.len().min(1));
        match kind {
            "+" | ":" => Ok(rest.to_owned()),
            "-" => Err(io::Error::other(rest.to_owned())),
            "$" if rest == "-1" => Ok(String::new()),
            "$" => {
                let len: usize = rest
                    .parse()
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, line.to_owned()))?;
                let mut bulk = vec![0u8; len + 2];
                reader.read_exact(&mut bulk)?;
                bulk.truncate(len);
                String::from_utf8(bulk).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
            }
            "*" => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "an array reply (not read by this helper)",
            )),
            _ => Err(io::Error::new(io::ErrorKind::InvalidData, line.to_owned())),
        }
    }

    /// Closes every client connection (`CLIENT KILL TYPE normal`) but the one it asks on,
    /// as Redis does to an idle client past its `timeout`, or a failover to everyone; answers
    /// how many were closed.
    ///
    /// ```
    /// use vocals_callback::testkit::RedisServer;
    ///
    /// let redis = RedisServer::start()?;
    /// assert_eq!(redis.kill_clients()?, 0); // no client is connected
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`command`](Self::command).
    pub fn kill_clients(&self) -> io::Result<u64> {
        let killed = self.command(&["CLIENT", "KILL", "TYPE", "normal"])?;
        killed
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, killed))
    }

    /// How many normal clients are connected, not counting the connection that asks: a
    /// client that reconnects by itself shows here without sending anything.
    ///
    /// ```
    /// use vocals_callback::testkit::RedisServer;
    ///
    /// let redis = RedisServer::start()?;
    /// assert_eq!(redis.clients()?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`command`](Self::command).
    pub fn clients(&self) -> io::Result<usize> {
        // One line per client, this one's included.
        let list = self.command(&["CLIENT", "LIST", "TYPE", "normal"])?;
        Ok(list.lines().count().saturating_sub(1))
    }

    /// Starts `redis-server` on `self.port` and waits for its `PONG`.
    fn spawn(&mut self) -> io::Result<()> {
        let log = self.dir.join("redis.log");
        let mut child = Command::new("redis-server")
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&log)
            .args(["--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let deadline = Instant::now() + STARTUP;
        loop {
            if ping(self.port).is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            if let Some(status) = child.try_wait()? {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                return Err(io::Error::other(format!(
                    "redis-server on port {} exited ({status}): {}",
                    self.port,
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                )));
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("redis-server on port {} did not answer PING", self.port),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl fmt::Debug for RedisServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisServer")
            .field("port", &self.port)
            .field("running", &self.is_running())
            .finish_non_exhaustive()
    }
}

/// Sends `PING` over a plain socket and expects `+PONG` (RESP, no client library needed).
fn ping(port: u16) -> io::Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    stream.write_all(b"PING\r\n")?;
    let mut answer = [0u8; 7];
    stream.read_exact(&mut answer)?;
    if &answer == b"+PONG\r\n" {
        Ok(())
    } else {
        // `-LOADING` and the like: not ready yet.
        Err(io::Error::other("not ready"))
    }
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// A fresh directory for one server's files (it writes none with persistence off, but a
/// working directory of its own keeps a stray dump out of the project).
fn temp_dir(port: u16) -> io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "vocals-redis-{}-{port}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Checks once per process that `redis-server` runs: an error naming the package when not.
fn ensure_installed() -> io::Result<()> {
    static FOUND: OnceLock<bool> = OnceLock::new();
    let found = *FOUND.get_or_init(|| {
        Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    });
    if found {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            "redis-server is not on PATH: install Debian's or Ubuntu's package \
             `redis-server` (Homebrew's `redis` on macOS)",
        ))
    }
}
