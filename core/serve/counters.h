/*
 * counters.h -- what each listener counts: connections accepted, refused
 * (by reason), active and closed (by cause); messages and bytes in and out;
 * decode errors; timeouts; datagrams received and dropped (by reason).
 *
 * Each worker counts in its own copy of the listener (struct nk__listener
 * ctr), written by that worker's thread only: an increment is a relaxed
 * load and store, no lock and no locked instruction.  A reader (SIGUSR1,
 * the metrics listener, the lines at exit) sums every worker's copy with
 * relaxed loads, so a sum may miss an increment made at that instant but
 * never tears a value.
 */
#ifndef NK_CORE_COUNTERS_H
#define NK_CORE_COUNTERS_H

#include <stdatomic.h>
#include <stdint.h>

#include "base/buf.h"
#include "serve/dgram.h"

enum nk__ctr {
    NK_CTR_ACCEPTED, /* accept() returned it */
    /* closed before the plugin heard of it */
    NK_CTR_REFUSED_MAX_CONNS,
    NK_CTR_REFUSED_PER_IP, /* summed from the listener's refused_perip */
    NK_CTR_REFUSED_NO_FDS, /* accepted with the spare descriptor, shed */
    NK_CTR_REFUSED_NO_MEMORY,
    NK_CTR_REFUSED_PLUGIN, /* on_open said no */
    NK_CTR_REFUSED_PROXY,  /* no valid PROXY header, or untrusted source */
    NK_CTR_MSGS_IN,
    NK_CTR_MSGS_OUT,
    NK_CTR_BYTES_IN,
    NK_CTR_BYTES_OUT,
    NK_CTR_DECODE_ERRORS,
    NK_CTR_DGRAMS_IN,
    NK_CTR_DGRAMS_UNSENT, /* a reply the socket refused */
    /* closes by cause; the timeouts are the listener's closed_* */
    NK_CTR_CLOSED_PEER,   /* the peer closed (end of input) */
    NK_CTR_CLOSED_SERVER, /* the plugin closed (exit word, NK_ECLOSE) */
    NK_CTR_CLOSED_BAD_INPUT,
    NK_CTR_CLOSED_TOO_BIG,
    NK_CTR_CLOSED_OUTPUT_LIMIT,
    NK_CTR_CLOSED_PLUGIN, /* a plugin error or a broken contract */
    NK_CTR_CLOSED_ERROR,  /* a socket error, out of memory */
    NK_CTR_CLOSED_SHUTDOWN,
    NK_CTR_CLOSED_CHECK, /* closed by the peer before it sent a byte */
    /* TLS listeners: handshakes done, by version, resumed; and failed, one
     * counter per enum nk__tls_fail from NK_CTR_TLS_FAIL on */
    NK_CTR_TLS_OK,
    NK_CTR_TLS_12,
    NK_CTR_TLS_13,
    NK_CTR_TLS_RESUMED,
    NK_CTR_TLS_FAIL,
    NK_CTR_TLS_FAIL_LAST = NK_CTR_TLS_FAIL + 5, /* NK_TLS_FAIL_N - 1 */
    NK_CTR_N
};

struct nk__counters {
    _Atomic uint64_t v[NK_CTR_N];
};

/* Count n more; only the listener's own worker calls this. */
static inline void
nk__ctr_add(struct nk__counters *c, enum nk__ctr k, uint64_t n)
{
    atomic_store_explicit(
        &c->v[k], atomic_load_explicit(&c->v[k], memory_order_relaxed) + n,
        memory_order_relaxed);
}

/* The counter for a connection closed with `why` (NULL: orderly; eof: the
 * peer had closed its side): a close cause, NK_CTR_REFUSED_PLUGIN, or
 * NK_CTR_N for a deadline or the memory budget (the listener's closed_*
 * count those). */
enum nk__ctr nk__ctr_close_cause(const char *why, int eof);

struct nk__server;

/* One listener's counts over every worker. */
struct nk__ctr_sum {
    uint64_t v[NK_CTR_N];
    uint64_t idle, message, write; /* timeouts */
    uint64_t memory;               /* closed over max_buffer_memory */
    uint64_t malformed;            /* datagrams dropped undecoded */
    /* UDP: dgram.c's counts (answered, refused as possible reflections,
     * replies over the protocol's maximum) */
    struct nk__dgram_stats dg;
    uint64_t denied;  /* allow/deny */
    long long active; /* TCP connections open now */
};

/* Sum listener li of the configuration that worker srv serves, with what
 * the same listener counted before a reload (nk__server_sum_more). */
void nk__counters_sum(struct nk__server *srv, size_t li,
                      struct nk__ctr_sum *out);

/* Sum listener li of srv's configuration only. */
void nk__counters_sum_one(struct nk__server *srv, size_t li,
                          struct nk__ctr_sum *out);

/* Log every listener's counts, one line each (SIGUSR1, and at exit). */
void nk__counters_log(struct nk__server *srv);

/* Append every listener's counts to out in the Prometheus text exposition
 * format (version 0.0.4).  Returns 0, or -1 when out of memory. */
int nk__counters_prometheus(struct nk__server *srv, struct nk__buf *out);

#endif /* NK_CORE_COUNTERS_H */
