//! Unit tests of the settings: layering, validation and printing.

use super::*;

#[test]
fn defaults_are_valid() {
    Settings::default().validate().unwrap();
}

#[test]
fn flags_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookrelay.toml");
    std::fs::write(
        &path,
        "listen = \"127.0.0.1:6000\"\ndev = true\n[quotas]\nsubscriptions_per_scope = 9\n",
    )
    .unwrap();
    let settings = Settings::load(
        Some(&path),
        Overrides {
            listen: Some("127.0.0.1:7000".parse().unwrap()),
            ..Overrides::default()
        },
    )
    .unwrap();
    assert_eq!(settings.listen.port(), 7000);
    assert!(settings.dev);
    assert_eq!(settings.quotas.subscriptions_per_scope, 9);
    assert_eq!(settings.quotas.subscriptions_per_tenant, 1_000);
}

#[test]
fn unknown_keys_and_bad_values_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "lisen = \"127.0.0.1:1\"\n").unwrap();
    let err = Settings::load(Some(&path), Overrides::default()).unwrap_err();
    assert!(err.to_string().contains("lisen"), "{err}");

    std::fs::write(&path, "database_url = \"mysql://x\"\n").unwrap();
    let err = Settings::load(Some(&path), Overrides::default()).unwrap_err();
    assert!(err.to_string().contains("database_url"), "{err}");

    std::fs::write(&path, "[dispatch]\npublish_wait_ms = 60000\n").unwrap();
    let err = Settings::load(Some(&path), Overrides::default()).unwrap_err();
    assert!(
        err.to_string().contains("dispatch.publish_wait_ms"),
        "{err}"
    );

    for origin in [
        "console.example.com",
        "https://console.example.com/",
        "ftp://x.example",
    ] {
        std::fs::write(&path, format!("cors_allowed_origins = [{origin:?}]\n")).unwrap();
        let err = Settings::load(Some(&path), Overrides::default()).unwrap_err();
        assert!(
            err.to_string().contains("cors_allowed_origins"),
            "{origin}: {err}"
        );
    }
    std::fs::write(
        &path,
        "cors_allowed_origins = [\"https://console.example.com:8443\"]\n",
    )
    .unwrap();
    Settings::load(Some(&path), Overrides::default()).expect("an origin with a port is valid");

    let missing = dir.path().join("nope.toml");
    let err = Settings::load(Some(&missing), Overrides::default()).unwrap_err();
    assert!(matches!(err, ConfigError::MissingFile { .. }));
}

#[test]
fn allowed_networks_are_cidr_lists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("networks.toml");
    std::fs::write(
        &path,
        "allowed_networks = [\"10.20.0.0/16\", \"fd00::/8\"]\n",
    )
    .unwrap();
    let settings = Settings::load(Some(&path), Overrides::default()).unwrap();
    assert_eq!(
        settings.allowed_networks,
        vec![
            "10.20.0.0/16".parse::<ipnet::IpNet>().unwrap(),
            "fd00::/8".parse().unwrap()
        ]
    );
    assert!(Settings::default().allowed_networks.is_empty());

    std::fs::write(&path, "allowed_networks = [\"10.20.0.0/33\"]\n").unwrap();
    let err = Settings::load(Some(&path), Overrides::default()).unwrap_err();
    assert!(err.to_string().contains("allowed_networks"), "{err}");
}

/// Loads `text` as a `--config` file (the environment layer is on, as in
/// `load`; tests set no `HOOKRELAY_*` variables).
fn load_toml(text: &str) -> Settings {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("printed.toml");
    std::fs::write(&path, text).unwrap();
    Settings::load(Some(&path), Overrides::default()).unwrap()
}

#[test]
fn printed_defaults_load_back_unchanged() {
    let printed = Settings::default().to_redacted_toml().unwrap();
    assert!(
        printed.contains("listen = \"127.0.0.1:50051\""),
        "{printed}"
    );
    assert!(printed.contains("database_url = \"sqlite://hookrelay.db\""));
    assert!(
        printed.contains("[dispatch]\nbatch_size = 100\n"),
        "{printed}"
    );
    assert!(
        printed.contains("# Not set: metrics_listen, otlp_endpoint, secret_key, secret_key_file."),
        "{printed}"
    );
    assert!(!printed.contains(REDACTED), "nothing to redact: {printed}");
    assert_eq!(load_toml(&printed).to_redacted_toml().unwrap(), printed);
}

#[test]
fn printed_settings_round_trip_every_value() {
    let settings = Settings {
        listen: "0.0.0.0:6000".parse().unwrap(),
        dev: true,
        log_format: LogFormat::Json,
        log_filter: "hookrelay=debug,info".to_owned(),
        secret_key_file: Some(PathBuf::from("/var/lib/hookrelay/key")),
        metrics_listen: Some("127.0.0.1:9100".parse().unwrap()),
        sqlite_synchronous: SqliteSynchronous::Normal,
        quotas: Quotas {
            subscriptions_per_scope: 7,
            ..Quotas::default()
        },
        dispatch: Dispatch {
            lease_ms: 200_000,
            ..Dispatch::default()
        },
        otlp_endpoint: Some("http://127.0.0.1:4317".to_owned()),
        ..Settings::default()
    };
    let printed = settings.to_redacted_toml().unwrap();
    assert!(printed.contains("# Not set: secret_key.\n"), "{printed}");
    assert!(printed.contains("metrics_listen = \"127.0.0.1:9100\""));
    assert!(printed.contains("otlp_endpoint = \"http://127.0.0.1:4317\""));
    assert!(printed.contains("sqlite_synchronous = \"normal\""));
    assert_eq!(load_toml(&printed).to_redacted_toml().unwrap(), printed);
}

