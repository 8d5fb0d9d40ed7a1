//! The table of the iptables command being parsed, read from its argument vector.
//!
//! libxtables does not tell an extension the table: neither `struct xt_option_call` nor
//! `struct xt_fcheck_call` has a member for it (libxtables 1.8.9 to 1.8.11). But it hands
//! the old-style `parse` callback the argument vector that iptables' getopt_long() walks:
//! `ip[6]tables ... -t nat ...`'s own, or for `ip[6]tables-restore` the one it builds for
//! each rule line, `PROG -t TABLE RULE...` (TABLE from the `*TABLE` line). Legacy and nft
//! iptables (`xtables-legacy-multi`, `xtables-nft-multi`) both do this, so the extension
//! reads the table there, as [`table_arg`] does.
//!
//! [`table_arg`] reads the vector the way getopt_long() does with iptables' options:
//! short options by iptables' option string ([`IPT_SHORT_OPTIONS`]: clusters such as
//! `-vt nat`, an attached `-tnat`), long options by the program's option table
//! (`--table nat`, `--table=nat`, an unambiguous abbreviation such as `--tab nat`), so
//! that another option's argument (`-m comment --comment -t`) is never taken for a `-t`.
//! The last table given wins, as in iptables. Pure Rust, no FFI: the caller turns the C
//! vector and `struct option` table into slices.

/// Whether an option takes an argument, getopt's `has_arg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HasArg {
    /// `no_argument`.
    No,
    /// `required_argument`: attached (`-tnat`, `--table=nat`) or the next word.
    Required,
    /// `optional_argument`: attached only.
    Optional,
}

impl HasArg {
    /// From `struct option`'s `has_arg` (0, 1, 2; anything else is taken as 2, as glibc
    /// does for values above 1).
    pub fn from_c(has_arg: i32) -> HasArg {
        match has_arg {
            0 => HasArg::No,
            1 => HasArg::Required,
            _ => HasArg::Optional,
        }
    }
}

/// One entry of a program's long option table (`struct option`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongOpt<'a> {
    /// The name, without `--`.
    pub name: &'a [u8],
    /// Whether it takes an argument.
    pub has_arg: HasArg,
    /// `flag`, as an address: only compared (two abbreviation candidates that differ in
    /// it are ambiguous).
    pub flag: usize,
    /// What getopt_long() returns for it; `'t'` for `--table`.
    pub val: i32,
}

/// The short options of iptables and ip6tables, as getopt's option string
/// (`IPT_OPTSTRING` of iptables' `xshared.h`, without its leading `-:`): a letter with
/// `:` takes an argument, with `::` an optional (attached) one. The union of iptables
/// 1.8.x, whose versions differ only in options without argument (`-b`, `-v`, `-x`), so
/// that it splits every version's clusters as that version does.
pub const IPT_SHORT_OPTIONS: &[u8] =
    b"A:C:D:E:F::I:L::M:N:P:R:S::VX::Z::c:d:i:j:o:p:s:t:vW::46bfg:h::m:nw::x";

/// What getopt returns for `-t` and `--table`.
const TABLE: i32 = b't' as i32;

/// Whether short option `c` takes an argument in `optstring`, or `None` if `c` is not
/// an option there.
fn short_option(optstring: &[u8], c: u8) -> Option<HasArg> {
    if c == b':' {
        return None;
    }
    let at = optstring.iter().position(|&o| o == c)?;
    let colons = optstring[at + 1..]
        .iter()
        .take(2)
        .take_while(|&&o| o == b':')
        .count();
    Some(match colons {
        0 => HasArg::No,
        1 => HasArg::Required,
        _ => HasArg::Optional,
    })
}

