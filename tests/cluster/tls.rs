//! Dependency passwords on the real API server: the CRD refuses an XAgent
//! that would send one over an unverified transport unless it says
//! `allowInsecurePassword`, and the operator, under only its declared RBAC,
//! reads the password from a Secret and the CA from a ConfigMap and
//! verifies a real TLS redis-server against it (and reports a stranger CA).

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use xagent_operator::crd::XAgent;

use crate::harness::Cluster;
use crate::kit::{self, eventually};
use crate::runtime;
use crate::support::RedisServer;
use crate::support::pki::{Pki, SERVER_NAME};

const PASSWORD: &str = "tls-scenario-s3cret";

/// The scenarios of this module.
pub fn scenarios() -> Vec<crate::Scenario> {
    vec![
        ("tls::the_server_refuses_a_password_over_an_unverified_transport_without_opt_in", opt_in_required),
        ("tls::the_operator_verifies_a_tls_redis_against_a_ca_from_a_configmap", verified_redis),
    ]
}

fn xagent(ns: &str, name: &str, redis: Value) -> XAgent {
    serde_json::from_value(json!({
        "apiVersion": "xagent.io/v1alpha1", "kind": "XAgent",
        "metadata": {"name": name, "namespace": ns}, "spec": {"redis": redis},
    }))
    .expect("an XAgent")
}

fn opt_in_required(cluster: &Cluster) {
    runtime().block_on(async {
        let ns = "tls-opt-in";
        let admin = cluster.client(crate::harness::User::Admin).await;
        kit::namespace(&admin, ns).await;
        let api = kit::xagents(&admin, ns);
        let pp = PostParams::default();
        let password = json!({"name": "redis-pass", "key": "password"});
        let cases = [
            ("plain", json!({"host": "r", "tls": false, "passwordSecretRef": password})),
            ("skip-verify", json!({"host": "r", "insecureSkipVerify": true, "passwordSecretRef": password})),
        ];
        for (name, redis) in &cases {
            let refused = api.create(&pp, &xagent(ns, name, redis.clone())).await;
            let Err(kube::Error::Api(status)) = refused else { panic!("{name}: accepted: {refused:?}") };
            assert_eq!(status.code, 422, "{name}: {}", status.message);
            assert!(status.message.contains("set allowInsecurePassword: true"), "{name}: {}", status.message);
            let mut opted_in = redis.clone();
            opted_in["allowInsecurePassword"] = json!(true);
            api.create(&pp, &xagent(ns, name, opted_in))
                .await
                .unwrap_or_else(|e| panic!("{name} with the opt-in: {e}"));
        }
        // The default is verified TLS: nothing to opt into.
        let stored = api
            .create(&pp, &xagent(ns, "default", json!({"host": "r", "passwordSecretRef": password})))
            .await
            .expect("verified TLS by default");
        let redis = stored.spec.redis.expect("redis");
        assert!(redis.tls && !redis.insecure_skip_verify && !redis.allow_insecure_password, "{redis:?}");
    });
}

async fn put_ca(admin: &Client, ns: &str, name: &str, pem: &[u8]) {
    let map: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": name}, "data": {"ca.crt": String::from_utf8_lossy(pem)},
    }))
    .unwrap();
    Api::<ConfigMap>::namespaced(admin.clone(), ns)
        .create(&PostParams::default(), &map)
        .await
        .expect("a CA ConfigMap");
}

/// The dependency status once its message contains `needle`.
async fn redis_status(admin: &Client, ns: &str, name: &str, needle: &str) -> Value {
    let api = kit::xagents(admin, ns);
    let (status, waited) = eventually(
        &format!("status.dependencies.redis to say {needle:?}"),
        Duration::from_secs(60),
        || async {
            let xa = api.get(name).await.ok()?;
            let redis = serde_json::to_value(xa.status?.dependencies.redis?).ok()?;
            redis["message"].as_str()?.contains(needle).then_some(redis)
        },
    )
    .await;
    eprintln!("{name}: {needle:?} after {waited:?}");
    status
}

/// The ConfigMap the `redis-ca` volume of Deployment `name` projects, once it is `want`.
async fn mounted_ca(admin: &Client, ns: &str, name: &str, want: &str) -> String {
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), ns);
    let what = format!("Deployment {name} to mount the Redis CA from {want}");
    let (found, _) = eventually(&what, Duration::from_secs(30), || async {
        let d = deployments.get(name).await.ok()?;
        let volumes = d.spec?.template.spec?.volumes?;
        let ca = volumes.into_iter().find(|v| v.name == "redis-ca")?.config_map?.name;
        (ca == want).then_some(ca)
    })
    .await;
    found
}

fn verified_redis(cluster: &Cluster) {
    let pki = Pki::new();
    let server = RedisServer::start_tls(PASSWORD, &pki);
    runtime().block_on(async {
        let ns = "tls-verified";
        let (admin, _operator) = crate::lifecycle::setup(cluster, ns).await;
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "redis-pass"}, "stringData": {"password": PASSWORD},
        }))
        .unwrap();
        Api::<Secret>::namespaced(admin.clone(), ns)
            .create(&PostParams::default(), &secret)
            .await
            .expect("a Secret");
        put_ca(&admin, ns, "dependencies-ca", &pki.ca_pem()).await;
        put_ca(&admin, ns, "stranger-ca", &pki.stranger_ca_pem()).await;
        let redis = json!({"host": "127.0.0.1", "port": server.port, "serverName": SERVER_NAME,
                           "ca": {"configMapRef": {"name": "dependencies-ca", "key": "ca.crt"}},
                           "passwordSecretRef": {"name": "redis-pass", "key": "password"},
                           "probe": {"intervalSeconds": 5, "timeoutSeconds": 2}});
        let xa = kit::apply_xagent(&admin, ns, "verified", json!({"redis": redis})).await;
        let healthy = redis_status(&admin, ns, &xa.name_any(), "PING answered over verified TLS").await;
        assert_eq!(healthy["healthy"], true, "{healthy}");
        assert_eq!(mounted_ca(&admin, ns, "verified-api", "dependencies-ca").await, "dependencies-ca");

        let stranger = json!({"spec": {"redis": {"ca": {"configMapRef": {"name": "stranger-ca"}}}}});
        kit::xagents(&admin, ns)
            .patch("verified", &PatchParams::default(), &Patch::Merge(&stranger))
            .await
            .expect("pointing at the stranger CA");
        let refused = redis_status(&admin, ns, "verified", "UnknownIssuer").await;
        // The platform's pods follow: they trust what the probe trusts.
        assert_eq!(mounted_ca(&admin, ns, "verified-api", "stranger-ca").await, "stranger-ca");
        assert_eq!(refused["healthy"], false, "{refused}");
        let text = refused.to_string();
        assert!(!text.contains(PASSWORD), "the password reached the status: {text}");
    });
}
