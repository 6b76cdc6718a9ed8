//! The command line: kubectl's verbs and flags, as clap definitions.
//!
//! Only parsing lives here; [`crate::commands`] carries each verb out.
//! Flags keep kubectl's names, short forms and defaults so that muscle
//! memory works (`-n`, `-A`, `-l`, `-o wide`, `-f -`, `--dry-run=server`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `tugctl`: controls a Tugboat cluster, the way kubectl controls a
/// Kubernetes one.
#[derive(Debug, Parser)]
#[command(
    name = "tugctl",
    version,
    about = "tugctl controls the Tugboat cluster manager.",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalFlags,
    #[command(subcommand)]
    pub command: Command,
}

/// kubectl's global flags: where the cluster is and who we are.
#[derive(Clone, Debug, Default, Args)]
pub struct GlobalFlags {
    /// Path to the kubeconfig file to use.
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The name of the kubeconfig context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// The name of the kubeconfig cluster to use.
    #[arg(long, global = true)]
    pub cluster: Option<String>,
    /// The name of the kubeconfig user to use.
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// The address and port of the API server.
    #[arg(short = 's', long, global = true)]
    pub server: Option<String>,
    /// Bearer token for authentication to the API server.
    #[arg(long, global = true)]
    pub token: Option<String>,
    /// Do not check the server's certificate (makes HTTPS insecure).
    #[arg(long, global = true)]
    pub insecure_skip_tls_verify: bool,
    /// The namespace scope for this request.
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Display one or many resources.
    Get(GetArgs),
    /// Apply a configuration to resources by file name or stdin.
    Apply(ApplyArgs),
    /// Create resources from a file or from stdin.
    Create(CreateArgs),
    /// Replace resources by file name or stdin.
    Replace(ReplaceArgs),
    /// Delete resources by file names, stdin, resources and names, or by label selector.
    Delete(DeleteArgs),
    /// Show details of a specific resource or group of resources.
    Describe(DescribeArgs),
    /// Set a new size for a deployment or replica set.
    Scale(ScaleArgs),
    /// Manage the rollout of a deployment.
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// Print the logs for a container in a pod.
    Logs(LogsArgs),
    /// Update the labels on a resource.
    Label(MetadataArgs),
    /// Update the annotations on a resource.
    Annotate(MetadataArgs),
    /// Mark node as unschedulable.
    Cordon(NodeArgs),
    /// Mark node as schedulable.
    Uncordon(NodeArgs),
    /// Drain node in preparation for maintenance.
    Drain(DrainArgs),
    /// Print the client and server version information.
    Version(VersionArgs),
    /// Print the supported API resources on the server.
    ApiResources(ApiResourcesArgs),
    /// Modify kubeconfig files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Output shell completion code for the specified shell (bash or zsh).
    Completion(CompletionArgs),
    /// Start, stop and inspect a local cluster.
    #[command(subcommand)]
    Cluster(crate::commands::cluster::ClusterCommand),
    /// Manage bootstrap tokens for joining nodes.
    #[command(subcommand)]
    Token(crate::commands::token::TokenCommand),
}

/// `--dry-run`: kubectl's `none|client|server`; a bare `--dry-run` is `client`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum DryRun {
    #[default]
    None,
    Client,
    Server,
}

impl DryRun {
    /// What kubectl appends to a result line: ` (dry run)`, ` (server dry run)`.
    pub fn suffix(self) -> &'static str {
        match self {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        }
    }
}

/// `-f FILE|DIR|-` and `-R`.
#[derive(Clone, Debug, Default, Args)]
pub struct FileArgs {
    /// Files, directories or `-` (stdin) holding the manifests.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub filenames: Vec<String>,
    /// Process the directories given with -f recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
}

/// `get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// `TYPE[,TYPE...] [NAME...]` or `TYPE/NAME...`.
    pub args: Vec<String>,
    /// List across all namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Label selector to filter on (`app=web,tier!=db`).
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Field selector to filter on (`status.phase=Running`).
    #[arg(long)]
    pub field_selector: Option<String>,
    /// Output format: wide|yaml|json|name|jsonpath=TEMPLATE.
    #[arg(short = 'o', long, default_value = "")]
    pub output: String,
    /// Show all labels as the last column.
    #[arg(long)]
    pub show_labels: bool,
    /// Do not print headers.
    #[arg(long)]
    pub no_headers: bool,
    /// Do not fail when a named object does not exist.
    #[arg(long)]
    pub ignore_not_found: bool,
    /// After listing, watch for changes.
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Watch for changes without listing first.
    #[arg(long)]
    pub watch_only: bool,
}

