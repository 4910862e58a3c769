//! What `deploy/` ships for monitoring, checked by the tools that will
//! read it: Prometheus's `promtool` on the scrape config and alert rules
//! (and the rules' own unit tests), and the companion's exporter on every
//! series the rules and the Grafana dashboard name.

use std::path::PathBuf;
use std::process::Command;

use signalscope::metrics::Metrics;

/// `deploy/` in the repository.
fn deploy(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(path)
}

/// Runs `promtool args…`, failing the test with its output unless it succeeds.
fn promtool(args: &[&str]) {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .expect("promtool runs (Debian package `prometheus`; scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "promtool {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The shipped scrape config and its rule file are valid.
#[test]
fn promtool_accepts_config_and_rules() {
    promtool(&[
        "check",
        "config",
        deploy("prometheus/prometheus.yml").to_str().unwrap(),
    ]);
    promtool(&[
        "check",
        "rules",
        deploy("prometheus/signalscope-alerts.yml")
            .to_str()
            .unwrap(),
    ]);
}

/// Every alert fires on a series that crosses its threshold, and not on
/// one that does not (the cases live in signalscope-alerts.test.yml).
#[test]
fn alert_rules_pass_their_unit_tests() {
    promtool(&[
        "test",
        "rules",
        deploy("prometheus/signalscope-alerts.test.yml")
            .to_str()
            .unwrap(),
    ]);
}

/// Every `signalscope_*` series the rules and the Grafana dashboard query
/// is one the companion exports: a renamed metric cannot silently empty a
/// panel or mute an alert.
#[test]
fn rules_and_dashboard_name_only_exported_series() {
    let metrics = Metrics::new(&["api-1".into()], &["api-1".into()]);
    metrics.propagated("api-1", 0.002);
    let exported: std::collections::BTreeSet<String> = metrics
        .encode()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next().map(str::to_owned))
        .collect();
    let grafana = std::fs::read_to_string(deploy("grafana/signalscope.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&grafana).expect("the dashboard is JSON");
    let rules = std::fs::read_to_string(deploy("prometheus/signalscope-alerts.yml")).unwrap();
    let mut named = 0;
    for text in [&grafana, &rules] {
        for (at, _) in text.match_indices("signalscope_") {
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                exported.contains(&name),
                "{name} is not exported; exported: {exported:?}"
            );
            named += 1;
        }
    }
    assert!(named > 10, "only {named} series named");
}
