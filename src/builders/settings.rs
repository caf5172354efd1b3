//! Settings of the installation, not of one XAgent, that shape what the
//! builders produce: set at install time (flags of `run` and `render`, chart
//! values), the same for every XAgent.

use std::collections::BTreeMap;

/// The installation's settings; the defaults are the safe ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// Which `spec.ingress.annotations` reach the Ingress.
    pub ingress_annotations: AnnotationPolicy,
}

/// Which annotation keys pass: those matching an `allow` pattern and no
/// `deny` pattern. A pattern is a key with `*` standing for any run of
/// characters. Annotations are instructions to the Ingress controller, which
/// runs with rights of its own; ingress-nginx's `*-snippet` annotations in
/// particular inject configuration into it, so they are denied by default.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnotationPolicy {
    allow: Vec<String>,
    deny: Vec<String>,
}

/// The patterns denied unless the installation says otherwise.
pub const DEFAULT_DENY: &[&str] = &["*-snippet"];

impl Default for AnnotationPolicy {
    fn default() -> Self {
        Self::new(vec!["*".into()], DEFAULT_DENY.iter().map(|p| p.to_string()).collect())
    }
}

impl AnnotationPolicy {
    /// A policy of these patterns.
    pub fn new(allow: Vec<String>, deny: Vec<String>) -> Self {
        Self { allow, deny }
    }

    /// Whether annotation `key` may pass.
    pub fn permits(&self, key: &str) -> bool {
        self.allow.iter().any(|p| matches(p, key)) && !self.deny.iter().any(|p| matches(p, key))
    }

    /// The annotations that pass, and the keys of those that do not.
    pub fn split(&self, annotations: &BTreeMap<String, String>) -> (BTreeMap<String, String>, Vec<String>) {
        let (passed, refused): (BTreeMap<_, _>, BTreeMap<_, _>) =
            annotations.iter().map(|(k, v)| (k.clone(), v.clone())).partition(|(k, _)| self.permits(k));
        (passed, refused.into_keys().collect())
    }

    /// The patterns, for messages: `allow a,b; deny c`.
    pub fn describe(&self) -> String {
        format!("allow {}; deny {}", self.allow.join(","), self.deny.join(","))
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
fn matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let pieces: Vec<&str> = parts.collect();
    let Some((last, middle)) = pieces.split_last() else { return rest.is_empty() };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_star_matches_any_run_of_characters() {
        for (pattern, text, expected) in [
            ("*", "anything", true),
            ("*", "", true),
            ("*-snippet", "nginx.ingress.kubernetes.io/configuration-snippet", true),
            ("*-snippet", "nginx.ingress.kubernetes.io/snippet", false),
            ("nginx.ingress.kubernetes.io/*", "nginx.ingress.kubernetes.io/proxy-read-timeout", true),
            ("nginx.ingress.kubernetes.io/*", "cert-manager.io/cluster-issuer", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxcyyb", false),
            ("a*a", "a", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ] {
            assert_eq!(matches(pattern, text), expected, "{pattern:?} ~ {text:?}");
        }
    }

    #[test]
    fn by_default_everything_but_snippets_passes() {
        let policy = AnnotationPolicy::default();
        let annotations: BTreeMap<String, String> = [
            ("cert-manager.io/cluster-issuer", "letsencrypt"),
            ("nginx.ingress.kubernetes.io/proxy-read-timeout", "3600"),
            ("nginx.ingress.kubernetes.io/configuration-snippet", "more_set_headers x;"),
            ("nginx.ingress.kubernetes.io/server-snippet", "location /x {}"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (passed, refused) = policy.split(&annotations);
        assert_eq!(
            passed.keys().collect::<Vec<_>>(),
            ["cert-manager.io/cluster-issuer", "nginx.ingress.kubernetes.io/proxy-read-timeout"]
        );
        assert_eq!(
            refused,
            [
                "nginx.ingress.kubernetes.io/configuration-snippet",
                "nginx.ingress.kubernetes.io/server-snippet"
            ]
        );
    }

    #[test]
    fn an_allow_list_passes_only_what_it_names() {
        let policy = AnnotationPolicy::new(vec!["cert-manager.io/*".into()], vec![]);
        assert!(policy.permits("cert-manager.io/cluster-issuer"));
        assert!(!policy.permits("nginx.ingress.kubernetes.io/proxy-read-timeout"));
        assert_eq!(policy.describe(), "allow cert-manager.io/*; deny ");
    }
}
