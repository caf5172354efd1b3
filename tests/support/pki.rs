//! Certificates for the TLS tests, made by the `openssl` command in a
//! temporary directory: a CA, a second CA nobody trusts, and a server
//! certificate signed by the first, valid for the DNS name `localhost` only
//! (so a client that dials 127.0.0.1 and checks names must be told the
//! name, and one that checks only the chain need not).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{run_ok, temp_dir};

/// The name the server certificate is valid for.
pub const SERVER_NAME: &str = "localhost";

/// A CA, a stranger CA and one server certificate.
#[derive(Debug)]
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// Makes all three (EC P-256 keys: quick to generate).
    pub fn new() -> Self {
        let pki = Self { dir: temp_dir("pki") };
        pki.self_signed_ca("ca", "xagent test CA");
        pki.self_signed_ca("stranger-ca", "a CA nobody here trusts");
        pki.server_certificate();
        pki
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn openssl(&self, args: &[&str], what: &str) {
        let mut command = Command::new("openssl");
        command.current_dir(self.dir.path()).args(args);
        run_ok(&mut command, &format!("openssl {what} (is openssl installed? run ./scripts/setup.sh)"));
    }

    fn self_signed_ca(&self, name: &str, subject: &str) {
        let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
        let subj = format!("/CN={subject}");
        self.openssl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", &key], "ecparam");
        self.openssl(
            &["req", "-x509", "-new", "-key", &key, "-days", "2", "-subj", &subj, "-out", &crt]
                .into_iter()
                .chain([
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign",
                ])
                .collect::<Vec<_>>(),
            "req -x509",
        );
    }

    fn server_certificate(&self) {
        self.openssl(
            &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "server.key"],
            "ecparam",
        );
        self.openssl(
            &["req", "-new", "-key", "server.key", "-subj", "/CN=localhost", "-out", "server.csr"],
            "req",
        );
        let extensions = format!(
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:{SERVER_NAME}\n"
        );
        fs::write(self.path("server.ext"), extensions).expect("writing the extensions file");
        self.openssl(
            &["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"]
                .into_iter()
                .chain(["-days", "2", "-extfile", "server.ext", "-out", "server.crt"])
                .collect::<Vec<_>>(),
            "x509 -req",
        );
    }

    /// The trusted CA's certificate, PEM.
    pub fn ca_pem(&self) -> Vec<u8> {
        fs::read(self.path("ca.crt")).expect("reading ca.crt")
    }

    /// The stranger CA's certificate, PEM.
    pub fn stranger_ca_pem(&self) -> Vec<u8> {
        fs::read(self.path("stranger-ca.crt")).expect("reading stranger-ca.crt")
    }

    /// The trusted CA's certificate file.
    pub fn ca_file(&self) -> PathBuf {
        self.path("ca.crt")
    }

    /// The server's certificate file.
    pub fn server_cert(&self) -> PathBuf {
        self.path("server.crt")
    }

    /// The server's private key file.
    pub fn server_key(&self) -> PathBuf {
        self.path("server.key")
    }

    /// Copies the server's certificate and key into `dir`, as `server.crt`
    /// and `server.key`, the key readable by its owner only.
    pub fn install_server_pair(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let (crt, key) = (dir.join("server.crt"), dir.join("server.key"));
        fs::copy(self.server_cert(), &crt).expect("copying server.crt");
        fs::copy(self.server_key(), &key).expect("copying server.key");
        run_ok(Command::new("chmod").arg("600").arg(&key), "chmod server.key");
        (crt, key)
    }
}
