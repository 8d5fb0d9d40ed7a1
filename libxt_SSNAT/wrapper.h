/* Input of bindgen (build.rs): everything libxt_SSNAT needs from C. */
#include <stdio.h>   /* printf, fflush, stdout: write where iptables writes */
#include <xtables.h> /* struct xtables_target, xt_option_*, xt_params, ... */
