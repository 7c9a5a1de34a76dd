/*
 * settings.c -- the one settings struct, its lists, and the merge of
 * command line and config file.  See settings.h.
 */
#include "config/settings.h"

#include <sys/socket.h>
#include <limits.h>
#include <unistd.h>

#include <stdio.h>
#include <string.h>

#include <netkit/plugin.h>

#include "base/alloc.h"
#include "config/conf.h"
#include "config/sockopt.h"

/* ---- lists ------------------------------------------------------------- */

/*
 * The lists grow one item at a time with realloc.  They hold a config
 * file's worth of entries, so the simplicity is worth more than amortized
 * growth.  On failure the list is unchanged.
 */
int
nk__strlist_add(struct nk__strlist *l, const char *s)
{
    char *copy = nk__strdup(s);
    char **items;

    if (copy == NULL)
        return -1;
    items = nk__realloc(l->items, (l->n + 1) * sizeof(*items));
    if (items == NULL) {
        nk__free(copy);
        return -1;
    }
    items[l->n++] = copy;
    l->items = items;
    return 0;
}

void
nk__strlist_free(struct nk__strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        nk__free(l->items[i]);
    nk__free(l->items);
    l->items = NULL;
    l->n = 0;
}

int
nk__kvlist_add(struct nk__kvlist *l, const char *key, const char *val,
               size_t len, const char *file, int line)
{
    struct nk__kv kv = {nk__strdup(key), nk__memdup(val, len), len, file, line};
    struct nk__kv *items;

    if (kv.key == NULL || kv.val == NULL)
        goto fail;
    items = nk__realloc(l->items, (l->n + 1) * sizeof(*items));
    if (items == NULL)
        goto fail;
    items[l->n++] = kv;
    l->items = items;
    return 0;
fail:
    nk__free(kv.key);
    nk__free(kv.val);
    return -1;
}

/* The last one wins, so a later setting of a key overrides an earlier one. */
const struct nk__kv *
nk__kvlist_find(const struct nk__kvlist *l, const char *key)
{
    for (size_t i = l->n; i > 0; i--)
        if (strcmp(l->items[i - 1].key, key) == 0)
            return &l->items[i - 1];
    return NULL;
}

void
nk__kvlist_free(struct nk__kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        nk__free(l->items[i].key);
        nk__free(l->items[i].val);
    }
    nk__free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* Append copies of every item of src to dst, keeping their origin. */
static int
settings_kvlist_append(struct nk__kvlist *dst, const struct nk__kvlist *src)
{
    for (size_t i = 0; i < src->n; i++) {
        const struct nk__kv *kv = &src->items[i];

        if (nk__kvlist_add(dst, kv->key, kv->val, kv->len, kv->file, kv->line) <
            0)
            return -1;
    }
    return 0;
}

/* ---- listeners and plugin sections -------------------------------------- */

/*
 * proto is owned, so the default is a copy.  init cannot report a failed
 * allocation; proto then stays NULL and nk__settings_finish fills it in (or
 * reports "out of memory"), so every finished listener has a proto.
 */
void
nk__listen_conf_init(struct nk__listen_conf *l)
{
    memset(l, 0, sizeof(*l));
    l->proto = nk__strdup(NK_DEFAULT_PROTO);
    l->port = NK_DEFAULT_PORT;
    l->transport = NK_TRANSPORT_TCP;
    l->family = AF_UNSPEC;
    l->max_conns = NK_DEFAULT_MAX_CONNS;
    l->idle_timeout = NK_DEFAULT_IDLE_TIMEOUT;
    l->message_timeout = NK_DEFAULT_MESSAGE_TIMEOUT;
    l->write_timeout = NK_DEFAULT_WRITE_TIMEOUT;
    l->max_output = NK_DEFAULT_MAX_OUTPUT;
    l->udp_rate = NK_DEFAULT_UDP_RATE;
    l->tls.on = -1;
    l->tls.handshake_timeout = NK_DEFAULT_TLS_HANDSHAKE_TIMEOUT;
    l->unix_uid = l->unix_gid = -1;
}

static void
settings_tls_free(struct nk__tls_conf *t)
{
    nk__kvlist_free(&t->certs);
    nk__kvlist_free(&t->keys);
    nk__free(t->ca);
    nk__free(t->ciphers);
    nk__free(t->ciphersuites);
    nk__free(t->alpn);
}

