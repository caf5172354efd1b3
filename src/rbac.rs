//! The Kubernetes permissions the operator needs, as data.
//!
//! The chart (`charts/xagent-operator/files/rbac-rules.yaml`) and the kustomize
//! base (`config/rbac/role.yaml`) are generated from this list and checked by a
//! test, so the RBAC that ships is exactly what the code uses: no wildcards,
//! Secrets read-only.

use k8s_openapi::api::rbac::v1::PolicyRule;

use crate::builders::ChildKind;

/// Verbs for kinds the operator owns and keeps in shape: read one (get),
/// cache (list, watch), server-side apply (create, patch), prune (delete).
/// No `update`: nothing is ever written with PUT.
const OWN: &[&str] = &["get", "list", "watch", "create", "patch", "delete"];

fn rule(group: &str, resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(resources.iter().map(|r| r.to_string()).collect()),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..PolicyRule::default()
    }
}

/// Rules the operator needs in every namespace it watches.
pub fn namespaced_rules() -> Vec<PolicyRule> {
    vec![
        rule("xagent.io", &["xagents"], &["get", "list", "watch"]),
        // Status is written by server-side apply only.
        rule("xagent.io", &["xagents/status"], &["patch"]),
        // Setting blockOwnerDeletion on children needs this where the
        // OwnerReferencesPermissionEnforcement admission plugin is on.
        rule("xagent.io", &["xagents/finalizers"], &["update"]),
    ]
    .into_iter()
    .chain(owned_kinds_rules())
    .chain([
        // Passwords for the dependency probes: read one by name, never list.
        // (CA bundles in ConfigMaps are read with the rights on the owned
        // dashboard ConfigMaps.)
        rule("", &["secrets"], &["get"]),
        // ChromaDB's claims, made by the StatefulSet controller: read to
        // refuse another XAgent's, patched to grow them and label them ours.
        rule("", &["persistentvolumeclaims"], &["get", "patch"]),
        // Whether a claim's StorageClass allows expansion.
        rule("storage.k8s.io", &["storageclasses"], &["get"]),
        rule("events.k8s.io", &["events"], &["create", "patch"]),
    ])
    .collect()
}

/// Full rights on every kind of the child registry (watched kinds too: they
/// are watched, metadata only, once their CRDs exist), one rule per API group
/// in registry order.
fn owned_kinds_rules() -> Vec<PolicyRule> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for kind in ChildKind::ALL {
        let (group, plural) = kind.resource();
        match groups.last_mut() {
            Some((last, plurals)) if *last == group => plurals.push(plural),
            _ => groups.push((group, vec![plural])),
        }
    }
    groups
        .iter()
        .map(|(group, plurals)| {
            let plurals: Vec<&str> = plurals.iter().map(String::as_str).collect();
            rule(group, &plurals, OWN)
        })
        .collect()
}

/// Rules that are cluster-wide by nature: noticing the Prometheus Operator CRDs.
pub fn cluster_rules() -> Vec<PolicyRule> {
    vec![rule("apiextensions.k8s.io", &["customresourcedefinitions"], &["get", "list", "watch"])]
}

/// Rules for leader election, in the operator's own namespace.
pub fn leader_election_rules() -> Vec<PolicyRule> {
    // Read, create, then renew and release by PUT with the resourceVersion.
    vec![rule("coordination.k8s.io", &["leases"], &["get", "create", "update"])]
}

/// What people who read XAgents get, folded into the built-in `view`, `edit`
/// and `admin` ClusterRoles by the API server's role aggregation.
pub fn view_rules() -> Vec<PolicyRule> {
    vec![rule("xagent.io", &["xagents", "xagents/status"], &["get", "list", "watch"])]
}

/// What people who manage XAgents get besides [`view_rules`], folded into
/// `edit` and `admin`: never the status, which is the operator's.
pub fn edit_rules() -> Vec<PolicyRule> {
    vec![rule("xagent.io", &["xagents"], &["create", "update", "patch", "delete", "deletecollection"])]
}

/// The aggregated ClusterRoles, so app teams get XAgent access the standard
/// way (a RoleBinding to `view`, `edit` or `admin`), as one YAML file.
pub fn user_roles_yaml() -> String {
    let role = |suffix: &str, aggregate_to: &[&str], rules: Vec<PolicyRule>| {
        let labels: serde_json::Map<String, serde_json::Value> = aggregate_to
            .iter()
            .map(|to| (format!("rbac.authorization.k8s.io/aggregate-to-{to}"), "true".into()))
            .chain([("app.kubernetes.io/part-of".to_string(), "xagent-operator".into())])
            .collect();
        let role = serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": format!("xagent-operator-{suffix}"), "labels": labels},
            "rules": rules,
        });
        serde_yaml::to_string(&role).unwrap_or_default()
    };
    [role("view", &["view", "edit", "admin"], view_rules()), role("edit", &["edit", "admin"], edit_rules())]
        .join("---\n")
}

/// A rule list as YAML, the form both generated files hold.
pub fn to_yaml(rules: &[PolicyRule]) -> String {
    serde_yaml::to_string(rules).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_wildcards_and_secrets_are_read_only() {
        let all: Vec<PolicyRule> =
            [namespaced_rules(), cluster_rules(), leader_election_rules()].into_iter().flatten().collect();
        for r in &all {
            let fields = r.api_groups.iter().flatten().chain(r.resources.iter().flatten()).chain(&r.verbs);
            assert!(fields.into_iter().all(|f| f != "*"), "wildcard in {r:?}");
        }
        let secrets: Vec<&PolicyRule> =
            all.iter().filter(|r| r.resources.iter().flatten().any(|x| x == "secrets")).collect();
        assert_eq!(secrets.len(), 1);
        assert_eq!(secrets[0].verbs, vec!["get".to_string()]);
    }
}