/// The long option `name` (without `--` and `=...`) stands for, as getopt_long()
/// decides: the exact name, else the one option it abbreviates (or several that only
/// differ in name); `None` if it is unknown or ambiguous (getopt's `?`).
fn long_option<'o, 'a>(long: &'o [LongOpt<'a>], name: &[u8]) -> Option<&'o LongOpt<'a>> {
    if name.is_empty() {
        return None;
    }
    if let Some(exact) = long.iter().find(|o| o.name == name) {
        return Some(exact);
    }
    let mut candidates = long.iter().filter(|o| o.name.starts_with(name));
    let first = candidates.next()?;
    let same =
        |o: &&LongOpt<'_>| o.has_arg == first.has_arg && o.flag == first.flag && o.val == first.val;
    candidates.all(|o| same(&o)).then_some(first)
}

/// The table a command line gives with `-t`/`--table`, the last one if several, or
/// `None` if none does (iptables then uses `filter`).
///
/// `args` is the whole argument vector, `args[0]` the program name (skipped, as getopt
/// does); `long` the program's long options (`xt_params->opts`: iptables' own and those
/// of the extensions loaded). The vector is read as getopt_long() with iptables' option
/// string `-:...` reads it: in order, words that are not options skipped, up to a `--`.
/// An option's argument is never read as an option. A word that is no known option (or
/// an ambiguous abbreviation) is skipped: iptables refuses such a command anyway.
pub fn table_arg<'a>(args: &[&'a [u8]], long: &[LongOpt<'_>]) -> Option<&'a [u8]> {
    let mut table = None;
    let mut i = 1;
    while i < args.len() {
        let word = args[i];
        i += 1;
        if word == b"--" {
            break;
        }
        // "", "-" and words without a leading '-' are not options.
        let Some(body) = word.strip_prefix(b"-").filter(|b| !b.is_empty()) else {
            continue;
        };
        if let Some(body) = body.strip_prefix(b"-") {
            let (name, attached) = match body.iter().position(|&b| b == b'=') {
                Some(eq) => (&body[..eq], Some(&body[eq + 1..])),
                None => (body, None),
            };
            let Some(opt) = long_option(long, name) else {
                continue;
            };
            let arg = match opt.has_arg {
                HasArg::No => None,
                HasArg::Optional => attached,
                HasArg::Required => attached.or_else(|| {
                    let next = args.get(i).copied();
                    i += usize::from(next.is_some());
                    next
                }),
            };
            if opt.val == TABLE && arg.is_some() {
                table = arg;
            }
            continue;
        }
        // A cluster of short options: "-t", "-tnat", "-vt", "-nvL".
        for (at, &c) in body.iter().enumerate() {
            let rest = &body[at + 1..];
            match short_option(IPT_SHORT_OPTIONS, c) {
                // Unknown (getopt's '?') or no argument: on with the cluster.
                None | Some(HasArg::No) => continue,
                // The rest of the word, if any, is the argument.
                Some(HasArg::Optional) => {}
                Some(HasArg::Required) => {
                    let arg = if !rest.is_empty() {
                        Some(rest)
                    } else {
                        let next = args.get(i).copied();
                        i += usize::from(next.is_some());
                        next
                    };
                    if i32::from(c) == TABLE {
                        if let Some(arg) = arg {
                            table = Some(arg);
                        }
                    }
                }
            }
            break;
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// iptables' own long options that take an argument (part of `original_opts`),
    /// plus some of extensions, as `xt_params->opts` holds them after loading.
    fn long_options() -> Vec<LongOpt<'static>> {
        let opt = |name: &'static str, has_arg, val: u8| LongOpt {
            name: name.as_bytes(),
            has_arg,
            flag: 0,
            val: i32::from(val),
        };
        let ext = |name: &'static str, has_arg, val: i32| LongOpt {
            name: name.as_bytes(),
            has_arg,
            flag: 0,
            val,
        };
        vec![
            opt("append", HasArg::Required, b'A'),
            opt("delete", HasArg::Required, b'D'),
            opt("check", HasArg::Required, b'C'),
            opt("insert", HasArg::Required, b'I'),
            opt("list", HasArg::Optional, b'L'),
            opt("list-rules", HasArg::Optional, b'S'),
            opt("protocol", HasArg::Required, b'p'),
            opt("source", HasArg::Required, b's'),
            opt("jump", HasArg::Required, b'j'),
            opt("table", HasArg::Required, b't'),
            opt("match", HasArg::Required, b'm'),
            opt("numeric", HasArg::No, b'n'),
            opt("verbose", HasArg::No, b'v'),
            opt("wait", HasArg::Optional, b'w'),
            // -m comment, -j SSNAT: offsets above 255.
            ext("comment", HasArg::Required, 256),
            ext("to-source", HasArg::Required, 512),
            ext("to-ports", HasArg::Required, 513),
            ext("random-seed", HasArg::Required, 514),
            ext("profile", HasArg::Required, 515),
        ]
    }

    fn table_of(line: &str) -> Option<String> {
        let words: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        table_arg(&words, &long_options()).map(|t| String::from_utf8(t.to_vec()).unwrap())
    }

    #[test]
    fn short_options_follow_iptables_option_string() {
        assert_eq!(
            short_option(IPT_SHORT_OPTIONS, b't'),
            Some(HasArg::Required)
        );
        assert_eq!(
            short_option(IPT_SHORT_OPTIONS, b'j'),
            Some(HasArg::Required)
        );
        assert_eq!(
            short_option(IPT_SHORT_OPTIONS, b'L'),
            Some(HasArg::Optional)
        );
        assert_eq!(short_option(IPT_SHORT_OPTIONS, b'v'), Some(HasArg::No));
        assert_eq!(short_option(IPT_SHORT_OPTIONS, b'x'), Some(HasArg::No));
        assert_eq!(short_option(IPT_SHORT_OPTIONS, b'q'), None);
        assert_eq!(short_option(IPT_SHORT_OPTIONS, b':'), None);
        // Every letter with an argument in iptables 1.8.9's IPT_OPTSTRING (and 1.8.11's).
        for c in b"ACDEIMNPRcdijopstgm" {
            assert_eq!(
                short_option(IPT_SHORT_OPTIONS, *c),
                Some(HasArg::Required),
                "-{}",
                *c as char
            );
        }
        for c in b"FLSXZWhw" {
            assert_eq!(short_option(IPT_SHORT_OPTIONS, *c), Some(HasArg::Optional));
        }
        for c in b"V46bfnvx" {
            assert_eq!(short_option(IPT_SHORT_OPTIONS, *c), Some(HasArg::No));
        }
    }

    /// Command line (words split at single spaces) | the table it gives ("-" for none).
    const LINES: &str = r#"
        iptables -t nat -A POSTROUTING -j SSNAT --to-source 1.2.3.4 | nat
        iptables -A OUTPUT -j SSNAT --to-source 1.2.3.4 | -
        iptables -tnat -A POSTROUTING -j SSNAT --to-source 1.2.3.4 | nat
        iptables --table nat -A POSTROUTING -j SSNAT --to-source 1.2.3.4 | nat
        iptables --table=nat -A POSTROUTING -j SSNAT --to-source 1.2.3.4 | nat
        iptables --tab nat -A POSTROUTING -j SSNAT --to-source 1.2.3.4 | nat
        iptables --ta=mangle -A POSTROUTING -j SSNAT --to-source 1.2.3.4 | mangle
        iptables --t=mangle -A POSTROUTING -j SSNAT --to-source 1.2.3.4 | -
        iptables -vt nat -A POSTROUTING -j SSNAT --to-source 1.2.3.4 | nat
        iptables -nvtraw -A OUTPUT -j SSNAT --to-source 1.2.3.4 | raw
        iptables -A POSTROUTING -j SSNAT --to-source 1.2.3.4 -t nat | nat
        iptables -t raw -t nat -A POSTROUTING -j SSNAT --to-source 1.2.3.4 | nat
        iptables -t nat -t raw -A OUTPUT -j SSNAT --to-source 1.2.3.4 | raw
        iptables -t -A | -A
        iptables -A OUTPUT -m comment --comment -t -j SSNAT --to-source 1.2.3.4 | -
        iptables -A OUTPUT -m comment --comment=-tnat -j SSNAT --profile moh | -
        iptables -A OUTPUT -m comment --comm -t -j SSNAT --profile moh | -
        iptables -A OUTPUT -j SSNAT --profile -t | -
        iptables -A OUTPUT -p -t -j SSNAT --profile moh | -
        iptables -A -t -j SSNAT --profile moh | -
        iptables -I OUTPUT 1 -j SSNAT --profile moh -t mangle | mangle
        iptables -L -t nat | nat
        iptables -Lt nat | -
        iptables -wt nat | -
        iptables -A OUTPUT -j SSNAT --profile moh -- -t nat | -
        iptables -A OUTPUT  -t nat | nat
        iptables -A OUTPUT ! -t nat | nat
        iptables -A OUTPUT -j SSNAT --profile moh -t | -
        iptables -A OUTPUT -j SSNAT --profile moh --table | -
        iptables -A OUTPUT --ta=filter --bogus -t nat | nat
        iptables -A OUTPUT --bogus=-t -t raw | raw
        iptables -A OUTPUT --numeric=nat -q -t raw | raw
        iptables -t nat -t | nat
        -t nat | -
        iptables | -
        iptables-restore -t nat -A POSTROUTING -j SSNAT --to-source 1.2.3.4 | nat
        ip6tables -t security -A OUTPUT -j SSNAT --to-source 2001:db8::1 | security
    "#;

    #[test]
    fn tables_of_command_lines() {
        for line in LINES.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (args, want) = line.rsplit_once(" | ").unwrap();
            let want = (want != "-").then(|| want.to_owned());
            assert_eq!(table_of(args), want, "{args}");
        }
        assert_eq!(table_arg(&[], &long_options()), None);
    }

    #[test]
    fn long_options_without_a_table_option() {
        // No long option table (a program that has none): -t is still found.
        let words: Vec<&[u8]> = ["iptables", "--table", "nat", "-t", "raw", "--table=nat"]
            .map(str::as_bytes)
            .to_vec();
        assert_eq!(table_arg(&words, &[]), Some(&b"raw"[..]));
    }

    #[test]
    fn abbreviations_as_getopt_long_resolves_them() {
        let long = long_options();
        let name = |n: &str| long_option(&long, n.as_bytes()).map(|o| o.name);
        assert_eq!(name("table"), Some(&b"table"[..]));
        assert_eq!(name("tab"), Some(&b"table"[..]));
        // "t" and "to" abbreviate table, to-source and to-ports: ambiguous.
        assert_eq!(name("t"), None);
        assert_eq!(name("to"), None);
        assert_eq!(name("to-s"), Some(&b"to-source"[..]));
        assert_eq!(name("list"), Some(&b"list"[..]));
        // "list" is exact, though "list-rules" starts with it too; "li" is ambiguous.
        assert_eq!(name("li"), None);
        assert_eq!(name(""), None);
        assert_eq!(name("tables"), None);
        // Candidates that differ only in name are not ambiguous (glibc).
        let twins = [
            LongOpt {
                name: b"table",
                has_arg: HasArg::Required,
                flag: 0,
                val: TABLE,
            },
            LongOpt {
                name: b"tablename",
                has_arg: HasArg::Required,
                flag: 0,
                val: TABLE,
            },
        ];
        assert_eq!(
            long_option(&twins, b"tabl").map(|o| o.name),
            Some(&b"table"[..])
        );
        assert_eq!(HasArg::from_c(0), HasArg::No);
        assert_eq!(HasArg::from_c(1), HasArg::Required);
        assert_eq!(HasArg::from_c(2), HasArg::Optional);
    }
}
