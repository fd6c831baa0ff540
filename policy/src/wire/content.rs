//! The digest of a region policy's content without its version: SHA-256 over the SHA-256 of
//! each part's JSON ([`Measure`]).
//!
//! Both sides compute it with this one function: the control plane to tell whether a new store
//! version changed a region (and so whether to send anything), the edge to say in its hello what
//! it holds ([`super::Hello::content_sha256`]). A server whose region content at its current
//! version has the digest the edge announced confirms it with an empty update instead of
//! sending the whole snapshot (a full fleet reconnect then costs a few hundred bytes per edge,
//! not a snapshot each).
//!
//! Why the content and not the version alone: a version number names the same content only
//! within one store history. An etcd store restored from a backup republishes its state above
//! the version each node had seen (`control-plane/src/store/etcd`), so the same number can mean
//! different contents on two nodes; an imported or restored store starts another history. Equal
//! digests mean equal content whatever the versions, so an edge is never told that content it
//! does not hold is current. A digest that differs for a harmless reason (a build that
//! serializes some field differently) costs a snapshot, never a wrong configuration.

use std::io::{self, Write};
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::earlier::Earlier;
use crate::model::{ForeignSources, RegionPolicy, Tenant};

/// SHA-256 of a region policy's content.
pub type ContentDigest = [u8; 32];

/// The digest of `policy`'s content: every field but `version`, in JSON. `None` only if the
/// policy cannot be serialized (then it cannot be sent either).
pub fn content_digest(policy: &RegionPolicy) -> Option<ContentDigest> {
    content_measure(policy).map(|(digest, _)| digest)
}

/// [`content_digest`] and the length of the JSON it hashed, which is within a few hundred bytes
/// of the policy's snapshot frame (what a sender weighs an update against without encoding the
/// snapshot).
pub fn content_measure(policy: &RegionPolicy) -> Option<(ContentDigest, usize)> {
    Measure::of(policy, None).map(|m| (m.digest, m.len))
}

/// One part's digest and JSON length.
type Part = (ContentDigest, usize);

/// A policy's content digest and JSON length, with what it was computed from: the next policy
/// of the region shares most of its tenants (the same `Arc`s: a build or a delta keeps the
/// tenants it does not change), so measuring it with this one hashes only the tenants that
/// changed ([`Measure::of`]). A region can hold hundreds of thousands of list entries, and a
/// one-tenant write would otherwise hash them all again on every node and every edge.
///
/// The digest is SHA-256 over the digest of each part (the schema and region, each tenant in
/// order, the shared lists, the foreign sources, the out-of-service tenants), each SHA-256 of
/// the part's JSON; so it is equal exactly when the content is. (Before 2026-12-05 it was the
/// SHA-256 of the whole JSON: an edge of an older build announces another digest and gets a
/// snapshot on reconnecting, never a wrong confirmation.)
#[derive(Clone, Debug)]
pub struct Measure {
    pub digest: ContentDigest,
    /// The JSON length of the content (`[schema, region, tenants, lists, foreign sources, out
    /// of service]`).
    pub len: usize,
    /// The policy's tenants (held, so that their addresses are not reused while kept).
    tenants: Vec<Arc<Tenant>>,
    /// Every part in digest order: the head, each of `tenants`, then the three after them.
    parts: Vec<Part>,
    foreign: (Arc<Vec<ForeignSources>>, Part),
}

