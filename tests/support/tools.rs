//! Where the tests find the tools `scripts/setup.sh` provides, so a test runs
//! the same versions on every machine instead of whatever is first on PATH.
#![allow(dead_code)]

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What to tell a person when a tool is missing.
pub const SETUP_HINT: &str =
    "run ./scripts/setup.sh (it makes target/venv with helm-sdkpy and unpacks kubectl)";

/// The Python of the virtual environment setup makes under `target/venv`,
/// the one with the Helm library installed.
pub fn python3() -> PathBuf {
    root().join("target/venv/bin/python3")
}

/// The test kubectl: `$KUBEBUILDER_ASSETS/kubectl`, else the one setup
/// unpacked into `target/kubebuilder-assets`, else `kubectl` on PATH (which
/// setup checked is new enough).
pub fn kubectl() -> PathBuf {
    let assets = std::env::var_os("KUBEBUILDER_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/kubebuilder-assets"));
    let unpacked = assets.join("kubectl");
    if unpacked.is_file() { unpacked } else { PathBuf::from("kubectl") }
}

/// `$ENV_VAR` if set, else `name` on PATH: a Debian package's tool that
/// setup installed. Missing, it fails the test with `hint`: nothing passes
/// unchecked.
pub fn from_path(name: &str, env_var: &str, hint: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{env_var}={} is not a file. {hint}", path.display());
        return path;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found on PATH. {hint}"))
}