void
nk__listen_conf_free(struct nk__listen_conf *l)
{
    nk__free(l->name);
    nk__free(l->proto);
    nk__strlist_free(&l->hosts);
    nk__kvlist_free(&l->sockopts);
    nk__acl_free(&l->acl);
    nk__cidr_list_free(&l->proxy_trusted);
    settings_tls_free(&l->tls);
    memset(l, 0, sizeof(*l));
}

/* A deep copy of src named `name`, without a config location.  On failure
 * dst holds whatever was copied and must still be freed. */
static int
settings_listen_copy(struct nk__listen_conf *dst,
                     const struct nk__listen_conf *src, const char *name)
{
    memset(dst, 0, sizeof(*dst));
    dst->port = src->port;
    dst->transport = src->transport;
    dst->family = src->family;
    dst->max_conns = src->max_conns;
    dst->max_conns_per_ip = src->max_conns_per_ip;
    dst->idle_timeout = src->idle_timeout;
    dst->max_output = src->max_output;
    dst->message_timeout = src->message_timeout;
    dst->write_timeout = src->write_timeout;
    dst->udp_rate = src->udp_rate;
    dst->udp_allow_low_ports = src->udp_allow_low_ports;
    dst->tls.on = -1;
    dst->tls.handshake_timeout = src->tls.handshake_timeout;
    dst->unix_mode = src->unix_mode;
    dst->unix_uid = src->unix_uid;
    dst->unix_gid = src->unix_gid;
    dst->name = nk__strdup(name);
    dst->proto = nk__strdup(src->proto != NULL ? src->proto : NK_DEFAULT_PROTO);
    if (dst->name == NULL || dst->proto == NULL)
        return -1;
    for (size_t i = 0; i < src->hosts.n; i++)
        if (nk__strlist_add(&dst->hosts, src->hosts.items[i]) < 0)
            return -1;
    return settings_kvlist_append(&dst->sockopts, &src->sockopts);
}

struct nk__listen_conf *
nk__settings_add_listener(struct nk__settings *s)
{
    struct nk__listen_conf *ls;

    ls = nk__realloc(s->listeners, (s->nlisteners + 1) * sizeof(*ls));
    if (ls == NULL)
        return NULL;
    s->listeners = ls;
    nk__listen_conf_init(&ls[s->nlisteners]);
    return &ls[s->nlisteners++];
}

struct nk__plugin_conf *
nk__settings_add_plugin(struct nk__settings *s)
{
    struct nk__plugin_conf *ps;

    ps = nk__realloc(s->plugins, (s->nplugins + 1) * sizeof(*ps));
    if (ps == NULL)
        return NULL;
    s->plugins = ps;
    memset(&ps[s->nplugins], 0, sizeof(ps[0]));
    return &ps[s->nplugins++];
}

struct nk__plugin_conf *
nk__settings_find_plugin(const struct nk__settings *s, const char *name)
{
    for (size_t i = 0; i < s->nplugins; i++)
        if (s->plugins[i].name != NULL && strcmp(s->plugins[i].name, name) == 0)
            return &s->plugins[i];
    return NULL;
}

/* ---- the settings ------------------------------------------------------- */

int
nk__exe_dir(char *buf, size_t size)
{
    char exe[PATH_MAX], *slash;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n <= 0)
        return -1;
    exe[n] = '\0';
    if ((slash = strrchr(exe, '/')) == NULL)
        return -1;
    *slash = '\0';
    if ((size_t)snprintf(buf, size, "%s", exe) >= size)
        return -1;
    return 0;
}

int
nk__exe_in_build_tree(void)
{
    char dir[PATH_MAX], cache[PATH_MAX + 32];

    if (nk__exe_dir(dir, sizeof(dir)) < 0)
        return 0;
    snprintf(cache, sizeof(cache), "%s/CMakeCache.txt", dir);
    return access(cache, F_OK) == 0;
}

void
nk__settings_init(struct nk__settings *s)
{
    memset(s, 0, sizeof(*s));
    s->log_level = NK_LOG_INFO;
    s->workers = 1;
    s->max_buffer_memory = NK_DEFAULT_MAX_BUFFER_MEMORY;
    s->timeout = 5.0;
    s->count = 1;
    nk__listen_conf_init(&s->cli);
}

