//! The digest of a region policy's content: SHA-256 of its JSON without its version.
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

use sha2::{Digest, Sha256};

use crate::model::RegionPolicy;

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
    let content = (
        schema,
        region,
        tenants,
        lists,
        foreign_sources,
        out_of_service,
    );
    let mut hasher = HashWriter(Sha256::new(), 0);
    serde_json::to_writer(&mut hasher, &content).ok()?;
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
            tenants: vec![tenant],
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
        other.tenants[0].session_limit = 11;
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
                    t.id = format!("tenant-{i}");
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
