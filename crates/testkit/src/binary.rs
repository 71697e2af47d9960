//! The workspace's own binaries (`leadpipe-gateway`, `leadpipe-consumer`), for tests that
//! run them as separate processes from another package.
//!
//! Cargo hands `CARGO_BIN_EXE_<name>` only to the tests of the package that owns the
//! binary. Tests elsewhere look for it where cargo put it: `cargo test --workspace`
//! builds both binaries before running any test (their packages have integration tests
//! that need them). When testing one package alone (`cargo test -p leadpipe-loadtest`),
//! build them first: `cargo build -p leadpipe-gateway -p leadpipe-consumer`.

use std::path::{Path, PathBuf};

/// The path of workspace binary `name`, built with the same profile as the running test
/// when possible. Looks, in order, in the test executable's profile directory
/// (`<target>/<profile>/`), in `$CARGO_TARGET_DIR/debug/`, and in the workspace's
/// `target/debug/`; fails naming every place it looked.
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let mut candidates = Vec::new();
    // A test executable lives in <target>/<profile>/deps/.
    if let Ok(exe) = std::env::current_exe() {
        if let Some(profile_dir) = exe.parent().and_then(Path::parent) {
            candidates.push(profile_dir.join(&file));
        }
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(target).join("debug").join(&file));
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    candidates.push(workspace.join("target").join("debug").join(&file));
    if let Some(found) = candidates.iter().find(|path| path.is_file()) {
        return Ok(found.clone());
    }
    let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    anyhow::bail!(
        "binary {name} not found (looked at {}); build it with `cargo build -p {name}` \
         (`cargo test --workspace` builds it)",
        looked.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_is_an_error_that_says_where_it_looked_and_what_to_run() {
        let error = binary("leadpipe-no-such-binary")
            .expect_err("no such binary")
            .to_string();
        assert!(
            error.contains("leadpipe-no-such-binary not found"),
            "{error}"
        );
        assert!(error.contains("target"), "{error}");
        assert!(
            error.contains("cargo build -p leadpipe-no-such-binary"),
            "{error}"
        );
    }
}
