//! [`Cluster`]: a running local cluster — start it, look at it, break it
//! on purpose (tests), stop it.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tug_api::coordination::Lease;
use tug_api::core::Node;
use tug_client::{Api, Client, Config, ListParams, Method, Request};

use crate::args;
use crate::args::Credential;
use crate::bins::{self, BinaryLocator};
use crate::component::{node_groups, ComponentId, NodeGroup, Role};
use crate::credentials::{self, JoinCredentials};
use crate::error::{io, Error, Result};
use crate::health::{self, ComponentHealth, Observations, Status};
use crate::kubeconfig;
use crate::netns::{self, Lan, NodeNamespace};
use crate::paths;
use crate::process::{self, Launch};
use crate::spec::{ClusterSpec, NodeNetwork, Runtime, Store};
use crate::state::{ClusterState, ComponentRecord, NetworkState, NodeTemplate, STATE_VERSION};

/// How often readiness is polled.
const POLL: Duration = Duration::from_millis(100);
/// How long one API request made to judge health may take (a stuck
/// apiserver must not stall `status` or `up` for the client's 30 s).
const API_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `down` lets a component shut down after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Log lines quoted in an error.
const TAIL_LINES: usize = 20;
/// Attempts at starting etcd / the apiserver on a free port, which another
/// process may take between our choosing and its binding.
const PORT_ATTEMPTS: usize = 3;
/// How long a loaded cluster's `restart`/`add_node` waits for readiness.
const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The order `down` stops components in: clients of the apiserver first,
/// then the apiserver, then its store.
const STOP_ORDER: &[&[Role]] = &[
    &[
        Role::Proxy,
        Role::Kubelet,
        Role::Scheduler,
        Role::ControllerManager,
    ],
    &[Role::ApiServer],
    &[Role::Etcd],
];

/// A local cluster: etcd (optional), an apiserver, schedulers,
/// controller-managers, kubelets and (netns nodes) proxies as processes,
/// recorded in the state directory, with the netns nodes' namespaces and
/// LAN.
///
/// Dropping a `Cluster` kills (SIGKILL) every process *this value*
/// started, so a test never leaks processes, even when it panics (and
/// removes the state of a [`ClusterSpec::temporary`] one); call
/// [`Cluster::detach`] to leave them running (what `tugctl cluster up`
/// does) and [`Cluster::down`] to stop a cluster, including one
/// [`Cluster::load`]ed from its state file.
pub struct Cluster {
    state: ClusterState,
    client: Client,
    /// Processes started by this value, by component; reaped on exit.
    children: Mutex<HashMap<ComponentId, Child>>,
    /// Leader-election identities read from the logs.
    identities: Mutex<HashMap<ComponentId, String>>,
    ready_timeout: Duration,
    detached: bool,
    remove_state_on_drop: bool,
}

impl Cluster {
    /// Start the cluster `spec` describes and wait until it is ready:
    /// the apiserver healthy, a scheduler and a controller-manager
    /// leading, every node `Ready`. Then write its kubeconfig.
    ///
    /// Refuses when a cluster already runs from the same state directory.
    /// On failure everything started is stopped again and the error
    /// quotes the failing component's log.
    pub async fn up(spec: ClusterSpec) -> Result<Cluster> {
        spec.validate()?;
        if let Some(old) = ClusterState::read(&spec.state_dir)? {
            if old.any_running() {
                return Err(Error::AlreadyRunning { name: spec.name });
            }
            // A crashed launcher's leftovers: pods, namespaces, the LAN.
            reset_runc_nodes(&old);
            remove_network(&old);
        }
        remove_owned_entries(&spec.state_dir)?;
        let locator = BinaryLocator::new(spec.bin_dir.as_deref());
        let network = spec.network();
        let binaries = Binaries::find(&locator, spec.store, network)?;
        let api_port = spec.api_port.unwrap_or_else(free_port);
        let mut state = ClusterState {
            version: STATE_VERSION,
            name: spec.name.clone(),
            runtime: spec.runtime,
            store: spec.store,
            url: api_url(Ipv4Addr::LOCALHOST.into(), api_port),
            api_port,
            state_dir: spec.state_dir.clone(),
            kubeconfig: spec.state_dir.join(paths::KUBECONFIG_FILE),
            extra_kubeconfig: spec.extra_kubeconfig.clone(),
            log_filter: spec.log_filter.clone(),
            node_template: NodeTemplate {
                binary: binaries.kubelet.clone(),
                runtime: spec.runtime,
                cpu: spec.node_cpu.clone(),
                memory: spec.node_memory.clone(),
                max_pods: spec.node_max_pods,
                extra_args: spec.extra_args.kubelet.clone(),
            },
            network: None,
            components: Vec::new(),
        };
        if let Some(proxy) = binaries
            .proxy
            .clone()
            .filter(|_| network == NodeNetwork::Netns)
        {
            state.network = Some(create_network(&spec, proxy)?);
            state.url = api_url(state.api_host(), api_port);
            // Recorded at once: a crash from here on leaves a bridge that
            // the next `down` must find.
            if let Err(e) = state.write() {
                remove_network(&state);
                return Err(e);
            }
        }
        let mut cluster = Cluster {
            client: client_for(&state.url)?,
            state,
            children: Mutex::new(HashMap::new()),
            identities: Mutex::new(HashMap::new()),
            ready_timeout: spec.ready_timeout,
            detached: false,
            remove_state_on_drop: spec.remove_state_on_drop,
        };
        // On error `cluster` is dropped here, which kills what it started;
        // so is a caller's future dropped half-way (Ctrl-C).
        match cluster.start(&spec, &binaries).await {
            Ok(()) => Ok(cluster),
            Err(e) => {
                cluster.kill_all();
                let _ = std::fs::remove_file(ClusterState::path(&spec.state_dir));
                // The error names log files: keep them.
                cluster.remove_state_on_drop = false;
                Err(e)
            }
        }
    }

