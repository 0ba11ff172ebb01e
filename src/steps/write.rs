//! Writing the artifacts: every file, or none replaced.

use std::path::Path;

use crate::error::{Error, Result};

/// Writes every file, or replaces none: each is written to a temporary name in `dir`, and
/// only when all were written are they renamed over the old ones. Returns their paths.
pub fn write_all(dir: &Path, files: &[(String, String)]) -> Result<Vec<String>> {
    let failed = |what: &str, path: &Path, e: std::io::Error| {
        Error::write(format!("cannot {what} {}: {e}", path.display()))
            .with_hint("free space or fix the permissions of --out; no file was replaced")
    };
    std::fs::create_dir_all(dir).map_err(|e| failed("create", dir, e))?;
    for (name, _) in files {
        let path = dir.join(name);
        if path.is_dir() {
            return Err(Error::write(format!(
                "cannot write {}: it is a directory",
                path.display()
            ))
            .with_hint("remove it, or choose another --out; no file was replaced"));
        }
    }
    let mut temps = vec![];
    let cleanup = |temps: &[std::path::PathBuf]| {
        for t in temps {
            let _ = std::fs::remove_file(t);
        }
    };
    for (name, text) in files {
        let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        if let Err(e) = std::fs::write(&temp, text) {
            temps.push(temp.clone());
            cleanup(&temps);
            return Err(failed("write", &temp, e));
        }
        temps.push(temp);
    }
    let mut written = vec![];
    for ((name, _), temp) in files.iter().zip(&temps) {
        let path = dir.join(name);
        if let Err(e) = std::fs::rename(temp, &path) {
            cleanup(&temps);
            return Err(failed("replace", &path, e));
        }
        written.push(path.display().to_string());
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_all_written_or_none_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("taskdef.json"), "old").unwrap();
        std::fs::create_dir(dir.path().join("appspec.yaml")).unwrap();
        let files = [
            ("taskdef.json".to_string(), "new".to_string()),
            ("appspec.yaml".to_string(), "new".to_string()),
        ];
        let e = write_all(dir.path(), &files).unwrap_err();
        assert_eq!(e.exit_code(), crate::exit::WRITE_FAILED);
        assert!(e.message.contains("is a directory"), "{e}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("taskdef.json")).unwrap(),
            "old"
        );
        std::fs::remove_dir(dir.path().join("appspec.yaml")).unwrap();
        let written = write_all(dir.path(), &files).unwrap();
        assert_eq!(written.len(), 2);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "no temporary file left: {left:?}");
    }
}
