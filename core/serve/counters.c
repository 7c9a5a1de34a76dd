/* counters.c -- summing, logging and exposing the counters.  See
 * counters.h. */
#include "serve/counters.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <netkit/version.h>

#include "base/alloc.h"
#include "base/log.h"
#include "serve/access.h"
#include "serve/server.h"
#include "tls/tls.h"

enum nk__ctr
nk__ctr_close_cause(const char *why, int eof)
{
    static const struct {
        const char *why;
        enum nk__ctr ctr;
    } causes[] = {
        {"bad input", NK_CTR_CLOSED_BAD_INPUT},
        {"frame too big", NK_CTR_CLOSED_TOO_BIG},
        {"output queue over its limit", NK_CTR_CLOSED_OUTPUT_LIMIT},
        {"plugin error", NK_CTR_CLOSED_PLUGIN},
        {"shutdown", NK_CTR_CLOSED_SHUTDOWN},
    };

    if (why == NULL)
        return eof ? NK_CTR_CLOSED_PEER : NK_CTR_CLOSED_SERVER;
    if (strcmp(why, "refused by the plugin") == 0)
        return NK_CTR_REFUSED_PLUGIN;
    if (strstr(why, " timeout") != NULL ||
        strcmp(why, "buffer memory budget") == 0)
        return NK_CTR_N; /* counted by the listener's closed_* */
    for (size_t i = 0; i < sizeof(causes) / sizeof(causes[0]); i++)
        if (strcmp(why, causes[i].why) == 0)
            return causes[i].ctr;
    return NK_CTR_CLOSED_ERROR;
}

