/*
 * loader.h -- finding, loading and checking protocol plugins.
 *
 * Search order for NAME.so: -L directories, $NETKIT_PLUGIN_PATH, the config's
 * plugin_path (both colon-separated), the installed plugin directory (at the
 * configured prefix, then relative to the binary), then "plugins/" next to
 * the netkit binary -- which comes before the installed directory when the
 * binary is in a build tree (nk__exe_in_build_tree).
 *
 * All checks live in nk__plugin_open_path(), in order:
 *   - safety: the file (a symbolic link is followed) is a regular file owned
 *     by root or the running user and not writable by group or others, and
 *     so is every directory above it up to /, except that a directory above
 *     the plugin's own may be a root-owned sticky one such as /tmp;
 *   - dlopen (RTLD_NOW | RTLD_LOCAL) of the very descriptor that was
 *     checked, through /proc/self/fd/N;
 *   - entry symbol, ABI major (exact), ABI minor (<= host), struct size,
 *     name == basename, required callbacks.
 * Any failure closes what was opened and explains in one line, naming the
 * path and, for an unsafe file, the command that fixes it.
 */
#ifndef NK_CORE_LOADER_H
#define NK_CORE_LOADER_H

#include <sys/types.h>
#include <stdio.h>
#include <time.h>

#include <netkit/plugin.h>

#include "base/err.h"
#include "config/settings.h"

/*
 * One loaded plugin file.  Opening a file that is loaded already (the same
 * device and inode: a reload of an unchanged plugin) shares its record, one
 * reference per open; a file replaced on disk (a new inode, as install(1)
 * or mv give it) is loaded anew beside the old one.  Records are shared:
 * read-only for their users.
 */
struct nk__plugin {
    char *name;
    char *path;
    void *handle; /* dlopen handle; closed by nk__plugin_close */
    int fd;       /* the checked file, open while the object is loaded */
    const struct nk_plugin *desc; /* &full */
    struct nk_plugin full;   /* the plugin's description at the host's size */
    size_t nopts;            /* rows in desc->options */
    dev_t dev;               /* the file loaded, */
    ino_t ino;               /*   for sharing */
    struct timespec mtime;   /* to notice a file rewritten in place */
    int refs;                /* opens not yet closed */
    struct nk__plugin *next; /* the loaded ones */
};

/* Fill dirs with the plugin search path, in order. */
int nk__plugin_dirs(const struct nk__settings *s, struct nk__strlist *dirs);

/* The path of NAME.so in the first of dirs that has it, into path.  A copy
 * in a later directory (another file) is logged as a warning naming both.
 * An unknown name lists where it looked (status 2). */
int nk__plugin_find(const char *name, const struct nk__strlist *dirs,
                    char *path, size_t size, struct nk_err *err);

/* Find NAME.so in dirs and load it.  An unknown name lists where it looked:
 * "plugin 'nope' not found (looked in: a, b, c)" (status 2). */
int nk__plugin_open(const char *name, const struct nk__strlist *dirs,
                    struct nk__plugin **out, struct nk_err *err);

/* Load one file; `name` must match its basename. */
int nk__plugin_open_path(const char *path, const char *name,
                         struct nk__plugin **out, struct nk_err *err);

/* Drop one reference; the last one dlcloses and frees.  NULL is fine.  Set
 * NK_NO_DLCLOSE=1 in the environment to keep the object mapped, for
 * readable LeakSanitizer stacks. */
void nk__plugin_close(struct nk__plugin *p);

/*
 * Ask the plugin's encode how to wrap a message of payload_len bytes: zero
 * w, call encode, and check what it filled in.  Returns 0, encode's own
 * error (NK_EMSGSIZE), or NK_EINVAL for a plugin that broke the contract (a
 * positive return, a head or tail longer than NK_HDR_MAX, or NK_WRAP_MAX
 * through an _ext pointer), so no caller ever sends bytes from outside what
 * encode pointed at.  Read the bytes with nk__wrap_head / nk__wrap_tail.
 */
int nk__plugin_encode(const struct nk_plugin *d, void *inst, size_t payload_len,
                      struct nk_wrap *w);

/* "plugin 'raw' does not support udp" (status 2) unless it does. */
int nk__plugin_check_transport(const struct nk__plugin *p, unsigned transport,
                               struct nk_err *err);

/*
 * Validate option values against the plugin's table and fill *out (an array
 * of p->nopts values, defaults for what was not given).  `conf` is the
 * [plugin.NAME] section (may be NULL); `cli` the -O list, whose keys the
 * plugin does not know are skipped (they may be for another plugin in use:
 * nk__plugin_cli_unknown reports a key no plugin knows).  Later wins.
 */
int nk__plugin_values(const struct nk__plugin *p, const struct nk__kvlist *conf,
                      const struct nk__kvlist *cli, struct nk_value **out,
                      struct nk_err *err);
void nk__plugin_values_free(const struct nk__plugin *p, struct nk_value *v);

/* Parse one option's default (quoted or as is, like any value) into v;
 * NULL, or what is wrong with it.  v->str is for nk__free. */
const char *nk__plugin_default(const struct nk_option *o, struct nk_value *v);

/* Index of option `key` in p's table, or -1. */
int nk__plugin_option_index(const struct nk__plugin *p, const char *key);

/* Every -O key must be an option of some plugin in use (plugins[0..n)):
 * "-O prefx: plugin 'framed' has no option 'prefx' (did you mean prefix?)"
 * (status 2) otherwise. */
int nk__plugin_check_cli_opts(struct nk__plugin *const *plugins, size_t n,
                              const struct nk__kvlist *cli, struct nk_err *err);

/* The option name nearest to key (for "did you mean"), or NULL. */
const char *nk__plugin_suggest(const struct nk__plugin *p, const char *key);

/*
 * `netkit plugins`: one entry per NAME.so found in dirs.  Each candidate is
 * loaded in a child process (see child.h), so that no plugin code runs in
 * this one: a plugin that is refused, crashes, hangs or exits while loading
 * is listed with the reason ("(refused: plugin P: crashed while loading
 * (signal 11, Segmentation fault))").  A name that an earlier directory
 * already provided is listed as not used.
 */
int nk__plugin_print_list(const struct nk__strlist *dirs, FILE *out);

/* `netkit plugins NAME`: find NAME, load it in a child process and print
 * its options (nk__plugin_print_options) to out; or -1 with err saying why
 * it cannot be used (status 2). */
int nk__plugin_describe(const char *name, const struct nk__strlist *dirs,
                        FILE *out, struct nk_err *err);

/* `netkit plugins NAME`: the plugin and its options. */
void nk__plugin_print_options(const struct nk__plugin *p, FILE *out);

#endif /* NK_CORE_LOADER_H */
