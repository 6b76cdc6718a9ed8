//! Pod admission: before it runs a pod, the kubelet checks that the pod
//! fits next to the pods it already admitted (count against `--max-pods`,
//! CPU and memory requests against allocatable), as the kubelet's
//! resource-fit admit handler does. A pod that does not fit is rejected:
//! it fails at once (`OutOfpods`, `OutOfcpu`, `OutOfmemory`) instead of
//! overcommitting the node. The scheduler should never bind such a pod;
//! this is the node's own guard against a stale scheduler or a pod bound
//! by hand.

use std::collections::HashMap;

use tug_api::core::PodRequests;

/// What the node offers pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allocatable {
    /// CPU in millicores.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Number of pods.
    pub pods: i64,
}

/// Why a pod was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// `OutOfpods`, `OutOfcpu` or `OutOfmemory`.
    pub reason: String,
    /// The message the pod's status carries.
    pub message: String,
}

/// The pods a node has admitted and what they reserve.
#[derive(Debug)]
pub struct Admission {
    allocatable: Allocatable,
    admitted: HashMap<String, PodRequests>,
}

impl Admission {
    /// Nothing admitted yet.
    pub fn new(allocatable: Allocatable) -> Admission {
        Admission {
            allocatable,
            admitted: HashMap::new(),
        }
    }

    /// Whether pod `uid` is admitted.
    pub fn is_admitted(&self, uid: &str) -> bool {
        self.admitted.contains_key(uid)
    }

    /// Admit pod `uid` without checking (it ran here before a restart).
    pub fn force(&mut self, uid: &str, requests: PodRequests) {
        self.admitted.insert(uid.to_string(), requests);
    }

    /// Admit pod `uid` if it fits, else say why not.
    pub fn admit(&mut self, uid: &str, requests: PodRequests) -> Result<(), Rejection> {
        if self.is_admitted(uid) {
            return Ok(());
        }
        let a = self.allocatable;
        let used_pods = self.admitted.len() as i64;
        let used_cpu: i64 = self.admitted.values().map(|r| r.milli_cpu).sum();
        let used_memory: i64 = self.admitted.values().map(|r| r.memory).sum();
        let reject = |resource: &str, requested: i64, used: i64, capacity: i64| {
            Rejection {
            reason: format!("OutOf{resource}"),
            message: format!(
                "Pod was rejected: Node didn't have enough resource: {resource}, requested: {requested}, used: {used}, capacity: {capacity}"
            ),
        }
        };
        if used_pods + 1 > a.pods {
            return Err(reject("pods", 1, used_pods, a.pods));
        }
        if requests.milli_cpu > 0 && used_cpu + requests.milli_cpu > a.milli_cpu {
            return Err(reject("cpu", requests.milli_cpu, used_cpu, a.milli_cpu));
        }
        if requests.memory > 0 && used_memory + requests.memory > a.memory {
            return Err(reject("memory", requests.memory, used_memory, a.memory));
        }
        self.admitted.insert(uid.to_string(), requests);
        Ok(())
    }

    /// Pod `uid` no longer holds resources (finished or gone).
    pub fn release(&mut self, uid: &str) {
        self.admitted.remove(uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(milli_cpu: i64, memory: i64) -> PodRequests {
        PodRequests { milli_cpu, memory }
    }

    fn admission() -> Admission {
        Admission::new(Allocatable {
            milli_cpu: 1000,
            memory: 1 << 30,
            pods: 3,
        })
    }

    #[test]
    fn rejects_what_does_not_fit() {
        let mut a = admission();
        assert!(a.admit("a", req(600, 0)).is_ok());
        let r = a.admit("b", req(500, 0)).unwrap_err();
        assert_eq!(r.reason, "OutOfcpu");
        assert_eq!(
            r.message,
            "Pod was rejected: Node didn't have enough resource: cpu, requested: 500, used: 600, capacity: 1000"
        );
        assert!(a.admit("b", req(400, 1 << 29)).is_ok());
        assert_eq!(
            a.admit("c", req(0, 1 << 30)).unwrap_err().reason,
            "OutOfmemory"
        );
        assert!(
            a.admit("c", req(0, 0)).is_ok(),
            "best-effort pods need no resources"
        );
        assert_eq!(a.admit("d", req(0, 0)).unwrap_err().reason, "OutOfpods");
    }

    #[test]
    fn release_makes_room_and_admission_is_idempotent() {
        let mut a = admission();
        for uid in ["a", "b", "c"] {
            a.admit(uid, req(0, 0)).unwrap();
        }
        assert!(a.admit("a", req(0, 0)).is_ok(), "already admitted");
        assert!(a.admit("d", req(0, 0)).is_err());
        a.release("b");
        assert!(a.admit("d", req(0, 0)).is_ok());
        a.force("e", req(5000, 0));
        assert!(a.is_admitted("e"));
    }
}
