//! `hookrelay config print`: the settings as a TOML file `--config` accepts,
//! with secrets redacted.

use super::{ConfigError, Settings};

/// What `hookrelay config print` shows instead of a secret.
pub const REDACTED: &str = "<redacted>";

impl Settings {
    /// These settings as a TOML file that `--config` accepts (`hookrelay
    /// config print`), secrets replaced by [`REDACTED`]: `secret_key`, and a
    /// password in `database_url` (see [`redact_database_url`]). Settings
    /// without a value are listed in a comment, since TOML has no null.
    pub fn to_redacted_toml(&self) -> Result<String, ConfigError> {
        let mut shown = self.clone();
        if shown.secret_key.is_some() {
            shown.secret_key = Some(REDACTED.to_owned());
        }
        shown.database_url = redact_database_url(&self.database_url);
        let body = toml::to_string(&shown).map_err(|err| ConfigError::Print(err.to_string()))?;

        let mut out = String::from(
            "# hookrelay's effective configuration: defaults, then the --config file,\n\
             # then HOOKRELAY_* environment variables, then flags.\n",
        );
        if body.contains(REDACTED) {
            out.push_str(&format!(
                "# Secrets are shown as {REDACTED}: put the real values back before\n\
                 # using this file with --config.\n"
            ));
        }
        let unset = unset_keys(&shown);
        if !unset.is_empty() {
            out.push_str(&format!("# Not set: {}.\n", unset.join(", ")));
        }
        out.push('\n');
        out.push_str(&body);
        Ok(out)
    }
}

/// The dotted names of the settings that are `None` (TOML leaves them out),
/// sorted.
fn unset_keys(settings: &Settings) -> Vec<String> {
    fn walk(prefix: &str, value: &serde_json::Value, unset: &mut Vec<String>) {
        if let serde_json::Value::Object(map) = value {
            for (key, value) in map {
                let name = format!("{prefix}{key}");
                match value {
                    serde_json::Value::Null => unset.push(name),
                    serde_json::Value::Object(_) => walk(&format!("{name}."), value, unset),
                    _ => {}
                }
            }
        }
    }
    let mut unset = Vec::new();
    if let Ok(value) = serde_json::to_value(settings) {
        walk("", &value, &mut unset);
    }
    unset
}

/// Replaces the password of a database URL by [`REDACTED`], both in the user
/// info (`postgres://user:PASS@host/db`) and in a `password=` query
/// parameter, and leaves the rest byte for byte (so no `Url` round trip,
/// which would percent-encode `<redacted>`). A URL the `url` crate cannot
/// parse (an unescaped `/`, `?` or `#` in the password, libpq's
/// `host1:5432,host2:5432` lists) is read conservatively: the user info runs
/// to the last `@`, so a password is over-redacted rather than shown.
pub fn redact_database_url(database_url: &str) -> String {
    if database_url.starts_with("sqlite:") {
        return database_url.to_owned();
    }
    let Some(authority_start) = database_url.find("://").map(|i| i + 3) else {
        return database_url.to_owned();
    };
    let rest = &database_url[authority_start..];
    let authority_end = if url::Url::parse(database_url).is_ok() {
        rest.find(['/', '?', '#']).unwrap_or(rest.len())
    } else {
        rest.len()
    };
    let (userinfo, remainder) = match rest[..authority_end].rfind('@') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => ("", rest),
    };

    let mut out = database_url[..authority_start].to_owned();
    match userinfo.split_once(':') {
        Some((user, password)) if !password.is_empty() => {
            out.push_str(user);
            out.push(':');
            out.push_str(REDACTED);
        }
        _ => out.push_str(userinfo),
    }
    let Some((before_query, query)) = remainder.split_once('?') else {
        out.push_str(remainder);
        return out;
    };
    out.push_str(before_query);
    out.push('?');
    let (query, fragment) = match query.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (query, None),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if key.eq_ignore_ascii_case("password") && !value.is_empty() => {
                format!("{key}={REDACTED}")
            }
            _ => pair.to_owned(),
        })
        .collect();
    out.push_str(&pairs.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}
