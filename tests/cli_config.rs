//! `hookrelay config print` and the command line's help and usage errors, run
//! through the real binary: layering, redaction, round trips through
//! `--config`, and one-line errors for bad flags.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_hookrelay");

/// `HOOKRELAY_*` variables for one run.
type Env<'a> = &'a [(&'a str, &'a str)];

/// Base64 of 32 bytes: a valid `secret_key`.
const SECRET_KEY: &str = "q83vEjRWeJASNFZ4kBI0VniQEjRWeJASNFZ4kBI0Vng=";
const DB_PASSWORD: &str = "Tr0ub4dor-and-3";

/// Runs hookrelay in `dir` with exactly the `HOOKRELAY_*` variables given:
/// the ones of the environment running the tests are removed.
fn hookrelay(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command.current_dir(dir).args(args);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("HOOKRELAY_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command.output().expect("run hookrelay")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `config print`'s output, which must succeed and be valid TOML.
fn print(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (String, toml::Table) {
    let mut full = vec!["config", "print"];
    full.extend_from_slice(args);
    let output = hookrelay(dir, &full, env);
    assert!(
        output.status.success(),
        "config print {args:?}: {}",
        stderr(&output)
    );
    assert_eq!(stderr(&output), "", "config print writes nothing else");
    let text = stdout(&output);
    let table = text
        .parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("not TOML: {e}\n{text}"));
    (text, table)
}

fn get<'a>(table: &'a toml::Table, dotted: &str) -> &'a toml::Value {
    let mut parts = dotted.split('.');
    let mut value = &table[parts.next().unwrap()];
    for part in parts {
        value = &value[part];
    }
    value
}

fn str_of<'a>(table: &'a toml::Table, dotted: &str) -> &'a str {
    get(table, dotted).as_str().unwrap()
}

fn int_of(table: &toml::Table, dotted: &str) -> i64 {
    get(table, dotted).as_integer().unwrap()
}

#[test]
fn config_print_shows_the_defaults_without_opening_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let (text, table) = print(dir.path(), &[], &[]);
    assert_eq!(str_of(&table, "listen"), "127.0.0.1:50051");
    assert_eq!(str_of(&table, "database_url"), "sqlite://hookrelay.db");
    assert_eq!(get(&table, "dev").as_bool(), Some(false));
    assert_eq!(str_of(&table, "log_format"), "pretty");
    assert_eq!(str_of(&table, "log_filter"), "info");
    assert_eq!(str_of(&table, "sqlite_synchronous"), "full");
    assert_eq!(int_of(&table, "quotas.subscriptions_per_scope"), 5);
    assert_eq!(int_of(&table, "quotas.max_payload_bytes"), 262_144);
    assert_eq!(int_of(&table, "dispatch.batch_size"), 100);
    assert_eq!(int_of(&table, "dispatch.lease_ms"), 150_000);
    assert!(!table.contains_key("secret_key"));
    assert!(!table.contains_key("metrics_listen"));
    assert!(
        text.contains("# Not set: metrics_listen, otlp_endpoint, secret_key, secret_key_file."),
        "{text}"
    );
    assert!(!text.contains("<redacted>"), "{text}");
    // Printing is not serving: no database (or key file) appears.
    let created: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(created.is_empty(), "config print created {created:?}");
}

