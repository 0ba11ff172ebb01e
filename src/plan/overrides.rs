//! Command presets (`task-overrides/*.json`) and the RunTask `overrides` they become (pure).
//!
//! A preset is a small JSON file: `command` (argv, with `{KEY}` placeholders filled from
//! `--set KEY=VALUE`), optional `environment` (name → value), container `cpu`/`memory`/
//! `memoryReservation`, and task-level `taskCpu`/`taskMemory`. The shipped presets are
//! compiled in; `--overrides-dir` adds or replaces presets from files.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};

/// RunTask's documented limit for the `overrides` JSON.
pub const OVERRIDES_MAX_CHARS: usize = 8192;

const BUILTIN: [(&str, &str); 4] = [
    ("down", include_str!("../../task-overrides/down.json")),
    ("migrate", include_str!("../../task-overrides/migrate.json")),
    (
        "rollback",
        include_str!("../../task-overrides/rollback.json"),
    ),
    ("status", include_str!("../../task-overrides/status.json")),
];

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Preset {
    #[serde(default)]
    pub description: String,
    pub command: Vec<String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    pub cpu: Option<i32>,
    pub memory: Option<i32>,
    pub memory_reservation: Option<i32>,
    pub task_cpu: Option<String>,
    pub task_memory: Option<String>,
    /// The command changes nothing (`status`): its runs neither take nor contest the family's
    /// claim, so they never block a migration and are never blocked by one.
    #[serde(default)]
    pub read_only: bool,
}

/// What the target container runs, fully resolved.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Overrides {
    pub preset: Option<String>,
    pub command: Vec<String>,
    pub environment: Vec<(String, String)>,
    pub cpu: Option<i32>,
    pub memory: Option<i32>,
    pub memory_reservation: Option<i32>,
    pub task_cpu: Option<String>,
    pub task_memory: Option<String>,
    /// A read-only preset's own command (`-- ARGV` is never read-only).
    pub read_only: bool,
}

/// Every preset: the built-in ones, then those in `dir` (which win on a name clash).
pub fn catalogue(dir: Option<&Path>) -> Result<BTreeMap<String, Preset>> {
    let mut all = BTreeMap::new();
    for (name, text) in BUILTIN {
        all.insert(name.to_string(), parse_preset(name, text)?);
    }
    if let Some(dir) = dir {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            Error::usage(format!("cannot read overrides dir {}: {e}", dir.display()))
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Error::usage(format!("cannot read {}: {e}", path.display())))?;
            all.insert(name.clone(), parse_preset(&name, &text)?);
        }
    }
    Ok(all)
}

pub(crate) fn parse_preset(name: &str, text: &str) -> Result<Preset> {
    let preset: Preset = serde_json::from_str(text).map_err(|e| {
        Error::usage(format!("preset '{name}' is not valid: {e}"))
            .with_hint("a preset has \"command\": [argv…] and optional environment, cpu, memory, memoryReservation, taskCpu, taskMemory, readOnly")
    })?;
    if preset.command.is_empty() {
        return Err(Error::usage(format!(
            "preset '{name}' has an empty command"
        )));
    }
    Ok(preset)
}

