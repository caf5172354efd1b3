//! `xagent-operator render`: golden files for the samples, multi-document and
//! stdin input, and how the binary fails on bad input.
//!
//! Regenerate the golden files after an intended change with
//! `UPDATE_GOLDEN=1 cargo test --test render`, then review `git diff tests/golden`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde::Deserialize;
use serde_json::Value;
use xagent_operator::render::{RenderError, parse_documents, render};

const BIN: &str = env!("CARGO_BIN_EXE_xagent-operator");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Runs the binary in the crate root with `args`, feeding it `stdin` when given.
fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(root())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
    let writer = stdin.map(|input| {
        let mut pipe = child.stdin.take().expect("piped stdin");
        let input = input.to_owned();
        // Written from a thread so a large input cannot deadlock against a full stdout pipe.
        std::thread::spawn(move || pipe.write_all(input.as_bytes()))
    });
    let output = child.wait_with_output().expect("wait for the binary");
    if let Some(writer) = writer {
        writer.join().expect("stdin writer thread").expect("writing the binary's stdin");
    }
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("the binary prints UTF-8")
}

/// Splits a rendered stream into its documents.
fn documents(stream: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(stream)
        .map(|doc| Value::deserialize(doc).expect("render prints valid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

/// `Kind/namespace/name` of every rendered document, in order.
fn references(stream: &str) -> Vec<String> {
    documents(stream)
        .iter()
        .map(|d| {
            let s = |p: &str| d.pointer(p).and_then(Value::as_str).unwrap_or("?").to_string();
            format!("{}/{}/{}", s("/kind"), s("/metadata/namespace"), s("/metadata/name"))
        })
        .collect()
}

// ---------------------------------------------------------------- golden files

/// A short, readable account of where `actual` first departs from `expected`.
fn diff_hint(golden: &str, expected: &str, actual: &str) -> String {
    let exp: Vec<&str> = expected.lines().collect();
    let act: Vec<&str> = actual.lines().collect();
    let first = exp.iter().zip(&act).position(|(e, a)| e != a).unwrap_or(exp.len().min(act.len()));
    if exp == act {
        return format!(
            "rendered output differs from {golden} only in line endings or the trailing newline; \
             regenerate with `UPDATE_GOLDEN=1 cargo test --test render`"
        );
    }
    let window = |lines: &[&str]| {
        let start = first.saturating_sub(3);
        let end = (first + 4).min(lines.len());
        (start..end)
            .map(|i| format!("{} {:>5} | {}", if i == first { ">" } else { " " }, i + 1, lines[i]))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "rendered output differs from {golden} ({} expected lines, {} actual lines); first difference at line {}\n\
         --- expected ({golden})\n{}\n+++ actual (xagent-operator render)\n{}\n\
         If the change is intended, regenerate with `UPDATE_GOLDEN=1 cargo test --test render` \
         and review `git diff tests/golden`.",
        exp.len(),
        act.len(),
        first + 1,
        window(&exp),
        window(&act),
    )
}

/// Renders `sample` with the binary and compares it to `golden` byte for byte,
/// or rewrites `golden` when `UPDATE_GOLDEN=1`.
fn check_golden(sample: &str, golden: &str) {
    let out = run(&["render", "-f", sample], None);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "render -f {sample} failed: {stderr}");
    assert!(stderr.is_empty(), "a successful render prints nothing on stderr: {stderr}");
    let actual = text(&out.stdout);
    let path = root().join(golden);
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(&path, &actual).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        eprintln!("UPDATE_GOLDEN=1: wrote {}", path.display());
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; create it with `UPDATE_GOLDEN=1 cargo test --test render`",
            path.display()
        )
    });
    if actual != expected {
        panic!("{}", diff_hint(golden, &expected, &actual));
    }
}

#[test]
fn full_sample_matches_its_golden_file() {
    check_golden("config/samples/xagent.yaml", "tests/golden/xagent.yaml");
}

#[test]
fn minimal_sample_matches_its_golden_file() {
    check_golden("config/samples/xagent-minimal.yaml", "tests/golden/xagent-minimal.yaml");
}

#[test]
fn everything_sample_matches_its_golden_file() {
    check_golden("config/samples/xagent-everything.yaml", "tests/golden/xagent-everything.yaml");
}

