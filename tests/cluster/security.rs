//! Security controls on the real API server: the XAgent rules folded into
//! the built-in roles by aggregation, and the admission policy that lets
//! only a user who may read a Secret name it in an XAgent (the operator
//! would read it and send the password on that user's behalf).

use std::time::Duration;

use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use xagent_operator::crd::XAgent;
use xagent_operator::policy;

use crate::harness::{Cluster, OPERATOR_USER, User, root};
use crate::kit::{self, eventually};
use crate::runtime;

/// The scenarios of this module.
pub fn scenarios() -> Vec<crate::Scenario> {
    vec![
        ("security::the_default_roles_give_people_xagent_access_by_aggregation", aggregated_roles),
        ("security::only_a_user_who_may_read_a_secret_can_name_it_in_an_xagent", secret_access),
        ("security::ingress_snippets_never_reach_the_ingress_and_the_author_is_told", ingress_annotations),
    ]
}

/// Run after every other scenario: across everything the operator did in
/// them, under only `config/rbac`, the API server never refused it for want
/// of a permission. (Refusals on the merits, e.g. in a namespace being
/// deleted, are not RBAC's and are not counted.)
pub fn never_refused_for_want_of_a_permission(cluster: &Cluster) {
    let requests: Vec<_> = cluster.audit().into_iter().filter(|e| e.username == OPERATOR_USER).collect();
    let refused: Vec<String> = requests
        .iter()
        .filter(|e| e.code == 403 && e.message.contains(" cannot "))
        .map(|e| {
            format!("{} {}/{} {}/{}: {}", e.verb, e.resource, e.subresource, e.namespace, e.name, e.message)
        })
        .collect();
    eprintln!("{} requests by the operator, {} refused by RBAC", requests.len(), refused.len());
    assert!(!requests.is_empty(), "no operator requests to judge: run this after the other scenarios");
    assert!(
        refused.is_empty(),
        "the declared RBAC is missing permissions the code uses:\n{}",
        refused.join("\n")
    );
}

/// `kubectl auth can-i VERB RESOURCE -n NS --as USER`: the authorizer's answer.
/// A `resource` of the form `plural.group/sub` asks about subresource `sub`.
fn can(cluster: &Cluster, user: User, verb: &str, resource: &str, ns: &str) -> bool {
    let mut args = vec!["auth", "can-i", verb];
    match resource.split_once('/') {
        Some((plural, sub)) => args.extend([plural, "--subresource", sub]),
        None => args.push(resource),
    }
    args.extend(["-n", ns, "--as", user.uid()]);
    let out = cluster.kubectl(User::Admin, &args);
    String::from_utf8_lossy(&out.stdout).trim() == "yes"
}

/// Binds `user` to ClusterRole `role` in `ns`.
fn bind(cluster: &Cluster, ns: &str, user: User, role: &str) {
    let name = format!("{}-{role}", user.uid());
    cluster.kubectl_ok(&[
        "create",
        "rolebinding",
        &name,
        "-n",
        ns,
        "--clusterrole",
        role,
        "--user",
        user.uid(),
    ]);
}

fn aggregated_roles(cluster: &Cluster) {
    let ns = "teams";
    cluster.kubectl_ok(&["create", "namespace", ns]);
    bind(cluster, ns, User::Alice, "edit");
    bind(cluster, ns, User::Bob, "view");
    runtime().block_on(eventually(
        "the built-in edit role to include XAgents",
        Duration::from_secs(30),
        || async { can(cluster, User::Alice, "create", "xagents.xagent.io", ns).then_some(()) },
    ));
    for verb in ["create", "update", "patch", "delete", "get", "list", "watch"] {
        assert!(can(cluster, User::Alice, verb, "xagents.xagent.io", ns), "edit cannot {verb} XAgents");
    }
    assert!(!can(cluster, User::Alice, "patch", "xagents.xagent.io/status", ns), "status is the operator's");
    runtime().block_on(eventually(
        "the built-in view role to include XAgents",
        Duration::from_secs(30),
        || async { can(cluster, User::Bob, "list", "xagents.xagent.io", ns).then_some(()) },
    ));
    assert!(can(cluster, User::Bob, "get", "xagents.xagent.io/status", ns));
    for verb in ["create", "patch", "delete"] {
        assert!(!can(cluster, User::Bob, verb, "xagents.xagent.io", ns), "view can {verb} XAgents");
    }
    assert!(
        !can(cluster, User::Alice, "list", "xagents.xagent.io", "default"),
        "a RoleBinding reaches one namespace"
    );
}

