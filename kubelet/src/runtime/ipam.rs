//! Pod IPs from the node's `podCIDR`, as CNI's `host-local` plugin hands
//! them out: the network address and the gateway (`.1`) are never given,
//! nor the IPv4 broadcast address; allocation goes round-robin from the
//! last address handed out, so a freed IP is not reused at once; an IP is
//! held by one pod (its UID) until that pod releases it.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The most addresses of one range considered (a `/64` has far more than
/// a node will ever run pods).
const MAX_RANGE: u128 = 1 << 16;

/// Hands out the IPs of one pod CIDR.
#[derive(Debug)]
pub struct IpAllocator {
    cidr: IpNet,
    /// First and last usable address, as integers.
    first: u128,
    last: u128,
    /// Where the next search starts.
    cursor: u128,
    by_owner: HashMap<String, IpAddr>,
    used: HashSet<IpAddr>,
}

/// No address is left.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("no IP addresses available in range set {0}")]
pub struct Exhausted(pub IpNet);

impl IpAllocator {
    /// An allocator over `cidr` with nothing handed out.
    pub fn new(cidr: IpNet) -> IpAllocator {
        let network = to_int(cidr.network());
        let (first, last) = match cidr {
            IpNet::V4(_) => (network + 2, to_int(cidr.broadcast()).saturating_sub(1)),
            IpNet::V6(_) => (network + 2, to_int(cidr.broadcast())),
        };
        let last = last.min(first.saturating_add(MAX_RANGE - 1));
        IpAllocator {
            cidr,
            first,
            last,
            cursor: first,
            by_owner: HashMap::new(),
            used: HashSet::new(),
        }
    }

    /// The range this allocator serves.
    pub fn cidr(&self) -> IpNet {
        self.cidr
    }

    /// How many IPs are held.
    pub fn in_use(&self) -> usize {
        self.used.len()
    }

    /// How many IPs the range has in all.
    pub fn capacity(&self) -> u128 {
        if self.last < self.first {
            0
        } else {
            self.last - self.first + 1
        }
    }

    /// The IP held by `owner`, if any.
    pub fn get(&self, owner: &str) -> Option<IpAddr> {
        self.by_owner.get(owner).copied()
    }

    /// An IP for `owner`: the one it holds already, or the next free one.
    pub fn allocate(&mut self, owner: &str) -> Result<IpAddr, Exhausted> {
        if let Some(ip) = self.get(owner) {
            return Ok(ip);
        }
        let size = self.capacity();
        for step in 0..size {
            let n = self.first + (self.cursor - self.first + step) % size;
            let ip = from_int(n, &self.cidr);
            if !self.used.contains(&ip) {
                self.cursor = if n == self.last { self.first } else { n + 1 };
                self.hold(owner, ip);
                return Ok(ip);
            }
        }
        Err(Exhausted(self.cidr))
    }

    /// Give `owner` exactly `ip` (a pod recovered after a restart). False
    /// when the IP is outside the usable range or held by another owner.
    pub fn reserve(&mut self, owner: &str, ip: IpAddr) -> bool {
        if self.get(owner) == Some(ip) {
            return true;
        }
        let n = to_int(ip);
        let same_family = ip.is_ipv4() == self.cidr.addr().is_ipv4();
        if !same_family || n < self.first || n > self.last || self.used.contains(&ip) {
            return false;
        }
        self.release(owner);
        self.hold(owner, ip);
        true
    }

    /// Free whatever `owner` holds.
    pub fn release(&mut self, owner: &str) {
        if let Some(ip) = self.by_owner.remove(owner) {
            self.used.remove(&ip);
        }
    }

    fn hold(&mut self, owner: &str, ip: IpAddr) {
        self.by_owner.insert(owner.to_string(), ip);
        self.used.insert(ip);
    }
}

