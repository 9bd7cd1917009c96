//! A fault-injecting HTTP/1.1 proxy for tests, between clients and the server on loopback.
//!
//! It frames requests and responses by `Content-Length` (what our client and server use) and
//! applies the next scheduled fault to each request whose path matches.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwarded untouched.
    Pass,
    /// The request never reaches the server; the connection closes.
    DropRequest,
    /// The server handles the request, but its response is lost.
    DropResponse,
    /// The request reaches the server twice; the client gets the second answer.
    Duplicate,
    /// Forwarded after a delay.
    Delay(Duration),
    /// The server handles it; the client gets half the response, then the connection closes.
    Truncate,
    /// The connection is reset before anything is read.
    Reset,
    /// Half of the request body reaches the server, then both connections close (an upload
    /// cut off mid-way).
    CutRequest,
    /// Forwarded as usual, and sent to the server once more, stale, just before the next
    /// matching request (requests arriving out of order).
    Replay,
}

/// Counters of what the proxy did.
#[derive(Debug, Default, Clone)]
pub struct ProxyStats {
    pub requests: u64,
    pub faults: u64,
    /// Bytes of matching requests that reached the server (heads and bodies).
    pub bytes_to_server: u64,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    schedule: Arc<Mutex<VecDeque<Fault>>>,
    stale: Arc<Mutex<Option<Vec<u8>>>>,
    stats: Arc<Mutex<ProxyStats>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy to `upstream`; faults apply to requests whose path starts with `path`.
    pub async fn start(upstream: SocketAddr, path: &'static str) -> FaultProxy {
        Self::start_many(vec![upstream], path).await
    }

    /// A proxy in front of several nodes, like a load balancer that sends each request to the
    /// next node in turn (a new connection per request); a node that does not answer costs the
    /// client that request, as a dead node behind a balancer would.
    pub async fn start_many(upstreams: Vec<SocketAddr>, path: &'static str) -> FaultProxy {
        let upstreams = Arc::new(upstreams);
        let turn = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let schedule: Arc<Mutex<VecDeque<Fault>>> = Arc::default();
        let stats: Arc<Mutex<ProxyStats>> = Arc::default();
        let stale: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
        let (s, st, sl) = (schedule.clone(), stats.clone(), stale.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let (s, st, sl) = (s.clone(), st.clone(), sl.clone());
                let (ups, turn) = (upstreams.clone(), turn.clone());
                tokio::spawn(async move {
                    let _ = serve(client, &ups, &turn, path, s, st, sl).await;
                });
            }
        });
        FaultProxy {
            addr,
            schedule,
            stale,
            stats,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues faults for the next matching requests (then requests pass).
    pub fn schedule(&self, faults: impl IntoIterator<Item = Fault>) {
        self.schedule.lock().unwrap().extend(faults);
    }

    pub fn pending(&self) -> usize {
        self.schedule.lock().unwrap().len()
    }

    /// Forgets queued faults (a request waiting to be replayed still is, before the next one).
    pub fn clear_faults(&self) {
        self.schedule.lock().unwrap().clear();
    }

    /// Forgets queued faults and a request waiting to be replayed.
    pub fn clear(&self) {
        self.schedule.lock().unwrap().clear();
        self.stale.lock().unwrap().take();
    }

    pub fn stats(&self) -> ProxyStats {
        self.stats.lock().unwrap().clone()
    }
}

