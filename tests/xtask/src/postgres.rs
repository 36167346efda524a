//! A throw-away PostgreSQL server for the tests (the ledger's suite on PostgreSQL, the cluster
//! test) and the benchmark's billing runs on PostgreSQL.
//!
//! The server binaries come from Debian's `postgresql` package, installed with `apt-get` when
//! missing (CI starts on a clean machine, as root). PostgreSQL refuses to run as root, so the
//! cluster is made and started by an unprivileged user (`nobody`) when this runs as root, in a
//! temporary directory, listening on a free loopback port with trust authentication. The tests
//! find it in `OMNICRM_TEST_POSTGRES` (a URL of its `postgres` database, whose user creates one
//! database per test); `OMNICRM_REQUIRE_POSTGRES` makes them fail rather than say they did not
//! run when the variable is missing. The server also accepts TLS, with a certificate for
//! `127.0.0.1` and `localhost` signed by an authority generated here, whose PEM file is in
//! `OMNICRM_TEST_POSTGRES_CA`. The server is stopped and its directory removed when the
//! [`Server`] is dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The user that runs the server when this runs as root.
const UNPRIVILEGED_USER: &str = "nobody";

/// A running throw-away server.
pub struct Server {
    bin: PathBuf,
    dir: PathBuf,
    user: Option<String>,
}

impl Server {
    /// Starts a server and exports its URL to the tests run after.
    pub fn start() -> Result<Self> {
        let bin = match server_binaries() {
            Some(bin) => bin,
            None => {
                install()?;
                server_binaries().context(
                    "PostgreSQL's server binaries are missing after installing `postgresql`",
                )?
            }
        };
        let user = is_root()?.then(|| UNPRIVILEGED_USER.to_string());
        let dir = std::env::temp_dir().join(format!("omnicrm-postgres-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let server = Server { bin, dir, user };
        if let Some(user) = &server.user {
            run(Command::new("chown").arg(user).arg(&server.dir))?;
        }
        let data = server.dir.join("data");
        server.run_as(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        let ca = server.certificates()?;
        let port = free_port()?;
        let options = format!(
            "-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c max_connections=400 \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c ssl=on -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key",
            dir = server.dir.display()
        );
        let log = server.dir.join("server.log");
        server.run_as(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-o".as_ref(),
                options.as_ref(),
                "start".as_ref(),
            ],
        )?;
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        // SAFETY: xtask is single-threaded; the variables are read by the test processes it
        // starts next.
        unsafe {
            std::env::set_var("OMNICRM_TEST_POSTGRES", &url);
            std::env::set_var("OMNICRM_TEST_POSTGRES_CA", &ca);
            std::env::set_var("OMNICRM_REQUIRE_POSTGRES", "1");
        }
        eprintln!("PostgreSQL for the tests: {url}");
        Ok(server)
    }

    /// Writes the server's certificate and key (readable by the server's user only) and the
    /// authority that signed them; the authority's PEM file.
    fn certificates(&self) -> Result<PathBuf> {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "OmniCRM test PostgreSQL CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &ca)?;
        let (crt, key_path, ca_path) = (
            self.dir.join("server.crt"),
            self.dir.join("server.key"),
            self.dir.join("ca.pem"),
        );
        std::fs::write(&crt, cert.pem())?;
        std::fs::write(&key_path, key.serialize_pem())?;
        std::fs::write(&ca_path, ca.pem())?;
        // PostgreSQL refuses a key others may read.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))?;
        if let Some(user) = &self.user {
            run(Command::new("chown").arg(user).arg(&crt).arg(&key_path))?;
        }
        Ok(ca_path)
    }

    /// Runs one of the server's programs, as the unprivileged user when there is one.
    fn run_as(&self, program: &str, args: &[&std::ffi::OsStr]) -> Result<()> {
        let path = self.bin.join(program);
        let mut command = match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        command.args(args).current_dir(&self.dir);
        run(&mut command)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self.run_as(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "stop".as_ref(),
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest installed server's `bin` directory (Debian keeps one per major version).
fn server_binaries() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// Installs Debian's `postgresql` package.
fn install() -> Result<()> {
    if !Path::new("/usr/bin/apt-get").exists() {
        bail!(
            "PostgreSQL's server binaries are missing and there is no apt-get to install them: \
             install PostgreSQL (initdb, pg_ctl) under /usr/lib/postgresql/<version>/bin"
        );
    }
    eprintln!("installing PostgreSQL (Debian package `postgresql`) for the tests");
    run(Command::new("apt-get").arg("update").arg("-q"))?;
    run(Command::new("apt-get")
        .args([
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "postgresql",
        ])
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn is_root() -> Result<bool> {
    let out = Command::new("id")
        .arg("-u")
        .output()
        .context("running `id -u`")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// A loopback port free now.
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn run(command: &mut Command) -> Result<()> {
    let out = command
        .output()
        .with_context(|| format!("starting {command:?}"))?;
    if !out.status.success() {
        bail!(
            "{command:?} failed with {}:\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
