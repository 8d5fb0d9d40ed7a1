// SPDX-License-Identifier: GPL-2.0
//! The profile commands (`profile ...`, `stats`, `monitor`, `save`, `restore`), run
//! against any [`Profiles`]: the kernel's ([`crate::netlink::Client`]) or a test's.
//!
//! Every command checks its arguments before it calls `connect`: a bad argument fails
//! with exit code 2 without any netlink traffic, whether the module is loaded or not.

use std::io::{Read, Write};
use std::time::Duration;

use nix::errno::Errno;
use serde::Serialize;

use crate::cli::{ProfileCommand, RestoreArgs, StatsArgs};
use crate::error::Error;
use crate::netlink::{Profile, Profiles};
use crate::profile::{self, ListReport, ShowReport, StatsReport};
use crate::report::SCHEMA;

/// Opens the connection to the kernel (entering `--netns` first), once the arguments
/// are checked.
pub type Connect<'a> = &'a mut dyn FnMut() -> Result<Box<dyn Profiles>, Error>;

fn write_out(out: &mut dyn Write, text: &str) -> Result<(), Error> {
    out.write_all(text.as_bytes()).map_err(Error::Output)?;
    out.flush().map_err(Error::Output)
}

fn write_json(out: &mut dyn Write, value: &impl Serialize) -> Result<(), Error> {
    serde_json::to_writer(&mut *out, value)?;
    write_out(out, "\n")
}

fn sorted(mut profiles: Vec<Profile>) -> Vec<Profile> {
    profiles.sort_by(|a, b| a.name.cmp(&b.name));
    profiles
}

/// One profile, or all of them sorted by name.
fn fetch(p: &mut dyn Profiles, name: Option<&str>) -> Result<Vec<Profile>, Error> {
    match name {
        Some(name) => Ok(vec![p.get(name)?]),
        None => Ok(sorted(p.dump()?)),
    }
}

/// `ssnatctl profile ...`.
pub fn profile(cmd: &ProfileCommand, connect: Connect, out: &mut dyn Write) -> Result<(), Error> {
    match cmd {
        ProfileCommand::Add(spec) => {
            let info = profile::mapping(spec)?;
            connect()?.add(&spec.name, &info)
        }
        ProfileCommand::Set(spec) => {
            let info = profile::mapping(spec)?;
            connect()?.set(&spec.name, &info)
        }
        ProfileCommand::Del(arg) => {
            profile::check_name(&arg.name)?;
            connect()?.del(&arg.name)
        }
        ProfileCommand::Show(args) => {
            if let Some(name) = &args.name {
                profile::check_name(name)?;
            }
            let profiles = fetch(connect()?.as_mut(), args.name.as_deref())?;
            if args.read.json {
                write_json(out, &ShowReport::new(&profiles))
            } else {
                let text: String = profiles.iter().map(profile::show_text).collect();
                write_out(out, &text)
            }
        }
        ProfileCommand::List(opts) => {
            let names: Vec<String> = sorted(connect()?.dump()?)
                .into_iter()
                .map(|p| p.name)
                .collect();
            if opts.json {
                write_json(
                    out,
                    &ListReport {
                        schema: SCHEMA,
                        profiles: names,
                    },
                )
            } else {
                let text: String = names.iter().map(|n| format!("{n}\n")).collect();
                write_out(out, &text)
            }
        }
    }
}

/// `ssnatctl stats`: once, or every `--watch` seconds for `rounds` rounds (`None`:
/// until interrupted).
pub fn stats(
    args: &StatsArgs,
    connect: Connect,
    out: &mut dyn Write,
    rounds: Option<usize>,
) -> Result<(), Error> {
    if let Some(name) = &args.name {
        profile::check_name(name)?;
    }
    let mut p = connect()?;
    let mut round = 0;
    loop {
        let profiles = fetch(p.as_mut(), args.name.as_deref())?;
        if args.read.json {
            write_json(out, &StatsReport::new(&profiles))?;
        } else {
            let sep = if round > 0 { "\n" } else { "" };
            write_out(out, &format!("{sep}{}", profile::stats_table(&profiles)))?;
        }
        round += 1;
        let Some(secs) = args.watch else {
            return Ok(());
        };
        if rounds.is_some_and(|n| round >= n) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs_f64(secs));
    }
}

