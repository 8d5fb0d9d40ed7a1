// SPDX-License-Identifier: GPL-2.0
//! Which rules use the target, from the iptables save commands.
//!
//! `iptables-legacy-save`, `ip6tables-legacy-save`, `iptables-nft-save` and
//! `ip6tables-nft-save` are run where they exist; for a family that has neither split
//! command, the plain `iptables-save` / `ip6tables-save` is run instead and its backend
//! taken from its `--version` (iptables before 1.8 had only the legacy one). A command
//! that is missing or fails becomes a note: the listing goes on without it.
//!
//! In the save format a `*TABLE` line opens a table, `:CHAIN POLICY [p:b]` lines declare
//! chains, `-A CHAIN MATCHES -j TARGET OPTIONS` lines are the rules, `COMMIT` closes the
//! table and `#` lines are comments. Options are quoted with `"` when needed (comments).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;

use crate::env::Env;
use crate::error::io_desc;

/// The kernel side of iptables a rule lives in. JSON: `"legacy"` or `"nft"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// `ip_tables`/`ip6_tables` (`iptables-legacy`).
    Legacy,
    /// nf_tables with the xtables compat layer (`iptables-nft`).
    Nft,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Legacy => "legacy",
            Backend::Nft => "nft",
        })
    }
}

/// Address family of a rule. JSON: `"ipv4"` or `"ipv6"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        })
    }
}

/// One rule that jumps to the target. JSON: `{"backend", "family", "table", "chain",
/// "rule"}`, `rule` being the whole line as the save command printed it (`-A CHAIN ...`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub backend: Backend,
    pub family: Family,
    pub table: String,
    pub chain: String,
    pub rule: String,
}

/// A save command and what it lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaveTool {
    /// Command name.
    pub name: &'static str,
    /// Backend it lists; `None` for the unsplit `iptables-save`, which says it itself.
    pub backend: Option<Backend>,
    pub family: Family,
}

const fn tool(name: &'static str, backend: Option<Backend>, family: Family) -> SaveTool {
    SaveTool {
        name,
        backend,
        family,
    }
}

/// The split commands of each family, in the order they are run and listed.
pub const SPLIT_TOOLS: [SaveTool; 4] = [
    tool("iptables-legacy-save", Some(Backend::Legacy), Family::Ipv4),
    tool("iptables-nft-save", Some(Backend::Nft), Family::Ipv4),
    tool("ip6tables-legacy-save", Some(Backend::Legacy), Family::Ipv6),
    tool("ip6tables-nft-save", Some(Backend::Nft), Family::Ipv6),
];

/// The unsplit commands, run for a family that has no split command.
pub const FALLBACK_TOOLS: [SaveTool; 2] = [
    tool("iptables-save", None, Family::Ipv4),
    tool("ip6tables-save", None, Family::Ipv6),
];

/// A save command found on this system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub tool: SaveTool,
    pub path: PathBuf,
}

/// Chooses the commands to run, given a lookup of command names; also returns the notes
/// on the missing ones.
pub fn plan(find: impl Fn(&str) -> Option<PathBuf>) -> (Vec<Planned>, Vec<String>) {
    let mut planned = Vec::new();
    let mut notes = Vec::new();
    for family in [Family::Ipv4, Family::Ipv6] {
        let split: Vec<_> = SPLIT_TOOLS.iter().filter(|t| t.family == family).collect();
        let found: Vec<_> = split
            .iter()
            .filter_map(|t| find(t.name).map(|path| Planned { tool: **t, path }))
            .collect();
        if found.is_empty() {
            let fallback = FALLBACK_TOOLS.iter().find(|t| t.family == family);
            match fallback.and_then(|t| find(t.name).map(|path| Planned { tool: *t, path })) {
                Some(p) => planned.push(p),
                None => notes.push(format!(
                    "{}: not found (nor {}): {family} rules not listed",
                    fallback.map_or("?", |t| t.name),
                    split.iter().map(|t| t.name).collect::<Vec<_>>().join(", "),
                )),
            }
        } else {
            for t in &split {
                if !found.iter().any(|p| p.tool.name == t.name) {
                    notes.push(format!("{}: not found", t.name));
                }
            }
            planned.extend(found);
        }
    }
    (planned, notes)
}

/// The rules of one save output that jump to `target`, with their table and chain.
pub fn parse_save(text: &str, target: &str, backend: Backend, family: Family) -> Vec<Rule> {
    let mut table: Option<&str> = None;
    let mut rules = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('*') {
            table = Some(name.trim());
            continue;
        }
        if line == "COMMIT" {
            table = None;
            continue;
        }
        // `iptables-save -c` puts `[packets:bytes]` before the rule.
        let rule = match line.strip_prefix('[') {
            Some(rest) => rest.split_once(']').map_or(line, |(_, r)| r.trim_start()),
            None => line,
        };
        if !rule.starts_with("-A ") {
            continue;
        }
        let words = split_words(rule);
        if !jumps_to(&words, target) {
            continue;
        }
        rules.push(Rule {
            backend,
            family,
            table: table.unwrap_or("?").to_string(),
            chain: words.get(1).cloned().unwrap_or_default(),
            rule: rule.to_string(),
        });
    }
    rules
}

