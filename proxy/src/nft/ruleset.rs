//! A structured nftables table: what [`render`](super::render) produces
//! and what [`transaction`](super::transaction) diffs. Rules are kept as
//! nft syntax lines; everything else (names, hooks, set types, map
//! elements) is structured, so a diff can tell exactly which chain or
//! element changed.

use std::collections::BTreeMap;

/// One chain: its base-chain declaration (if any) and its rules in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chain {
    /// `type nat hook prerouting priority dstnat` for a base chain.
    pub hook: Option<String>,
    /// Rule bodies in nft syntax, in order.
    pub rules: Vec<String>,
}

/// A named set or verdict map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Set {
    /// The declaration body, e.g. `type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ;`.
    pub spec: String,
    /// Whether the elements are managed by the proxy (maps) or by the
    /// kernel through `update @set` (affinity sets: never flushed, so
    /// clients keep their endpoint across syncs).
    pub managed_elements: bool,
    /// Element key → value (`goto chain` for a vmap; empty for a set).
    pub elements: BTreeMap<String, String>,
}

impl Set {
    /// The nft keyword declaring it.
    pub fn keyword(&self) -> &'static str {
        if self.spec.contains(':') {
            "map"
        } else {
            "set"
        }
    }
}

/// A whole table `ip <name>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ruleset {
    /// The table's name.
    pub table: String,
    /// Chains by name.
    pub chains: BTreeMap<String, Chain>,
    /// Sets and maps by name.
    pub sets: BTreeMap<String, Set>,
}

impl Ruleset {
    /// An empty table named `table`.
    pub fn new(table: &str) -> Ruleset {
        Ruleset {
            table: table.to_string(),
            ..Default::default()
        }
    }

    /// The chain `name`, created empty on first use.
    pub fn chain(&mut self, name: &str) -> &mut Chain {
        self.chains.entry(name.to_string()).or_default()
    }

    /// Append `rule` to chain `name`.
    pub fn rule(&mut self, name: &str, rule: impl Into<String>) {
        self.chain(name).rules.push(rule.into());
    }

    /// Declare a base chain `name` on `hook`.
    pub fn base_chain(&mut self, name: &str, hook: &str) {
        self.chain(name).hook = Some(hook.to_string());
    }

    /// Declare a verdict map.
    pub fn map(&mut self, name: &str, spec: &str) {
        self.sets.insert(
            name.to_string(),
            Set {
                spec: spec.to_string(),
                managed_elements: true,
                elements: BTreeMap::new(),
            },
        );
    }

    /// Add `key : value` to map `name` (declared before).
    pub fn element(&mut self, name: &str, key: String, value: String) {
        if let Some(set) = self.sets.get_mut(name) {
            set.elements.insert(key, value);
        }
    }

    /// Declare a set whose elements the kernel manages (`update @set`).
    pub fn dynamic_set(&mut self, name: &str, spec: String) {
        self.sets.insert(
            name.to_string(),
            Set {
                spec,
                managed_elements: false,
                elements: BTreeMap::new(),
            },
        );
    }

    /// Replace the objects `old` rendered with those `new` rendered (both
    /// renderings of the same service ports, before and after a change):
    /// keeps the applied ruleset current after a partial sync without
    /// rendering everything again.
    pub fn splice(&mut self, old: &Ruleset, new: &Ruleset) {
        for name in old.chains.keys() {
            self.chains.remove(name);
        }
        for (name, set) in &old.sets {
            match self.sets.get_mut(name) {
                Some(mine) if set.managed_elements => {
                    for key in set.elements.keys() {
                        mine.elements.remove(key);
                    }
                }
                _ => {
                    self.sets.remove(name);
                }
            }
        }
        for (name, chain) in &new.chains {
            self.chains.insert(name.clone(), chain.clone());
        }
        for (name, set) in &new.sets {
            match self.sets.get_mut(name) {
                Some(mine) if set.managed_elements => {
                    for (k, v) in &set.elements {
                        mine.elements.insert(k.clone(), v.clone());
                    }
                }
                _ => {
                    self.sets.insert(name.clone(), set.clone());
                }
            }
        }
    }

    /// Number of rules over all chains.
    pub fn rule_count(&self) -> usize {
        self.chains.values().map(|c| c.rules.len()).sum()
    }
}
