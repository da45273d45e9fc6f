//! The external programs some tests run (python3, grpcurl, node, npm): found
//! first in the project-local environment that `scripts/test` sets up
//! (`target/test-env/bin`, `clients/typescript/node_modules/.bin`), then on
//! `PATH`. A test that cannot find what it needs fails, naming the command
//! that installs it, rather than skipping.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The one command that installs every tool the tests use.
pub const SETUP: &str = "scripts/test --setup";

/// The folders searched before `PATH`, in order.
fn tool_dirs() -> [PathBuf; 2] {
    let root = Path::new(ROOT);
    [
        root.join("target/test-env/bin"),
        root.join("clients/typescript/node_modules/.bin"),
    ]
}

/// `PATH` with the project-local tool folders in front, for child processes
/// that start tools themselves (a bash script calling grpcurl).
pub fn search_path() -> OsString {
    let mut dirs: Vec<PathBuf> = tool_dirs().into_iter().filter(|d| d.is_dir()).collect();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).expect("PATH entries contain no separator")
}

/// Where `program` is: the project-local one when set up, else the name
/// itself for the usual `PATH` lookup.
pub fn program(program: &str) -> PathBuf {
    tool_dirs()
        .into_iter()
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| PathBuf::from(program))
}

/// A command for `name`, resolved by [`program`], whose children see
/// [`search_path`].
pub fn command(name: &str) -> std::process::Command {
    let mut command = std::process::Command::new(program(name));
    command.env("PATH", search_path());
    command
}

/// The same as [`command`], for tokio.
pub fn async_command(name: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program(name));
    command.env("PATH", search_path());
    command
}

/// Panics, naming [`SETUP`], unless `name args` runs and succeeds; `needs`
/// says what the test wanted from it.
pub fn require(name: &str, args: &[&str], needs: &str) {
    let outcome = command(name)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    match outcome {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`{name} {}` failed ({}): this test needs {needs}; run `{SETUP}` to install it. \
             stderr:\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(err) => {
            panic!(
                "cannot run {name} ({err}): this test needs {needs}; run `{SETUP}` to install it"
            )
        }
    }
}

/// Panics, naming [`SETUP`], unless the test environment's python3 can
/// import `module`.
pub fn require_python_module(module: &str, package: &str) {
    require(
        "python3",
        &["-c", &format!("import {module}")],
        &format!("python3 with the {package} package"),
    );
}

/// Panics, naming [`SETUP`], unless `dir` (relative to the repository) has
/// the packages of its package-lock.json installed; `scripts/test` runs
/// `npm ci` there, so tests never install packages themselves.
pub fn require_node_modules(dir: &str) -> PathBuf {
    require("node", &["--version"], "Node.js 20 or newer");
    let dir = Path::new(ROOT).join(dir);
    let ok = std::process::Command::new("npm")
        .args(["ls", "--silent"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        ok,
        "{} lacks its locked npm packages; run `{SETUP}` (it runs `npm ci` there)",
        dir.display()
    );
    dir
}
