//! The nft script that takes the table from the ruleset applied last to
//! the newly rendered one, as a pure function.
//!
//! A **full** transaction rewrites everything (every chain's rules, every
//! map's elements, every set's declaration): the first sync, every
//! `--sync-period`, and after an error, so whatever else has touched the
//! table is repaired. `prev` must name what the kernel holds (after an
//! error or a restart the proxier reads the table back,
//! [`parse_listing`]): only chains it lacks are declared, only chains it
//! has are flushed, which halves the kernel's work on a large table. A **partial** one touches only the
//! chains whose rules changed and the map elements that changed, so one
//! endpoint change at 10,000 endpoints is a handful of lines.
//!
//! Both delete what the previous ruleset had and the new one lacks, in
//! the same transaction, after every reference to it is gone (flushed
//! chains, deleted elements). Affinity sets are never flushed: their
//! elements are the clients' stickiness, kept by the kernel across syncs.
//!
//! The statement order inside one script matters to nft: objects exist
//! before anything refers to them, and stale ones are deleted last.

use std::fmt::Write;

use crate::nft::ruleset::{Chain, Ruleset, Set};

/// How many map elements go into one `add element` statement: batching
/// makes nft's parse of a 10,000-endpoint table several times faster.
const ELEMENTS_PER_STATEMENT: usize = 1000;

/// Whether to rewrite everything or only what changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Rewrite every object of the table.
    Full,
    /// Only what differs from the previous ruleset.
    Partial,
}

/// The nft script (for `nft -f -`) from `prev` (what the table holds;
/// `None`: there is no table) to `next`. Empty when a partial transaction
/// has nothing to do. A transaction without `prev` is a full one.
pub fn transaction(prev: Option<&Ruleset>, next: &Ruleset, mode: Mode) -> String {
    let empty = Ruleset::new(&next.table);
    let (prev, full) = match prev {
        Some(p) => (p, mode == Mode::Full),
        None => (&empty, true),
    };
    let t = format!("ip {}", next.table);
    let mut out = String::new();
    if full {
        let _ = writeln!(out, "add table {t} {{ comment \"rules for tug-proxy\" ; }}");
    }

    // 1. Declarations of what the table lacks. (`prev` is what the kernel
    //    holds: a chain it lacks makes the transaction fail, and the next
    //    full sync starts from the table read back.)
    for (name, chain) in &next.chains {
        if !prev.chains.contains_key(name) {
            declare_chain(&mut out, &t, name, chain);
        }
    }
    for (name, set) in &next.sets {
        let changed = prev.sets.get(name).map(|p| p.spec != set.spec);
        if full || changed != Some(false) {
            // Re-adding a set with a new timeout updates it in place.
            let _ = writeln!(out, "add {} {t} {name} {{ {} }}", set.keyword(), set.spec);
        }
        if full && set.managed_elements && changed.is_some() {
            let _ = writeln!(out, "flush {} {t} {name}", set.keyword());
        }
    }

    // 2. Rules: new chains are filled; existing ones are flushed and
    //    refilled when their rules changed, or all of them in a full sync.
    //    Chains whose rules hold anonymous maps (the service chains'
    //    `numgen … vmap { … }`) go first: the kernel walks the whole
    //    transaction so far each time it binds an anonymous set, so late
    //    binds make a large transaction quadratic (a third of a 10,000-
    //    endpoint sync, measured).
    let (anonymous, plain): (Vec<_>, Vec<_>) = next
        .chains
        .iter()
        .partition(|(_, c)| c.rules.iter().any(|r| r.contains("vmap {")));
    for (name, chain) in anonymous.into_iter().chain(plain) {
        if let Some(known) = prev.chains.get(name) {
            if !full && known.rules == chain.rules {
                continue;
            }
            let _ = writeln!(out, "flush chain {t} {name}");
        }
        for rule in &chain.rules {
            let _ = writeln!(out, "add rule {t} {name} {rule}");
        }
    }

    // 3. Map elements: in a full sync all (the maps were flushed), else
    //    the removed and changed ones out, the new and changed ones in.
    for (name, set) in next.sets.iter().filter(|(_, s)| s.managed_elements) {
        let before = prev.sets.get(name).filter(|_| !full);
        let stale: Vec<&String> = before
            .map(|b| {
                b.elements
                    .iter()
                    .filter(|(k, v)| set.elements.get(*k) != Some(v))
                    .map(|(k, _)| k)
                    .collect()
            })
            .unwrap_or_default();
        for chunk in stale.chunks(ELEMENTS_PER_STATEMENT) {
            let keys: Vec<&str> = chunk.iter().map(|k| k.as_str()).collect();
            let _ = writeln!(out, "delete element {t} {name} {{ {} }}", keys.join(", "));
        }
        let fresh: Vec<String> = set
            .elements
            .iter()
            .filter(|(k, v)| before.is_none_or(|b| b.elements.get(*k) != Some(v)))
            .map(|(k, v)| format!("{k} : {v}"))
            .collect();
        for chunk in fresh.chunks(ELEMENTS_PER_STATEMENT) {
            let _ = writeln!(out, "add element {t} {name} {{ {} }}", chunk.join(", "));
        }
    }

    // 4. Stale objects: emptied first (they may refer to each other),
    //    then deleted.
    let stale_chains: Vec<&String> = prev
        .chains
        .keys()
        .filter(|n| !next.chains.contains_key(*n))
        .collect();
    for name in &stale_chains {
        let _ = writeln!(out, "flush chain {t} {name}");
    }
    for name in &stale_chains {
        let _ = writeln!(out, "delete chain {t} {name}");
    }
    for (name, set) in &prev.sets {
        if !next.sets.contains_key(name) {
            let _ = writeln!(out, "delete {} {t} {name}", set.keyword());
        }
    }
    out
}

