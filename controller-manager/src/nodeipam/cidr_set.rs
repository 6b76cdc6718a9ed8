//! A bitmap over the node-sized subnets of the cluster CIDR, as upstream's
//! `cidrset.CidrSet`: bit *i* is the *i*-th `/mask` block of the range.
//!
//! Allocation scans round-robin from just after the last block handed out,
//! so a block freed by a deleted node is not reused at once (pods of the
//! old node may still hold its addresses somewhere) — only when the scan
//! wraps around.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Why a CIDR could not be allocated or occupied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CidrError {
    /// Every block is taken.
    #[error("CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range")]
    Full,
    /// The CIDR is not inside the cluster CIDR.
    #[error("CIDR {cidr} is out of the range of the cluster CIDR {cluster}")]
    OutOfRange { cidr: String, cluster: Ipv4Net },
    /// Not an IPv4 CIDR.
    #[error("{0:?} is not an IPv4 CIDR")]
    Invalid(String),
    /// The node mask is shorter than the cluster's, or too long to count.
    #[error("node mask /{node} does not fit in the cluster CIDR {cluster}")]
    BadMask { node: u8, cluster: Ipv4Net },
}

/// Which `/mask` blocks of the cluster CIDR are in use.
#[derive(Clone, Debug)]
pub struct CidrSet {
    cluster: Ipv4Net,
    node_mask: u8,
    used: Vec<u64>,
    max: usize,
    allocated: usize,
    next_candidate: usize,
}

impl CidrSet {
    /// All `/node_mask` blocks of `cluster`, none in use. Like upstream, at
    /// most 2^16 blocks (a `/8` split into `/24`s).
    pub fn new(cluster: Ipv4Net, node_mask: u8) -> Result<CidrSet, CidrError> {
        let cluster = cluster.trunc();
        let bits = i32::from(node_mask) - i32::from(cluster.prefix_len());
        if !(0..=16).contains(&bits) || node_mask > 32 {
            return Err(CidrError::BadMask {
                node: node_mask,
                cluster,
            });
        }
        let max = 1usize << bits;
        Ok(CidrSet {
            cluster,
            node_mask,
            used: vec![0; max.div_ceil(64)],
            max,
            allocated: 0,
            next_candidate: 0,
        })
    }

    /// How many blocks there are.
    pub fn capacity(&self) -> usize {
        self.max
    }

    /// How many blocks are in use.
    pub fn allocated(&self) -> usize {
        self.allocated
    }

    fn is_set(&self, i: usize) -> bool {
        self.used[i / 64] & (1 << (i % 64)) != 0
    }

    fn set(&mut self, i: usize, on: bool) {
        let was = self.is_set(i);
        if on {
            self.used[i / 64] |= 1 << (i % 64);
        } else {
            self.used[i / 64] &= !(1 << (i % 64));
        }
        match (was, on) {
            (false, true) => self.allocated += 1,
            (true, false) => self.allocated -= 1,
            _ => {}
        }
    }

    /// The block with index `i`.
    fn block(&self, i: usize) -> Ipv4Net {
        let base = u32::from(self.cluster.network());
        let step = 1u64 << (32 - u32::from(self.node_mask));
        let addr = u64::from(base) + (i as u64) * step;
        // In range by construction: i < max blocks of the cluster CIDR.
        Ipv4Net::new(Ipv4Addr::from(addr as u32), self.node_mask).expect("prefix ≤ 32")
    }

    /// The next free block, round-robin from after the last allocation.
    pub fn allocate_next(&mut self) -> Result<Ipv4Net, CidrError> {
        for offset in 0..self.max {
            let candidate = (self.next_candidate + offset) % self.max;
            if !self.is_set(candidate) {
                self.set(candidate, true);
                self.next_candidate = (candidate + 1) % self.max;
                return Ok(self.block(candidate));
            }
        }
        Err(CidrError::Full)
    }

