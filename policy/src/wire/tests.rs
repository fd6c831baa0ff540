use super::*;
use crate::model::{SourceCidr, Tenant, SCHEMA_VERSION};
use crate::outcome::{Reason, RefusalCounts};

fn hello() -> Frame {
    Frame::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        edge_id: "edge-1".into(),
        region: "tokyo".into(),
        last_version: 41,
        token: "s3cret".into(),
        updates: true,
        content_sha256: Some("ab".repeat(32)),
    })
}

fn snapshot(version: u64) -> Frame {
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
    Frame::Snapshot(SnapshotFrame {
        version,
        policy: RegionPolicy {
            schema: SCHEMA_VERSION,
            version,
            region: "tokyo".into(),
            tenants: vec![tenant.into()],
            lists: BTreeMap::new(),
            foreign_sources: Default::default(),
            out_of_service: Vec::new(),
        },
    })
}

fn update(from: u64, to: u64) -> Frame {
    let Frame::Snapshot(old) = snapshot(from) else {
        unreachable!()
    };
    let mut new = old.policy.clone();
    new.version = to;
    std::sync::Arc::make_mut(&mut new.tenants[0]).session_limit = 20;
    new.lists.insert("ops".into(), crate::NamedList::default());
    Frame::Update(UpdateFrame {
        from,
        to,
        changes: delta::diff(&old.policy, &new),
    })
}

fn every_frame() -> Vec<Frame> {
    let usage = TenantUsage {
        active: 3,
        refused: 1,
        holding_epoch: 2,
        holding_sessions: 5,
    };
    let grant = Grant {
        sessions: 40,
        ttl_ms: 5_000,
        floor: 10,
    };
    vec![
        hello(),
        snapshot(42),
        update(42, 45),
        Frame::Ack { version: 42 },
        Frame::Nack {
            version: 43,
            reason: "tenants[acme]: bad".into(),
        },
        Frame::Report(Report {
            seq: 7,
            tenants: BTreeMap::from([("acme".to_string(), usage)]),
            refusals: BTreeMap::from([("acme".to_string(), {
                let mut c = RefusalCounts::default();
                c.add(Reason::BlockedByRule, 4);
                c.add(Reason::DnsError, 1);
                c
            })]),
            grants_epoch: 2,
            base: Some(6),
            removed: vec!["gone".into()],
        }),
        Frame::Grants(Grants {
            epoch: 3,
            grants: BTreeMap::from([("acme".to_string(), grant)]),
            renew: Some(Renewal {
                from: 2,
                also: vec![3],
                ttl_ms: 4_000,
                ends: vec!["gone".into()],
            }),
            sparse_reports: true,
        }),
        Frame::Ping { nonce: 9 },
        Frame::Pong { nonce: 9 },
        Frame::Error {
            message: "unauthorized".into(),
        },
    ]
}

#[test]
fn every_frame_survives_a_round_trip() {
    for frame in every_frame() {
        let bytes = encode(&frame, MAX_FRAME).expect("encode");
        let (back, used) = decode(&bytes, MAX_FRAME)
            .expect("decode")
            .expect("a whole frame");
        assert_eq!(back, frame);
        assert_eq!(used, bytes.len());
    }
}

#[test]
fn the_prefix_is_the_big_endian_length_of_json() {
    let bytes = encode(&Frame::Ack { version: 7 }, MAX_FRAME).expect("encode");
    let body = br#"{"type":"ack","body":{"version":7}}"#;
    assert_eq!(&bytes[..4], &(body.len() as u32).to_be_bytes());
    assert_eq!(&bytes[4..], body);
}

#[test]
fn a_truncated_frame_is_incomplete_not_an_error() {
    let bytes = encode(&snapshot(5), MAX_FRAME).expect("encode");
    for cut in [0, 1, 3, 4, 5, bytes.len() - 1] {
        assert_eq!(decode(&bytes[..cut], MAX_FRAME), Ok(None), "cut at {cut}");
    }
}

#[test]
fn an_oversized_length_is_refused_before_its_bytes_arrive() {
    let announced = (MAX_FRAME as u32 + 1).to_be_bytes();
    assert_eq!(
        decode(&announced, MAX_FRAME),
        Err(WireError::Oversized {
            len: MAX_FRAME + 1,
            max: MAX_FRAME
        })
    );
    let big = encode(&snapshot(5), MAX_FRAME).expect("encode");
    assert!(matches!(
        encode(&snapshot(5), 16),
        Err(WireError::Oversized { max: 16, .. })
    ));
    assert!(matches!(
        decode(&big, 16),
        Err(WireError::Oversized { max: 16, .. })
    ));
}

