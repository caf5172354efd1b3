//! The shell scripts (setup, demo, test, image, CI, e2e) parse and pass
//! shellcheck, and `setup.sh --dry-run` says what it would do on a given
//! distribution without changing anything.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every shell script of the project: `scripts/*.sh`, the CI entry point
/// and the e2e suite, so a new script is checked without being listed.
fn scripts() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(root().join("scripts"))
        .expect("scripts/ exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sh"))
        .collect();
    found.sort();
    found.extend([root().join(".ci/run"), root().join("e2e/run.sh")]);
    found
}

#[test]
fn scripts_parse() {
    for script in scripts() {
        let out = Command::new("bash").arg("-n").arg(&script).output().unwrap();
        assert!(out.status.success(), "{}: {}", script.display(), String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn scripts_pass_shellcheck() {
    let all = scripts();
    assert!(all.len() >= 7, "expected setup, demo, test, image, fresh-debian, CI and e2e: {all:?}");
    let out = Command::new("shellcheck")
        .args(&all)
        .output()
        .unwrap_or_else(|e| panic!("shellcheck not runnable ({e}): run ./scripts/setup.sh"));
    assert!(out.status.success(), "shellcheck:\n{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn e2e_help_lists_every_step() {
    let out = Command::new("bash").args(["e2e/run.sh", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for step in
        ["applies the samples", "edits a child", "steady state", "invalid XAgents", "garbage-collected"]
    {
        assert!(help.contains(step), "--help does not mention {step:?}:\n{help}");
    }
}

// ------------------------------------------------------------ setup.sh --dry-run

const DEBIAN_12: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
    VERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n";
const DEBIAN_13: &str = "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nNAME=\"Debian GNU/Linux\"\n\
    VERSION_ID=\"13\"\nVERSION_CODENAME=trixie\nID=debian\n";
const UBUNTU_24: &str =
    "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nID=ubuntu\nID_LIKE=debian\n";
const FEDORA_41: &str = "PRETTY_NAME=\"Fedora Linux 41\"\nNAME=\"Fedora Linux\"\nVERSION_ID=41\nID=fedora\n";

/// The packages a fresh machine needs, as the dry run must name them.
const PACKAGES: [&str; 8] =
    ["python3-venv", "redis-server", "postgresql", "prometheus", "etcd-server", "lua5.1", "umoci", "gcc"];

/// A bare copy of the project's setup inputs in a temporary directory, so a
/// dry run there shows what a fresh checkout would get and any file it wrote
/// would be seen.
struct Checkout {
    dir: tempfile::TempDir,
}

impl Checkout {
    fn new() -> Checkout {
        let dir = tempfile::Builder::new().prefix("setup-dry-run-").tempdir().unwrap();
        fs::create_dir(dir.path().join("scripts")).unwrap();
        fs::copy(root().join("scripts/setup.sh"), dir.path().join("scripts/setup.sh")).unwrap();
        fs::copy(root().join("Cargo.toml"), dir.path().join("Cargo.toml")).unwrap();
        Checkout { dir }
    }

    /// `setup.sh --dry-run --os-release FILE` with `os_release` as FILE.
    fn dry_run(&self, os_release: &str, path: Option<&str>) -> (Output, String) {
        let file = self.dir.path().join("os-release");
        fs::write(&file, os_release).unwrap();
        let mut command = Command::new("bash");
        command.arg(self.dir.path().join("scripts/setup.sh")).arg("--dry-run").arg("--os-release").arg(&file);
        // The copy has no ../shared beside it: point it at the control-plane
        // binaries (and kubectl) this checkout's setup unpacked, as a user
        // with their own would.
        command.env("KUBEBUILDER_ASSETS", root().join("target/kubebuilder-assets"));
        if let Some(path) = path {
            command.env("PATH", path).env("HOME", self.dir.path());
        }
        let out = command.output().expect("running setup.sh");
        fs::remove_file(&file).unwrap();
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        (out, said)
    }

    /// Everything in the checkout besides what `new` put there.
    fn written(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| !["scripts", "Cargo.toml"].contains(&name.as_str()))
            .collect();
        names.sort();
        names
    }
}

#[test]
fn setup_dry_run_on_debian_12_and_13_names_what_it_would_install_and_changes_nothing() {
    let checkout = Checkout::new();
    for (os_release, name) in
        [(DEBIAN_12, "Debian GNU/Linux 12 (bookworm)"), (DEBIAN_13, "Debian GNU/Linux 13 (trixie)")]
    {
        let (out, said) = checkout.dry_run(os_release, None);
        assert!(out.status.success(), "dry run on {name} failed:\n{said}");
        assert!(out.stdout.is_empty(), "setup printed to stdout: {}", String::from_utf8_lossy(&out.stdout));
        assert!(said.contains(&format!("distribution: {name}")), "{said}");
        let packages = said.lines().find(|l| l.contains("Debian packages")).unwrap_or_default();
        for package in PACKAGES {
            assert!(
                packages.split([' ', '(', ')']).any(|w| w == package),
                "{package} not named in {packages:?}"
            );
        }
        assert!(said.contains("would run: python3 -m venv target/venv"), "{said}");
        assert!(!said.contains("--break-system-packages"), "{said}");
        assert!(said.contains("rustc ") && said.contains("(needs >= 1."), "no Rust version check:\n{said}");
        assert!(said.contains("dry run: nothing changed"), "{said}");
    }
    assert_eq!(checkout.written(), Vec::<String>::new(), "a dry run wrote files");
}

#[test]
fn setup_tries_a_debian_derivative_and_refuses_other_distributions_by_name() {
    let checkout = Checkout::new();
    let (out, said) = checkout.dry_run(UBUNTU_24, None);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("WARNING: Ubuntu 24.04.1 LTS is untested (Debian 12 and 13 are)"), "{said}");

    let (out, said) = checkout.dry_run(FEDORA_41, None);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("Fedora Linux 41 is not Debian-based; install these yourself"), "{said}");
    assert!(said.contains("etcd-server") && said.contains("Rust >= 1."), "{said}");
}

/// A directory holding one executable script `name` that prints `output`.
fn fake_tool(dir: &Path, name: &str, output: &str) {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\necho '{output}'\n")).unwrap();
    let mut perms = fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    fs::set_permissions(&path, perms).unwrap();
}

#[test]
fn setup_names_the_minimum_rust_when_cargo_is_missing_or_too_old() {
    let checkout = Checkout::new();
    let minimum = fs::read_to_string(root().join("Cargo.toml"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = ").map(|v| v.trim_matches('"').to_owned()))
        .expect("Cargo.toml names a rust-version");

    let (out, said) = checkout.dry_run(DEBIAN_12, Some("/usr/bin:/bin"));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("no Rust toolchain (cargo, rustc) found"), "{said}");
    assert!(said.contains(&format!("install Rust >= {minimum} with rustup")), "{said}");

    // Debian 12's own packaged Rust.
    let old = tempfile::tempdir().unwrap();
    fake_tool(old.path(), "cargo", "cargo 1.65.0");
    fake_tool(old.path(), "rustc", "rustc 1.63.0");
    let path = format!("{}:/usr/bin:/bin", old.path().display());
    let (out, said) = checkout.dry_run(DEBIAN_12, Some(&path));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("rustc 1.63.0 is too old"), "{said}");
    assert!(said.contains("too old for edition 2024"), "{said}");
}
