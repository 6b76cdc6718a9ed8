//! One sync of one Deployment: the writes (`sync.go`, `rolling.go`,
//! `recreate.go`, `progress.go` upstream), driven by the pure pieces next
//! to this file.
//!
//! A [`DeploymentSync`] holds a working copy of the Deployment and of the
//! ReplicaSets it owns, and replaces each with what the API server
//! returns after every write, so later steps of the same sync never act
//! on a stale copy (or trip over their own resourceVersion).

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde_json::json;
use tug_api::apps::{
    compute_template_hash, templates_equal_ignoring_hash, Deployment, DeploymentStatus, ReplicaSet,
    ReplicaSetSpec, POD_TEMPLATE_HASH_LABEL,
};
use tug_api::meta::{ObjectMeta, OwnerReference, Time};
use tug_client::{Action, Api, DeleteParams, Patch, PatchParams, PostParams};

use super::annotations::{
    desired_replicas_annotation, max_revision, replicas_annotation_values,
    replicas_annotations_need_update, set_new_replica_set_annotations, set_replicas_annotations,
    REVISION,
};
use super::cleanup::history_to_delete;
use super::progress::{
    calculate_status, condition, has_progress_deadline, is_complete, new_condition,
    paused_condition, recheck_deadline_in, rollout_status, set_condition, FAILED_RS_CREATE,
    FOUND_NEW_RS, NEW_RS_CREATED, PROGRESSING,
};
use super::proportional::plan_scale;
use super::recreate::old_pods_running;
use super::replicas::{desired, find_new, new_rs_replicas, size};
use super::rolling::{new_replica_set_target, old_replica_sets_scale_down};
use super::DeploymentController;
use crate::util::claim::CONTROLLER_UID_INDEX;

/// The Deployment's own view of the moment: second precision, as the
/// API stores times, so computed conditions compare equal to stored ones.
fn now() -> DateTime<Utc> {
    Time::now().0
}

/// A sync in progress.
pub(super) struct DeploymentSync<'a> {
    c: &'a DeploymentController,
    /// The Deployment as last read or written.
    d: Deployment,
    /// The ReplicaSets it owns, as last read or written.
    sets: Vec<ReplicaSet>,
}

impl<'a> DeploymentSync<'a> {
    pub(super) fn new(c: &'a DeploymentController, d: Deployment, sets: Vec<ReplicaSet>) -> Self {
        DeploymentSync { c, d, sets }
    }

    pub(super) fn deployment(&self) -> &Deployment {
        &self.d
    }

    fn deployments_api(&self) -> Api<Deployment> {
        Api::namespaced(self.c.client.clone(), &self.d.metadata.namespace)
    }

    fn replicasets_api(&self) -> Api<ReplicaSet> {
        Api::namespaced(self.c.client.clone(), &self.d.metadata.namespace)
    }

    fn set_named(&self, name: &str) -> Option<ReplicaSet> {
        self.sets
            .iter()
            .find(|rs| rs.metadata.name == name)
            .cloned()
    }

    /// The new ReplicaSet (by uid) and the others, as currently known.
    fn split(&self, new_uid: Option<&str>) -> (Option<ReplicaSet>, Vec<ReplicaSet>) {
        let mut new = None;
        let mut old = Vec::new();
        for rs in &self.sets {
            if Some(rs.metadata.uid.as_str()) == new_uid {
                new = Some(rs.clone());
            } else {
                old.push(rs.clone());
            }
        }
        (new, old)
    }

    fn remember(&mut self, rs: ReplicaSet) {
        match self
            .sets
            .iter_mut()
            .find(|s| s.metadata.uid == rs.metadata.uid)
        {
            Some(slot) => *slot = rs,
            None => self.sets.push(rs),
        }
    }

    // ---- writes -------------------------------------------------------

    /// Write `status` (through `/status`, at the resourceVersion we hold).
    async fn write_status(&mut self, status: DeploymentStatus) -> anyhow::Result<()> {
        let mut target = self.d.clone();
        target.status = status;
        self.d = self
            .deployments_api()
            .replace_status(&self.d.metadata.name, &PostParams::default(), &target)
            .await
            .context("updating the Deployment status")?;
        Ok(())
    }

