//! NodePorts: a pod whose containers bind host ports fits only on nodes
//! where no pod (bound or assumed) binds the same protocol and port on the
//! same address or on every address.

use super::reasons;
use crate::framework::{FilterPlugin, Unfit};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The NodePorts filter.
pub struct NodePorts;

impl FilterPlugin for NodePorts {
    fn name(&self) -> &'static str {
        "NodePorts"
    }

    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
        if pod.host_ports.iter().any(|p| node.port_conflicts(p)) {
            Err(Unfit::because(reasons::NODE_PORTS))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::testing::{node, pod_info, with_host_port};

    #[test]
    fn a_host_port_in_use_keeps_the_next_pod_out() {
        let mut n = NodeInfo::new(Arc::new(node("n1", "1", "1Gi", 10)));
        let web = with_host_port(pod_info("web", "", ""), "TCP", "0.0.0.0", 8080);
        assert!(NodePorts.filter(&web, &n).is_ok());
        n.add_pod(&web);
        let again = with_host_port(pod_info("web2", "", ""), "TCP", "0.0.0.0", 8080);
        assert_eq!(
            NodePorts.filter(&again, &n),
            Err(Unfit::because(reasons::NODE_PORTS))
        );
        let udp = with_host_port(pod_info("dns", "", ""), "UDP", "0.0.0.0", 8080);
        assert!(NodePorts.filter(&udp, &n).is_ok());
        assert!(NodePorts.filter(&pod_info("plain", "", ""), &n).is_ok());
    }
}