/// Whether a rule's words contain `-j TARGET` (or `--jump TARGET`).
pub fn jumps_to(words: &[String], target: &str) -> bool {
    words
        .windows(2)
        .any(|w| (w[0] == "-j" || w[0] == "--jump") && w[1] == target)
}

/// Splits a save line into words as the shell would: `"..."` quotes (with `\"` and `\\`
/// inside), so `--comment "-j SSNAT"` is one word and no jump.
pub fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The backend an unsplit `iptables-save --version` names: `v1.8.9 (nf_tables)` is nft;
/// `(legacy)`, anything else and a failed `--version` (before 1.8) are legacy.
pub fn backend_from_version(version: Option<&str>) -> Backend {
    match version {
        Some(v) if v.contains("nf_tables") => Backend::Nft,
        _ => Backend::Legacy,
    }
}

/// Rules found and notes on what could not be listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    pub rules: Vec<Rule>,
    pub notes: Vec<String>,
    /// Every save command of both families was found and succeeded.
    pub complete: bool,
    /// A save command was found but failed (for lack of privilege, often).
    pub failed: bool,
}

/// Runs the save commands found in `env` and collects the rules that jump to `target`.
pub fn collect(env: &Env, target: &str) -> Listing {
    let (planned, mut notes) = plan(|name| env.find_tool(name));
    let mut failed = false;
    let mut rules = Vec::new();
    for p in &planned {
        let backend = match p.tool.backend {
            Some(b) => b,
            None => backend_from_version(run(&p.path, &["--version"]).ok().as_deref()),
        };
        match run(&p.path, &[]) {
            Ok(out) => rules.extend(parse_save(&out, target, backend, p.tool.family)),
            Err(why) => {
                failed = true;
                notes.push(format!("{}: {why}", p.tool.name));
            }
        }
    }
    Listing {
        rules,
        complete: notes.is_empty(),
        notes,
        failed,
    }
}

