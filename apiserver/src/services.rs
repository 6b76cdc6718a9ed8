//! Service address allocation: ClusterIPs from `--service-cluster-ip-range`
//! and NodePorts from `--service-node-port-range`.
//!
//! Each allocated address is a key of its own in storage
//! (`/registry/serviceips/10.96.0.12`, `/registry/servicenodeports/30080`),
//! created with create-if-absent: allocations are persisted with the
//! objects, survive restarts, and two apiservers sharing etcd can never
//! hand out the same address. A repair pass releases keys whose Service is
//! gone (left behind by a crash between allocating and writing the Service).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use ipnet::Ipv4Net;
use rand::Rng;
use serde_json::Value;
use tug_api::FieldError;

use crate::error::{ApiError, ApiResult};
use crate::objects::{meta_str, name_of};
use crate::registry::ResourceInfo;
use crate::storage::{ListOptions, Storage, StorageError};

const IP_PREFIX: &str = "/registry/serviceips/";
const PORT_PREFIX: &str = "/registry/servicenodeports/";
/// Random probes before falling back to a scan of the allocated set.
const RANDOM_PROBES: usize = 16;
/// A key younger than this is never treated as leaked: its Service may
/// still be on its way to storage.
const LEAK_GRACE: Duration = Duration::from_secs(60);

/// What one write newly allocated (released again if the write fails).
#[derive(Debug, Default)]
pub struct Allocation {
    ips: Vec<Ipv4Addr>,
    ports: Vec<u16>,
}

/// Allocators for one apiserver.
pub struct ServiceAllocator {
    storage: Arc<dyn Storage>,
    range: Ipv4Net,
    node_ports: RangeInclusive<u16>,
}

fn is_service(info: &ResourceInfo) -> bool {
    info.group.is_empty() && info.plural == "services"
}

fn service_type(svc: &Value) -> &str {
    svc.pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
}

fn wants_node_ports(svc: &Value) -> bool {
    matches!(service_type(svc), "NodePort" | "LoadBalancer")
}

fn cluster_ip(svc: &Value) -> Option<Ipv4Addr> {
    svc.pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

/// NodePorts a Service holds.
fn node_ports(svc: &Value) -> Vec<u16> {
    if !wants_node_ports(svc) {
        return Vec::new();
    }
    svc.pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| p.get("nodePort").and_then(Value::as_u64))
                .filter_map(|p| u16::try_from(p).ok())
                .filter(|p| *p != 0)
                .collect()
        })
        .unwrap_or_default()
}

/// A Service whose deletion completed (no finalizers left) holds nothing.
fn holds_allocations(svc: &Value) -> bool {
    let deleting = svc.pointer("/metadata/deletionTimestamp").is_some();
    let finalizers = svc
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    !deleting || finalizers
}

fn owner_record(svc: &Value) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "namespace": meta_str(svc, "namespace"),
        "name": name_of(svc),
        "uid": meta_str(svc, "uid"),
        "allocated": chrono::Utc::now().timestamp(),
    }))
    .unwrap_or_default()
}

fn invalid(svc: &Value, field: &str, value: impl std::fmt::Debug, detail: &str) -> ApiError {
    ApiError::invalid(
        "Service",
        "",
        name_of(svc),
        &[FieldError::invalid(field, value, detail)],
    )
}

impl ServiceAllocator {
    pub fn new(storage: Arc<dyn Storage>, range: Ipv4Net, node_ports: RangeInclusive<u16>) -> Self {
        ServiceAllocator {
            storage,
            range,
            node_ports,
        }
    }

    /// Allocate what `svc` needs, keeping what `old` already holds: an unset
    /// clusterIP or nodePort on update keeps the old value (upstream's
    /// `patchAllocatedValues`). No-op for other kinds.
    pub async fn admit(
        &self,
        info: &ResourceInfo,
        svc: &mut Value,
        old: Option<&Value>,
        dry_run: bool,
    ) -> ApiResult<Allocation> {
        let mut allocation = Allocation::default();
        if !is_service(info) {
            return Ok(allocation);
        }
        if let Some(old) = old {
            carry_over_node_ports(svc, old);
        }
        let result = self.allocate_all(svc, old, dry_run, &mut allocation).await;
        if result.is_err() {
            self.release(std::mem::take(&mut allocation)).await;
        }
        result.map(|_| allocation)
    }

