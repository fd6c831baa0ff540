//! Locating the real binaries that cargo built next to the test executable.

use std::path::PathBuf;

/// Path of `breakout-edge`: `$BREAKOUT_EDGE_BIN`, else `target/<profile>/breakout-edge`.
pub fn edge_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BREAKOUT_EDGE_BIN") {
        return PathBuf::from(p);
    }
    let bin = profile_dir().join(format!("breakout-edge{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not found: run `cargo build --workspace` first (cargo test --workspace builds it) \
         or set BREAKOUT_EDGE_BIN",
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