/// Resolves the preset (if any), fills placeholders and applies a `-- COMMAND` argv override.
pub fn resolve(
    catalogue: &BTreeMap<String, Preset>,
    preset: Option<&str>,
    sets: &[(String, String)],
    argv: Option<Vec<String>>,
) -> Result<Overrides> {
    let values: BTreeMap<&str, &str> = sets.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    for (key, value) in &values {
        validate_value(key, value)?;
    }
    let preset_name = match (preset, &argv) {
        (Some(name), _) => Some(name),
        (None, None) => Some("migrate"),
        (None, Some(_)) => None,
    };
    let mut out = Overrides::default();
    let mut used = std::collections::BTreeSet::new();
    if let Some(name) = preset_name {
        let p = catalogue.get(name).ok_or_else(|| {
            Error::usage(format!("unknown preset '{name}'")).with_hint(format!(
                "presets: {}",
                catalogue.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        out.preset = Some(name.to_string());
        out.command = p
            .command
            .iter()
            .map(|a| fill(name, a, &values, &mut used))
            .collect::<Result<_>>()?;
        for (k, v) in &p.environment {
            out.environment
                .push((k.clone(), fill(name, v, &values, &mut used)?));
        }
        out.cpu = p.cpu;
        out.memory = p.memory;
        out.memory_reservation = p.memory_reservation;
        out.task_cpu = p.task_cpu.clone();
        out.task_memory = p.task_memory.clone();
        out.read_only = p.read_only && argv.is_none();
    }
    if let Some(argv) = argv {
        if argv.is_empty() || argv[0].is_empty() {
            return Err(Error::usage("the command after -- is empty"));
        }
        out.command = argv;
    }
    let unused: Vec<_> = values.keys().filter(|k| !used.contains(**k)).collect();
    if !unused.is_empty() {
        let what = preset_name
            .map(|p| format!("preset '{p}'"))
            .unwrap_or("the command".into());
        return Err(Error::usage(format!(
            "--set {} is not used by {what}",
            unused
                .iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_hint("check the key's spelling; placeholders are written {KEY} in the preset"));
    }
    Ok(out)
}

fn validate_value(key: &str, value: &str) -> Result<()> {
    let ok = match key {
        "STEP" => value.parse::<u32>().map(|n| n > 0).unwrap_or(false) && !value.starts_with('+'),
        "VERSION" => value.len() == 14 && value.chars().all(|c| c.is_ascii_digit()),
        _ => !value.is_empty() && !value.chars().any(char::is_control),
    };
    if ok {
        return Ok(());
    }
    let want = match key {
        "STEP" => "a positive integer",
        "VERSION" => "a 14-digit migration version such as 20240101000000",
        _ => "a non-empty value without control characters",
    };
    Err(Error::usage(format!(
        "--set {key}={value:?} is invalid: {key} must be {want}"
    )))
}

fn fill<'a>(
    preset: &str,
    template: &str,
    values: &BTreeMap<&'a str, &'a str>,
    used: &mut std::collections::BTreeSet<String>,
) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let key = &rest[start + 1..start + len];
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            out.push_str(&rest[..start + len + 1]);
            rest = &rest[start + len + 1..];
            continue;
        }
        let value = values.get(key).ok_or_else(|| {
            Error::usage(format!("preset '{preset}' needs --set {key}=<value>")).with_hint(
                match key {
                    "STEP" => "e.g. --set STEP=1 to roll back the last migration",
                    "VERSION" => "e.g. --set VERSION=20240101000000 (see the `status` preset)",
                    _ => "give every {KEY} placeholder a value",
                },
            )
        })?;
        used.insert(key.to_string());
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl Overrides {
    /// The RunTask `overrides` member for `container`.
    pub fn to_json(&self, container: &str) -> Value {
        let mut c = json!({ "name": container, "command": self.command });
        if !self.environment.is_empty() {
            c["environment"] = self
                .environment
                .iter()
                .map(|(k, v)| json!({ "name": k, "value": v }))
                .collect();
        }
        if let Some(v) = self.cpu {
            c["cpu"] = v.into();
        }
        if let Some(v) = self.memory {
            c["memory"] = v.into();
        }
        if let Some(v) = self.memory_reservation {
            c["memoryReservation"] = v.into();
        }
        let mut o = json!({ "containerOverrides": [c] });
        if let Some(v) = &self.task_cpu {
            o["cpu"] = v.clone().into();
        }
        if let Some(v) = &self.task_memory {
            o["memory"] = v.clone().into();
        }
        o
    }

    /// Checks the RunTask 8192-character limit before any call is made.
    pub fn check_size(&self, container: &str) -> Result<()> {
        let len = self.to_json(container).to_string().chars().count();
        if len > OVERRIDES_MAX_CHARS {
            return Err(Error::usage(format!(
                "the RunTask overrides are {len} characters, over the API limit of {OVERRIDES_MAX_CHARS}"
            ))
            .with_hint("move long scripts into the image and environment into the task definition"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat() -> BTreeMap<String, Preset> {
        catalogue(None).unwrap()
    }

    fn set(k: &str, v: &str) -> Vec<(String, String)> {
        vec![(k.into(), v.into())]
    }

    #[test]
    fn shipped_presets() {
        let c = cat();
        assert_eq!(
            c.keys().collect::<Vec<_>>(),
            ["down", "migrate", "rollback", "status"]
        );
        let o = resolve(&c, None, &[], None).unwrap();
        assert_eq!(o.preset.as_deref(), Some("migrate"));
        assert_eq!(o.command, ["bundle", "exec", "rails", "db:migrate"]);
        let o = resolve(&c, Some("rollback"), &set("STEP", "2"), None).unwrap();
        assert_eq!(
            o.command,
            ["bundle", "exec", "rails", "db:rollback", "STEP=2"]
        );
        let o = resolve(&c, Some("down"), &set("VERSION", "20240101000000"), None).unwrap();
        assert_eq!(o.command.last().unwrap(), "VERSION=20240101000000");
    }

    #[test]
    fn placeholders_are_validated() {
        let c = cat();
        for bad in ["0", "-1", "two", "", "1; rm -rf /", "+3"] {
            let e = resolve(&c, Some("rollback"), &set("STEP", bad), None).unwrap_err();
            assert_eq!(e.exit_code(), crate::exit::USAGE);
        }
        assert!(resolve(&c, Some("down"), &set("VERSION", "2024"), None).is_err());
        let e = resolve(&c, Some("rollback"), &[], None).unwrap_err();
        assert!(e.to_string().contains("needs --set STEP=<value>"), "{e}");
        let e = resolve(&c, Some("migrate"), &set("STEP", "1"), None).unwrap_err();
        assert!(
            e.to_string().contains("not used by preset 'migrate'"),
            "{e}"
        );
    }

    #[test]
    fn unknown_preset_lists_the_known_ones() {
        let e = resolve(&cat(), Some("migrat"), &[], None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown preset 'migrat' (hint: presets: down, migrate, rollback, status)"
        );
    }

    #[test]
    fn argv_after_dashes_replaces_the_command_verbatim() {
        let argv = vec!["sh".to_string(), "-c".into(), "echo $HOME; exit 3".into()];
        let o = resolve(&cat(), None, &[], Some(argv.clone())).unwrap();
        assert_eq!((o.preset, o.command), (None, argv));
    }

    #[test]
    fn preset_dir_adds_presets_with_env_and_sizes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("seed.json"),
            r#"{"command":["bundle","exec","rails","db:seed"],"environment":{"SEED_SET":"{SET}"},"memory":1024,"taskCpu":"512","taskMemory":"2048"}"#,
        )
        .unwrap();
        let c = catalogue(Some(dir.path())).unwrap();
        let o = resolve(&c, Some("seed"), &set("SET", "demo"), None).unwrap();
        let j = o.to_json("rails");
        assert_eq!(
            j["containerOverrides"][0]["environment"][0],
            json!({"name":"SEED_SET","value":"demo"})
        );
        assert_eq!(j["containerOverrides"][0]["memory"], 1024);
        assert_eq!(
            (j["cpu"].as_str(), j["memory"].as_str()),
            (Some("512"), Some("2048"))
        );
        std::fs::write(dir.path().join("typo.json"), r#"{"comand":["x"]}"#).unwrap();
        assert!(catalogue(Some(dir.path())).is_err());
    }

    #[test]
    fn overrides_size_limit_is_checked() {
        let o = Overrides {
            command: vec!["x".repeat(9000)],
            ..Default::default()
        };
        let e = o.check_size("rails").unwrap_err();
        assert!(e.to_string().contains("over the API limit of 8192"));
        let o = resolve(&cat(), None, &[], None).unwrap();
        o.check_size("rails").unwrap();
    }
}