#[test]
fn flags_override_the_environment_which_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hookrelay.toml");
    std::fs::write(
        &file,
        r#"
listen = "127.0.0.1:6000"
log_format = "json"
log_filter = "debug"
metrics_listen = "127.0.0.1:9100"

[quotas]
subscriptions_per_scope = 9
subscriptions_per_tenant = 2000

[dispatch]
batch_size = 50
"#,
    )
    .unwrap();
    let file = file.to_str().unwrap();

    // The file alone.
    let (_, table) = print(dir.path(), &["--config", file], &[]);
    assert_eq!(str_of(&table, "listen"), "127.0.0.1:6000");
    assert_eq!(str_of(&table, "log_format"), "json");
    assert_eq!(str_of(&table, "metrics_listen"), "127.0.0.1:9100");
    assert_eq!(int_of(&table, "quotas.subscriptions_per_scope"), 9);

    // The environment over the file (the file itself named by HOOKRELAY_CONFIG).
    let env = [
        ("HOOKRELAY_CONFIG", file),
        ("HOOKRELAY_LISTEN", "127.0.0.1:7000"),
        ("HOOKRELAY_LOG_FILTER", "warn"),
        ("HOOKRELAY_DEV", "true"),
        ("HOOKRELAY_QUOTAS__SUBSCRIPTIONS_PER_SCOPE", "11"),
        ("HOOKRELAY_DISPATCH__BATCH_SIZE", "70"),
    ];
    let (_, table) = print(dir.path(), &[], &env);
    assert_eq!(str_of(&table, "listen"), "127.0.0.1:7000");
    assert_eq!(str_of(&table, "log_filter"), "warn");
    assert_eq!(get(&table, "dev").as_bool(), Some(true));
    assert_eq!(int_of(&table, "quotas.subscriptions_per_scope"), 11);
    assert_eq!(int_of(&table, "dispatch.batch_size"), 70);
    // What only the file says still holds.
    assert_eq!(str_of(&table, "log_format"), "json");
    assert_eq!(int_of(&table, "quotas.subscriptions_per_tenant"), 2000);

    // Flags over both.
    let (_, table) = print(
        dir.path(),
        &[
            "--listen",
            "0.0.0.0:8000",
            "--log-format",
            "pretty",
            "--metrics-listen",
            "127.0.0.1:9200",
            "--database-url",
            "sqlite://other.db",
        ],
        &env,
    );
    assert_eq!(str_of(&table, "listen"), "0.0.0.0:8000");
    assert_eq!(str_of(&table, "log_format"), "pretty");
    assert_eq!(str_of(&table, "metrics_listen"), "127.0.0.1:9200");
    assert_eq!(str_of(&table, "database_url"), "sqlite://other.db");
    assert_eq!(str_of(&table, "log_filter"), "warn");
    assert_eq!(int_of(&table, "quotas.subscriptions_per_scope"), 11);
}

#[test]
fn secrets_are_redacted_and_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgres://hookrelay:{DB_PASSWORD}@db.internal:5432/hookrelay");

    // From the environment, and from a flag.
    let runs = [
        (
            vec![],
            vec![
                ("HOOKRELAY_SECRET_KEY", SECRET_KEY),
                ("HOOKRELAY_DATABASE_URL", url.as_str()),
            ],
        ),
        (
            vec!["--database-url", url.as_str()],
            vec![("HOOKRELAY_SECRET_KEY", SECRET_KEY)],
        ),
    ];
    for (args, env) in runs {
        let (text, table) = print(dir.path(), &args, &env);
        assert!(!text.contains(SECRET_KEY), "{text}");
        assert!(!text.contains(DB_PASSWORD), "{text}");
        assert_eq!(str_of(&table, "secret_key"), "<redacted>");
        assert_eq!(
            str_of(&table, "database_url"),
            "postgres://hookrelay:<redacted>@db.internal:5432/hookrelay"
        );
    }

    // From a file, with the password as a query parameter too.
    let file = dir.path().join("secret.toml");
    std::fs::write(
        &file,
        format!(
            "secret_key = \"{SECRET_KEY}\"\n\
             database_url = \"postgres://db.internal/hookrelay?user=hr&password={DB_PASSWORD}&sslmode=require\"\n"
        ),
    )
    .unwrap();
    let (text, table) = print(dir.path(), &["--config", file.to_str().unwrap()], &[]);
    assert!(!text.contains(SECRET_KEY), "{text}");
    assert!(!text.contains(DB_PASSWORD), "{text}");
    assert_eq!(str_of(&table, "secret_key"), "<redacted>");
    assert_eq!(
        str_of(&table, "database_url"),
        "postgres://db.internal/hookrelay?user=hr&password=<redacted>&sslmode=require"
    );
    assert!(text.contains("# Secrets are shown as <redacted>"), "{text}");
}

