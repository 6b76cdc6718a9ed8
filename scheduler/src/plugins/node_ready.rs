//! NodeReady: a node whose `Ready` condition is not `True` takes no new
//! pods. Once the node lifecycle controller taints such a node
//! (`node.kubernetes.io/not-ready` or `unreachable`), TaintToleration,
//! which runs first, reports the taint instead; this filter covers the
//! time before the taint, and a pod that tolerates the taint the node
//! would get (`NoSchedule`) passes here too, as it would with the taint.

use tug_api::core::{Taint, TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE};

use super::reasons;
use crate::framework::{FilterPlugin, Unfit};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The NodeReady filter.
pub struct NodeReady;

impl FilterPlugin for NodeReady {
    fn name(&self) -> &'static str {
        "NodeReady"
    }

    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
        let Some(n) = node.node() else {
            return Err(Unfit::because(reasons::NOT_READY));
        };
        let key = match n.condition("Ready").map(|c| c.status.as_str()) {
            Some("True") => return Ok(()),
            Some("False") => TAINT_NODE_NOT_READY,
            _ => TAINT_NODE_UNREACHABLE,
        };
        let taint = Taint {
            key: key.to_string(),
            effect: "NoSchedule".to_string(),
            ..Default::default()
        };
        if pod.pod.spec.tolerations.iter().any(|t| t.tolerates(&taint)) {
            Ok(())
        } else {
            Err(Unfit::because(reasons::NOT_READY))
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
    fn nodes_that_are_not_ready_do_not_fit() {
        let plain = PodInfo::new(Arc::new(pod("a")));
        let ready = node("n1", "1", "1Gi", 10);
        assert!(NodeReady
            .filter(&plain, &NodeInfo::new(Arc::new(ready.clone())))
            .is_ok());

        let mut not_ready = ready.clone();
        not_ready.status.conditions[0].status = "False".into();
        let not_ready = NodeInfo::new(Arc::new(not_ready));
        assert_eq!(
            NodeReady.filter(&plain, &not_ready),
            Err(Unfit::because(reasons::NOT_READY))
        );

        let mut fresh = ready;
        fresh.status.conditions.clear();
        let fresh = NodeInfo::new(Arc::new(fresh));
        assert!(NodeReady.filter(&plain, &fresh).is_err());

        // A pod tolerating the not-ready taint may go to a not-ready node,
        // but not to one whose readiness is unknown.
        let mut tolerant = pod("b");
        tolerant.spec.tolerations.push(Toleration {
            key: TAINT_NODE_NOT_READY.into(),
            operator: "Exists".into(),
            ..Default::default()
        });
        let tolerant = PodInfo::new(Arc::new(tolerant));
        assert!(NodeReady.filter(&tolerant, &not_ready).is_ok());
        assert!(NodeReady.filter(&tolerant, &fresh).is_err());
    }
}