/// `ssnatctl monitor`: one line per event, flushed, until the events end (never, from
/// the kernel) or fail. Lost events are a line, not an error.
pub fn monitor(json: bool, connect: Connect, out: &mut dyn Write) -> Result<(), Error> {
    let events = connect()?.subscribe()?;
    for event in events {
        let event = event?;
        if json {
            write_json(out, &profile::EventReport::new(&event))?;
        } else {
            write_out(out, &format!("{}\n", profile::event_text(&event)))?;
        }
    }
    Ok(())
}

/// `ssnatctl save`.
pub fn save(connect: Connect, out: &mut dyn Write) -> Result<(), Error> {
    let profiles = connect()?.dump()?;
    write_out(out, &profile::save_text_of(&profiles))
}

/// `ssnatctl restore`: reads the input (`stdin` for none or `-`), checks every line,
/// then creates or replaces each profile.
pub fn restore(args: &RestoreArgs, connect: Connect, stdin: &mut dyn Read) -> Result<(), Error> {
    let text = match args.file.as_deref() {
        None | Some("-") => {
            let mut text = String::new();
            stdin
                .read_to_string(&mut text)
                .map_err(|source| Error::Input {
                    path: "standard input".into(),
                    source,
                })?;
            text
        }
        Some(path) => std::fs::read_to_string(path).map_err(|source| Error::Input {
            path: path.into(),
            source,
        })?,
    };
    let entries = profile::parse_restore(&text)?;
    if entries.is_empty() {
        return Ok(());
    }
    let mut p = connect()?;
    for e in entries {
        let at = |err| Error::Line {
            line: e.line,
            source: Box::new(err),
        };
        match p.add(&e.name, &e.info) {
            Ok(()) => {}
            Err(Error::Kernel {
                errno: Errno::EEXIST,
                ..
            }) => {
                // Replace, unless it is the same already (restoring twice changes
                // nothing, and announces nothing).
                let current = p.get(&e.name).map_err(at)?;
                if current.info != e.info {
                    p.set(&e.name, &e.info).map_err(at)?;
                }
            }
            Err(err) => return Err(at(err)),
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod fake {
    //! An in-memory kernel: the profiles and the errors the real one gives.

    use std::collections::BTreeMap;

    use nix::errno::Errno;
    use ssnat_core::abi::SsnatInfo;

    use crate::error::{Error, Op};
    use crate::netlink::{Event, EventKind, Profile, Profiles, N_COUNTERS};

    #[derive(Default)]
    pub struct Fake {
        pub profiles: BTreeMap<String, Profile>,
        /// Rules using each profile.
        pub rules: BTreeMap<String, u32>,
        /// Requests seen, as `op name`.
        pub log: Vec<String>,
        /// What subscribe() hands out.
        pub events: Vec<Event>,
        /// Refuse changes with EPERM.
        pub unprivileged: bool,
    }

    fn err(op: Op, name: &str, errno: Errno) -> Error {
        Error::Kernel {
            op,
            name: Some(name.to_owned()),
            errno,
            extack: None,
            attr: None,
        }
    }

    impl Fake {
        fn insert(&mut self, name: &str, info: SsnatInfo) {
            self.profiles.insert(
                name.to_owned(),
                Profile {
                    name: name.to_owned(),
                    info,
                    rules: Some(0),
                    counters: Some([0; N_COUNTERS]),
                },
            );
        }

        fn check(&self, op: Op, name: &str) -> Result<(), Error> {
            if self.unprivileged {
                return Err(err(op, name, Errno::EPERM));
            }
            Ok(())
        }
    }

    impl Profiles for Fake {
        fn add(&mut self, name: &str, info: &SsnatInfo) -> Result<(), Error> {
            self.log.push(format!("add {name}"));
            self.check(Op::Add, name)?;
            if self.profiles.contains_key(name) {
                return Err(err(Op::Add, name, Errno::EEXIST));
            }
            self.insert(name, *info);
            Ok(())
        }

        fn set(&mut self, name: &str, info: &SsnatInfo) -> Result<(), Error> {
            self.log.push(format!("set {name}"));
            self.check(Op::Set, name)?;
            let used = self.rules.get(name).copied().unwrap_or(0) > 0;
            let p = self
                .profiles
                .get_mut(name)
                .ok_or_else(|| err(Op::Set, name, Errno::ENOENT))?;
            if used && p.info.family != info.family {
                return Err(err(Op::Set, name, Errno::EBUSY));
            }
            p.info = *info;
            Ok(())
        }

        fn del(&mut self, name: &str) -> Result<(), Error> {
            self.log.push(format!("del {name}"));
            self.check(Op::Del, name)?;
            if !self.profiles.contains_key(name) {
                return Err(err(Op::Del, name, Errno::ENOENT));
            }
            if self.rules.get(name).copied().unwrap_or(0) > 0 {
                return Err(err(Op::Del, name, Errno::EBUSY));
            }
            self.profiles.remove(name);
            Ok(())
        }

        fn get(&mut self, name: &str) -> Result<Profile, Error> {
            self.log.push(format!("get {name}"));
            self.profiles
                .get(name)
                .cloned()
                .ok_or_else(|| err(Op::Get, name, Errno::ENOENT))
        }

        fn dump(&mut self) -> Result<Vec<Profile>, Error> {
            self.log.push("dump".into());
            // Not sorted: the kernel's order is its own.
            Ok(self.profiles.values().rev().cloned().collect())
        }

        fn subscribe(&mut self) -> Result<Box<dyn Iterator<Item = Result<Event, Error>>>, Error> {
            self.log.push("subscribe".into());
            Ok(Box::new(
                std::mem::take(&mut self.events).into_iter().map(Ok),
            ))
        }
    }

    pub fn change(kind: EventKind, p: &Profile) -> Event {
        Event::Change(kind, Box::new(p.clone()))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use clap::Parser;
    use serde_json::Value;
    use ssnat_core::abi::SsnatInfo;

    use super::fake::{change, Fake};
    use crate::cli::Cli;
    use crate::env::Env;
    use crate::error::Error;
    use crate::netlink::{Event, EventKind, Profile, Profiles};

    /// The fake kernel, shared between the test and the command it runs.
    struct Shared(Rc<RefCell<Fake>>);

    impl Profiles for Shared {
        fn add(&mut self, name: &str, info: &SsnatInfo) -> Result<(), Error> {
            self.0.borrow_mut().add(name, info)
        }
        fn set(&mut self, name: &str, info: &SsnatInfo) -> Result<(), Error> {
            self.0.borrow_mut().set(name, info)
        }
        fn del(&mut self, name: &str) -> Result<(), Error> {
            self.0.borrow_mut().del(name)
        }
        fn get(&mut self, name: &str) -> Result<Profile, Error> {
            self.0.borrow_mut().get(name)
        }
        fn dump(&mut self) -> Result<Vec<Profile>, Error> {
            self.0.borrow_mut().dump()
        }
        fn subscribe(&mut self) -> Result<Box<dyn Iterator<Item = Result<Event, Error>>>, Error> {
            self.0.borrow_mut().subscribe()
        }
    }

    struct Run {
        result: Result<(), Error>,
        out: String,
        connected: bool,
    }

    impl Run {
        fn code(&self) -> u8 {
            self.result.as_ref().map_or_else(Error::exit_code, |()| 0)
        }
        fn message(&self) -> String {
            self.result
                .as_ref()
                .err()
                .map(ToString::to_string)
                .unwrap_or_default()
        }
    }

    fn run_in(kernel: &Rc<RefCell<Fake>>, args: &[&str], stdin: &str) -> Run {
        let mut all = vec!["ssnatctl"];
        all.extend_from_slice(args);
        let cli = Cli::try_parse_from(all).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let env = Env::from_vars(|_| None);
        let mut connected = false;
        let mut connect = || -> Result<Box<dyn Profiles>, Error> {
            connected = true;
            Ok(Box::new(Shared(Rc::clone(kernel))))
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let result = crate::run_with(
            &cli,
            &env,
            &mut connect,
            &mut stdin.as_bytes(),
            &mut out,
            &mut err,
        );
        Run {
            result,
            out: String::from_utf8(out).expect("utf-8"),
            connected,
        }
    }

    fn kernel() -> Rc<RefCell<Fake>> {
        Rc::new(RefCell::new(Fake::default()))
    }

    fn run(k: &Rc<RefCell<Fake>>, args: &[&str]) -> Run {
        run_in(k, args, "")
    }

    #[test]
    fn add_show_set_del() {
        let k = kernel();
        let r = run(
            &k,
            &["profile", "add", "moh", "--to-source", "198.51.100.7:4000"],
        );
        assert_eq!((r.code(), r.out.as_str()), (0, ""));
        let r = run(&k, &["profile", "show", "moh"]);
        assert_eq!(r.code(), 0);
        assert_eq!(
            r.out.lines().next(),
            Some("profile moh ipv4 to:198.51.100.7:4000 rules 0")
        );
        let r = run(
            &k,
            &["profile", "add", "moh", "--to-source", "198.51.100.8"],
        );
        assert_eq!(r.code(), 7);
        assert!(r
            .message()
            .ends_with("use 'ssnatctl profile set' to replace it"));
        let r = run(
            &k,
            &[
                "profile",
                "set",
                "moh",
                "--to-source",
                "198.51.100.8:4001",
                "--random-seed",
                "5",
            ],
        );
        assert_eq!(r.code(), 0);
        let r = run(&k, &["profile", "show", "--json"]);
        let j: Value = serde_json::from_str(&r.out).expect("json");
        assert_eq!(j["schema"], 1);
        assert_eq!(j["profiles"][0]["to_source"], "198.51.100.8:4001");
        assert_eq!(j["profiles"][0]["seed"], 5);
        assert_eq!(r.out.matches('\n').count(), 1);
        let r = run(&k, &["profile", "set", "nope", "--to-ports", "1"]);
        assert_eq!(r.code(), 6);
        k.borrow_mut().rules.insert("moh".into(), 1);
        let r = run(&k, &["profile", "del", "moh"]);
        assert_eq!(r.code(), 5);
        assert!(
            r.message().contains("(-j SSNAT --profile moh)"),
            "{}",
            r.message()
        );
        // The family of a profile in use cannot change.
        let r = run(&k, &["profile", "set", "moh", "--to-source", "2001:db8::1"]);
        assert_eq!(r.code(), 5);
        k.borrow_mut().rules.clear();
        assert_eq!(run(&k, &["profile", "del", "moh"]).code(), 0);
        assert_eq!(run(&k, &["profile", "del", "moh"]).code(), 6);
        assert_eq!(run(&k, &["profile", "show", "moh"]).code(), 6);
        k.borrow_mut().unprivileged = true;
        let r = run(&k, &["profile", "add", "x", "--to-ports", "1"]);
        assert_eq!(r.code(), 4);
        assert!(r.message().contains("CAP_NET_ADMIN"));
    }

    #[test]
    fn bad_arguments_fail_before_any_netlink_traffic() {
        let k = kernel();
        for (args, msg) in [
            (
                &["profile", "add", "a b", "--to-ports", "1"][..],
                "bad profile name: 1-31 letters, digits, '-', '_' or '.'",
            ),
            (
                &["profile", "add", "a", "--to-source", "1.2.3.4:9-5"],
                "bad port range 9-5: the first port is above the last",
            ),
            (
                &["profile", "set", "a", "-6", "--to-source", "1.2.3.4"],
                "\"1.2.3.4\" is an IPv4 address, this is an IPv6 rule (use iptables)",
            ),
            (
                &["profile", "add", "a"],
                "--to-source or --to-ports is required",
            ),
            (
                &["profile", "del", "a/b"],
                "bad profile name: 1-31 letters, digits, '-', '_' or '.'",
            ),
            (
                &["profile", "show", &"x".repeat(40)],
                "bad profile name: 1-31 letters, digits, '-', '_' or '.'",
            ),
            (
                &["stats", "a:b"],
                "bad profile name: 1-31 letters, digits, '-', '_' or '.'",
            ),
        ] {
            let r = run(&k, args);
            assert_eq!((r.code(), r.message().as_str()), (2, msg), "{args:?}");
            assert!(!r.connected, "{args:?} connected");
        }
        assert!(k.borrow().log.is_empty());
        let r = run_in(
            &k,
            &["restore"],
            "profile add ok --to-ports 1\nprofile add bad --to-ports 0\n",
        );
        assert_eq!(
            (r.code(), r.message().as_str()),
            (2, "line 2: port \"0\" out of range 1-65535")
        );
        assert!(!r.connected);
    }

    fn seeded() -> Rc<RefCell<Fake>> {
        let k = kernel();
        for args in [
            &["profile", "add", "moh", "--to-source", "198.51.100.7:4000"][..],
            &[
                "profile",
                "add",
                "v6",
                "--to-source",
                "2001:db8::/64",
                "--random-seed",
                "0x10",
            ],
            &["profile", "add", "ports", "-6", "--to-ports", "53"],
        ] {
            assert_eq!(run(&k, args).code(), 0, "{args:?}");
        }
        k
    }

    #[test]
    fn list_and_stats() {
        let k = seeded();
        let r = run(&k, &["profile", "list"]);
        assert_eq!(r.out, "moh\nports\nv6\n");
        let r = run(&k, &["profile", "list", "--json"]);
        let j: Value = serde_json::from_str(&r.out).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"schema": 1, "profiles": ["moh", "ports", "v6"]})
        );
        let r = run(&k, &["stats"]);
        let names: Vec<&str> = r
            .out
            .lines()
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(names, ["NAME", "moh", "ports", "v6"]);
        let r = run(&k, &["stats", "v6", "--json"]);
        let j: Value = serde_json::from_str(&r.out).unwrap();
        assert_eq!(j["profiles"].as_array().unwrap().len(), 1);
        assert_eq!(j["profiles"][0]["name"], "v6");
        assert_eq!(j["profiles"][0]["counters"]["packets"], 0);
        assert_eq!(run(&k, &["stats", "gone"]).code(), 6);
    }

    #[test]
    fn stats_watch_repeats() {
        let k = seeded();
        let cli = Cli::try_parse_from(["ssnatctl", "stats", "moh", "--watch=0.01"]).unwrap();
        let crate::cli::Command::Stats(args) = &cli.command else {
            panic!()
        };
        let mut connect =
            || -> Result<Box<dyn Profiles>, Error> { Ok(Box::new(Shared(Rc::clone(&k)))) };
        let mut out = Vec::new();
        super::stats(args, &mut connect, &mut out, Some(3)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("NAME").count(), 3, "{text}");
        assert_eq!(text.matches("\n\n").count(), 2, "{text}");
        assert_eq!(k.borrow().log.iter().filter(|l| *l == "get moh").count(), 3);
    }

    #[test]
    fn monitor_prints_a_line_per_event() {
        let k = seeded();
        let moh = k.borrow().profiles["moh"].clone();
        let mut moved = moh.clone();
        run(
            &k,
            &["profile", "set", "moh", "--to-source", "198.51.100.8:4001"],
        );
        moved.info = k.borrow().profiles["moh"].info;
        k.borrow_mut().events = vec![
            change(EventKind::New, &moh),
            change(EventKind::Set, &moved),
            Event::Lost,
            change(EventKind::Del, &moved),
        ];
        let r = run(&k, &["monitor"]);
        assert_eq!(
            r.out,
            "new moh 198.51.100.7:4000\nset moh 198.51.100.8:4001\nlost\ndel moh\n"
        );
        k.borrow_mut().events = vec![change(EventKind::New, &moh), change(EventKind::Del, &moh)];
        let r = run(&k, &["monitor", "--json"]);
        let lines: Vec<Value> = r
            .out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["schema"], 1);
        assert_eq!(lines[0]["event"], "new");
        assert_eq!(lines[0]["profile"]["name"], "moh");
        assert_eq!(lines[0]["profile"]["to_source"], "198.51.100.7:4000");
        assert_eq!(lines[1]["event"], "del");
    }

    #[test]
    fn save_restore_round_trip_through_a_kernel() {
        let k = seeded();
        let saved = run(&k, &["save"]).out;
        assert!(
            saved.contains("\nprofile add v6 --to-source 2001:db8::/64 --random-seed 16\n"),
            "{saved}"
        );
        assert!(
            saved.contains("\nprofile add ports -6 --to-ports 53\n"),
            "{saved}"
        );
        // Into an empty namespace: the same profiles, the same save.
        let fresh = kernel();
        let r = run_in(&fresh, &["restore"], &saved);
        assert_eq!(r.code(), 0, "{}", r.message());
        assert_eq!(run(&fresh, &["save"]).out, saved);
        assert_eq!(fresh.borrow().profiles, k.borrow().profiles);
        // Again: idempotent, nothing replaced.
        fresh.borrow_mut().log.clear();
        let r = run_in(&fresh, &["restore", "-"], &saved);
        assert_eq!(r.code(), 0);
        assert!(
            !fresh.borrow().log.iter().any(|l| l.starts_with("set")),
            "{:?}",
            fresh.borrow().log
        );
        // A changed file replaces what differs.
        let changed = saved.replace("198.51.100.7:4000", "198.51.100.9:4000");
        fresh.borrow_mut().log.clear();
        assert_eq!(run_in(&fresh, &["restore"], &changed).code(), 0);
        assert!(fresh.borrow().log.contains(&"set moh".to_owned()));
        assert_eq!(run(&fresh, &["save"]).out, changed);
        // From a file.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("profiles");
        std::fs::write(&file, &saved).unwrap();
        let other = kernel();
        assert_eq!(run(&other, &["restore", file.to_str().unwrap()]).code(), 0);
        assert_eq!(run(&other, &["save"]).out, saved);
        let r = run(
            &other,
            &["restore", dir.path().join("missing").to_str().unwrap()],
        );
        assert_eq!(r.code(), 1);
        assert!(
            r.message().ends_with("missing: No such file or directory"),
            "{}",
            r.message()
        );
    }

    #[test]
    fn restore_kernel_errors_name_the_line() {
        let k = seeded();
        k.borrow_mut().rules.insert("moh".into(), 2);
        let text = "# x\nprofile add a --to-ports 1\nprofile add moh --to-source 2001:db8::1\nprofile add z --to-ports 2\n";
        let r = run_in(&k, &["restore"], text);
        assert_eq!(r.code(), 5);
        assert!(
            r.message()
                .starts_with("line 3: profile set moh: profile in use by rules"),
            "{}",
            r.message()
        );
        // Earlier lines applied, later ones not.
        assert!(k.borrow().profiles.contains_key("a"));
        assert!(!k.borrow().profiles.contains_key("z"));
        k.borrow_mut().unprivileged = true;
        let r = run_in(&k, &["restore"], "\n\nprofile add b --to-ports 1\n");
        assert_eq!(r.code(), 4);
        assert!(r
            .message()
            .starts_with("line 3: profile add b: Operation not permitted"));
        // Nothing to do: no connection at all.
        let r = run_in(&k, &["restore"], "# empty\n");
        assert_eq!((r.code(), r.connected), (0, false));
    }

    #[test]
    fn completions_and_manpage_come_from_clap() {
        let k = kernel();
        let r = run(&k, &["completions", "bash"]);
        assert_eq!(r.code(), 0);
        assert!(
            r.out.contains("_ssnatctl()"),
            "{}",
            &r.out[..200.min(r.out.len())]
        );
        assert!(r.out.contains("--to-source"));
        let r = run(&k, &["manpage"]);
        assert_eq!(r.code(), 0);
        assert!(
            r.out.starts_with(".ie \\n(.g .ds Aq \\(aq") || r.out.contains(".TH ssnatctl"),
            "{}",
            &r.out[..200]
        );
        assert!(r.out.contains("profile"));
        assert!(!r.connected);
    }
}