static void
settings_free_listeners(struct nk__settings *s)
{
    for (size_t i = 0; i < s->nlisteners; i++)
        nk__listen_conf_free(&s->listeners[i]);
    nk__free(s->listeners);
    s->listeners = NULL;
    s->nlisteners = 0;
}

void
nk__settings_free(struct nk__settings *s)
{
    settings_free_listeners(s);
    for (size_t i = 0; i < s->nplugins; i++) {
        nk__free(s->plugins[i].name);
        nk__kvlist_free(&s->plugins[i].opts);
    }
    nk__free(s->plugins);
    nk__free(s->plugin_path);
    nk__free(s->config_file);
    nk__free(s->user);
    nk__free(s->group);
    nk__free(s->metrics);
    nk__acl_free(&s->cli_acl);
    nk__strlist_free(&s->plugin_dirs);
    nk__strlist_free(&s->check_samples);
    nk__listen_conf_free(&s->cli);
    nk__kvlist_free(&s->cli_plugin_opts);
    nk__kvlist_free(&s->cli_sockopts);
    nk__free(s->host);
    nk__free(s->port);
    nk__free(s->message);
    nk__free(s->tls_sni);
    nk__free(s->source);
    nk__free(s->listen);
    nk__free(s->plugins_name);
    memset(s, 0, sizeof(*s));
}

/* The NK_SET_* bits that make the command line define the listener. */
#define SETTINGS_CLI_LISTENER                                                  \
    (NK_SET_PROTO | NK_SET_HOST | NK_SET_PORT | NK_SET_UDP | NK_SET_FAMILY)

/*
 * Replace the listeners by one copy of s->cli: the command line's listener
 * when it set any listener field, else the default listener (s->cli then
 * holds only defaults) when no config file was read.  Config listeners are
 * dropped in the first case only; the file's [listen.*] sections are then
 * not used.  A config file without any is an error.
 */
static int
settings_choose_listeners(struct nk__settings *s, struct nk_err *err)
{
    int from_cli = (s->cli_set & SETTINGS_CLI_LISTENER) != 0;
    struct nk__listen_conf *l;

    if (!from_cli && s->nlisteners > 0)
        return 0;
    if (!from_cli && s->config_file != NULL)
        /* A file that says what to serve but no listener: not the
         * built-in default listener in its place. */
        return nk__err_at(err, s->config_file, 0,
                          "no [listen.NAME] section, so nothing to serve: "
                          "add one with a port, or give the listener on the "
                          "command line (-p, -H, -P, -u, -4 or -6)");
    settings_free_listeners(s);
    l = nk__realloc(NULL, sizeof(*l));
    if (l == NULL)
        return nk__err_run(err, "out of memory");
    s->listeners = l;
    s->nlisteners = 1;
    if (settings_listen_copy(l, &s->cli, from_cli ? "cli" : "default") < 0)
        return nk__err_run(err, "out of memory");
    return 0;
}

/*
 * Check one socket option of listener l against its transport, and report
 * it where it was written: the config line, or the -o option.
 */
static int
settings_check_sockopt(const struct nk__listen_conf *l, const struct nk__kv *kv,
                       struct nk_err *err)
{
    struct nk__sockopt_val val;
    char why[300];

    if (strlen(kv->val) != kv->len)
        snprintf(why, sizeof(why), "socket option %s: value holds a NUL byte",
                 kv->key);
    else if (nk__sockopt_parse(kv->key, kv->val, l->transport, &val, why,
                               sizeof(why)) == 0)
        return 0;
    if (kv->file != NULL)
        return nk__err_at(err, kv->file, kv->line, "%s", why);
    if (l->file != NULL)
        return nk__err_set(err, "-o %s=%s (listener [listen.%s]): %s", kv->key,
                           kv->val, l->name, why);
    return nk__err_set(err, "-o %s=%s: %s", kv->key, kv->val, why);
}

/* The PROXY protocol keys: a header starts a byte stream, so TCP only;
 * proxy_trusted means nothing without proxy_protocol.  (transport may come
 * after them in the section: checked here, once the section is whole.) */
