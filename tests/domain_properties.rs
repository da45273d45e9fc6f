//! Property tests on the domain's parsers, the first thing untrusted input
//! meets: no input makes one panic, and what one accepts parses again to
//! the same value (what is stored is what comes back).

use hookrelay::domain::{
    EndpointUrl, EventTypeName, EventTypePattern, ResourceName, WebhookSecret,
};
use proptest::prelude::*;

/// Valid event type names: a letter, then segments joined by single dots.
fn event_type_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_-]{0,12}(\\.[a-z0-9_-]{1,12}){0,4}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn event_type_names_never_panic_and_round_trip(text in any::<String>()) {
        if let Ok(name) = EventTypeName::parse(&text) {
            prop_assert_eq!(name.as_str(), text.as_str());
            prop_assert_eq!(EventTypeName::parse(name.as_str()), Ok(name.clone()));
        }
    }

    #[test]
    fn well_formed_event_type_names_are_accepted(text in event_type_name()) {
        let name = EventTypeName::parse(&text);
        prop_assert!(name.is_ok(), "{text:?} refused: {name:?}");
    }

    #[test]
    fn event_type_patterns_never_panic_and_round_trip(text in any::<String>()) {
        if let Ok(pattern) = EventTypePattern::parse(&text) {
            prop_assert_eq!(EventTypePattern::parse(&pattern.to_string()), Ok(pattern.clone()));
        }
    }

    #[test]
    fn a_prefix_pattern_matches_deeper_names_only(
        prefix in event_type_name(),
        rest in "[a-z0-9_-]{1,8}",
    ) {
        let pattern = EventTypePattern::parse(&format!("{prefix}.*")).expect("a prefix pattern");
        let deeper = format!("{prefix}.{rest}");
        prop_assert!(pattern.matches(&deeper), "{prefix}.* should match {deeper}");
        prop_assert!(!pattern.matches(&prefix), "{prefix}.* should not match {prefix}");
        let sibling = format!("{prefix}{rest}.x");
        prop_assert!(!pattern.matches(&sibling), "{prefix}.* should not match {sibling}");
    }

    #[test]
    fn endpoint_urls_never_panic_and_round_trip(text in any::<String>(), dev in any::<bool>()) {
        if let Ok(url) = EndpointUrl::parse(&text, dev) {
            prop_assert_eq!(EndpointUrl::parse(url.as_str(), dev), Ok(url.clone()));
        }
    }

    #[test]
    fn url_shaped_input_never_panics(
        scheme in "(https?|ftp|javascript|)",
        host in "[a-zA-Z0-9.\\-\\[\\]:%@]{0,40}",
        path in "[/a-zA-Z0-9%?#&=.\\-\u{e9}\u{1F600}]{0,40}",
        dev in any::<bool>(),
    ) {
        let text = format!("{scheme}://{host}{path}");
        if let Ok(url) = EndpointUrl::parse(&text, dev) {
            prop_assert_eq!(EndpointUrl::parse(url.as_str(), dev), Ok(url.clone()));
        }
    }

    #[test]
    fn secrets_never_panic(text in any::<String>(), standard in any::<bool>()) {
        let _ = WebhookSecret::parse_for(&text, standard);
    }

    #[test]
    fn resource_names_never_panic_and_round_trip(text in any::<String>()) {
        if let Ok(name) = ResourceName::parse(&text) {
            prop_assert_eq!(name.as_str(), text.trim());
            prop_assert_eq!(ResourceName::parse(name.as_str()), Ok(name.clone()));
        }
    }
}
