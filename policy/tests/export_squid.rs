//! The Squid export checked by its consumer: the real Microsoft 365 worldwide list, rendered as
//! `dstdomain` and `dstdom_regex` files per action, loaded by the real `squid -k parse`, which
//! must neither refuse nor warn about them. A naive rendering of the same list (every entry,
//! overlaps kept) must make Squid complain, so the check can fail.

#[path = "support/m365.rs"]
mod m365;

use std::path::{Path, PathBuf};
use std::process::Command;

use breakout_policy::export::{self, Entry, Filter, KindFilter};

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("breakout-squid-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// `squid -k parse` on a config loading each `(acl type, file)`; its exit status and output.
fn squid_parse(dir: &Path, acls: &[(&str, &str, &str)]) -> (bool, String) {
    let mut conf =
        String::from("http_port 127.0.0.1:39998\npid_filename none\ncache_log /dev/stderr\n");
    for (i, (kind, flags, body)) in acls.iter().enumerate() {
        let path = dir.join(format!("acl{i}.txt"));
        std::fs::write(&path, body).expect("write acl");
        conf.push_str(&format!(
            "acl a{i} {kind} {flags} \"{}\"\nhttp_access allow a{i}\n",
            path.display()
        ));
    }
    conf.push_str("http_access deny all\n");
    let conf_path = dir.join("squid.conf");
    std::fs::write(&conf_path, conf).expect("write conf");
    let out = Command::new("squid")
        .arg("-k")
        .arg("parse")
        .arg("-f")
        .arg(&conf_path)
        .output()
        .expect("run squid (apt-get install squid)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Lines where Squid complains about an ACL file.
fn complaints(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|l| l.contains("WARNING") || l.contains("ERROR") || l.contains("FATAL"))
        .filter(|l| !l.contains("swap log"))
        .collect()
}

fn m365_entries() -> Vec<Entry> {
    let (tenant, shared, _) = m365::tenant();
    export::effective(&tenant, &shared)
}

#[test]
fn squid_loads_every_action_group_of_the_m365_list_without_a_complaint() {
    let all = m365_entries();
    let dir = workdir("m365");
    let mut acls = Vec::new();
    let mut regex_lines = 0;
    for action in ["direct", "upstream:corp"] {
        let filter = Filter {
            action: Some(action.into()),
            kind: Some(KindFilter::Hosts),
        };
        let hosts = filter.apply(&all);
        assert!(!hosts.is_empty(), "{action} has names");
        let domains = export::render_squid(&hosts);
        let regex = export::render_squid_regex(&hosts);
        regex_lines += regex.text.lines().count();
        acls.push(("dstdomain", "", domains.text));
        if !regex.text.is_empty() {
            acls.push(("dstdom_regex", "-i", regex.text));
        }
        let cidrs = Filter {
            action: Some(action.into()),
            kind: Some(KindFilter::Cidrs),
        };
        let nets = export::render_squid_dst(&cidrs.apply(&all));
        if !nets.text.is_empty() {
            acls.push(("dst", "", nets.text));
        }
    }
    assert!(
        regex_lines > 0,
        "the list has mid-label patterns Squid gets as regexes"
    );
    let borrowed: Vec<(&str, &str, &str)> =
        acls.iter().map(|(k, f, t)| (*k, *f, t.as_str())).collect();
    let (ok, output) = squid_parse(&dir, &borrowed);
    assert!(ok, "squid -k parse failed:\n{output}");
    assert_eq!(complaints(&output), Vec::<&str>::new(), "{output}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn squid_complains_about_the_same_list_with_overlaps_kept() {
    let all = m365_entries();
    let dir = workdir("naive");
    let naive: String = all
        .iter()
        .filter(|e| e.action == "direct")
        .filter_map(|e| match &e.dest {
            breakout_policy::Destination::Exact(h) => Some(format!("{h}\n")),
            breakout_policy::Destination::Suffix(p) => Some(format!(".{p}\n")),
            _ => None,
        })
        .collect();
    let (_, output) = squid_parse(&dir, &[("dstdomain", "", &naive)]);
    assert!(
        output.contains("is a subdomain of"),
        "the check must be able to fail:\n{output}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
