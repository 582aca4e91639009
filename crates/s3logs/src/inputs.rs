//! The inputs of a command: files, directories (walked recursively, in name order) and `-`.
//!
//! Every subcommand takes the same kind of path list, so they all expand it here. A path that
//! cannot be read is reported by name and the other paths are still processed, because a user
//! pointing the tool at a directory of a thousand logs wants the 999 good ones.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// One thing to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Standard input, named `-`.
    Stdin,
    /// A regular file.
    File(PathBuf),
}

impl Input {
    /// The name used in records' `LogFile` and in messages.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "-".to_owned(),
            Input::File(path) => path.display().to_string(),
        }
    }

    /// Size in bytes when known, for progress reporting.
    pub fn len(&self) -> Option<u64> {
        match self {
            Input::Stdin => None,
            Input::File(path) => fs::metadata(path).ok().map(|m| m.len()),
        }
    }

    /// Opens the input for reading.
    pub fn open(&self) -> io::Result<Box<dyn Read>> {
        Ok(match self {
            Input::Stdin => Box::new(io::stdin().lock()),
            Input::File(path) => Box::new(File::open(path)?),
        })
    }
}

/// A path that could not be used, with the reason.
#[derive(Debug)]
pub struct BadPath {
    /// The path as given or found.
    pub path: PathBuf,
    /// Why it could not be used.
    pub error: io::Error,
}

impl std::fmt::Display for BadPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.error)
    }
}

/// Expands `paths` into inputs; no paths means standard input.
pub fn expand(paths: &[PathBuf]) -> (Vec<Input>, Vec<BadPath>) {
    let mut inputs = Vec::new();
    let mut bad = Vec::new();
    if paths.is_empty() {
        inputs.push(Input::Stdin);
    }
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Input::Stdin);
        } else {
            walk(path, &mut inputs, &mut bad);
        }
    }
    (inputs, bad)
}

fn walk(path: &Path, inputs: &mut Vec<Input>, bad: &mut Vec<BadPath>) {
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) => {
            return bad.push(BadPath {
                path: path.to_owned(),
                error,
            });
        }
    };
    if !metadata.is_dir() {
        return inputs.push(Input::File(path.to_owned()));
    }
    let entries = fs::read_dir(path).and_then(|entries| {
        entries
            .map(|e| e.map(|e| e.path()))
            .collect::<io::Result<Vec<_>>>()
    });
    match entries {
        Ok(mut entries) => {
            entries.sort();
            for entry in entries {
                // Directory symlinks are not followed, so a link cycle cannot loop forever.
                let is_linked_dir =
                    fs::symlink_metadata(&entry).is_ok_and(|m| m.file_type().is_symlink()) && entry.is_dir();
                if !is_linked_dir {
                    walk(&entry, inputs, bad);
                }
            }
        }
        Err(error) => bad.push(BadPath {
            path: path.to_owned(),
            error,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_directories_in_name_order_and_reports_missing_paths() {
        let dir = std::env::temp_dir().join(format!("s3logs-inputs-{}", std::process::id()));
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("b.log"), "").unwrap();
        fs::write(dir.join("a.log"), "").unwrap();
        fs::write(dir.join("sub/c.log"), "").unwrap();
        let missing = dir.join("missing.log");
        let (inputs, bad) = expand(&[dir.clone(), missing.clone(), PathBuf::from("-")]);
        assert_eq!(
            inputs,
            [
                Input::File(dir.join("a.log")),
                Input::File(dir.join("b.log")),
                Input::File(dir.join("sub/c.log")),
                Input::Stdin
            ]
        );
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].path, missing);
        fs::remove_dir_all(dir).unwrap();
    }
}
