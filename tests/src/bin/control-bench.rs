//! Control-plane benchmark (issue 15): acknowledged writes/s and write latency, in one run, of
//! raw etcd (1 and 3 members), Breakout on etcd (one instance on the 1- and on the 3-member
//! etcd) and Breakout on its own Raft (1 and 3 nodes); then the time from SIGKILL of the Raft
//! leader to the next acknowledged write. Run through `deploy/bench/control-plane.sh` (release
//! binaries).
//!
//! Every configuration runs at once (idle between its turns); rounds interleave them (round r
//! measures each configuration with 1 client, then 16), and each figure is the median of the
//! rounds. `CONFIGS=etcd1,etcd3,on-etcd1,on-etcd3,raft1,raft3` picks some (default: all). The clients are the same threads writing back to back with the same payload: a
//! Breakout client POSTs `{"name":"<tag>-<n>"}` to `/v1/regions` on a keep-alive connection
//! (the Raft leader's, or the etcd-backed instance's); a raw etcd client puts that same JSON
//! under `/bench/regions/<tag>-<n>` through `etcd-client` on its own connection to the etcd
//! leader. Both acknowledge only what a majority has fsync'd.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use breakout_tests::control::{Cluster, ControlNode, ADMIN_TOKEN};
use breakout_tests::etcd::{EtcdBackend, EtcdServer};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A keep-alive HTTP/1.1 connection that POSTs JSON and reads `Content-Length` responses.
struct Conn {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        Conn { addr, stream: None }
    }

    /// POSTs `body` to `path`; returns the status code (0 on a transport error).
    fn post(&mut self, path: &str, body: &str) -> u16 {
        match self.try_post(path, body) {
            Ok(s) => s,
            Err(_) => {
                self.stream = None;
                0
            }
        }
    }

    fn try_post(&mut self, path: &str, body: &str) -> std::io::Result<u16> {
        if self.stream.is_none() {
            let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))?;
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            s.set_nodelay(true)?;
            self.stream = Some(BufReader::new(s));
        }
        let Some(r) = self.stream.as_mut() else {
            return Ok(0);
        };
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        r.get_mut().write_all(req.as_bytes())?;
        let mut line = String::new();
        r.read_line(&mut line)?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut len = 0usize;
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut sink = vec![0u8; len];
        r.read_exact(&mut sink)?;
        Ok(status)
    }
}

/// What the clients write to.
#[derive(Clone)]
enum Target {
    /// Breakout's API.
    Api(SocketAddr),
    /// A raw etcd member's client URL.
    Etcd(String),
}

/// One client's connection (one per client thread, made once: its size does not matter).
#[allow(clippy::large_enum_variant)]
enum Writer {
    Api(Conn),
    Etcd(
        tokio::runtime::Runtime,
        Option<etcd_client::KvClient>,
        String,
    ),
}

