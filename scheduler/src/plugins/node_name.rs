//! NodeName: a pod that names its node (`spec.nodeName`) fits only there.

use super::reasons;
use crate::framework::{FilterPlugin, Unfit};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The NodeName filter.
pub struct NodeName;

impl FilterPlugin for NodeName {
    fn name(&self) -> &'static str {
        "NodeName"
    }

    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
        let wanted = &pod.pod.spec.node_name;
        if wanted.is_empty() || wanted == node.name() {
            Ok(())
        } else {
            Err(Unfit::because(reasons::NODE_NAME))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn only_the_named_node_fits() {
        let n1 = NodeInfo::new(Arc::new(node("n1", "1", "1Gi", 10)));
        let n2 = NodeInfo::new(Arc::new(node("n2", "1", "1Gi", 10)));
        let any = PodInfo::new(Arc::new(pod("a")));
        assert!(NodeName.filter(&any, &n1).is_ok());
        let mut named = pod("b");
        named.spec.node_name = "n2".into();
        let named = PodInfo::new(Arc::new(named));
        assert_eq!(
            NodeName.filter(&named, &n1),
            Err(Unfit::because(reasons::NODE_NAME))
        );
        assert!(NodeName.filter(&named, &n2).is_ok());
    }
}
