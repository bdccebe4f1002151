//! Records the git commit coffer is built from (`coffer version`), when the
//! source is a git checkout; "unknown" otherwise (a tarball).

fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=COFFER_GIT_COMMIT={commit}");
    // Rebuild when HEAD moves; only for files that exist (a missing one
    // would make cargo rebuild this crate every time).
    for f in ["../../.git/HEAD", "../../.git/index"] {
        if std::path::Path::new(f).exists() {
            println!("cargo:rerun-if-changed={f}");
        }
    }
}