/// `apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub files: FileArgs,
    /// Only apply (and prune) objects with these labels.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Delete objects applied before that are no longer in the manifests.
    #[arg(long)]
    pub prune: bool,
    /// With --prune: prune every applied object, not just those selected by -l.
    #[arg(long)]
    pub all: bool,
    /// none, client (show what would happen) or server (validate on the server, store nothing).
    #[arg(long, value_enum, default_value = "none", num_args = 0..=1, default_missing_value = "client", require_equals = true)]
    pub dry_run: DryRun,
}

/// `create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub files: FileArgs,
    /// Store the configuration in the last-applied annotation, for a later apply.
    #[arg(long)]
    pub save_config: bool,
    #[arg(long, value_enum, default_value = "none", num_args = 0..=1, default_missing_value = "client", require_equals = true)]
    pub dry_run: DryRun,
}

/// `replace`.
#[derive(Debug, Args)]
pub struct ReplaceArgs {
    #[command(flatten)]
    pub files: FileArgs,
    #[arg(long, value_enum, default_value = "none", num_args = 0..=1, default_missing_value = "client", require_equals = true)]
    pub dry_run: DryRun,
}

/// `delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// `TYPE NAME...`, `TYPE/NAME...` or `TYPE` with --all / -l.
    pub args: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
    /// Delete every object of the given types in the namespace.
    #[arg(long)]
    pub all: bool,
    /// With --all or -l: across all namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Label selector of the objects to delete.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Field selector of the objects to delete.
    #[arg(long)]
    pub field_selector: Option<String>,
    /// Seconds the object gets to terminate; -1 uses the object's own default.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub grace_period: i64,
    /// Delete at once, without waiting for the pod to stop (needs --grace-period=0).
    #[arg(long)]
    pub force: bool,
    /// Delete with a grace period of 1 second.
    #[arg(long)]
    pub now: bool,
    /// Wait until the objects are gone before returning.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub wait: bool,
    /// How long to wait for the objects to go; 0 means as long as their grace period plus a minute.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// What happens to dependents: background, foreground or orphan.
    #[arg(long, value_enum, default_value = "background", num_args = 0..=1, default_missing_value = "background", require_equals = true)]
    pub cascade: Cascade,
    /// Treat "not found" as a successful delete.
    #[arg(long)]
    pub ignore_not_found: bool,
    #[arg(long, value_enum, default_value = "none", num_args = 0..=1, default_missing_value = "client", require_equals = true)]
    pub dry_run: DryRun,
}

/// `--cascade`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Cascade {
    Background,
    Foreground,
    Orphan,
}

/// `describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// `TYPE [NAME...]` or `TYPE/NAME`.
    pub args: Vec<String>,
    /// Label selector of the objects to describe.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Across all namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Show the object's events (default true).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub show_events: bool,
}

/// `scale`.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// `TYPE NAME` or `TYPE/NAME` (deployments, replicasets).
    pub args: Vec<String>,
    /// The new number of replicas.
    #[arg(long)]
    pub replicas: i32,
    /// Only scale when the current size is this.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub current_replicas: i32,
}

/// `rollout SUBCOMMAND`.
#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Show the status of the rollout.
    Status(RolloutStatusArgs),
    /// View rollout history.
    History(RolloutHistoryArgs),
    /// Undo a previous rollout.
    Undo(RolloutUndoArgs),
    /// Restart a resource (new pods from the same template).
    Restart(RolloutTarget),
    /// Mark the provided resource as paused.
    Pause(RolloutTarget),
    /// Resume a paused resource.
    Resume(RolloutTarget),
}

/// A deployment: `deploy/NAME` or `deploy NAME`.
#[derive(Debug, Args)]
pub struct RolloutTarget {
    /// `TYPE NAME` or `TYPE/NAME`.
    pub args: Vec<String>,
}

/// `rollout status`.
#[derive(Debug, Args)]
pub struct RolloutStatusArgs {
    #[command(flatten)]
    pub target: RolloutTarget,
    /// Watch the rollout until it is done (default true).
    #[arg(short = 'w', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub watch: bool,
    /// How long to wait before giving up; 0 waits forever.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// `rollout history`.
#[derive(Debug, Args)]
pub struct RolloutHistoryArgs {
    #[command(flatten)]
    pub target: RolloutTarget,
    /// Show the pod template of this revision.
    #[arg(long, default_value_t = 0)]
    pub revision: i64,
}

/// `rollout undo`.
#[derive(Debug, Args)]
pub struct RolloutUndoArgs {
    #[command(flatten)]
    pub target: RolloutTarget,
    /// The revision to roll back to; 0 means the previous one.
    #[arg(long, default_value_t = 0)]
    pub to_revision: i64,
    #[arg(long, value_enum, default_value = "none", num_args = 0..=1, default_missing_value = "client", require_equals = true)]
    pub dry_run: DryRun,
}

/// `logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// `POD` or `pod/POD`.
    pub pod: String,
    /// Print the logs of this container.
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Stream the logs as they are written.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// The logs of the previous, terminated instance of the container.
    #[arg(short = 'p', long)]
    pub previous: bool,
    /// Only the last N lines; -1 shows all.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub tail: i64,
    /// Prefix each line with its timestamp.
    #[arg(long)]
    pub timestamps: bool,
}

