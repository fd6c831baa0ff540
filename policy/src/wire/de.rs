//! `Deserialize` for [`Frame`]: reads `type`, then decodes `body` directly as that type's body
//! (no intermediate buffering of a possibly large snapshot), and turns a type this build does not
//! know into [`Frame::Unknown`] whatever its body.

use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::Frame;

#[derive(Deserialize)]
struct VersionBody {
    version: u64,
}

#[derive(Deserialize)]
struct NackBody {
    version: u64,
    reason: String,
}

#[derive(Deserialize)]
struct NonceBody {
    nonce: u64,
}

#[derive(Deserialize)]
struct MessageBody {
    message: String,
}

impl<'de> Deserialize<'de> for Frame {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FrameVisitor)
    }
}

struct FrameVisitor;

impl<'de> Visitor<'de> for FrameVisitor {
    type Value = Frame;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a frame {"type": …, "body": …}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Frame, A::Error> {
        let mut kind: Option<String> = None;
        let mut frame = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" if kind.is_some() => return Err(de::Error::duplicate_field("type")),
                "type" => kind = Some(map.next_value()?),
                "body" if frame.is_some() => return Err(de::Error::duplicate_field("body")),
                "body" => {
                    let Some(k) = kind.as_deref() else {
                        return Err(de::Error::custom(r#""type" must come before "body""#));
                    };
                    frame = Some(body(k, &mut map)?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match (kind, frame) {
            (_, Some(frame)) => Ok(frame),
            (Some(k), None) if is_known(&k) => Err(de::Error::missing_field("body")),
            (Some(_), None) => Ok(Frame::Unknown),
            (None, None) => Err(de::Error::missing_field("type")),
        }
    }
}

const KNOWN: [&str; 10] = [
    "hello", "snapshot", "update", "ack", "nack", "report", "grants", "ping", "pong", "error",
];

fn is_known(kind: &str) -> bool {
    KNOWN.contains(&kind)
}

fn body<'de, A: MapAccess<'de>>(kind: &str, map: &mut A) -> Result<Frame, A::Error> {
    Ok(match kind {
        "hello" => Frame::Hello(map.next_value()?),
        "snapshot" => Frame::Snapshot(map.next_value()?),
        "update" => Frame::Update(map.next_value()?),
        "ack" => Frame::Ack {
            version: map.next_value::<VersionBody>()?.version,
        },
        "nack" => {
            let b: NackBody = map.next_value()?;
            Frame::Nack {
                version: b.version,
                reason: b.reason,
            }
        }
        "report" => Frame::Report(map.next_value()?),
        "grants" => Frame::Grants(map.next_value()?),
        "ping" => Frame::Ping {
            nonce: map.next_value::<NonceBody>()?.nonce,
        },
        "pong" => Frame::Pong {
            nonce: map.next_value::<NonceBody>()?.nonce,
        },
        "error" => Frame::Error {
            message: map.next_value::<MessageBody>()?.message,
        },
        _ => {
            map.next_value::<IgnoredAny>()?;
            Frame::Unknown
        }
    })
}
