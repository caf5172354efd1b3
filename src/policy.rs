//! The admission policy that closes the confused-deputy path through Secret
//! references: the operator may read any Secret of a watched namespace and
//! sends what it reads (a password) to the host the XAgent names, so naming a
//! Secret in an XAgent must need the right to read it.
//!
//! A `ValidatingAdmissionPolicy` (admissionregistration.k8s.io/v1, Kubernetes
//! 1.30+) whose CEL asks the API server's authorizer, per referenced Secret,
//! whether the requesting user may `get` it in the XAgent's namespace. On an
//! update only references that are new or changed are checked, so editing an
//! XAgent's replicas needs no Secret access. The chart and `config/policy`
//! ship this object (generated from here, checked by `tests/generated.rs`).

use serde_json::{Value, json};

/// The policy's and its binding's name.
pub const NAME: &str = "xagent-secret-access";

/// Every field of `spec` that names a Secret the operator reads, as CEL field
/// paths below `spec`. A test walks the CRD schema so a new reference cannot
/// be added without landing here.
pub const SECRET_REFERENCES: &[&str] = &[
    "redis.passwordSecretRef",
    "redis.ca.secretRef",
    "postgres.passwordSecretRef",
    "postgres.ca.secretRef",
    // Read by the Prometheus Operator for the XAgent's AlertmanagerConfig:
    // an SMTP password sent to a smarthost the requester names is as good as
    // handing it over.
    "monitoring.alertmanagerConfig.pagerduty.routingKeySecretRef",
    "monitoring.alertmanagerConfig.slack.apiUrlSecretRef",
    "monitoring.alertmanagerConfig.email.authPasswordSecretRef",
    "monitoring.alertmanagerConfig.webhook.urlSecretRef",
];

/// `has(root.spec.a) && has(root.spec.a.b)`: every step to `path` is set.
fn present(root: &str, path: &str) -> String {
    let mut step = format!("{root}.spec");
    let mut checks = Vec::new();
    for field in path.split('.') {
        step = format!("{step}.{field}");
        checks.push(format!("has({step})"));
    }
    checks.join(" && ")
}

/// `[root.spec.PATH.name]` when set, else `[]`.
fn referenced_name(root: &str, path: &str) -> String {
    format!("({} ? [{root}.spec.{path}.name] : [])", present(root, path))
}

/// The Secret names the old object referenced, as a CEL list (empty on create).
fn previous_names() -> String {
    let names: Vec<String> =
        SECRET_REFERENCES.iter().map(|path| referenced_name("oldObject", path)).collect();
    format!("oldObject == null ? [] : {}", names.join(" + "))
}

/// One validation per reference, so the refusal names the field. The
/// message leaves the authorizer out: the server does not offer it to
/// message expressions.
fn validation(path: &str) -> Value {
    let name = format!("object.spec.{path}.name");
    json!({
        "expression": format!(
            "!({}) || {name} in variables.previous || authorizer.group('').resource('secrets')\
             .namespace(object.metadata.namespace).name({name}).check('get').allowed()",
            present("object", path)
        ),
        "reason": "Forbidden",
        "messageExpression": format!(
            "'XAgent ' + object.metadata.name + ' names Secret ' + {name} + ' in spec.{path}, which ' + \
             request.userInfo.username + ' may not get in namespace ' + object.metadata.namespace + \
             ': it would be read and used on behalf of the requester'"
        ),
    })
}

/// The ValidatingAdmissionPolicy.
pub fn policy() -> Value {
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": NAME, "labels": {"app.kubernetes.io/part-of": "xagent-operator"}},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": ["xagent.io"],
                "apiVersions": ["*"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["xagents"],
            }]},
            "variables": [{"name": "previous", "expression": previous_names()}],
            "validations": SECRET_REFERENCES.iter().map(|path| validation(path)).collect::<Vec<_>>(),
        },
    })
}

/// The binding that puts the policy in force for every namespace.
pub fn binding() -> Value {
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": NAME, "labels": {"app.kubernetes.io/part-of": "xagent-operator"}},
        "spec": {"policyName": NAME, "validationActions": ["Deny"]},
    })
}

/// Policy and binding as one multi-document YAML file, the shipped form.
pub fn to_yaml() -> String {
    let docs: Vec<String> =
        [policy(), binding()].iter().map(|doc| serde_yaml::to_string(doc).unwrap_or_default()).collect();
    docs.join("---\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_counts_only_when_every_step_to_it_is_set() {
        assert_eq!(
            referenced_name("oldObject", "redis.passwordSecretRef"),
            "(has(oldObject.spec.redis) && has(oldObject.spec.redis.passwordSecretRef) \
             ? [oldObject.spec.redis.passwordSecretRef.name] : [])"
        );
    }

    #[test]
    fn every_reference_has_its_own_check_and_is_compared_with_the_old_object() {
        let policy = policy();
        let validations = policy["spec"]["validations"].as_array().unwrap();
        assert_eq!(validations.len(), SECRET_REFERENCES.len());
        let previous = policy["spec"]["variables"][0]["expression"].as_str().unwrap();
        for (path, validation) in SECRET_REFERENCES.iter().zip(validations) {
            assert!(previous.contains(&format!("oldObject.spec.{path}.name")), "{previous}");
            let expression = validation["expression"].as_str().unwrap();
            assert!(
                expression.contains(&format!(".name(object.spec.{path}.name).check('get')")),
                "{expression}"
            );
            let message = validation["messageExpression"].as_str().unwrap();
            assert!(message.contains(&format!("in spec.{path}, which")) && !message.contains("authorizer"));
        }
        assert_eq!(to_yaml().matches("kind: ValidatingAdmissionPolicy").count(), 2);
    }
}
