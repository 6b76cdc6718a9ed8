//! NodeUnschedulable: a cordoned node (`spec.unschedulable`) takes no new
//! pods, unless the pod tolerates `node.kubernetes.io/unschedulable:NoSchedule`
//! (as DaemonSet pods do).

use tug_api::core::{Taint, TAINT_NODE_UNSCHEDULABLE};

use super::reasons;
use crate::framework::{FilterPlugin, Unfit};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The NodeUnschedulable filter.
pub struct NodeUnschedulable;

impl FilterPlugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        "NodeUnschedulable"
    }

    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
        let Some(n) = node.node() else {
            return Err(Unfit::because(reasons::UNSCHEDULABLE));
        };
        if !n.spec.unschedulable {
            return Ok(());
        }
        let taint = Taint {
            key: TAINT_NODE_UNSCHEDULABLE.to_string(),
            effect: "NoSchedule".to_string(),
            ..Default::default()
        };
        if pod.pod.spec.tolerations.iter().any(|t| t.tolerates(&taint)) {
            Ok(())
        } else {
            Err(Unfit::because(reasons::UNSCHEDULABLE))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::testing::{node, pod};
    use tug_api::core::Toleration;

    #[test]
    fn cordoned_nodes_refuse_pods_that_do_not_tolerate_it() {
        let mut n = node("n1", "1", "1Gi", 10);
        let plain = PodInfo::new(Arc::new(pod("a")));
        assert!(NodeUnschedulable
            .filter(&plain, &NodeInfo::new(Arc::new(n.clone())))
            .is_ok());
        n.spec.unschedulable = true;
        let cordoned = NodeInfo::new(Arc::new(n));
        assert_eq!(
            NodeUnschedulable.filter(&plain, &cordoned),
            Err(Unfit::because(reasons::UNSCHEDULABLE))
        );
        let mut tolerant = pod("b");
        tolerant.spec.tolerations.push(Toleration {
            key: TAINT_NODE_UNSCHEDULABLE.into(),
            operator: "Exists".into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        });
        assert!(NodeUnschedulable
            .filter(&PodInfo::new(Arc::new(tolerant)), &cordoned)
            .is_ok());
    }
}
