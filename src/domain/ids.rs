//! Prefixed, time-sortable resource identifiers such as "sub_01HX9V...".

use std::sync::{LazyLock, Mutex};
use ulid::{Generator, Ulid};

/// The kinds of resources that get an id; the prefix makes ids self-describing in logs
/// and lets us reject an id of the wrong kind before touching storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    Tenant,
    Subscription,
    Event,
    Delivery,
    Attempt,
    ApiKey,
}

impl IdKind {
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Tenant => "ten",
            IdKind::Subscription => "sub",
            IdKind::Event => "evt",
            IdKind::Delivery => "dlv",
            IdKind::Attempt => "att",
            IdKind::ApiKey => "key",
        }
    }
}

// A monotonic generator keeps ids created within the same millisecond in creation
// order, so "ORDER BY id" (used by pagination) matches creation order in this process.
static GENERATOR: LazyLock<Mutex<Generator>> = LazyLock::new(|| Mutex::new(Generator::new()));

/// A fresh id: prefix + '_' + 26-char uppercase ULID.
// Clippy wants unwrap_or_default, but Ulid::default() is the all-zero ULID, not a new one.
#[allow(clippy::unwrap_or_default)]
pub fn new_id(kind: IdKind) -> String {
    let ulid = GENERATOR
        .lock()
        .ok()
        .and_then(|mut g| g.generate().ok())
        // Poisoned lock or 2^80 ids in one millisecond: still unique, just not monotonic.
        .unwrap_or_else(Ulid::new);
    format!("{}_{}", kind.prefix(), ulid)
}

/// True when `s` is `<prefix>_<ULID>` for this kind, in the canonical uppercase form we
/// generate. Lowercase ULIDs are refused: ids are compared as strings in storage, so a
/// non-canonical spelling would silently miss.
pub fn is_valid_id(kind: IdKind, s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix(kind.prefix())
        .and_then(|r| r.strip_prefix('_'))
    else {
        return false;
    };
    rest.len() == ulid::ULID_LEN && Ulid::from_string(rest).is_ok_and(|u| u.to_string() == rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_have_prefix_and_validate() {
        for kind in [
            IdKind::Tenant,
            IdKind::Subscription,
            IdKind::Event,
            IdKind::Delivery,
            IdKind::Attempt,
            IdKind::ApiKey,
        ] {
            let id = new_id(kind);
            assert!(id.starts_with(&format!("{}_", kind.prefix())), "{id}");
            assert_eq!(id.len(), kind.prefix().len() + 1 + 26);
            assert!(is_valid_id(kind, &id), "{id}");
        }
    }

    #[test]
    fn ids_are_sortable_by_creation() {
        let ids: Vec<String> = (0..1000).map(|_| new_id(IdKind::Event)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
    }

    #[test]
    fn wrong_kind_is_invalid() {
        let id = new_id(IdKind::Subscription);
        assert!(!is_valid_id(IdKind::Event, &id));
        assert!(!is_valid_id(IdKind::Tenant, &id));
    }

    #[test]
    fn ugly_input_is_invalid() {
        let good = new_id(IdKind::Delivery);
        let ulid = &good[4..];
        for bad in [
            String::new(),
            "dlv".to_string(),
            "dlv_".to_string(),
            format!("dlv{ulid}"),
            format!("dlv-{ulid}"),
            format!("DLV_{ulid}"),
            format!("dlv_{}", ulid.to_lowercase()),
            format!("dlv_{ulid}X"),
            format!("dlv_{}", &ulid[1..]),
            format!(" dlv_{ulid}"),
            format!("dlv_{ulid}\n"),
            "dlv_ZZZZZZZZZZZZZZZZZZZZZZZZZZ".to_string(),
            "dlv_8ZZZZZZZZZZZZZZZZZZZZZZZZZ".to_string(), // overflows 128 bits
            "dlv_01HX9V0000000000000000000é".to_string(),
            format!("dlv_{}", "0".repeat(10_000)),
        ] {
            assert!(!is_valid_id(IdKind::Delivery, &bad), "{bad:?}");
        }
        assert!(is_valid_id(
            IdKind::Delivery,
            "dlv_01HX9V00000000000000000000"
        ));
    }
}