#[test]
fn printing_redacts_the_secret_key_and_the_database_password() {
    let key = "q83vEjRWeJASNFZ4kBI0VniQEjRWeJASNFZ4kBI0Vng=";
    let settings = Settings {
        secret_key: Some(key.to_owned()),
        database_url: "postgres://hookrelay:Tr0ub4dor@db:5432/hookrelay".to_owned(),
        ..Settings::default()
    };
    settings.validate().unwrap();
    let printed = settings.to_redacted_toml().unwrap();
    assert!(!printed.contains(key), "{printed}");
    assert!(!printed.contains("Tr0ub4dor"), "{printed}");
    assert!(printed.contains("secret_key = \"<redacted>\""), "{printed}");
    assert!(
        printed.contains("database_url = \"postgres://hookrelay:<redacted>@db:5432/hookrelay\""),
        "{printed}"
    );
    assert!(printed.contains("# Secrets are shown as <redacted>"));
    // Everything else is still a file `--config` takes.
    let back = load_toml(&printed.replace("\"<redacted>\"", &format!("\"{key}\"")));
    assert_eq!(back.secret_key.as_deref(), Some(key));
    assert_eq!(
        back.database_url,
        redact_database_url(&settings.database_url)
    );
}

#[test]
fn database_passwords_are_redacted_and_nothing_else_changes() {
    let cases = [
        // Nothing to hide: unchanged, byte for byte.
        ("sqlite://hookrelay.db", "sqlite://hookrelay.db"),
        ("sqlite://./a:b@c.db", "sqlite://./a:b@c.db"),
        ("postgres://db/hookrelay", "postgres://db/hookrelay"),
        ("postgres://user@db/x", "postgres://user@db/x"),
        ("postgres://user:@db/x", "postgres://user:@db/x"),
        (
            "postgresql://u@DB:5432/x?sslmode=require",
            "postgresql://u@DB:5432/x?sslmode=require",
        ),
        // The user info's password.
        ("postgres://user:pw@db/x", "postgres://user:<redacted>@db/x"),
        (
            "postgresql://user:p%40ss%2Fw@db:5432/x",
            "postgresql://user:<redacted>@db:5432/x",
        ),
        ("postgres://:pw@db", "postgres://:<redacted>@db"),
        (
            "postgres://u:a:b@db/x?sslmode=require#f",
            "postgres://u:<redacted>@db/x?sslmode=require#f",
        ),
        // An unescaped `@` in the password: the last `@` ends the user info.
        ("postgres://u:p@ss@db/x", "postgres://u:<redacted>@db/x"),
        // Not URLs the url crate reads: still nothing shown.
        ("postgres://u:pa/ss@db/x", "postgres://u:<redacted>@db/x"),
        ("postgres://u:pa?ss@db/x", "postgres://u:<redacted>@db/x"),
        (
            "postgres://u:pw@h1:5432,h2:5432/x",
            "postgres://u:<redacted>@h1:5432,h2:5432/x",
        ),
        // A password query parameter.
        (
            "postgres://u@db/x?sslmode=require&password=pw&application_name=a",
            "postgres://u@db/x?sslmode=require&password=<redacted>&application_name=a",
        ),
        (
            "postgres://db/x?PASSWORD=pw#f",
            "postgres://db/x?PASSWORD=<redacted>#f",
        ),
        (
            "postgres://u:pw@db/x?password=pw2",
            "postgres://u:<redacted>@db/x?password=<redacted>",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(redact_database_url(input), expected, "{input}");
    }
}

#[test]
fn retention_periods_are_bounded_and_named_precisely() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("retention.toml");
    std::fs::write(
        &path,
        "[retention]\ndeliveries_secs = 604800\nbatch_size = 200\n",
    )
    .unwrap();
    let settings = Settings::load(Some(&path), Overrides::default()).unwrap();
    assert_eq!(
        settings.retention.deliveries(),
        Duration::from_secs(604_800)
    );
    assert_eq!(settings.retention.events_secs, 30 * 24 * 3600);
    assert!(settings.retention.enabled);
    for (toml, field) in [
        ("deliveries_secs = 0", "retention.deliveries_secs"),
        ("events_secs = 4000000000", "retention.events_secs"),
        ("batch_size = 0", "retention.batch_size"),
        ("batch_pause_ms = 60000", "retention.batch_pause_ms"),
        ("interval_ms = 10", "retention.interval_ms"),
    ] {
        std::fs::write(&path, format!("[retention]\n{toml}\n")).unwrap();
        let err = Settings::load(Some(&path), Overrides::default()).unwrap_err();
        assert!(err.to_string().contains(field), "{toml}: {err}");
    }
}