#[test]
fn openshift_sample_matches_its_golden_file() {
    check_golden("config/samples/xagent-openshift.yaml", "tests/golden/xagent-openshift.yaml");
}

#[test]
fn the_openshift_sample_leaves_every_id_to_the_platform_and_stays_non_root() {
    let out = render(&read("config/samples/xagent-openshift.yaml")).expect("the sample renders");
    let mut pods = 0;
    for doc in serde_yaml::Deserializer::from_str(&out) {
        let doc = serde_json::to_value(serde_yaml::Value::deserialize(doc).unwrap()).unwrap();
        let Some(pod) = doc.pointer("/spec/template/spec") else { continue };
        pods += 1;
        let context = &pod["securityContext"];
        for id in ["runAsUser", "runAsGroup", "fsGroup"] {
            assert!(context.get(id).is_none(), "{}: {id} is set: {context}", doc["metadata"]["name"]);
        }
        assert_eq!(context["runAsNonRoot"], true);
        for container in pod["containers"].as_array().unwrap() {
            assert!(container["securityContext"].get("runAsUser").is_none());
            assert_eq!(container["securityContext"]["runAsNonRoot"], true);
        }
    }
    assert_eq!(pods, 4, "api, websocket, worker and chromadb");
}

/// The kinds the core builders produce; other documents (e.g. monitoring objects) are
/// covered by the byte-for-byte golden comparison only.
const CORE_KINDS: [&str; 5] =
    ["Service", "Deployment", "StatefulSet", "HorizontalPodAutoscaler", "PodDisruptionBudget"];

fn is_core(doc: &Value) -> bool {
    doc["kind"].as_str().is_some_and(|k| CORE_KINDS.contains(&k))
}

/// `references` restricted to the core kinds.
fn core_references(stream: &str) -> Vec<String> {
    references(stream)
        .into_iter()
        .filter(|r| CORE_KINDS.iter().any(|k| r.starts_with(&format!("{k}/"))))
        .collect()
}

/// Facts a blindly regenerated golden file must still satisfy.
#[test]
fn golden_files_hold_the_expected_children() {
    let full = read("tests/golden/xagent.yaml");
    let ns = "x-agent";
    let expected: Vec<String> = [
        ("Service", "production-api"),
        ("Deployment", "production-api"),
        ("HorizontalPodAutoscaler", "production-api"),
        ("PodDisruptionBudget", "production-api"),
        ("Service", "production-websocket"),
        ("Deployment", "production-websocket"),
        ("PodDisruptionBudget", "production-websocket"),
        ("Service", "production-worker"),
        ("Deployment", "production-worker"),
        ("HorizontalPodAutoscaler", "production-worker"),
        ("PodDisruptionBudget", "production-worker"),
        ("Service", "production-chromadb"),
        ("StatefulSet", "production-chromadb"),
        ("PodDisruptionBudget", "production-chromadb"),
    ]
    .iter()
    .map(|(kind, name)| format!("{kind}/{ns}/{name}"))
    .collect();
    assert_eq!(core_references(&full), expected);

    let minimal = read("tests/golden/xagent-minimal.yaml");
    let refs = core_references(&minimal);
    assert_eq!(refs.len(), 11, "{refs:#?}");
    assert!(refs.iter().all(|r| r.contains("/default/demo-")), "{refs:#?}");
    assert!(!refs.iter().any(|r| r.contains("chromadb")), "ChromaDB is off by default: {refs:#?}");
    assert!(!refs.contains(&"HorizontalPodAutoscaler/default/demo-websocket".to_string()));

    for doc in documents(&full).iter().chain(&documents(&minimal)) {
        let labels = &doc["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/managed-by"], "xagent-operator", "{doc}");
        assert!(
            doc["metadata"].get("ownerReferences").is_none(),
            "an unstored XAgent has no uid to own children"
        );
        if is_core(doc) {
            assert_eq!(labels["app.kubernetes.io/name"], "x-agent", "{doc}");
            assert!(labels["app.kubernetes.io/instance"].is_string(), "{doc}");
            assert!(labels["app.kubernetes.io/component"].is_string(), "{doc}");
        }
    }
}

