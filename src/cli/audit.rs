//! `otpd audit`: the admin actions (keys created and revoked) as JSON lines, newest first; and
//! who the admin commands record as the actor.

use super::keys::Where;
use crate::model::Timestamp;
use crate::{daemon, store};
use anyhow::Context;
use clap::Args;

#[derive(Args)]
pub struct AuditArgs {
    /// Only actions at or after this time (RFC 3339 UTC, e.g. 2026-11-22T08:00:00Z).
    #[arg(long, value_parser = parse_since)]
    since: Option<Timestamp>,
    /// Print at most this many actions.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    limit: u32,
    #[command(flatten)]
    place: Where,
}

fn parse_since(text: &str) -> Result<Timestamp, String> {
    humantime::parse_rfc3339(text)
        .map(Timestamp::from_system)
        .map_err(|e| format!("not an RFC 3339 UTC time such as 2026-11-22T08:00:00Z ({e})"))
}

pub fn run(args: AuditArgs) -> anyhow::Result<i32> {
    let (dir, _) = args.place.resolve()?;
    let db = daemon::database_path(&dir);
    if !db.exists() {
        anyhow::bail!("there is no database at {}", db.display());
    }
    let entries = store::audit::read(&db, args.since, args.limit as usize)
        .with_context(|| format!("cannot read the audit log of {}", db.display()))?;
    for entry in entries {
        println!("{}", serde_json::to_string(&entry)?);
    }
    Ok(0)
}

/// The actor the admin commands record: `cli:` and the login name. Under sudo, the name of
/// whoever ran sudo is what an auditor wants, so it comes first. The names come from the
/// environment, which the person running the command controls: the log says who claimed to
/// act, and is as trustworthy as write access to the database is restricted (anyone with that
/// can write any row).
pub fn actor() -> String {
    let var = |name| std::env::var(name).ok();
    actor_from(var("SUDO_USER"), var("USER").or_else(|| var("LOGNAME")))
}

fn actor_from(sudo_user: Option<String>, user: Option<String>) -> String {
    let clean = |name: Option<String>| {
        name.map(|n| {
            n.chars()
                .filter(|c| !c.is_control())
                .take(64)
                .collect::<String>()
        })
        .filter(|n| !n.is_empty())
    };
    match (clean(sudo_user), clean(user)) {
        (Some(sudo), Some(user)) if sudo != user => format!("cli:{sudo} (sudo as {user})"),
        (Some(name), _) | (None, Some(name)) => format!("cli:{name}"),
        (None, None) => "cli".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_names_the_login_and_whoever_used_sudo() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(actor_from(None, s("alice")), "cli:alice");
        assert_eq!(
            actor_from(s("alice"), s("root")),
            "cli:alice (sudo as root)"
        );
        assert_eq!(actor_from(s("root"), s("root")), "cli:root");
        assert_eq!(actor_from(None, None), "cli");
        assert_eq!(actor_from(None, s("")), "cli");
        assert_eq!(actor_from(None, s("bob\n\u{1b}[31m")), "cli:bob[31m");
        assert_eq!(actor_from(None, Some("x".repeat(100))).len(), 4 + 64);
    }

    #[test]
    fn since_must_be_rfc3339() {
        assert_eq!(
            parse_since("1970-01-01T00:00:01Z").unwrap(),
            Timestamp(1000)
        );
        let err = parse_since("yesterday").unwrap_err();
        assert!(err.contains("RFC 3339"), "{err}");
    }
}