/// An XAgent whose Redis password lives in Secret `redis_secret`.
fn xagent(ns: &str, name: &str, redis_secret: Option<&str>) -> XAgent {
    let mut spec = json!({});
    if let Some(secret) = redis_secret {
        spec["redis"] =
            json!({"host": "redis.example.test", "passwordSecretRef": {"name": secret, "key": "password"}});
    }
    serde_json::from_value(json!({
        "apiVersion": "xagent.io/v1alpha1",
        "kind": "XAgent",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }))
    .expect("an XAgent")
}

/// The API server's refusal: (HTTP code, message); panics on success.
fn refusal<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> (u16, String) {
    match result {
        Err(kube::Error::Api(status)) => (status.code, status.message),
        other => panic!("expected the API server to refuse, got {other:?}"),
    }
}

/// The message the policy gives when `user` may not read `secret`, named in `field`.
fn denial(name: &str, secret: &str, field: &str, user: User, ns: &str) -> String {
    format!(
        "XAgent {name} names Secret {secret} in spec.{field}, which {} may not get in namespace {ns}: \
         it would be read and used on behalf of the requester",
        user.uid()
    )
}

fn secret_access(cluster: &Cluster) {
    let ns = "secret-access";
    cluster.kubectl_ok(&[
        "apply",
        "--server-side",
        "-k",
        &root().join("config/policy").display().to_string(),
    ]);
    cluster.kubectl_ok(&["create", "namespace", ns]);
    for secret in ["redis-pass", "other-pass"] {
        cluster.kubectl_ok(&[
            "create",
            "secret",
            "generic",
            secret,
            "-n",
            ns,
            "--from-literal=password=s3cret",
        ]);
    }
    // Alice may read the namespace's Secrets (edit); Bob may manage XAgents
    // (the aggregated roles directly) but read no Secret.
    bind(cluster, ns, User::Alice, "edit");
    bind(cluster, ns, User::Bob, "xagent-operator-edit");
    bind(cluster, ns, User::Bob, "xagent-operator-view");
    assert!(!can(cluster, User::Bob, "get", "secrets", ns), "Bob must not read Secrets");
    runtime().block_on(async {
        let alice: Api<XAgent> = kit::xagents(&cluster.client(User::Alice).await, ns);
        let bob: Api<XAgent> = kit::xagents(&cluster.client(User::Bob).await, ns);
        let dry_run = PostParams { dry_run: true, ..PostParams::default() };
        // The policy is in force once the server has compiled it.
        let (_, waited) =
            eventually("the secret-access policy to refuse Bob", Duration::from_secs(60), || async {
                bob.create(&dry_run, &xagent(ns, "probe", Some("redis-pass"))).await.is_err().then_some(())
            })
            .await;
        eprintln!("policy {} in force after {waited:?}", policy::NAME);
        // The server type-checked every expression against the stored CRD schema.
        let checked = cluster.kubectl_ok(&[
            "get",
            "validatingadmissionpolicy",
            policy::NAME,
            "-o",
            "jsonpath={.status.typeChecking}",
        ]);
        assert!(!checked.contains("warning"), "the server found type errors in the policy: {checked}");

        // 1. Bob names a Secret he cannot read: refused, naming it.
        let (code, message) =
            refusal(bob.create(&PostParams::default(), &xagent(ns, "bobs", Some("redis-pass"))).await);
        assert_eq!(code, 403, "{message}");
        assert!(
            message.contains(&denial("bobs", "redis-pass", "redis.passwordSecretRef", User::Bob, ns)),
            "{message}"
        );
        // ...and learns nothing about whether it exists.
        let (_, ghost) =
            refusal(bob.create(&PostParams::default(), &xagent(ns, "bobs", Some("no-such-secret"))).await);
        assert!(
            ghost.contains(&denial("bobs", "no-such-secret", "redis.passwordSecretRef", User::Bob, ns)),
            "{ghost}"
        );

        // ...and the same holds for a Secret named as a CA bundle.
        let mut ca = xagent(ns, "bobs", None);
        ca.spec.redis = Some(
            serde_json::from_value(json!({"host": "redis.example.test",
                "ca": {"secretRef": {"name": "redis-pass", "key": "ca.crt"}}}))
            .expect("a Redis block"),
        );
        let (code, message) = refusal(bob.create(&PostParams::default(), &ca).await);
        assert_eq!(code, 403, "{message}");
        assert!(
            message.contains(&denial("bobs", "redis-pass", "redis.ca.secretRef", User::Bob, ns)),
            "{message}"
        );

        // 2. Alice, who may read it, names it: accepted.
        alice
            .create(&PostParams::default(), &xagent(ns, "alices", Some("redis-pass")))
            .await
            .expect("Alice may");
        // 3. Bob edits Alice's XAgent without touching the reference: accepted.
        let scale = json!({"spec": {"api": {"autoscaling": {"maxReplicas": 7}}}});
        bob.patch("alices", &PatchParams::default(), &Patch::Merge(&scale))
            .await
            .expect("an edit that keeps the references");
        // 4. Bob points it at another Secret: refused, naming the new one only.
        let repoint = json!({"spec": {"postgres": {"host": "pg.example.test",
            "passwordSecretRef": {"name": "other-pass", "key": "password"}}}});
        let (code, message) =
            refusal(bob.patch("alices", &PatchParams::default(), &Patch::Merge(&repoint)).await);
        assert_eq!(code, 403, "{message}");
        assert!(
            message.contains(&denial("alices", "other-pass", "postgres.passwordSecretRef", User::Bob, ns)),
            "{message}"
        );
        // 5. Bob creates an XAgent that names no Secret: accepted.
        bob.create(&PostParams::default(), &xagent(ns, "bobs-plain", None))
            .await
            .expect("no Secret, no check");
        let stored = alice.get("alices").await.expect("Alice's XAgent");
        let stored: Value = serde_json::to_value(&stored.spec).unwrap();
        assert!(stored.get("postgres").is_none(), "the refused change was stored: {stored}");
    });
}

