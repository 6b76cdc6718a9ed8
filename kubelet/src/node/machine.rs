//! Facts about the machine a real (runc) node runs on, read from the
//! kernel as the Kubernetes kubelet's cadvisor does: online CPUs, memory,
//! identities, the primary IPv4 address, and whether memory or the
//! kubelet's filesystem is under pressure.
//!
//! The parsers are pure (they take the text of the `/proc` or `/sys`
//! file); the readers around them go to the real files.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;

use tug_api::Quantity;

use super::eviction::{EvictionThresholds, Threshold};

/// The number of CPUs in a kernel CPU list such as
/// `/sys/devices/system/cpu/online` (`0-3,6,8-9` → 7).
pub fn count_cpu_list(text: &str) -> Option<u32> {
    let mut n = 0u32;
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if b < a {
                    return None;
                }
                n += b - a + 1;
            }
            None => {
                part.trim().parse::<u32>().ok()?;
                n += 1;
            }
        }
    }
    (n > 0).then_some(n)
}

/// A field of `/proc/meminfo` (`MemTotal`, `MemAvailable`) in bytes.
pub fn meminfo_bytes(meminfo: &str, field: &str) -> Option<u64> {
    meminfo.lines().find_map(|line| {
        let (name, rest) = line.split_once(':')?;
        if name.trim() != field {
            return None;
        }
        let mut words = rest.split_whitespace();
        let value: u64 = words.next()?.parse().ok()?;
        match words.next() {
            Some("kB") => Some(value * 1024),
            None => Some(value),
            Some(_) => None,
        }
    })
}

/// Memory capacity as the kubelet reports it: whole KiB (`16318456Ki`).
pub fn memory_quantity(bytes: u64) -> Quantity {
    Quantity(format!("{}Ki", bytes / 1024))
}

/// The gateway of the IPv4 default route in `/proc/net/route` text:
/// `Some(Some(gw))`, `Some(None)` for a default route without a gateway
/// (a point-to-point device), `None` without a default route.
pub fn default_gateway(proc_net_route: &str) -> Option<Option<Ipv4Addr>> {
    proc_net_route.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        // Iface Destination Gateway Flags RefCnt Use Metric Mask ...
        if f.len() < 8 || f[1] != "00000000" || f[7] != "00000000" {
            return None;
        }
        let flags = u32::from_str_radix(f[3], 16).ok()?;
        if flags & 0x1 == 0 {
            return None; // RTF_UP not set
        }
        // The kernel prints the address (network-order bytes) as a
        // number in host byte order.
        let raw = u32::from_str_radix(f[2], 16).ok()?;
        let gw = Ipv4Addr::from(raw.to_ne_bytes());
        Some(if gw.is_unspecified() { None } else { Some(gw) })
    })
}

/// The host's primary IPv4 address: the source address the kernel picks
/// for the default route, else `127.0.0.1`.
pub fn primary_ipv4() -> IpAddr {
    let route = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let Some(gateway) = default_gateway(&route) else {
        return IpAddr::V4(Ipv4Addr::LOCALHOST);
    };
    // Connecting a UDP socket sends nothing; it makes the kernel choose
    // the route and with it the source address. Without a gateway, any
    // address off-link goes through the default route.
    let target = gateway.unwrap_or(Ipv4Addr::new(203, 0, 113, 1));
    let source = UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect(SocketAddr::from((target, 9)))?;
            s.local_addr()
        })
        .map(|a| a.ip());
    match source {
        Ok(ip) if !ip.is_unspecified() => ip,
        _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

/// The trimmed text of a file, empty if it cannot be read.
pub fn read_trimmed(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// What the machine offers: online CPUs and `MemTotal`.
pub fn machine_capacity() -> anyhow::Result<(Quantity, Quantity)> {
    let cpus = count_cpu_list(&read_trimmed("/sys/devices/system/cpu/online"))
        .or_else(|| {
            std::thread::available_parallelism()
                .ok()
                .map(|n| n.get() as u32)
        })
        .ok_or_else(|| anyhow::anyhow!("cannot count the online CPUs"))?;
    let meminfo = std::fs::read_to_string("/proc/meminfo")?;
    let total = meminfo_bytes(&meminfo, "MemTotal")
        .ok_or_else(|| anyhow::anyhow!("/proc/meminfo has no MemTotal"))?;
    Ok((Quantity(cpus.to_string()), memory_quantity(total)))
}

/// The identities of the machine in `nodeInfo`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MachineIds {
    /// `/etc/machine-id`.
    pub machine_id: String,
    /// The firmware's product UUID (readable by root), else the machine id.
    pub system_uuid: String,
    /// `/proc/sys/kernel/random/boot_id`: new at every boot.
    pub boot_id: String,
}

impl MachineIds {
    /// Read them from this machine.
    pub fn read() -> MachineIds {
        let machine_id = read_trimmed("/etc/machine-id");
        let uuid = read_trimmed("/sys/class/dmi/id/product_uuid").to_lowercase();
        MachineIds {
            system_uuid: if uuid.is_empty() {
                machine_id.clone()
            } else {
                uuid
            },
            machine_id,
            boot_id: read_trimmed("/proc/sys/kernel/random/boot_id"),
        }
    }
}

/// Whether the node is short of memory or disk space, as the conditions
/// `MemoryPressure` and `DiskPressure` report it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pressure {
    /// `MemAvailable` is below `memory.available` of `--eviction-hard`.
    pub memory: bool,
    /// The kubelet's filesystem has less free than `nodefs.available`.
    pub disk: bool,
}