#[test]
fn printed_configuration_round_trips_through_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.toml");
    std::fs::write(
        &file,
        "log_filter = \"hookrelay=debug,info\"\nsecret_key_file = \"/run/secrets/key\"\n\
         [dispatch]\nlease_ms = 200000\n",
    )
    .unwrap();
    let url = format!("postgres://hookrelay:{DB_PASSWORD}@db.internal/hookrelay");
    let (first, _) = print(
        dir.path(),
        &[
            "--config",
            file.to_str().unwrap(),
            "--listen",
            "0.0.0.0:50051",
            "--dev",
            "--log-format",
            "json",
            "--metrics-listen",
            "0.0.0.0:9100",
        ],
        &[
            ("HOOKRELAY_SECRET_KEY", SECRET_KEY),
            ("HOOKRELAY_DATABASE_URL", &url),
            ("HOOKRELAY_SQLITE_SYNCHRONOUS", "normal"),
            ("HOOKRELAY_QUOTAS__MAX_PAYLOAD_BYTES", "1048576"),
        ],
    );

    // The printed file with the secrets put back is the whole configuration:
    // alone (no environment, no flags) it prints the same again.
    let restored = first
        .replace(
            "secret_key = \"<redacted>\"",
            &format!("secret_key = \"{SECRET_KEY}\""),
        )
        .replace(":<redacted>@", &format!(":{DB_PASSWORD}@"));
    let values = restored.parse::<toml::Table>().unwrap();
    assert_eq!(str_of(&values, "secret_key"), SECRET_KEY);
    assert_eq!(str_of(&values, "database_url"), url);
    let printed = dir.path().join("printed.toml");
    std::fs::write(&printed, &restored).unwrap();
    let (second, table) = print(dir.path(), &["--config", printed.to_str().unwrap()], &[]);
    assert_eq!(second, first);
    assert_eq!(str_of(&table, "listen"), "0.0.0.0:50051");
    assert_eq!(get(&table, "dev").as_bool(), Some(true));
    assert_eq!(str_of(&table, "sqlite_synchronous"), "normal");
    assert_eq!(int_of(&table, "dispatch.lease_ms"), 200_000);

    // The defaults round-trip too.
    let (defaults, _) = print(dir.path(), &[], &[]);
    std::fs::write(&printed, &defaults).unwrap();
    let (again, _) = print(dir.path(), &["--config", printed.to_str().unwrap()], &[]);
    assert_eq!(again, defaults);
}

#[test]
fn a_bad_configuration_fails_as_serve_does() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let missing = dir.path().join("missing.toml");
    std::fs::write(&bad, "lisen = \"127.0.0.1:1\"\n").unwrap();
    let bad = bad.to_str().unwrap();
    let missing = missing.to_str().unwrap();

    let cases: [(&[&str], Env, &str); 5] = [
        (&["--config", bad], &[], "lisen"),
        (&["--config", missing], &[], "does not exist"),
        (
            &[],
            &[("HOOKRELAY_QUOTAS__MAX_PAYLOAD_BYTES", "12")],
            "quotas.max_payload_bytes",
        ),
        (&[], &[("HOOKRELAY_SECRET_KEY", "not-a-key")], "secret_key"),
        (&["--database-url", "mysql://db/x"], &[], "database_url"),
    ];
    for (args, env, needle) in cases {
        let mut print_args = vec!["config", "print"];
        print_args.extend_from_slice(args);
        let printed = hookrelay(dir.path(), &print_args, env);
        let mut serve_args = vec!["serve"];
        serve_args.extend_from_slice(args);
        let served = hookrelay(dir.path(), &serve_args, env);

        let message = stderr(&printed);
        assert_eq!(
            printed.status.code(),
            Some(1),
            "{args:?} {env:?}: {message}"
        );
        assert_eq!(stdout(&printed), "", "nothing printed on error");
        assert!(message.starts_with("error: "), "{message}");
        assert!(message.contains(needle), "{needle:?} in {message}");
        assert_eq!(message.trim_end().lines().count(), 1, "one line: {message}");
        assert_eq!(served.status.code(), printed.status.code(), "{args:?}");
        assert_eq!(stderr(&served), message, "serve {args:?} {env:?}");
    }
    let created: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name != "bad.toml")
        .collect();
    assert!(created.is_empty(), "nothing opened: {created:?}");
}

