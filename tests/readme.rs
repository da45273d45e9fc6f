//! The README's Quick start and grpcurl walk-through, run the way a reader
//! runs them: their ```sh blocks, found by their section heading so the test
//! reads exactly what a user reads, go to `bash -euo pipefail` in a fresh
//! directory, with
//! the `hookrelay` binary Cargo built for this test first on `PATH` and the
//! real `grpcurl` (the project-local one that `scripts/test --setup`
//! installs, else the reader's own). Only two kinds of line are changed, and each must be
//! present exactly once, so a README edit cannot slip past them:
//!
//! - the build preamble (`cargo build --release` and the `PATH` export) is
//!   dropped: Cargo has already built the binary under test, and a release
//!   build here would take minutes and run a different binary;
//! - the two address assignments (`SERVER=127.0.0.1:50051`,
//!   `RECEIVER=127.0.0.1:9000`) get free ports. Running on the documented
//!   ports would fail whenever a developer's own server or receiver, or a
//!   concurrent run of this test, holds them; every other line uses the
//!   variables, so the ports are the only thing that changes.
//!
//! The test adds one line in front, an ERR trap that names the failing
//! command, and ends whatever the script left running.

mod common;

use common::process::free_port;
use common::tools;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hookrelay");
const SECTION: &str = "## grpcurl walk-through";
const QUICK_START: &str = "## Quick start";
const CONTRACTS: &str = "## Webhook contracts";
const FILTERS: &str = "## Payload filters";
const RETENTION: &str = "## Retention";
const PREAMBLE: [&str; 2] = [
    "cargo build --release",
    r#"export PATH="$PWD/target/release:$PATH""#,
];
/// Names the command that failed and its line in the walk-through (the
/// trap's own line is line 1, hence the `- 1`).
const ON_ERROR: &str =
    r#"trap 'echo "walk-through: exit status $? at line $((LINENO - 1)): $BASH_COMMAND" >&2' ERR"#;
const SERVER: &str = "SERVER=127.0.0.1:50051";
const RECEIVER: &str = "RECEIVER=127.0.0.1:9000";
/// The walk-through waits for at most 30 s per step; this bounds the whole
/// run (a debug build on a busy machine) so a hang fails instead of stalling.
const TIMEOUT: Duration = Duration::from_secs(240);