    /// The range of block indexes `cidr` covers (one block, several for a
    /// bigger CIDR, the enclosing one for a smaller).
    fn indexes(&self, cidr: &str) -> Result<std::ops::Range<usize>, CidrError> {
        let net: Ipv4Net = cidr
            .parse()
            .map_err(|_| CidrError::Invalid(cidr.to_string()))?;
        let net = net.trunc();
        if !self.cluster.contains(&net.network()) || net.prefix_len() < self.cluster.prefix_len() {
            return Err(CidrError::OutOfRange {
                cidr: cidr.to_string(),
                cluster: self.cluster,
            });
        }
        let shift = 32 - u32::from(self.node_mask);
        let offset = |a: Ipv4Addr| {
            ((u32::from(a) - u32::from(self.cluster.network())) as u64 >> shift) as usize
        };
        let first = offset(net.network());
        let last = offset(net.broadcast());
        Ok(first..last + 1)
    }

    /// Mark `cidr` (a node's existing podCIDR) as used.
    pub fn occupy(&mut self, cidr: &str) -> Result<(), CidrError> {
        for i in self.indexes(cidr)? {
            self.set(i, true);
        }
        Ok(())
    }

    /// Free `cidr` (the podCIDR of a deleted node).
    pub fn release(&mut self, cidr: &str) -> Result<(), CidrError> {
        for i in self.indexes(cidr)? {
            self.set(i, false);
        }
        Ok(())
    }

    /// Whether `cidr` is marked used.
    #[cfg(test)]
    pub fn is_used(&self, cidr: &str) -> bool {
        self.indexes(cidr)
            .is_ok_and(|mut r| r.all(|i| self.is_set(i)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(cluster: &str, mask: u8) -> CidrSet {
        CidrSet::new(cluster.parse().unwrap(), mask).unwrap()
    }

    #[test]
    fn hands_out_consecutive_blocks_and_never_the_same_twice() {
        let mut s = set("10.244.0.0/16", 24);
        assert_eq!(s.capacity(), 256);
        let got: Vec<String> = (0..3)
            .map(|_| s.allocate_next().unwrap().to_string())
            .collect();
        assert_eq!(got, vec!["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]);
        let mut all: Vec<Ipv4Net> = (3..256).map(|_| s.allocate_next().unwrap()).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 253);
        assert_eq!(s.allocate_next(), Err(CidrError::Full));
    }

    #[test]
    fn occupied_blocks_are_skipped_as_after_a_restart() {
        let mut s = set("10.244.0.0/16", 24);
        s.occupy("10.244.0.0/24").unwrap();
        s.occupy("10.244.1.0/24").unwrap();
        s.occupy("10.244.3.0/24").unwrap();
        assert_eq!(s.allocate_next().unwrap().to_string(), "10.244.2.0/24");
        assert_eq!(s.allocate_next().unwrap().to_string(), "10.244.4.0/24");
        assert_eq!(s.allocated(), 5);
    }

    #[test]
    fn released_blocks_come_back_only_after_wrapping_around() {
        let mut s = set("10.0.0.0/22", 24);
        let a = s.allocate_next().unwrap();
        let _b = s.allocate_next().unwrap();
        s.release(&a.to_string()).unwrap();
        assert_eq!(s.allocate_next().unwrap().to_string(), "10.0.2.0/24");
        assert_eq!(s.allocate_next().unwrap().to_string(), "10.0.3.0/24");
        assert_eq!(
            s.allocate_next().unwrap(),
            a,
            "the freed block after wrapping"
        );
        assert_eq!(s.allocate_next(), Err(CidrError::Full));
    }

    #[test]
    fn occupy_checks_the_range_and_covers_bigger_cidrs() {
        let mut s = set("10.244.0.0/16", 24);
        assert!(matches!(
            s.occupy("10.245.0.0/24"),
            Err(CidrError::OutOfRange { .. })
        ));
        assert!(matches!(s.occupy("nonsense"), Err(CidrError::Invalid(_))));
        s.occupy("10.244.4.0/23").unwrap();
        assert!(s.is_used("10.244.4.0/24") && s.is_used("10.244.5.0/24"));
        assert_eq!(s.allocated(), 2);
        s.occupy("10.244.9.128/25").unwrap();
        assert!(s.is_used("10.244.9.0/24"));
        s.release("10.244.4.0/23").unwrap();
        assert_eq!(s.allocated(), 1);
    }

    #[test]
    fn masks_must_fit() {
        assert!(CidrSet::new("10.244.0.0/16".parse().unwrap(), 12).is_err());
        assert!(CidrSet::new("10.0.0.0/8".parse().unwrap(), 25).is_err());
        assert_eq!(set("10.0.0.0/8", 24).capacity(), 65536);
    }
}