    /// Record the Deployment's revision in its annotations.
    async fn write_revision(&mut self, revision: &str) -> anyhow::Result<()> {
        let patch = json!({"metadata": {"annotations": {REVISION: revision}}});
        self.d = self
            .deployments_api()
            .patch(
                &self.d.metadata.name,
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
            .context("recording the Deployment revision")?;
        Ok(())
    }

    async fn replace_replica_set(&mut self, rs: &ReplicaSet) -> anyhow::Result<ReplicaSet> {
        let updated = self
            .replicasets_api()
            .replace(&rs.metadata.name, &PostParams::default(), rs)
            .await
            .with_context(|| format!("updating ReplicaSet {}", rs.metadata.name))?;
        self.remember(updated.clone());
        Ok(updated)
    }

    /// Set a ReplicaSet's size and replica annotations
    /// (`scaleReplicaSet`); whether the size changed.
    async fn scale(&mut self, rs: &ReplicaSet, replicas: i32) -> anyhow::Result<bool> {
        let (desired, max) = replicas_annotation_values(&self.d);
        let resize = size(rs) != replicas;
        if !resize && !replicas_annotations_need_update(rs, desired, max) {
            return Ok(false);
        }
        let mut copy = rs.clone();
        copy.spec.replicas = Some(replicas);
        set_replicas_annotations(&mut copy, desired, max);
        self.replace_replica_set(&copy).await?;
        if resize {
            let direction = if replicas > size(rs) { "up" } else { "down" };
            self.c.recorder.normal(
                &self.d,
                "ScalingReplicaSet",
                format!(
                    "Scaled {direction} replica set {} from {} to {replicas}",
                    rs.metadata.name,
                    size(rs)
                ),
            );
        }
        Ok(resize)
    }

    /// Scale only when the size differs (`scaleReplicaSetAndRecordEvent`).
    async fn scale_if_needed(&mut self, rs: &ReplicaSet, replicas: i32) -> anyhow::Result<bool> {
        if size(rs) == replicas {
            return Ok(false);
        }
        self.scale(rs, replicas).await
    }

    // ---- the new ReplicaSet and revisions -----------------------------

    /// Find the new ReplicaSet and bring its annotations and the
    /// Deployment's revision up to date; create it when `create` and it
    /// does not exist (`getAllReplicaSetsAndSyncRevision`).
    async fn sync_revision(
        &mut self,
        create: bool,
    ) -> anyhow::Result<(Option<ReplicaSet>, Vec<ReplicaSet>)> {
        let existing = find_new(&self.d, &self.sets).cloned();
        let (_, old) = self.split(existing.as_ref().map(|rs| rs.metadata.uid.as_str()));
        let new_revision = max_revision(&old) + 1;
        let new = match existing {
            Some(rs) => Some(self.sync_existing_new(rs, new_revision).await?),
            None if create => Some(self.create_new(&old, new_revision).await?),
            None => None,
        };
        Ok((new, old))
    }

    async fn sync_existing_new(
        &mut self,
        rs: ReplicaSet,
        new_revision: i64,
    ) -> anyhow::Result<ReplicaSet> {
        let mut copy = rs.clone();
        let annotations_changed =
            set_new_replica_set_annotations(&self.d, &mut copy, new_revision, true);
        if annotations_changed || copy.spec.min_ready_seconds != self.d.spec.min_ready_seconds {
            copy.spec.min_ready_seconds = self.d.spec.min_ready_seconds;
            // The Deployment's revision follows on the sync this update
            // triggers, from the ReplicaSet as written.
            return self.replace_replica_set(&copy).await;
        }
        let revision = copy
            .metadata
            .annotations
            .get(REVISION)
            .cloned()
            .unwrap_or_default();
        if self.d.metadata.annotations.get(REVISION) != Some(&revision) {
            self.write_revision(&revision).await?;
        }
        if has_progress_deadline(&self.d) && condition(&self.d.status, PROGRESSING).is_none() {
            let mut status = self.d.status.clone();
            let msg = format!("Found new replica set {:?}", copy.metadata.name);
            set_condition(
                &mut status,
                new_condition(PROGRESSING, "True", FOUND_NEW_RS, msg, now()),
            );
            self.write_status(status).await?;
        }
        Ok(copy)
    }

    /// Create the ReplicaSet of the current template, named and labelled
    /// by its hash. An existing namesake with another template is a hash
    /// collision: bump `collisionCount` (the next hash differs) and retry.
    async fn create_new(
        &mut self,
        old: &[ReplicaSet],
        new_revision: i64,
    ) -> anyhow::Result<ReplicaSet> {
        let d = &self.d;
        let hash = compute_template_hash(&d.spec.template, d.status.collision_count);
        let mut template = d.spec.template.clone();
        template
            .metadata
            .labels
            .insert(POD_TEMPLATE_HASH_LABEL.into(), hash.clone());
        let mut selector = d.spec.selector.clone().unwrap_or_default();
        selector
            .match_labels
            .insert(POD_TEMPLATE_HASH_LABEL.into(), hash.clone());
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: format!("{}-{hash}", d.metadata.name),
                namespace: d.metadata.namespace.clone(),
                labels: template.metadata.labels.clone(),
                owner_references: vec![OwnerReference::controller_of(d)],
                ..Default::default()
            },
            spec: ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: d.spec.min_ready_seconds,
                selector: Some(selector),
                template,
            },
            ..Default::default()
        };
        let all: Vec<&ReplicaSet> = old.iter().chain([&rs]).collect();
        let replicas = new_rs_replicas(d, &all, &rs);
        rs.spec.replicas = Some(replicas);
        set_new_replica_set_annotations(d, &mut rs, new_revision, false);

        let (created, already_existed) = match self
            .replicasets_api()
            .create(&PostParams::default(), &rs)
            .await
        {
            Ok(created) => (created, false),
            Err(e) if e.is_already_exists() => {
                // Usually ours, created by an earlier sync and not yet in
                // the cache: then read it from the server.
                let cached = self
                    .c
                    .replicasets
                    .get_namespaced(&rs.metadata.namespace, &rs.metadata.name);
                let theirs = match cached {
                    Some(cached) => Some((*cached).clone()),
                    None => self.replicasets_api().get_opt(&rs.metadata.name).await?,
                };
                match theirs {
                    Some(theirs)
                        if theirs
                            .metadata
                            .controller_ref()
                            .is_some_and(|r| r.uid == self.d.metadata.uid)
                            && templates_equal_ignoring_hash(
                                &self.d.spec.template,
                                &theirs.spec.template,
                            ) =>
                    {
                        (theirs, true)
                    }
                    Some(_) => {
                        let mut status = self.d.status.clone();
                        let count = status.collision_count.unwrap_or(0) + 1;
                        status.collision_count = Some(count);
                        self.write_status(status).await?;
                        tracing::info!(deployment = %self.d.metadata.name, collision_count = count, "hash collision; retrying with a new name");
                        return Err(e).context("ReplicaSet name collision");
                    }
                    // Deleted in between: try again.
                    None => return Err(e).context("creating the new ReplicaSet"),
                }
            }
            Err(e) => {
                let msg = format!(
                    "Failed to create new replica set {:?}: {e}",
                    rs.metadata.name
                );
                if has_progress_deadline(&self.d) {
                    let mut status = self.d.status.clone();
                    set_condition(
                        &mut status,
                        new_condition(PROGRESSING, "False", FAILED_RS_CREATE, msg.clone(), now()),
                    );
                    if let Err(se) = self.write_status(status).await {
                        tracing::debug!(error = %se, "could not record the failed create");
                    }
                }
                self.c.recorder.warning(&self.d, FAILED_RS_CREATE, msg);
                return Err(e).context("creating the new ReplicaSet");
            }
        };
        if !already_existed && replicas > 0 {
            self.c.recorder.normal(
                &self.d,
                "ScalingReplicaSet",
                format!(
                    "Scaled up replica set {} from 0 to {replicas}",
                    created.metadata.name
                ),
            );
        }
        self.remember(created.clone());
        let revision = new_revision.to_string();
        if self.d.metadata.annotations.get(REVISION) != Some(&revision) {
            self.write_revision(&revision).await?;
        }
        if !already_existed && has_progress_deadline(&self.d) {
            let mut status = self.d.status.clone();
            let msg = format!("Created new replica set {:?}", created.metadata.name);
            set_condition(
                &mut status,
                new_condition(PROGRESSING, "True", NEW_RS_CREATED, msg, now()),
            );
            self.write_status(status).await?;
        }
        Ok(created)
    }

    // ---- the sync paths ----------------------------------------------------

    /// Status only (a Deployment being deleted).
    pub(super) async fn sync_status_only(&mut self) -> anyhow::Result<Action> {
        let (new, _) = self.sync_revision(false).await?;
        self.sync_status(new.as_ref().map(|rs| rs.metadata.uid.clone()))
            .await?;
        Ok(Action::Done)
    }

    /// Record a pause or resume on the Progressing condition.
    pub(super) async fn check_paused_conditions(&mut self) -> anyhow::Result<()> {
        if let Some(cond) = paused_condition(&self.d, now()) {
            let mut status = self.d.status.clone();
            set_condition(&mut status, cond);
            self.write_status(status).await?;
        }
        Ok(())
    }

    /// Whether an active ReplicaSet was sized for another `spec.replicas`:
    /// the Deployment was scaled (`isScalingEvent`).
    pub(super) async fn is_scaling_event(&mut self) -> anyhow::Result<bool> {
        let (new, old) = self.sync_revision(false).await?;
        let want = desired(&self.d);
        Ok(old
            .iter()
            .chain(new.as_ref())
            .filter(|rs| size(rs) > 0)
            .any(|rs| desired_replicas_annotation(rs).is_some_and(|n| n != want)))
    }

    /// Scale (and, when paused, clean up history) without rolling
    /// (`sync`): for paused Deployments and scaling events.
    pub(super) async fn sync_scale(&mut self) -> anyhow::Result<Action> {
        let (new, old) = self.sync_revision(false).await?;
        let new_uid = new.as_ref().map(|rs| rs.metadata.uid.clone());
        let old_refs: Vec<&ReplicaSet> = old.iter().collect();
        for step in plan_scale(&self.d, new.as_ref(), &old_refs) {
            let Some(rs) = self.set_named(&step.name) else {
                continue;
            };
            if step.sync_annotations {
                self.scale(&rs, step.replicas).await?;
            } else {
                self.scale_if_needed(&rs, step.replicas).await?;
            }
        }
        if self.d.spec.paused {
            self.cleanup(new_uid.as_deref()).await?;
        }
        self.sync_status(new_uid).await?;
        Ok(Action::Done)
    }

    /// One rolling-update step (`rolloutRolling`).
    pub(super) async fn rollout_rolling(&mut self) -> anyhow::Result<Action> {
        let (new, old) = self.sync_revision(true).await?;
        let new = new.context("the new ReplicaSet is missing")?;
        let new_uid = Some(new.metadata.uid.clone());
        let all: Vec<&ReplicaSet> = old.iter().chain([&new]).collect();
        if let Some(target) = new_replica_set_target(&self.d, &all, &new) {
            if self.scale_if_needed(&new, target).await? {
                return self.sync_rollout_status(new_uid).await;
            }
        }
        let old_active: Vec<&ReplicaSet> = old.iter().filter(|rs| size(rs) > 0).collect();
        let mut scaled_down = false;
        for (name, target) in old_replica_sets_scale_down(&self.d, &all, &old_active, &new) {
            if let Some(rs) = self.set_named(&name) {
                scaled_down |= self.scale_if_needed(&rs, target).await?;
            }
        }
        if scaled_down {
            return self.sync_rollout_status(new_uid).await;
        }
        if is_complete(&self.d, &self.d.status) {
            self.cleanup(new_uid.as_deref()).await?;
        }
        self.sync_rollout_status(new_uid).await
    }

    /// Recreate: old ReplicaSets to 0, wait until none of their pods can
    /// still run, then the new ReplicaSet at full size (`rolloutRecreate`).
    pub(super) async fn rollout_recreate(&mut self) -> anyhow::Result<Action> {
        let (mut new, old) = self.sync_revision(false).await?;
        let mut scaled_down = false;
        for rs in old.iter().filter(|rs| size(rs) > 0) {
            scaled_down |= self.scale_if_needed(rs, 0).await?;
        }
        let mut new_uid = new.as_ref().map(|rs| rs.metadata.uid.clone());
        if scaled_down {
            return self.sync_rollout_status(new_uid).await;
        }
        let (_, old) = self.split(new_uid.as_deref());
        let old_refs: Vec<&ReplicaSet> = old.iter().collect();
        if old_pods_running(&old_refs, |uid| {
            self.c.pods.by_index(CONTROLLER_UID_INDEX, uid)
        }) {
            return self.sync_rollout_status(new_uid).await;
        }
        if new.is_none() {
            new = self.sync_revision(true).await?.0;
            new_uid = new.as_ref().map(|rs| rs.metadata.uid.clone());
        }
        if let Some(rs) = new_uid
            .as_deref()
            .and_then(|uid| self.sets.iter().find(|s| s.metadata.uid == uid))
            .cloned()
        {
            let want = desired(&self.d);
            self.scale_if_needed(&rs, want).await?;
        }
        if is_complete(&self.d, &self.d.status) {
            self.cleanup(new_uid.as_deref()).await?;
        }
        self.sync_rollout_status(new_uid).await
    }

    // ---- status and cleanup ----------------------------------------------

    /// Write the computed status if it changed (`syncDeploymentStatus`).
    async fn sync_status(&mut self, new_uid: Option<String>) -> anyhow::Result<()> {
        let (new, old) = self.split(new_uid.as_deref());
        let all: Vec<&ReplicaSet> = old.iter().chain(new.as_ref()).collect();
        let status = calculate_status(&self.d, &all, new.as_ref(), now());
        if status != self.d.status {
            self.write_status(status).await?;
        }
        Ok(())
    }

    /// Write the status with the progress conditions; when nothing changed,
    /// come back at the progress deadline (`syncRolloutStatus`).
    async fn sync_rollout_status(&mut self, new_uid: Option<String>) -> anyhow::Result<Action> {
        let (new, old) = self.split(new_uid.as_deref());
        let all: Vec<&ReplicaSet> = old.iter().chain(new.as_ref()).collect();
        let now = now();
        let status = rollout_status(&self.d, &all, new.as_ref(), now);
        if status != self.d.status {
            self.write_status(status).await?;
            return Ok(Action::Done);
        }
        Ok(match recheck_deadline_in(&self.d, &status, now) {
            Some(after) => Action::RequeueAfter(after.max(Duration::from_secs(1))),
            None => Action::Done,
        })
    }

    /// Delete old ReplicaSets beyond `revisionHistoryLimit`.
    async fn cleanup(&mut self, new_uid: Option<&str>) -> anyhow::Result<()> {
        let Some(limit) = self
            .d
            .spec
            .revision_history_limit
            .filter(|l| *l != i32::MAX)
        else {
            return Ok(());
        };
        let (_, old) = self.split(new_uid);
        let old_refs: Vec<&ReplicaSet> = old.iter().collect();
        for rs in history_to_delete(&old_refs, limit) {
            tracing::debug!(deployment = %self.d.metadata.name, replicaset = %rs.metadata.name, "deleting old revision");
            match self
                .replicasets_api()
                .delete(&rs.metadata.name, &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("deleting old ReplicaSet {}", rs.metadata.name))
                }
            }
        }
        Ok(())
    }
}
