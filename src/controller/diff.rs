//! Does an observed object already hold everything we would apply?
//!
//! The API server adds defaults and other managers' fields, so equality is the
//! wrong test. Ours is containment: every field we set must be present with the
//! same value; lists must match item for item (the server never adds items to a
//! list we own). When it holds, the reconcile sends no request for the child.

use serde_json::Value;

/// Whether `observed` contains every field of `desired` with an equal value.
pub fn contains(observed: &Value, desired: &Value) -> bool {
    match (observed, desired) {
        (Value::Object(o), Value::Object(d)) => {
            d.iter().all(|(k, dv)| dv.is_null() || o.get(k).is_some_and(|ov| contains(ov, dv)))
        }
        (Value::Array(o), Value::Array(d)) => {
            o.len() == d.len() && o.iter().zip(d).all(|(ov, dv)| contains(ov, dv))
        }
        (Value::Number(o), Value::Number(d)) => o.as_f64() == d.as_f64(),
        (o, d) => o == d,
    }
}

#[cfg(test)]
mod tests {
    use super::contains;
    use serde_json::json;

    #[test]
    fn server_defaults_do_not_count_as_drift() {
        let desired = json!({"spec": {"ports": [{"name": "http", "port": 80}]}});
        let observed = json!({"spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}], "clusterIP": "10.0.0.1"}});
        assert!(contains(&observed, &desired));
    }

    #[test]
    fn changed_or_missing_fields_are_drift() {
        let desired = json!({"spec": {"replicas": 2, "paused": false}});
        assert!(!contains(&json!({"spec": {"replicas": 3, "paused": false}}), &desired));
        assert!(!contains(&json!({"spec": {"replicas": 2}}), &desired));
    }

    #[test]
    fn list_length_must_match() {
        let desired = json!({"args": ["a", "b"]});
        assert!(!contains(&json!({"args": ["a"]}), &desired));
        assert!(!contains(&json!({"args": ["a", "b", "c"]}), &desired));
        assert!(contains(&json!({"args": ["a", "b"]}), &desired));
    }

    #[test]
    fn null_in_desired_means_unset() {
        assert!(contains(&json!({"a": 1}), &json!({"a": 1, "b": null})));
    }
}
