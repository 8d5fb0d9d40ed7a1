// SPDX-License-Identifier: GPL-2.0
//! The profile commands (`profile ...`, `profile entry ...`, `stats`, `monitor`,
//! `save`, `restore`), run against any [`Profiles`]: the kernel's
//! ([`crate::netlink::Client`]) or a test's.
//!
//! Every command checks its arguments before it calls `connect`: a bad argument fails
//! with exit code 2 without any netlink traffic, whether the module is loaded or not.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::time::Duration;

use nix::errno::Errno;
use serde::Serialize;

use crate::cli::{EntryCommand, ProfileCommand, RestoreArgs, StatsArgs};
use crate::error::Error;
use crate::netlink::{Entry, EntryKey, Profile, Profiles};
use crate::profile::{self, ListReport, RestoreEntry, RestoreItem, ShowReport, StatsReport};
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
        ProfileCommand::Entry(cmd) => entry(cmd, connect, out),
    }
}

/// `ssnatctl profile entry ...`.
pub fn entry(cmd: &EntryCommand, connect: Connect, out: &mut dyn Write) -> Result<(), Error> {
    match cmd {
        EntryCommand::Add(spec) => {
            let (key, info) = profile::entry_mapping(spec)?;
            connect()?.entry_add(&spec.key.profile, &key, &info)
        }
        EntryCommand::Set(spec) => {
            let (key, info) = profile::entry_mapping(spec)?;
            connect()?.entry_set(&spec.key.profile, &key, &info)
        }
        EntryCommand::Del(args) => {
            let key = profile::entry_key(args)?;
            connect()?.entry_del(&args.profile, &key)
        }
        EntryCommand::Flush(arg) => {
            profile::check_name(&arg.profile)?;
            connect()?.entry_flush(&arg.profile)
        }
        EntryCommand::List(args) => {
            profile::check_name(&args.profile)?;
            let mut entries = connect()?.entry_dump(&args.profile)?;
            profile::sort_entries(&mut entries);
            if args.read.json {
                write_json(out, &profile::EntryListReport::new(&args.profile, &entries))
            } else {
                write_out(out, &profile::entry_table(&entries))
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

/// The entries of `p`: none without asking when the kernel says it has none (or does
/// not say: a module without entries).
fn entries_of(k: &mut dyn Profiles, p: &Profile) -> Result<Vec<Entry>, Error> {
    match p.entries {
        Some(0) | None => Ok(Vec::new()),
        Some(_) => k.entry_dump(&p.name),
    }
}

/// `ssnatctl save`: each profile, then its entries (asked for one profile at a time).
pub fn save(connect: Connect, out: &mut dyn Write) -> Result<(), Error> {
    let mut k = connect()?;
    let profiles = sorted(k.dump()?);
    let mut text = profile::save_header();
    for p in &profiles {
        let entries = entries_of(k.as_mut(), p)?;
        text += &profile::save_profile_text(p, entries);
        // Written as it goes: a profile's entries are not kept for the next.
        write_out(out, &text)?;
        text.clear();
    }
    write_out(out, &text)
}

/// `ssnatctl restore`: reads the input (`stdin` for none or `-`), checks every line,
/// then creates or replaces each profile and makes its entries the input's.
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
    let items = profile::parse_restore(&text)?;
    if items.is_empty() {
        return Ok(());
    }
    // The entries of each profile the input adds, applied at its last add line.
    let mut last_add: HashMap<&str, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        if let RestoreItem::Profile(p) = item {
            last_add.insert(&p.name, i);
        }
    }
    let mut wanted: HashMap<&str, Vec<&RestoreEntry>> = HashMap::new();
    for item in &items {
        if let RestoreItem::Entry(e) = item {
            if last_add.contains_key(e.profile.as_str()) {
                wanted.entry(&e.profile).or_default().push(e);
            }
        }
    }
    let mut k = connect()?;
    for (i, item) in items.iter().enumerate() {
        match item {
            RestoreItem::Profile(e) => {
                let at = |err| Error::Line {
                    line: e.line,
                    source: Box::new(err),
                };
                // The entries it has now (None: none to ask for).
                let current = match k.add(&e.name, &e.info) {
                    Ok(()) => None,
                    Err(Error::Kernel {
                        errno: Errno::EEXIST,
                        ..
                    }) => {
                        // Replace, unless it is the same already (restoring twice
                        // changes nothing, and announces nothing).
                        let mut current = k.get(&e.name).map_err(at)?;
                        if current.info.family != e.info.family
                            && current.entries != Some(0)
                            && current.rules == Some(0)
                        {
                            // Its entries are of the old family: they go first, or the
                            // kernel refuses the new family. (Not while rules use it:
                            // then the kernel refuses it anyway, and the entries stay.)
                            k.entry_flush(&e.name).map_err(at)?;
                            current.entries = Some(0);
                        }
                        if current.info != e.info {
                            k.set(&e.name, &e.info).map_err(at)?;
                        }
                        Some(current)
                    }
                    Err(err) => return Err(at(err)),
                };
                if last_add.get(e.name.as_str()) == Some(&i) {
                    let have = match &current {
                        Some(p) => entries_of(k.as_mut(), p).map_err(at)?,
                        None => Vec::new(),
                    };
                    let want = wanted.get(e.name.as_str()).map_or(&[][..], Vec::as_slice);
                    sync_entries(k.as_mut(), &e.name, have, want, e.line)?;
                }
            }
            RestoreItem::Entry(e) if !last_add.contains_key(e.profile.as_str()) => {
                restore_entry(k.as_mut(), e)?;
            }
            RestoreItem::Entry(_) => {} // with its profile
        }
    }
    Ok(())
}

/// Makes the entries of `profile` (now `have`) the ones of `want`: deletes the others
/// (a failure: at `line`, the profile's), replaces those that differ, adds the missing.
fn sync_entries(
    k: &mut dyn Profiles,
    profile: &str,
    have: Vec<Entry>,
    want: &[&RestoreEntry],
    line: usize,
) -> Result<(), Error> {
    let mut have: BTreeMap<EntryKey, Entry> = have.into_iter().map(|e| (e.key, e)).collect();
    let wanted: std::collections::BTreeSet<EntryKey> = want.iter().map(|e| e.key).collect();
    for key in have.keys().filter(|k| !wanted.contains(k)) {
        k.entry_del(profile, key).map_err(|err| Error::Line {
            line,
            source: Box::new(err),
        })?;
    }
    for e in want {
        let at = |err| Error::Line {
            line: e.line,
            source: Box::new(err),
        };
        match have.remove(&e.key) {
            Some(cur) if cur.info == e.info => {}
            Some(_) => k.entry_set(profile, &e.key, &e.info).map_err(at)?,
            None => k.entry_add(profile, &e.key, &e.info).map_err(at)?,
        }
    }
    Ok(())
}

/// An entry of a profile the input does not add: created, or replaced if it differs.
fn restore_entry(k: &mut dyn Profiles, e: &RestoreEntry) -> Result<(), Error> {
    let at = |err| Error::Line {
        line: e.line,
        source: Box::new(err),
    };
    match k.entry_add(&e.profile, &e.key, &e.info) {
        Ok(()) => Ok(()),
        Err(Error::Kernel {
            errno: Errno::EEXIST,
            ..
        }) => {
            let current = k.entry_get(&e.profile, &e.key).map_err(at)?;
            if current.info != e.info {
                k.entry_set(&e.profile, &e.key, &e.info).map_err(at)?;
            }
            Ok(())
        }
        Err(err) => Err(at(err)),
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! An in-memory kernel: the profiles and the errors the real one gives.

    use std::collections::{BTreeMap, HashSet};

    use nix::errno::Errno;
    use ssnat_core::abi::SsnatInfo;

    use crate::error::{Error, Op};
    use crate::netlink::{
        Entries, Entry, EntryKey, Event, EventKind, Profile, Profiles, N_COUNTERS,
    };

    #[derive(Default)]
    pub struct Fake {
        pub profiles: BTreeMap<String, Profile>,
        /// The entries of each profile, in the order they were added (as the kernel
        /// dumps them).
        pub entries: BTreeMap<String, Vec<Entry>>,
        /// The keys of `entries` added by `entry_add` (a restore of many entries:
        /// no linear search for each).
        keys: HashSet<(String, EntryKey)>,
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

    /// An error the kernel gives with an extended ack pointing at `attr`.
    fn err_at(op: Op, name: &str, errno: Errno, msg: &str, attr: &'static str) -> Error {
        Error::Kernel {
            op,
            name: Some(name.to_owned()),
            errno,
            extack: Some(msg.to_owned()),
            attr: Some(attr),
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
                    entries: Some(0),
                },
            );
        }

        /// A profile as the kernel reports it: with its numbers of entries and rules.
        fn report(&self, p: &Profile) -> Profile {
            let mut p = p.clone();
            p.entries = Some(self.entries.get(&p.name).map_or(0, Vec::len) as u32);
            p.rules = Some(self.rules.get(&p.name).copied().unwrap_or(0));
            p
        }

        /// The entries of `profile` (which must exist: `ENOENT` at `NAME`), for `op` on
        /// `name`, and the profile's family.
        fn table(
            &mut self,
            op: Op,
            profile: &str,
            name: &str,
        ) -> Result<(&mut Vec<Entry>, u8), Error> {
            let family = self
                .profiles
                .get(profile)
                .ok_or_else(|| err_at(op, name, Errno::ENOENT, "no such profile", "NAME"))?
                .info
                .family;
            Ok((self.entries.entry(profile.to_owned()).or_default(), family))
        }

        /// Checks an entry request as the kernel does, then the entries.
        fn entry_table(
            &mut self,
            op: Op,
            profile: &str,
            key: &EntryKey,
            info: Option<&SsnatInfo>,
        ) -> Result<&mut Vec<Entry>, Error> {
            let name = format!("{profile} {key}");
            self.log.push(format!("{op:?} {name}"));
            self.check(op, &name)?;
            let (table, family) = self.table(op, profile, &name)?;
            if key.family() != family {
                return Err(err_at(
                    op,
                    &name,
                    Errno::EINVAL,
                    "destination address length does not match the profile's family",
                    "DST_ADDR",
                ));
            }
            if info.is_some_and(|i| i.family != family) {
                return Err(err_at(
                    op,
                    &name,
                    Errno::EINVAL,
                    "the entry's mapping is of another family than its profile",
                    "FAMILY",
                ));
            }
            Ok(table)
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
            if p.info.family != info.family && self.entries.get(name).is_some_and(|e| !e.is_empty())
            {
                return Err(err_at(
                    Op::Set,
                    name,
                    Errno::EBUSY,
                    "profile has entries of its address family (flush them first)",
                    "FAMILY",
                ));
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
            self.entries.remove(name);
            self.keys.retain(|(p, _)| p != name);
            Ok(())
        }

        fn get(&mut self, name: &str) -> Result<Profile, Error> {
            self.log.push(format!("get {name}"));
            let p = self
                .profiles
                .get(name)
                .ok_or_else(|| err(Op::Get, name, Errno::ENOENT))?;
            Ok(self.report(p))
        }

        fn dump(&mut self) -> Result<Vec<Profile>, Error> {
            self.log.push("dump".into());
            // Not sorted: the kernel's order is its own.
            Ok(self
                .profiles
                .values()
                .rev()
                .map(|p| self.report(p))
                .collect())
        }

        fn subscribe(&mut self) -> Result<Box<dyn Iterator<Item = Result<Event, Error>>>, Error> {
            self.log.push("subscribe".into());
            Ok(Box::new(
                std::mem::take(&mut self.events).into_iter().map(Ok),
            ))
        }
    }

    impl Entries for Fake {
        fn entry_add(
            &mut self,
            profile: &str,
            key: &EntryKey,
            info: &SsnatInfo,
        ) -> Result<(), Error> {
            self.entry_table(Op::EntryAdd, profile, key, Some(info))?;
            let known = self.keys.contains(&(profile.to_owned(), *key));
            let table = self.entries.entry(profile.to_owned()).or_default();
            if known {
                return Err(err_at(
                    Op::EntryAdd,
                    &format!("{profile} {key}"),
                    Errno::EEXIST,
                    "entry exists (use 'entry set' to replace its mapping)",
                    "DST_ADDR",
                ));
            }
            table.push(Entry {
                key: *key,
                info: *info,
                counters: Some([0; 2]),
            });
            self.keys.insert((profile.to_owned(), *key));
            Ok(())
        }

        fn entry_set(
            &mut self,
            profile: &str,
            key: &EntryKey,
            info: &SsnatInfo,
        ) -> Result<(), Error> {
            let table = self.entry_table(Op::EntrySet, profile, key, Some(info))?;
            match table.iter_mut().find(|e| e.key == *key) {
                Some(e) => {
                    e.info = *info;
                    Ok(())
                }
                None => Err(err_at(
                    Op::EntrySet,
                    &format!("{profile} {key}"),
                    Errno::ENOENT,
                    "no such entry (use 'entry add' to create it)",
                    "DST_ADDR",
                )),
            }
        }

        fn entry_del(&mut self, profile: &str, key: &EntryKey) -> Result<(), Error> {
            let table = self.entry_table(Op::EntryDel, profile, key, None)?;
            match table.iter().position(|e| e.key == *key) {
                Some(i) => {
                    table.remove(i);
                    self.keys.remove(&(profile.to_owned(), *key));
                    Ok(())
                }
                None => Err(err_at(
                    Op::EntryDel,
                    &format!("{profile} {key}"),
                    Errno::ENOENT,
                    "no such entry",
                    "DST_ADDR",
                )),
            }
        }

        fn entry_get(&mut self, profile: &str, key: &EntryKey) -> Result<Entry, Error> {
            let table = self.entry_table(Op::EntryGet, profile, key, None)?;
            table
                .iter()
                .find(|e| e.key == *key)
                .cloned()
                .ok_or_else(|| {
                    err_at(
                        Op::EntryGet,
                        &format!("{profile} {key}"),
                        Errno::ENOENT,
                        "no such entry",
                        "DST_ADDR",
                    )
                })
        }

        fn entry_flush(&mut self, profile: &str) -> Result<(), Error> {
            self.log.push(format!("EntryFlush {profile}"));
            self.check(Op::EntryFlush, profile)?;
            self.table(Op::EntryFlush, profile, profile)?.0.clear();
            self.keys.retain(|(p, _)| p != profile);
            Ok(())
        }

        fn entry_dump(&mut self, profile: &str) -> Result<Vec<Entry>, Error> {
            self.log.push(format!("EntryDump {profile}"));
            Ok(self.table(Op::EntryDump, profile, profile)?.0.clone())
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
    use crate::netlink::{Entries, Entry, EntryKey, Event, EventKind, Profile, Profiles};

    /// The fake kernel, shared between the test and the command it runs.
    struct Shared(Rc<RefCell<Fake>>);

    impl Entries for Shared {
        fn entry_add(
            &mut self,
            profile: &str,
            key: &EntryKey,
            info: &SsnatInfo,
        ) -> Result<(), Error> {
            self.0.borrow_mut().entry_add(profile, key, info)
        }
        fn entry_set(
            &mut self,
            profile: &str,
            key: &EntryKey,
            info: &SsnatInfo,
        ) -> Result<(), Error> {
            self.0.borrow_mut().entry_set(profile, key, info)
        }
        fn entry_del(&mut self, profile: &str, key: &EntryKey) -> Result<(), Error> {
            self.0.borrow_mut().entry_del(profile, key)
        }
        fn entry_get(&mut self, profile: &str, key: &EntryKey) -> Result<Entry, Error> {
            self.0.borrow_mut().entry_get(profile, key)
        }
        fn entry_flush(&mut self, profile: &str) -> Result<(), Error> {
            self.0.borrow_mut().entry_flush(profile)
        }
        fn entry_dump(&mut self, profile: &str) -> Result<Vec<Entry>, Error> {
            self.0.borrow_mut().entry_dump(profile)
        }
    }

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
            Some("profile moh ipv4 to:198.51.100.7:4000 rules 0 entries 0")
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
                &["profile", "add", "a", "--random-seed", "1"],
                "--random-seed needs --to-source or --to-ports (a profile without them has \
                 entries only)",
            ),
            (
                &["profile", "entry", "add", "a", "10.0.0.1:5"],
                "--to-source or --to-ports is required",
            ),
            (
                &["profile", "entry", "add", "a", "10.0.0.1", "--to-source", "1.2.3.4"],
                "a destination of protocol udp needs a port (1-65535): ADDR:PORT, [ADDR]:PORT for IPv6",
            ),
            (
                &["profile", "entry", "del", "a", "10.0.0.1:5", "-p", "icmp"],
                "protocol icmp has no ports: give the destination address alone",
            ),
            (
                &["profile", "entry", "set", "a", "10.0.0.1:5", "--to-source", "2001:db8::1"],
                "\"2001:db8::1\" is an IPv6 address, the destination 10.0.0.1:5 is IPv4: an \
                 entry maps to addresses of its destination's family",
            ),
            (
                &["profile", "entry", "add", "a", "10.0.0.1:5", "-p", "gre", "--to-ports", "1"],
                "bad protocol \"gre\": udp, tcp, udplite, sctp, dccp, icmp, icmpv6 or a number 0-255",
            ),
            (
                &["profile", "entry", "flush", "a/b"],
                "bad profile name: 1-31 letters, digits, '-', '_' or '.'",
            ),
            (
                &["profile", "entry", "list", "a b"],
                "bad profile name: 1-31 letters, digits, '-', '_' or '.'",
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

    fn moh_with_entries() -> Rc<RefCell<Fake>> {
        let k = kernel();
        for args in [
            &["profile", "add", "moh"][..],
            &[
                "profile",
                "entry",
                "add",
                "moh",
                "203.0.113.5:31000",
                "--to-source",
                "198.51.100.7:10002",
            ],
            &[
                "profile",
                "entry",
                "add",
                "moh",
                "203.0.113.9:31002",
                "--to-source",
                "198.51.100.7:10004",
            ],
            &[
                "profile",
                "entry",
                "add",
                "moh",
                "203.0.113.5:5060",
                "-p",
                "tcp",
                "--to-ports",
                "5060-5070",
                "--random-seed",
                "3",
            ],
            &[
                "profile",
                "entry",
                "add",
                "moh",
                "203.0.113.5",
                "--proto",
                "icmp",
                "--to-source",
                "198.51.100.8",
            ],
        ] {
            let r = run(&k, args);
            assert_eq!(r.code(), 0, "{args:?}: {}", r.message());
        }
        k
    }

    #[test]
    fn entry_add_set_del_flush_list() {
        let k = moh_with_entries();
        let r = run(&k, &["profile", "show", "moh"]);
        assert_eq!(
            r.out.lines().next(),
            Some("profile moh ipv4 entries-only rules 0 entries 4")
        );
        let r = run(&k, &["profile", "entry", "list", "moh"]);
        assert_eq!(
            r.out,
            "PROTO  DESTINATION        TO                  SEED  PACKETS  BYTES\n\
             icmp   203.0.113.5        198.51.100.8           0        0      0\n\
             tcp    203.0.113.5:5060   :5060-5070             3        0      0\n\
             udp    203.0.113.5:31000  198.51.100.7:10002     0        0      0\n\
             udp    203.0.113.9:31002  198.51.100.7:10004     0        0      0\n"
        );
        // Replace: the counters stay.
        k.borrow_mut().entries.get_mut("moh").unwrap()[0].counters = Some([12, 2064]);
        let r = run(
            &k,
            &[
                "profile",
                "entry",
                "set",
                "moh",
                "203.0.113.5:31000",
                "--to-source",
                "198.51.100.9:10002",
            ],
        );
        assert_eq!((r.code(), r.out.as_str()), (0, ""));
        let r = run(&k, &["profile", "entry", "show", "moh", "--json"]);
        let j: Value = serde_json::from_str(&r.out).unwrap();
        assert_eq!(r.out.matches('\n').count(), 1);
        assert_eq!(
            (j["schema"].clone(), j["profile"].clone()),
            (Value::from(1), Value::from("moh"))
        );
        let e = &j["entries"][2];
        assert_eq!(
            (e["proto"].as_str(), e["dst"].as_str(), e["dport"].as_u64()),
            (Some("udp"), Some("203.0.113.5"), Some(31000))
        );
        assert_eq!(e["to"]["to_source"], "198.51.100.9:10002");
        assert_eq!(
            e["counters"],
            serde_json::json!({"packets": 12, "bytes": 2064})
        );
        assert_eq!(j["entries"][1]["to"]["to_ports"], "5060-5070");
        assert_eq!(j["entries"][1]["to"]["seed"], 3);
        // The errors: exists (7), no such entry (6), no such profile (6), family (1).
        let r = run(
            &k,
            &[
                "profile",
                "entry",
                "add",
                "moh",
                "203.0.113.5:31000",
                "--to-source",
                "198.51.100.7",
            ],
        );
        assert_eq!(r.code(), 7);
        assert_eq!(r.message(), "profile entry add moh udp 203.0.113.5:31000: entry exists: use 'ssnatctl profile entry set' to replace it");
        let r = run(
            &k,
            &[
                "profile",
                "entry",
                "set",
                "moh",
                "203.0.113.5:31001",
                "--to-source",
                "198.51.100.7",
            ],
        );
        assert_eq!(r.code(), 6);
        assert_eq!(
            r.message(),
            "profile entry set moh udp 203.0.113.5:31001: no such entry (see 'ssnatctl profile entry list moh'; 'ssnatctl profile entry add' creates one)"
        );
        let r = run(
            &k,
            &[
                "profile",
                "entry",
                "add",
                "nope",
                "203.0.113.5:1",
                "--to-ports",
                "1",
            ],
        );
        assert_eq!(r.code(), 6);
        assert!(r.message().starts_with("profile entry add nope udp 203.0.113.5:1: no such profile (see 'ssnatctl profile list'"), "{}", r.message());
        assert_eq!(run(&k, &["profile", "entry", "list", "nope"]).code(), 6);
        assert_eq!(run(&k, &["profile", "entry", "flush", "nope"]).code(), 6);
        let r = run(
            &k,
            &[
                "profile",
                "entry",
                "add",
                "moh",
                "[2001:db8::1]:5",
                "--to-source",
                "2001:db8::2",
            ],
        );
        assert_eq!(r.code(), 1);
        assert_eq!(
            r.message(),
            "profile entry add moh udp [2001:db8::1]:5: Invalid argument: destination address length does not match the profile's family (attribute DST_ADDR)"
        );
        // The profile cannot change family while it has entries.
        let r = run(&k, &["profile", "set", "moh", "-6"]);
        assert_eq!(r.code(), 5);
        assert!(
            r.message()
                .ends_with("('ssnatctl profile entry flush moh')"),
            "{}",
            r.message()
        );
        // Delete one (by its protocol), then the rest.
        let r = run(
            &k,
            &[
                "profile",
                "entry",
                "del",
                "moh",
                "203.0.113.5:5060",
                "-p",
                "tcp",
            ],
        );
        assert_eq!(r.code(), 0, "{}", r.message());
        assert_eq!(
            run(
                &k,
                &[
                    "profile",
                    "entry",
                    "delete",
                    "moh",
                    "203.0.113.5:5060",
                    "-p",
                    "tcp"
                ]
            )
            .code(),
            6
        );
        assert_eq!(
            run(&k, &["profile", "entry", "del", "moh", "203.0.113.5:5060"]).code(),
            6
        );
        assert_eq!(k.borrow().entries["moh"].len(), 3);
        assert_eq!(run(&k, &["profile", "entry", "flush", "moh"]).code(), 0);
        assert!(k.borrow().entries["moh"].is_empty());
        assert_eq!(
            run(&k, &["profile", "entry", "list", "moh"]).out,
            "PROTO  DESTINATION  TO  SEED  PACKETS  BYTES\n"
        );
        let r = run(&k, &["profile", "entry", "list", "moh", "-j"]);
        assert_eq!(r.out, "{\"schema\":1,\"profile\":\"moh\",\"entries\":[]}\n");
        // Now it may become IPv6.
        assert_eq!(run(&k, &["profile", "set", "moh", "-6"]).code(), 0);
        let r = run(&k, &["profile", "show", "--json"]);
        let j: Value = serde_json::from_str(&r.out).unwrap();
        assert_eq!(
            (
                j["profiles"][0]["family"].as_str(),
                j["profiles"][0]["to_source"].is_null()
            ),
            (Some("ipv6"), true)
        );
        assert_eq!(j["profiles"][0]["entries"], 0);
        k.borrow_mut().unprivileged = true;
        let r = run(
            &k,
            &[
                "profile",
                "entry",
                "add",
                "moh",
                "[2001:db8::1]:5",
                "--to-source",
                "2001:db8::2",
            ],
        );
        assert_eq!(r.code(), 4);
        assert!(r.message().contains("CAP_NET_ADMIN"));
    }

    #[test]
    fn a_long_entry_list_is_linear() {
        let k = kernel();
        assert_eq!(run(&k, &["profile", "add", "big"]).code(), 0);
        let info = crate::profile::entry_mapping(&crate::cli::EntrySpec {
            key: crate::cli::EntryKeyArgs {
                profile: "big".into(),
                dest: "10.0.0.1:1".into(),
                proto: None,
            },
            to_source: Some("198.51.100.7:10000".into()),
            to_ports: None,
            random_seed: None,
        })
        .unwrap()
        .1;
        let n = 100_000u32;
        {
            let mut f = k.borrow_mut();
            let entries = f.entries.entry("big".into()).or_default();
            for i in (0..n).rev() {
                let b = (i + 1).to_be_bytes();
                entries.push(Entry {
                    key: EntryKey {
                        proto: 17,
                        addr: std::net::Ipv4Addr::new(10, b[1], b[2], b[3]).into(),
                        port: 31000,
                    },
                    info,
                    counters: Some([u64::from(i), 0]),
                });
            }
        }
        let start = std::time::Instant::now();
        let r = run(&k, &["profile", "entry", "list", "big"]);

        assert_eq!(r.out.lines().count(), n as usize + 1);
        assert!(
            r.out
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("udp    10.0.0.1:31000 "),
            "{}",
            &r.out[..200]
        );
        let r = run(&k, &["profile", "entry", "list", "big", "--json"]);
        assert_eq!(r.out.matches("{\"proto\":\"udp\",").count(), n as usize);
        assert_eq!(r.out.lines().count(), 1);
        let saved = run(&k, &["save"]).out;
        assert_eq!(saved.lines().count(), n as usize + 2);
        let fresh = kernel();
        assert_eq!(run_in(&fresh, &["restore"], &saved).code(), 0);
        assert_eq!(fresh.borrow().entries["big"].len(), n as usize);
        // Seconds even unoptimised; a quadratic copy would take minutes.
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn save_restore_entries() {
        let k = moh_with_entries();
        assert_eq!(
            run(&k, &["profile", "add", "v6", "--to-source", "2001:db8::7"]).code(),
            0
        );
        assert_eq!(
            run(
                &k,
                &[
                    "profile",
                    "entry",
                    "add",
                    "v6",
                    "[2001:db8::5]:31000",
                    "--to-ports",
                    "4000"
                ]
            )
            .code(),
            0
        );
        let saved = run(&k, &["save"]).out;
        assert_eq!(
            saved.lines().skip(1).collect::<Vec<_>>(),
            [
                "profile add moh",
                "profile entry add moh 203.0.113.5 -p icmp --to-source 198.51.100.8",
                "profile entry add moh 203.0.113.5:5060 -p tcp --to-ports 5060-5070 --random-seed 3",
                "profile entry add moh 203.0.113.5:31000 --to-source 198.51.100.7:10002",
                "profile entry add moh 203.0.113.9:31002 --to-source 198.51.100.7:10004",
                "profile add v6 --to-source 2001:db8::7",
                "profile entry add v6 [2001:db8::5]:31000 --to-ports 4000",
            ]
        );
        // Into an empty namespace: the same profiles and entries.
        let fresh = kernel();
        let r = run_in(&fresh, &["restore"], &saved);
        assert_eq!(r.code(), 0, "{}", r.message());
        assert_eq!(run(&fresh, &["save"]).out, saved);
        // Again: nothing changes, nothing is even dumped twice.
        fresh.borrow_mut().log.clear();
        assert_eq!(run_in(&fresh, &["restore"], &saved).code(), 0);
        let log = fresh.borrow().log.clone();
        assert!(
            !log.iter().any(|l| l.starts_with("set")
                || l.starts_with("EntryAdd")
                || l.starts_with("EntrySet")
                || l.starts_with("EntryDel")),
            "{log:?}"
        );
        // A changed file: the profile's entries become the file's: one replaced, one
        // deleted, one added; the other profile's entry of the file only: left as is.
        let changed = saved
            .replace(
                "203.0.113.5:31000 --to-source 198.51.100.7:10002",
                "203.0.113.5:31000 --to-source 198.51.100.7:10012",
            )
            .replace(
                "profile entry add moh 203.0.113.9:31002 --to-source 198.51.100.7:10004\n",
                "",
            )
            + "profile entry add moh 203.0.113.10:31004 --to-source 198.51.100.7:10006\n";
        fresh.borrow_mut().log.clear();
        // Counters survive a replacement.
        for e in fresh.borrow_mut().entries.get_mut("moh").unwrap() {
            if e.key.port == 31000 {
                e.counters = Some([5, 50]);
            }
        }
        let r = run_in(&fresh, &["restore"], &changed);
        assert_eq!(r.code(), 0, "{}", r.message());
        let log: Vec<String> = fresh
            .borrow()
            .log
            .iter()
            .filter(|l| l.starts_with("Entry") && !l.starts_with("EntryDump"))
            .cloned()
            .collect();
        assert_eq!(
            log,
            [
                "EntryDel moh udp 203.0.113.9:31002",
                "EntrySet moh udp 203.0.113.5:31000",
                "EntryAdd moh udp 203.0.113.10:31004",
            ]
        );
        let list = run(&fresh, &["profile", "entry", "list", "moh", "--json"]).out;
        let j: Value = serde_json::from_str(&list).unwrap();
        let e = j["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["dport"] == 31000)
            .unwrap()
            .clone();
        assert_eq!(
            (
                e["to"]["to_source"].as_str(),
                e["counters"]["packets"].as_u64()
            ),
            (Some("198.51.100.7:10012"), Some(5))
        );
        assert_eq!(run_in(&fresh, &["restore"], &changed).code(), 0);
        let again = run(&fresh, &["save"]).out;
        assert_eq!(
            again
                .lines()
                .filter(|l| l.contains("entry add moh"))
                .count(),
            4
        );
        // A profile replaced by one of another family: its old entries go first.
        let v4 =
            "profile add v6 --to-source 192.0.2.1\nprofile entry add v6 192.0.2.9:5 --to-ports 9\n";
        fresh.borrow_mut().log.clear();
        let r = run_in(&fresh, &["restore"], v4);
        assert_eq!(r.code(), 0, "{}", r.message());
        let log = fresh.borrow().log.clone();
        let pos = |what: &str| {
            log.iter()
                .position(|l| l.starts_with(what))
                .unwrap_or_else(|| panic!("{what}: {log:?}"))
        };
        assert!(
            pos("EntryFlush v6") < pos("set v6") && pos("set v6") < pos("EntryAdd v6"),
            "{log:?}"
        );
        assert_eq!(
            run(&fresh, &["profile", "entry", "list", "v6"])
                .out
                .lines()
                .count(),
            2
        );
        // Not while rules use it: refused, and the entries stay.
        fresh.borrow_mut().rules.insert("v6".into(), 1);
        let r = run_in(
            &fresh,
            &["restore"],
            "profile add v6 --to-source 2001:db8::1\n",
        );
        assert_eq!(r.code(), 5, "{}", r.message());
        assert_eq!(fresh.borrow().entries["v6"].len(), 1);
        fresh.borrow_mut().rules.clear();
        // Entries of a profile the input does not add: created or replaced, others kept.
        let only = "profile entry add moh 203.0.113.5:31000 --to-source 198.51.100.7:10099\n\
                    profile entry add moh 203.0.113.11:1 --to-source 198.51.100.7\n";
        let r = run_in(&fresh, &["restore"], only);
        assert_eq!(r.code(), 0, "{}", r.message());
        let list = run(&fresh, &["profile", "entry", "list", "moh"]).out;
        assert_eq!(list.lines().count(), 6, "{list}");
        assert!(list.contains("198.51.100.7:10099"), "{list}");
        // Errors name the line: an entry of a profile that does not exist.
        let r = run_in(
            &fresh,
            &["restore"],
            "# x\nprofile entry add gone 10.0.0.1:1 --to-ports 1\n",
        );
        assert_eq!(r.code(), 6);
        assert!(
            r.message()
                .starts_with("line 2: profile entry add gone udp 10.0.0.1:1: no such profile"),
            "{}",
            r.message()
        );
    }

    #[test]
    fn monitor_prints_entry_events() {
        let k = moh_with_entries();
        let e = k.borrow().entries["moh"][0].clone();
        let p = k.borrow().profiles["moh"].clone();
        k.borrow_mut().events = vec![
            change(EventKind::New, &p),
            Event::EntryChange {
                kind: EventKind::New,
                profile: "moh".into(),
                entry: Box::new(e.clone()),
            },
            Event::EntryChange {
                kind: EventKind::Set,
                profile: "moh".into(),
                entry: Box::new(e.clone()),
            },
            Event::EntryDel {
                profile: "moh".into(),
                key: e.key,
            },
            Event::EntryFlush {
                profile: "moh".into(),
                deleted: 3,
            },
        ];
        let r = run(&k, &["monitor"]);
        assert_eq!(
            r.out,
            "new moh entries-only\n\
             entry new moh udp 203.0.113.5:31000 198.51.100.7:10002\n\
             entry set moh udp 203.0.113.5:31000 198.51.100.7:10002\n\
             entry del moh udp 203.0.113.5:31000\n\
             entry flush moh 3\n"
        );
        k.borrow_mut().events = vec![
            Event::EntryChange {
                kind: EventKind::New,
                profile: "moh".into(),
                entry: Box::new(e.clone()),
            },
            Event::EntryDel {
                profile: "moh".into(),
                key: e.key,
            },
            Event::EntryFlush {
                profile: "moh".into(),
                deleted: 3,
            },
        ];
        let r = run(&k, &["monitor", "--json"]);
        let lines: Vec<Value> = r
            .out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["event"], "entry-new");
        assert_eq!(lines[0]["profile"], Value::Null);
        assert_eq!(lines[0]["entry"]["profile"], "moh");
        assert_eq!(lines[0]["entry"]["to"]["to_source"], "198.51.100.7:10002");
        assert_eq!(lines[1]["event"], "entry-del");
        assert_eq!(lines[1]["entry"]["to"], Value::Null);
        assert_eq!(
            lines[2],
            serde_json::json!({"schema": 1, "event": "entry-flush", "profile": null, "flush": {"profile": "moh", "entries": 3}})
        );
    }
}
