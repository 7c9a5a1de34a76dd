/*
 * conf.c -- the INI config file: inih glue, section and key tables.  See
 * conf.h and the README.
 *
 * inih (Debian r55) does the tokenizing; this file makes it strict.  The
 * counting reader sees every raw line before inih does, so it
 *   - numbers lines for every message (the handler gets no line number);
 *   - rejects a line inih would split (longer than its buffer allows);
 *   - rejects an indented line, which inih would silently append to the
 *     previous key's value;
 *   - rejects "KEY: VALUE" and lines without '=', with a clear message;
 *   - parses section headers itself, so a header is checked on its own line
 *     even when no key follows, and a name inih would cut at 49 bytes is an
 *     error instead of a different section.
 * The handler then looks each key up in a table (nginx's ngx_command_t) and
 * calls its setter, which returns NULL or a phrase (a short reason, no
 * punctuation).
 *
 * The first error stops the parse: the reader returns NULL (end of input)
 * once one is recorded, so the message is always about the first problem.
 */
#include "config/conf.h"

#include <sys/socket.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include <netkit/plugin.h>

#include "base/addr.h"
#include "base/alloc.h"
#include "base/unixaddr.h"
#include "base/cidr.h"
#include "config/cli.h"
#include "config/sockopt.h"
#include "config/sysconf.h"
#include "config/value.h"

#ifndef NK_SYSCONF_REL_DIR
#define NK_SYSCONF_REL_DIR "etc"
#endif
#ifndef NK_CONFIG_INSTALL_FILE
#define NK_CONFIG_INSTALL_FILE "/usr/local/etc/netkit/netkit.ini"
#endif

/* inih keeps 49 bytes of a section name (its MAX_SECTION is 50), so a name
 * of 49 bytes or more may have been cut: only shorter ones are certain. */
#define CONF_SECTION_MAX 48

/* The reader's own buffer: longer than any line inih accepts, so a line
 * that does not fit is over-long whatever inih's buffer size. */
#define CONF_LINE_BUF 1024

#define CONF_SOCKOPT_PREFIX "sockopt."

enum conf_kind { CONF_NONE, CONF_NETKIT, CONF_LISTEN, CONF_PLUGIN };

/* Keys that may be given more than once (each adds a value). */
#define CONF_REPEAT 0x1u
/* Keys whose value must not be empty. */
#define CONF_NONEMPTY 0x2u

/* At most this many keys in the table (sizes conf_ctx.seen). */
#define CONF_KEYS_MAX NK_CONF_KEYS_MAX

struct conf_key;

/* State of one nk__conf_load call. */
struct conf_ctx {
    struct nk__settings *s;
    struct nk_err *err;
    FILE *f;
    const char *file; /* s->config_file: outlives the load */
    int lineno;
    int failed;
    int read_errno;          /* errno of a failed read, for the message */
    enum conf_kind kind;     /* of the current section */
    size_t index;            /* current listener or plugin, in s's arrays */
    int netkit_line;         /* line of [netkit], 0 before it */
    int seen[CONF_KEYS_MAX]; /* line each table key was set on, per section */
    char section[CONF_SECTION_MAX + 1]; /* whole name, for messages */
    char raw[CONF_LINE_BUF];            /* the current line as read */
};

/*
 * A setter parses val (already unquoted, len bytes, NUL-free) into field,
 * which points into the settings or the current listener.  Returns NULL or
 * a phrase; conf_enomem for a failed allocation.
 */
typedef const char *(*conf_set_fn)(struct conf_ctx *c, const struct conf_key *k,
                                   void *field, const char *val);

struct conf_key {
    enum conf_kind kind;
    const char *name;
    conf_set_fn set;
    size_t offset;       /* of the field in nk__settings / nk__listen_conf */
    long long min, max;  /* numbers */
    const char *choices; /* enums */
    const int *map;      /* enums: the value of each choice, or NULL */
    unsigned flags;      /* CONF_REPEAT, CONF_NONEMPTY */
    unsigned cli_bit;    /* NK_SET_*: the command line wins over the file */
};

static const char conf_enomem[] = "out of memory";

/* ---- errors ------------------------------------------------------------- */