    async fn start(&mut self, spec: &ClusterSpec, binaries: &Binaries) -> Result<()> {
        std::fs::create_dir_all(&spec.state_dir)
            .map_err(io(format!("creating {}", spec.state_dir.display())))?;
        let etcd_url = match &binaries.etcd {
            Some(etcd) => Some(self.start_etcd(etcd, &spec.extra_args.etcd).await?),
            None => None,
        };
        self.start_apiserver(spec, &binaries.apiserver, etcd_url.as_deref())
            .await?;
        let state_dir = self.state.state_dir.clone();
        let scheduler_kubeconfig = paths::generated_kubeconfig(&state_dir, "scheduler");
        let manager_kubeconfig = paths::generated_kubeconfig(&state_dir, "controller-manager");
        for i in 0..spec.schedulers {
            let args = args::control_plane(&scheduler_kubeconfig, &spec.extra_args.scheduler);
            self.spawn(
                ComponentId::scheduler(i),
                Role::Scheduler,
                &binaries.scheduler,
                args,
                None,
                None,
            )?;
        }
        for i in 0..spec.controller_managers {
            let args = args::controller_manager(
                &manager_kubeconfig,
                &paths::pki_dir(&state_dir),
                spec.nodes,
                &spec.extra_args.controller_manager,
            );
            let id = ComponentId::controller_manager(i);
            self.spawn(
                id,
                Role::ControllerManager,
                &binaries.controller_manager,
                args,
                None,
                None,
            )?;
        }
        let join = self.join_credentials().await?;
        let mut netns_nodes = Vec::new();
        for group in node_groups(spec.nodes, spec.hollow_nodes_per_process) {
            if let Some(ns) = self.start_kubelet(group, join.as_ref(), &spec.image_archives)? {
                netns_nodes.push(ns);
            }
        }
        for (node, namespace) in netns_nodes {
            self.start_proxy(&node, &namespace).await?;
        }
        let everyone: Vec<ComponentId> =
            self.state.components.iter().map(|c| c.id.clone()).collect();
        self.wait_ready(&everyone, spec.ready_timeout).await?;
        self.write_kubeconfigs()
    }

    async fn start_etcd(&mut self, binary: &Path, extra: &[String]) -> Result<String> {
        let data_dir = self.state.state_dir.join(paths::ETCD_DIR);
        let id = ComponentId::etcd();
        let mut last = None;
        for _ in 0..PORT_ATTEMPTS {
            let _ = std::fs::remove_dir_all(&data_dir);
            let client_port = free_port();
            let args = args::etcd(&data_dir, client_port, free_port(), extra);
            self.spawn(id.clone(), Role::Etcd, binary, args, None, None)?;
            let deadline = Instant::now() + self.ready_timeout;
            loop {
                match self.exited(&id) {
                    Some(e) if port_taken(&e) => {
                        last = Some(e);
                        break;
                    }
                    Some(e) => return Err(e),
                    None => {}
                }
                if health::etcd_healthy(client_port).await {
                    return Ok(format!("http://127.0.0.1:{client_port}"));
                }
                if Instant::now() > deadline {
                    return Err(Error::Timeout(format!(
                        "etcd not healthy after {}s; last lines of its log:\n{}",
                        self.ready_timeout.as_secs(),
                        process::log_tail(
                            &paths::log_file(&self.state.state_dir, id.as_str()),
                            0,
                            10
                        )
                    )));
                }
                tokio::time::sleep(POLL).await;
            }
        }
        Err(last.unwrap_or_else(|| Error::Timeout("etcd did not start".into())))
    }

    async fn start_apiserver(
        &mut self,
        spec: &ClusterSpec,
        binary: &Path,
        etcd_url: Option<&str>,
    ) -> Result<()> {
        let data_dir = paths::apiserver_dir(&self.state.state_dir);
        let id = ComponentId::apiserver();
        for attempt in 1..=PORT_ATTEMPTS {
            if attempt > 1 {
                // The port we chose was taken before the apiserver bound it.
                let port = free_port();
                self.state.api_port = port;
                self.state.url = api_url(self.state.api_host(), port);
                self.client = client_for(&self.state.url)?;
            }
            let args = args::apiserver(
                self.state.api_host(),
                self.state.api_port,
                &data_dir,
                etcd_url,
                &spec.extra_args.apiserver,
            );
            self.spawn(id.clone(), Role::ApiServer, binary, args, None, None)?;
            let ready = match self.wait_for_credentials(&id, spec.ready_timeout).await {
                Ok(()) => {
                    self.wait_ready(std::slice::from_ref(&id), spec.ready_timeout)
                        .await
                }
                Err(e) => Err(e),
            };
            match ready {
                Err(e) if spec.api_port.is_none() && attempt < PORT_ATTEMPTS && port_taken(&e) => {}
                other => return other,
            }
        }
        unreachable!("the last attempt returns")
    }