#[test]
fn golden_files_hold_no_secret_in_clear() {
    for golden in ["tests/golden/xagent.yaml", "tests/golden/xagent-minimal.yaml"] {
        for doc in documents(&read(golden)) {
            let containers = doc.pointer("/spec/template/spec/containers").and_then(Value::as_array);
            for container in containers.into_iter().flatten() {
                for var in container["env"].as_array().into_iter().flatten() {
                    let name = var["name"].as_str().unwrap_or_default();
                    if name.contains("PASSWORD") || name.contains("TOKEN") || name.contains("SECRET") {
                        assert!(var.get("value").is_none(), "{golden}: {name} is set in clear: {var}");
                        assert!(var.pointer("/valueFrom/secretKeyRef/name").is_some(), "{golden}: {var}");
                    }
                }
            }
        }
    }
    let full = read("tests/golden/xagent.yaml");
    assert_eq!(
        full.matches("name: x-agent-redis").count(),
        3,
        "REDIS_PASSWORD comes from the Secret in 3 pods"
    );
    assert_eq!(full.matches("name: x-agent-postgres").count(), 3);
}

// ---------------------------------------------------------------- multi-document input

const GOOD: &str = "apiVersion: xagent.io/v1alpha1
kind: XAgent
metadata:
  name: good
  namespace: default
spec: {}
";

const SECOND: &str = "apiVersion: xagent.io/v1alpha1
kind: XAgent
metadata:
  name: second
  namespace: other
spec:
  chromadb:
    enabled: true
";

fn multi_document_input() -> String {
    format!("{GOOD}---\n---\n# an empty document is skipped\n---\n{SECOND}")
}

#[test]
fn multi_document_input_renders_the_children_of_every_xagent() {
    let input = multi_document_input();
    let xagents = parse_documents(&input).expect("both XAgents are valid");
    let names: Vec<_> = xagents.iter().map(|x| x.metadata.name.clone().unwrap_or_default()).collect();
    assert_eq!(names, ["good", "second"]);

    let out = render(&input).expect("render");
    let refs = core_references(&out);
    assert_eq!(refs.len(), 11 + 14, "{refs:#?}");
    assert!(refs[..11].iter().all(|r| r.contains("/default/good-")), "first XAgent first: {refs:#?}");
    assert!(refs[11..].iter().all(|r| r.contains("/other/second-")), "{refs:#?}");
    assert!(refs.contains(&"StatefulSet/other/second-chromadb".to_string()), "{refs:#?}");

    // A stream renders exactly as its XAgents rendered one by one.
    let one_by_one = render(GOOD).unwrap() + &render(SECOND).unwrap();
    assert_eq!(out, one_by_one);
}

#[test]
fn dash_reads_standard_input() {
    let input = multi_document_input();
    let out = run(&["render", "-f", "-"], Some(&input));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), render(&input).unwrap());
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn long_filename_flag_reads_a_file() {
    let out = run(&["render", "--filename", "config/samples/xagent-minimal.yaml"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), render(&read("config/samples/xagent-minimal.yaml")).unwrap());
}

/// An XAgent whose Ingress asks for a timeout, an issuer and a snippet.
const ANNOTATED: &str = "apiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata:\n  name: shop\n  namespace: default\n\
    spec:\n  ingress:\n    host: shop.example.com\n    annotations:\n      cert-manager.io/cluster-issuer: public\n      \
    nginx.ingress.kubernetes.io/proxy-read-timeout: \"3600\"\n      \
    nginx.ingress.kubernetes.io/configuration-snippet: \"more_set_headers 'X: y';\"\n";

/// The annotations of the rendered Ingress.
fn ingress_annotations(args: &[&str]) -> Vec<String> {
    let out = run(&[&["render", "-f", "-"], args].concat(), Some(ANNOTATED));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let docs = documents(&text(&out.stdout));
    let ingress = docs.iter().find(|d| d["kind"] == "Ingress").expect("an Ingress");
    ingress["metadata"]["annotations"].as_object().map(|a| a.keys().cloned().collect()).unwrap_or_default()
}