/// Memory pressure from the text of `/proc/meminfo`.
pub fn memory_pressure(meminfo: &str, threshold: Threshold) -> bool {
    let total = meminfo_bytes(meminfo, "MemTotal").unwrap_or(0);
    meminfo_bytes(meminfo, "MemAvailable").is_some_and(|a| threshold.crossed(a, total))
}

/// Available and total bytes of the filesystem holding `path`.
pub fn filesystem_space(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable
    // statvfs the call fills in.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let frsize = st.f_frsize as u64;
    Some((st.f_bavail as u64 * frsize, st.f_blocks as u64 * frsize))
}

/// Measure the pressure on this machine, the kubelet's files being under
/// `root_dir` (its nearest existing ancestor, before it is made).
pub fn measure_pressure(root_dir: &Path, eviction: &EvictionThresholds) -> Pressure {
    let memory = std::fs::read_to_string("/proc/meminfo")
        .map(|m| memory_pressure(&m, eviction.memory_available))
        .unwrap_or(false);
    let dir = root_dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    let disk = filesystem_space(dir)
        .is_some_and(|(avail, total)| eviction.nodefs_available.crossed(avail, total));
    Pressure { memory, disk }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_count_ranges_and_singles() {
        assert_eq!(count_cpu_list("0-1\n"), Some(2));
        assert_eq!(count_cpu_list("0-3,6,8-9"), Some(7));
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list(""), None);
        assert_eq!(count_cpu_list("3-1"), None);
        assert_eq!(count_cpu_list("x"), None);
    }

    const MEMINFO: &str =
        "MemTotal:       16318456 kB\nMemFree:         1021332 kB\nMemAvailable:      81920 kB\n";

    #[test]
    fn meminfo_fields_come_in_bytes_and_capacity_in_ki() {
        assert_eq!(meminfo_bytes(MEMINFO, "MemTotal"), Some(16318456 * 1024));
        assert_eq!(meminfo_bytes(MEMINFO, "Mem"), None);
        assert_eq!(
            memory_quantity(16318456 * 1024),
            Quantity("16318456Ki".into())
        );
        // 80 MiB available: under the default 100 MiB threshold.
        let default = EvictionThresholds::default().memory_available;
        assert!(memory_pressure(MEMINFO, default));
        assert!(!memory_pressure(
            "MemAvailable:    2000000 kB\nMemTotal: 4000000 kB\n",
            default
        ));
        assert!(!memory_pressure(MEMINFO, Threshold::Bytes(1024)));
    }

    #[test]
    fn the_default_route_gateway_is_read_in_host_order() {
        let table =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                     eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
                     eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
        assert_eq!(
            default_gateway(table),
            Some(Some(Ipv4Addr::new(172, 17, 0, 1)))
        );
        let no_default = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n\
                          eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\n";
        assert_eq!(default_gateway(no_default), None);
        let device = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n\
                      ppp0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\n";
        assert_eq!(default_gateway(device), Some(None));
    }

    #[test]
    fn this_machine_has_cpus_memory_and_an_address() {
        let (cpu, mem) = machine_capacity().unwrap();
        assert!(cpu.parsed().unwrap().nanos() > 0);
        assert!(mem.0.ends_with("Ki"));
        let ip = primary_ipv4();
        assert!(ip.is_ipv4());
        let ids = MachineIds::read();
        assert_eq!(ids.boot_id.len(), 36, "boot_id is a UUID");
    }
}
