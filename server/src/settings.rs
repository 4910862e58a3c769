//! One definition per setting. A field of a command's clap `Args` is its
//! flag, its `SIGNALSCOPE_*` variable (`env = …`), its help (the doc
//! comment) and, by its name, its key in the `--config` TOML file: nothing
//! else lists them.
//!
//! The file is read before the command line is parsed for good: each of
//! its keys that neither a flag nor the environment set becomes that
//! flag, so every value goes through the same parser and precedence is
//! flags, then the environment, then the file, then the defaults. A key
//! no command knows is an error (a typo must not pass silently); a key
//! another command knows is left to that command, as one file serves
//! `serve`, `load` and `check` alike.
//!
//! Commands that can drive a demo (`--demo`: `load`, `check`), given no
//! Redis, instances or file, read the settings a running `signalscope
//! demo` leaves in [`crate::deployment::demo_file`].

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

use crate::deployment::demo_file;

/// The boxed error of a bad settings file.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The setting that names the file.
const CONFIG: &str = "config";

/// `argv` with the settings of the `--config` file (or a running demo's)
/// added as flags where neither a flag nor the environment set them.
/// An `argv` clap refuses (or `--help`) is returned as it is, for clap to
/// answer.
pub fn with_file_settings(cli: &Command, argv: Vec<OsString>) -> Result<Vec<OsString>, BoxError> {
    let Ok(matches) = cli.clone().try_get_matches_from(&argv) else {
        return Ok(argv);
    };
    let Some((name, given)) = matches.subcommand() else {
        return Ok(argv);
    };
    let command = cli
        .find_subcommand(name)
        .expect("clap matched this subcommand");
    let mut argv = argv;
    let Some(path) = file_to_read(command, given, &mut argv) else {
        return Ok(argv);
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let known = known_keys(cli);
    for (key, value) in table {
        if !known.contains(&key) {
            let list: Vec<_> = known.iter().map(String::as_str).collect();
            return Err(format!(
                "{}: unknown setting '{key}' (known: {})",
                path.display(),
                list.join(", ")
            )
            .into());
        }
        let Some(arg) = command.get_arguments().find(|a| a.get_id() == key.as_str()) else {
            continue; // another command's
        };
        if set_before_file(given, &key) {
            continue;
        }
        let flag = format!("--{}", arg.get_long().unwrap_or(&key));
        let takes_values = arg.get_action().takes_values();
        for value in flag_values(&path, &key, &value)? {
            match (takes_values, value.as_str()) {
                (true, _) => argv.extend([flag.clone().into(), value.into()]),
                (false, "true") => argv.push(flag.clone().into()),
                (false, "false") => {}
                (false, other) => {
                    return Err(format!(
                        "{}: '{key}' is a switch: true or false, not {other}",
                        path.display()
                    )
                    .into())
                }
            }
        }
    }
    Ok(argv)
}

/// The file this command reads, if any; a running demo's is also named
/// on the command line (`--config …`), so the command can say where its
/// settings came from.
fn file_to_read(
    command: &Command,
    given: &ArgMatches,
    argv: &mut Vec<OsString>,
) -> Option<PathBuf> {
    let has = |id: &str| command.get_arguments().any(|a| a.get_id() == id);
    if !has(CONFIG) {
        return None;
    }
    if let Some(path) = given.get_one::<PathBuf>(CONFIG) {
        return Some(path.clone());
    }
    let demo = demo_file();
    let nothing_given = !set_before_file(given, "redis") && !set_before_file(given, "instances");
    if has("demo") && nothing_given && demo.is_file() {
        argv.extend(["--config".into(), demo.clone().into()]);
        return Some(demo);
    }
    None
}

/// Whether a flag or the environment already set `id`.
fn set_before_file(given: &ArgMatches, id: &str) -> bool {
    matches!(
        given.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

/// Every setting a command that reads the file has, by its key.
fn known_keys(cli: &Command) -> BTreeSet<String> {
    cli.get_subcommands()
        .filter(|c| c.get_arguments().any(|a| a.get_id() == CONFIG))
        .flat_map(Command::get_arguments)
        .map(|a| a.get_id().to_string())
        .filter(|id| id != CONFIG && id != "help")
        .collect()
}

/// A TOML value as the flag's values: a scalar is one, an array one per
/// item, a table one `name: value` per entry (as `--trigger-header`
/// takes them).
fn flag_values(path: &Path, key: &str, value: &toml::Value) -> Result<Vec<String>, BoxError> {
    let scalar = |v: &toml::Value| match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(n) => Ok(n.to_string()),
        toml::Value::Float(x) => Ok(x.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!(
            "{}: '{key}' cannot be {} here",
            path.display(),
            other.type_str()
        )),
    };
    Ok(match value {
        toml::Value::Array(items) => items.iter().map(scalar).collect::<Result<_, _>>()?,
        toml::Value::Table(entries) => entries
            .iter()
            .map(|(k, v)| scalar(v).map(|v| format!("{k}: {v}")))
            .collect::<Result<_, _>>()?,
        other => vec![scalar(other)?],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args, Parser, Subcommand};

    /// A command line shaped like signalscope's: two commands sharing a
    /// file, one of which can drive a demo.
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Cmd,
    }

    #[derive(Debug, Subcommand)]
    enum Cmd {
        Serve(Serve),
        Load(Load),
    }

    #[derive(Debug, Args)]
    struct Serve {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, env = "SIGNALSCOPE_TEST_SETTINGS_GROUP")]
        group: Option<String>,
        #[arg(long = "instance")]
        instances: Vec<String>,
        #[arg(long)]
        insecure: bool,
        #[arg(long = "trigger-header")]
        trigger_headers: Vec<String>,
        #[arg(long)]
        redis: Option<String>,
    }

    #[derive(Debug, Args)]
    struct Load {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        connections: Option<u64>,
    }

    fn file(text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "signalscope-settings-{}-{}.toml",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn serve(args: &[&str]) -> Result<Serve, BoxError> {
        use clap::CommandFactory;
        let argv = ["signalscope", "serve"]
            .iter()
            .chain(args)
            .map(OsString::from)
            .collect();
        let argv = with_file_settings(&Cli::command(), argv)?;
        match Cli::try_parse_from(argv)?.command {
            Cmd::Serve(s) => Ok(s),
            Cmd::Load(_) => unreachable!(),
        }
    }

    /// The file fills what the flags left: arrays repeat the flag, a
    /// table becomes `name: value` entries, `true` turns a switch on.
    #[test]
    fn file_fills_the_flags() {
        let path = file(
            "group = \"g\"\ninstances = [\"a=http://h:1\", \"http://h:2\"]\ninsecure = true\n[trigger_headers]\nX-API-Key = \"k\"\n",
        );
        let s = serve(&["--config", path.to_str().unwrap()]).unwrap();
        assert_eq!(s.group.as_deref(), Some("g"));
        assert_eq!(s.instances, ["a=http://h:1", "http://h:2"]);
        assert!(s.insecure);
        assert_eq!(s.trigger_headers, ["X-API-Key: k"]);
    }

    /// A flag wins over the file.
    #[test]
    fn flags_win() {
        let path = file("group = \"file\"\n");
        let s = serve(&["--group", "flag", "--config", path.to_str().unwrap()]).unwrap();
        assert_eq!(s.group.as_deref(), Some("flag"));
    }

    /// Another command's key is left alone; a key no command has is an
    /// error that names it.
    #[test]
    fn unknown_keys_are_refused() {
        let shared = file("group = \"g\"\nconnections = 5\n");
        assert!(serve(&["--config", shared.to_str().unwrap()]).is_ok());
        let typo = file("gruop = \"g\"\n");
        let e = serve(&["--config", typo.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown setting 'gruop'"), "{e}");
    }

    /// A value of the wrong kind is an error naming its key.
    #[test]
    fn wrong_kinds_are_refused() {
        let path = file("insecure = \"yes\"\n");
        let e = serve(&["--config", path.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("'insecure' is a switch"), "{e}");
    }
}