static int
settings_check_proxy(const struct nk__listen_conf *l, struct nk_err *err)
{
    if (l->proxy_protocol != 0 && l->transport == NK_TRANSPORT_UDP)
        return nk__err_at(err, l->file, l->proxy_line,
                          "[listen.%s] proxy_protocol: applies to tcp "
                          "listeners only",
                          l->name);
    if (l->proxy_protocol == 0 && l->proxy_trusted_line != 0)
        return nk__err_at(err, l->file, l->proxy_trusted_line,
                          "[listen.%s] proxy_trusted: no effect without "
                          "proxy_protocol (it is off)",
                          l->name);
    return 0;
}

/* A copy of *src into *dst unless src is NULL; -1 when out of memory. */
static int
settings_str_override(char **dst, const char *src)
{
    char *copy;

    if (src == NULL)
        return 0;
    if ((copy = nk__strdup(src)) == NULL)
        return -1;
    nk__free(*dst);
    *dst = copy;
    return 0;
}

/* The command line's --tls-* replace a TCP listener's tls_* keys. */
static int
settings_tls_override(struct nk__settings *s, struct nk__listen_conf *l)
{
    struct nk__tls_conf *t = &l->tls;
    const struct nk__tls_conf *c = &s->cli.tls;

    if (!(s->cli_set & NK_SET_TLS) || l->transport != NK_TRANSPORT_TCP)
        return 0;
    if (c->certs.n > 0) {
        nk__kvlist_free(&t->certs);
        nk__kvlist_free(&t->keys);
        if (settings_kvlist_append(&t->certs, &c->certs) < 0 ||
            settings_kvlist_append(&t->keys, &c->keys) < 0)
            return -1;
        t->on = 1;
        t->on_line = 0;
    }
    if (c->verify != NK_TLS_VERIFY_NONE)
        t->verify = c->verify;
    return settings_str_override(&t->ca, c->ca) < 0 ||
                   settings_str_override(&t->alpn, c->alpn) < 0
               ? -1
               : 0;
}

/* Where a tls key of l was set, for a message: its line, or 0. */
static int
settings_tls_line(const struct nk__listen_conf *l, const char *key)
{
    return nk__conf_key_line(l->key_line, key);
}

/*
 * The TLS keys, before any file is read: tls_cert and tls_key in pairs,
 * TCP only, tls_ca with tls_verify.  A listener with a certificate serves
 * TLS unless `tls = off` (then any other tls_* key is a mistake, as is
 * `tls = on` with no certificate).
 */
static int
settings_check_tls(const struct nk__listen_conf *l, struct nk_err *err)
{
    static const char *const others[] = {
        "tls_ca",   "tls_verify",       "tls_min_version",      "tls_ciphers",
        "tls_alpn", "tls_ciphersuites", "tls_handshake_timeout"};
    const struct nk__tls_conf *t = &l->tls;
    const char *from = l->file != NULL ? "" : " (command line)";
    int any = t->certs.n > 0 || t->keys.n > 0, first = 0;

    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        int line = settings_tls_line(l, others[i]);
        if (line != 0 && (first == 0 || line < first))
            first = line;
    }
    if (t->on == 0) {
        if (any || first != 0)
            return nk__err_at(err, l->file,
                              t->certs.n > 0 ? t->certs.items[0].line : first,
                              "[listen.%s] tls is off: remove the tls_* keys, "
                              "or set tls = on",
                              l->name);
        return 0;
    }
    if (t->on < 0 && !any && first == 0 && t->ca == NULL &&
        t->verify == NK_TLS_VERIFY_NONE && t->alpn == NULL)
        return 0; /* no TLS */
    if (l->transport == NK_TRANSPORT_UDP)
        return nk__err_at(err, l->file,
                          t->on_line ? t->on_line
                          : any      ? t->certs.items[0].line
                                     : first,
                          "[listen.%s] tls applies to tcp listeners only (DTLS "
                          "is not supported)%s",
                          l->name, from);
    if (t->certs.n == 0)
        return nk__err_at(err, l->file, t->on_line ? t->on_line : first,
                          "[listen.%s] tls needs a certificate: add tls_cert "
                          "and tls_key (PEM files)%s",
                          l->name, from);
    if (t->certs.n != t->keys.n) {
        const struct nk__kvlist *more =
            t->certs.n > t->keys.n ? &t->certs : &t->keys;
        size_t i = t->certs.n < t->keys.n ? t->certs.n : t->keys.n;
        return nk__err_at(err, more->items[i].file, more->items[i].line,
                          "[listen.%s] %s %s has no %s to go with it: give "
                          "tls_cert and tls_key in pairs%s",
                          l->name, more == &t->certs ? "tls_cert" : "tls_key",
                          more->items[i].val,
                          more == &t->certs ? "tls_key" : "tls_cert", from);
    }
    if (t->verify != NK_TLS_VERIFY_NONE && t->ca == NULL)
        return nk__err_at(err, l->file, settings_tls_line(l, "tls_verify"),
                          "[listen.%s] tls_verify needs tls_ca (the CAs that "
                          "sign client certificates)%s",
                          l->name, from);
    if (t->verify == NK_TLS_VERIFY_NONE && t->ca != NULL)
        return nk__err_at(err, l->file, settings_tls_line(l, "tls_ca"),
                          "[listen.%s] tls_ca: no effect without tls_verify = "
                          "optional or require%s",
                          l->name, from);
    return 0;
}

