//! `manifest.yaml` is a valid Slack app manifest (checked against Slack's published schema,
//! which lives outside the project at ../shared/slack-manifest-schema/).

use std::path::PathBuf;

fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn manifest() -> serde_json::Value {
    let text = std::fs::read_to_string(project().join("manifest.yaml")).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

#[test]
fn manifest_validates_against_slacks_schema() {
    let schema_path = project().join("../shared/slack-manifest-schema/manifest.schema.1.0.0.json");
    let Ok(schema_text) = std::fs::read_to_string(&schema_path) else {
        eprintln!(
            "skipped: Slack's manifest schema is not at {} (only CI and the team have it)",
            schema_path.display()
        );
        return;
    };
    let schema: serde_json::Value = serde_json::from_str(&schema_text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let manifest = manifest();
    let errors: Vec<String> = validator
        .iter_errors(&manifest)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "manifest.yaml does not validate:\n{}",
        errors.join("\n")
    );

    // The validator does catch mistakes: a misspelt setting and a command without its slash.
    let mut broken = manifest.clone();
    broken["settings"]["socket_mode"] = serde_json::json!(true);
    broken["features"]["slash_commands"][0]["command"] = serde_json::json!("scim");
    assert_eq!(validator.iter_errors(&broken).count(), 2);
}

#[test]
fn manifest_has_what_the_bot_uses() {
    let manifest = manifest();
    let scopes: Vec<&str> = manifest["oauth_config"]["scopes"]["bot"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        scopes,
        [
            "chat:write",
            "commands",
            "usergroups:read",
            "users:read",
            "channels:read",
            "groups:read"
        ]
    );
    assert_eq!(
        manifest["features"]["slash_commands"][0]["command"],
        "/scim"
    );
    assert_eq!(manifest["features"]["app_home"]["home_tab_enabled"], true);
    assert_eq!(
        manifest["settings"]["event_subscriptions"]["bot_events"][0],
        "app_home_opened"
    );
    assert_eq!(manifest["settings"]["interactivity"]["is_enabled"], true);
    assert_eq!(manifest["settings"]["socket_mode_enabled"], true);
}
