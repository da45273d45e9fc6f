//! Routing: which subscriptions an event goes to. A pure decision over a
//! subscription's scope and event-type patterns, made at publish time.

use super::event_type_pattern::EventTypePattern;

/// The namespace of hookrelay's own operational events.
pub const OPERATIONAL_PREFIX: &str = "hookrelay.";

/// What routing needs to know of a subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Only events published with this scope, or every scope when `None`.
    pub scope: Option<String>,
    pub patterns: Vec<EventTypePattern>,
}

impl Route {
    /// A subscription with a scope receives only that scope's events; one
    /// without a scope receives every event of its types. hookrelay's own
    /// `hookrelay.*` events go only to patterns that name that namespace, so
    /// a `*` subscriber never receives operational traffic it did not ask for.
    pub fn accepts(&self, event_type: &str, scope: Option<&str>) -> bool {
        let scope_ok = match &self.scope {
            None => true,
            Some(own) => scope == Some(own.as_str()),
        };
        let operational = event_type.starts_with(OPERATIONAL_PREFIX);
        scope_ok
            && self.patterns.iter().any(|pattern| {
                pattern.matches(event_type)
                    && (!operational || pattern.as_string().starts_with(OPERATIONAL_PREFIX))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(scope: Option<&str>, patterns: &[&str]) -> Route {
        Route {
            scope: scope.map(str::to_owned),
            patterns: patterns
                .iter()
                .map(|p| EventTypePattern::parse(p).unwrap())
                .collect(),
        }
    }

    #[test]
    fn patterns_choose_the_types() {
        let route = route(None, &["invoice.*", "user.created"]);
        assert!(route.accepts("invoice.paid", None));
        assert!(route.accepts("user.created", Some("s1")));
        assert!(!route.accepts("user.deleted", None));
        assert!(!route.accepts("invoice", None));
    }

    #[test]
    fn a_scoped_subscription_hears_only_its_scope() {
        let route = route(Some("sess_1"), &["*"]);
        assert!(route.accepts("invoice.paid", Some("sess_1")));
        assert!(!route.accepts("invoice.paid", Some("sess_2")));
        assert!(!route.accepts("invoice.paid", None));
    }

    #[test]
    fn operational_events_need_a_pattern_in_their_namespace() {
        assert!(!route(None, &["*"]).accepts("hookrelay.subscription.disabled", None));
        assert!(route(None, &["hookrelay.*"]).accepts("hookrelay.subscription.disabled", None));
        assert!(
            route(None, &["hookrelay.subscription.disabled"])
                .accepts("hookrelay.subscription.disabled", None)
        );
    }
}