#[test]
fn every_command_has_help_that_names_its_flags() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--help"],
            &[
                "Examples:",
                "serve",
                "migrate",
                "tenants",
                "keys",
                "listen",
                "health-check",
                "config",
                "HOOKRELAY_",
                "hookrelay config print",
            ],
        ),
        (
            &["serve", "--help"],
            &[
                "--listen",
                "--database-url",
                "--config",
                "--dev",
                "--log-format",
                "--metrics-listen",
                "HOOKRELAY_LISTEN",
                "SIGTERM",
            ],
        ),
        (&["migrate", "--help"], &["--database-url", "--config"]),
        (&["tenants", "--help"], &["create"]),
        (
            &["tenants", "create", "--help"],
            &["<NAME>", "--database-url", "--config", "keys create"],
        ),
        (&["keys", "--help"], &["create"]),
        (
            &["keys", "create", "--help"],
            &[
                "--tenant",
                "--capabilities",
                "manage, publish, read",
                "--scope",
                "--name",
                "--database-url",
                "Bearer",
            ],
        ),
        (
            &["listen", "--help"],
            &[
                "--listen",
                "--secret",
                "HOOKRELAY_LISTEN_SECRET",
                "127.0.0.1:9000",
            ],
        ),
        (
            &["health-check", "--help"],
            &["--addr", "--service", "--timeout-ms", "SERVING"],
        ),
        (&["config", "--help"], &["print"]),
        (
            &["config", "print", "--help"],
            &[
                "--listen",
                "--database-url",
                "--config",
                "--dev",
                "--log-format",
                "--metrics-listen",
                "<redacted>",
            ],
        ),
    ];
    for (args, needles) in cases {
        let output = hookrelay(dir.path(), args, &[]);
        let text = stdout(&output);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        for needle in *needles {
            assert!(
                text.contains(needle),
                "{args:?} --help lacks {needle:?}:\n{text}"
            );
        }
    }
    let version = hookrelay(dir.path(), &["--version"], &[]);
    assert!(version.status.success());
    assert_eq!(
        stdout(&version).trim(),
        format!("hookrelay {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_flag_values_are_one_line_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    // (arguments, environment, what the error line must name)
    let cases: &[(&[&str], Env, &[&str])] = &[
        (
            &[
                "keys",
                "create",
                "--tenant",
                "acme",
                "--capabilities",
                "foo",
            ],
            &[],
            &["--capabilities", "'foo'", "manage, publish, read"],
        ),
        (
            &[
                "keys",
                "create",
                "--tenant",
                "acme",
                "--capabilities",
                "read,",
            ],
            &[],
            &["--capabilities"],
        ),
        (
            &[
                "keys",
                "create",
                "--tenant",
                "acme",
                "--capabilities",
                "read",
                "--scope",
                "a b",
            ],
            &[],
            &["--scope", "whitespace"],
        ),
        (&["tenants", "create", ""], &[], &["<NAME>"]),
        (
            &["serve", "--listen", "localhost:50051"],
            &[],
            &["--listen", "IP:PORT"],
        ),
        (
            &["serve", "--listen", "127.0.0.1"],
            &[],
            &["--listen", "IP:PORT"],
        ),
        (
            &["serve", "--metrics-listen", "9100"],
            &[],
            &["--metrics-listen", "IP:PORT"],
        ),
        (
            &["config", "print", "--listen", "nope"],
            &[],
            &["--listen", "IP:PORT"],
        ),
        (
            &["serve"],
            &[("HOOKRELAY_LISTEN", "nope")],
            &["--listen", "'nope'"],
        ),
        (
            &["serve"],
            &[("HOOKRELAY_DEV", "maybe")],
            &["--dev", "'maybe'"],
        ),
        (
            &["listen", "--listen", ":9000"],
            &[],
            &["--listen", "IP:PORT"],
        ),
        (
            &["listen", "--secret", "whsec_!!"],
            &[],
            &["--secret", "whsec_"],
        ),
        (
            &["health-check", "--timeout-ms", "0"],
            &[],
            &["--timeout-ms"],
        ),
        (&["serve", "--bogus"], &[], &["--bogus"]),
    ];
    for (args, env, needles) in cases {
        let output = hookrelay(dir.path(), args, env);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?} {env:?}: {message}");
        // clap's format: the error, then a blank line and a pointer to --help.
        let (error, hint) = message
            .split_once("\n\n")
            .unwrap_or_else(|| panic!("{args:?}: {message}"));
        assert_eq!(error.lines().count(), 1, "{args:?}: one line: {message}");
        assert!(error.starts_with("error: "), "{message}");
        assert!(hint.contains("--help"), "{message}");
        for needle in *needles {
            assert!(error.contains(needle), "{args:?}: {needle:?} in {error}");
        }
    }

    // An unknown --log-format also lists the accepted values.
    let output = hookrelay(dir.path(), &["serve", "--log-format", "xml"], &[]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.starts_with("error: invalid value 'xml' for '--log-format <LOG_FORMAT>'"),
        "{message}"
    );
    assert!(
        message.contains("[possible values: pretty, json]"),
        "{message}"
    );
    // None of these opened (or created) a database.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
