//! The ServiceAccount a component's pods run as, when the XAgent asks the
//! operator to create one (`serviceAccount.create`), e.g. so a platform team
//! can bind it to a cloud role by workload identity through its annotations.

use k8s_openapi::api::core::v1::ServiceAccount;

use super::meta::{Component, object_meta};
use crate::crd::ServiceAccountSpec;
use crate::crd::XAgent;

/// The ServiceAccount NAME-COMPONENT, or `None` when the component runs as
/// an existing one (or the namespace's default). Its own token stays
/// unmounted unless the pods ask (the pod spec's setting wins either way).
pub fn service_account(
    xagent: &XAgent,
    component: Component,
    spec: &ServiceAccountSpec,
) -> Option<ServiceAccount> {
    spec.create.then(|| {
        let mut metadata = object_meta(xagent, component, component.child_name(xagent));
        metadata.annotations = (!spec.annotations.is_empty()).then(|| spec.annotations.clone());
        ServiceAccount { metadata, automount_service_account_token: Some(false), ..ServiceAccount::default() }
    })
}