static int conf_fail(struct conf_ctx *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the first error, at `line` of the file; returns -1. */
static int
conf_fail(struct conf_ctx *c, int line, const char *fmt, ...)
{
    char msg[sizeof(c->err->msg)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->failed = 1;
    return nk__err_at(c->err, c->file, line, "%s", msg);
}

/* A failed allocation is a run-time failure (status 1), not a config one. */
static int
conf_oom(struct conf_ctx *c)
{
    c->failed = 1;
    return nk__err_run(c->err, "out of memory");
}

/* "[listen.main] port: out of range 0..65535", or the allocation failure. */
static int
conf_bad_value(struct conf_ctx *c, const char *key, const char *why)
{
    if (why == conf_enomem)
        return conf_oom(c);
    return conf_fail(c, c->lineno, "[%s] %s: %s", c->section, key, why);
}

/* ---- setters ------------------------------------------------------------ */

static const char *
conf_set_string(struct conf_ctx *c, const struct conf_key *k, void *field,
                const char *val)
{
    char **p = field, *copy;

    (void)c;
    if ((k->flags & CONF_NONEMPTY) && *val == '\0')
        return "empty value";
    if ((copy = nk__strdup(val)) == NULL)
        return conf_enomem;
    nk__free(*p);
    *p = copy;
    return NULL;
}

/* plugin_path also remembers where it was set, for the loader's messages. */
static const char *
conf_set_plugin_path(struct conf_ctx *c, const struct conf_key *k, void *field,
                     const char *val)
{
    const char *why = conf_set_string(c, k, field, val);

    if (why == NULL) {
        c->s->plugin_path_file = c->file;
        c->s->plugin_path_line = c->lineno;
    }
    return why;
}

static const char *
conf_set_host(struct conf_ctx *c, const struct conf_key *k, void *field,
              const char *val)
{
    (void)c, (void)k;
    if (*val == '\0')
        return "empty value";
    return nk__strlist_add(field, val) < 0 ? conf_enomem : NULL;
}

static const char *
conf_set_int(struct conf_ctx *c, const struct conf_key *k, void *field,
             const char *val)
{
    long long n;
    const char *why = nk__parse_int(val, k->min, k->max, &n);

    (void)c;
    if (why == NULL)
        *(int *)field = (int)n;
    return why;
}

static const char *
conf_set_llong(struct conf_ctx *c, const struct conf_key *k, void *field,
               const char *val)
{
    (void)c;
    return nk__parse_int(val, k->min, k->max, field);
}

static const char *
conf_set_size(struct conf_ctx *c, const struct conf_key *k, void *field,
              const char *val)
{
    (void)c;
    return nk__parse_size(val, k->min, k->max, field);
}

static const char *
conf_set_bool(struct conf_ctx *c, const struct conf_key *k, void *field,
              const char *val)
{
    (void)c, (void)k;
    return nk__parse_bool(val, field);
}

static const char *
conf_set_seconds(struct conf_ctx *c, const struct conf_key *k, void *field,
                 const char *val)
{
    (void)c, (void)k;
    return nk__parse_seconds(val, field);
}

/* An enum stored as an int: the map gives each choice's value (NULL: its
 * index, as for log_level, whose choices follow enum nk_log_level). */
static const char *
conf_set_choice(struct conf_ctx *c, const struct conf_key *k, void *field,
                const char *val)
{
    long long i;
    const char *why = nk__parse_enum(val, k->choices, &i);

    (void)c;
    if (why == NULL)
        *(int *)field = k->map != NULL ? k->map[i] : (int)i;
    return why;
}

/* A cidr.c phrase, with its allocation failure as the shared one. */
static const char *
conf_cidr_why(const char *why)
{
    return why != NULL && strcmp(why, "out of memory") == 0 ? conf_enomem : why;
}

/* allow / deny: ranges appended to the listener's rules in file order
 * (k->min: 1 for allow, 0 for deny). */
static const char *
conf_set_acl(struct conf_ctx *c, const struct conf_key *k, void *field,
             const char *val)
{
    return conf_cidr_why(
        nk__acl_parse(field, (int)k->min, val, c->file, c->lineno));
}

static const char *
conf_set_proxy(struct conf_ctx *c, const struct conf_key *k, void *field,
               const char *val)
{
    const char *why = conf_set_choice(c, k, field, val);

    if (why == NULL)
        c->s->listeners[c->index].proxy_line = c->lineno;
    return why;
}

static const char *
conf_set_trusted(struct conf_ctx *c, const struct conf_key *k, void *field,
                 const char *val)
{
    struct nk__listen_conf *l = &c->s->listeners[c->index];

    (void)k;
    if (l->proxy_trusted_line == 0)
        l->proxy_trusted_line = c->lineno;
    return conf_cidr_why(nk__cidr_list_parse(field, val));
}

/* tls = on|off, remembering where (settings.c's messages). */
static const char *
conf_set_tls_on(struct conf_ctx *c, const struct conf_key *k, void *field,
                const char *val)
{
    const char *why = conf_set_bool(c, k, field, val);

    if (why == NULL)
        c->s->listeners[c->index].tls.on_line = c->lineno;
    return why;
}

/* tls_cert / tls_key: repeatable, each with its line (a pair per SNI
 * certificate). */
static const char *
conf_set_tls_file(struct conf_ctx *c, const struct conf_key *k, void *field,
                  const char *val)
{
    if (*val == '\0')
        return "empty value";
    return nk__kvlist_add(field, k->name, val, strlen(val), c->file,
                          c->lineno) < 0
               ? conf_enomem
               : NULL;
}

/* A numeric user or group id ("65534"), for a name lookup that failed. */
static int
conf_numeric_id(const char *val, unsigned long *id)
{
    char *end;

    if (*val < '0' || *val > '9')
        return 0;
    *id = strtoul(val, &end, 10);
    return *end == '\0' && *id < 0xffffffffUL;
}

/* user: looked up now, so a typo stops netkit before any socket opens.
 * Its primary group is the group unless `group` says otherwise. */
static const char *
conf_set_user(struct conf_ctx *c, const struct conf_key *k, void *field,
              const char *val)
{
    static _Thread_local char why[160];
    struct passwd *pw;
    unsigned long id;

    if (*val == '\0')
        return "empty value";
    errno = 0;
    pw = getpwnam(val);
    if (pw == NULL && conf_numeric_id(val, &id))
        pw = getpwuid((uid_t)id);
    if (pw == NULL) {
        snprintf(why, sizeof(why), "unknown user '%s'", val);
        return why;
    }
    c->s->uid = pw->pw_uid;
    if (c->s->group == NULL)
        c->s->gid = pw->pw_gid;
    c->s->user_line = c->lineno;
    return conf_set_string(c, k, field, val);
}

static const char *
conf_set_group(struct conf_ctx *c, const struct conf_key *k, void *field,
               const char *val)
{
    static _Thread_local char why[160];
    struct group *gr;
    unsigned long id;

    if (*val == '\0')
        return "empty value";
    gr = getgrnam(val);
    if (gr == NULL && conf_numeric_id(val, &id))
        gr = getgrgid((gid_t)id);
    if (gr == NULL) {
        snprintf(why, sizeof(why), "unknown group '%s'", val);
        return why;
    }
    c->s->gid = gr->gr_gid;
    c->s->group_line = c->lineno;
    return conf_set_string(c, k, field, val);
}

/* unix_mode = 0660: the socket file's mode, octal. */
static const char *
conf_set_unix_mode(struct conf_ctx *c, const struct conf_key *k, void *field,
                   const char *val)
{
    char *end;
    unsigned long m;

    (void)c, (void)k;
    errno = 0;
    m = strtoul(val, &end, 8);
    if (*val < '0' || *val > '7' || *end != '\0' || errno != 0 || m == 0 ||
        m > 0777)
        return "expected an octal mode 1..0777, e.g. 0660";
    *(int *)field = (int)m;
    return NULL;
}

/* unix_owner = USER[:GROUP]: the socket file's owner (and group), looked
 * up now as user is. */
static const char *
conf_set_unix_owner(struct conf_ctx *c, const struct conf_key *k, void *field,
                    const char *val)
{
    static _Thread_local char why[160];
    struct nk__listen_conf *l =
        (struct nk__listen_conf *)((char *)field -
                                   offsetof(struct nk__listen_conf, unix_uid));
    char user[128];
    const char *colon = strchr(val, ':');
    size_t n = colon != NULL ? (size_t)(colon - val) : strlen(val);
    struct passwd *pw;
    unsigned long id;

    (void)c, (void)k;
    if (n == 0 || n >= sizeof(user))
        return "expected USER or USER:GROUP";
    memcpy(user, val, n);
    user[n] = '\0';
    pw = getpwnam(user);
    if (pw == NULL && conf_numeric_id(user, &id))
        pw = getpwuid((uid_t)id);
    if (pw == NULL) {
        snprintf(why, sizeof(why), "unknown user '%s'", user);
        return why;
    }
    l->unix_uid = pw->pw_uid;
    l->unix_gid = -1;
    if (colon != NULL) {
        struct group *gr = getgrnam(colon + 1);

        if (gr == NULL && conf_numeric_id(colon + 1, &id))
            gr = getgrgid((gid_t)id);
        if (gr == NULL) {
            snprintf(why, sizeof(why), "unknown group '%s'", colon + 1);
            return why;
        }
        l->unix_gid = gr->gr_gid;
    }
    return NULL;
}

/* metrics = HOST:PORT: checked now; bound after the listeners.  --metrics
 * wins over the file, whose value is still checked. */
static const char *
conf_set_metrics(struct conf_ctx *c, const struct conf_key *k, void *field,
                 const char *val)
{
    char host[256];
    int port;
    const char *why = nk__addr_split(val, host, sizeof(host), &port);

    if (why != NULL || (c->s->cli_set & NK_SET_METRICS))
        return why;
    c->s->metrics_line = c->lineno;
    return conf_set_string(c, k, field, val);
}

/* ---- the key table ------------------------------------------------------ */

static const int conf_families[] = {AF_UNSPEC, AF_INET, AF_INET6};
/* transport is an unsigned field; int and unsigned int may alias (C11
 * 6.5p7), so the int setter serves it. */
static const int conf_transports[] = {NK_TRANSPORT_TCP, NK_TRANSPORT_UDP};

#define CONF_NK(f) offsetof(struct nk__settings, f)
#define CONF_LC(f) offsetof(struct nk__listen_conf, f)

/*
 * Every key of [netkit] and [listen.NAME].  A cli_bit marks a key the
 * command line may also set: the value is still checked, but not stored
 * when the command line gave one (only int fields carry a cli_bit).
 * [plugin.NAME] takes any key; sockopt.NAME keys are handled apart.
 */
static const struct conf_key conf_keys[] = {
    {CONF_NETKIT, "plugin_path", conf_set_plugin_path, CONF_NK(plugin_path), 0,
     0, NULL, NULL, 0, 0},
    {CONF_NETKIT, "log_level", conf_set_choice, CONF_NK(log_level), 0, 0,
     "error|warn|info|debug", NULL, 0, NK_SET_LOG_LEVEL},
    {CONF_NETKIT, "workers", conf_set_int, CONF_NK(workers), 1, 64, NULL, NULL,
     0, NK_SET_WORKERS},
    {CONF_NETKIT, "max_buffer_memory", conf_set_size,
     CONF_NK(max_buffer_memory), 0, 1LL << 50, NULL, NULL, 0, 0},
    {CONF_NETKIT, "user", conf_set_user, CONF_NK(user), 0, 0, NULL, NULL, 0, 0},
    {CONF_NETKIT, "group", conf_set_group, CONF_NK(group), 0, 0, NULL, NULL, 0,
     0},
    {CONF_NETKIT, "metrics", conf_set_metrics, CONF_NK(metrics), 0, 0, NULL,
     NULL, 0, 0},
    {CONF_LISTEN, "proto", conf_set_string, CONF_LC(proto), 0, 0, NULL, NULL,
     CONF_NONEMPTY, 0},
    {CONF_LISTEN, "host", conf_set_host, CONF_LC(hosts), 0, 0, NULL, NULL,
     CONF_REPEAT, 0},
    {CONF_LISTEN, "port", conf_set_int, CONF_LC(port), 0, 65535, NULL, NULL, 0,
     0},
    {CONF_LISTEN, "transport", conf_set_choice, CONF_LC(transport), 0, 0,
     "tcp|udp", conf_transports, 0, 0},
    {CONF_LISTEN, "family", conf_set_choice, CONF_LC(family), 0, 0,
     "any|inet|inet6", conf_families, 0, 0},
    {CONF_LISTEN, "max_conns", conf_set_llong, CONF_LC(max_conns), 1, 1000000,
     NULL, NULL, 0, 0},
    {CONF_LISTEN, "max_conns_per_ip", conf_set_llong, CONF_LC(max_conns_per_ip),
     0, 1000000, NULL, NULL, 0, 0},
    {CONF_LISTEN, "idle_timeout", conf_set_seconds, CONF_LC(idle_timeout), 0, 0,
     NULL, NULL, 0, 0},
    {CONF_LISTEN, "message_timeout", conf_set_seconds, CONF_LC(message_timeout),
     0, 0, NULL, NULL, 0, 0},
    {CONF_LISTEN, "write_timeout", conf_set_seconds, CONF_LC(write_timeout), 0,
     0, NULL, NULL, 0, 0},
    {CONF_LISTEN, "max_output", conf_set_size, CONF_LC(max_output),
     NK_MAX_OUTPUT_MIN, NK_MAX_OUTPUT_MAX, NULL, NULL, 0, 0},
    {CONF_LISTEN, "allow", conf_set_acl, CONF_LC(acl), 1, 0, NULL, NULL,
     CONF_REPEAT, 0},
    {CONF_LISTEN, "deny", conf_set_acl, CONF_LC(acl), 0, 0, NULL, NULL,
     CONF_REPEAT, 0},
    {CONF_LISTEN, "proxy_protocol", conf_set_proxy, CONF_LC(proxy_protocol), 0,
     0, "off|v1|v2|any", NULL, 0, 0},
    {CONF_LISTEN, "proxy_trusted", conf_set_trusted, CONF_LC(proxy_trusted), 0,
     0, NULL, NULL, CONF_REPEAT, 0},
    {CONF_LISTEN, "udp_rate", conf_set_llong, CONF_LC(udp_rate), 0, 1000000,
     NULL, NULL, 0, 0},
    {CONF_LISTEN, "udp_allow_low_ports", conf_set_bool,
     CONF_LC(udp_allow_low_ports), 0, 0, NULL, NULL, 0, 0},
    {CONF_LISTEN, "tls", conf_set_tls_on, CONF_LC(tls.on), 0, 0, NULL, NULL, 0,
     0},
    {CONF_LISTEN, "tls_cert", conf_set_tls_file, CONF_LC(tls.certs), 0, 0, NULL,
     NULL, CONF_REPEAT, 0},
    {CONF_LISTEN, "tls_key", conf_set_tls_file, CONF_LC(tls.keys), 0, 0, NULL,
     NULL, CONF_REPEAT, 0},
    {CONF_LISTEN, "tls_ca", conf_set_string, CONF_LC(tls.ca), 0, 0, NULL, NULL,
     CONF_NONEMPTY, 0},
    {CONF_LISTEN, "tls_verify", conf_set_choice, CONF_LC(tls.verify), 0, 0,
     "none|optional|require", NULL, 0, 0},
    {CONF_LISTEN, "tls_min_version", conf_set_choice, CONF_LC(tls.min_version),
     0, 0, "1.2|1.3", NULL, 0, 0},
    {CONF_LISTEN, "tls_ciphers", conf_set_string, CONF_LC(tls.ciphers), 0, 0,
     NULL, NULL, CONF_NONEMPTY, 0},
    {CONF_LISTEN, "tls_ciphersuites", conf_set_string,
     CONF_LC(tls.ciphersuites), 0, 0, NULL, NULL, CONF_NONEMPTY, 0},
    {CONF_LISTEN, "tls_alpn", conf_set_string, CONF_LC(tls.alpn), 0, 0, NULL,
     NULL, CONF_NONEMPTY, 0},
    {CONF_LISTEN, "tls_handshake_timeout", conf_set_seconds,
     CONF_LC(tls.handshake_timeout), 0, 0, NULL, NULL, 0, 0},
    {CONF_LISTEN, "unix_mode", conf_set_unix_mode, CONF_LC(unix_mode), 0, 0,
     NULL, NULL, 0, 0},
    {CONF_LISTEN, "unix_owner", conf_set_unix_owner, CONF_LC(unix_uid), 0, 0,
     NULL, NULL, 0, 0},
};

#define CONF_NKEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))
_Static_assert(CONF_NKEYS <= CONF_KEYS_MAX, "raise CONF_KEYS_MAX");

/* The key of `kind` closest to name, for "did you mean"; NULL if none is
 * within two edits (and closer than retyping the whole name). */
static const char *
conf_suggest(enum conf_kind kind, const char *name)
{
    const char *best = NULL;
    int best_d = 3;

    for (size_t i = 0; i < CONF_NKEYS; i++) {
        int d;

        if (conf_keys[i].kind != kind)
            continue;
        d = nk__edit_distance(name, conf_keys[i].name);
        if (d < best_d && d < (int)strlen(name)) {
            best_d = d;
            best = conf_keys[i].name;
        }
    }
    return best;
}

static int
conf_unknown_key(struct conf_ctx *c, const char *name)
{
    const char *near = conf_suggest(c->kind, name);

    if (near != NULL)
        return conf_fail(c, c->lineno,
                         "unknown key '%s' in [%s] (did you mean %s?)", name,
                         c->section, near);
    return conf_fail(c, c->lineno, "unknown key '%s' in [%s]", name,
                     c->section);
}

static int
conf_duplicate(struct conf_ctx *c, const char *name, int first)
{
    return conf_fail(c, c->lineno,
                     "duplicate key '%s' in [%s] (first set on line %d)", name,
                     c->section, first);
}

int
nk__conf_key_line(const int *key_line, const char *name)
{
    for (size_t i = 0; i < CONF_NKEYS; i++)
        if (strcmp(conf_keys[i].name, name) == 0)
            return key_line[i];
    return 0;
}

/* ---- keys ---------------------------------------------------------------- */

/* A key of [netkit] or [listen.NAME]: look it up and call its setter. */
static int
conf_table_key(struct conf_ctx *c, const char *name, const char *val,
               size_t len)
{
    const struct conf_key *k = NULL;
    int scratch, *seen;
    char *obj;
    void *field;
    const char *why;

    for (size_t i = 0; i < CONF_NKEYS && k == NULL; i++)
        if (conf_keys[i].kind == c->kind &&
            strcmp(conf_keys[i].name, name) == 0)
            k = &conf_keys[i];
    if (k == NULL)
        return conf_unknown_key(c, name);
    seen = &c->seen[k - conf_keys];
    if (!(k->flags & CONF_REPEAT) && *seen != 0)
        return conf_duplicate(c, name, *seen);
    if (*seen == 0) {
        int *lines = c->kind == CONF_NETKIT
                         ? c->s->key_line
                         : c->s->listeners[c->index].key_line;
        lines[k - conf_keys] = c->lineno;
    }
    *seen = c->lineno;
    if (strlen(val) != len)
        return conf_bad_value(c, name, "value holds a NUL byte");
    obj = c->kind == CONF_NETKIT ? (char *)c->s
                                 : (char *)&c->s->listeners[c->index];
    field = obj + k->offset;
    if (k->cli_bit & c->s->cli_set)
        field = &scratch;
    why = k->set(c, k, field, val);
    if (why != NULL)
        return conf_bad_value(c, name, why);
    /* Whether it applies is known once `transport` is (settings.c). */
    if (c->kind == CONF_LISTEN && strncmp(k->name, "udp_", 4) == 0 &&
        c->s->listeners[c->index].udp_key == NULL) {
        c->s->listeners[c->index].udp_key = k->name;
        c->s->listeners[c->index].udp_line = c->lineno;
    }
    return 0;
}

/*
 * sockopt.NAME = VALUE in [listen.NAME].  The name and the value's form are
 * checked now, so the message carries this line; whether the option applies
 * to the listener's transport is checked by nk__settings_finish, since
 * `transport` may come later in the section.
 */
static int
conf_sockopt_key(struct conf_ctx *c, const char *name, const char *val,
                 size_t len)
{
    struct nk__listen_conf *l = &c->s->listeners[c->index];
    const char *opt = name + strlen(CONF_SOCKOPT_PREFIX);
    const struct nk__kv *prev = nk__kvlist_find(&l->sockopts, opt);
    struct nk__sockopt_val v;
    char why[300];

    if (*opt == '\0')
        return conf_fail(c, c->lineno, "[%s] %s: missing socket option name",
                         c->section, name);
    if (prev != NULL)
        return conf_duplicate(c, name, prev->line);
    if (strlen(val) != len)
        return conf_bad_value(c, name, "value holds a NUL byte");
    if (nk__sockopt_parse(opt, val, 0, &v, why, sizeof(why)) < 0)
        return conf_fail(c, c->lineno, "%s", why);
    if (nk__kvlist_add(&l->sockopts, opt, val, len, c->file, c->lineno) < 0)
        return conf_oom(c);
    return 0;
}

/* Any key of [plugin.NAME]: kept with its line for the plugin loader. */
static int
conf_plugin_key(struct conf_ctx *c, const char *name, const char *val,
                size_t len)
{
    struct nk__plugin_conf *p = &c->s->plugins[c->index];
    const struct nk__kv *prev = nk__kvlist_find(&p->opts, name);

    if (prev != NULL)
        return conf_duplicate(c, name, prev->line);
    if (nk__kvlist_add(&p->opts, name, val, len, c->file, c->lineno) < 0)
        return conf_oom(c);
    return 0;
}

/* An unterminated quote is most often a " ;" that inih took for the start
 * of a comment: say so, since the line looks fine to the user. */
static int
conf_unquote_failed(struct conf_ctx *c, const char *name, const char *why)
{
    if (strcmp(why, "unterminated quote") == 0 &&
        (strstr(c->raw, " ;") != NULL || strstr(c->raw, "\t;") != NULL))
        why = "unterminated quote (' ;' starts a comment even inside quotes: "
              "write \\x3b for the ';')";
    else if (strcmp(why, "out of memory") == 0)
        return conf_oom(c);
    return conf_bad_value(c, name, why);
}

/*
 * inih's handler: one KEY = VALUE of the current section.  Returns 1, or 0
 * with the error recorded.  The section argument is ignored: inih may have
 * cut it, while the reader kept the whole name.
 */
static int
conf_handler(void *user, const char *section, const char *name,
             const char *value)
{
    struct conf_ctx *c = user;
    const char *why;
    char *val;
    size_t len;
    int rc;

    (void)section;
    if (c->failed)
        return 0;
    if (c->kind == CONF_NONE) {
        conf_fail(c, c->lineno,
                  "key '%s' outside any section (expected [netkit], "
                  "[listen.NAME] or [plugin.NAME] before it)",
                  name);
        return 0;
    }
    if ((why = nk__unquote(value, &val, &len)) != NULL) {
        conf_unquote_failed(c, name, why);
        return 0;
    }
    if (c->kind == CONF_PLUGIN)
        rc = conf_plugin_key(c, name, val, len);
    else if (c->kind == CONF_LISTEN &&
             strncmp(name, CONF_SOCKOPT_PREFIX, strlen(CONF_SOCKOPT_PREFIX)) ==
                 0)
        rc = conf_sockopt_key(c, name, val, len);
    else
        rc = conf_table_key(c, name, val, len);
    nk__free(val);
    return rc == 0;
}

/* ---- sections ------------------------------------------------------------ */

/* [listen.NAME]: a new listener with defaults, unless NAME is taken. */
static int
conf_listen_section(struct conf_ctx *c, const char *name)
{
    struct nk__listen_conf *l;

    if (*name == '\0')
        return conf_fail(c, c->lineno, "empty listener name in [listen.]");
    for (size_t i = 0; i < c->s->nlisteners; i++)
        if (c->s->listeners[i].name != NULL &&
            strcmp(c->s->listeners[i].name, name) == 0)
            return conf_fail(c, c->lineno,
                             "duplicate section [%s] (first on line %d)",
                             c->section, c->s->listeners[i].line);
    if ((l = nk__settings_add_listener(c->s)) == NULL)
        return conf_oom(c);
    c->index = c->s->nlisteners - 1;
    l->file = c->file;
    l->line = c->lineno;
    return (l->name = nk__strdup(name)) == NULL ? conf_oom(c) : 0;
}

/* [plugin.NAME]: options for plugin NAME, unless the section is taken. */
static int
conf_plugin_section(struct conf_ctx *c, const char *name)
{
    const struct nk__plugin_conf *prev;
    struct nk__plugin_conf *p;

    if (*name == '\0')
        return conf_fail(c, c->lineno, "empty plugin name in [plugin.]");
    if ((prev = nk__settings_find_plugin(c->s, name)) != NULL)
        return conf_fail(c, c->lineno,
                         "duplicate section [%s] (first on line %d)",
                         c->section, prev->line);
    if ((p = nk__settings_add_plugin(c->s)) == NULL)
        return conf_oom(c);
    c->index = c->s->nplugins - 1;
    p->file = c->file;
    p->line = c->lineno;
    return (p->name = nk__strdup(name)) == NULL ? conf_oom(c) : 0;
}

/*
 * The section that just ended is complete.  A [listen.NAME] must say where
 * it listens: without `port`, an empty or half-written section would
 * silently become a raw echo on localhost:9999.  `port` is the one required
 * key (proto defaults to raw, host to localhost).  Reported at the
 * section's header line.
 */
static int
conf_end_section(struct conf_ctx *c)
{
    const struct nk__listen_conf *l;

    if (c->kind != CONF_LISTEN)
        return 0;
    for (size_t i = 0; i < CONF_NKEYS; i++)
        if (conf_keys[i].kind == CONF_LISTEN &&
            strcmp(conf_keys[i].name, "port") == 0 && c->seen[i] != 0)
            return 0;
    l = &c->s->listeners[c->index];
    /* Only unix sockets: no port to set. */
    if (l->hosts.n > 0) {
        size_t u = 0;

        while (u < l->hosts.n && nk__unix_is(l->hosts.items[u]))
            u++;
        if (u == l->hosts.n)
            return 0;
    }
    return conf_fail(c, l->line,
                     "[listen.%s] sets no port: add 'port = N' (0 picks a "
                     "free port)",
                     l->name);
}

/* A section header naming name[0..len): start that section. */
static int
conf_section(struct conf_ctx *c, const char *name, size_t len)
{
    if (conf_end_section(c) < 0)
        return -1;
    if (len > CONF_SECTION_MAX)
        return conf_fail(c, c->lineno, "section name too long (max %d bytes)",
                         CONF_SECTION_MAX);
    memcpy(c->section, name, len);
    c->section[len] = '\0';
    memset(c->seen, 0, sizeof(c->seen));
    if (strcmp(c->section, "netkit") == 0) {
        if (c->netkit_line != 0)
            return conf_fail(c, c->lineno,
                             "duplicate section [netkit] (first on line %d)",
                             c->netkit_line);
        c->netkit_line = c->lineno;
        c->kind = CONF_NETKIT;
        return 0;
    }
    if (strncmp(c->section, "listen.", 7) == 0) {
        c->kind = CONF_LISTEN;
        return conf_listen_section(c, c->section + 7);
    }
    if (strncmp(c->section, "plugin.", 7) == 0) {
        c->kind = CONF_PLUGIN;
        return conf_plugin_section(c, c->section + 7);
    }
    return conf_fail(c, c->lineno,
                     "unknown section [%s] (expected [netkit], [listen.NAME] "
                     "or [plugin.NAME])",
                     c->section);
}

/* ---- the reader ---------------------------------------------------------- */

/*
 * inih's find_chars_or_comment: the first of `chars` in s, or the start of
 * an inline comment (';' after a blank), or the end.  The reader must split
 * lines exactly as inih will.
 */
static const char *
conf_find(const char *s, const char *chars)
{
    int was_space = 0;

    while (*s != '\0' && strchr(chars, *s) == NULL &&
           !(was_space && *s == ';')) {
        was_space = isspace((unsigned char)*s);
        s++;
    }
    return s;
}

/* Check one raw line (its newline removed) the way inih will read it. */
static int
conf_lex(struct conf_ctx *c)
{
    const char *p = c->raw, *q, *end;

    if (c->lineno == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3; /* a UTF-8 byte order mark, which inih skips too */
    for (q = p; isspace((unsigned char)*q); q++)
        ;
    if (*q == '\0' || *q == ';' || *q == '#')
        return 0;
    if (q != p)
        return conf_fail(c, c->lineno,
                         "indented line (inih would append it to the previous "
                         "key's value): remove the leading blanks");
    if (*p == '[') {
        end = conf_find(p + 1, "]");
        if (*end != ']')
            return conf_fail(c, c->lineno, "syntax error: expected ']'");
        for (q = end + 1; isspace((unsigned char)*q); q++)
            ;
        if (*q != '\0' && *q != ';' && *q != '#')
            return conf_fail(c, c->lineno,
                             "syntax error: text after section header");
        return conf_section(c, p + 1, (size_t)(end - p - 1));
    }
    end = conf_find(p, "=:");
    if (*end == ':')
        return conf_fail(c, c->lineno,
                         "syntax error: expected KEY = VALUE, not KEY: VALUE");
    if (*end != '=' || end == p)
        return conf_fail(c, c->lineno, "syntax error: expected KEY = VALUE");
    return 0;
}

/*
 * inih's reader: one line into str (num bytes).  Returns NULL at the end of
 * the file, on a read error (read_errno) and once an error is recorded.
 * inih's buffer must hold a line plus "\r\n" and a NUL (ini.h), so lines
 * longer than num - 3 bytes are refused whatever their ending.
 */
static char *
conf_reader(char *str, int num, void *stream)
{
    struct conf_ctx *c = stream;
    size_t n, max = num > 3 ? (size_t)num - 3 : 0;

    long before, after;

    if (c->failed)
        return NULL;
    before = ftell(c->f);
    if (fgets(c->raw, sizeof(c->raw), c->f) == NULL) {
        if (ferror(c->f))
            c->read_errno = errno != 0 ? errno : EIO;
        return NULL;
    }
    after = ftell(c->f);
    c->lineno++;
    n = strlen(c->raw);
    /* fgets read more bytes than strlen sees: a NUL byte, which would cut
     * the value short -- also on a last line without a newline. */
    if (before >= 0 && after >= 0 && (size_t)(after - before) != n) {
        conf_fail(c, c->lineno, "line holds a NUL byte");
        return NULL;
    }
    if (n > 0 && c->raw[n - 1] == '\n') {
        c->raw[--n] = '\0';
    } else if (!feof(c->f)) {
        /* fgets stopped early: the line filled the buffer, or holds a NUL
         * byte that strlen stopped at. */
        if (n + 1 < sizeof(c->raw))
            conf_fail(c, c->lineno, "line holds a NUL byte");
        else
            conf_fail(c, c->lineno, "line too long (max %zu bytes)", max);
        return NULL;
    }
    if (n > 0 && c->raw[n - 1] == '\r')
        c->raw[--n] = '\0';
    if (n > max) {
        conf_fail(c, c->lineno, "line too long (max %zu bytes)", max);
        return NULL;
    }
    if (conf_lex(c) < 0)
        return NULL;
    memcpy(str, c->raw, n);
    str[n] = '\n';
    str[n + 1] = '\0';
    return str;
}

/* ---- entry points ------------------------------------------------------- */

/* See conf.h. */
/* Installed under another prefix than configured (make install PREFIX=,
 * cmake --install --prefix): the netkit.ini of the prefix BINDIR/.., where
 * that install put it (/etc/netkit/ for /usr, see config/sysconf.h), if
 * it exists. */
static const char *
conf_beside_binary(void)
{
    static char path[PATH_MAX + 32];
    char prefix[PATH_MAX], *slash;

    if (nk__exe_dir(prefix, sizeof(prefix)) < 0 ||
        (slash = strrchr(prefix, '/')) == NULL)
        return NULL;
    if (slash == prefix)
        slash[1] = '\0'; /* a binary in /bin: the prefix is / */
    else
        *slash = '\0';
    if (nk__sysconf_path(prefix, NK_SYSCONF_REL_DIR, "netkit/netkit.ini", path,
                         sizeof(path)) < 0)
        return NULL;
    return access(path, R_OK) == 0 ? path : NULL;
}

const char *
nk__conf_default_path(void)
{
    const char *env = getenv("NETKIT_CONFIG");

    /* Set but empty: no config file, the built-in defaults (what the
     * tests use, whatever is installed). */
    if (env != NULL)
        return *env != '\0' ? env : NULL;
    /* A binary just built runs on the built-in defaults, whatever an
     * earlier install left in etc/. */
    if (nk__exe_in_build_tree())
        return NULL;
    if (access(NK_CONFIG_INSTALL_FILE, R_OK) == 0)
        return NK_CONFIG_INSTALL_FILE;
    return conf_beside_binary();
}

/*
 * See conf.h.  Call it once per settings: kv->file, l->file and the error's
 * file point to s->config_file, which lives until nk__settings_free.
 */
int
nk__conf_load(struct nk__settings *s, const char *path, struct nk_err *err)
{
    struct conf_ctx *c;
    char *copy;
    FILE *f;
    int rc, failed;

    if ((f = fopen(path, "re")) == NULL)
        return nk__err_set(err, "cannot open %s: %s", path, strerror(errno));
    copy = nk__strdup(path);
    c = nk__calloc(1, sizeof(*c)); /* ~1.2 KiB: keep it off the stack */
    if (copy == NULL || c == NULL) {
        nk__free(copy);
        nk__free(c);
        fclose(f);
        return nk__err_run(err, "out of memory");
    }
    nk__free(s->config_file);
    s->config_file = copy;
    c->s = s;
    c->err = err;
    c->f = f;
    c->file = copy;
    rc = ini_parse_stream(conf_reader, c, conf_handler, c);
    if (!c->failed && c->read_errno != 0)
        nk__err_set(err, "cannot read %s: %s", path, strerror(c->read_errno));
    else if (!c->failed && rc > 0) /* a line the reader let through */
        conf_fail(c, rc, "syntax error: expected KEY = VALUE");
    else if (!c->failed && rc < 0)
        conf_oom(c);
    else if (!c->failed && c->kind == CONF_NONE)
        /* Nothing but blanks and comments: a truncated or mistaken file,
         * which must not turn into the built-in raw echo. */
        conf_fail(c, 0,
                  "empty config file: add a [listen.NAME] section with a "
                  "port (netkit.ini, installed with netkit, shows every "
                  "key)");
    else if (!c->failed && c->read_errno == 0)
        conf_end_section(c);
    failed = c->failed || c->read_errno != 0;
    nk__free(c);
    fclose(f);
    return failed ? -1 : 0;
}

/* Read the config file: -c, else $NETKIT_CONFIG, else the installed one. */
int
nk__conf_load_chosen(struct nk__settings *s, struct nk_err *err)
{
    char *path = s->config_file;
    const char *def = nk__conf_default_path();
    int rc = 0;

    s->config_file = NULL;
    if (path != NULL || def != NULL)
        rc = nk__conf_load(s, path != NULL ? path : def, err);
    if (rc < 0 && path == NULL && err->file == NULL && getenv("NETKIT_CONFIG"))
        /* The user may not remember setting it: say where the name came
         * from. */
        nk__err_prefix(err, "$NETKIT_CONFIG: ");
    nk__free(path);
    return rc;
}

int
nk__settings_reload(struct nk__settings *s, int argc, char **argv,
                    struct nk_err *err)
{
    s->argc = argc;
    s->argv = argv;
    if (nk__cli_parse(s, argc, argv, err) < 0 ||
        nk__conf_load_chosen(s, err) < 0)
        return -1;
    return nk__settings_finish(s, err);
}
