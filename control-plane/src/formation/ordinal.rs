//! A node id from a StatefulSet pod's name: `breakout-control-2` is ordinal 2, node id 3 (ids
//! start at 1; 0 means "no leader" in the metrics).

/// Where the host name comes from: `HOSTNAME` (set in every Kubernetes container to the pod
/// name), else the kernel's (no libc call: the image's binaries are static).
pub fn hostname() -> Result<String, String> {
    if let Ok(name) = std::env::var("HOSTNAME") {
        if !name.trim().is_empty() {
            return Ok(name.trim().to_string());
        }
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("reading the host name: {e}"))
}

/// `NAME-N` → N + 1.
pub fn node_id(hostname: &str) -> Result<u64, String> {
    let ordinal = hostname
        .rsplit_once('-')
        .map(|(_, n)| n)
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            format!("host name {hostname:?} does not end in -<ordinal> (as StatefulSet pods do)")
        })?;
    let n: u64 = ordinal
        .parse()
        .map_err(|_| format!("host name {hostname:?}: ordinal {ordinal} is too large"))?;
    n.checked_add(1)
        .ok_or_else(|| format!("host name {hostname:?}: ordinal {ordinal} is too large"))
}

#[cfg(test)]
mod tests {
    use super::node_id;

    #[test]
    fn the_ordinal_suffix_plus_one_is_the_node_id() {
        assert_eq!(node_id("breakout-control-0"), Ok(1));
        assert_eq!(node_id("breakout-control-12"), Ok(13));
        assert_eq!(node_id("x-4"), Ok(5));
    }

    #[test]
    fn names_without_an_ordinal_are_refused() {
        for bad in [
            "breakout",
            "breakout-control-",
            "node-a1",
            "",
            "x-99999999999999999999",
        ] {
            assert!(node_id(bad).is_err(), "{bad}");
        }
        assert!(node_id("breakout-control")
            .unwrap_err()
            .contains("-<ordinal>"));
    }
}
