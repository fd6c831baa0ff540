//! Every input kept under `fuzz/regressions/<target>/` (crashes fuzzing found, once fixed) and
//! every seed under `fuzz/seeds/<target>/`, replayed through the same bodies the fuzz targets
//! run (`fuzz/src/lib.rs`, compiled in here), on stable, by a plain `cargo test`.

#[allow(dead_code)]
#[path = "../../fuzz/src/lib.rs"]
mod bodies;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// The files of `dir/<target>/`, sorted; none if it does not exist.
fn inputs(dir: &str, target: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir).join(target))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file());
    files.sort();
    files
}

fn replay(dir: &str) -> usize {
    let mut n = 0;
    for (target, body) in bodies::TARGETS {
        for file in inputs(dir, target) {
            let data = std::fs::read(&file).expect("read input");
            let outcome = std::panic::catch_unwind(|| body(&data));
            assert!(outcome.is_ok(), "{target}: {} fails", file.display());
            n += 1;
        }
    }
    n
}

#[test]
fn every_kept_crash_input_passes() {
    // May be zero: the directory holds only what fuzzing found.
    let n = replay("fuzz/regressions");
    eprintln!("replayed {n} regression inputs");
}

#[test]
fn every_seed_passes_and_every_target_has_seeds() {
    for (target, _) in bodies::TARGETS {
        assert!(
            !inputs("fuzz/seeds", target).is_empty(),
            "fuzz/seeds/{target}/ is empty"
        );
    }
    assert!(replay("fuzz/seeds") >= bodies::TARGETS.len());
}

#[test]
fn every_fuzz_target_file_is_in_the_table() {
    // A target added under fuzz/fuzz_targets/ without a row in TARGETS would never be replayed.
    let dir = root().join("fuzz/fuzz_targets");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("fuzz/fuzz_targets")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_string)
        })
        .collect();
    files.sort();
    let mut table: Vec<String> = bodies::TARGETS.iter().map(|(t, _)| t.to_string()).collect();
    table.sort();
    assert_eq!(files, table);
}
