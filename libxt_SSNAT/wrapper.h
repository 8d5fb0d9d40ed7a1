/* Input of bindgen (build.rs): everything libxt_SSNAT needs from C. */
#include <stdio.h>   /* printf, fflush, stdout: write where iptables writes */
#include <getopt.h>  /* struct option, optarg, optind: the getopt state iptables parses with */
#include <xtables.h> /* struct xtables_target, xt_option_*, xt_params, ... */
/* The rule entries x6_parse sees (cb->xt_entry): -p and its inversion. */
#include <linux/netfilter_ipv4/ip_tables.h>  /* struct ipt_entry */
#include <linux/netfilter_ipv6/ip6_tables.h> /* struct ip6t_entry, IP6T_F_PROTO */
