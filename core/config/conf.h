/*
 * conf.h -- the INI config file (inih); conf/netkit.ini shows every key.
 *
 * Sections: [netkit] (plugin_path, log_level, workers), [listen.NAME] (proto,
 * host (repeatable), port (required), transport, family, max_conns,
 * max_conns_per_ip, idle_timeout, message_timeout, write_timeout,
 * max_output, udp_rate, udp_allow_low_ports, allow, deny, proxy_protocol,
 * proxy_trusted, tls and tls_*, sockopt.NAME), [plugin.NAME]
 * (any key: validated later against the plugin's own option table, with the
 * line kept for the error message).
 *
 * inih (Debian r55) is read through a counting reader so every error names
 * its line, and so that a line longer than inih reads whole is an error
 * rather than silently split.  Values may be "quoted" with escapes.
 */
#ifndef NK_CORE_CONF_H
#define NK_CORE_CONF_H

#include "base/err.h"
#include "config/settings.h"

/* The config file netkit reads without -c: $NETKIT_CONFIG, else (unless
 * the binary is in a build tree, see nk__exe_in_build_tree) the installed
 * netkit.ini if it exists (at the configured prefix, else where an install
 * under the prefix BINDIR/.. puts it, see config/sysconf.h), else NULL
 * (built-in defaults). */
const char *nk__conf_default_path(void);

/*
 * Load `path` into s: sets s->config_file, the [netkit] fields (unless the
 * command line set them), appends listeners and plugin sections.  Returns 0,
 * or -1 with err naming the file, the line and what to do.
 */
int nk__conf_load(struct nk__settings *s, const char *path, struct nk_err *err);

/* Where a key of [netkit] (s->key_line) or of a listener (l->key_line) was
 * first set in the file: its line, or 0 when the file did not set it. */
int nk__conf_key_line(const int *key_line, const char *name);

/* Load the config file the settings name: -c, else $NETKIT_CONFIG (the
 * error then says so), else the installed one, else none.  0 or -1. */
int nk__conf_load_chosen(struct nk__settings *s, struct nk_err *err);

/* Build fresh settings (s from nk__settings_init) as at start-up, from the
 * same command line and the config file as it is now: SIGHUP's reload. */
int nk__settings_reload(struct nk__settings *s, int argc, char **argv,
                        struct nk_err *err);

#endif /* NK_CORE_CONF_H */
