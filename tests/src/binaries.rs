//! Locating the real binaries that cargo built next to the test executable.

use std::path::PathBuf;

/// Path of `breakout-edge`: `$BREAKOUT_EDGE_BIN`, else `target/<profile>/breakout-edge`.
pub fn edge_bin() -> PathBuf {
    bin("breakout-edge", "BREAKOUT_EDGE_BIN")
}

/// Path of `breakout-control`: `$BREAKOUT_CONTROL_BIN`, else next to the test executable.
pub fn control_bin() -> PathBuf {
    bin("breakout-control", "BREAKOUT_CONTROL_BIN")
}

/// Path of `breakoutctl`: `$BREAKOUTCTL_BIN`, else next to the test executable.
pub fn ctl_bin() -> PathBuf {
    bin("breakoutctl", "BREAKOUTCTL_BIN")
}

fn bin(name: &str, env: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    let bin = profile_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not found: run `cargo build --workspace --bins` first (.ci/run does) or set {env}",
        bin.display()
    );
    bin
}

/// `target/<profile>/`: the test executable lives in `target/<profile>/deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test exe has a parent dir");
    let dir = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().expect("deps has a parent")
    } else {
        deps
    };
    dir.to_path_buf()
}
