//! What a service process listens on, and whether a second process could listen there too
//! (`SO_REUSEPORT`, the default `options.http.reuse_port` on Linux). The development loop uses
//! this to start a new build of a service before stopping the old one, so no request is
//! refused during a restart.
//!
//! Linux only (`/proc/<pid>/net/tcp{,6}` and `/proc/<pid>/fd`); elsewhere a process has no
//! known listeners and restarts stop the old process first.

use std::net::SocketAddr;

/// The TCP addresses process `pid` listens on (empty if unknown).
pub fn listening_addrs(pid: u32) -> Vec<SocketAddr> {
    #[cfg(target_os = "linux")]
    {
        linux::listening_addrs(pid)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        Vec::new()
    }
}

/// Whether another socket can bind `addr` now, beside its current listener, with
/// `SO_REUSEPORT` (true only when that listener set it too).
pub fn can_share(addr: SocketAddr) -> bool {
    #[cfg(all(unix, not(target_os = "solaris"), not(target_os = "illumos")))]
    {
        use socket2::{Domain, Protocol, Socket, Type};
        let Ok(socket) = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        else {
            return false;
        };
        socket.set_reuse_address(true).is_ok()
            && socket.set_reuse_port(true).is_ok()
            && socket.bind(&addr.into()).is_ok()
    }
    #[cfg(not(all(unix, not(target_os = "solaris"), not(target_os = "illumos"))))]
    {
        let _ = addr;
        false
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::BTreeSet;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

    /// The socket inodes among the open files of `pid`.
    fn socket_inodes(pid: u32) -> BTreeSet<u64> {
        let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            return BTreeSet::new();
        };
        entries
            .flatten()
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .filter_map(|target| {
                let t = target.to_string_lossy();
                t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
            })
            .collect()
    }

    /// An address in `/proc/net/tcp` notation: the address as 32-bit words in host byte order
    /// (hex), a colon, the port (hex).
    pub(super) fn parse_addr(s: &str) -> Option<SocketAddr> {
        let (ip, port) = s.split_once(':')?;
        let port = u16::from_str_radix(port, 16).ok()?;
        let words: Vec<u32> = (0..ip.len() / 8)
            .map(|i| u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16).ok())
            .collect::<Option<_>>()?;
        let ip = match words.as_slice() {
            [w] => IpAddr::V4(Ipv4Addr::from(w.to_ne_bytes())),
            [a, b, c, d] => {
                let mut bytes = [0u8; 16];
                for (i, w) in [a, b, c, d].into_iter().enumerate() {
                    bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
                }
                IpAddr::V6(Ipv6Addr::from(bytes))
            }
            _ => return None,
        };
        Some(SocketAddr::new(ip, port))
    }

    /// `(address, inode)` of the listening sockets in a `/proc/net/tcp{,6}` table.
    pub(super) fn listening(table: &str) -> Vec<(SocketAddr, u64)> {
        table
            .lines()
            .skip(1)
            .filter_map(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                // state 0A = TCP_LISTEN
                if f.get(3) != Some(&"0A") {
                    return None;
                }
                Some((parse_addr(f.get(1)?)?, f.get(9)?.parse().ok()?))
            })
            .collect()
    }

    pub(super) fn listening_addrs(pid: u32) -> Vec<SocketAddr> {
        let inodes = socket_inodes(pid);
        if inodes.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for table in ["tcp", "tcp6"] {
            let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
                continue;
            };
            for (addr, inode) in listening(&text) {
                if inodes.contains(&inode) && !out.contains(&addr) {
                    out.push(addr);
                }
            }
        }
        out
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn proc_net_tcp_notation() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F91 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4343 1\n";
        let l = linux::listening(table);
        if cfg!(target_endian = "little") {
            assert_eq!(l, [("127.0.0.1:8080".parse().unwrap(), 4242)]);
        }
        let v6 = linux::parse_addr("00000000000000000000000001000000:0050").unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(v6, "[::1]:80".parse().unwrap());
        }
    }

    #[test]
    fn finds_own_listeners_and_sharing() {
        let plain = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = plain.local_addr().unwrap();
        let mine = listening_addrs(std::process::id());
        assert!(mine.contains(&addr), "{mine:?} lacks {addr}");
        assert!(
            !can_share(addr),
            "a listener without SO_REUSEPORT is not shareable"
        );

        use socket2::{Domain, Protocol, Socket, Type};
        let shared = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        shared.set_reuse_address(true).unwrap();
        shared.set_reuse_port(true).unwrap();
        shared
            .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        shared.listen(16).unwrap();
        let addr = shared.local_addr().unwrap().as_socket().unwrap();
        assert!(can_share(addr));
        assert!(listening_addrs(u32::MAX).is_empty());
    }
}