    /// Wait until the apiserver `id` has generated the cluster's
    /// credentials (before it listens), then talk to it as the admin.
    async fn wait_for_credentials(&mut self, id: &ComponentId, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.exited(id) {
                return Err(e);
            }
            if let Some(client) = credentials::admin_client(&self.state.state_dir)? {
                self.client = client;
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Timeout(format!(
                    "the apiserver wrote no {} within {}s",
                    credentials::admin_kubeconfig(&self.state.state_dir).display(),
                    timeout.as_secs()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// A join token for runc nodes (hollow nodes use the admin's
    /// kubeconfig and need none).
    async fn join_credentials(&self) -> Result<Option<JoinCredentials>> {
        if self.state.node_template.runtime != Runtime::Runc {
            return Ok(None);
        }
        credentials::join_credentials(&self.client, &self.state.state_dir)
            .await
            .map(Some)
    }

    /// The kubelet of node group `group` and, for a netns node, first its
    /// namespace and image imports. Returns the namespace of a netns
    /// node, whose proxy starts once the kubelet has joined.
    fn start_kubelet(
        &mut self,
        group: NodeGroup,
        join: Option<&JoinCredentials>,
        archives: &[PathBuf],
    ) -> Result<Option<(String, NodeNamespace)>> {
        if self.state.network.is_none() {
            if self.state.node_template.runtime == Runtime::Runc {
                self.import_images(&group.name, archives)?;
            }
            self.spawn_kubelet(group, join, None)?;
            return Ok(None);
        }
        let node = group.name.clone();
        let namespace = self.add_namespace(&node)?;
        self.import_images(&node, archives)?;
        self.spawn_kubelet(group, join, Some(&namespace))?;
        Ok(Some((node, namespace)))
    }

    /// The `tug-proxy` of netns node `node`, with the credential its
    /// kubelet got when it joined (waited for).
    async fn start_proxy(&mut self, node: &str, namespace: &NodeNamespace) -> Result<ComponentId> {
        let kubeconfig = args::joined_kubeconfig(&paths::node_dir(&self.state.state_dir, node));
        let deadline = Instant::now() + self.ready_timeout;
        if !credentials::wait_for_file(&kubeconfig, deadline).await {
            let kubelet = ComponentId::kubelet(node);
            return Err(self.exited(&kubelet).unwrap_or_else(|| {
                Error::Timeout(format!(
                    "node {node} did not join within {}s (no {}); see {}",
                    self.ready_timeout.as_secs(),
                    kubeconfig.display(),
                    paths::log_file(&self.state.state_dir, kubelet.as_str()).display()
                ))
            }));
        }
        let network = self.state.network.as_ref().expect("a netns cluster");
        let args = args::proxy(
            &kubeconfig,
            node,
            namespace.ip,
            &network.cluster_cidr,
            &network.proxy_args,
        );
        let binary = network.proxy_binary.clone();
        let proxy = ComponentId::proxy(node);
        self.spawn(
            proxy.clone(),
            Role::Proxy,
            &binary,
            args,
            None,
            Some(namespace.path()),
        )?;
        Ok(proxy)
    }

    /// A namespace for `node` on the cluster's LAN, recorded at once.
    fn add_namespace(&mut self, node: &str) -> Result<NodeNamespace> {
        let network = self.state.network.as_mut().expect("a netns cluster");
        let namespace = network.lan.add_node(node)?;
        network.nodes.push(namespace.clone());
        self.state.write()?;
        Ok(namespace)
    }

    /// Import the OCI `archives` into node `node`'s image store (its
    /// kubelet must not run: it keeps the store's index in memory).
    fn import_images(&self, node: &str, archives: &[PathBuf]) -> Result<()> {
        if archives.is_empty() {
            return Ok(());
        }
        let root_dir = paths::node_dir(&self.state.state_dir, node);
        let out = std::process::Command::new(&self.state.node_template.binary)
            .args(["image", "import", "--root-dir"])
            .arg(&root_dir)
            .args(archives)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(io("running tug-kubelet image import"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "importing images into node {node} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// A kubelet process for `group`, in `namespace` when given.
    fn spawn_kubelet(
        &mut self,
        group: NodeGroup,
        join: Option<&JoinCredentials>,
        namespace: Option<&NodeNamespace>,
    ) -> Result<ComponentId> {
        let template = &self.state.node_template;
        let root_dir = paths::node_dir(&self.state.state_dir, &group.name);
        let admin = credentials::admin_kubeconfig(&self.state.state_dir);
        let credential = match join {
            Some(j) => Credential::Join {
                master: &self.state.url,
                token: &j.token,
                ca_cert_hash: &j.ca_cert_hash,
            },
            None => Credential::Kubeconfig(&admin),
        };
        let args = match (template.runtime, namespace, &self.state.network) {
            (Runtime::Runc, Some(ns), Some(network)) => args::netns_kubelet(
                credential,
                &group.name,
                ns.ip,
                &root_dir,
                &network.cgroup_root,
                template.max_pods,
                &template.extra_args,
            ),
            (Runtime::Runc, _, _) => args::runc_kubelet(
                credential,
                &group.name,
                &root_dir,
                free_port(),
                template.max_pods,
                &template.extra_args,
            ),
            (Runtime::Fake, _, _) => args::kubelet_with(
                credential,
                &group,
                template.runtime,
                &template.cpu,
                &template.memory,
                template.max_pods,
                &template.extra_args,
            ),
        };
        let binary = template.binary.clone();
        let id = ComponentId::kubelet(&group.name);
        let netns = namespace.map(NodeNamespace::path);
        self.spawn(id.clone(), Role::Kubelet, &binary, args, Some(group), netns)?;
        Ok(id)
    }

    /// Start a component's process, record it and save the state.
    fn spawn(
        &mut self,
        id: ComponentId,
        role: Role,
        binary: &Path,
        args: Vec<String>,
        nodes: Option<NodeGroup>,
        netns: Option<PathBuf>,
    ) -> Result<()> {
        let env = if role == Role::Etcd {
            BTreeMap::new()
        } else {
            BTreeMap::from([
                ("RUST_LOG".to_string(), self.state.log_filter.clone()),
                // Plain log files, without terminal colour codes.
                ("NO_COLOR".to_string(), "1".to_string()),
            ])
        };
        let mut record = ComponentRecord {
            log: paths::log_file(&self.state.state_dir, id.as_str()),
            id,
            role,
            binary: binary.to_path_buf(),
            args,
            env,
            log_offset: 0,
            pid: 0,
            start_ticks: None,
            nodes,
            netns,
        };
        self.launch(&mut record, true)?;
        self.state.components.retain(|c| c.id != record.id);
        self.state.components.push(record);
        self.state.write()
    }

    /// Run `record`'s command, filling in its pid.
    fn launch(&self, record: &mut ComponentRecord, fresh_log: bool) -> Result<()> {
        let env: Vec<(String, String)> = record.env.clone().into_iter().collect();
        let started = process::spawn(&Launch {
            binary: &record.binary,
            args: &record.args,
            env: &env,
            log: &record.log,
            truncate_log: fresh_log,
            netns: record.netns.as_deref(),
        })?;
        record.pid = started.child.id();
        record.start_ticks = started.start_ticks;
        record.log_offset = started.log_offset;
        self.identities.lock().unwrap().remove(&record.id);
        self.children
            .lock()
            .unwrap()
            .insert(record.id.clone(), started.child);
        Ok(())
    }

    /// Read a cluster's state file from `state_dir`, to look at it or stop
    /// it. Dropping the result stops nothing.
    pub fn load(state_dir: &Path) -> Result<Cluster> {
        let state = ClusterState::read(state_dir)?.ok_or_else(|| Error::NotFound {
            name: state_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            state_file: ClusterState::path(state_dir),
        })?;
        Ok(Cluster {
            client: credentials::client_of(&state.state_dir, &state.kubeconfig, &state.url)?,
            state,
            children: Mutex::new(HashMap::new()),
            identities: Mutex::new(HashMap::new()),
            ready_timeout: DEFAULT_READY_TIMEOUT,
            // Not ours to stop: only `down` does.
            detached: true,
            remove_state_on_drop: false,
        })
    }

    /// [`Cluster::load`] the cluster `name` from its default state directory.
    pub fn load_named(name: &str) -> Result<Cluster> {
        crate::spec::validate_name(name)?;
        match Cluster::load(&paths::state_dir(name)) {
            Err(Error::NotFound { state_file, .. }) => Err(Error::NotFound {
                name: name.to_string(),
                state_file,
            }),
            other => other,
        }
    }

    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// The apiserver URL: `http://127.0.0.1:<port>`, or on the LAN's host
    /// address with netns nodes.
    pub fn url(&self) -> &str {
        &self.state.url
    }

    /// The kubeconfig in the state directory.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.state.kubeconfig
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state.state_dir
    }

    /// A client for the cluster's apiserver.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// What is recorded about the cluster.
    pub fn state(&self) -> &ClusterState {
        &self.state
    }

    /// Every component, in start order (killed ones included: see
    /// [`ComponentRecord::is_running`]).
    pub fn components(&self) -> &[ComponentRecord] {
        &self.state.components
    }

    /// The components playing `role`.
    pub fn components_of(&self, role: Role) -> Vec<ComponentId> {
        self.state
            .components
            .iter()
            .filter(|c| c.role == role)
            .map(|c| c.id.clone())
            .collect()
    }

    /// The names of every node, in start order.
    pub fn node_names(&self) -> Vec<String> {
        self.state.node_names()
    }

    /// The kubelet process hosting node `node`.
    pub fn kubelet_of(&self, node: &str) -> Option<ComponentId> {
        self.state
            .components
            .iter()
            .find(|c| c.node_names().iter().any(|n| n == node))
            .map(|c| c.id.clone())
    }

    /// The `tug-proxy` of node `node` (netns nodes only).
    pub fn proxy_of(&self, node: &str) -> Option<ComponentId> {
        let id = ComponentId::proxy(node);
        self.state.component(&id).map(|_| id)
    }

    /// The address of node `node` on the LAN (netns nodes only): where its
    /// kubelet API (10250), its proxy's `/healthz` (10256) and its
    /// NodePorts answer.
    pub fn node_ip(&self, node: &str) -> Option<Ipv4Addr> {
        Some(self.state.network.as_ref()?.node(node)?.ip)
    }

    /// The network namespace of node `node` (`/run/netns/<name>`, for
    /// `setns`), netns nodes only.
    pub fn node_netns(&self, node: &str) -> Option<PathBuf> {
        Some(self.state.network.as_ref()?.node(node)?.path())
    }

    /// The LAN of a netns cluster.
    pub fn lan(&self) -> Option<&Lan> {
        self.state.network.as_ref().map(|n| &n.lan)
    }

    /// Node `node` fails: its kubelet and proxy are killed (SIGKILL) and
    /// its link taken down, so nothing reaches it or leaves it. Its
    /// containers keep running (as on a machine that dropped off the
    /// network); `down` still removes them.
    pub fn cut_off_node(&mut self, node: &str) -> Result<()> {
        let namespace = self
            .state
            .network
            .as_ref()
            .and_then(|n| n.node(node))
            .cloned()
            .ok_or_else(|| Error::Invalid(format!("no netns node {node:?} in this cluster")))?;
        for id in [ComponentId::kubelet(node), ComponentId::proxy(node)] {
            if self.state.component(&id).is_some() {
                self.kill(&id)?;
            }
        }
        namespace.cut_off()
    }

    /// The running component currently holding `role`'s Lease (scheduler,
    /// controller-manager). `None` while nobody holds it, and while it is
    /// still held by a component that has died (until it expires and a
    /// standby takes over).
    pub async fn leader(&self, role: Role) -> Result<Option<ComponentId>> {
        let Some(lease_name) = role.lease_name() else {
            return Ok(None);
        };
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), "kube-system");
        let Some(lease) = leases.get_opt(lease_name).await? else {
            return Ok(None);
        };
        if !health::lease_fresh(&lease, chrono::Utc::now()) {
            return Ok(None);
        }
        let holder = lease.spec.holder_identity.unwrap_or_default();
        // A killed leader's Lease outlives it until it expires: that is no leader.
        Ok(self
            .holders()
            .remove(&holder)
            .filter(|(_, running)| *running)
            .map(|(id, _)| id))
    }

    /// Kill component `id` at once (SIGKILL: a crash, nothing cleaned up).
    pub fn kill(&mut self, id: &ComponentId) -> Result<()> {
        let record = self
            .state
            .component(id)
            .ok_or_else(|| Error::UnknownComponent(id.to_string()))?;
        if let Some(mut child) = self.children.lock().unwrap().remove(id) {
            let _ = child.kill();
            let _ = child.wait();
        } else if record.is_running() {
            process::signal(record.pid, libc::SIGKILL);
        }
        Ok(())
    }

    /// Start component `id` again with the same command line (killing it
    /// first if it still runs), and wait until it is ready again.
    pub async fn restart(&mut self, id: &ComponentId) -> Result<()> {
        self.kill(id)?;
        self.relaunch(id)?;
        self.wait_ready(std::slice::from_ref(id), self.ready_timeout)
            .await
    }

    /// Start component `id`'s recorded command again (in its namespace),
    /// appending to its log.
    fn relaunch(&mut self, id: &ComponentId) -> Result<()> {
        let index = self
            .state
            .components
            .iter()
            .position(|c| &c.id == id)
            .ok_or_else(|| Error::UnknownComponent(id.to_string()))?;
        let mut record = self.state.components[index].clone();
        self.launch(&mut record, false)?;
        self.state.components[index] = record;
        self.state.write()
    }

    /// Import the OCI archive at `path` into every runc node's image
    /// store, like `kind load image-archive`. A kubelet keeps its store's
    /// index in memory, so each running kubelet is stopped (SIGTERM) for
    /// the import and started again (its pods keep running, as across any
    /// kubelet restart); then they are waited for. A node whose kubelet is
    /// down (killed, cut off) gets the images and stays down.
    pub async fn load_image_archive(&mut self, path: &Path) -> Result<()> {
        if self.state.node_template.runtime != Runtime::Runc {
            return Err(Error::Invalid(
                "hollow nodes have no image store to load images into".into(),
            ));
        }
        let archive = [path.to_path_buf()];
        let kubelets: Vec<ComponentRecord> = self
            .state
            .components
            .iter()
            .filter(|c| c.role == Role::Kubelet)
            .cloned()
            .collect();
        let mut restarted = Vec::new();
        for kubelet in kubelets {
            let was_running = self.is_running(&kubelet);
            self.stop(std::slice::from_ref(&kubelet.id)).await;
            for node in kubelet.node_names() {
                self.import_images(&node, &archive)?;
            }
            if was_running {
                self.relaunch(&kubelet.id)?;
                restarted.push(kubelet.id);
            }
        }
        self.wait_ready(&restarted, self.ready_timeout).await
    }

    /// Start one more node, `name`, in its own kubelet process (and, in a
    /// netns cluster, its own namespace with a proxy), and wait until it
    /// is `Ready`. Returns its kubelet.
    pub async fn add_node(&mut self, name: &str) -> Result<ComponentId> {
        if self.node_names().iter().any(|n| n == name) {
            return Err(Error::Invalid(format!(
                "the cluster already has a node {name:?}"
            )));
        }
        let join = self.join_credentials().await?;
        let kubelet = ComponentId::kubelet(name);
        let mut ids = vec![kubelet.clone()];
        if let Some((node, namespace)) =
            self.start_kubelet(NodeGroup::single(name), join.as_ref(), &[])?
        {
            ids.push(self.start_proxy(&node, &namespace).await?);
        }
        self.wait_ready(&ids, self.ready_timeout).await?;
        Ok(kubelet)
    }

    /// The health of every component.
    pub async fn status(&self) -> Vec<ComponentHealth> {
        let ids: Vec<ComponentId> = self.state.components.iter().map(|c| c.id.clone()).collect();
        self.health_of(&ids).await
    }

    /// Wait until the components `ids` are all [`Status::Running`]; fail
    /// at once, with its log, when one exits, and after `timeout` with
    /// what was not ready.
    pub async fn wait_ready(&self, ids: &[ComponentId], timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(exited) = ids.iter().find_map(|id| self.exited(id)) {
                return Err(exited);
            }
            let health = self.health_of(ids).await;
            let waiting: Vec<&ComponentHealth> = health
                .iter()
                .filter(|h| h.status != Status::Running)
                .collect();
            if waiting.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(self.timeout_error(timeout, &waiting));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Leave the processes running after this value is gone (`tugctl
    /// cluster up` exits while the cluster runs on).
    pub fn detach(mut self) {
        self.detached = true;
        // Dropping a `Child` neither kills nor waits for it.
        self.children.lock().unwrap().clear();
    }

    /// Stop every component (SIGTERM, then SIGKILL after a grace period),
    /// remove what runc nodes leave (pods, mounts, cgroups) and the nodes'
    /// namespaces and LAN, take the cluster out of the extra kubeconfig,
    /// and remove its state.
    pub async fn down(mut self) -> Result<()> {
        for tier in STOP_ORDER {
            let ids: Vec<ComponentId> = self
                .state
                .components
                .iter()
                .filter(|c| tier.contains(&c.role))
                .map(|c| c.id.clone())
                .collect();
            self.stop(&ids).await;
        }
        reset_runc_nodes(&self.state);
        remove_network(&self.state);
        self.detached = true;
        if let Some(path) = &self.state.extra_kubeconfig {
            kubeconfig::remove_from_file(path, &self.state.name)?;
        }
        remove_owned_entries(&self.state.state_dir)?;
        // Only when nothing else is in it.
        let _ = std::fs::remove_dir(&self.state.state_dir);
        Ok(())
    }

    /// SIGTERM `ids`, wait up to [`STOP_GRACE`] for them to exit, then SIGKILL.
    async fn stop(&self, ids: &[ComponentId]) {
        let records: Vec<&ComponentRecord> = ids
            .iter()
            .filter_map(|id| self.state.component(id))
            .collect();
        for record in &records {
            if self.is_running(record) {
                process::signal(record.pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        while records.iter().any(|r| self.is_running(r)) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for record in &records {
            if self.is_running(record) {
                process::signal(record.pid, libc::SIGKILL);
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        while records.iter().any(|r| self.is_running(r)) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether `record`'s process runs. A child of ours is asked directly
    /// (which also reaps it once it has exited: until then its pid cannot
    /// be reused); any other process is checked through `/proc`.
    fn is_running(&self, record: &ComponentRecord) -> bool {
        match self.children.lock().unwrap().get_mut(&record.id) {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => record.is_running(),
        }
    }

    /// The error for component `id` when its process has exited.
    fn exited(&self, id: &ComponentId) -> Option<Error> {
        let record = self.state.component(id)?;
        let status = match self.children.lock().unwrap().get_mut(id) {
            Some(child) => match child.try_wait() {
                Ok(None) => return None,
                Ok(Some(status)) => status.to_string(),
                Err(e) => e.to_string(),
            },
            None if record.is_running() => return None,
            None => "not running".to_string(),
        };
        Some(Error::Exited {
            component: id.to_string(),
            status,
            log: record.log.clone(),
            tail: record.log_tail(TAIL_LINES),
        })
    }

    /// What was still not ready, with the end of the first few logs.
    fn timeout_error(&self, timeout: Duration, waiting: &[&ComponentHealth]) -> Error {
        let mut message = format!(
            "cluster {:?} not ready after {}s:",
            self.state.name,
            timeout.as_secs()
        );
        for h in waiting {
            message.push_str(&format!("\n  {}: {} ({})", h.id, h.status, h.detail));
        }
        for h in waiting.iter().take(2) {
            if let Some(record) = self.state.component(&h.id) {
                message.push_str(&format!(
                    "\nlast lines of {}:\n{}",
                    record.log.display(),
                    record.log_tail(5)
                ));
            }
        }
        Error::Timeout(message)
    }

    async fn health_of(&self, ids: &[ComponentId]) -> Vec<ComponentHealth> {
        let records: Vec<&ComponentRecord> = ids
            .iter()
            .filter_map(|id| self.state.component(id))
            .collect();
        let seen = self.observe(&records).await;
        let identities = self.identities();
        records
            .into_iter()
            .map(|record| {
                let running = self.is_running(record);
                health::assess(
                    record,
                    running,
                    identities.get(&record.id).map(String::as_str),
                    &seen,
                )
            })
            .collect()
    }

    /// Ask the cluster what `records` need to be judged by.
    async fn observe(&self, records: &[&ComponentRecord]) -> Observations {
        let needs = |role: Role| records.iter().any(|r| r.role == role);
        let mut seen = Observations {
            etcd_healthy: false,
            ..Default::default()
        };
        if needs(Role::Etcd) {
            seen.etcd_healthy = match etcd_port(&self.state) {
                Some(port) => health::etcd_healthy(port).await,
                None => false,
            };
        }
        seen.apiserver = self.apiserver_ready().await;
        for record in records.iter().filter(|r| r.role == Role::Proxy) {
            let health = match args::healthz_address(&record.args) {
                Some(addr) => health::healthz(addr).await,
                None => Err("no --healthz-bind-address".into()),
            };
            seen.proxies.insert(record.id.clone(), health);
        }
        if seen.apiserver.is_err() {
            return seen;
        }
        if needs(Role::Kubelet) {
            let nodes: Api<Node> = Api::all(self.client.clone());
            let listed =
                tokio::time::timeout(API_TIMEOUT, nodes.list(&ListParams::default())).await;
            if let Ok(Ok(list)) = listed {
                seen.nodes = Some(
                    list.items
                        .into_iter()
                        .map(|n| (n.metadata.name.clone(), n))
                        .collect(),
                );
            }
        }
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), "kube-system");
        for role in [Role::Scheduler, Role::ControllerManager] {
            if let (true, Some(name)) = (needs(role), role.lease_name()) {
                if let Ok(Ok(lease)) = tokio::time::timeout(API_TIMEOUT, leases.get_opt(name)).await
                {
                    seen.leases.insert(role, lease);
                }
            }
        }
        seen.holders = self.holders();
        seen
    }

    /// The apiserver's `/readyz`, over HTTPS with the admin's credential.
    async fn apiserver_ready(&self) -> std::result::Result<(), String> {
        let url = self
            .client
            .url_for_path("/readyz")
            .map_err(|e| e.to_string())?;
        let request = Request::new(Method::GET, url);
        match tokio::time::timeout(API_TIMEOUT, self.client.request_text(request)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {}s", API_TIMEOUT.as_secs())),
        }
    }

    /// Leader-election identity → the component that logged it, and
    /// whether that component still runs.
    fn holders(&self) -> HashMap<String, (ComponentId, bool)> {
        self.identities()
            .into_iter()
            .map(|(id, identity)| {
                let running = self
                    .state
                    .component(&id)
                    .is_some_and(|record| self.is_running(record));
                (identity, (id, running))
            })
            .collect()
    }

    /// The identities logged so far by the electing components.
    fn identities(&self) -> HashMap<ComponentId, String> {
        let mut known = self.identities.lock().unwrap();
        for record in &self.state.components {
            if record.role.lease_name().is_some() && !known.contains_key(&record.id) {
                if let Some(identity) = health::identity_in_log(&record.log, record.log_offset) {
                    known.insert(record.id.clone(), identity);
                }
            }
        }
        known.clone()
    }

    fn write_kubeconfigs(&self) -> Result<()> {
        let (trust, admin) = credentials::admin_entries(&self.state.state_dir)?;
        let config = kubeconfig::for_cluster(&self.state.name, &self.state.url, trust, admin);
        kubeconfig::write(&self.state.kubeconfig, &config)?;
        if let Some(path) = &self.state.extra_kubeconfig {
            kubeconfig::merge_file(path, &config)?;
        }
        Ok(())
    }

    /// SIGKILL and reap every process this value started.
    fn kill_all(&mut self) {
        for (_, mut child) in self.children.lock().unwrap().drain() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.detached {
            return;
        }
        self.kill_all();
        reset_runc_nodes(&self.state);
        remove_network(&self.state);
        if self.remove_state_on_drop {
            let dir = &self.state.state_dir;
            if std::thread::panicking() {
                eprintln!(
                    "cluster {:?}: logs kept in {}",
                    self.state.name,
                    dir.join(paths::LOGS_DIR).display()
                );
            } else if remove_owned_entries(dir).is_ok() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("name", &self.state.name)
            .field("url", &self.state.url)
            .field("state_dir", &self.state.state_dir)
            .finish_non_exhaustive()
    }
}

/// The programs a cluster runs, found before anything starts so a missing
/// one fails fast.
struct Binaries {
    etcd: Option<PathBuf>,
    apiserver: PathBuf,
    scheduler: PathBuf,
    controller_manager: PathBuf,
    kubelet: PathBuf,
    /// With netns nodes.
    proxy: Option<PathBuf>,
}

impl Binaries {
    fn find(locator: &BinaryLocator, store: Store, network: NodeNetwork) -> Result<Binaries> {
        Ok(Binaries {
            etcd: match store {
                Store::Etcd => Some(locator.find_etcd()?),
                Store::Embedded => None,
            },
            apiserver: locator.find(bins::APISERVER)?,
            scheduler: locator.find(bins::SCHEDULER)?,
            controller_manager: locator.find(bins::CONTROLLER_MANAGER)?,
            kubelet: locator.find(bins::KUBELET)?,
            proxy: match network {
                NodeNetwork::Netns => Some(locator.find(bins::PROXY)?),
                _ => None,
            },
        })
    }
}

/// The client port etcd was started with, from its recorded arguments.
fn etcd_port(state: &ClusterState) -> Option<u16> {
    let etcd = state.component(&ComponentId::etcd())?;
    etcd.args
        .iter()
        .find_map(|a| a.strip_prefix("--listen-client-urls=http://127.0.0.1:"))
        .and_then(|p| p.parse().ok())
}

/// Remove what the launcher keeps in `state_dir`, and nothing else.
fn remove_owned_entries(state_dir: &Path) -> Result<()> {
    for entry in paths::OWNED_ENTRIES {
        let path = state_dir.join(entry);
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match removed {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io(format!("removing {}", path.display()))(e))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether a component exited because its port was taken.
fn port_taken(e: &Error) -> bool {
    matches!(e, Error::Exited { tail, .. } if tail.to_lowercase().contains("address already in use"))
}

fn api_url(host: IpAddr, port: u16) -> String {
    format!("https://{}", SocketAddr::new(host, port))
}

/// The LAN of a netns cluster (its host bridge), with what its nodes are
/// started with.
fn create_network(spec: &ClusterSpec, proxy_binary: PathBuf) -> Result<NetworkState> {
    let subnet = spec.lan_subnet()?;
    let dir = std::path::absolute(&spec.state_dir).unwrap_or_else(|_| spec.state_dir.clone());
    let lan = Lan::create_in(&dir.display().to_string(), subnet)?;
    // What the controller-manager allocates pod ranges from (the last
    // one started decides nothing: they all get the same flags).
    let manager = args::controller_manager(
        &paths::generated_kubeconfig(&spec.state_dir, "controller-manager"),
        &paths::pki_dir(&spec.state_dir),
        spec.nodes,
        &spec.extra_args.controller_manager,
    );
    Ok(NetworkState {
        cgroup_root: format!("/tugboat-{}-{}", spec.name, lan.hash),
        lan,
        nodes: Vec::new(),
        proxy_binary,
        proxy_args: spec.extra_args.proxy.clone(),
        cluster_cidr: args::cluster_cidr(&manager),
    })
}

/// Once their kubelets are stopped, remove what runc nodes leave
/// running on purpose (a kubelet restart must not stop containers):
/// their pods, network and state, with `tug-kubelet reset`.
fn reset_runc_nodes(state: &ClusterState) {
    let template = &state.node_template;
    if template.runtime != Runtime::Runc {
        return;
    }
    let nodes = state
        .components
        .iter()
        .filter_map(|c| c.nodes.as_ref())
        .map(|g| (g.name.clone(), paths::node_dir(&state.state_dir, &g.name)));
    for (node, dir) in nodes.filter(|(_, d)| d.exists()) {
        let mut command = std::process::Command::new(&template.binary);
        command
            .arg("reset")
            .arg("--root-dir")
            .arg(&dir)
            .stdin(std::process::Stdio::null());
        // Inside the node's namespace, where its pod bridge is.
        let namespace = state.network.as_ref().and_then(|n| n.node(&node));
        if let Some(namespace) = namespace {
            if let Err(e) = namespace.ensure_exists() {
                eprintln!("cluster {:?}: {e}", state.name);
                continue;
            }
            if let Err(e) = netns::enter_on_exec(&mut command, &namespace.path()) {
                eprintln!("cluster {:?}: {e}", state.name);
                continue;
            }
        }
        let status = command.status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!(
                "cluster {:?}: `tug-kubelet reset --root-dir {}` failed ({status:?}); \
                 pods of that node may still run",
                state.name,
                dir.display()
            );
        }
    }
}

/// Remove a netns cluster's namespaces and LAN (after its processes are
/// gone), reporting what could not be removed.
fn remove_network(state: &ClusterState) {
    let Some(network) = &state.network else {
        return;
    };
    let namespaces = network.nodes.iter().map(NodeNamespace::remove);
    for result in namespaces.chain([network.lan.remove()]) {
        if let Err(e) = result {
            eprintln!("cluster {:?}: {e}", state.name);
        }
    }
}

fn client_for(url: &str) -> Result<Client> {
    Ok(Client::new(Config::new(url)?)?)
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}