impl Measure {
    /// Measures `policy`, taking the parts `before` (a measure of an earlier policy of the
    /// region) has for the same `Arc`s instead of hashing them again. `None` only if the
    /// policy cannot be serialized.
    pub fn of(policy: &RegionPolicy, before: Option<&Measure>) -> Option<Measure> {
        // Every field is named, so a field added to `RegionPolicy` must be added here too (a
        // digest that left content out could confirm a policy that differs in it).
        let RegionPolicy {
            schema,
            version: _,
            region,
            tenants,
            lists,
            foreign_sources,
            out_of_service,
        } = policy;
        let mut parts: Vec<Part> = Vec::with_capacity(tenants.len() + 4);
        let head = part(&(schema, region))?;
        parts.push(head);
        let earlier = Earlier::of(
            before.map(|b| {
                (
                    &b.tenants[..],
                    b.parts.get(1..=b.tenants.len()).unwrap_or(&[]),
                )
            }),
            tenants.len(),
        );
        for (i, t) in tenants.iter().enumerate() {
            let p = match earlier.get(i, t) {
                Some(p) => *p,
                None => part(&**t)?,
            };
            parts.push(p);
        }
        let foreign = match before.filter(|b| Arc::ptr_eq(&b.foreign.0, foreign_sources)) {
            Some(b) => b.foreign.1,
            None => part(&**foreign_sources)?,
        };
        let tail = [part(lists)?, foreign, part(out_of_service)?];
        parts.extend(tail);
        let mut outer = Sha256::new();
        outer.update((tenants.len() as u64).to_le_bytes());
        for (digest, _) in &parts {
            outer.update(digest);
        }
        // `[` + head's two items + `[` tenants `]` + three more, with a comma between items:
        // the head is measured as a JSON array of two, whose brackets stand for the outer
        // array's.
        let commas = tenants.len().saturating_sub(1) + 4;
        let len = parts.iter().map(|(_, l)| l).sum::<usize>() + 2 + commas;
        Some(Measure {
            digest: outer.finalize().into(),
            len,
            tenants: tenants.clone(),
            parts,
            foreign: (Arc::clone(foreign_sources), foreign),
        })
    }
}

/// SHA-256 of `value`'s JSON and its length.
fn part<T: Serialize + ?Sized>(value: &T) -> Option<Part> {
    let mut hasher = HashWriter(Sha256::new(), 0);
    serde_json::to_writer(&mut hasher, value).ok()?;
    Some((hasher.0.finalize().into(), hasher.1))
}