#[test]
fn ingress_snippets_are_kept_off_unless_the_installation_allows_them() {
    let issuer = "cert-manager.io/cluster-issuer";
    let timeout = "nginx.ingress.kubernetes.io/proxy-read-timeout";
    let snippet = "nginx.ingress.kubernetes.io/configuration-snippet";
    assert_eq!(ingress_annotations(&[]), [issuer, timeout], "by default");
    assert_eq!(
        ingress_annotations(&["--ingress-annotations-deny", ""]),
        [issuer, snippet, timeout],
        "none denied"
    );
    assert_eq!(
        ingress_annotations(&["--ingress-annotations-allow", "cert-manager.io/*"]),
        [issuer],
        "an allow-list"
    );
}

// ---------------------------------------------------------------- bad input

/// `default/bad` with the given flow-style spec.
fn bad(spec: &str) -> String {
    format!(
        "apiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata:\n  name: bad\n  namespace: default\nspec: {spec}\n"
    )
}

struct Case {
    name: &'static str,
    args: &'static [&'static str],
    stdin: String,
    expect: Vec<String>,
}

fn case(name: &'static str, stdin: String, expect: &[&str]) -> Case {
    Case {
        name,
        args: &["render", "-f", "-"],
        stdin,
        expect: expect.iter().map(ToString::to_string).collect(),
    }
}