#[test]
fn grpcurl_walk_through_runs_as_written() {
    require_grpcurl();
    let script = runnable_section(SECTION);
    let dir = tempfile::tempdir().expect("temp dir");
    let (status, output) = run_bash(&format!("{ON_ERROR}\n{script}"), dir.path());
    assert!(
        status.success(),
        "the walk-through failed ({status}); its output:\n{output}"
    );

    // What the reader sees.
    let expect = |fact: &str, why: &str| {
        assert!(output.contains(fact), "{why}: no {fact:?} in\n{output}");
    };
    expect("hookrelay.v1.EventService", "reflection lists the services");
    expect("rpc PublishEvent", "reflection describes a method");
    expect("message Event {", "reflection describes a message");
    expect(
        r#""name": "billing-service""#,
        "ListApiKeys shows the API-made key",
    );
    expect(
        "this API key lacks the `read` capability",
        "a publish-only key cannot read",
    );
    expect("whsec_", "CreateSubscription returns the secret");
    for id in ["inv_1001.paid", "inv_1002.paid"] {
        expect(
            &format!("--> invoice.paid {id} on /webhooks (signature verified)"),
            "the receiver got the webhook and verified its signature",
        );
    }
    assert!(
        !output.contains("signature INVALID"),
        "a signature failed to verify:\n{output}"
    );
    assert_eq!(
        output.matches(r#""duplicate": true"#).count(),
        2,
        "the repeated id and the batch's repeat, and only they, are duplicates:\n{output}"
    );
    expect(
        r#""dataJson": "{\"amount\": 990, \"currency\": \"USD\"}""#,
        "GetEvent returns data_json byte for byte",
    );
    expect(
        r#""responseStatusCode": 204"#,
        "ListDeliveryAttempts shows the receiver's answer",
    );
    expect(
        r#""deliveryCount": 3"#,
        "ReplayEvents re-sends the three events",
    );
    expect(r#""status": "SERVING""#, "the health check answers");

    // The logs behind it: the stream printed the deliveries as they
    // succeeded (ListDeliveries alone would also show SUCCEEDED in the output).
    let stream = scratch_file(dir.path(), "deliveries.log");
    assert!(
        stream.contains("DELIVERY_STATUS_SUCCEEDED"),
        "WatchDeliveries printed no SUCCEEDED delivery:\n{stream}"
    );
    let received = scratch_file(dir.path(), "receiver.log");
    assert_eq!(
        received.matches("(signature verified)").count(),
        6,
        "three events, then their replay, each delivered once:\n{received}"
    );
}

/// The Quick start, pasted the same way: a newcomer sees the webhook arrive,
/// verified, and the delivery succeed.
#[test]
fn quick_start_runs_as_written() {
    require_grpcurl();
    let script = runnable_section(QUICK_START);
    let dir = tempfile::tempdir().expect("temp dir");
    let (status, output) = run_bash(&format!("{ON_ERROR}\n{script}"), dir.path());
    assert!(
        status.success(),
        "the quick start failed ({status}); its output:\n{output}"
    );
    for (fact, why) in [
        (
            "hookrelay.v1.SubscriptionService",
            "reflection lists the services",
        ),
        ("message Subscription {", "reflection describes a message"),
        (
            "--> invoice.paid evt_",
            "the receiver printed the published event",
        ),
        (
            "(signature verified)",
            "the receiver verified the signature",
        ),
        (
            "DELIVERY_STATUS_SUCCEEDED",
            "ListDeliveries shows the success",
        ),
        (r#""status": "SERVING""#, "the health check answers"),
    ] {
        assert!(output.contains(fact), "{why}: no {fact:?} in\n{output}");
    }
    assert!(!output.contains("signature INVALID"), "{output}");
}

/// The "Webhook contracts" section: every contract and preset configured
/// through grpcurl, its request previewed and its signature checked with
/// openssl; the presence subscription's webhook verified by `hookrelay listen`.
#[test]
fn webhook_contracts_run_as_written() {
    require_grpcurl();
    tools::require("openssl", &["version"], "openssl");
    let script = runnable_section(CONTRACTS);
    let dir = tempfile::tempdir().expect("temp dir");
    let (status, output) = run_bash(&format!("{ON_ERROR}\n{script}"), dir.path());
    assert!(
        status.success(),
        "the contracts section failed ({status}); its output:\n{output}"
    );
    for (fact, why) in [
        (
            "unsigned widget: no X-Widget-Signature",
            "an unsigned subscription sends no signature",
        ),
        (
            r#"{"plan_id": "pln_1"}"#,
            "the planned-outbound body is the data alone",
        ),
        (
            "X-CauseFlow-Signature verified",
            "the raw-body sha256 signature checks",
        ),
        ("presence.online", "the presence webhook arrived"),
        (
            "(signature verified)",
            "hookrelay listen verified the generated secret",
        ),
        ("x-webhook-request-id", "the gateway id header is sent"),
        (r#""value": "hookrelay""#, "the custom header is applied"),
        ("X-Webhook-Hmac verified", "the sha512 signature checks"),
        (
            r#""session_id":"ses_42""#,
            "the flow body lifts the attribute",
        ),
        (r#""success":true"#, "the flow body keeps the boolean"),
        ("GitHub signature verified", "the github preset"),
        ("Stripe signature verified", "the stripe preset"),
        ("Shopify signature verified", "the shopify preset"),
        ("Slack signature verified", "the slack preset"),
    ] {
        assert!(output.contains(fact), "{why}: no {fact:?} in\n{output}");
    }
    assert!(!output.contains("signature INVALID"), "{output}");
    // A caller's secret is never returned, not even by the create.
    for (file, secret) in [
        ("plan.json", "your-signing-secret"),
        ("gateway.json", "gateway-org-secret"),
    ] {
        let text = scratch_file(dir.path(), file);
        assert!(text.contains("sub_"), "{file}: {text}");
        assert!(
            !text.contains(secret),
            "{file} returns the caller's secret: {text}"
        );
    }
    // The gateway timestamp is epoch milliseconds.
    let preview = scratch_file(dir.path(), "gateway-preview.json");
    let millis = preview
        .split("\"x-webhook-timestamp\"")
        .nth(1)
        .and_then(|rest| rest.split('"').nth(3))
        .expect("x-webhook-timestamp in the preview");
    assert_eq!(millis.len(), 13, "{millis} is not epoch milliseconds");
}

/// The Retention section: a tenant's own period set with the CLI, and
/// ExpungeEvent removing a delivered event's data while its delivery stays.
#[test]
fn retention_section_runs_as_written() {
    require_grpcurl();
    let script = runnable_section(RETENTION);
    let dir = tempfile::tempdir().expect("temp dir");
    let (status, output) = run_bash(&format!("{ON_ERROR}\n{script}"), dir.path());
    assert!(
        status.success(),
        "the retention section failed ({status}); its output:\n{output}"
    );
    for (fact, why) in [
        (
            "tenant acme keeps finished deliveries for 30d and events for 90d (the server's setting)",
            "set-retention reports both periods",
        ),
        (r#""expungeTime""#, "the expunged event says when"),
        ("DELIVERY_STATUS_SUCCEEDED", "the delivery history stays"),
    ] {
        assert!(output.contains(fact), "{why}: no {fact:?} in\n{output}");
    }
    // Published, then expunged and read back without it.
    assert_eq!(
        output.matches("jane@example.com").count(),
        1,
        "the address shows only in the publish's answer:\n{output}"
    );
    let received = scratch_file(dir.path(), "receiver.log");
    assert!(
        received.contains("--> user.signed_up usr_42.signed_up"),
        "the webhook arrived: {received}"
    );
}

/// The Payload filters section: a filtered subscription tried with
/// PreviewDelivery, three orders of which only the matching one creates a
/// delivery, a bad filter refused with its place named, and the filter
/// cleared by an update with `filter` in the mask.
#[test]
fn payload_filters_run_as_written() {
    require_grpcurl();
    let script = runnable_section(FILTERS);
    let dir = tempfile::tempdir().expect("temp dir");
    let (status, output) = run_bash(&format!("{ON_ERROR}\n{script}"), dir.path());
    assert!(
        status.success(),
        "the payload filters section failed ({status}); its output:\n{output}"
    );
    for (fact, count, why) in [
        (r#""filterMatches": true"#, 1, "the German sample matches"),
        (r#""filterMatches": false"#, 1, "the American one does not"),
        (
            r#""subscriptionCount": 1"#,
            2,
            "ord_1 makes a delivery, and ord_4 once the filter is gone",
        ),
        (r#""subscriptionCount": 0"#, 2, "ord_2 and ord_3 make none"),
        (
            "subscription.filter.amount.$gte: expects a number",
            1,
            "the bad filter's place is named",
        ),
    ] {
        assert_eq!(
            output.matches(fact).count(),
            count,
            "{why}: {fact:?} in\n{output}"
        );
    }
    let received = scratch_file(dir.path(), "receiver.log");
    for (id, delivered) in [
        ("ord_1", true),
        ("ord_2", false),
        ("ord_3", false),
        ("ord_4", true),
    ] {
        assert_eq!(
            received.contains(&format!("--> order.created {id} on /big-eu")),
            delivered,
            "{id}: {received}"
        );
    }
}

/// A section's ```sh blocks as a script to run here: the build preamble
/// dropped and the two documented addresses moved to free ports. Both kinds
/// of line must be there exactly once, and no other line may name a port.
fn runnable_section(heading: &str) -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("read README.md");
    let mut script = sh_blocks(&readme, heading);
    for line in PREAMBLE {
        script = replace_line(&script, line, "");
    }
    script = replace_line(
        &script,
        SERVER,
        &format!("SERVER=127.0.0.1:{}", free_port()),
    );
    script = replace_line(
        &script,
        RECEIVER,
        &format!("RECEIVER=127.0.0.1:{}", free_port()),
    );
    for port in ["50051", ":9000"] {
        assert!(
            !script.contains(port),
            "{heading:?} uses {port} directly; use $SERVER / $RECEIVER"
        );
    }
    script
}

/// Fails, rather than skips, without grpcurl: the walk-through is about it.
fn require_grpcurl() {
    tools::require("grpcurl", &["-version"], "grpcurl");
}

/// The bodies of the ```sh blocks between `heading` and the next `## `
/// heading, in order, joined into one script.
fn sh_blocks(readme: &str, heading: &str) -> String {
    let mut lines = readme.lines().skip_while(|line| line.trim_end() != heading);
    assert!(
        lines.next().is_some(),
        "README.md has no {heading:?} section"
    );
    let mut script = String::new();
    let mut in_sh = false;
    for line in lines.take_while(|line| !line.starts_with("## ")) {
        if in_sh {
            if line.trim_start().starts_with("```") {
                in_sh = false;
            } else {
                script.push_str(line);
                script.push('\n');
            }
        } else if line.trim() == "```sh" {
            in_sh = true;
        }
    }
    assert!(!in_sh, "an unterminated ```sh block under {heading:?}");
    assert!(!script.is_empty(), "no ```sh block under {heading:?}");
    script
}

/// Replaces the one line that starts with `start` (a trailing comment is
/// allowed) by `with`; panics if there is no such line or more than one.
fn replace_line(script: &str, start: &str, with: &str) -> String {
    let matches = |line: &str| {
        line.strip_prefix(start)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
    };
    let count = script.lines().filter(|line| matches(line)).count();
    assert_eq!(
        count, 1,
        "expected exactly one line `{start}` in the section, found {count}"
    );
    script
        .lines()
        .map(|line| if matches(line) { with } else { line })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `script` with `bash -euo pipefail` in `dir` and returns its exit
/// status and its output (stdout and stderr interleaved, as in a terminal).
fn run_bash(script: &str, dir: &Path) -> (ExitStatus, String) {
    let log_path = dir.join("output.log");
    let log = File::create(&log_path).expect("create output.log");
    let bin_dir = Path::new(BIN).parent().expect("binary directory");
    let path = std::env::join_paths(
        std::iter::once(bin_dir.to_path_buf()).chain(std::env::split_paths(&tools::search_path())),
    )
    .expect("PATH");
    let mut command = Command::new("bash");
    command
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        // `mktemp -d` in the walk-through then lands inside `dir`, removed with it.
        .env("TMPDIR", dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone output.log"))
        .stderr(log)
        // Its own process group, so that every job it starts can be ended.
        .process_group(0);
    // The reader's environment is not the test's: no stray server settings.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("HOOKRELAY_") {
            command.env_remove(key);
        }
    }
    let mut bash = ProcessGroup(command.spawn().expect("run bash"));
    let output = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = bash.0.try_wait().expect("wait for bash") {
            return (status, output());
        }
        assert!(
            Instant::now() < deadline,
            "the walk-through did not finish within {TIMEOUT:?}; its output so far:\n{}",
            output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A child leading its own process group. Dropping it kills the group: the
/// server, receiver and grpcurl stream the script started in the background
/// go too, even when the script failed half-way or the test panicked.
struct ProcessGroup(Child);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

/// A file the walk-through wrote in its scratch directory (`mktemp -d`,
/// which TMPDIR places inside `dir`).
fn scratch_file(dir: &Path, name: &str) -> String {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list the test directory")
        .filter_map(|entry| Some(entry.ok()?.path().join(name)))
        .filter(|path| path.is_file())
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one scratch {name}, found {found:?}"
    );
    std::fs::read_to_string(&found[0]).expect("read the scratch file")
}
