/*
 * sockopt.c -- the socket option table.  See sockopt.h.
 *
 * Everything here is generated from the rows of sockopt.def: the table
 * itself, compile-time checks of each row, and from the table the lookup,
 * the parser, setsockopt, the read-back and `netkit sockopts`.  Adding an
 * option is adding a row; no function below names an option.
 */
#include "config/sockopt.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>

#include <netkit/plugin.h>

#include "base/log.h"
#include "config/value.h"

/* The transport bits of a row are the plugin API's bits, so a transport
 * mask can be tested against `applies` directly. */
_Static_assert(NK_SO_TCP == NK_TRANSPORT_TCP && NK_SO_UDP == NK_TRANSPORT_UDP,
               "NK_SO_TCP/UDP must equal NK_TRANSPORT_TCP/UDP");

static const struct nk__sockopt_def sockopt_table[] = {
#define SOCKOPT(name, level, optname, type, applies, min, max, help)           \
    {#name, level, optname, NK_SOT_##type, applies, min, max, help},
#include "config/sockopt.def"
#undef SOCKOPT
};

#define SOCKOPT_COUNT (sizeof(sockopt_table) / sizeof(sockopt_table[0]))

/* A row with an empty range, a string longer than nk__sockopt_val.str
 * holds, or a range that is neither a 32-bit int nor a 32-bit unsigned is a
 * bug in sockopt.def: catch it when compiling rather than when a user first
 * sets the option. */
#define SOCKOPT(name, level, optname, type, applies, min, max, help)           \
    _Static_assert((min) <= (max), #name ": MIN above MAX");                   \
    _Static_assert(                                                            \
        NK_SOT_##type != NK_SOT_STRING ||                                      \
            (max) < (long long)sizeof(((struct nk__sockopt_val *)0)->str),     \
        #name ": string too long for nk__sockopt_val.str");                    \
    _Static_assert((long long)(min) >= INT_MIN &&                              \
                       (long long)(max) <= (long long)UINT_MAX &&              \
                       ((long long)(max) <= INT_MAX || (min) >= 0),            \
                   #name ": range does not fit a 32-bit int or unsigned");
#include "config/sockopt.def"
#undef SOCKOPT

/* The longest name the suggester looks at; longer input is not a typo. */
#define SOCKOPT_NAME_MAX 48

/* Fill `why` (which may be NULL when size is 0) and return -1. */
static int __attribute__((format(printf, 3, 4)))
sockopt_why(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return -1;
}

const struct nk__sockopt_def *
nk__sockopt_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < SOCKOPT_COUNT; i++)
        if (strcmp(sockopt_table[i].name, name) == 0)
            return &sockopt_table[i];
    return NULL;
}

/* SO_DONTLINGER is the one BOOL row on SO_LINGER: its value is a struct
 * linger, inverted. */
static int
sockopt_is_dontlinger(const struct nk__sockopt_def *d)
{
    return d->type == NK_SOT_BOOL && d->level == SOL_SOCKET &&
           d->optname == SO_LINGER;
}

/*
 * The row whose name is closest to `name`, or NULL if none is close enough.
 * Case is ignored (so_reuseaddr finds SO_REUSEADDR), and a name written
 * without its level prefix (NODELAY, REUSEADDR) counts as one edit away.
 * The distance allowed grows with the length, about one edit per five
 * characters, so short unrelated names (IP_MTU) are not "corrected".
 */
static const char *
sockopt_suggest(const char *name)
{
    char up[SOCKOPT_NAME_MAX + 1];
    size_t len = strlen(name);
    const char *best = NULL;
    int best_score = INT_MAX, limit = (int)(len + 2) / 5;

    if (len > SOCKOPT_NAME_MAX)
        return NULL;
    for (size_t i = 0; i <= len; i++)
        up[i] = (char)toupper((unsigned char)name[i]);
    if (limit < 1)
        limit = 1;
    for (size_t i = 0; i < SOCKOPT_COUNT; i++) {
        const char *cand = sockopt_table[i].name;
        const char *tail = strchr(cand, '_');
        int score = nk__edit_distance(up, cand);

        if (score > 1 && tail != NULL && strcmp(tail + 1, up) == 0)
            score = 1;
        if (score < best_score) {
            best_score = score;
            best = cand;
        }
    }
    return best_score <= limit ? best : NULL;
}

/*
 * "on,seconds" or a lone false ("0", "off"): the two ways netkit users and
 * the README write SO_LINGER.  Any other shape gets one message showing the
 * form; only a well-formed seconds field out of range gets its own.
 */
static const char *
sockopt_linger(const struct nk__sockopt_def *d, const char *s, struct linger *l,
               char *buf, size_t size)
{
    static const char expected[] = "expected on,seconds (e.g. 1,5) or 0";
    const char *comma = strchr(s, ',');
    const char *secs = comma != NULL ? comma + 1 : "";
    char on[8];
    int onoff;
    long long n;

    if (comma == NULL) {
        if (nk__parse_bool(s, &onoff) != NULL || onoff)
            return expected;
        l->l_onoff = 0;
        l->l_linger = 0;
        return NULL;
    }
    if ((size_t)(comma - s) >= sizeof(on) || *secs == '\0' ||
        strspn(secs, "0123456789") != strlen(secs))
        return expected;
    memcpy(on, s, (size_t)(comma - s));
    on[comma - s] = '\0';
    if (nk__parse_bool(on, &onoff) != NULL)
        return expected;
    if (nk__parse_int(secs, d->min, d->max, &n) != NULL) {
        snprintf(buf, size, "seconds out of range %lld..%lld", d->min, d->max);
        return buf;
    }
    l->l_onoff = onoff;
    l->l_linger = (int)n;
    return NULL;
}

/* Parse the value of a known, supported row into out; NULL or a phrase. */
static const char *
sockopt_value(const struct nk__sockopt_def *d, const char *s,
              struct nk__sockopt_val *out, char *buf, size_t size)
{
    const char *bad = NULL;
    long long n;
    size_t len;

    switch (d->type) {
    case NK_SOT_BOOL:
        bad = nk__parse_bool(s, &out->ival);
        if (bad == NULL && sockopt_is_dontlinger(d) && !out->ival)
            bad = "only 1 is meaningful (to linger, use SO_LINGER=1,seconds)";
        break;
    case NK_SOT_INT:
        n = 0;
        bad = nk__parse_int(s, d->min, d->max, &n);
        /* Rows above INT_MAX are unsigned 32-bit (SO_MARK): the bits are
         * what setsockopt reads. */
        out->ival = (int)(unsigned int)n;
        break;
    case NK_SOT_LINGER:
        bad = sockopt_linger(d, s, &out->linger, buf, size);
        break;
    case NK_SOT_STRING:
        len = strlen(s);
        if (len > (size_t)d->max) {
            snprintf(buf, size, "'%s' is too long (at most %lld bytes)", s,
                     d->max);
            bad = buf;
        } else if (len < (size_t)d->min) {
            bad = "empty value";
        } else {
            memcpy(out->str, s, len + 1);
        }
        break;
    }
    return bad;
}

/* "unknown socket option 'X'", with the closest name when one is close. */
static int
sockopt_unknown(const char *name, char *why, size_t size)
{
    const char *best = sockopt_suggest(name);

    if (best != NULL)
        return sockopt_why(why, size,
                           "unknown socket option '%s' (did you mean %s?)",
                           name, best);
    return sockopt_why(why, size, "unknown socket option '%s'", name);
}

/*
 * Checks run in the order a user fixes them: the name, whether this system
 * has it, whether it fits the socket, then the value.  A transport with
 * neither bit set skips the socket check (the caller does not know yet).
 */
int
nk__sockopt_parse(const char *name, const char *value, unsigned transport,
                  struct nk__sockopt_val *out, char *why, size_t whysz)
{
    const struct nk__sockopt_def *d = nk__sockopt_find(name);
    unsigned wrong;
    const char *bad;
    char phrase[160];

    memset(out, 0, sizeof(*out));
    if (d == NULL)
        return sockopt_unknown(name != NULL ? name : "", why, whysz);
    if (d->level < 0)
        return sockopt_why(why, whysz,
                           "socket option %s is not supported on this system",
                           d->name);
    wrong = transport & (NK_SO_TCP | NK_SO_UDP) & ~d->applies;
    if (wrong != 0)
        return sockopt_why(why, whysz,
                           "socket option %s does not apply to %s sockets",
                           d->name, (wrong & NK_SO_TCP) ? "tcp" : "udp");
    if (value == NULL)
        return sockopt_why(why, whysz, "socket option %s: missing value",
                           d->name);
    bad = sockopt_value(d, value, out, phrase, sizeof(phrase));
    if (bad != NULL) {
        memset(out, 0, sizeof(*out));
        return sockopt_why(why, whysz, "socket option %s: %s", d->name, bad);
    }
    out->def = d;
    return 0;
}

int
nk__sockopt_applies_family(const struct nk__sockopt_def *d, int family)
{
    if (family == AF_INET)
        return (d->applies & NK_SO_INET) != 0;
    if (family == AF_INET6)
        return (d->applies & NK_SO_INET6) != 0;
    return 0;
}

/* The option's value as setsockopt wants it: an int, a struct linger (also
 * for SO_DONTLINGER), or the bytes of a name without its NUL. */
static socklen_t
sockopt_raw(const struct nk__sockopt_val *v, const void **p)
{
    if (v->def->type == NK_SOT_LINGER || sockopt_is_dontlinger(v->def)) {
        *p = &v->linger;
        return sizeof(v->linger);
    }
    if (v->def->type == NK_SOT_STRING) {
        *p = v->str;
        return (socklen_t)strnlen(v->str, sizeof(v->str));
    }
    *p = &v->ival;
    return sizeof(v->ival);
}

int
nk__sockopt_apply(int fd, const struct nk__sockopt_val *v, char *why,
                  size_t whysz)
{
    const void *p;
    socklen_t len;
    int saved;

    if (v->def == NULL) {
        errno = EINVAL;
        return sockopt_why(why, whysz, "setsockopt: no option parsed");
    }
    if (v->def->level < 0) {
        errno = ENOPROTOOPT;
    } else {
        len = sockopt_raw(v, &p);
        if (setsockopt(fd, v->def->level, v->def->optname, p, len) == 0)
            return 0;
    }
    saved = errno;
    sockopt_why(why, whysz, "setsockopt %s: %s", v->def->name, strerror(saved));
    errno = saved;
    return -1;
}

/*
 * Read the option back and write it as the user would have written it, so
 * `-v` can show "SO_RCVBUF = 524288 (asked 262144)".  Returns 0, or -1 with
 * errno from getsockopt (ENOPROTOOPT for a row this system lacks).
 */
int
nk__sockopt_readback(int fd, const struct nk__sockopt_def *d, char *buf,
                     size_t size)
{
    int i = 0;
    struct linger l = {0, 0};
    char s[sizeof(((struct nk__sockopt_val *)0)->str)] = "";
    int is_linger = d->type == NK_SOT_LINGER || sockopt_is_dontlinger(d);
    void *p = &i;
    socklen_t len = sizeof(i);

    if (d->level < 0) {
        errno = ENOPROTOOPT;
        return -1;
    }
    if (is_linger) {
        p = &l;
        len = sizeof(l);
    } else if (d->type == NK_SOT_STRING) {
        p = s;
        len = sizeof(s) - 1;
    }
    if (getsockopt(fd, d->level, d->optname, p, &len) < 0)
        return -1;
    if (sockopt_is_dontlinger(d))
        snprintf(buf, size, "%d", !l.l_onoff);
    else if (is_linger && l.l_onoff)
        snprintf(buf, size, "1,%d", l.l_linger);
    else if (is_linger)
        snprintf(buf, size, "0");
    else if (d->type == NK_SOT_STRING)
        snprintf(buf, size, "%.*s", (int)len, s);
    else if (d->type == NK_SOT_BOOL)
        snprintf(buf, size, "%d", i != 0);
    else if (d->max > INT_MAX) /* an unsigned row, such as SO_MARK */
        snprintf(buf, size, "%u", (unsigned int)i);
    else
        snprintf(buf, size, "%d", i);
    return 0;
}

/* One printed row of `netkit sockopts`: name, level, type, sockets,
 * family and description, the middle ones formatted into the buffers. */
struct sockopt_cols {
    const char *col[6];
    char type[32], sockets[8], family[16], help[128];
};

static const char *
sockopt_level_name(int level)
{
    switch (level) {
    case SOL_SOCKET:
        return "SOL_SOCKET";
    case IPPROTO_TCP:
        return "IPPROTO_TCP";
    case IPPROTO_IP:
        return "IPPROTO_IP";
    case IPPROTO_IPV6:
        return "IPPROTO_IPV6";
    default:
        return "-";
    }
}

static void
sockopt_columns(const struct nk__sockopt_def *d, struct sockopt_cols *c)
{
    static const char *const types[] = {"bool", "int", "on,seconds", "string"};
    unsigned a = d->applies;

    c->col[0] = d->name;
    c->col[1] = sockopt_level_name(d->level);
    c->col[2] = c->type;
    c->col[3] = c->sockets;
    c->col[4] = c->family;
    c->col[5] = c->help;
    if (d->level < 0) {
        c->col[2] = c->col[3] = c->col[4] = "-";
        snprintf(c->help, sizeof(c->help), "not supported on this system (%s)",
                 d->help);
        return;
    }
    if (d->type == NK_SOT_INT)
        snprintf(c->type, sizeof(c->type), "int %lld..%lld", d->min, d->max);
    else
        snprintf(c->type, sizeof(c->type), "%s", types[d->type]);
    snprintf(c->sockets, sizeof(c->sockets), "%s%s%s",
             (a & NK_SO_TCP) ? "tcp" : "",
             (a & NK_SO_TCP) && (a & NK_SO_UDP) ? "+" : "",
             (a & NK_SO_UDP) ? "udp" : "");
    snprintf(c->family, sizeof(c->family), "%s%s%s",
             (a & NK_SO_INET) ? "ipv4" : "",
             (a & NK_SO_INET) && (a & NK_SO_INET6) ? "+" : "",
             (a & NK_SO_INET6) ? "ipv6" : "");
    snprintf(c->help, sizeof(c->help), "%s%s", d->help,
             (a & NK_SO_LISTENER)   ? " (listener only)"
             : (a & NK_SO_ACCEPTED) ? " (set on each accepted socket)"
                                    : "");
}

static void
sockopt_print_row(FILE *out, const int *w, const char *const *col)
{
    fprintf(out, "%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w[0], col[0], w[1],
            col[1], w[2], col[2], w[3], col[3], w[4], col[4], col[5]);
}

/*
 * `netkit sockopts`: a header and one aligned row per option, like `ss`.
 * Column widths come from the table, so a longer row never breaks them;
 * the description is last and not padded.
 */
void
nk__sockopt_print(FILE *out)
{
    static const char *const header[6] = {"NAME",    "LEVEL",  "TYPE",
                                          "SOCKETS", "FAMILY", "DESCRIPTION"};
    struct sockopt_cols c;
    int w[5];

    for (int k = 0; k < 5; k++)
        w[k] = (int)strlen(header[k]);
    for (size_t i = 0; i < SOCKOPT_COUNT; i++) {
        sockopt_columns(&sockopt_table[i], &c);
        for (int k = 0; k < 5; k++)
            if ((int)strlen(c.col[k]) > w[k])
                w[k] = (int)strlen(c.col[k]);
    }
    sockopt_print_row(out, w, header);
    for (size_t i = 0; i < SOCKOPT_COUNT; i++) {
        sockopt_columns(&sockopt_table[i], &c);
        sockopt_print_row(out, w, c.col);
    }
}

int
nk__sockopt_apply_all(int fd, int family, const struct nk__sockopt_val *opts,
                      size_t n, const struct nk__sockopt_def **failed,
                      char *why, size_t whysz)
{
    for (size_t i = 0; i < n; i++) {
        if (!nk__sockopt_applies_family(opts[i].def, family))
            continue;
        if (nk__sockopt_apply(fd, &opts[i], why, whysz) < 0) {
            *failed = opts[i].def;
            return -1;
        }
    }
    return 0;
}

/* What the user asked for, written as the read-back value is. */
static void
sockopt_asked(const struct nk__sockopt_val *v, char *buf, size_t size)
{
    switch (v->def->type) {
    case NK_SOT_LINGER:
        snprintf(buf, size, "%d,%d", v->linger.l_onoff, v->linger.l_linger);
        break;
    case NK_SOT_STRING:
        snprintf(buf, size, "%s", v->str);
        break;
    default:
        snprintf(buf, size, "%d", v->ival);
    }
}

void
nk__sockopt_log_all(int fd, int family, const struct nk__sockopt_val *opts,
                    size_t n, const char *where)
{
    char back[80], asked[80];

    if (!nk__log_enabled(NK_LOG_DEBUG))
        return;
    for (size_t i = 0; i < n; i++) {
        if (!nk__sockopt_applies_family(opts[i].def, family) ||
            nk__sockopt_readback(fd, opts[i].def, back, sizeof(back)) < 0)
            continue;
        sockopt_asked(&opts[i], asked, sizeof(asked));
        if (strcmp(asked, back) == 0)
            nk__log(NK_LOG_DEBUG, "Sockopt %s = %s on %s", opts[i].def->name,
                    back, where);
        else
            nk__log(NK_LOG_DEBUG, "Sockopt %s = %s (asked %s) on %s",
                    opts[i].def->name, back, asked, where);
    }
}
