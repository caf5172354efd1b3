//! The container image `scripts/image.sh` builds without a container engine:
//! unpacked as a runtime would, its config and contents checked, and its
//! binary run from the unpacked root file system under `chroot`. Running the
//! operator from the image against the real API server is the cluster
//! scenario `image::the_operator_runs_from_its_image_against_the_real_server`.

#[path = "support/mod.rs"]
mod support;

use std::sync::OnceLock;

use serde_json::{Value, json};
use support::image::{self, Image};

/// What a node may pull at most.
const MAX_COMPRESSED_BYTES: u64 = 20 * 1024 * 1024;

/// One build for the whole file: the build is minutes, the checks are not.
fn image() -> &'static Image {
    static IMAGE: OnceLock<Image> = OnceLock::new();
    IMAGE.get_or_init(image::build)
}

#[test]
fn the_image_runs_the_operator_as_a_numeric_non_root_user() {
    let config = &image().config;
    assert_eq!(config["os"], "linux");
    assert_eq!(config["architecture"], "amd64");
    let run = &config["config"];
    assert_eq!(run["User"], image::USER);
    assert_eq!(run["Entrypoint"], json!(["/xagent-operator"]));
    assert_eq!(run["Cmd"], json!(["run"]));
    assert_eq!(run["ExposedPorts"], json!({"8080/tcp": {}}));
    let labels = &run["Labels"];
    assert_eq!(labels["org.opencontainers.image.title"], "xagent-operator");
    assert_eq!(labels["org.opencontainers.image.version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(labels["org.opencontainers.image.licenses"], env!("CARGO_PKG_LICENSE"));
    let revision = labels["org.opencontainers.image.revision"].as_str().unwrap_or_default();
    assert!(revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit()), "revision {revision:?}");
}

#[test]
fn the_image_holds_the_binary_and_ca_bundle_and_no_shell() {
    let files = image().files();
    let expected = [
        "etc",
        "etc/group",
        "etc/nsswitch.conf",
        "etc/passwd",
        "etc/ssl",
        "etc/ssl/certs",
        "etc/ssl/certs/ca-certificates.crt",
        "tmp",
        "xagent-operator",
    ];
    assert_eq!(files, expected, "the image's root file system");
    let passwd = std::fs::read_to_string(image().rootfs.join("etc/passwd")).unwrap();
    assert!(passwd.starts_with("nonroot:x:65532:65532:"), "{passwd}");
    let bundle = std::fs::read_to_string(image().rootfs.join("etc/ssl/certs/ca-certificates.crt")).unwrap();
    assert!(bundle.matches("BEGIN CERTIFICATE").count() > 50, "the CA bundle is nearly empty");
}

#[test]
fn the_image_is_small() {
    let bytes = image().compressed_bytes();
    println!(
        "image: {:.1} MiB compressed (limit {} MiB)",
        bytes as f64 / 1048576.0,
        MAX_COMPRESSED_BYTES >> 20
    );
    assert!(bytes < MAX_COMPRESSED_BYTES, "{bytes} bytes compressed");
    for layer in image().manifest["layers"].as_array().unwrap() {
        assert_eq!(layer["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip");
    }
}

#[test]
fn the_static_binary_resolves_a_name_and_probes_a_real_redis() {
    let redis = support::RedisServer::start(Some("image-pass"));
    let url = format!("redis://:image-pass@redis.example.test:{}/0", redis.port);
    let out =
        image().command(&["probe", "redis"]).env("XAGENT_PROBE_URL", url).output().expect("running chroot");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "probe under chroot: {printed}{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_str(&printed).expect("probe prints JSON");
    assert_eq!(result["healthy"], true, "{result}");
}

#[test]
fn the_static_binary_prints_the_crd_from_the_unpacked_image() {
    let out = image().command(&["crd"]).output().expect("running chroot");
    assert!(out.status.success(), "crd under chroot: {}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_yaml::from_slice(&out.stdout).expect("crd prints YAML");
    let file =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/crds/xagent.io_xagents.yaml")).unwrap();
    let generated: Value = serde_yaml::from_str(&file).unwrap();
    assert_eq!(printed, generated, "the image's binary prints a CRD other than crds/");
}