/// Streams the JSON into the hash (a region's policy can be megabytes; no copy of it is made),
/// counting its bytes.
struct HashWriter(Sha256, usize);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        self.1 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The digest as the hello carries it: 64 lowercase hex digits.
pub fn to_hex(digest: &ContentDigest) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A digest from [`to_hex`]'s form (either case); `None` for anything else.
pub fn from_hex(text: &str) -> Option<ContentDigest> {
    // Hex digits only (`from_str_radix` alone would take a `+`).
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(text.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(digest)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use crate::model::{NamedList, SourceCidr, Tenant, SCHEMA_VERSION};

    fn policy(version: u64) -> RegionPolicy {
        let tenant = Tenant {
            id: "acme".into(),
            region: Some("tokyo".into()),
            source_cidrs: vec!["10.0.0.0/8".parse::<SourceCidr>().expect("cidr")],
            session_limit: 10,
            upstreams: BTreeMap::new(),
            rules: Vec::new(),
            default_action: crate::Action::Direct,
            lists: BTreeMap::new(),
            egress_address: None,
            pac: None,
        };
        RegionPolicy {
            schema: SCHEMA_VERSION,
            version,
            region: "tokyo".into(),
            tenants: vec![Arc::new(tenant)],
            lists: BTreeMap::from([("ops".to_string(), NamedList::default())]),
            foreign_sources: Default::default(),
            out_of_service: Vec::new(),
        }
    }

    #[test]
    fn the_digest_ignores_the_version_and_nothing_else() {
        let a = content_digest(&policy(5)).expect("digest");
        assert_eq!(
            content_digest(&policy(9)),
            Some(a),
            "only the version moved"
        );
        let mut other = policy(5);
        Arc::make_mut(&mut other.tenants[0]).session_limit = 11;
        assert_ne!(content_digest(&other), Some(a), "a tenant changed");
        let mut other = policy(5);
        other.lists.clear();
        assert_ne!(content_digest(&other), Some(a), "a shared list went");
        let mut other = policy(5);
        other.region = "osaka".into();
        assert_ne!(content_digest(&other), Some(a), "another region");
    }

    #[test]
    fn an_edge_computes_the_digest_the_server_did_after_the_wire() {
        // The server hashes what it built; the edge hashes what it decoded.
        let sent = policy(5);
        let json = serde_json::to_vec(&sent).expect("encode");
        let received: RegionPolicy = serde_json::from_slice(&json).expect("decode");
        assert_eq!(content_digest(&received), content_digest(&sent));
    }

    #[test]
    fn the_measured_length_is_the_snapshots_within_its_envelope() {
        // Small and large policies alike: the difference is field names and the version.
        for tenants in [1, 300] {
            let mut p = policy(7);
            p.tenants = (0..tenants)
                .map(|i| {
                    let mut t = p.tenants[0].clone();
                    Arc::make_mut(&mut t).id = format!("tenant-{i}");
                    t
                })
                .collect();
            let (_, len) = content_measure(&p).expect("measure");
            let frame = crate::wire::Frame::Snapshot(crate::wire::SnapshotFrame {
                version: 7,
                policy: p,
            });
            let encoded = crate::wire::encode(&frame, crate::wire::MAX_FRAME).expect("encode");
            assert!(
                len < encoded.len() && encoded.len() - len < 300,
                "{tenants} tenants: content {len} bytes, snapshot {}",
                encoded.len()
            );
        }
    }

    #[test]
    fn the_length_is_the_contents_json_and_a_measure_before_changes_nothing_but_the_work() {
        let mut p = policy(3);
        let one = p.tenants[0].clone();
        p.tenants = (0..5)
            .map(|i| {
                let mut t = one.clone();
                Arc::make_mut(&mut t).id = format!("tenant-{i}");
                t
            })
            .collect();
        for tenants in [0, 1, 5] {
            let mut q = p.clone();
            q.tenants.truncate(tenants);
            let whole = serde_json::to_vec(&(
                q.schema,
                &q.region,
                &q.tenants,
                &q.lists,
                &q.foreign_sources,
                &q.out_of_service,
            ))
            .expect("json");
            let m = Measure::of(&q, None).expect("measure");
            assert_eq!(m.len, whole.len(), "{tenants} tenants");
        }
        let before = Measure::of(&p, None).expect("measure");
        // A tenant changed (a new `Arc`, as every writer makes while a measure holds the old
        // one), another removed, the foreign sources replaced.
        let mut next = p.clone();
        Arc::make_mut(&mut next.tenants[1]).session_limit = 99;
        next.tenants.remove(3);
        next.foreign_sources = Arc::new(Vec::new());
        let fresh = Measure::of(&next, None).expect("measure");
        let reused = Measure::of(&next, Some(&before)).expect("measure");
        assert_eq!((reused.digest, reused.len), (fresh.digest, fresh.len));
        assert_ne!(fresh.digest, before.digest);
        let same = Measure::of(&p, Some(&before)).expect("measure");
        assert_eq!((same.digest, same.len), (before.digest, before.len));
        // As many tenants as before: one changed in place, two swapped (their parts found
        // again by position would be the other's: recomputed instead).
        let mut edited = p.clone();
        Arc::make_mut(&mut edited.tenants[2]).session_limit = 7;
        edited.tenants.swap(0, 4);
        let fresh = Measure::of(&edited, None).expect("measure");
        let reused = Measure::of(&edited, Some(&before)).expect("measure");
        assert_eq!((reused.digest, reused.len), (fresh.digest, fresh.len));
        assert_ne!(fresh.digest, before.digest);
    }

    #[test]
    fn hex_round_trips_and_refuses_anything_else() {
        let d = content_digest(&policy(1)).expect("digest");
        let hex = to_hex(&d);
        assert_eq!(hex.len(), 64);
        assert_eq!(from_hex(&hex), Some(d));
        assert_eq!(from_hex(&hex.to_uppercase()), Some(d));
        assert_eq!(from_hex(&hex[..62]), None);
        assert_eq!(from_hex(&format!("{}zz", &hex[..62])), None);
        assert_eq!(from_hex(&format!("{}é", &hex[..62])), None, "not ASCII");
        assert_eq!(
            from_hex(&format!("+f{}", &hex[2..])),
            None,
            "a sign is not a digit"
        );
        assert_eq!(from_hex(""), None);
    }
}