impl Writer {
    fn new(target: &Target) -> Writer {
        match target {
            Target::Api(addr) => Writer::Api(Conn::new(*addr)),
            Target::Etcd(url) => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime");
                Writer::Etcd(rt, None, url.clone())
            }
        }
    }

    /// Writes `body` (region `name`): whether it was acknowledged.
    fn write(&mut self, name: &str, body: &str) -> bool {
        match self {
            Writer::Api(conn) => conn.post("/v1/regions", body) == 201,
            Writer::Etcd(rt, kv, url) => rt.block_on(async {
                if kv.is_none() {
                    let client = etcd_client::Client::connect([url.as_str()], None).await;
                    *kv = client.ok().map(|c| c.kv_client());
                }
                let Some(client) = kv.as_mut() else {
                    return false;
                };
                let key = format!("/bench/regions/{name}");
                client.put(key, body, None).await.is_ok()
            }),
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// One measurement: writes/s, p50 ms, p99 ms.
#[derive(Clone, Copy, Debug)]
struct Figures {
    rate: f64,
    p50: f64,
    p99: f64,
}

/// `clients` threads write as fast as they are acknowledged for `secs` seconds.
fn load(target: &Target, clients: u64, secs: u64, tag: &str) -> Figures {
    let seq = Arc::new(AtomicU64::new(0));
    // Connections are made before the clock starts.
    let mut writers: Vec<Writer> = (0..clients).map(|_| Writer::new(target)).collect();
    for (i, w) in writers.iter_mut().enumerate() {
        let name = format!("{tag}-warm-{i}");
        w.write(&name, &format!("{{\"name\":\"{name}\"}}"));
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let handles: Vec<_> = writers
        .into_iter()
        .map(|mut writer| {
            let seq = Arc::clone(&seq);
            let tag = tag.to_string();
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                while Instant::now() < deadline {
                    let n = seq.fetch_add(1, Ordering::Relaxed);
                    let name = format!("{tag}-{n}");
                    let body = format!("{{\"name\":\"{name}\"}}");
                    let t = Instant::now();
                    if writer.write(&name, &body) {
                        lat.push(t.elapsed());
                    }
                }
                lat
            })
        })
        .collect();
    let mut all: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap_or_default())
        .collect();
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    Figures {
        rate: all.len() as f64 / elapsed,
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The etcd leader among `members` (clients write there, as Breakout's clients write to the
/// Raft leader).
fn etcd_leader(members: &[Arc<EtcdServer>]) -> String {
    for _ in 0..100 {
        if let Some(m) = members
            .iter()
            .find(|m| m.status().is_some_and(|s| s.is_leader()))
        {
            return m.url();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no etcd leader");
}

/// SIGKILL the leader; time until a write through a survivor is acknowledged.
fn failover(cluster: &mut Cluster, round: u64) -> f64 {
    let leader = cluster.wait_leader(Duration::from_secs(30));
    let survivor = (leader + 1) % cluster.nodes.len();
    let mut conn = Conn::new(cluster.nodes[survivor].api);
    let warm = format!("{{\"name\":\"warm-{round}\"}}");
    assert_eq!(conn.post("/v1/regions", &warm), 201, "warm-up write");
    let t0 = Instant::now();
    cluster.nodes[leader].kill9();
    let mut n = 0;
    loop {
        n += 1;
        if conn.post("/v1/regions", &format!("{{\"name\":\"fo-{round}-{n}\"}}")) == 201 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no write acknowledged within 60 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let secs = t0.elapsed().as_secs_f64();
    cluster.nodes[leader].restart();
    cluster.wait_voters(cluster.nodes.len());
    secs
}

/// One configuration: its name, what its clients write to, the raw etcd it is compared with.
struct Config {
    name: &'static str,
    target: Target,
    anchor: Option<&'static str>,
}

/// The processes a run keeps alive (dropped at its end).
#[derive(Default)]
struct Running {
    etcd1: Option<Arc<EtcdServer>>,
    etcd3: Option<Vec<Arc<EtcdServer>>>,
    nodes: Vec<ControlNode>,
    clusters: Vec<Cluster>,
}

impl Running {
    fn etcd1(&mut self) -> Arc<EtcdServer> {
        Arc::clone(self.etcd1.get_or_insert_with(EtcdServer::start))
    }

    fn etcd3(&mut self) -> Vec<Arc<EtcdServer>> {
        self.etcd3
            .get_or_insert_with(|| EtcdServer::cluster(3))
            .clone()
    }

    fn on_etcd(&mut self, backend: EtcdBackend) -> Target {
        let node = ControlNode::start_with_store(1, false, &[], Some(backend));
        let api = node.api;
        self.nodes.push(node);
        Target::Api(api)
    }

    fn raft(&mut self, nodes: u64) -> Target {
        let cluster = Cluster::start(nodes);
        let api = cluster.nodes[cluster.wait_leader(Duration::from_secs(30))].api;
        self.clusters.push(cluster);
        Target::Api(api)
    }
}

/// The configurations named in `CONFIGS` (default: all), started.
fn start(wanted: &[String], running: &mut Running) -> Vec<Config> {
    let all = ["etcd1", "etcd3", "on-etcd1", "on-etcd3", "raft1", "raft3"];
    let mut configs = Vec::new();
    for id in all
        .iter()
        .filter(|id| wanted.is_empty() || wanted.iter().any(|w| w == *id))
    {
        let (name, target, anchor) = match *id {
            "etcd1" => (
                "raw etcd, 1 member",
                Target::Etcd(running.etcd1().url()),
                None,
            ),
            "etcd3" => (
                "raw etcd, 3 members",
                Target::Etcd(etcd_leader(&running.etcd3())),
                None,
            ),
            "on-etcd1" => {
                let backend = EtcdBackend::on(running.etcd1());
                (
                    "Breakout on etcd, 1 member",
                    running.on_etcd(backend),
                    Some("etcd1"),
                )
            }
            "on-etcd3" => {
                let backend = EtcdBackend::on_members(running.etcd3());
                (
                    "Breakout on etcd, 3 members",
                    running.on_etcd(backend),
                    Some("etcd3"),
                )
            }
            "raft1" => ("Breakout on Raft, 1 node", running.raft(1), Some("etcd1")),
            _ => ("Breakout on Raft, 3 nodes", running.raft(3), Some("etcd3")),
        };
        configs.push((
            *id,
            Config {
                name,
                target,
                anchor,
            },
        ));
    }
    let ids: Vec<&str> = configs.iter().map(|(id, _)| *id).collect();
    configs
        .into_iter()
        .map(|(_, mut c)| {
            // A ratio only against an anchor measured in the same run.
            c.anchor = c.anchor.filter(|a| ids.contains(a));
            c
        })
        .collect()
}

fn main() {
    let secs = env_u64("DURATION", 5);
    let runs = env_u64("RUNS", 3);
    let failovers = env_u64("FAILOVERS", 3);
    let wanted: Vec<String> = std::env::var("CONFIGS")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let client_counts = [1u64, 16];
    let mut running = Running::default();
    let configs = start(&wanted, &mut running);
    let index_of = |id: &str| -> Option<usize> {
        let name = match id {
            "etcd1" => "raw etcd, 1 member",
            _ => "raw etcd, 3 members",
        };
        configs.iter().position(|c| c.name == name)
    };

    // results[config][clients] = one Figures per round.
    let mut results = vec![vec![Vec::<Figures>::new(); client_counts.len()]; configs.len()];
    for round in 0..runs {
        for (c, config) in configs.iter().enumerate() {
            for (k, clients) in client_counts.iter().enumerate() {
                let tag = format!("c{c}k{clients}r{round}");
                let f = load(&config.target, *clients, secs, &tag);
                eprintln!(
                    "round {round}: {} x{clients}: {:.0} writes/s p50 {:.2} p99 {:.2}",
                    config.name, f.rate, f.p50, f.p99
                );
                results[c][k].push(f);
            }
        }
    }

    println!("| configuration | clients | writes/s | p50 ms | p99 ms | writes/s vs raw etcd |");
    println!("|---|---:|---:|---:|---:|---:|");
    let med =
        |c: usize, k: usize, f: fn(&Figures) -> f64| median(results[c][k].iter().map(f).collect());
    for (c, config) in configs.iter().enumerate() {
        for (k, clients) in client_counts.iter().enumerate() {
            let rate = med(c, k, |f| f.rate);
            let ratio = match config.anchor.and_then(index_of) {
                Some(a) => format!("{:.2}", rate / med(a, k, |f| f.rate)),
                None if config.name.starts_with("raw") => "(anchor)".into(),
                None => "-".into(),
            };
            println!(
                "| {} | {clients} | {rate:.0} | {:.2} | {:.2} | {ratio} |",
                config.name,
                med(c, k, |f| f.p50),
                med(c, k, |f| f.p99),
            );
        }
    }
    drop(running);

    if failovers == 0 {
        return;
    }
    let mut raft3 = Cluster::start(3);
    let mut times: Vec<f64> = (0..failovers)
        .map(|round| failover(&mut raft3, round))
        .collect();
    times.sort_by(f64::total_cmp);
    let all: Vec<String> = times.iter().map(|t| format!("{t:.2}")).collect();
    println!(
        "\nkill -9 of the Raft leader to the next acknowledged write: median {:.2} s (runs: {} s)",
        times[times.len() / 2],
        all.join(", ")
    );
}