    async fn allocate_all(
        &self,
        svc: &mut Value,
        old: Option<&Value>,
        dry_run: bool,
        allocation: &mut Allocation,
    ) -> ApiResult<()> {
        let held_ip = old.and_then(cluster_ip);
        let ip_field = svc
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let needs_ip = service_type(svc) != "ExternalName" && ip_field != "None";
        if needs_ip {
            let ip = if ip_field.is_empty() {
                match held_ip {
                    Some(ip) => ip,
                    None => {
                        let ip = self.allocate_ip(svc, None, dry_run).await?;
                        if !dry_run {
                            allocation.ips.push(ip);
                        }
                        ip
                    }
                }
            } else {
                let ip: Ipv4Addr = ip_field.parse().map_err(|_| {
                    invalid(
                        svc,
                        "spec.clusterIPs",
                        vec![ip_field.clone()],
                        "must be a valid IP address",
                    )
                })?;
                if held_ip != Some(ip) {
                    self.allocate_ip(svc, Some(ip), dry_run).await?;
                    if !dry_run {
                        allocation.ips.push(ip);
                    }
                }
                ip
            };
            svc["spec"]["clusterIP"] = Value::String(ip.to_string());
            svc["spec"]["clusterIPs"] = serde_json::json!([ip.to_string()]);
        } else if service_type(svc) == "ExternalName" {
            if let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) {
                spec.remove("clusterIP");
                spec.remove("clusterIPs");
            }
        }
        let held_ports: BTreeSet<u16> = old
            .map(node_ports)
            .unwrap_or_default()
            .into_iter()
            .collect();
        if wants_node_ports(svc) {
            let count = svc
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            for i in 0..count {
                let requested = svc["spec"]["ports"][i]
                    .get("nodePort")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                if requested != 0 && held_ports.contains(&(requested as u16)) {
                    continue;
                }
                let port = self.allocate_port(svc, i, requested, dry_run).await?;
                if !dry_run {
                    allocation.ports.push(port);
                }
                svc["spec"]["ports"][i]["nodePort"] = Value::from(port);
            }
        } else if let Some(ports) = svc.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
            for p in ports {
                if let Some(p) = p.as_object_mut() {
                    p.remove("nodePort");
                }
            }
        }
        Ok(())
    }

    async fn allocate_ip(
        &self,
        svc: &Value,
        wanted: Option<Ipv4Addr>,
        dry_run: bool,
    ) -> ApiResult<Ipv4Addr> {
        let record = owner_record(svc);
        if let Some(ip) = wanted {
            if !self.range.contains(&ip)
                || ip == self.range.network()
                || ip == self.range.broadcast()
            {
                return Err(invalid(
                    svc,
                    "spec.clusterIPs",
                    vec![ip.to_string()],
                    &format!(
                        "failed to allocate IP {ip}: provided IP is not in the valid range. The range of valid IPs is {}",
                        self.range
                    ),
                ));
            }
            return self
                .claim(&format!("{IP_PREFIX}{ip}"), record, dry_run)
                .await
                .map(|_| ip)
                .map_err(|e| match e {
                    Claim::Taken => invalid(
                        svc,
                        "spec.clusterIPs",
                        vec![ip.to_string()],
                        &format!("failed to allocate IP {ip}: provided IP is already allocated"),
                    ),
                    Claim::Storage(e) => ApiError::from_storage(e, "services", "", name_of(svc)),
                });
        }
        // Host addresses of the range, skipping the network address and the
        // first host (.1), which upstream reserves for the `kubernetes` Service.
        let first = u32::from(self.range.network()) + 2;
        let last = u32::from(self.range.broadcast()) - 1;
        if first > last {
            return Err(ApiError::internal(
                "the service IP range has no free addresses",
            ));
        }
        let mut candidates: Vec<u32> = {
            let mut rng = rand::thread_rng();
            (0..RANDOM_PROBES)
                .map(|_| rng.gen_range(first..=last))
                .collect()
        };
        let taken = self.allocated(IP_PREFIX).await?;
        candidates.extend(
            (first..=last)
                .filter(|ip| !taken.contains(&Ipv4Addr::from(*ip).to_string()))
                .take(RANDOM_PROBES),
        );
        for c in candidates {
            let ip = Ipv4Addr::from(c);
            match self
                .claim(&format!("{IP_PREFIX}{ip}"), record.clone(), dry_run)
                .await
            {
                Ok(()) => return Ok(ip),
                Err(Claim::Taken) => continue,
                Err(Claim::Storage(e)) => {
                    return Err(ApiError::from_storage(e, "services", "", name_of(svc)))
                }
            }
        }
        Err(ApiError::internal(format!(
            "failed to allocate a serviceIP: range {} is full",
            self.range
        )))
    }

    async fn allocate_port(
        &self,
        svc: &Value,
        index: usize,
        wanted: i64,
        dry_run: bool,
    ) -> ApiResult<u16> {
        let field = format!("spec.ports[{index}].nodePort");
        let record = owner_record(svc);
        let range = format!("{}-{}", self.node_ports.start(), self.node_ports.end());
        if wanted != 0 {
            let in_range = u16::try_from(wanted)
                .ok()
                .filter(|p| self.node_ports.contains(p));
            let Some(port) = in_range else {
                return Err(invalid(
                    svc,
                    &field,
                    wanted,
                    &format!("provided port is not in the valid range. The range of valid ports is {range}"),
                ));
            };
            return match self
                .claim(&format!("{PORT_PREFIX}{port}"), record, dry_run)
                .await
            {
                Ok(()) => Ok(port),
                Err(Claim::Taken) => Err(invalid(
                    svc,
                    &field,
                    wanted,
                    "provided port is already allocated",
                )),
                Err(Claim::Storage(e)) => {
                    Err(ApiError::from_storage(e, "services", "", name_of(svc)))
                }
            };
        }
        let mut candidates: Vec<u16> = {
            let mut rng = rand::thread_rng();
            (0..RANDOM_PROBES)
                .map(|_| rng.gen_range(self.node_ports.clone()))
                .collect()
        };
        let taken = self.allocated(PORT_PREFIX).await?;
        candidates.extend(
            self.node_ports
                .clone()
                .filter(|p| !taken.contains(&p.to_string()))
                .take(RANDOM_PROBES),
        );
        for port in candidates {
            match self
                .claim(&format!("{PORT_PREFIX}{port}"), record.clone(), dry_run)
                .await
            {
                Ok(()) => return Ok(port),
                Err(Claim::Taken) => continue,
                Err(Claim::Storage(e)) => {
                    return Err(ApiError::from_storage(e, "services", "", name_of(svc)))
                }
            }
        }
        Err(ApiError::internal(format!(
            "failed to allocate a nodePort: range {range} is full"
        )))
    }

    /// Create the allocation key (for a dry run: only check it is free).
    async fn claim(&self, key: &str, record: Vec<u8>, dry_run: bool) -> Result<(), Claim> {
        if dry_run {
            return match self.storage.get(key).await {
                Ok(_) => Err(Claim::Taken),
                Err(StorageError::NotFound(_)) => Ok(()),
                Err(e) => Err(Claim::Storage(e)),
            };
        }
        match self.storage.create(key, record).await {
            Ok(_) => Ok(()),
            Err(StorageError::AlreadyExists(_)) => Err(Claim::Taken),
            Err(e) => Err(Claim::Storage(e)),
        }
    }

    /// The allocated values under a prefix (IPs or ports, as strings).
    async fn allocated(&self, prefix: &str) -> ApiResult<BTreeSet<String>> {
        let listed = self
            .storage
            .list(prefix, ListOptions::default())
            .await
            .map_err(|e| ApiError::from_storage(e, "services", "", ""))?;
        Ok(listed
            .items
            .into_iter()
            .map(|kv| kv.key[prefix.len()..].to_string())
            .collect())
    }

    /// Give back what a failed write had allocated.
    pub async fn release(&self, allocation: Allocation) {
        for ip in allocation.ips {
            self.free(&format!("{IP_PREFIX}{ip}")).await;
        }
        for port in allocation.ports {
            self.free(&format!("{PORT_PREFIX}{port}")).await;
        }
    }

    /// After a write: release what `old` held and `new` (None = deleted) no longer does.
    pub async fn release_unused(&self, info: &ResourceInfo, old: &Value, new: Option<&Value>) {
        if !is_service(info) {
            return;
        }
        let new = new.filter(|n| holds_allocations(n));
        let new_ip = new.and_then(cluster_ip);
        if let Some(ip) = cluster_ip(old) {
            if new_ip != Some(ip) {
                self.free(&format!("{IP_PREFIX}{ip}")).await;
            }
        }
        let new_ports: BTreeSet<u16> = new
            .map(node_ports)
            .unwrap_or_default()
            .into_iter()
            .collect();
        for port in node_ports(old) {
            if !new_ports.contains(&port) {
                self.free(&format!("{PORT_PREFIX}{port}")).await;
            }
        }
    }

    async fn free(&self, key: &str) {
        match self.storage.delete(key, None).await {
            Ok(_) | Err(StorageError::NotFound(_)) => {}
            Err(e) => {
                tracing::warn!(key, error = %e, "could not release a service allocation; the repair pass will")
            }
        }
    }

    /// Release allocations no Service holds (older than a grace period),
    /// and record allocations a Service holds without a key.
    pub async fn repair(&self, services: &[Value]) -> Result<usize, StorageError> {
        let mut used: BTreeSet<String> = BTreeSet::new();
        for svc in services.iter().filter(|s| holds_allocations(s)) {
            if let Some(ip) = cluster_ip(svc) {
                let key = format!("{IP_PREFIX}{ip}");
                if self.range.contains(&ip) {
                    let _ = self.storage.create(&key, owner_record(svc)).await;
                }
                used.insert(key);
            }
            for port in node_ports(svc) {
                let key = format!("{PORT_PREFIX}{port}");
                let _ = self.storage.create(&key, owner_record(svc)).await;
                used.insert(key);
            }
        }
        let now = chrono::Utc::now().timestamp();
        let mut released = 0;
        for prefix in [IP_PREFIX, PORT_PREFIX] {
            let listed = self.storage.list(prefix, ListOptions::default()).await?;
            for kv in listed.items {
                if used.contains(&kv.key) {
                    continue;
                }
                let allocated = serde_json::from_slice::<Value>(&kv.value)
                    .ok()
                    .and_then(|v| v.get("allocated").and_then(Value::as_i64))
                    .unwrap_or(0);
                if now - allocated < LEAK_GRACE.as_secs() as i64 {
                    continue;
                }
                if self
                    .storage
                    .delete(&kv.key, Some(kv.mod_revision))
                    .await
                    .is_ok()
                {
                    tracing::info!(key = %kv.key, "released a leaked service allocation");
                    released += 1;
                }
            }
        }
        Ok(released)
    }
}

enum Claim {
    Taken,
    Storage(StorageError),
}

/// On update, ports that leave `nodePort` unset keep the one the old
/// Service had for the same port and protocol.
fn carry_over_node_ports(svc: &mut Value, old: &Value) {
    if !wants_node_ports(svc) || !wants_node_ports(old) {
        return;
    }
    let old_ports: Vec<(i64, String, i64)> = old
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    (
                        p.get("port").and_then(Value::as_i64).unwrap_or(0),
                        p.get("protocol")
                            .and_then(Value::as_str)
                            .unwrap_or("TCP")
                            .to_string(),
                        p.get("nodePort").and_then(Value::as_i64).unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let Some(ports) = svc.pointer_mut("/spec/ports").and_then(Value::as_array_mut) else {
        return;
    };
    for p in ports {
        let unset = p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) == 0;
        if !unset {
            continue;
        }
        let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
        let proto = p
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("TCP")
            .to_string();
        if let Some((_, _, np)) = old_ports
            .iter()
            .find(|(op, opr, np)| *op == port && *opr == proto && *np != 0)
        {
            p["nodePort"] = Value::from(*np);
        }
    }
}