#[test]
fn empty_and_garbage_frames_are_errors() {
    assert_eq!(decode(&[0, 0, 0, 0], MAX_FRAME), Err(WireError::Empty));
    let mut garbage = 5u32.to_be_bytes().to_vec();
    garbage.extend_from_slice(b"nope!");
    assert!(matches!(
        decode(&garbage, MAX_FRAME),
        Err(WireError::Malformed(_))
    ));
    // Well-formed JSON of the wrong shape: a snapshot whose policy has an unknown field.
    let body = br#"{"type":"snapshot","body":{"version":1,"policy":{"region":"r","nope":1}}}"#;
    let mut framed = (body.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(body);
    assert!(matches!(
        decode(&framed, MAX_FRAME),
        Err(WireError::Malformed(_))
    ));
}

#[test]
fn unknown_frame_types_and_fields_are_tolerated() {
    for body in [
        &br#"{"type":"quota_request","body":{"tenant":"acme","wanted":5}}"#[..],
        br#"{"type":"drain"}"#,
    ] {
        let mut framed = (body.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(body);
        let (frame, _) = decode(&framed, MAX_FRAME).expect("decode").expect("frame");
        assert_eq!(frame, Frame::Unknown);
    }
    let body = br#"{"type":"ack","body":{"version":3,"applied_in_ms":12}}"#;
    let mut framed = (body.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(body);
    let (frame, _) = decode(&framed, MAX_FRAME).expect("decode").expect("frame");
    assert_eq!(frame, Frame::Ack { version: 3 });
}

#[test]
fn the_decoder_reassembles_frames_split_anywhere() {
    let frames = every_frame();
    let encoded: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| encode(f, MAX_FRAME).expect("encode"))
        .collect();
    let stream: Vec<u8> = encoded.concat();
    let lens: Vec<usize> = encoded.iter().map(Vec::len).collect();
    for chunk in [1, 2, 3, 7, 64, stream.len()] {
        let mut d = FrameDecoder::new(MAX_FRAME);
        let (mut got, mut got_lens) = (Vec::new(), Vec::new());
        for piece in stream.chunks(chunk) {
            d.push(piece);
            while let Some(f) = d.next_frame().expect("decode") {
                got.push(f);
                got_lens.push(d.last_len());
            }
        }
        assert_eq!(got, frames, "chunks of {chunk}");
        assert_eq!(
            got_lens, lens,
            "each frame's bytes on the wire, chunks of {chunk}"
        );
        assert_eq!(d.finish(), Ok(()));
    }
}

#[test]
fn a_large_frames_buffer_is_not_kept_after_it() {
    let large = Frame::Hello(Hello {
        edge_id: "e".repeat(4 << 20),
        ..match hello() {
            Frame::Hello(h) => h,
            _ => unreachable!("hello() is a hello"),
        }
    });
    let mut stream = encode(&large, MAX_FRAME).expect("encode");
    stream.extend(encode(&Frame::Ack { version: 9 }, MAX_FRAME).expect("encode"));
    let mut d = FrameDecoder::new(MAX_FRAME);
    for piece in stream.chunks(64 * 1024 - 7) {
        d.push(piece);
    }
    assert!(d.buf.capacity() > 4 << 20);
    assert_eq!(d.next_frame(), Ok(Some(large)));
    assert!(d.buf.capacity() <= KEEP_BUFFERED, "{}", d.buf.capacity());
    assert_eq!(d.next_frame(), Ok(Some(Frame::Ack { version: 9 })));
    assert_eq!(d.finish(), Ok(()));
}

#[test]
fn a_stream_ending_inside_a_frame_is_truncated() {
    let bytes = encode(&Frame::Ping { nonce: 1 }, MAX_FRAME).expect("encode");
    let mut d = FrameDecoder::new(MAX_FRAME);
    d.push(&bytes[..bytes.len() - 2]);
    assert_eq!(d.next_frame(), Ok(None));
    assert_eq!(
        d.finish(),
        Err(WireError::Truncated {
            buffered: bytes.len() - 2
        })
    );
}

#[test]
fn the_hello_token_is_never_debug_printed() {
    let printed = format!("{:?}", hello());
    assert!(!printed.contains("s3cret"), "{printed}");
    assert!(printed.contains("edge-1"), "{printed}");
}

#[test]
fn a_hello_without_a_content_digest_is_one_from_an_older_edge_or_one_with_nothing() {
    // An edge built before the digest: the field is absent, and so is any digest.
    let body = br#"{"type":"hello","body":{"protocol":1,"edge_id":"e","region":"tokyo","last_version":7,"token":"t","updates":true}}"#;
    let mut framed = (body.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(body);
    let (frame, _) = decode(&framed, MAX_FRAME).expect("decode").expect("frame");
    let Frame::Hello(h) = frame else {
        panic!("expected a hello")
    };
    assert_eq!(
        (h.last_version, h.content_digest(), h.content_sha256),
        (7, None, None)
    );
    // A newer edge's hello says it; one serving nothing leaves it out of the JSON (so a server
    // that never knew the field sees the same hello as before).
    let Frame::Hello(mut h) = hello() else {
        unreachable!()
    };
    assert_eq!(h.content_digest(), Some([0xab; 32]));
    h.content_sha256 = Some("not hex".into());
    assert_eq!(
        h.content_digest(),
        None,
        "a malformed digest counts as none"
    );
    h.content_sha256 = None;
    let json =
        String::from_utf8(encode(&Frame::Hello(h), MAX_FRAME).expect("encode")[4..].to_vec())
            .expect("utf-8");
    assert!(!json.contains("content_sha256"), "{json}");
}

#[test]
fn a_body_before_its_type_or_a_known_type_without_body_is_malformed() {
    for body in [
        &br#"{"body":{"version":3},"type":"ack"}"#[..],
        br#"{"type":"ack"}"#,
        br#"{"body":{}}"#,
        br#"[1,2]"#,
    ] {
        let mut framed = (body.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(body);
        assert!(
            matches!(decode(&framed, MAX_FRAME), Err(WireError::Malformed(_))),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn a_report_of_an_edge_built_before_refusals_by_reason_still_decodes() {
    let old = br#"{"type":"report","body":{"seq":3,"tenants":{"acme":{"active":2,"refused":1}}}}"#;
    let mut bytes = (old.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(old);
    let (frame, _) = decode(&bytes, MAX_FRAME).expect("decode").expect("whole");
    let Frame::Report(r) = frame else {
        panic!("not a report: {frame:?}")
    };
    assert_eq!((r.seq, r.tenants["acme"].active), (3, 2));
    assert!(r.refusals.is_empty());
    // And a report without counts is sent without the field, as an old edge sent it.
    let json = serde_json::to_string(&Frame::Report(r)).expect("json");
    assert!(!json.contains("refusals"), "{json}");
}

#[test]
fn a_report_with_a_reason_this_build_does_not_know_keeps_the_rest() {
    let newer = br#"{"type":"report","body":{"seq":3,"tenants":{},"refusals":{"acme":{"blocked_by_rule":2,"quantum_flux":7}}}}"#;
    let mut bytes = (newer.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(newer);
    let (frame, _) = decode(&bytes, MAX_FRAME).expect("decode").expect("whole");
    let Frame::Report(r) = frame else {
        panic!("not a report: {frame:?}")
    };
    assert_eq!(r.refusals["acme"].get(Reason::BlockedByRule), 2);
    assert_eq!(r.refusals["acme"].0.len(), 1);
}

#[test]
fn refilled_usage_is_what_a_new_map_would_be_and_keeps_the_keys_only_for_the_same_ids() {
    let usage = |round: u32| {
        move |k: usize, id: &str| TenantUsage {
            active: round + k as u32,
            refused: id.len() as u32,
            ..TenantUsage::default()
        }
    };
    let fresh = |ids: &[&str], round: u32| -> BTreeMap<String, TenantUsage> {
        let u = usage(round);
        ids.iter()
            .enumerate()
            .map(|(k, id)| (id.to_string(), u(k, id)))
            .collect()
    };
    let mut map = BTreeMap::new();
    // (ids, whether the keys before are the ones asked for)
    let steps: [(&[&str], bool); 9] = [
        (&["a", "b", "c"], false),
        (&["a", "b", "c"], true),
        (&["a", "bb", "c"], false),
        (&["a", "bb"], false),
        (&["bb", "a"], false), // out of order: rebuilt, and the same map results
        (&["a", "bb"], true),
        (&["a", "bb", "c"], false), // every key kept, one added
        (&["0", "a", "bb", "c"], false),
        (&[], false),
    ];
    for (round, (ids, same)) in steps.into_iter().enumerate() {
        let round = round as u32;
        let (fill, mut calls) = (usage(round), 0);
        let kept = refill_usage(&mut map, ids.iter().copied(), |k, id| {
            calls += 1;
            fill(k, id)
        });
        assert_eq!(kept, same, "{ids:?}");
        // Once per id: the edge's usage counts refusals since the last call.
        assert_eq!(calls, ids.len(), "{ids:?}");
        assert_eq!(map, fresh(ids, round), "{ids:?}");
    }
}

#[test]
fn a_rewritten_report_keeps_only_its_tenants() {
    let tenants: BTreeMap<String, TenantUsage> = [("a", 1), ("b", 2)]
        .into_iter()
        .map(|(id, active)| {
            let usage = TenantUsage {
                active,
                ..TenantUsage::default()
            };
            (id.to_string(), usage)
        })
        .collect();
    let mut counts = RefusalCounts::default();
    counts.add(Reason::BlockedByRule, 3);
    // A report sent sparse, with every field set.
    let mut sent = Report {
        seq: 7,
        tenants: tenants.clone(),
        refusals: BTreeMap::from([("a".to_string(), counts)]),
        grants_epoch: 4,
        base: Some(6),
        removed: vec!["c".to_string()],
    };
    let (kept, refusals) = sent.rewrite(8);
    assert_eq!(*kept, tenants);
    assert!(refusals.is_empty());
    assert_eq!(
        sent,
        Report {
            seq: 8,
            tenants,
            ..Report::default()
        }
    );
}
