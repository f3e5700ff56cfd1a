//! The control socket's server: a Unix domain stream socket, mode 0600, that
//! answers one JSON line per request line (see [`protocol`](super::protocol)).
//!
//! Two locks keep other users out, either enough on its own:
//!
//! 1. **File permissions.** The socket file is created with mode 0600 and owned by
//!    the user running `serve`; connecting to a Unix socket needs write permission
//!    on it, so the kernel refuses everyone else with `EACCES` (root excepted).
//!    To never expose the socket with looser permissions, it is bound under a
//!    temporary name, `chmod`ed, then `rename`d into place (atomic).
//! 2. **Peer credentials.** For each connection the server asks the kernel who is
//!    on the other end (`SO_PEERCRED`, see unix(7)) and answers anyone but root or
//!    its own uid with one `error` reply before hanging up.
//!
//! Bounds: a request line is at most [`MAX_REQUEST`] bytes; a client silent for
//! [`IDLE`] or not reading its replies for [`IDLE`] is dropped; at most
//! [`MAX_CLIENTS`] are served at once (one thread each), the next is told so.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::protocol::{encode, parse_request, Reply, Request, MAX_REQUEST};

/// How long a client may stay silent, or leave a reply unread, before it is dropped.
pub const IDLE: Duration = Duration::from_secs(30);
/// Most clients served at once.
pub const MAX_CLIENTS: usize = 16;

/// Answers one request (the server knows nothing of stacks; see
/// [`answer`](super::answer) for the one `serve` uses).
pub type Answer = Arc<dyn Fn(Request) -> Reply + Send + Sync>;

/// A running control socket. Dropping it stops accepting and removes the file.
pub struct ControlServer {
    path: PathBuf,
    listener: Arc<UnixListener>,
    stopped: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Device and inode of the file we created, so we never remove someone else's.
    file_id: (u64, u64),
}

impl ControlServer {
    /// Create the socket at `path` (and its directory, mode 0755, if missing) and
    /// serve `answer` on a thread. A socket file left by a process that is gone is
    /// replaced; one that still answers is an `AddrInUse` error.
    pub fn start(path: &Path, answer: Answer) -> io::Result<ControlServer> {
        let listener = Arc::new(bind_private(path)?);
        let meta = std::fs::metadata(path)?;
        let stopped = Arc::new(AtomicBool::new(false));
        let thread = {
            let (listener, stopped) = (Arc::clone(&listener), Arc::clone(&stopped));
            std::thread::Builder::new()
                .name("tunstack-control".into())
                .spawn(move || accept_loop(&listener, &stopped, &answer))?
        };
        Ok(ControlServer {
            path: path.to_path_buf(),
            listener,
            stopped,
            thread: Some(thread),
            file_id: (meta.dev(), meta.ino()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        // shutdown(2) on a listening socket wakes a thread blocked in accept(2)
        // (Linux returns EINVAL to it), which then sees `stopped`.
        // SAFETY: a valid descriptor owned by `self.listener`, alive until the join.
        unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::warn!("the control socket's thread panicked");
            }
        }
        let ours = std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.file_id);
        if ours {
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove the control socket");
            }
        }
    }
}

/// Bind a listening socket at `path` that only its owner can connect to.
fn bind_private(path: &Path) -> io::Result<UnixListener> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new().recursive(true).mode(0o755).create(dir).map_err(named)?;
    }
    remove_stale(path)?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let _ = std::fs::remove_file(&temporary);
    let listener = UnixListener::bind(&temporary).map_err(named)?;
    let placed = std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&temporary);
        return Err(named(e));
    }
    Ok(listener)
}

/// Remove a socket file nobody answers on any more (its server died without
/// cleaning up); refuse to touch anything else.
fn remove_stale(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket; choose another --control path", path.display()),
        ));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("another tunstack answers on {}; stop it, or give this one another --control path", path.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => std::fs::remove_file(path),
        Err(e) => Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    }
}

fn accept_loop(listener: &UnixListener, stopped: &AtomicBool, answer: &Answer) {
    let clients = Arc::new(AtomicUsize::new(0));
    loop {
        let accepted = listener.accept();
        if stopped.load(Ordering::SeqCst) {
            return;
        }
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE and the like: back off instead of spinning.
                tracing::warn!(error = %e, "control socket accept failed");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if clients.fetch_add(1, Ordering::SeqCst) >= MAX_CLIENTS {
            clients.fetch_sub(1, Ordering::SeqCst);
            refuse(stream, &format!("busy: {MAX_CLIENTS} clients are connected already"));
            continue;
        }
        let (clients, answer) = (Arc::clone(&clients), Arc::clone(answer));
        let spawned = std::thread::Builder::new().name("tunstack-control-client".into()).spawn(move || {
            if let Err(e) = serve_client(&stream, &answer) {
                tracing::debug!(error = %e, "control client dropped");
            }
            clients.fetch_sub(1, Ordering::SeqCst);
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start a control client thread");
        }
    }
}

/// One `error` reply, then hang up.
fn refuse(mut stream: UnixStream, why: &str) {
    let _ = stream.set_write_timeout(Some(IDLE));
    let _ = stream.write_all(&encode(&Reply::error(why)));
}

/// The uid of the process at the other end of `stream` (unix(7), SO_PEERCRED).
pub fn peer_uid(stream: &UnixStream) -> io::Result<u32> {
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are live and sized for SO_PEERCRED's ucred.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cred.uid)
}

/// Whether a client with `uid` may talk to a server running as `ours`.
pub fn allowed(uid: u32, ours: u32) -> bool {
    uid == 0 || uid == ours
}

/// Answer request lines until the client hangs up, goes quiet, or oversteps.
fn serve_client(stream: &UnixStream, answer: &Answer) -> io::Result<()> {
    // SAFETY: geteuid has no preconditions.
    let ours = unsafe { libc::geteuid() };
    let uid = peer_uid(stream)?;
    if !allowed(uid, ours) {
        tracing::info!(uid, "control socket: refused a client of another user");
        let mut writer = stream;
        return writer.write_all(&encode(&Reply::error(format!(
            "permission denied: uid {uid} may not use this control socket (only uid {ours} or root)"
        ))));
    }
    stream.set_read_timeout(Some(IDLE))?;
    stream.set_write_timeout(Some(IDLE))?;
    let mut reader = BufReader::new(stream);
    let mut writer = stream;
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        // One byte past the bound tells an oversize line from one that just fits.
        let limit = (MAX_REQUEST + 1) as u64;
        let n = reader.by_ref().take(limit).read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        let complete = line.last() == Some(&b'\n');
        if complete {
            line.pop();
        }
        let reply = match parse_request(&line) {
            Ok(request) => answer(request),
            Err(why) => Reply::error(why),
        };
        writer.write_all(&encode(&reply))?;
        if !complete && line.len() > MAX_REQUEST {
            // The rest of that line is still coming, and its end is unknown.
            return Ok(());
        }
    }
}