fn ingress_annotations(cluster: &Cluster) {
    runtime().block_on(async {
        let (ns, name) = ("annotated", "shop");
        let (admin, _operator) = crate::lifecycle::setup(cluster, ns).await;
        let snippet = "nginx.ingress.kubernetes.io/server-snippet";
        let timeout = "nginx.ingress.kubernetes.io/proxy-read-timeout";
        let spec = json!({"ingress": {"host": "shop.example.test", "annotations": {
            snippet: "location /admin { proxy_pass http://169.254.169.254; }",
            timeout: "3600",
        }}});
        kit::apply_xagent(&admin, ns, name, spec).await;
        let ingresses: Api<k8s_openapi::api::networking::v1::Ingress> = Api::namespaced(admin.clone(), ns);
        let (ingress, _) = eventually("the Ingress", Duration::from_secs(60), || async {
            ingresses.get_opt(name).await.ok().flatten()
        })
        .await;
        let annotations = ingress.metadata.annotations.unwrap_or_default();
        assert!(annotations.contains_key(timeout), "the allowed annotation is missing: {annotations:?}");
        assert!(!annotations.contains_key(snippet), "the snippet reached the Ingress: {annotations:?}");
        let (events, _) =
            eventually("the IngressAnnotationsRefused warning", Duration::from_secs(30), || async {
                let found =
                    crate::gitops::events_about(&admin, ns, name, &["IngressAnnotationsRefused"]).await;
                (!found.is_empty()).then_some(found)
            })
            .await;
        assert_eq!(events, [("IngressAnnotationsRefused".to_string(), 1)], "told once");
    });
}