fn to_int(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn from_int(n: u128, cidr: &IpNet) -> IpAddr {
    match cidr {
        IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from(n as u32)),
        IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc(cidr: &str) -> IpAllocator {
        IpAllocator::new(cidr.parse().unwrap())
    }

    #[test]
    fn skips_network_gateway_and_broadcast() {
        let mut a = alloc("10.244.3.0/24");
        assert_eq!(a.capacity(), 253);
        let first = a.allocate("a").unwrap();
        assert_eq!(first, "10.244.3.2".parse::<IpAddr>().unwrap());
        let mut all = vec![first];
        for i in 0..252 {
            all.push(a.allocate(&format!("p{i}")).unwrap());
        }
        assert_eq!(
            all.last().unwrap(),
            &"10.244.3.254".parse::<IpAddr>().unwrap()
        );
        assert_eq!(a.allocate("one-too-many"), Err(Exhausted(a.cidr())));
    }

    #[test]
    fn never_hands_out_an_ip_twice() {
        let mut a = alloc("10.244.0.0/28"); // 13 usable
        let mut held: HashMap<String, IpAddr> = HashMap::new();
        // Churn: allocate, free every third, allocate again, many rounds.
        for round in 0..50 {
            for i in 0..13 {
                let owner = format!("r{round}-{i}");
                if let Ok(ip) = a.allocate(&owner) {
                    assert!(
                        !held.values().any(|h| *h == ip),
                        "{ip} handed out while held"
                    );
                    held.insert(owner, ip);
                }
            }
            let to_free: Vec<String> = held.keys().filter(|k| k.len() % 3 == 0).cloned().collect();
            for owner in to_free {
                a.release(&owner);
                held.remove(&owner);
            }
            assert_eq!(a.in_use(), held.len());
        }
    }

    #[test]
    fn freed_ips_come_back_but_not_at_once() {
        let mut a = alloc("10.0.0.0/29"); // .2 .. .6
        let ip_a = a.allocate("a").unwrap();
        a.release("a");
        let ip_b = a.allocate("b").unwrap();
        assert_ne!(ip_a, ip_b, "round-robin: the freed IP is not the next one");
        for o in ["c", "d", "e"] {
            a.allocate(o).unwrap();
        }
        assert_eq!(
            a.allocate("f").unwrap(),
            ip_a,
            "the freed IP is reused once the range wraps"
        );
        assert!(a.allocate("g").is_err());
        a.release("c");
        assert!(a.allocate("g").is_ok());
    }

    #[test]
    fn allocation_is_idempotent_per_owner() {
        let mut a = alloc("10.0.0.0/24");
        let ip = a.allocate("pod").unwrap();
        assert_eq!(a.allocate("pod").unwrap(), ip);
        assert_eq!(a.in_use(), 1);
        a.release("pod");
        a.release("pod");
        assert_eq!(a.in_use(), 0);
    }

    #[test]
    fn reserve_takes_a_specific_free_ip_in_range() {
        let mut a = alloc("10.0.0.0/24");
        let ip: IpAddr = "10.0.0.77".parse().unwrap();
        assert!(a.reserve("x", ip));
        assert!(a.reserve("x", ip), "again for the same owner");
        assert!(!a.reserve("y", ip), "held by another pod");
        assert!(
            !a.reserve("y", "10.0.1.5".parse().unwrap()),
            "outside the range"
        );
        assert!(!a.reserve("y", "10.0.0.1".parse().unwrap()), "the gateway");
        assert!(!a.reserve("y", "10.0.0.255".parse().unwrap()), "broadcast");
        for i in 0..252 {
            if let Ok(got) = a.allocate(&format!("p{i}")) {
                assert_ne!(got, ip);
            }
        }
    }

    #[test]
    fn ipv6_ranges_work() {
        let mut a = alloc("fd00:10:244:1::/64");
        assert_eq!(
            a.allocate("a").unwrap(),
            "fd00:10:244:1::2".parse::<IpAddr>().unwrap()
        );
        assert_eq!(a.capacity(), MAX_RANGE);
    }
}