/// Reads one HTTP/1.1 message (head + Content-Length body). `None` at a clean end of stream.
async fn read_message(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Vec<u8>>> {
    read_message_to(stream, buf, false).await
}

/// [`read_message`]; `no_body` for the response to a HEAD request, whose Content-Length
/// describes a body that is never sent.
async fn read_message_to(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    no_body: bool,
) -> std::io::Result<Option<Vec<u8>>> {
    loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|_| !no_body)
                .unwrap_or(0);
            let total = end + 4 + len;
            while buf.len() < total {
                let mut chunk = [0u8; 64 * 1024];
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let msg = buf[..total].to_vec();
            buf.drain(..total);
            return Ok(Some(msg));
        }
        let mut chunk = [0u8; 64 * 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn round_trip(
    upstream: &mut TcpStream,
    ubuf: &mut Vec<u8>,
    req: &[u8],
) -> std::io::Result<Vec<u8>> {
    upstream.write_all(req).await?;
    read_message_to(upstream, ubuf, req.starts_with(b"HEAD "))
        .await?
        .ok_or_else(|| std::io::ErrorKind::UnexpectedEof.into())
}

async fn serve(
    mut client: TcpStream,
    upstreams: &[SocketAddr],
    turn: &std::sync::atomic::AtomicUsize,
    path: &str,
    schedule: Arc<Mutex<VecDeque<Fault>>>,
    stats: Arc<Mutex<ProxyStats>>,
    stale: Arc<Mutex<Option<Vec<u8>>>>,
) -> std::io::Result<()> {
    let mut connection = match upstreams {
        [one] => Some(TcpStream::connect(one).await?),
        _ => None,
    };
    let (mut cbuf, mut ubuf) = (Vec::new(), Vec::new());
    loop {
        let Some(req) = read_message(&mut client, &mut cbuf).await? else {
            return Ok(());
        };
        if upstreams.len() > 1 {
            let next = turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % upstreams.len();
            connection = Some(TcpStream::connect(upstreams[next]).await?);
            ubuf.clear();
        }
        let upstream = connection.as_mut().expect("connected");
        let first_line = String::from_utf8_lossy(&req[..req.len().min(200)]).to_string();
        let matches = first_line
            .split_whitespace()
            .nth(1)
            .is_some_and(|p| p.starts_with(path));
        let fault = if matches {
            schedule.lock().unwrap().pop_front().unwrap_or(Fault::Pass)
        } else {
            Fault::Pass
        };
        let replay = if matches {
            stale.lock().unwrap().take()
        } else {
            None
        };
        if let Some(old) = replay {
            // The stale request reaches the server first; its answer goes nowhere.
            let _ = round_trip(upstream, &mut ubuf, &old).await?;
        }
        {
            let mut s = stats.lock().unwrap();
            s.requests += 1;
            if fault != Fault::Pass {
                s.faults += 1;
            }
            if matches {
                s.bytes_to_server += match fault {
                    Fault::DropRequest | Fault::Reset => 0,
                    Fault::Duplicate => 2 * req.len() as u64,
                    Fault::CutRequest => req.len() as u64 / 2,
                    _ => req.len() as u64,
                };
            }
        }
        match fault {
            Fault::Replay => {
                *stale.lock().unwrap() = Some(req.clone());
                let resp = round_trip(upstream, &mut ubuf, &req).await?;
                client.write_all(&resp).await?;
            }
            Fault::Pass => {
                let resp = round_trip(upstream, &mut ubuf, &req).await?;
                client.write_all(&resp).await?;
            }
            Fault::Delay(d) => {
                tokio::time::sleep(d).await;
                let resp = round_trip(upstream, &mut ubuf, &req).await?;
                client.write_all(&resp).await?;
            }
            Fault::DropRequest => return Ok(()),
            Fault::Reset => {
                // Linger 0: the kernel answers with RST instead of FIN.
                #[allow(deprecated)]
                let _ = client.set_linger(Some(Duration::ZERO));
                return Ok(());
            }
            Fault::DropResponse => {
                round_trip(upstream, &mut ubuf, &req).await?;
                return Ok(());
            }
            Fault::Duplicate => {
                round_trip(upstream, &mut ubuf, &req).await?;
                let resp = round_trip(upstream, &mut ubuf, &req).await?;
                client.write_all(&resp).await?;
            }
            Fault::CutRequest => {
                let body_start = find(&req, b"\r\n\r\n").map_or(0, |i| i + 4);
                let cut = body_start + (req.len() - body_start) / 2;
                upstream.write_all(&req[..cut]).await?;
                upstream.flush().await?;
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Ok(());
            }
            Fault::Truncate => {
                let resp = round_trip(upstream, &mut ubuf, &req).await?;
                client.write_all(&resp[..resp.len() / 2]).await?;
                client.flush().await?;
                return Ok(());
            }
        }
    }
}
