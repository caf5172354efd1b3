//! The operator's container image, built by `scripts/image.sh` and taken
//! apart the way a container runtime would: the OCI archive unpacked, the
//! manifest and config read from their blobs, the root file system unpacked
//! by umoci, and the binary run from it under `chroot`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// What a container runtime gives every container beyond the image: the
/// default devices of the OCI runtime spec, bound into the (private) mount
/// namespace, then the entrypoint under chroot.
/// `/etc/hosts` is bound in as the kubelet binds its own. `$1` root file
/// system, `$2` user (empty: stay), `$3` the hosts file, then the command.
const RUNTIME: &str = r#"root="$1" user="$2" hosts="$3"; shift 3
for dev in null zero full random urandom tty; do
  mount --bind "/dev/$dev" "$root/dev/$dev" || exit 125
done
mount --bind "$hosts" "$root/etc/hosts" || exit 125
exec chroot ${user:+--userspec="$user"} "$root" "$@""#;

/// The devices of [`RUNTIME`].
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// The names the runtime's /etc/hosts resolves, as a kubelet's would.
pub const HOSTS: &str = "127.0.0.1 localhost redis.example.test\n::1 localhost\n";

/// The numeric user the image runs as.
pub const USER: &str = "65532:65532";

/// One built and unpacked image; the directory goes when it is dropped.
pub struct Image {
    /// The image config (`application/vnd.oci.image.config.v1+json`).
    pub config: Value,
    /// The image manifest.
    pub manifest: Value,
    /// The unpacked root file system.
    pub rootfs: PathBuf,
    /// The unpacked OCI layout.
    layout: PathBuf,
    /// The hosts file the runtime binds in.
    hosts: PathBuf,
    /// Where everything lives; removed on drop.
    _dir: tempfile::TempDir,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `command` (doing `what`), panicking unless it succeeds; returns stdout.
fn run(command: &mut Command, what: &str) -> String {
    String::from_utf8_lossy(&super::run_ok(command, what).stdout).into_owned()
}

/// Builds the image with `scripts/image.sh` and unpacks its OCI archive.
pub fn build() -> Image {
    let archive = run(&mut image_script(), "building the image");
    let archive = root().join(archive.trim());
    let dir = tempfile::Builder::new().prefix("image-").tempdir().expect("a temporary directory");
    let layout = dir.path().join("layout");
    fs::create_dir(&layout).unwrap();
    run(Command::new("tar").arg("-xf").arg(&archive).arg("-C").arg(&layout), "unpacking the archive");

    let index = json(&layout.join("index.json"));
    let entry = &index["manifests"][0];
    let tag = entry["annotations"]["org.opencontainers.image.ref.name"]
        .as_str()
        .expect("the index names the image's tag")
        .to_owned();
    let manifest = json(&blob(&layout, &entry["digest"]));
    let config = json(&blob(&layout, &manifest["config"]["digest"]));

    let bundle = dir.path().join("bundle");
    let mut unpack = Command::new("umoci");
    unpack.arg("unpack");
    if !super::running_as_root() {
        unpack.arg("--rootless");
    }
    run(unpack.arg("--image").arg(format!("{}:{tag}", layout.display())).arg(&bundle), "umoci unpack");
    let rootfs = bundle.join("rootfs");
    // The mount points a runtime makes for its devices and /etc/hosts.
    fs::create_dir(rootfs.join("dev")).expect("creating the runtime's /dev");
    for device in DEVICES {
        fs::write(rootfs.join("dev").join(device), "").expect("a device mount point");
    }
    fs::write(rootfs.join("etc/hosts"), "").expect("the /etc/hosts mount point");
    let hosts = dir.path().join("hosts");
    fs::write(&hosts, HOSTS).expect("writing the runtime's hosts file");
    Image { config, manifest, rootfs, layout, hosts, _dir: dir }
}

/// `scripts/image.sh` with only the environment a person's shell would
/// give it: the variables `cargo test` adds for the test (CARGO_*, the
/// library path) would make cargo see a different build and compile the
/// operator again for every test binary that asks for the image.
fn image_script() -> Command {
    let mut command = Command::new("bash");
    command.arg(root().join("scripts/image.sh")).env_clear();
    for name in ["PATH", "HOME", "USER", "LANG", "TERM", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "CARGO_HOME"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
}

fn json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The file of a content-addressed blob, `sha256:HEX` → `blobs/sha256/HEX`.
fn blob(layout: &Path, digest: &Value) -> PathBuf {
    let digest = digest.as_str().expect("a digest string");
    let (algorithm, hex) = digest.split_once(':').expect("ALGORITHM:HEX");
    layout.join("blobs").join(algorithm).join(hex)
}

impl Image {
    /// The compressed size of the image: every layer blob plus config and
    /// manifest, as a registry stores and a node pulls it.
    pub fn compressed_bytes(&self) -> u64 {
        let layers: u64 = self.manifest["layers"]
            .as_array()
            .expect("a layer list")
            .iter()
            .map(|layer| layer["size"].as_u64().expect("a layer size"))
            .sum();
        layers + self.manifest["config"]["size"].as_u64().expect("a config size")
    }

    /// Every path the image's layers hold, relative and sorted: what the
    /// image ships, whatever a runtime adds when it unpacks it.
    pub fn files(&self) -> Vec<String> {
        let mut found = Vec::new();
        for layer in self.manifest["layers"].as_array().expect("a layer list") {
            let listing = run(
                Command::new("tar").arg("-tzf").arg(blob(&self.layout, &layer["digest"])),
                "listing a layer",
            );
            found.extend(
                listing
                    .lines()
                    .map(|path| path.trim_start_matches("./").trim_end_matches('/').to_owned())
                    .filter(|path| !path.is_empty() && path != "."),
            );
        }
        found.sort();
        found.dedup();
        found
    }

    /// A command that runs the image's entrypoint with `args` from the
    /// unpacked root file system, as a container runtime would: in a mount
    /// namespace of its own, with the runtime's devices (/dev/null,
    /// /dev/urandom, ...) bound in, under `chroot` as the image's user. Not
    /// root, it runs in a user namespace mapping the caller to root instead,
    /// where switching to 65532 is not possible.
    pub fn command(&self, args: &[&str]) -> Command {
        let entrypoint = self.config["config"]["Entrypoint"][0].as_str().expect("an entrypoint");
        let mut command = Command::new("unshare");
        let user = if super::running_as_root() {
            USER
        } else {
            command.args(["--user", "--map-root-user"]);
            ""
        };
        command
            .args(["--mount", "sh", "-c", RUNTIME, "runtime"])
            .arg(&self.rootfs)
            .arg(user)
            .arg(&self.hosts)
            .arg(entrypoint)
            .args(args)
            // Nothing of the test's environment leaks in; PATH finds chroot.
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        command
    }

    /// Copies `source` into the root file system's /tmp, readable by the
    /// image's user; returns the path as seen from inside.
    pub fn put(&self, source: &Path, name: &str) -> String {
        let inside = format!("/tmp/{name}");
        fs::copy(source, self.rootfs.join(&inside[1..])).expect("copying into the image's /tmp");
        inside
    }

    /// Writes `text` into the root file system's /tmp; returns the path inside.
    pub fn write(&self, name: &str, text: &str) -> String {
        fs::write(self.rootfs.join("tmp").join(name), text).expect("writing into the image's /tmp");
        format!("/tmp/{name}")
    }
}
