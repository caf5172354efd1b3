//! The shell scripts (setup, demo, test, CI, e2e) parse and pass shellcheck.
//! The e2e suite cannot run here (no API server), so this is its safety net.

use std::process::Command;

const SCRIPTS: [&str; 5] =
    ["scripts/setup.sh", "scripts/demo.sh", "scripts/test.sh", ".ci/run", "e2e/run.sh"];

#[test]
fn scripts_parse() {
    for script in SCRIPTS {
        let out = Command::new("bash").args(["-n", script]).output().unwrap();
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn scripts_pass_shellcheck() {
    let out = Command::new("shellcheck")
        .args(SCRIPTS)
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
