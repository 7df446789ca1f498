//! The `/scim` slash command: parsing its text and its help.
//!
//! The help is built by matching every parsed example exhaustively (see [`help`]), so a new
//! command does not compile until it has a line of help.

use super::render::Message;
use super::render::format::escape;
use super::render::kit::{context, section};

/// What `/scim …` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlashCommand {
    /// `/scim status`: every connection's token, expiry and rotation.
    Status,
    /// `/scim rotate <connection>`: request a rotation.
    Rotate(String),
    /// `/scim register <connection>`: open the modal to record the token in use.
    Register(String),
    /// `/scim audit [connection]`: the latest audit records.
    Audit(Option<String>),
    /// `/scim help` (or `/scim` alone).
    Help,
}

/// One example of every command form, in the order the help lists them. [`help`] parses
/// each and matches the result exhaustively for its description.
const EXAMPLES: &[&str] = &[
    "status",
    "rotate <connection>",
    "register <connection>",
    "audit [connection]",
    "help",
];

impl SlashCommand {
    /// The command's usage and what it does. Exhaustive on purpose: a new variant does not
    /// compile without its help.
    fn help_line(&self) -> (&'static str, &'static str) {
        match self {
            SlashCommand::Status => (
                "/scim status",
                "Show every connection's token, when it expires and any rotation in progress.",
            ),
            SlashCommand::Rotate(_) => (
                "/scim rotate <connection>",
                "Request a rotation of a connection's token. A team lead approves it, and I \
                 guide them step by step in the channel.",
            ),
            SlashCommand::Register(_) => (
                "/scim register <connection>",
                "Tell me which token a connection uses and when it was created, so I can warn \
                 before it expires.",
            ),
            SlashCommand::Audit(_) => (
                "/scim audit [connection]",
                "Show the latest audit records (who did what and when), for one connection or \
                 all.",
            ),
            SlashCommand::Help => ("/scim help", "Show this help."),
        }
    }
}

/// Parses the text after `/scim`. `Err` is a sentence for the user (an unknown command, a
/// missing or extra argument), to be shown with [`help`] (see [`help_after_error`]).
pub fn parse(text: &str) -> Result<SlashCommand, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some((first, args)) = words.split_first() else {
        return Ok(SlashCommand::Help);
    };
    let command = first.to_ascii_lowercase();
    let connection = |usage: &str| -> Result<String, String> {
        match args {
            [name] => Ok((*name).to_owned()),
            [] => Err(format!(
                "`/scim {command}` needs a connection name, e.g. `/scim {usage}`."
            )),
            _ => Err(format!(
                "`/scim {command}` takes one connection name, not {}.",
                args.len()
            )),
        }
    };
    let no_args = |cmd: SlashCommand| -> Result<SlashCommand, String> {
        if args.is_empty() {
            Ok(cmd)
        } else {
            Err(format!("`/scim {command}` takes no arguments."))
        }
    };
    match command.as_str() {
        "status" => no_args(SlashCommand::Status),
        "help" => no_args(SlashCommand::Help),
        "rotate" => connection("rotate prod").map(SlashCommand::Rotate),
        "register" => connection("register prod").map(SlashCommand::Register),
        "audit" => match args {
            [] => Ok(SlashCommand::Audit(None)),
            [name] => Ok(SlashCommand::Audit(Some((*name).to_owned()))),
            _ => Err(format!(
                "`/scim audit` takes at most one connection name, not {}.",
                args.len()
            )),
        },
        _ if crate::secret::safe_to_echo(first) => {
            Err(format!("I don't know the command `{first}`."))
        }
        _ => Err("I don't know that command.".to_owned()),
    }
}

/// Every command with its usage and what it does.
pub fn help() -> Message {
    let lines: Vec<String> = EXAMPLES
        .iter()
        .filter_map(|example| parse(example).ok())
        .map(|command| {
            let (usage, description) = command.help_line();
            format!("`{}` — {}", escape(usage), description)
        })
        .collect();
    Message::new(
        "/scim commands: status, rotate, register, audit, help.",
        vec![
            section(&format!(
                "*`/scim` — keeps the SCIM token that provisions users into AWS from expiring \
                 unnoticed*\n{}",
                lines.join("\n")
            )),
            context(
                "Anyone can request a rotation; only team leads can approve it and enter the \
                 new token.",
            ),
        ],
    )
}

/// The help, under the reason the command was not understood (the `Err` of [`parse`]).
pub fn help_after_error(error: &str) -> Message {
    let help = help();
    let mut blocks = vec![section(&format!("⚠️ {}", escape(error)))];
    blocks.extend(help.blocks);
    Message::new(format!("{} {}", escape(error), help.text), blocks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use SlashCommand::*;

    /// Every variant. Exhaustive match: adding a variant breaks this until it is listed.
    fn every_variant() -> Vec<SlashCommand> {
        let all = vec![
            Status,
            Rotate("x".into()),
            Register("x".into()),
            Audit(None),
            Help,
        ];
        for command in &all {
            match command {
                Status | Rotate(_) | Register(_) | Audit(_) | Help => {}
            }
        }
        all
    }

    #[test]
    fn commands_parse() {
        assert_eq!(parse(""), Ok(Help));
        assert_eq!(parse("  "), Ok(Help));
        assert_eq!(parse("help"), Ok(Help));
        assert_eq!(parse("status"), Ok(Status));
        assert_eq!(parse("STATUS"), Ok(Status));
        assert_eq!(parse("rotate prod"), Ok(Rotate("prod".into())));
        assert_eq!(
            parse("  register   prod-eu "),
            Ok(Register("prod-eu".into()))
        );
        assert_eq!(parse("audit"), Ok(Audit(None)));
        assert_eq!(parse("audit prod"), Ok(Audit(Some("prod".into()))));
    }

    #[test]
    fn mistakes_are_explained() {
        assert_eq!(
            parse("rotate"),
            Err("`/scim rotate` needs a connection name, e.g. `/scim rotate prod`.".into())
        );
        assert_eq!(
            parse("frobnicate prod"),
            Err("I don't know the command `frobnicate`.".into())
        );
        assert!(
            parse("rotate a b")
                .unwrap_err()
                .contains("one connection name")
        );
        assert!(parse("status now").unwrap_err().contains("no arguments"));
        assert!(parse("audit a b").unwrap_err().contains("at most one"));
    }

    #[test]
    fn help_lists_every_command() {
        let text = super::super::render::transcript::to_text(&help().blocks);
        for command in every_variant() {
            let (usage, description) = command.help_line();
            assert!(text.contains(usage), "{usage} missing from help:\n{text}");
            assert!(text.contains(description), "{usage}: description missing");
            let listed = EXAMPLES
                .iter()
                .filter_map(|e| parse(e).ok())
                .any(|example| {
                    std::mem::discriminant(&example) == std::mem::discriminant(&command)
                });
            assert!(listed, "{usage} has no example in EXAMPLES");
        }
    }

    #[test]
    fn every_example_parses() {
        for example in EXAMPLES {
            assert!(parse(example).is_ok(), "{example}");
        }
    }
}
