//! The example gateways written in Python and JavaScript (`plugins/examples/`): their build
//! tools installed under `target/polyglot/` when missing, and the components built into
//! `target/wasm32-wasip2/plugin/` when their sources changed.
//!
//! The tools' versions are pinned by files in the examples' folders (`requirements.txt` for
//! componentize-py, `package.json` and `package-lock.json` for componentize-js and jco); a copy
//! of that file next to the installed tools records what was installed, so a changed pin
//! reinstalls and an unchanged one never touches the network. Builds are skipped when the
//! component is newer than its sources, the contract (`wit/`) and the tools.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, bail};

/// The Python example: sources, the pin of its tool, and the component it becomes.
const PYTHON: Example = Example {
    label: "Python example gateway",
    dir: "plugins/examples/python",
    pin: "requirements.txt",
    component: "omnicrm_python_example",
};

/// The JavaScript example.
const JAVASCRIPT: Example = Example {
    label: "JavaScript example gateway",
    dir: "plugins/examples/javascript",
    pin: "package-lock.json",
    component: "omnicrm_javascript_example",
};

/// Directories that never hold sources: installed packages, caches, bindings generated for
/// editors.
const NOT_SOURCES: &[&str] = &["node_modules", "__pycache__", "wit_world"];

/// Files that never go into a component: documentation.
const NOT_SOURCE_EXTENSIONS: &[&str] = &["md"];

struct Example {
    label: &'static str,
    /// Relative to the workspace root.
    dir: &'static str,
    /// The file in `dir` that pins the build tool's version.
    pin: &'static str,
    /// The component's file name in the plugin directory, without `.wasm`.
    component: &'static str,
}

/// Installs the tools when missing and builds both example gateways.
pub fn build(root: &Path, target: &Path) -> Result<()> {
    let root = &root
        .canonicalize()
        .with_context(|| format!("finding the workspace at {}", root.display()))?;
    std::fs::create_dir_all(target).with_context(|| format!("creating {}", target.display()))?;
    let target = &target
        .canonicalize()
        .with_context(|| format!("finding {}", target.display()))?;
    let tools = target.join("polyglot");
    let plugins = target.join("wasm32-wasip2/plugin");
    std::fs::create_dir_all(&plugins).with_context(|| format!("creating {}", plugins.display()))?;
    let wit = root.join("wit");

    // The install records are inputs: an installed package's files keep their release dates.
    let python_tools = tools.join("python");
    let componentize_py = ensure_python_tools(root, &python_tools)?;
    let installed_py = python_tools.join(PYTHON.pin);
    PYTHON.build(root, &plugins, &[&wit, &installed_py], |output| {
        let mut command = Command::new(&componentize_py);
        command
            .arg("--quiet")
            .arg("--wit-path")
            .arg(&wit)
            .args(["--world", "gateway", "componentize", "--python-path"])
            .arg(root.join(PYTHON.dir))
            .arg("gateway")
            .arg("--output")
            .arg(output);
        command
    })?;

    let javascript_tools = tools.join("javascript");
    let componentize_js = ensure_javascript_tools(root, &javascript_tools)?;
    let installed_js = javascript_tools.join(JAVASCRIPT.pin);
    JAVASCRIPT.build(root, &plugins, &[&wit, &installed_js], |output| {
        let mut command = Command::new("node");
        // Run from the example's folder: componentize-js maps it into the sandbox that
        // evaluates the module, so `src/gateway.js` finds its relative imports.
        command
            .current_dir(root.join(JAVASCRIPT.dir))
            .arg(&componentize_js)
            .arg("src/gateway.js")
            .arg("--wit")
            .arg(&wit)
            .args(["--world-name", "gateway", "--out"])
            .arg(output);
        command
    })
}

