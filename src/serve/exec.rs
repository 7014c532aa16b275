//! One CLI command for an SSH `exec` request (`ssh -p 2222 alice@host -- roles list`):
//! parsed as the local CLI parses it, run as the operator on the served database,
//! with the usual output and exit code. What would reach past the database (files
//! on the server, another database, the console, the server itself) is refused.

use std::io::{BufReader, Write};
use std::path::Path;

use clap::FromArgMatches;

use super::channel::{ChannelIn, ChannelOut};
use super::{Login, Shared};
use crate::cli::{self, Cli, Command};
use crate::error::{Error, Result};

/// Runs `line` for `operator`; returns the exit status.
pub fn run(
    shared: &Shared,
    login: &Login,
    line: &str,
    mut out: ChannelOut,
    input: ChannelIn,
) -> u32 {
    let mut err = out.stderr();
    let status = match parse(line) {
        Ok(Parsed::Run(command, json, read_only)) => {
            let streams = cli::streams::Streams {
                out: Box::new(out.clone_writer()),
                err: Box::new(out.stderr()),
                input: Box::new(BufReader::new(input)),
            };
            cli::streams::served(streams, || {
                let outcome = shared.open_as(login, read_only).and_then(|mut store| {
                    if let Some(need) = command.whole_model_need() {
                        // Before its standard input is read, not after.
                        store.require(need)?;
                    }
                    cli::run(&mut store, *command, json)
                });
                match outcome {
                    Ok(code) => code,
                    Err(e) => {
                        cli::report(&e);
                        e.exit_code()
                    }
                }
            })
        }
        Ok(Parsed::Print(text, code)) => {
            let _ = out.write_all(text.as_bytes());
            code
        }
        Err(e) => {
            let message = crate::text::display_safe(&e.to_string()).into_owned();
            let _ = writeln!(err, "rolecall: {message}");
            let _ = err.flush();
            e.exit_code()
        }
    };
    let _ = err.flush();
    out.finish(status as u32);
    status as u32
}

/// What a command line asks for.
enum Parsed {
    /// The command, `--json`, `--read-only`.
    Run(Box<Command>, bool, bool),
    /// Help, version, or clap's own usage error: text and exit code.
    Print(String, i32),
}

fn parse(line: &str) -> Result<Parsed> {
    let words = split_words(line)?;
    if words.is_empty() {
        return Err(Error::invalid(
            "command",
            "is empty; run `ssh -t` for the console, or give a command such as `roles list`",
        ));
    }
    let args = std::iter::once("rolecall".to_string()).chain(words);
    let matches = match cli::command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            let code = e.exit_code();
            return Ok(Parsed::Print(e.render().to_string(), code));
        }
    };
    let cli =
        Cli::from_arg_matches(&matches).map_err(|e| Error::invalid("command", e.to_string()))?;
    // The server's own ROLECALL_DB fills `db` too: only a --db the client typed counts.
    if matches.value_source("db") == Some(clap::parser::ValueSource::CommandLine) {
        return Err(Error::invalid(
            "db",
            "a served command uses the server's database; --db cannot name another",
        ));
    }
    let Some(command) = cli.command else {
        return Err(Error::invalid(
            "command",
            "is missing; run `ssh -t` for the console, or give a command such as `roles list`",
        ));
    };
    ensure_servable(&command)?;
    if cli.json && !command.prints_json() {
        return Err(Error::invalid("json", "this command prints no JSON"));
    }
    Ok(Parsed::Run(Box::new(command), cli.json, cli.read_only))
}

/// Refuses what a served command may not do: open a console or another database,
/// or read and write files on the server (only `-`, the session's own standard
/// input and output, is allowed).
fn ensure_servable(command: &Command) -> Result<()> {
    match command {
        Command::Demo { .. } => {
            return Err(Error::Refused(
                "demo is not available over ssh; connect with `ssh -t` for the console".into(),
            ));
        }
        Command::Serve { .. } => {
            return Err(Error::Refused(
                "serve cannot be started from a served session".into(),
            ));
        }
        _ => {}
    }
    let on_server = command
        .files()
        .into_iter()
        .find(|(path, dash)| !(*dash && *path == Path::new("-")));
    match on_server {
        Some((path, _)) => Err(Error::invalid(
            "file",
            format!(
                "{} is a file on the server; over ssh, pass `-` and pipe the file in (or read the output)",
                crate::text::excerpt(&path.display().to_string())
            ),
        )),
        None => Ok(()),
    }
}

/// Splits a command line into words as a POSIX shell would for plain words, single
/// and double quotes and backslashes (`ssh` joins its arguments with spaces, so a
/// name with spaces arrives quoted). Nothing is expanded.
pub fn split_words(line: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(unclosed("'")),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err(unclosed("\"")),
                        },
                        Some(c) => w.push(c),
                        None => return Err(unclosed("\"")),
                    }
                }
            }
            '\\' => {
                if let Some(c) = chars.next() {
                    word.get_or_insert_with(String::new).push(c);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

fn unclosed(quote: &str) -> Error {
    Error::invalid("command", format!("has an unclosed {quote} quote"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_split_as_a_shell_splits_them() {
        let words = split_words(r#"roles grant "Campaign Manager" 'a b' c\ d "x\"y""#).unwrap();
        assert_eq!(
            words,
            ["roles", "grant", "Campaign Manager", "a b", "c d", "x\"y"]
        );
        assert!(split_words("roles show 'open").is_err());
        assert_eq!(split_words("  ").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn files_on_the_server_and_other_databases_are_refused() {
        for line in [
            "import /etc/passwd",
            "export -o /tmp/x",
            "catalog load cat.toml",
            "users keys add alice /root/.ssh/id.pub",
            "--db /tmp/other.db roles list",
            "demo",
        ] {
            assert!(parse(line).is_err(), "{line}");
        }
        assert!(matches!(parse("import -"), Ok(Parsed::Run(..))));
        assert!(matches!(parse("users keys add alice"), Ok(Parsed::Run(..))));
        assert!(matches!(
            parse("roles list --json"),
            Ok(Parsed::Run(_, true, false))
        ));
        assert!(matches!(parse("--help"), Ok(Parsed::Print(_, 0))));
    }
}