/// `label` and `annotate`.
#[derive(Debug, Args)]
pub struct MetadataArgs {
    /// `TYPE NAME KEY=VAL... KEY-...` or `TYPE/NAME KEY=VAL...`.
    pub args: Vec<String>,
    /// Allow changing a key that already has a value.
    #[arg(long)]
    pub overwrite: bool,
    /// Every object of the type in the namespace.
    #[arg(long)]
    pub all: bool,
    /// Label selector of the objects to change.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[arg(long, value_enum, default_value = "none", num_args = 0..=1, default_missing_value = "client", require_equals = true)]
    pub dry_run: DryRun,
}

/// `cordon` and `uncordon`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// The node.
    pub node: Option<String>,
    /// Label selector of the nodes.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
}

/// `drain`.
#[derive(Debug, Args)]
pub struct DrainArgs {
    /// The node.
    pub node: String,
    /// Leave pods managed by a DaemonSet alone.
    #[arg(long)]
    pub ignore_daemonsets: bool,
    /// Also delete pods no controller manages (they will not come back).
    #[arg(long)]
    pub force: bool,
    /// Also delete pods with emptyDir volumes (their data is lost).
    #[arg(long)]
    pub delete_emptydir_data: bool,
    /// Seconds each pod gets to terminate; -1 uses the pod's own.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub grace_period: i64,
    /// How long to wait for the pods to go; 0 means as long as their grace period plus a minute.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// `version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Only the client version.
    #[arg(long)]
    pub client: bool,
    /// yaml or json.
    #[arg(short = 'o', long, default_value = "")]
    pub output: String,
}

/// `api-resources`.
#[derive(Debug, Args)]
pub struct ApiResourcesArgs {
    /// Only namespaced (true) or cluster-scoped (false) resources.
    #[arg(long, action = clap::ArgAction::Set)]
    pub namespaced: Option<bool>,
    /// Only resources in this API group (empty: the core group).
    #[arg(long)]
    pub api_group: Option<String>,
    /// wide or name.
    #[arg(short = 'o', long, default_value = "")]
    pub output: String,
    /// Do not print headers.
    #[arg(long)]
    pub no_headers: bool,
}

/// `config SUBCOMMAND`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Display merged kubeconfig settings or a specified kubeconfig file.
    View(ConfigViewArgs),
    /// Set the current-context in a kubeconfig file.
    UseContext(UseContextArgs),
    /// Display the current-context.
    CurrentContext,
    /// Describe one or many contexts.
    GetContexts,
}

/// `config view`.
#[derive(Debug, Args)]
pub struct ConfigViewArgs {
    /// Only the current context and what it uses.
    #[arg(long)]
    pub minify: bool,
    /// Show secrets (tokens, keys, certificates) instead of redacting them.
    #[arg(long)]
    pub raw: bool,
    /// yaml (default) or json.
    #[arg(short = 'o', long, default_value = "yaml")]
    pub output: String,
}

/// `config use-context`.
#[derive(Debug, Args)]
pub struct UseContextArgs {
    /// The context to make current.
    pub name: String,
}

/// `completion`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// bash or zsh.
    pub shell: CompletionShell,
}

/// Shells `completion` writes code for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
}

pub use tug_api::duration::parse_duration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_as_kubectl_spells_them() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::parse_from([
            "tugctl",
            "-n",
            "prod",
            "apply",
            "-f",
            "a.yaml",
            "--dry-run=server",
        ]);
        assert_eq!(cli.global.namespace.as_deref(), Some("prod"));
        match cli.command {
            Command::Apply(a) => {
                assert_eq!(a.dry_run, DryRun::Server);
                assert_eq!(a.files.filenames, ["a.yaml"]);
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::parse_from(["tugctl", "delete", "po", "x", "--wait=false"]);
        match cli.command {
            Command::Delete(d) => assert!(!d.wait),
            other => panic!("{other:?}"),
        }
    }
}
