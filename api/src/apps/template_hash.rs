//! `pod-template-hash`: the name suffix and label that tie a Deployment's
//! ReplicaSet to one pod template (`controller.ComputeHash`).
//!
//! Kubernetes hashes the template's Go value with FNV-32a, mixes in the
//! Deployment's `collisionCount` and "safe-encodes" the decimal number so
//! the result has no vowels (no accidental words) and is a valid label.
//! We hash the template's JSON instead of a Go dump, so the values differ
//! from a real cluster's but have the same properties: stable for equal
//! templates, different for different ones, changed by a collision count.

use crate::core::pod::PodTemplateSpec;

/// The label (and ReplicaSet selector key) carrying the hash.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

/// Characters a safe-encoded string is made of (`rand.SafeEncodeString`).
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

fn fnv32a(mut hash: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// The hash of `template`, with `collision_count` mixed in when set.
pub fn compute_template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let json = serde_json::to_vec(template).expect("a pod template always serializes");
    let mut hash = fnv32a(FNV_OFFSET, &json);
    if let Some(count) = collision_count {
        hash = fnv32a(hash, &count.to_le_bytes());
    }
    hash.to_string()
        .bytes()
        .map(|b| SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()] as char)
        .collect()
}

/// Whether two templates are the same apart from the hash label
/// (`EqualIgnoreHash`): how a Deployment finds the ReplicaSet of its
/// current template.
pub fn templates_equal_ignoring_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let strip = |t: &PodTemplateSpec| {
        let mut t = t.clone();
        t.metadata.labels.remove(POD_TEMPLATE_HASH_LABEL);
        t
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_safe_and_moved_by_collisions() {
        let mut t = PodTemplateSpec::default();
        t.metadata.labels.insert("app".into(), "web".into());
        let h = compute_template_hash(&t, None);
        assert_eq!(h, compute_template_hash(&t, None));
        assert!(h.bytes().all(|b| SAFE_ALPHABET.contains(&b)));
        assert_ne!(h, compute_template_hash(&t, Some(1)));
        let mut other = t.clone();
        other.metadata.labels.insert("tier".into(), "front".into());
        assert_ne!(h, compute_template_hash(&other, None));
    }

    #[test]
    fn equality_ignores_only_the_hash_label() {
        let mut a = PodTemplateSpec::default();
        a.metadata.labels.insert("app".into(), "web".into());
        let mut b = a.clone();
        b.metadata
            .labels
            .insert(POD_TEMPLATE_HASH_LABEL.into(), "abc".into());
        assert!(templates_equal_ignoring_hash(&a, &b));
        b.metadata.labels.insert("app".into(), "api".into());
        assert!(!templates_equal_ignoring_hash(&a, &b));
    }
}