/// Runs a command with no input; its stdout, or why it failed.
fn run(path: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(path)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io_desc(&e))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let status = match (
        out.status.code(),
        std::os::unix::process::ExitStatusExt::signal(&out.status),
    ) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => "failed".to_string(),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    match stderr.lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(line) => Err(format!("{status}: {line}")),
        None => Err(status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEGACY_V4: &str = "\
# Generated by iptables-save v1.8.9 on Tue Nov 25 19:00:00 2025
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -s 10.0.0.0/8 -p udp -j SSNAT --to-source 192.0.2.1:4000
-A PREROUTING -m comment --comment \"-j SSNAT is not here\" -j ACCEPT
-A OUTPUT -j SSNATX
COMMIT
# Completed on Tue Nov 25 19:00:00 2025
*mangle
:POSTROUTING ACCEPT [0:0]
:SSNAT_CHAIN - [0:0]
-A POSTROUTING -o eth0 -j SSNAT_CHAIN
-A SSNAT_CHAIN -m comment --comment \"say \\\"hi\\\"\" -j SSNAT --to-source 198.51.100.7
COMMIT
*filter
:INPUT ACCEPT [0:0]
-A INPUT -j ACCEPT
COMMIT
";

    #[test]
    fn finds_the_rules_with_their_tables_and_chains() {
        let rules = parse_save(LEGACY_V4, "SSNAT", Backend::Legacy, Family::Ipv4);
        assert_eq!(rules.len(), 2, "{rules:#?}");
        assert_eq!(
            rules[0],
            Rule {
                backend: Backend::Legacy,
                family: Family::Ipv4,
                table: "raw".into(),
                chain: "PREROUTING".into(),
                rule: "-A PREROUTING -s 10.0.0.0/8 -p udp -j SSNAT --to-source 192.0.2.1:4000"
                    .into(),
            }
        );
        assert_eq!(
            (rules[1].table.as_str(), rules[1].chain.as_str()),
            ("mangle", "SSNAT_CHAIN")
        );
        assert!(rules[1].rule.ends_with("-j SSNAT --to-source 198.51.100.7"));
    }

    #[test]
    fn nft_output_with_warnings_and_counters() {
        let text = "\
# Warning: iptables-legacy tables present, use iptables-legacy-save to see them
*raw
:OUTPUT ACCEPT [0:0]
[12:960] -A OUTPUT -d 2001:db8::/32 -j SSNAT --to-source [2001:db8::1]:53
-A OUTPUT --jump SSNAT --to-source 2001:db8::2
COMMIT
";
        let rules = parse_save(text, "SSNAT", Backend::Nft, Family::Ipv6);
        assert_eq!(rules.len(), 2, "{rules:#?}");
        assert_eq!(
            rules[0].rule,
            "-A OUTPUT -d 2001:db8::/32 -j SSNAT --to-source [2001:db8::1]:53"
        );
        assert_eq!(
            (rules[0].backend, rules[0].family),
            (Backend::Nft, Family::Ipv6)
        );
        assert_eq!(rules[1].chain, "OUTPUT");
    }

    #[test]
    fn no_rules_in_empty_or_foreign_output() {
        assert!(parse_save("", "SSNAT", Backend::Nft, Family::Ipv4).is_empty());
        assert!(parse_save(
            "*nat\n-A POSTROUTING -j SNAT --to-source 1.2.3.4\nCOMMIT\n",
            "SSNAT",
            Backend::Nft,
            Family::Ipv4
        )
        .is_empty());
        // A rule outside any table still shows up, with table "?".
        let r = parse_save("-A X -j SSNAT\n", "SSNAT", Backend::Legacy, Family::Ipv4);
        assert_eq!(r[0].table, "?");
    }

    #[test]
    fn splits_words_like_the_shell() {
        assert_eq!(split_words("  -A  X -j Y "), ["-A", "X", "-j", "Y"]);
        assert_eq!(
            split_words(r#"-m comment --comment "a \"b\" \\ c" -j SSNAT"#),
            ["-m", "comment", "--comment", r#"a "b" \ c"#, "-j", "SSNAT"]
        );
        assert_eq!(split_words(r#"--comment """#), ["--comment", ""]);
        assert!(split_words("").is_empty());
    }

    #[test]
    fn backend_of_the_unsplit_command() {
        assert_eq!(
            backend_from_version(Some("iptables-save v1.8.9 (nf_tables)\n")),
            Backend::Nft
        );
        assert_eq!(
            backend_from_version(Some("iptables-save v1.8.9 (legacy)\n")),
            Backend::Legacy
        );
        assert_eq!(backend_from_version(None), Backend::Legacy);
    }

    fn finder(present: &'static [&'static str]) -> impl Fn(&str) -> Option<PathBuf> {
        move |name| {
            present
                .contains(&name)
                .then(|| PathBuf::from("/sbin").join(name))
        }
    }

    fn names(planned: &[Planned]) -> Vec<&'static str> {
        planned.iter().map(|p| p.tool.name).collect()
    }

    #[test]
    fn plans_all_split_commands() {
        const ALL: [&str; 6] = [
            "iptables-legacy-save",
            "iptables-nft-save",
            "ip6tables-legacy-save",
            "ip6tables-nft-save",
            "iptables-save",
            "ip6tables-save",
        ];
        let (planned, notes) = plan(finder(&ALL));
        assert_eq!(names(&planned), &ALL[..4]);
        assert_eq!(planned[0].path, Path::new("/sbin/iptables-legacy-save"));
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn notes_missing_split_commands_and_falls_back() {
        let (planned, notes) = plan(finder(&["iptables-nft-save", "ip6tables-save"]));
        assert_eq!(names(&planned), ["iptables-nft-save", "ip6tables-save"]);
        assert_eq!(planned[1].tool.backend, None);
        assert_eq!(notes, ["iptables-legacy-save: not found"]);
    }

    #[test]
    fn notes_a_family_without_any_command() {
        let (planned, notes) = plan(finder(&["ip6tables-legacy-save"]));
        assert_eq!(names(&planned), ["ip6tables-legacy-save"]);
        assert_eq!(
            notes,
            [
                "iptables-save: not found (nor iptables-legacy-save, iptables-nft-save): ipv4 rules not listed",
                "ip6tables-nft-save: not found",
            ]
        );
    }

    #[test]
    fn collects_from_fake_commands() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let script = |name: &str, body: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        };
        script(
            "iptables-legacy-save",
            &format!("cat <<'EOF'\n{LEGACY_V4}EOF"),
        );
        script(
            "iptables-nft-save",
            "echo 'iptables: Permission denied (you must be root)' >&2; exit 4",
        );
        script("ip6tables-save", "case \"$1\" in --version) echo 'v1.8.9 (nf_tables)';; *) printf '*raw\\n-A OUTPUT -j SSNAT --to-source ::1\\nCOMMIT\\n';; esac");
        let env = Env {
            sysfs: "/".into(),
            proc_root: "/".into(),
            save_dirs: vec![dir.path().into()],
        };

        let l = collect(&env, "SSNAT");
        assert!(!l.complete && l.failed);
        assert_eq!(l.rules.len(), 3, "{:#?}", l.rules);
        assert_eq!(
            (l.rules[2].backend, l.rules[2].family),
            (Backend::Nft, Family::Ipv6)
        );
        assert_eq!(
            l.notes,
            ["iptables-nft-save: exit status 4: iptables: Permission denied (you must be root)"]
        );
    }
}