/*
 * Apply the command line's per-listener overrides to l, then check its
 * socket options.  -o options go after the listener's own, so they are set
 * later and win (nk__kvlist_find also returns the last).
 */
static int
settings_finish_listener(struct nk__settings *s, struct nk__listen_conf *l,
                         struct nk_err *err)
{
    if (l->proto == NULL && (l->proto = nk__strdup(NK_DEFAULT_PROTO)) == NULL)
        return nk__err_run(err, "out of memory");
    if (settings_kvlist_append(&l->sockopts, &s->cli_sockopts) < 0 ||
        nk__acl_prepend(&l->acl, &s->cli_acl) < 0)
        return nk__err_run(err, "out of memory");
    if (s->cli_set & NK_SET_MAX_CONNS)
        l->max_conns = s->cli.max_conns;
    if (s->cli_set & NK_SET_MAX_CONNS_PER_IP)
        l->max_conns_per_ip = s->cli.max_conns_per_ip;
    if (s->cli_set & NK_SET_IDLE)
        l->idle_timeout = s->cli.idle_timeout;
    if (s->cli_set & NK_SET_MAX_OUTPUT)
        l->max_output = s->cli.max_output;
    if (s->cli_set & NK_SET_MESSAGE_TIMEOUT)
        l->message_timeout = s->cli.message_timeout;
    if (s->cli_set & NK_SET_WRITE_TIMEOUT)
        l->write_timeout = s->cli.write_timeout;
    if (s->cli_set & NK_SET_UDP_RATE)
        l->udp_rate = s->cli.udp_rate;
    if (l->udp_key != NULL && l->transport != NK_TRANSPORT_UDP)
        return nk__err_at(err, l->file, l->udp_line,
                          "[listen.%s] %s applies to UDP listeners only (add "
                          "'transport = udp', or remove it)",
                          l->name, l->udp_key);
    for (size_t i = 0; i < l->sockopts.n; i++)
        if (settings_check_sockopt(l, &l->sockopts.items[i], err) < 0)
            return -1;
    if (settings_tls_override(s, l) < 0)
        return nk__err_run(err, "out of memory");
    if (settings_check_proxy(l, err) < 0)
        return -1;
    return settings_check_tls(l, err);
}

/* See settings.h.  Duplicate listener names are reported by conf.c. */
int
nk__settings_finish(struct nk__settings *s, struct nk_err *err)
{
    int udp = 0, tcp = 0;

    if (settings_choose_listeners(s, err) < 0)
        return -1;
    if (s->group != NULL && s->user == NULL)
        return nk__err_at(err, s->config_file, s->group_line,
                          "[netkit] group: set user too (group alone would "
                          "keep root's user id)");
    for (size_t i = 0; i < s->nlisteners; i++) {
        if (settings_finish_listener(s, &s->listeners[i], err) < 0)
            return -1;
        udp |= s->listeners[i].transport == NK_TRANSPORT_UDP;
        tcp |= s->listeners[i].transport == NK_TRANSPORT_TCP;
    }
    if ((s->cli_set & NK_SET_TLS) && !tcp)
        return nk__err_set(err, "options --tls-* apply to TCP listeners only "
                                "(remove -u)");
    if ((s->cli_set & NK_SET_UDP_RATE) && !udp)
        return nk__err_set(err, "option --udp-rate applies to UDP listeners "
                                "only (add -u)");
    return 0;
}
