//! Hard eviction thresholds (`--eviction-hard`, as the Kubernetes kubelet
//! spells it): below them the node reports `MemoryPressure` /
//! `DiskPressure` (and the node lifecycle taints it). Only the two signals
//! this kubelet measures are understood: `memory.available` and
//! `nodefs.available`, each as a quantity (`100Mi`) or a percentage (`10%`).

use anyhow::{bail, Context};
use tug_api::Quantity;

/// Kubernetes' default `--eviction-hard` for these signals.
pub const DEFAULT_EVICTION_HARD: &str = "memory.available<100Mi,nodefs.available<10%";

/// A threshold: an amount, or a share of the total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threshold {
    /// Fewer bytes available than this.
    Bytes(u64),
    /// Less than this percentage of the total available.
    Percent(u64),
}

impl Threshold {
    /// Whether `available` of `total` is below the threshold.
    pub fn crossed(self, available: u64, total: u64) -> bool {
        match self {
            Threshold::Bytes(b) => available < b,
            Threshold::Percent(p) => total > 0 && available.saturating_mul(100) < total * p,
        }
    }
}

/// The thresholds in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvictionThresholds {
    /// `memory.available`.
    pub memory_available: Threshold,
    /// `nodefs.available`: the filesystem of the kubelet's state directory.
    pub nodefs_available: Threshold,
}

impl Default for EvictionThresholds {
    fn default() -> Self {
        parse(DEFAULT_EVICTION_HARD).expect("the default thresholds parse")
    }
}

/// Parse `signal<value,...`; signals not given keep their default.
pub fn parse(text: &str) -> anyhow::Result<EvictionThresholds> {
    let mut t = EvictionThresholds {
        memory_available: Threshold::Bytes(100 * 1024 * 1024),
        nodefs_available: Threshold::Percent(10),
    };
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (signal, value) = item
            .split_once('<')
            .with_context(|| format!("--eviction-hard: {item:?} is not signal<value"))?;
        let threshold = if let Some(p) = value.strip_suffix('%') {
            let p: u64 = p
                .trim()
                .parse()
                .ok()
                .filter(|p| *p <= 100)
                .with_context(|| format!("--eviction-hard: {value:?} is not a percentage"))?;
            Threshold::Percent(p)
        } else {
            let q = Quantity(value.trim().to_string())
                .parsed()
                .map_err(|e| anyhow::anyhow!("--eviction-hard: {value:?}: {e}"))?;
            Threshold::Bytes(u64::try_from(q.value()).unwrap_or(0))
        };
        match signal.trim() {
            "memory.available" => t.memory_available = threshold,
            "nodefs.available" => t.nodefs_available = threshold,
            other => bail!(
                "--eviction-hard: unknown signal {other:?} (memory.available, nodefs.available)"
            ),
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kubernetes_defaults() {
        let t = EvictionThresholds::default();
        assert_eq!(t.memory_available, Threshold::Bytes(100 * 1024 * 1024));
        assert_eq!(t.nodefs_available, Threshold::Percent(10));
        assert!(t.nodefs_available.crossed(9, 100));
        assert!(!t.nodefs_available.crossed(10, 100));
        assert!(!t.nodefs_available.crossed(0, 0));
    }

    #[test]
    fn quantities_and_percentages_parse_and_bad_ones_are_refused() {
        let t = parse("nodefs.available<1Gi").unwrap();
        assert_eq!(t.nodefs_available, Threshold::Bytes(1 << 30));
        assert_eq!(t.memory_available, Threshold::Bytes(100 * 1024 * 1024));
        assert!(t.nodefs_available.crossed((1 << 30) - 1, u64::MAX));
        assert!(parse("imagefs.available<5%").is_err());
        assert!(parse("nodefs.available<lots").is_err());
        assert!(parse("nodefs.available=5%").is_err());
        assert!(parse("nodefs.available<150%").is_err());
    }
}