impl Example {
    /// Builds the component with `command(output)` unless it is newer than every input (the
    /// example's sources, plus `inputs`).
    fn build(
        &self,
        root: &Path,
        plugins: &Path,
        inputs: &[&Path],
        command: impl FnOnce(&Path) -> Command,
    ) -> Result<()> {
        let component = plugins.join(format!("{}.wasm", self.component));
        let sources = root.join(self.dir);
        let newest_input = [sources.as_path()]
            .iter()
            .chain(inputs)
            .map(|path| newest_modification(path))
            .try_fold(SystemTime::UNIX_EPOCH, |newest, m| m.map(|m| newest.max(m)))?;
        let built = std::fs::metadata(&component)
            .and_then(|m| m.modified())
            .ok();
        if built.is_some_and(|built| built >= newest_input) {
            println!("{}: {} is up to date", self.label, component.display());
            return Ok(());
        }
        // Written aside and renamed once complete, so a failed build never leaves a component
        // that looks up to date.
        let partial = plugins.join(format!("{}.wasm.partial", self.component));
        let started = Instant::now();
        run(&mut command(&partial))
            .with_context(|| format!("building the {} ({})", self.label, sources.display()))?;
        std::fs::rename(&partial, &component)
            .with_context(|| format!("moving {} into place", partial.display()))?;
        println!(
            "{}: built {} in {:.1} s",
            self.label,
            component.display(),
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }
}

/// componentize-py, installed from PyPI into a virtual environment in `venv` if it is not there
/// at the pinned version; its path.
fn ensure_python_tools(root: &Path, venv: &Path) -> Result<PathBuf> {
    let pin = root.join(PYTHON.dir).join(PYTHON.pin);
    let bin = venv.join(if cfg!(windows) { "Scripts" } else { "bin" });
    let tool = bin.join(if cfg!(windows) {
        "componentize-py.exe"
    } else {
        "componentize-py"
    });
    if installed(&pin, &venv.join(PYTHON.pin))? && tool.exists() {
        return Ok(tool);
    }
    let started = Instant::now();
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .context(
            "no `python3` on PATH: the Python example gateway is built with componentize-py, \
             which installs with CPython 3 and pip",
        )?;
    run(Command::new(python)
        .args(["-m", "venv", "--clear"])
        .arg(venv))
    .with_context(|| {
        format!(
            "creating a Python virtual environment in {} (on Debian: apt-get install python3-venv)",
            venv.display()
        )
    })?;
    run(Command::new(bin.join("pip"))
        .args([
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--retries",
            "2",
            "--timeout",
            "30",
            "--requirement",
        ])
        .arg(&pin))
    .with_context(|| {
        format!(
            "installing the pins of {} from PyPI (pip's output is above): the first build needs \
             the registry; later builds reuse {} offline",
            pin.display(),
            venv.display()
        )
    })?;
    record_installed(&pin, &venv.join(PYTHON.pin))?;
    println!(
        "{}: installed componentize-py into {} in {:.1} s",
        PYTHON.label,
        venv.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(tool)
}

/// componentize-js (and jco), installed from the npm registry into `dir/node_modules` from the
/// committed lock file if they are not there; the path of componentize-js's command-line
/// script.
fn ensure_javascript_tools(root: &Path, dir: &Path) -> Result<PathBuf> {
    let example = root.join(JAVASCRIPT.dir);
    let cli = dir.join("node_modules/@bytecodealliance/componentize-js/src/cli.js");
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        bail!(
            "no `node` on PATH: the JavaScript example gateway is built with componentize-js, \
             which runs on Node.js (18 or later) and installs with npm"
        );
    }
    let pin = example.join(JAVASCRIPT.pin);
    if installed(&pin, &dir.join(JAVASCRIPT.pin))? && cli.exists() {
        return Ok(cli);
    }
    let started = Instant::now();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(example.join(file), dir.join(file))
            .with_context(|| format!("copying {file} to {}", dir.display()))?;
    }
    run(Command::new(if cfg!(windows) { "npm.cmd" } else { "npm" })
        .current_dir(dir)
        .args(["ci", "--no-audit", "--no-fund", "--fetch-retries=2"]))
    .with_context(|| {
        format!(
            "installing {} with `npm ci` from the npm registry (npm's output is above): the first \
             build needs the registry; later builds reuse {} offline",
            pin.display(),
            dir.join("node_modules").display()
        )
    })?;
    record_installed(&pin, &dir.join(JAVASCRIPT.pin))?;
    println!(
        "{}: installed componentize-js and jco into {} in {:.1} s",
        JAVASCRIPT.label,
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(cli)
}

/// Whether the tools pinned by `pin` are installed: `record` (written after the last install)
/// has the same content.
fn installed(pin: &Path, record: &Path) -> Result<bool> {
    let wanted = std::fs::read(pin).with_context(|| format!("reading {}", pin.display()))?;
    Ok(std::fs::read(record).is_ok_and(|have| have == wanted))
}

fn record_installed(pin: &Path, record: &Path) -> Result<()> {
    std::fs::copy(pin, record)
        .map(|_| ())
        .with_context(|| format!("recording the install in {}", record.display()))
}

/// The latest modification time of `path` or, for a directory, of any file below it (outside
/// [`NOT_SOURCES`], and not of [`NOT_SOURCE_EXTENSIONS`]).
fn newest_modification(path: &Path) -> Result<SystemTime> {
    let metadata =
        std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !metadata.is_dir() {
        return metadata
            .modified()
            .with_context(|| format!("reading the time of {}", path.display()));
    }
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(path).with_context(|| format!("listing {}", path.display()))? {
        let entry = entry.with_context(|| format!("listing {}", path.display()))?;
        let path = entry.path();
        let documentation = path
            .extension()
            .is_some_and(|e| NOT_SOURCE_EXTENSIONS.iter().any(|skip| e == *skip));
        if documentation || NOT_SOURCES.iter().any(|skip| entry.file_name() == *skip) {
            continue;
        }
        newest = newest.max(newest_modification(&path)?);
    }
    Ok(newest)
}

fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}