fn bad_cases() -> Vec<Case> {
    let long = "a".repeat(54);
    vec![
        case(
            "YAML syntax error",
            bad("{api: [}"),
            &["document 1", "invalid YAML", "line 6 column 14"],
        ),
        case("YAML syntax error in the second document", format!("{GOOD}---\n{}", bad("{api: [}")), &[
            "document 2",
            "invalid YAML",
            "line 13",
        ]),
        case("unknown field", bad("{api: {replica: 3}}"), &[
            "XAgent default/bad is invalid",
            "spec.api.replica: unknown field",
        ]),
        case("wrong type", bad("{api: {replicas: \"two\"}}"), &[
            "XAgent default/bad is invalid",
            "spec.api.replicas: expected integer",
        ]),
        case("out of range: maxReplicas", bad("{api: {autoscaling: {maxReplicas: 0}}}"), &[
            "XAgent default/bad is invalid",
            "spec.api.autoscaling.maxReplicas: must be greater than or equal to 1",
        ]),
        case("out of range: port", bad("{api: {port: 70000}}"), &[
            "XAgent default/bad is invalid",
            "spec.api.port: must be less than or equal to 65535",
        ]),
        case("enum", bad("{image: {pullPolicy: Sometimes}}"), &[
            "XAgent default/bad is invalid",
            "spec.image.pullPolicy: Unsupported value \"Sometimes\"",
            "Always, IfNotPresent, Never",
        ]),
        case("pattern", bad("{api: {resources: {requests: {cpu: 1, memory: lots}}}}"), &[
            "XAgent default/bad is invalid",
            "spec.api.resources.requests.memory: \"lots\" does not match the pattern",
        ]),
        case("CEL minReplicas > maxReplicas", bad("{api: {autoscaling: {minReplicas: 5, maxReplicas: 3}}}"), &[
            "XAgent default/bad is invalid",
            "spec.api: autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas",
        ]),
        case(
            "name too long",
            format!("apiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata: {{name: {long}, namespace: default}}\nspec: {{}}\n"),
            &[
                &format!("XAgent default/{long} is invalid"),
                "metadata.name: must be at most 53 characters",
            ],
        ),
        case(
            "invalid name",
            "apiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata: {name: Bad, namespace: default}\nspec: {}\n".into(),
            &["XAgent default/Bad is invalid", "metadata.name: must be a lowercase RFC 1123 label"],
        ),
        case(
            "wrong kind",
            "apiVersion: xagent.io/v1alpha1\nkind: Deployment\nmetadata: {name: bad, namespace: default}\nspec: {}\n".into(),
            &["XAgent default/bad is invalid", "kind: must be XAgent"],
        ),
        case(
            "missing name",
            format!("{GOOD}---\napiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata: {{namespace: default}}\nspec: {{}}\n"),
            &["XAgent in document 2 is invalid", "metadata.name: Required value"],
        ),
        case(
            "integer beyond 64 bits",
            "apiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata: {name: big, namespace: default}\nspec:\n  api: {replicas: 99999999999999999999999}\n".into(),
            &["spec.api.replicas", "integer 99999999999999999999999 is out of range"],
        ),
        case(
            "nested 100,000 levels deep",
            format!("{}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
            &["more than 64 levels deep (line 1)"],
        ),
        case(
            "wrong apiVersion says what it got",
            "apiVersion: xagent.io/v2\nkind: XAgent\nmetadata: {name: bad, namespace: default}\nspec: {}\n".into(),
            &["apiVersion: must be xagent.io/v1alpha1, got \"xagent.io/v2\""],
        ),
        case("empty input", String::new(), &["no XAgent found"]),
        case("only empty documents", "---\n# nothing here\n---\n".into(), &["no XAgent found"]),
        case(
            "second document invalid",
            format!(
                "{GOOD}---\napiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata: {{name: second, namespace: default}}\nspec: {{worker: {{port: 0}}}}\n"
            ),
            &["XAgent default/second is invalid", "spec.worker.port: must be greater than or equal to 1"],
        ),
        Case {
            name: "missing file",
            args: &["render", "-f", "tests/does-not-exist.yaml"],
            stdin: String::new(),
            expect: vec!["reading tests/does-not-exist.yaml".into(), "No such file".into()],
        },
    ]
}

#[test]
fn bad_input_fails_cleanly_and_names_the_problem() {
    let mut failures = Vec::new();
    for case in bad_cases() {
        let stdin = (case.args.last() == Some(&"-")).then_some(case.stdin.as_str());
        let out = run(case.args, stdin);
        let stdout = text(&out.stdout);
        let stderr = text(&out.stderr);
        let mut problems = Vec::new();
        if out.status.success() {
            problems.push("exited 0".to_string());
        } else if out.status.code() != Some(1) {
            problems.push(format!("exited with {:?}, not 1", out.status.code()));
        }
        if !stdout.is_empty() {
            problems.push(format!("printed {} bytes on stdout", stdout.len()));
        }
        if stderr.contains("panicked") {
            problems.push("panicked".into());
        }
        if !stderr.starts_with("error: ") {
            problems.push("stderr does not start with `error: `".into());
        }
        for expected in &case.expect {
            if !stderr.contains(expected.as_str()) {
                problems.push(format!("stderr lacks {expected:?}"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n    stderr: {}",
                case.name,
                problems.join(", "),
                stderr.trim_end()
            ));
        }
    }
    assert!(failures.is_empty(), "{} bad-input case(s) misbehaved:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn second_invalid_document_does_not_blame_the_first() {
    let input = format!("{GOOD}---\n{}", bad("{api: {replica: 3}}"));
    let err = parse_documents(&input).expect_err("the second document is invalid");
    match &err {
        RenderError::Invalid(invalid) => assert_eq!(invalid.object, "default/bad"),
        other => panic!("expected an invalid XAgent, got {other}"),
    }
    assert!(!err_text(&input).contains("default/good"), "{}", err_text(&input));
}

fn err_text(input: &str) -> String {
    render(input).expect_err("invalid input").to_string()
}

#[test]
fn empty_input_is_its_own_error() {
    assert!(matches!(parse_documents(""), Err(RenderError::Empty)));
    assert!(matches!(parse_documents("---\n---\n"), Err(RenderError::Empty)));
    let out = run(&["render", "-f", "-"], Some(""));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no XAgent found in the input"), "{}", text(&out.stderr));
}

#[test]
fn yaml_error_message_is_printed_once() {
    let out = run(&["render", "-f", "-"], Some(&bad("{api: [}")));
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.matches("did not find expected node content").count(), 1, "{stderr}");
}

#[test]
fn duplicate_keys_are_rejected() {
    let err = parse_documents(&bad("{api: {replicas: 2}, api: {replicas: 3}}"));
    assert!(err.is_err(), "a duplicated `api` key must be an error");
}

#[test]
fn cel_errors_come_in_a_stable_order() {
    let input = bad(
        "{api: {autoscaling: {minReplicas: 5, maxReplicas: 3}}, websocket: {autoscaling: {enabled: true, minReplicas: 11}}, worker: {autoscaling: {minReplicas: 7, maxReplicas: 6}}}",
    );
    let first = text(&run(&["render", "-f", "-"], Some(&input)).stderr);
    assert!(first.contains("spec.worker:"), "{first}");
    for _ in 0..10 {
        let again = text(&run(&["render", "-f", "-"], Some(&input)).stderr);
        assert_eq!(again, first, "the same input must give the same error");
    }
}