static uint64_t
ctr_load(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

void
nk__counters_sum(struct nk__server *srv, size_t li, struct nk__ctr_sum *out)
{
    nk__counters_sum_one(srv, li, out);
    nk__server_sum_more(srv, li, out);
}

void
nk__counters_sum_one(struct nk__server *srv, size_t li, struct nk__ctr_sum *out)
{
    int nw = nk__server_nworkers(srv);

    memset(out, 0, sizeof(*out));
    for (int w = 0; w < nw; w++) {
        struct nk__listener *ls = &nk__server_worker(srv, w)->listeners[li];
        for (int k = 0; k < NK_CTR_N; k++)
            out->v[k] += ctr_load(&ls->ctr.v[k]);
        out->idle += ctr_load(&ls->closed_idle);
        out->message += ctr_load(&ls->closed_message);
        out->write += ctr_load(&ls->closed_write);
        out->memory += ctr_load(&ls->closed_memory);
        out->v[NK_CTR_REFUSED_PER_IP] += ctr_load(&ls->refused_perip);
        for (size_t j = 0; j < ls->nsocks; j++)
            nk__dgram_stats_add(ls->socks[j].dgram, &out->dg);
        out->malformed += ctr_load(&ls->udp_dropped);
        if (w == 0) {
            out->denied = atomic_load(&ls->access->denied);
            out->active = atomic_load(ls->slots);
        }
    }
}

/* ---- the log line ------------------------------------------------------- */

struct ctr_line {
    char buf[1200];
    size_t n;
};

static void ctr_put(struct ctr_line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ctr_put(struct ctr_line *l, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (l->n >= sizeof(l->buf) - 1)
        return;
    va_start(ap, fmt);
    n = vsnprintf(l->buf + l->n, sizeof(l->buf) - l->n, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->n += (size_t)n < sizeof(l->buf) - l->n ? (size_t)n
                                                  : sizeof(l->buf) - 1 - l->n;
}

struct ctr_part {
    const char *name;
    uint64_t n;
};

/* " (a 1, b 2)" for the non-zero parts, nothing if all are zero. */
static void
ctr_parts(struct ctr_line *l, const struct ctr_part *p, size_t n)
{
    const char *sep = " (";

    for (size_t i = 0; i < n; i++) {
        if (p[i].n == 0)
            continue;
        ctr_put(l, "%s%s %llu", sep, p[i].name, (unsigned long long)p[i].n);
        sep = ", ";
    }
    if (sep[0] == ',')
        ctr_put(l, ")");
}

static uint64_t
ctr_total(const struct ctr_part *p, size_t n)
{
    uint64_t t = 0;

    for (size_t i = 0; i < n; i++)
        t += p[i].n;
    return t;
}

#define NPARTS(a) (sizeof(a) / sizeof(a[0]))

/* ", messages I in / O out, bytes I in / O out, decode errors N": what
 * every listener's line says, TCP or UDP. */
static void
ctr_put_traffic(struct ctr_line *l, const struct nk__ctr_sum *s)
{
    ctr_put(l,
            ", messages %llu in / %llu out, bytes %llu in / %llu out, "
            "decode errors %llu",
            (unsigned long long)s->v[NK_CTR_MSGS_IN],
            (unsigned long long)s->v[NK_CTR_MSGS_OUT],
            (unsigned long long)s->v[NK_CTR_BYTES_IN],
            (unsigned long long)s->v[NK_CTR_BYTES_OUT],
            (unsigned long long)s->v[NK_CTR_DECODE_ERRORS]);
}

/* ", tls 12 (1.2 2, 1.3 10, resumed 4), tls failed 3 (protocol 1, ...)" */
static void
ctr_put_tls(struct ctr_line *l, const struct nk__ctr_sum *s)
{
    struct ctr_part failed[NK_TLS_FAIL_N];

    for (int k = 0; k < NK_TLS_FAIL_N; k++)
        failed[k] =
            (struct ctr_part){nk__tls_fail_names[k], s->v[NK_CTR_TLS_FAIL + k]};
    ctr_put(l, ", tls %llu (1.2 %llu, 1.3 %llu, resumed %llu)",
            (unsigned long long)s->v[NK_CTR_TLS_OK],
            (unsigned long long)s->v[NK_CTR_TLS_12],
            (unsigned long long)s->v[NK_CTR_TLS_13],
            (unsigned long long)s->v[NK_CTR_TLS_RESUMED]);
    ctr_put(l, ", tls failed %llu",
            (unsigned long long)ctr_total(failed, NK_TLS_FAIL_N));
    ctr_parts(l, failed, NK_TLS_FAIL_N);
}

void
nk__counters_log(struct nk__server *srv)
{
    for (size_t i = 0; i < srv->nlisteners; i++) {
        const struct nk__listen_conf *lc = srv->listeners[i].conf;
        struct ctr_line l = {.n = 0};
        struct nk__ctr_sum s;

        nk__counters_sum(srv, i, &s);
        ctr_put(&l, "[listen.%s] ", lc->name);
        if (lc->transport == NK_TRANSPORT_UDP) {
            const struct ctr_part dropped[] = {
                {"malformed", s.malformed},  {"denied", s.denied},
                {"low_port", s.dg.low_port}, {"own_port", s.dg.own_port},
                {"rate", s.dg.rate},         {"loop", s.dg.loop},
            };
            const struct ctr_part unsent[] = {
                {"oversize", s.dg.oversize},
                {"unsent", s.v[NK_CTR_DGRAMS_UNSENT]},
            };
            ctr_put(&l, "datagrams %llu in, answered %llu, dropped %llu",
                    (unsigned long long)s.v[NK_CTR_DGRAMS_IN],
                    (unsigned long long)s.dg.answered,
                    (unsigned long long)ctr_total(dropped, NPARTS(dropped)));
            ctr_parts(&l, dropped, NPARTS(dropped));
            ctr_put_traffic(&l, &s);
            ctr_put(&l, ", replies not sent %llu",
                    (unsigned long long)ctr_total(unsent, NPARTS(unsent)));
            ctr_parts(&l, unsent, NPARTS(unsent));
        } else {
            const struct ctr_part refused[] = {
                {"max_conns", s.v[NK_CTR_REFUSED_MAX_CONNS]},
                {"denied", s.denied},
                {"per_ip", s.v[NK_CTR_REFUSED_PER_IP]},
                {"no_fds", s.v[NK_CTR_REFUSED_NO_FDS]},
                {"no_memory", s.v[NK_CTR_REFUSED_NO_MEMORY]},
                {"plugin", s.v[NK_CTR_REFUSED_PLUGIN]},
                {"proxy", s.v[NK_CTR_REFUSED_PROXY]},
            };
            const struct ctr_part timeouts[] = {
                {"idle", s.idle},
                {"message", s.message},
                {"write", s.write},
            };
            const struct ctr_part closed[] = {
                {"peer", s.v[NK_CTR_CLOSED_PEER]},
                {"server", s.v[NK_CTR_CLOSED_SERVER]},
                {"idle_timeout", s.idle},
                {"message_timeout", s.message},
                {"write_timeout", s.write},
                {"memory", s.memory},
                {"bad_input", s.v[NK_CTR_CLOSED_BAD_INPUT]},
                {"too_big", s.v[NK_CTR_CLOSED_TOO_BIG]},
                {"output_limit", s.v[NK_CTR_CLOSED_OUTPUT_LIMIT]},
                {"plugin", s.v[NK_CTR_CLOSED_PLUGIN]},
                {"error", s.v[NK_CTR_CLOSED_ERROR]},
                {"shutdown", s.v[NK_CTR_CLOSED_SHUTDOWN]},
                {"check", s.v[NK_CTR_CLOSED_CHECK]},
            };
            ctr_put(&l, "accepted %llu, active %lld, refused %llu",
                    (unsigned long long)s.v[NK_CTR_ACCEPTED], s.active,
                    (unsigned long long)ctr_total(refused, NPARTS(refused)));
            ctr_parts(&l, refused, NPARTS(refused));
            ctr_put_traffic(&l, &s);
            ctr_put(&l, ", timeouts %llu",
                    (unsigned long long)ctr_total(timeouts, NPARTS(timeouts)));
            ctr_parts(&l, timeouts, NPARTS(timeouts));
            ctr_put(&l, ", closed %llu",
                    (unsigned long long)ctr_total(closed, NPARTS(closed)));
            ctr_parts(&l, closed, NPARTS(closed));
            if (srv->listeners[i].tls != NULL)
                ctr_put_tls(&l, &s);
        }
        nk__log(NK_LOG_INFO, "%s", l.buf);
    }
}

/* ---- Prometheus --------------------------------------------------------- */

struct ctr_out {
    struct nk__buf *b;
    int failed;
};

static void ctr_emit(struct ctr_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ctr_emit(struct ctr_out *o, const char *fmt, ...)
{
    char line[600];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line) ||
        nk__buf_append(o->b, line, (size_t)n) < 0)
        o->failed = 1;
}

/* A label value: \, " and newline escaped (the format's only escapes). */
static void
ctr_label(char *out, size_t size, const char *s)
{
    size_t n = 0;

    for (; *s != '\0' && n + 3 < size; s++) {
        if (*s == '\\' || *s == '"') {
            out[n++] = '\\';
            out[n++] = *s;
        } else if (*s == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else {
            out[n++] = *s;
        }
    }
    out[n] = '\0';
}

/* A metric family: its samples come from one listener's sum. */
struct ctr_family {
    const char *name, *type, *help;
    unsigned transports;    /* listeners it applies to */
    const char *label;      /* the extra label's name, or NULL */
    const char *values[16]; /* the extra label's values, NULL-ended */
    /* the sample for the value at index i (0 without a label); NULL: the
     * one plain counter s->v[slot] */
    uint64_t (*get)(const struct nk__ctr_sum *s, size_t i);
    int slot;
};

static uint64_t
ctr_sample(const struct ctr_family *fam, const struct nk__ctr_sum *s, size_t i)
{
    return fam->get != NULL ? fam->get(s, i) : s->v[fam->slot];
}

#define TCP NK_TRANSPORT_TCP
#define UDP NK_TRANSPORT_UDP

static uint64_t
get_refused(const struct nk__ctr_sum *s, size_t i)
{
    const uint64_t v[] = {
        s->v[NK_CTR_REFUSED_MAX_CONNS], s->denied,
        s->v[NK_CTR_REFUSED_PER_IP],    s->v[NK_CTR_REFUSED_NO_FDS],
        s->v[NK_CTR_REFUSED_NO_MEMORY], s->v[NK_CTR_REFUSED_PLUGIN],
        s->v[NK_CTR_REFUSED_PROXY]};
    return v[i];
}

static uint64_t
get_active(const struct nk__ctr_sum *s, size_t i)
{
    (void)i;
    return s->active > 0 ? (uint64_t)s->active : 0;
}

static uint64_t
get_closed(const struct nk__ctr_sum *s, size_t i)
{
    const uint64_t v[] = {s->v[NK_CTR_CLOSED_PEER],
                          s->v[NK_CTR_CLOSED_SERVER],
                          s->idle,
                          s->message,
                          s->write,
                          s->memory,
                          s->v[NK_CTR_CLOSED_BAD_INPUT],
                          s->v[NK_CTR_CLOSED_TOO_BIG],
                          s->v[NK_CTR_CLOSED_OUTPUT_LIMIT],
                          s->v[NK_CTR_CLOSED_PLUGIN],
                          s->v[NK_CTR_CLOSED_ERROR],
                          s->v[NK_CTR_CLOSED_SHUTDOWN],
                          s->v[NK_CTR_CLOSED_CHECK]};
    return v[i];
}

static uint64_t
get_timeouts(const struct nk__ctr_sum *s, size_t i)
{
    const uint64_t v[] = {s->idle, s->message, s->write};
    return v[i];
}

static uint64_t
get_dropped(const struct nk__ctr_sum *s, size_t i)
{
    const uint64_t v[] = {
        s->malformed, s->denied,  s->dg.low_port, s->dg.own_port,
        s->dg.rate,   s->dg.loop, s->dg.oversize, s->v[NK_CTR_DGRAMS_UNSENT]};
    return v[i];
}

static uint64_t
get_tls_versions(const struct nk__ctr_sum *s, size_t i)
{
    return s->v[i == 0 ? NK_CTR_TLS_12 : NK_CTR_TLS_13];
}

static uint64_t
get_tls_failed(const struct nk__ctr_sum *s, size_t i)
{
    return s->v[NK_CTR_TLS_FAIL + (int)i];
}

static const struct ctr_family ctr_families[] = {
    {"netkit_connections_accepted_total",
     "counter",
     "TCP connections accepted, refused ones included.",
     TCP,
     NULL,
     {NULL},
     NULL,
     NK_CTR_ACCEPTED},
    {"netkit_connections_refused_total",
     "counter",
     "TCP connections closed before the plugin heard of them, by reason.",
     TCP,
     "reason",
     {"max_conns", "denied", "per_ip", "no_fds", "no_memory", "plugin",
      "proxy"},
     get_refused,
     0},
    {"netkit_connections_active",
     "gauge",
     "TCP connections open now.",
     TCP,
     NULL,
     {NULL},
     get_active,
     0},
    {"netkit_connections_closed_total",
     "counter",
     "TCP connections closed, by cause.",
     TCP,
     "cause",
     {"peer", "server", "idle_timeout", "message_timeout", "write_timeout",
      "memory", "bad_input", "too_big", "output_limit", "plugin", "error",
      "shutdown", "check"},
     get_closed,
     0},
    {"netkit_tls_handshakes_total",
     "counter",
     "TLS handshakes completed, by version (resumed ones included).",
     TCP,
     "version",
     {"1.2", "1.3"},
     get_tls_versions,
     0},
    {"netkit_tls_resumed_total",
     "counter",
     "TLS handshakes that resumed a session (a ticket).",
     TCP,
     NULL,
     {NULL},
     NULL,
     NK_CTR_TLS_RESUMED},
    {"netkit_tls_handshake_failures_total",
     "counter",
     "TLS handshakes that failed, by reason.",
     TCP,
     "reason",
     {"protocol", "version", "cert", "alpn", "closed", "timeout"},
     get_tls_failed,
     0},
    {"netkit_timeouts_total",
     "counter",
     "Connections closed on a deadline, by deadline.",
     TCP,
     "kind",
     {"idle", "message", "write"},
     get_timeouts,
     0},
    {"netkit_datagrams_received_total",
     "counter",
     "Datagrams received.",
     UDP,
     NULL,
     {NULL},
     NULL,
     NK_CTR_DGRAMS_IN},
    {"netkit_datagrams_dropped_total",
     "counter",
     "Datagrams dropped unanswered, or replies not sent, by reason.",
     UDP,
     "reason",
     {"malformed", "denied", "low_port", "own_port", "rate", "loop",
      "oversize_reply", "unsent_reply"},
     get_dropped,
     0},
    {"netkit_messages_received_total",
     "counter",
     "Messages decoded and handed to the plugin.",
     TCP | UDP,
     NULL,
     {NULL},
     NULL,
     NK_CTR_MSGS_IN},
    {"netkit_messages_sent_total",
     "counter",
     "Messages the plugin sent.",
     TCP | UDP,
     NULL,
     {NULL},
     NULL,
     NK_CTR_MSGS_OUT},
    {"netkit_bytes_received_total",
     "counter",
     "Bytes read from peers.",
     TCP | UDP,
     NULL,
     {NULL},
     NULL,
     NK_CTR_BYTES_IN},
    {"netkit_bytes_sent_total",
     "counter",
     "Bytes written to peers.",
     TCP | UDP,
     NULL,
     {NULL},
     NULL,
     NK_CTR_BYTES_OUT},
    {"netkit_decode_errors_total",
     "counter",
     "Input the plugin's decoder refused.",
     TCP | UDP,
     NULL,
     {NULL},
     NULL,
     NK_CTR_DECODE_ERRORS},
};

int
nk__counters_prometheus(struct nk__server *srv, struct nk__buf *out)
{
    size_t nls = srv->nlisteners;
    struct nk__ctr_sum *sums = nk__calloc(nls > 0 ? nls : 1, sizeof(*sums));
    struct ctr_out o = {out, 0};

    if (sums == NULL)
        return -1;
    for (size_t i = 0; i < nls; i++)
        nk__counters_sum(srv, i, &sums[i]);
    ctr_emit(&o,
             "# HELP netkit_build_info The running netkit's version.\n"
             "# TYPE netkit_build_info gauge\n"
             "netkit_build_info{version=\"%s\"} 1\n",
             NK_VERSION_STRING);
    for (size_t f = 0; f < sizeof(ctr_families) / sizeof(ctr_families[0]);
         f++) {
        const struct ctr_family *fam = &ctr_families[f];
        int header = 0;

        for (size_t i = 0; i < nls; i++) {
            const struct nk__listen_conf *lc = srv->listeners[i].conf;
            char name[200];

            if (!(fam->transports & lc->transport) ||
                (strncmp(fam->name, "netkit_tls_", 11) == 0 &&
                 srv->listeners[i].tls == NULL)) /* TLS listeners only */
                continue;
            if (!header) {
                ctr_emit(&o, "# HELP %s %s\n# TYPE %s %s\n", fam->name,
                         fam->help, fam->name, fam->type);
                header = 1;
            }
            ctr_label(name, sizeof(name), lc->name);
            if (fam->label == NULL) {
                ctr_emit(&o, "%s{listener=\"%s\"} %llu\n", fam->name, name,
                         (unsigned long long)ctr_sample(fam, &sums[i], 0));
                continue;
            }
            for (size_t v = 0; fam->values[v] != NULL; v++)
                ctr_emit(&o, "%s{listener=\"%s\",%s=\"%s\"} %llu\n", fam->name,
                         name, fam->label, fam->values[v],
                         (unsigned long long)ctr_sample(fam, &sums[i], v));
        }
    }
    nk__free(sums);
    return o.failed ? -1 : 0;
}