fn declare_chain(out: &mut String, t: &str, name: &str, chain: &Chain) {
    match &chain.hook {
        Some(hook) => {
            let _ = writeln!(out, "add chain {t} {name} {{ {hook} }}");
        }
        None => {
            let _ = writeln!(out, "add chain {t} {name}");
        }
    }
}

/// The chains, sets and maps of `listing` (the text of `nft list table`),
/// as an otherwise empty ruleset: what a restarted proxy must consider
/// "previously applied" so that a full sync deletes leftovers.
pub fn parse_listing(table: &str, listing: &str) -> Ruleset {
    let mut rs = Ruleset::new(table);
    for line in listing.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() != 3 || words[2] != "{" {
            continue;
        }
        let name = words[1].trim_matches('"').to_string();
        match words[0] {
            "chain" => {
                rs.chains.insert(name, Chain::default());
            }
            kind @ ("set" | "map") => {
                let spec = if kind == "map" { ": verdict" } else { "" };
                rs.sets.insert(
                    name,
                    Set {
                        spec: spec.to_string(),
                        managed_elements: kind == "map",
                        elements: Default::default(),
                    },
                );
            }
            _ => {}
        }
    }
    rs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProxyModel;
    use crate::nft::fixtures::{big_model, config};
    use crate::nft::render::render;
    use std::net::Ipv4Addr;

    #[test]
    fn nothing_changed_means_an_empty_partial_transaction() {
        let rs = render(&big_model(20, 3), &config());
        assert_eq!(transaction(Some(&rs), &rs, Mode::Partial), "");
    }

    #[test]
    fn a_full_transaction_flushes_and_refills_every_chain_the_table_has() {
        let rs = render(&big_model(2, 2), &config());
        let tx = transaction(Some(&rs), &rs, Mode::Full);
        assert!(tx.starts_with("add table ip t "));
        for name in rs.chains.keys() {
            assert!(tx.contains(&format!("flush chain ip t {name}\n")), "{name}");
            assert!(
                !tx.contains(&format!("add chain ip t {name}")),
                "{name} exists"
            );
            for rule in &rs.chains[name].rules {
                assert!(tx.contains(&format!("add rule ip t {name} {rule}\n")));
            }
        }
        assert!(tx.contains("flush map ip t service-ips\n"));
        assert!(tx.contains("add element ip t service-ips { 10.96.0.1 . tcp . 80 : goto "));
    }

    #[test]
    fn a_first_transaction_creates_everything_without_flushing() {
        let rs = render(&big_model(2, 2), &config());
        let tx = transaction(None, &rs, Mode::Partial);
        assert!(tx.starts_with("add table ip t "));
        assert!(!tx.contains("flush "), "{tx}");
        assert!(tx.contains("add element ip t service-ips { 10.96.0.1 . tcp . 80 : goto "));
        assert!(tx.contains("add chain ip t nat-output { type nat hook output priority -100 ; }"));
    }

    #[test]
    fn one_endpoint_change_is_a_small_transaction() {
        let before = big_model(1000, 10);
        let mut after = before.clone();
        let port = after.ports.values_mut().nth(500).unwrap();
        port.endpoints[3].ip = Ipv4Addr::new(10, 245, 0, 1);
        let (a, b) = (render(&before, &config()), render(&after, &config()));
        let tx = transaction(Some(&a), &b, Mode::Partial);
        let lines: Vec<&str> = tx.lines().collect();
        assert!(lines.len() < 12, "{tx}");
        // The new endpoint chain exists before the service chain refers to it,
        // and the old one is deleted only after the service chain is rewritten.
        let added = lines
            .iter()
            .position(|l| l.starts_with("add chain ip t endpoint-"))
            .unwrap();
        let flushed = lines
            .iter()
            .position(|l| l.starts_with("flush chain ip t service-"))
            .unwrap();
        let deleted = lines
            .iter()
            .position(|l| l.starts_with("delete chain ip t endpoint-"))
            .unwrap();
        assert!(added < flushed && flushed < deleted, "{tx}");
        assert!(tx.contains("10.245.0.1:8080"));
    }

    #[test]
    fn a_service_losing_its_endpoints_moves_to_the_reject_map_and_its_chains_go() {
        let before = big_model(3, 2);
        let mut after = before.clone();
        after.ports.values_mut().next().unwrap().endpoints.clear();
        let (a, b) = (render(&before, &config()), render(&after, &config()));
        let tx = transaction(Some(&a), &b, Mode::Partial);
        assert!(
            tx.contains("delete element ip t service-ips { 10.96.0.1 . tcp . 80 }"),
            "{tx}"
        );
        assert!(tx.contains(
            "add element ip t no-endpoint-services { 10.96.0.1 . tcp . 80 : goto reject-chain }"
        ));
        assert_eq!(
            tx.matches("delete chain ").count(),
            3,
            "service + 2 endpoints: {tx}"
        );
    }

    #[test]
    fn affinity_sets_are_never_flushed_but_deleted_when_stale() {
        let mut m = big_model(1, 2);
        m.ports.values_mut().next().unwrap().affinity_timeout = Some(30);
        let rs = render(&m, &config());
        let full = transaction(Some(&rs), &rs, Mode::Full);
        assert!(full.contains("add set ip t affinity-"));
        assert!(!full.contains("flush set"), "{full}");
        let plain = render(&big_model(1, 2), &config());
        let tx = transaction(Some(&rs), &plain, Mode::Partial);
        assert_eq!(tx.matches("delete set ip t affinity-").count(), 2, "{tx}");
    }

    #[test]
    fn leftovers_of_a_previous_process_are_found_in_the_listing() {
        let listing = "table ip t {\n\tmap service-ips {\n\t\ttype ipv4_addr\n\t}\n\
                       \tset affinity-AB-x {\n\t}\n\tchain endpoint-12-old/x/tcp/80__10.0.0.1/80 {\n\t}\n}\n";
        let prev = parse_listing("t", listing);
        let next = render(&ProxyModel::default(), &config());
        let tx = transaction(Some(&prev), &next, Mode::Full);
        assert!(tx.contains("delete chain ip t endpoint-12-old/x/tcp/80__10.0.0.1/80"));
        assert!(tx.contains("delete set ip t affinity-AB-x"));
        assert!(!tx.contains("delete map ip t service-ips"));
    }
}
