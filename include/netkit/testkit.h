/*
 * netkit/testkit.h -- test a netkit plugin without sockets or a netkit.
 *
 * A plugin reaches the host only through struct nk_host, so a test can be
 * the host.  This header is a whole fake host (ABI 1.2), codec checks and
 * assertions, as static functions: include it in one test program, build
 * with `pkg-config --cflags netkit-testkit`, and link nothing from netkit.
 *
 *   - The fake host creates the plugin's instances (one per fake worker)
 *     from its option table, defaults plus "name=value" overrides read by
 *     the host's one quoting rule.  It records every send (in order, per
 *     session, with the bytes as they would go on the wire: head, payload
 *     and tail from the plugin's own encode), every close and every log
 *     line.  The test opens sessions (on_open), feeds them bytes (decode,
 *     on_message, on_bad_input as the host's read path does), closes them
 *     from the peer's side (on_close), and sends datagrams.  on_close runs
 *     after the callback that closed the session returns, never inside a
 *     service.  Session handles work with send_to and close_to; a send from
 *     another worker is delivered when the test pumps.  `queued` is what
 *     the test sets (back-pressure), and on_drain runs when the test
 *     drains.  Timers run on a fake clock that only nkt_advance moves.
 *     `post` queues for the fake workers until nkt_pump delivers on_post.
 *     `connect` records the request; the test completes or fails it
 *     (on_connect); closing a pending one cancels it (on_connect with
 *     NK_ECANCELED, as the host does), and so does nkt_free.  1.2:
 *     pause_read holds what the test feeds until resume_read (served
 *     after the callback that resumed returns); the output watermarks
 *     apply to what nkt_set_queued and later sends queue (on_writable);
 *     nkt_peer_eof is the peer's half-close (on_eof with
 *     NK_PLUGIN_HALF_CLOSE, else the session ends), and shutdown_write
 *     makes later sends fail; a message over max_message gets
 *     on_bad_input(NK_EFRAMETOOBIG) before the close, as in the host;
 *     tls_info answers NK_ENOENT (not over TLS) unless the test gave the
 *     session a handshake's outcome with nkt_set_tls;
 *     nkt_timeout is a host deadline firing (on_timeout, then the
 *     close).
 *   - Codec checks: nkt_expect_splits feeds a byte stream to decode whole,
 *     one byte at a time, cut in two at every place and cut at random
 *     (seeded), and asserts that every way gives the same messages;
 *     nkt_expect_splits_served does the same through on_message, and
 *     compares the replies too; nkt_expect_roundtrip encodes a payload
 *     and decodes it back.
 *   - Assertions: nkt_expect_sent(s, "echo : hi") and friends compare what
 *     the plugin sent with what the test expects.  A failure prints
 *     FILE:LINE and what differs, then aborts; when <cmocka.h> is included
 *     before this header, it fails the current cmocka test instead, and
 *     nkt_set_fail_handler installs a handler of your own.
 *   - Contracts: a decode result outside its input, a `need` below what is
 *     buffered, an empty message on a stream, an encode past its room, a
 *     create returning a positive value: each fails the test, naming the
 *     rule, where the real host would close the connection.
 *
 * A worked example, for a plugin answering each line "echo : LINE":
 *
 *     #include <netkit/testkit.h>
 *
 *     const struct nk_plugin *nk_plugin_entry(void); // the plugin's object
 *
 *     int
 *     main(void)
 *     {
 *         struct nkt *k = nkt_start(nk_plugin_entry(),
 *                                   (const char *[]){"max_line=16", NULL});
 *         struct nk_session *s = nkt_open(k);
 *
 *         nkt_feed_str(s, "hi\nthe");         // one read, a line and a half
 *         nkt_expect_sent(s, "echo : hi");    // the payload sent...
 *         nkt_feed_str(s, "re\n");
 *         nkt_expect_wire(s, "echo : there\n", 13); // ...or its wire bytes
 *         nkt_expect_no_more(s);
 *         nkt_expect_splits(k, "a\nb\r\n\n", 6,
 *                           (const char *[]){"a", "b", "", NULL});
 *         nkt_expect_roundtrip(k, "hello", 5);
 *         nkt_feed_str(s, "exit\n");
 *         nkt_expect_closed(s);
 *         nkt_free(k); // closes what is open, destroys the instances
 *         return 0;
 *     }
 *
 * Build it beside the plugin (no netkit library is linked):
 *
 *     cc -std=c99 $(pkg-config --cflags netkit-testkit) -o test_echo \
 *        test_echo.c echo.c && ./test_echo
 *
 * Every nkt_ function that can fail the test is a macro that passes the
 * caller's __FILE__ and __LINE__.  Strings in messages are shown C-escaped.
 * The kit is single-threaded: fake workers are instances, not threads.
 * Memory the kit returns (messages, logs, sessions) lives until nkt_free.
 */
#ifndef NETKIT_TESTKIT_H
#define NETKIT_TESTKIT_H

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netkit/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most fake workers (instances) one kit runs. */
#define NKT_WORKERS_MAX 16
/* Random splits tried by nkt_expect_splits, and the most two-way splits
 * (past it, cut points are spread evenly over the stream). */
#define NKT_RANDOM_SPLITS 32
#define NKT_SPLIT2_MAX    4096
/* The fake clock's first reading (ms): not 0, as a real clock is not. */
#define NKT_CLOCK_START 1000000
/* nkt_pump's bound: a plugin that posts on every on_post never settles. */
#define NKT_PUMP_MAX 100000

/* A failure handler: called with the test's file and line and a message.
 * It should not return (longjmp, exit); if it does, the kit aborts. */
typedef void (*nkt_fail_fn)(const char *file, int line, const char *msg);

/* Bytes that may hold NULs: {pointer, length}.  NKT_LIT("a\0b") for a
 * literal. */
struct nkt_bytes {
    const void *ptr;
    size_t len;
};
#define NKT_LIT(lit)                                                           \
    {                                                                          \
        (lit), sizeof(lit) - 1                                                 \
    }

/* One message the plugin sent, as the host would write it. */
struct nkt_msg {
    struct nk_session *session;
    uint8_t *bytes;   /* head + payload + tail: the wire bytes */
    size_t len;       /* head_len + payload_len + tail_len */
    size_t head_len;  /* what encode put before the payload */
    size_t tail_len;  /* and after it */
    uint8_t *payload; /* bytes + head_len */
    size_t payload_len;
    int dropped; /* never written: sent before a connect that then failed,
                    or from on_timeout for a write timeout */
};

/* One log line. */
struct nkt_log {
    struct nk_session *session; /* NULL: the instance's */
    enum nk_log_level level;
    int worker; /* the instance that logged, -1 if unknown */
    char *text;
};

/* ------------------------------------------------------------------------
 * The fake host's state.  Read it through the functions below; the members
 * are not part of the kit's interface.
 * ---------------------------------------------------------------------- */

struct nkt;

struct nkt__vec {
    uint8_t *p;
    size_t len, cap;
};

enum nkt__state {
    NKT__CONNECTING = 1, /* outbound, waiting for the test */
    NKT__OPEN,
    NKT__CLOSING, /* closed; on_close not yet run */
    NKT__CLOSED,
    NKT__REFUSED, /* on_open refused it, or connect failed */
    NKT__DATAGRAM /* a UDP session: one on_message only */
};

/* The API keeps the session opaque; the test's program is the host, so the
 * kit defines it. */
struct nk_session {
    struct nkt *kit;
    int worker;
    nk_sid sid;
    enum nkt__state state;
    int owed_close; /* on_close is owed (on_open or on_connect succeeded) */
    int outbound;
    void *data;
    char peer[64];
    char host[48], port[8]; /* outbound: what connect asked for */
    unsigned close_calls;   /* host->close calls */
    const char *closed_why; /* who closed it, for messages */
    size_t queued;
    int drain_owed;
    int send_fail; /* when < 0, send fails with it (nkt_fail_sends) */
    struct nkt__vec in;
    struct nkt__vec *received; /* payloads given to on_message */
    size_t nreceived;
    size_t checked; /* messages the nkt_expect_sent family consumed */
    int bad_err;    /* the last on_bad_input's err, 0 if none */
    /* 1.2 */
    int paused;      /* pause_read: feeds wait in `in` */
    int resume_owed; /* resume_read: serve `in` at settle */
    int cancel_owed; /* closed while connecting: on_connect(ECANCELED) */
    int eof;         /* the peer half-closed (nkt_peer_eof) */
    int wr_shut;     /* shutdown_write: sends fail */
    size_t wm_high, wm_low;
    int wm_above, wm_told; /* watermark state, and what on_writable said */
    int head_told;         /* on_head ran for the message being fed */
    size_t in_rest;        /* inside on_message: bytes after it */
    int delivering;
    const struct nk_tls_info *tls; /* nkt_set_tls: what tls_info answers */
    int timeout_told;              /* on_timeout ran (nkt_timeout) */
    int eof_owed; /* nkt_peer_eof while paused: after the resume */
};

struct nk_ctx {
    struct nkt *kit;
    int worker;
};

struct nkt__timer {
    nk_timer_id id;
    int worker;
    struct nk_session *s;
    uint64_t due, repeat;
    nk_timer_fn fn;
    void *arg;
};

enum nkt__kind {
    NKT__POST = 1,
    NKT__SEND,
    NKT__CLOSE,
    NKT__PAUSE,
    NKT__RESUME,
    NKT__SHUTDOWN
};

struct nkt__item {
    enum nkt__kind kind;
    int worker; /* where it runs */
    nk_sid sid;
    uint8_t *data;
    size_t len;
};

struct nkt__run {
    struct nkt__vec *msgs;
    size_t n;
    long end;    /* 0: all taken; NK_ENEEDMORE: a partial message left;
                    else the error that stopped decoding */
    size_t left; /* bytes not taken */
};

struct nkt {
    struct nk_host host;
    const struct nk_plugin *plugin;
    unsigned transport, role;
    int workers, created;
    void *inst[NKT_WORKERS_MAX];
    struct nk_ctx ctx[NKT_WORKERS_MAX];
    size_t max_message;
    size_t out_high, out_low;    /* 1.2: from nk_setup */
    uint64_t connect_timeout_ms; /* 1.2: from nk_setup (the test decides
                                    when a connect times out) */
    char err[160];
    uint64_t now, seed;
    nk_timer_id next_timer;
    nk_sid next_sid;
    int depth, settling;
    int destroying;   /* in destroy: services that take ctx refuse (1.2) */
    const char *file; /* where the test called the kit last */
    int line;

    struct nk_session **sess;
    size_t nsess, capsess;
    struct nkt_msg *sent;
    size_t nsent, capsent;
    struct nkt_log *logs;
    size_t nlogs, caplogs;
    struct nkt__timer *timers;
    size_t ntimers, captimers;
    struct nkt__item *items;
    size_t nitems, capitems;
    uint8_t **wires; /* nkt_encode's results */
    size_t nwires, capwires;
    size_t dropped; /* datagrams decode did not take whole */
    /* nkt_expect_splits's scratch, kept here so that a failure that
     * longjmps out leaks nothing */
    size_t *cuts;
    struct nkt__vec split_in;
    struct nkt__run ref, run;
};

static inline void nkt__run_free(struct nkt__run *r);

/* ------------------------------------------------------------------------
 * Failing a test
 * ---------------------------------------------------------------------- */

static inline nkt_fail_fn *
nkt__hook(void)
{
    static nkt_fail_fn hook;
    return &hook;
}

/* Install fn as the failure handler (NULL: the default). */
static inline void
nkt_set_fail_handler(nkt_fail_fn fn)
{
    *nkt__hook() = fn;
}

__attribute__((noreturn, format(printf, 3, 4))) static inline void
nkt__fail(const char *file, int line, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (file == NULL)
        file = "?";
    if (*nkt__hook() != NULL)
        (*nkt__hook())(file, line, msg);
#if defined(cmocka_unit_test)
    print_error("%s:%d: %s\n", file, line, msg);
    _fail(file, line);
#else
    fprintf(stderr, "%s:%d: %s\n", file, line, msg);
    fflush(stderr);
#endif
    abort();
}

/* Write bytes as a quoted C string into out (at most 96 bytes shown). */
static inline const char *
nkt__show(const void *ptr, size_t len, char *out, size_t size)
{
    const uint8_t *p = (const uint8_t *)ptr;
    size_t o = 0, i;

    if (size < 16)
        return "";
    out[o++] = '"';
    for (i = 0; i < len && i < 96 && o + 8 < size; i++) {
        uint8_t c = p[i];
        if (c == '\n' || c == '\r' || c == '\t' || c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = c == '\n'   ? 'n'
                       : c == '\r' ? 'r'
                       : c == '\t' ? 't'
                                   : (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    if (i < len && o + 4 < size)
        out[o++] = '.', out[o++] = '.', out[o++] = '.';
    out[o] = '\0';
    return out;
}

/* The kit a session-less log line belongs to: the one last entered. */
static inline struct nkt **
nkt__current(void)
{
    static struct nkt *cur;
    return &cur;
}

#define NKT__AT(k) ((k)->file = __FILE__, (k)->line = __LINE__, (k))

/* ------------------------------------------------------------------------
 * Small helpers
 * ---------------------------------------------------------------------- */

static inline void *
nkt__alloc(struct nkt *k, size_t n)
{
    void *p = calloc(1, n > 0 ? n : 1);

    if (p == NULL)
        nkt__fail(k != NULL ? k->file : NULL, k != NULL ? k->line : 0,
                  "netkit testkit: out of memory");
    return p;
}

/* arr (cap elements of size) with room for n + 1: the array to keep. */
static inline void *
nkt__grow(struct nkt *k, void *arr, size_t *cap, size_t n, size_t size)
{
    size_t ncap;
    void *p;

    if (n < *cap)
        return arr;
    ncap = *cap > 0 ? *cap * 2 : 16;
    p = realloc(arr, ncap * size);
    if (p == NULL)
        nkt__fail(k->file, k->line, "netkit testkit: out of memory");
    memset((char *)p + *cap * size, 0, (ncap - *cap) * size);
    *cap = ncap;
    return p;
}

static inline void
nkt__vec_add(struct nkt *k, struct nkt__vec *v, const void *p, size_t n)
{
    if (v->len + n + 1 > v->cap) {
        size_t cap = (v->len + n + 1) * 2;
        uint8_t *q = (uint8_t *)realloc(v->p, cap);
        if (q == NULL)
            nkt__fail(k->file, k->line, "netkit testkit: out of memory");
        v->p = q;
        v->cap = cap;
    }
    if (n > 0)
        memcpy(v->p + v->len, p, n);
    v->len += n;
}

static inline uint8_t *
nkt__dup(struct nkt *k, const void *p, size_t n)
{
    uint8_t *d = (uint8_t *)nkt__alloc(k, n + 1);

    if (n > 0)
        memcpy(d, p, n);
    return d;
}

/* xorshift64*: the same splits for the same seed on every machine. */
static inline uint64_t
nkt__rand(uint64_t *st)
{
    uint64_t x = *st != 0 ? *st : 0x9e3779b97f4a7c15ULL;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *st = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* ------------------------------------------------------------------------
 * Calling the plugin: no re-entry
 * ---------------------------------------------------------------------- */

static inline void nkt__settle(struct nkt *k);
static inline long nkt__serve(struct nkt *k, struct nk_session *s);
static inline void nkt__close(struct nk_session *s, const char *why);

static inline void
nkt__enter(struct nkt *k)
{
    *nkt__current() = k;
    k->depth++;
}

/* The outermost callback returned: run what it caused (on_close). */
static inline void
nkt__leave(struct nkt *k)
{
    if (--k->depth == 0 && !k->settling)
        nkt__settle(k);
}

static inline void
nkt__kill_timers(struct nkt *k, struct nk_session *s)
{
    size_t i, j = 0;

    for (i = 0; i < k->ntimers; i++)
        if (k->timers[i].s != s)
            k->timers[j++] = k->timers[i];
    k->ntimers = j;
}

/* The peer's end of input reaches the plugin (1.2): on_eof with
 * NK_PLUGIN_HALF_CLOSE, else the end of the session. */
static inline void
nkt__eof_now(struct nkt *k, struct nk_session *s)
{
    const struct nk_plugin *p = k->plugin;

    if ((p->flags & NK_PLUGIN_HALF_CLOSE) && p->on_eof != NULL) {
        p->on_eof(k->inst[s->worker], s);
        if (s->wr_shut)
            nkt__close(s, "both sides shut");
    } else {
        nkt__close(s, "end of input");
    }
}

static inline void
nkt__settle(struct nkt *k)
{
    int again = 1;

    k->settling = 1;
    while (again) {
        again = 0;
        for (size_t i = 0; i < k->nsess; i++) {
            struct nk_session *s = k->sess[i];

            if (s->state == NKT__OPEN && s->resume_owed) {
                /* resume_read: what waited is served now. */
                s->resume_owed = 0;
                k->depth++;
                nkt__serve(k, s);
                k->depth--;
                again = 1;
            }
            if (s->state == NKT__OPEN && s->eof_owed && !s->paused &&
                !s->resume_owed) {
                /* An end of input that came during a pause: after what
                 * the pause held, as the host, which reads neither until
                 * the resume. */
                s->eof_owed = 0;
                k->depth++;
                nkt__eof_now(k, s);
                k->depth--;
                again = 1;
            }
            if (s->state == NKT__OPEN && s->wm_above != s->wm_told &&
                k->plugin->on_writable != NULL) {
                s->wm_told = s->wm_above;
                k->depth++;
                k->plugin->on_writable(k->inst[s->worker], s, !s->wm_above);
                k->depth--;
                again = 1;
            }
            if (s->state != NKT__CLOSING)
                continue;
            s->state = NKT__CLOSED;
            nkt__kill_timers(k, s);
            if (s->owed_close && k->plugin->on_close != NULL) {
                s->owed_close = 0;
                k->depth++;
                k->plugin->on_close(k->inst[s->worker], s);
                k->depth--;
            } else if (s->cancel_owed) {
                /* A pending connect closed: the host cancels it. */
                s->cancel_owed = 0;
                s->state = NKT__REFUSED;
                s->closed_why = "connect cancelled";
                k->depth++;
                k->plugin->on_connect(k->inst[s->worker], s, NK_ECANCELED);
                k->depth--;
            }
            again = 1;
        }
    }
    k->settling = 0;
}

/* Mark s closing (what a close does); on_close follows at settle. */
static inline void
nkt__close(struct nk_session *s, const char *why)
{
    if (s->state == NKT__CONNECTING) {
        /* Cancelled: what was sent to it is never written. */
        struct nkt *k = s->kit;
        for (size_t i = 0; i < k->nsent; i++)
            if (k->sent[i].session == s)
                k->sent[i].dropped = 1;
        s->cancel_owed = 1;
    }
    if (s->state == NKT__OPEN || s->state == NKT__CONNECTING) {
        s->state = NKT__CLOSING;
        s->closed_why = why;
    }
}

/* The output queue is s->queued bytes now: cross a watermark (1.2). */
static inline void
nkt__watermark(struct nk_session *s)
{
    if (s->queued > s->wm_high)
        s->wm_above = 1;
    else if (s->queued <= s->wm_low)
        s->wm_above = 0;
}

static inline const char *
nkt__name(const struct nk_session *s, char *buf, size_t size)
{
    if (s == NULL)
        return "no session";
    snprintf(buf, size, "session %llu (%s)", (unsigned long long)s->sid,
             s->peer);
    return buf;
}

/* ------------------------------------------------------------------------
 * Host services
 * ---------------------------------------------------------------------- */

static inline struct nkt *
nkt__kit_of(struct nk_session *s)
{
    if (s == NULL || s->kit == NULL) {
        struct nkt *k = *nkt__current();
        nkt__fail(k != NULL ? k->file : NULL, k != NULL ? k->line : 0,
                  "netkit testkit: a host service was given session %p, "
                  "which is not a session of the kit",
                  (void *)s);
    }
    return s->kit;
}

/* Ask the plugin's encode how to wrap total bytes, as the host does: the
 * lengths zeroed, the rest poisoned, the result checked. */
static inline int
nkt__encode(struct nkt *k, size_t total, struct nk_wrap *w)
{
    int rc;

    memset(w, 0xa5, sizeof(*w));
    w->head_len = w->tail_len = 0;
    w->head_ext = w->tail_ext = NULL;
    rc = k->plugin->encode(k->inst[0], total, w);
    if (rc < 0)
        return rc;
    if (rc > 0)
        nkt__fail(k->file, k->line,
                  "plugin %s: encode returned %d (0 or a negative code "
                  "expected)",
                  k->plugin->name, rc);
    if (w->head_len > (w->head_ext != NULL ? NK_WRAP_MAX : NK_HDR_MAX) ||
        w->tail_len > (w->tail_ext != NULL ? NK_WRAP_MAX : NK_HDR_MAX))
        nkt__fail(k->file, k->line,
                  "plugin %s: encode gave a head of %zu and a tail of %zu "
                  "bytes, past its room (NK_HDR_MAX without _ext, "
                  "NK_WRAP_MAX with it)",
                  k->plugin->name, w->head_len, w->tail_len);
    return 0;
}

static inline int
nkt__iov_total(const struct iovec *iov, int iovcnt, size_t *total)
{
    *total = 0;
    if (iovcnt < 0 || iovcnt > NK_SEND_IOV_MAX || (iovcnt > 0 && iov == NULL))
        return NK_EINVAL;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > 0 && iov[i].iov_base == NULL)
            return NK_EINVAL;
        if (*total + iov[i].iov_len < *total)
            return NK_EINVAL;
        *total += iov[i].iov_len;
    }
    return 0;
}

/* Record one message to s: head, the iovecs, tail. */
static inline int
nkt__record(struct nk_session *s, const struct iovec *iov, int iovcnt)
{
    struct nkt *k = s->kit;
    struct nkt_msg *m;
    struct nk_wrap w;
    size_t total, off;
    int rc;

    if ((rc = nkt__iov_total(iov, iovcnt, &total)) < 0)
        return rc;
    if ((s->state != NKT__OPEN && s->state != NKT__CONNECTING &&
         s->state != NKT__DATAGRAM) ||
        s->wr_shut)
        return NK_EPIPE;
    if (s->send_fail < 0)
        return s->send_fail;
    if ((rc = nkt__encode(k, total, &w)) < 0)
        return rc;
    k->sent = (struct nkt_msg *)nkt__grow(k, k->sent, &k->capsent, k->nsent,
                                          sizeof(*k->sent));
    m = &k->sent[k->nsent];
    memset(m, 0, sizeof(*m));
    m->session = s;
    m->head_len = w.head_len;
    m->tail_len = w.tail_len;
    m->len = w.head_len + total + w.tail_len;
    m->bytes = (uint8_t *)nkt__alloc(k, m->len + 1);
    memcpy(m->bytes, w.head_ext != NULL ? w.head_ext : w.head, w.head_len);
    off = w.head_len;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > 0)
            memcpy(m->bytes + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    memcpy(m->bytes + off, w.tail_ext != NULL ? w.tail_ext : w.tail,
           w.tail_len);
    m->payload = m->bytes + w.head_len;
    m->payload_len = total;
    k->nsent++;
    if (s->queued > 0) { /* the socket takes nothing: it queues */
        s->queued += m->len;
        s->drain_owed = 1;
        nkt__watermark(s);
    }
    return 0;
}

static inline int
nkt__send(struct nk_session *s, const struct iovec *iov, int iovcnt)
{
    nkt__kit_of(s);
    return nkt__record(s, iov, iovcnt);
}

static inline void
nkt__host_close(struct nk_session *s)
{
    nkt__kit_of(s);
    s->close_calls++;
    nkt__close(s, "closed by the plugin");
}

__attribute__((format(printf, 3, 4))) static inline void
nkt__log(struct nk_session *s, enum nk_log_level level, const char *fmt, ...)
{
    struct nkt *k = s != NULL ? nkt__kit_of(s) : *nkt__current();
    struct nkt_log *l;
    char line[1024];
    va_list ap;

    if (k == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    k->logs = (struct nkt_log *)nkt__grow(k, k->logs, &k->caplogs, k->nlogs,
                                          sizeof(*k->logs));
    l = &k->logs[k->nlogs++];
    l->session = s;
    l->level = level;
    l->worker = s != NULL ? s->worker : -1;
    l->text = (char *)nkt__dup(k, line, strlen(line));
    if (getenv("NKT_VERBOSE") != NULL)
        fprintf(stderr, "[%s log %d] %s\n", k->plugin->name, (int)level, line);
}

static inline const char *
nkt__peer_name(struct nk_session *s)
{
    nkt__kit_of(s);
    return s->peer;
}

static inline void *
nkt__get_data(struct nk_session *s)
{
    nkt__kit_of(s);
    return s->data;
}

static inline void
nkt__set_data(struct nk_session *s, void *data)
{
    nkt__kit_of(s);
    s->data = data;
}

static inline nk_sid
nkt__session_id(struct nk_session *s)
{
    nkt__kit_of(s);
    return s->state == NKT__DATAGRAM ? 0 : s->sid;
}

static inline struct nk_session *
nkt__by_sid(struct nkt *k, nk_sid sid)
{
    if (sid == 0 || sid > k->nsess)
        return NULL;
    return k->sess[sid - 1];
}

static inline struct nkt *
nkt__kit_of_ctx(struct nk_ctx *ctx)
{
    if (ctx == NULL || ctx->kit == NULL) {
        struct nkt *k = *nkt__current();
        nkt__fail(k != NULL ? k->file : NULL, k != NULL ? k->line : 0,
                  "netkit testkit: a host service was given ctx %p, which "
                  "is not an instance's (nk_setup.ctx)",
                  (void *)ctx);
    }
    return ctx->kit;
}

static inline void
nkt__queue(struct nkt *k, enum nkt__kind kind, int worker, nk_sid sid,
           const void *data, size_t len)
{
    struct nkt__item *it;

    k->items = (struct nkt__item *)nkt__grow(k, k->items, &k->capitems,
                                             k->nitems, sizeof(*k->items));
    it = &k->items[k->nitems++];
    it->kind = kind;
    it->worker = worker;
    it->sid = sid;
    it->data = nkt__dup(k, data, len);
    it->len = len;
}

static inline int
nkt__send_to(struct nk_ctx *ctx, nk_sid sid, const struct iovec *iov,
             int iovcnt)
{
    struct nkt *k = nkt__kit_of_ctx(ctx);
    struct nk_session *s = nkt__by_sid(k, sid);
    struct nkt__vec v = {NULL, 0, 0};
    size_t total;
    int rc;

    if (k->destroying)
        return NK_EPIPE;
    if (s == NULL || s->state == NKT__DATAGRAM)
        return NK_ENOENT;
    if (s->worker == ctx->worker) {
        if (s->state == NKT__CLOSED || s->state == NKT__REFUSED)
            return NK_ENOENT;
        return nkt__record(s, iov, iovcnt);
    }
    if ((rc = nkt__iov_total(iov, iovcnt, &total)) < 0)
        return rc;
    if (total > NK_POST_MAX)
        return NK_EMSGSIZE;
    for (int i = 0; i < iovcnt; i++)
        nkt__vec_add(k, &v, iov[i].iov_base, iov[i].iov_len);
    nkt__queue(k, NKT__SEND, s->worker, sid, v.p, v.len);
    free(v.p);
    return 0;
}

static inline int
nkt__close_to(struct nk_ctx *ctx, nk_sid sid)
{
    struct nkt *k = nkt__kit_of_ctx(ctx);
    struct nk_session *s = nkt__by_sid(k, sid);

    if (k->destroying)
        return NK_EPIPE;
    if (s == NULL || s->state == NKT__DATAGRAM)
        return NK_ENOENT;
    if (s->worker == ctx->worker) {
        if (s->state == NKT__CLOSED || s->state == NKT__REFUSED)
            return NK_ENOENT;
        s->close_calls++;
        nkt__close(s, "closed by the plugin (close_to)");
        return 0;
    }
    nkt__queue(k, NKT__CLOSE, s->worker, sid, NULL, 0);
    return 0;
}

static inline size_t
nkt__queued(struct nk_session *s)
{
    nkt__kit_of(s);
    if (s->queued > 0)
        s->drain_owed = 1;
    return s->queued;
}

static inline nk_timer_id
nkt__timer_start(struct nk_ctx *ctx, struct nk_session *s, uint64_t delay_ms,
                 uint64_t repeat_ms, nk_timer_fn fn, void *arg)
{
    struct nkt *k = nkt__kit_of_ctx(ctx);
    struct nkt__timer *t;

    if (fn == NULL || k->destroying)
        return 0;
    if (s != NULL && (s->kit != k || s->worker != ctx->worker ||
                      (s->state != NKT__OPEN && s->state != NKT__CONNECTING)))
        return 0;
    k->timers = (struct nkt__timer *)nkt__grow(k, k->timers, &k->captimers,
                                               k->ntimers, sizeof(*k->timers));
    t = &k->timers[k->ntimers++];
    t->id = ++k->next_timer;
    t->worker = ctx->worker;
    t->s = s;
    t->due = k->now + delay_ms;
    t->repeat = repeat_ms;
    t->fn = fn;
    t->arg = arg;
    return t->id;
}

static inline int
nkt__timer_stop(struct nk_ctx *ctx, nk_timer_id id)
{
    struct nkt *k = nkt__kit_of_ctx(ctx);

    for (size_t i = 0; i < k->ntimers; i++) {
        if (k->timers[i].id == id && k->timers[i].worker == ctx->worker) {
            k->timers[i] = k->timers[--k->ntimers];
            return 0;
        }
    }
    return NK_ENOENT;
}

static inline int
nkt__post(struct nk_ctx *ctx, int worker, const void *data, size_t len)
{
    struct nkt *k = nkt__kit_of_ctx(ctx);

    if (k->plugin->on_post == NULL || worker < NK_WORKER_ALL ||
        worker >= k->workers || (data == NULL && len > 0))
        return NK_EINVAL;
    if (len > NK_POST_MAX)
        return NK_EMSGSIZE;
    if (k->destroying)
        return NK_EPIPE;
    for (int w = 0; w < k->workers; w++)
        if (worker == NK_WORKER_ALL || worker == w)
            nkt__queue(k, NKT__POST, w, 0, data, len);
    return 0;
}

/* A host connect takes (1.2): an IP literal or a host name; the kit
 * looks nothing up (the test completes the connect). */
static inline int
nkt__host_ok(const char *h)
{
    if (h == NULL || *h == '\0' || strlen(h) >= 46)
        return 0;
    for (const char *p = h; *p != '\0'; p++)
        if (!isalnum((unsigned char)*p) && strchr(".-_:%", *p) == NULL)
            return 0;
    return 1;
}

/* An IP literal. */
static inline int
nkt__ip_literal(const char *h)
{
    size_t colons = 0, dots = 0, n = 0;

    if (h == NULL || *h == '\0' || strlen(h) >= 46)
        return 0;
    for (const char *p = h; *p != '\0'; p++, n++) {
        if (*p == ':')
            colons++;
        else if (*p == '.')
            dots++;
        else if (!isxdigit((unsigned char)*p) && *p != '%')
            return 0;
    }
    if (colons >= 2)
        return 1;
    if (colons > 0 || dots != 3)
        return 0;
    for (const char *p = h; *p != '\0'; p++)
        if (*p != '.' && !isdigit((unsigned char)*p))
            return 0;
    return 1;
}

static inline struct nk_session *nkt__new_session(struct nkt *k, int worker);

static inline int
nkt__connect(struct nk_ctx *ctx, const char *host, const char *port, void *data,
             nk_sid *sid)
{
    struct nkt *k = nkt__kit_of_ctx(ctx);
    struct nk_session *s;
    char *end;
    long pn;

    if (k->plugin->on_connect == NULL || !nkt__host_ok(host) || port == NULL)
        return NK_EINVAL;
    if (k->destroying)
        return NK_EPIPE;
    pn = strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || pn < 1 || pn > 65535)
        return NK_EINVAL;
    s = nkt__new_session(k, ctx->worker);
    s->state = NKT__CONNECTING;
    s->outbound = 1;
    s->data = data;
    snprintf(s->host, sizeof(s->host), "%s", host);
    snprintf(s->port, sizeof(s->port), "%s", port);
    snprintf(s->peer, sizeof(s->peer),
             strchr(host, ':') != NULL ? "[%s]:%s" : "%s:%s", host, port);
    if (sid != NULL)
        *sid = s->sid;
    return 0;
}

static inline uint64_t
nkt__now_ms(struct nk_ctx *ctx)
{
    return nkt__kit_of_ctx(ctx)->now;
}

/* 1.2: pause_read, resume_read, shutdown_write on s's own worker. */
static inline int
nkt__flow_here(struct nk_session *s, enum nkt__kind kind)
{
    if (s->state != NKT__OPEN && s->state != NKT__CONNECTING)
        return kind == NKT__SHUTDOWN ? NK_EPIPE : 0;
    if (kind == NKT__PAUSE) {
        s->paused = 1;
    } else if (kind == NKT__RESUME) {
        if (s->paused)
            s->resume_owed = 1; /* served after the callback returns */
        s->paused = 0;
    } else {
        s->wr_shut = 1;
        if (s->eof) /* both directions shut: over */
            nkt__close(s, "both sides shut");
    }
    return 0;
}

static inline int
nkt__flow(struct nk_ctx *ctx, nk_sid sid, enum nkt__kind kind)
{
    struct nkt *k = nkt__kit_of_ctx(ctx);
    struct nk_session *s = nkt__by_sid(k, sid);

    if (k->destroying)
        return NK_EPIPE;
    if (s == NULL || s->state == NKT__DATAGRAM)
        return NK_ENOENT;
    if (s->worker != ctx->worker) {
        nkt__queue(k, kind, s->worker, sid, NULL, 0);
        return 0;
    }
    if (s->state == NKT__CLOSED || s->state == NKT__REFUSED)
        return NK_ENOENT;
    return nkt__flow_here(s, kind);
}

static inline int
nkt__pause_read(struct nk_ctx *ctx, nk_sid sid)
{
    return nkt__flow(ctx, sid, NKT__PAUSE);
}

static inline int
nkt__resume_read(struct nk_ctx *ctx, nk_sid sid)
{
    return nkt__flow(ctx, sid, NKT__RESUME);
}

static inline int
nkt__shutdown_write(struct nk_ctx *ctx, nk_sid sid)
{
    return nkt__flow(ctx, sid, NKT__SHUTDOWN);
}

static inline size_t
nkt__buffered(struct nk_session *s)
{
    nkt__kit_of(s);
    if (s->state != NKT__OPEN && s->state != NKT__CONNECTING)
        return 0;
    return s->delivering ? s->in_rest : s->in.len;
}

static inline int
nkt__tls_info(struct nk_session *s, struct nk_tls_info *info)
{
    uint32_t size;

    nkt__kit_of(s);
    if (info == NULL || info->size < sizeof(*info))
        return NK_EINVAL;
    if (s->tls == NULL || s->state == NKT__CLOSED)
        return NK_ENOENT;
    size = info->size;
    *info = *s->tls;
    info->size = size;
    return 0;
}

static inline int
nkt__set_watermarks(struct nk_session *s, size_t high, size_t low)
{
    nkt__kit_of(s);
    if (s->state == NKT__DATAGRAM || s->state == NKT__CLOSED ||
        s->state == NKT__CLOSING || s->state == NKT__REFUSED || low == 0 ||
        low >= high)
        return NK_EINVAL;
    s->wm_high = high;
    s->wm_low = low;
    nkt__watermark(s);
    return 0;
}

/* ------------------------------------------------------------------------
 * Option values, read as the host reads them
 * ---------------------------------------------------------------------- */

/* The one quoting rule: a value starting with '"' ends with the matching
 * '"' and may hold \n \t \r \\ \" \0 \xHH; any other value is as written.
 * Writes the bytes to out (strlen(in) + 1 bytes); returns the length, or
 * -1 with *why set. */
static inline long
nkt__unquote(const char *in, char *out, const char **why)
{
    const char *p = in + 1;
    char *w = out;

    if (in[0] != '"') {
        memcpy(out, in, strlen(in) + 1);
        return (long)strlen(in);
    }
    for (; *p != '"'; w++) {
        if (*p == '\0')
            return *why = "unterminated quote", -1;
        if (*p != '\\') {
            *w = *p++;
            continue;
        }
        switch (*++p) {
        case 'n':
            *w = '\n';
            break;
        case 't':
            *w = '\t';
            break;
        case 'r':
            *w = '\r';
            break;
        case '0':
            *w = '\0';
            break;
        case '\\':
        case '"':
            *w = *p;
            break;
        case 'x':
            if (!isxdigit((unsigned char)p[1]) ||
                !isxdigit((unsigned char)p[2]))
                return *why = "bad escape '\\x'", -1;
            {
                char hex[3] = {p[1], p[2], '\0'};
                *w = (char)strtol(hex, NULL, 16);
            }
            p += 2;
            break;
        default:
            return *why = "bad escape", -1;
        }
        p++;
    }
    if (p[1] != '\0')
        return *why = "text after closing quote", -1;
    *w = '\0';
    return (long)(w - out);
}

static inline int
nkt__parse_num(const char *s, enum nk_opt_type type, long long *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    long long mult = 1;
    char *end;

    if (type == NK_OPT_BOOL) {
        for (size_t i = 0; i < 4; i++) {
            if (strcmp(s, yes[i]) == 0)
                return *out = 1, 0;
            if (strcmp(s, no[i]) == 0)
                return *out = 0, 0;
        }
        return -1;
    }
    if (*s == '\0' || isspace((unsigned char)*s))
        return -1;
    *out = strtoll(s, &end, 10);
    if (end == s)
        return -1;
    if (type == NK_OPT_SIZE && (*end == 'k' || *end == 'M'))
        mult = *end++ == 'k' ? 1024 : 1024 * 1024;
    if (*end != '\0' || *out > LLONG_MAX / mult || *out < LLONG_MIN / mult)
        return -1;
    *out *= mult;
    return 0;
}

static inline int
nkt__parse_enum(const char *s, const char *choices, long long *out)
{
    size_t n = strlen(s);
    long long i = 0;

    for (const char *p = choices; p != NULL; i++) {
        const char *bar = strchr(p, '|');
        size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);
        size_t j = 0;

        while (len == n && j < n &&
               tolower((unsigned char)p[j]) == tolower((unsigned char)s[j]))
            j++;
        if (len == n && j == n)
            return *out = i, 0;
        p = bar != NULL ? bar + 1 : NULL;
    }
    return -1;
}

/* Fill v from the text of one value for option o; 0, or -1 with k->err. */
static inline int
nkt__opt_value(struct nkt *k, const struct nk_option *o, const char *text,
               struct nk_value *v)
{
    const char *why = "bad value";
    char *buf = (char *)nkt__alloc(k, strlen(text) + 1);
    long len = nkt__unquote(text, buf, &why);
    int bad = len < 0;

    free((void *)v->str);
    v->str = buf;
    v->len = len < 0 ? 0 : (size_t)len;
    v->num = 0;
    if (!bad && o->type == NK_OPT_ENUM)
        bad = nkt__parse_enum(buf, o->choices, &v->num) < 0;
    else if (!bad && o->type != NK_OPT_STRING)
        bad = nkt__parse_num(buf, o->type, &v->num) < 0 ||
              ((o->type == NK_OPT_INT || o->type == NK_OPT_SIZE) &&
               (o->min != 0 || o->max != 0) &&
               (v->num < o->min || v->num > o->max));
    if (bad)
        snprintf(k->err, sizeof(k->err), "option %s: %s: '%s'", o->name,
                 len < 0 ? why : "bad value", text);
    return bad ? -1 : 0;
}

/* ------------------------------------------------------------------------
 * The kit's life cycle
 * ---------------------------------------------------------------------- */

/* A kit for plugin p: TCP, serving, one worker, not created yet.  Change
 * those with nkt_set_*, then nkt_create. */
static inline struct nkt *
nkt_new(const struct nk_plugin *p)
{
    struct nkt *k = (struct nkt *)nkt__alloc(NULL, sizeof(*k));

    if (p == NULL)
        nkt__fail(NULL, 0, "nkt_new: no plugin (NULL description)");
    k->host.size = (uint32_t)sizeof(struct nk_host);
    k->host.send = nkt__send;
    k->host.close = nkt__host_close;
    k->host.log = nkt__log;
    k->host.peer_name = nkt__peer_name;
    k->host.get_data = nkt__get_data;
    k->host.set_data = nkt__set_data;
    k->host.session_id = nkt__session_id;
    k->host.send_to = nkt__send_to;
    k->host.close_to = nkt__close_to;
    k->host.queued = nkt__queued;
    k->host.timer_start = nkt__timer_start;
    k->host.timer_stop = nkt__timer_stop;
    k->host.post = nkt__post;
    k->host.connect = nkt__connect;
    k->host.now_ms = nkt__now_ms;
    k->host.pause_read = nkt__pause_read;
    k->host.resume_read = nkt__resume_read;
    k->host.shutdown_write = nkt__shutdown_write;
    k->host.set_watermarks = nkt__set_watermarks;
    k->host.buffered = nkt__buffered;
    k->host.tls_info = nkt__tls_info;
    k->plugin = p;
    k->transport = NK_TRANSPORT_TCP;
    k->role = NK_ROLE_SERVE;
    k->workers = 1;
    k->now = NKT_CLOCK_START;
    k->seed = 1;
    for (int w = 0; w < NKT_WORKERS_MAX; w++) {
        k->ctx[w].kit = k;
        k->ctx[w].worker = w;
    }
    return k;
}

/* NK_TRANSPORT_TCP (the default) or NK_TRANSPORT_UDP. */
static inline void
nkt_set_transport(struct nkt *k, unsigned transport)
{
    k->transport = transport;
}

/* Fake workers: that many instances (1 with NK_PLUGIN_ONE_INSTANCE). */
static inline void
nkt_set_workers(struct nkt *k, int workers)
{
    if (workers < 1 || workers > NKT_WORKERS_MAX)
        nkt__fail(k->file, k->line, "nkt_set_workers: %d (1..%d)", workers,
                  NKT_WORKERS_MAX);
    k->workers = workers;
}

/* NK_ROLE_SERVE (the default) or NK_ROLE_CONNECT. */
static inline void
nkt_set_role(struct nkt *k, unsigned role)
{
    k->role = role;
}

/* The seed of nkt_expect_splits's random splits (default 1). */
static inline void
nkt_set_seed(struct nkt *k, uint64_t seed)
{
    k->seed = seed;
}

static inline void
nkt__destroy(struct nkt *k)
{
    k->destroying = 1;
    for (int w = 0; w < k->created; w++)
        k->plugin->destroy(k->inst[w]);
    k->destroying = 0;
    memset(k->inst, 0, sizeof(k->inst));
    k->created = 0;
}

/*
 * Create the instances from the option table's defaults and the
 * NULL-terminated "name=value" overrides (opts may be NULL), as the host
 * does: values validated first, then create once per worker with the
 * default max_message (1 MiB + 2 * NK_HDR_MAX) set beforehand and the values
 * freed right after (a plugin that keeps a borrowed pointer reads freed
 * memory, which ASan reports).  Returns 0; NK_EINVAL for an unknown option
 * or a bad value; or create's error.  nkt_error(k) says why.
 */
#define nkt_create(k, ...) nkt__create(NKT__AT(k), __VA_ARGS__)
static inline int
nkt__create(struct nkt *k, const char *const *opts)
{
    const struct nk_option *tab = k->plugin->options;
    struct nk_value *v;
    size_t n = 0;
    int rc = 0;

    if (k->created)
        nkt__fail(k->file, k->line, "nkt_create: already created");
    k->err[0] = '\0';
    while (tab != NULL && tab[n].name != NULL)
        n++;
    v = (struct nk_value *)nkt__alloc(k, (n + 1) * sizeof(*v));
    for (size_t i = 0; i < n && rc == 0; i++)
        if (nkt__opt_value(k, &tab[i], tab[i].def != NULL ? tab[i].def : "",
                           &v[i]) < 0)
            rc = NK_EINVAL;
    for (size_t j = 0; opts != NULL && opts[j] != NULL && rc == 0; j++) {
        const char *eq = strchr(opts[j], '=');
        size_t i = 0;

        while (i < n &&
               (eq == NULL || strlen(tab[i].name) != (size_t)(eq - opts[j]) ||
                strncmp(tab[i].name, opts[j], (size_t)(eq - opts[j]))))
            i++;
        if (i == n) {
            snprintf(k->err, sizeof(k->err), "unknown option '%s'", opts[j]);
            rc = NK_EINVAL;
        } else if (nkt__opt_value(k, &tab[i], eq + 1, &v[i]) < 0) {
            rc = NK_EINVAL;
        }
    }
    if (k->plugin->flags & NK_PLUGIN_ONE_INSTANCE)
        k->workers = 1;
    for (int w = 0; w < k->workers && rc == 0; w++) {
        struct nk_setup su;

        memset(&su, 0, sizeof(su));
        su.size = (uint32_t)sizeof(su);
        su.host = &k->host;
        su.opts = v;
        su.transport = k->transport;
        su.max_message = ((size_t)1 << 20) + 2 * NK_HDR_MAX;
        su.role = k->role;
        su.ctx = &k->ctx[w];
        su.worker = w;
        su.workers = k->workers;
        su.out_high = NK_OUT_HIGH_DEFAULT;
        su.out_low = NK_OUT_LOW_DEFAULT;
        su.connect_timeout_ms = NK_CONNECT_TIMEOUT_DEFAULT;
        nkt__enter(k);
        rc = k->plugin->create(&su);
        k->depth--;
        if (rc > 0)
            nkt__fail(k->file, k->line,
                      "plugin %s: create returned %d (0 or a negative code "
                      "expected)",
                      k->plugin->name, rc);
        if (rc < 0) {
            memcpy(k->err, su.err, sizeof(k->err));
            k->err[sizeof(k->err) - 1] = '\0';
            break;
        }
        k->inst[w] = su.inst;
        k->created = w + 1;
        k->max_message = su.max_message;
        k->out_high = su.out_high;
        k->out_low = su.out_low;
        k->connect_timeout_ms = su.connect_timeout_ms;
        if (su.out_low == 0 || su.out_low >= su.out_high)
            nkt__fail(k->file, k->line,
                      "plugin %s: create set out_low %zu, out_high %zu "
                      "(0 < out_low < out_high expected)",
                      k->plugin->name, su.out_low, su.out_high);
    }
    for (size_t i = 0; i < n; i++)
        free((void *)v[i].str);
    free(v);
    if (rc < 0)
        nkt__destroy(k);
    return rc;
}

/* Why the last nkt_create failed ("" if it did not). */
static inline const char *
nkt_error(const struct nkt *k)
{
    return k->err;
}

/* nkt_new and nkt_create with the defaults plus opts (NULL-terminated
 * "name=value" strings, or NULL), failing the test if create fails. */
#define nkt_start(...) nkt__start(__FILE__, __LINE__, __VA_ARGS__)
static inline struct nkt *
nkt__start(const char *file, int line, const struct nk_plugin *p,
           const char *const *opts)
{
    struct nkt *k = nkt_new(p);

    k->file = file;
    k->line = line;
    if (nkt__create(k, opts) < 0)
        nkt__fail(file, line, "nkt_start: plugin %s: create failed: %s",
                  p->name, k->err);
    return k;
}

/* The instance of worker w, as create made it. */
static inline void *
nkt_instance(const struct nkt *k, int worker)
{
    return worker >= 0 && worker < k->workers ? k->inst[worker] : NULL;
}

/* The max_message create left (the default, or the plugin's own). */
static inline size_t
nkt_max_message(const struct nkt *k)
{
    return k->max_message;
}

static inline struct nk_session *
nkt__new_session(struct nkt *k, int worker)
{
    struct nk_session *s =
        (struct nk_session *)nkt__alloc(k, sizeof(struct nk_session));

    k->sess = (struct nk_session **)nkt__grow(k, k->sess, &k->capsess, k->nsess,
                                              sizeof(*k->sess));
    k->sess[k->nsess++] = s;
    s->kit = k;
    s->worker = worker;
    s->sid = ++k->next_sid;
    s->wm_high = k->out_high;
    s->wm_low = k->out_low;
    snprintf(s->peer, sizeof(s->peer), "127.0.0.1:%u",
             40000u + (unsigned)(s->sid % 20000));
    return s;
}

/* End every open session (on_close, as the host does when it stops), stop
 * the timers, destroy the instances and free everything.  k may be NULL. */
static inline void
nkt_free(struct nkt *k)
{
    if (k == NULL)
        return;
    k->depth = k->settling = 0; /* a failure may have jumped out */
    for (size_t i = 0; i < k->nsess; i++)
        nkt__close(k->sess[i], "the kit stopped");
    nkt__enter(k);
    nkt__leave(k);
    k->ntimers = 0;
    nkt__destroy(k);
    for (size_t i = 0; i < k->nsess; i++) {
        struct nk_session *s = k->sess[i];
        for (size_t j = 0; j < s->nreceived; j++)
            free(s->received[j].p);
        free(s->received);
        free(s->in.p);
        free(s);
    }
    for (size_t i = 0; i < k->nsent; i++)
        free(k->sent[i].bytes);
    for (size_t i = 0; i < k->nlogs; i++)
        free(k->logs[i].text);
    for (size_t i = 0; i < k->nitems; i++)
        free(k->items[i].data);
    for (size_t i = 0; i < k->nwires; i++)
        free(k->wires[i]);
    free(k->sess);
    free(k->sent);
    free(k->logs);
    free(k->timers);
    free(k->items);
    free(k->wires);
    free(k->cuts);
    free(k->split_in.p);
    nkt__run_free(&k->ref);
    nkt__run_free(&k->run);
    if (*nkt__current() == k)
        *nkt__current() = NULL;
    free(k);
}

/* ------------------------------------------------------------------------
 * Sessions
 * ---------------------------------------------------------------------- */

/*
 * A TCP peer connects to worker w's instance: on_open runs (a refusal
 * leaves the session closed, with no on_close, as the host does).  Returns
 * the session, which stays readable until nkt_free.
 */
#define nkt_open(k)       nkt__open(NKT__AT(k), 0)
#define nkt_open_on(k, w) nkt__open(NKT__AT(k), (w))
static inline struct nk_session *
nkt__open(struct nkt *k, int worker)
{
    struct nk_session *s;

    if (!k->created)
        nkt__fail(k->file, k->line, "nkt_open: no instance (nkt_create)");
    if (k->transport != NK_TRANSPORT_TCP)
        nkt__fail(k->file, k->line,
                  "nkt_open: the kit serves UDP: use nkt_datagram");
    if (worker < 0 || worker >= k->workers)
        nkt__fail(k->file, k->line, "nkt_open: no worker %d (0..%d)", worker,
                  k->workers - 1);
    s = nkt__new_session(k, worker);
    s->state = NKT__OPEN;
    nkt__enter(k);
    if (k->plugin->on_open != NULL &&
        k->plugin->on_open(k->inst[worker], s) < 0) {
        s->state = NKT__REFUSED;
        s->closed_why = "refused by on_open";
        nkt__kill_timers(k, s);
    } else {
        s->owed_close = 1;
    }
    nkt__leave(k);
    return s;
}

/* The peer closes (or the connection breaks): on_close runs. */
#define nkt_peer_close(s) nkt__peer_close(__FILE__, __LINE__, (s))
static inline void
nkt__peer_close(const char *file, int line, struct nk_session *s)
{
    struct nkt *k = s->kit;

    k->file = file, k->line = line;
    nkt__close(s, "closed by the peer");
    nkt__enter(k);
    nkt__leave(k);
}

/* Over max_message: the plugin may answer it (HTTP's 413), as in the
 * host. */
static inline void
nkt__too_big(struct nkt *k, struct nk_session *s)
{
    s->bad_err = NK_EFRAMETOOBIG;
    if (k->plugin->on_bad_input != NULL)
        k->plugin->on_bad_input(k->inst[s->worker], s, NK_EFRAMETOOBIG,
                                "message over the size limit");
}

/* The peer shuts down its writing side (TCP's FIN), 1.2: with
 * NK_PLUGIN_HALF_CLOSE and on_eof, on_eof runs and the session stays open
 * for sending (it ends once shutdown_write is called too); without, the
 * session ends and on_close runs, as the host does.  On a paused session
 * either waits, as in the host, until resume_read has delivered what the
 * pause held. */
#define nkt_peer_eof(s) nkt__peer_eof(__FILE__, __LINE__, (s))
static inline void
nkt__peer_eof(const char *file, int line, struct nk_session *s)
{
    struct nkt *k = s->kit;

    k->file = file, k->line = line;
    if (s->state != NKT__OPEN || s->eof)
        return;
    s->eof = 1;
    nkt__enter(k);
    if (s->paused || s->resume_owed)
        s->eof_owed = 1; /* the host sees it after the resume */
    else
        nkt__eof_now(k, s);
    nkt__leave(k);
}

/* One of the host's deadlines fired for s (1.2; kind: NK_TIMEOUT_IDLE,
 * _MESSAGE or _WRITE -- the test says when, as the fake clock has no
 * idle or message timeout of its own).  As in the host: on_timeout runs
 * once per session, may answer (buffered() says whether a message was
 * begun: what the test fed and no on_message took), then the session
 * closes and on_close runs; for WRITE what on_timeout sent is dropped,
 * never written (the peer is not reading).  A closed session: no-op. */
#define nkt_timeout(s, kind) nkt__timeout(__FILE__, __LINE__, (s), (kind))
static inline void
nkt__timeout(const char *file, int line, struct nk_session *s, int kind)
{
    struct nkt *k = s->kit;
    const struct nk_plugin *p = k->plugin;
    size_t before = k->nsent;

    k->file = file, k->line = line;
    if (s->state != NKT__OPEN)
        return;
    nkt__enter(k);
    if (p->size > offsetof(struct nk_plugin, on_timeout) &&
        p->on_timeout != NULL && !s->timeout_told) {
        s->timeout_told = 1;
        p->on_timeout(k->inst[s->worker], s, kind);
        for (size_t i = before; kind == NK_TIMEOUT_WRITE && i < k->nsent; i++)
            if (k->sent[i].session == s)
                k->sent[i].dropped = 1;
    }
    nkt__close(s, kind == NK_TIMEOUT_IDLE      ? "idle timeout"
                  : kind == NK_TIMEOUT_MESSAGE ? "message timeout"
                                               : "write timeout");
    nkt__leave(k);
}

/* Read path: decode what s has buffered and serve each whole message. */
static inline long
nkt__serve(struct nkt *k, struct nk_session *s)
{
    long served = 0;
    size_t start = 0;

    while (s->state == NKT__OPEN && !s->paused && start < s->in.len) {
        const uint8_t *buf = s->in.p + start;
        size_t len = s->in.len - start;
        struct nk_frame f;
        long rc;

        memset(&f, 0, sizeof(f));
        rc = k->plugin->decode(k->inst[s->worker], buf, len, &f);
        if (rc == NK_ENEEDMORE) {
            size_t need = f.need > 0 ? f.need : len + 1;
            if (f.need != 0 && f.need <= len)
                nkt__fail(k->file, k->line,
                          "plugin %s: decode said NK_ENEEDMORE with need %zu "
                          "for %zu bytes buffered (contract: need is the "
                          "message's whole length)",
                          k->plugin->name, f.need, len);
            if (f.head_len > len)
                nkt__fail(k->file, k->line,
                          "plugin %s: decode said NK_ENEEDMORE with a head "
                          "of %zu for %zu bytes buffered (contract: the "
                          "head is inside the input)",
                          k->plugin->name, f.head_len, len);
            if (need > k->max_message) {
                nkt__log(s, NK_LOG_WARN,
                         "Message of %zu bytes is over the limit of %zu: "
                         "closing",
                         need, k->max_message);
                nkt__too_big(k, s);
                nkt__close(s, "message over max_message");
                served = NK_EFRAMETOOBIG;
            } else if (f.head_len > 0 && !s->head_told &&
                       k->plugin->on_head != NULL) {
                /* The head is whole: on_head, once per message. */
                s->head_told = 1;
                k->plugin->on_head(k->inst[s->worker], s, buf, f.head_len);
            }
            break;
        }
        if (rc < 0) {
            nkt__log(s, NK_LOG_WARN, "Bad input: %s%s%s: closing",
                     nk_strerror((int)rc), f.why != NULL ? ": " : "",
                     f.why != NULL ? f.why : "");
            s->bad_err = (int)rc;
            if (k->plugin->on_bad_input != NULL)
                k->plugin->on_bad_input(k->inst[s->worker], s, (int)rc, f.why);
            nkt__close(s, "bad input");
            served = rc;
            break;
        }
        if (rc == 0 || (size_t)rc > len ||
            (f.payload_len > 0 &&
             (f.payload == NULL || f.payload < buf ||
              f.payload_len > (size_t)rc ||
              (size_t)(f.payload - buf) > (size_t)rc - f.payload_len)))
            nkt__fail(k->file, k->line,
                      "plugin %s: decode returned %ld for %zu bytes with a "
                      "%zu-byte payload at offset %ld (contract: 0 < result "
                      "<= bytes given, payload inside the message)",
                      k->plugin->name, rc, len, f.payload_len,
                      f.payload != NULL ? (long)(f.payload - buf) : -1L);
        if ((size_t)rc > k->max_message) {
            nkt__log(s, NK_LOG_WARN,
                     "Message of %ld bytes is over the limit of %zu: closing",
                     rc, k->max_message);
            nkt__too_big(k, s);
            nkt__close(s, "message over max_message");
            served = NK_EFRAMETOOBIG;
            break;
        }
        s->received = (struct nkt__vec *)realloc(
            s->received, (s->nreceived + 1) * sizeof(*s->received));
        if (s->received == NULL)
            nkt__fail(k->file, k->line, "netkit testkit: out of memory");
        memset(&s->received[s->nreceived], 0, sizeof(struct nkt__vec));
        nkt__vec_add(k, &s->received[s->nreceived++], f.payload, f.payload_len);
        {
            int mrc;

            s->head_told = 0;
            s->delivering = 1;
            s->in_rest = len - (size_t)rc;
            mrc = k->plugin->on_message(k->inst[s->worker], s, f.payload,
                                        f.payload_len);
            s->delivering = 0;
            start += (size_t)rc;
            served++;
            if (mrc == NK_ECLOSE) {
                nkt__close(s, "on_message returned NK_ECLOSE");
                served = NK_ECLOSE;
            } else if (mrc < 0) {
                nkt__close(s, "on_message returned an error");
                served = mrc;
            }
        }
    }
    memmove(s->in.p, s->in.p + start, s->in.len - start);
    s->in.len -= start;
    return served;
}

/*
 * The peer sends bytes[0..len) in one read: every whole message is decoded
 * and handed to on_message, the rest kept for the next feed, as the host's
 * read path does (malformed input: on_bad_input, then close; a message past
 * max_message: close).  Returns the messages served, or the error that
 * ended the session (decode's, NK_EFRAMETOOBIG, or on_message's, NK_ECLOSE
 * included), or NK_EPIPE if the session was not open.
 */
#define nkt_feed(s, bytes, len)                                                \
    nkt__feed(__FILE__, __LINE__, (s), (bytes), (len))
#define nkt_feed_str(s, str)                                                   \
    nkt__feed(__FILE__, __LINE__, (s), (str), strlen(str))
static inline long
nkt__feed(const char *file, int line, struct nk_session *s, const void *bytes,
          size_t len)
{
    struct nkt *k = s->kit;
    long rc;

    k->file = file, k->line = line;
    if (s->state == NKT__DATAGRAM)
        nkt__fail(file, line, "nkt_feed: a datagram session");
    if (s->state != NKT__OPEN || s->eof)
        return NK_EPIPE;
    nkt__vec_add(k, &s->in, bytes, len);
    nkt__enter(k);
    rc = nkt__serve(k, s);
    nkt__leave(k);
    return rc;
}

/* Hand payload[0..len) to on_message on s as one decoded message, without
 * the codec (to test a handler alone).  Returns on_message's result (a
 * result < 0 closes s, as in the host), or NK_EPIPE if s was not open. */
#define nkt_deliver(s, payload, len)                                           \
    nkt__deliver(__FILE__, __LINE__, (s), (payload), (len))
static inline int
nkt__deliver(const char *file, int line, struct nk_session *s,
             const void *payload, size_t len)
{
    struct nkt *k = s->kit;
    int rc;

    k->file = file, k->line = line;
    if (s->state != NKT__OPEN)
        return NK_EPIPE;
    s->received = (struct nkt__vec *)realloc(
        s->received, (s->nreceived + 1) * sizeof(*s->received));
    if (s->received == NULL)
        nkt__fail(file, line, "netkit testkit: out of memory");
    memset(&s->received[s->nreceived], 0, sizeof(struct nkt__vec));
    nkt__vec_add(k, &s->received[s->nreceived++], payload, len);
    nkt__enter(k);
    rc = k->plugin->on_message(k->inst[s->worker], s,
                               s->received[s->nreceived - 1].p, len);
    if (rc < 0)
        nkt__close(s, rc == NK_ECLOSE ? "on_message returned NK_ECLOSE"
                                      : "on_message returned an error");
    nkt__leave(k);
    return rc;
}

/* Wire bytes for payload[0..len), framed by the plugin's own encode: what
 * a peer of the protocol sends.  Owned by the kit; *wire_len gets the
 * length.  Fails the test if encode refuses the length. */
#define nkt_encode(k, payload, len, wire_len)                                  \
    nkt__encode_msg(NKT__AT(k), (payload), (len), (wire_len))
static inline uint8_t *
nkt__encode_msg(struct nkt *k, const void *payload, size_t len,
                size_t *wire_len)
{
    struct nk_wrap w;
    uint8_t *out;
    int rc = nkt__encode(k, len, &w);

    if (rc < 0)
        nkt__fail(k->file, k->line,
                  "nkt_encode: plugin %s: encode refused %zu bytes: %s",
                  k->plugin->name, len, nk_err_name(rc));
    out = (uint8_t *)nkt__alloc(k, w.head_len + len + w.tail_len + 1);
    memcpy(out, w.head_ext != NULL ? w.head_ext : w.head, w.head_len);
    if (len > 0)
        memcpy(out + w.head_len, payload, len);
    memcpy(out + w.head_len + len, w.tail_ext != NULL ? w.tail_ext : w.tail,
           w.tail_len);
    k->wires = (uint8_t **)nkt__grow(k, k->wires, &k->capwires, k->nwires,
                                     sizeof(*k->wires));
    k->wires[k->nwires++] = out;
    if (wire_len != NULL)
        *wire_len = w.head_len + len + w.tail_len;
    return out;
}

/* The peer sends one message, framed by the plugin's encode. */
#define nkt_feed_msg(s, payload, len)                                          \
    nkt__feed_msg(__FILE__, __LINE__, (s), (payload), (len))
static inline long
nkt__feed_msg(const char *file, int line, struct nk_session *s,
              const void *payload, size_t len)
{
    size_t n;
    uint8_t *wire;

    s->kit->file = file, s->kit->line = line;
    wire = nkt__encode_msg(s->kit, payload, len, &n);
    return nkt__feed(file, line, s, wire, n);
}

/*
 * A UDP datagram bytes[0..len) reaches worker w's instance: it is one
 * message exactly when decode takes it whole, else it is dropped (and
 * counted, nkt_dropped).  Returns the datagram's session, valid for
 * assertions (what was sent back) until nkt_free.
 */
#define nkt_datagram(k, w, bytes, len)                                         \
    nkt__datagram(NKT__AT(k), (w), (bytes), (len))
static inline struct nk_session *
nkt__datagram(struct nkt *k, int worker, const void *bytes, size_t len)
{
    struct nk_session *s;
    struct nk_frame f;
    uint8_t *copy;
    long rc;

    if (!k->created || k->transport != NK_TRANSPORT_UDP)
        nkt__fail(k->file, k->line,
                  "nkt_datagram: no UDP instance (nkt_set_transport)");
    if (worker < 0 || worker >= k->workers)
        nkt__fail(k->file, k->line, "nkt_datagram: no worker %d", worker);
    s = nkt__new_session(k, worker);
    s->state = NKT__DATAGRAM;
    copy = nkt__dup(k, bytes, len);
    memset(&f, 0, sizeof(f));
    nkt__enter(k);
    rc = k->plugin->decode(k->inst[worker], copy, len, &f);
    if (rc >= 0 && (size_t)rc == len &&
        (f.payload_len == 0 ||
         (f.payload != NULL && f.payload >= copy && f.payload_len <= len &&
          (size_t)(f.payload - copy) <= len - f.payload_len))) {
        s->received = (struct nkt__vec *)nkt__alloc(k, sizeof(*s->received));
        s->nreceived = 1;
        nkt__vec_add(k, &s->received[0], f.payload, f.payload_len);
        k->plugin->on_message(k->inst[worker], s, f.payload, f.payload_len);
    } else if (rc >= 0 && (size_t)rc == len) {
        nkt__fail(k->file, k->line,
                  "plugin %s: decode gave a payload outside the datagram",
                  k->plugin->name);
    } else {
        k->dropped++;
    }
    nkt__leave(k);
    free(copy);
    s->state = NKT__CLOSED;
    s->closed_why = "a datagram";
    return s;
}

/* Datagrams dropped because decode did not take them whole. */
static inline size_t
nkt_dropped(const struct nkt *k)
{
    return k->dropped;
}

/* The session came over TLS, and its handshake settled *info (kept by
 * pointer: it must outlive the session); NULL: not over TLS again. */
static inline void
nkt_set_tls(struct nk_session *s, const struct nk_tls_info *info)
{
    s->tls = info;
}

/* Back-pressure: the socket takes nothing, n bytes wait (0: it takes all
 * again, without on_drain).  While n > 0 every send adds to it. */
static inline void
nkt_set_queued(struct nk_session *s, size_t n)
{
    struct nkt *k = s->kit;

    s->queued = n;
    if (n > 0)
        s->drain_owed = 1;
    nkt__watermark(s); /* on_writable at the next settle */
    nkt__enter(k);
    nkt__leave(k);
}

/* The peer reads everything queued: queued becomes 0 and on_drain runs if
 * one is owed.  Returns 1 if on_drain ran. */
#define nkt_drain(s) nkt__drain(__FILE__, __LINE__, (s))
static inline int
nkt__drain(const char *file, int line, struct nk_session *s)
{
    struct nkt *k = s->kit;
    int owed = s->drain_owed && s->state == NKT__OPEN;

    k->file = file, k->line = line;
    s->queued = 0;
    s->drain_owed = 0;
    nkt__watermark(s);
    nkt__enter(k);
    if (owed && k->plugin->on_drain != NULL)
        k->plugin->on_drain(k->inst[s->worker], s);
    nkt__leave(k); /* and on_writable, if the state changed */
    return owed && k->plugin->on_drain != NULL;
}

/* Make every send to s fail with err (< 0), or succeed again (0). */
static inline void
nkt_fail_sends(struct nk_session *s, int err)
{
    s->send_fail = err;
}

/* ------------------------------------------------------------------------
 * Outbound connections (host->connect)
 * ---------------------------------------------------------------------- */

/* How many connects the plugin asked for, and the i-th one's session
 * (its host and port: nkt_connect_host / nkt_connect_port). */
static inline size_t
nkt_connect_count(const struct nkt *k)
{
    size_t n = 0;

    for (size_t i = 0; i < k->nsess; i++)
        n += k->sess[i]->outbound;
    return n;
}

static inline struct nk_session *
nkt_connect_session(const struct nkt *k, size_t idx)
{
    for (size_t i = 0; i < k->nsess; i++)
        if (k->sess[i]->outbound && idx-- == 0)
            return k->sess[i];
    return NULL;
}

static inline const char *
nkt_connect_host(const struct nk_session *s)
{
    return s->host;
}

static inline const char *
nkt_connect_port(const struct nk_session *s)
{
    return s->port;
}

/* The connection is up (status 0) or failed (status < 0, a -errno such as
 * -ECONNREFUSED): on_connect runs.  A failed session gets no on_close, and
 * what was sent before it is dropped. */
#define nkt_connect_done(s, status)                                            \
    nkt__connect_done(__FILE__, __LINE__, (s), (status))
static inline void
nkt__connect_done(const char *file, int line, struct nk_session *s, int status)
{
    struct nkt *k = s->kit;

    k->file = file, k->line = line;
    if (!s->outbound || s->state != NKT__CONNECTING)
        nkt__fail(file, line, "nkt_connect_done: not a pending connect");
    if (status == 0) {
        s->state = NKT__OPEN;
        s->owed_close = 1;
    } else {
        for (size_t i = 0; i < k->nsent; i++)
            if (k->sent[i].session == s)
                k->sent[i].dropped = 1;
    }
    nkt__enter(k);
    k->plugin->on_connect(k->inst[s->worker], s, status);
    nkt__leave(k);
    if (status != 0) {
        s->state = NKT__REFUSED;
        s->closed_why = "connect failed";
        nkt__kill_timers(k, s);
    }
}

/* ------------------------------------------------------------------------
 * Timers and posts
 * ---------------------------------------------------------------------- */

/* The fake clock, as host->now_ms reads it. */
static inline uint64_t
nkt_now(const struct nkt *k)
{
    return k->now;
}

/* Timers waiting to fire. */
static inline size_t
nkt_timers_pending(const struct nkt *k)
{
    return k->ntimers;
}

/* Move the clock on by ms, firing each timer that falls due, in order of
 * deadline (then of starting), repeating ones as often as they fall due,
 * the clock reading each one's deadline.  Returns how many fired. */
#define nkt_advance(k, ms) nkt__advance(NKT__AT(k), (ms))
static inline size_t
nkt__advance(struct nkt *k, uint64_t ms)
{
    uint64_t end = k->now + ms;
    size_t fired = 0;

    for (;;) {
        size_t best = k->ntimers;
        struct nkt__timer t;

        for (size_t i = 0; i < k->ntimers; i++)
            if (k->timers[i].due <= end &&
                (best == k->ntimers || k->timers[i].due < k->timers[best].due ||
                 (k->timers[i].due == k->timers[best].due &&
                  k->timers[i].id < k->timers[best].id)))
                best = i;
        if (best == k->ntimers)
            break;
        t = k->timers[best];
        if (t.due > k->now)
            k->now = t.due;
        if (t.repeat > 0)
            k->timers[best].due += t.repeat;
        else
            k->timers[best] = k->timers[--k->ntimers];
        nkt__enter(k);
        t.fn(k->inst[t.worker], t.s, t.arg);
        nkt__leave(k);
        if (++fired > 10 * NKT_PUMP_MAX)
            nkt__fail(k->file, k->line, "nkt_advance: over %d timer firings",
                      10 * NKT_PUMP_MAX);
    }
    k->now = end;
    return fired;
}

/* Posts, and sends and closes by handle from another worker, waiting. */
static inline size_t
nkt_pending(const struct nkt *k)
{
    return k->nitems;
}

/* Deliver what is waiting, in order: on_post on each target instance,
 * cross-worker send_to and close_to on their session's worker (dropped if
 * it has closed meanwhile), and what those cause, until nothing waits.
 * Returns how many were delivered. */
#define nkt_pump(k) nkt__pump(NKT__AT(k))
static inline size_t
nkt__pump(struct nkt *k)
{
    size_t done = 0;

    while (k->nitems > 0) {
        struct nkt__item it = k->items[0];
        struct nk_session *s = nkt__by_sid(k, it.sid);

        memmove(k->items, k->items + 1, --k->nitems * sizeof(*k->items));
        nkt__enter(k);
        if (it.kind == NKT__POST) {
            k->plugin->on_post(k->inst[it.worker], it.data, it.len);
        } else if (s != NULL && it.kind == NKT__SEND) {
            struct iovec iov;
            iov.iov_base = it.data;
            iov.iov_len = it.len;
            (void)nkt__record(s, &iov, 1);
        } else if (s != NULL && it.kind == NKT__CLOSE &&
                   (s->state == NKT__OPEN || s->state == NKT__CONNECTING)) {
            s->close_calls++;
            nkt__close(s, "closed by the plugin (close_to)");
        } else if (s != NULL && it.kind >= NKT__PAUSE) {
            (void)nkt__flow_here(s, it.kind);
        }
        nkt__leave(k);
        free(it.data);
        if (++done > NKT_PUMP_MAX)
            nkt__fail(k->file, k->line,
                      "nkt_pump: over %d deliveries: posts that never stop",
                      NKT_PUMP_MAX);
    }
    return done;
}

/* ------------------------------------------------------------------------
 * What was recorded
 * ---------------------------------------------------------------------- */

/* Messages sent to s, dropped ones excepted. */
static inline size_t
nkt_sent_count(const struct nk_session *s)
{
    const struct nkt *k = s->kit;
    size_t n = 0;

    for (size_t i = 0; i < k->nsent; i++)
        n += k->sent[i].session == s && !k->sent[i].dropped;
    return n;
}

/* The idx-th message sent to s, or NULL. */
static inline const struct nkt_msg *
nkt_sent(const struct nk_session *s, size_t idx)
{
    const struct nkt *k = s->kit;

    for (size_t i = 0; i < k->nsent; i++)
        if (k->sent[i].session == s && !k->sent[i].dropped && idx-- == 0)
            return &k->sent[i];
    return NULL;
}

/* Every message sent, to any session, in the order sent. */
static inline size_t
nkt_all_sent_count(const struct nkt *k)
{
    return k->nsent;
}

static inline const struct nkt_msg *
nkt_all_sent(const struct nkt *k, size_t idx)
{
    return idx < k->nsent ? &k->sent[idx] : NULL;
}

/* The messages on_message got on s, in order (payload bytes). */
static inline size_t
nkt_received_count(const struct nk_session *s)
{
    return s->nreceived;
}

static inline const uint8_t *
nkt_received(const struct nk_session *s, size_t idx, size_t *len)
{
    if (idx >= s->nreceived)
        return NULL;
    if (len != NULL)
        *len = s->received[idx].len;
    return s->received[idx].p;
}

/* 1 if s is closed or closing (by the plugin, the peer or the kit). */
static inline int
nkt_closed(const struct nk_session *s)
{
    return s->state != NKT__OPEN && s->state != NKT__CONNECTING &&
           s->state != NKT__DATAGRAM;
}

/* How many times the plugin called close (or close_to) on s. */
static inline unsigned
nkt_close_calls(const struct nk_session *s)
{
    return s->close_calls;
}

/* The error decode gave before on_bad_input on s (0 if none). */
static inline int
nkt_bad_input(const struct nk_session *s)
{
    return s->bad_err;
}

/* Bytes queued for s (what host->queued answers). */
static inline size_t
nkt_queued(const struct nk_session *s)
{
    return s->queued;
}

static inline size_t
nkt_log_count(const struct nkt *k)
{
    return k->nlogs;
}

static inline const struct nkt_log *
nkt_log_line(const struct nkt *k, size_t idx)
{
    return idx < k->nlogs ? &k->logs[idx] : NULL;
}

/* ------------------------------------------------------------------------
 * Assertions.  Each fails the test with FILE:LINE and what differs.
 * ---------------------------------------------------------------------- */

/* The condition holds. */
#define nkt_expect(cond)                                                       \
    ((cond) ? (void)0 : nkt__fail(__FILE__, __LINE__, "expected %s", #cond))

/* rc is 0 (or a count >= 0); rc is the netkit error err. */
#define nkt_expect_ok(rc) nkt__expect_err(__FILE__, __LINE__, (long)(rc), 0, 1)
#define nkt_expect_err(rc, err)                                                \
    nkt__expect_err(__FILE__, __LINE__, (long)(rc), (long)(err), 0)
static inline void
nkt__expect_err(const char *file, int line, long rc, long err, int ok)
{
    if (ok ? rc >= 0 : rc == err)
        return;
    if (rc < 0)
        nkt__fail(file, line, "got %s (%ld: %s), expected %s",
                  nk_err_name((int)rc), rc, nk_strerror((int)rc),
                  ok ? "no error" : nk_err_name((int)err));
    nkt__fail(file, line, "got %ld, expected %s", rc, nk_err_name((int)err));
}

/* The next message sent to s that no nkt_expect_sent* has checked yet has
 * this payload (what the plugin passed to send); it is then checked.
 * nkt_expect_wire compares the whole wire bytes instead: head, payload,
 * tail. */
#define nkt_expect_sent(s, str)                                                \
    nkt__expect_msg(__FILE__, __LINE__, (s), (str), strlen(str), 0)
#define nkt_expect_sent_bytes(s, bytes, len)                                   \
    nkt__expect_msg(__FILE__, __LINE__, (s), (bytes), (len), 0)
#define nkt_expect_wire(s, bytes, len)                                         \
    nkt__expect_msg(__FILE__, __LINE__, (s), (bytes), (len), 1)
static inline void
nkt__expect_msg(const char *file, int line, struct nk_session *s,
                const void *want, size_t len, int wire)
{
    const struct nkt_msg *m = nkt_sent(s, s->checked);
    char a[512], b[512], n[96];

    if (m == NULL)
        nkt__fail(file, line,
                  "%s: expected message %zu, %s (%zu bytes), but only %zu "
                  "were sent%s%s",
                  nkt__name(s, n, sizeof(n)), s->checked + 1,
                  nkt__show(want, len, a, sizeof(a)), len, nkt_sent_count(s),
                  nkt_closed(s) ? "; it is " : "",
                  nkt_closed(s) ? s->closed_why : "");
    s->checked++;
    if (wire ? (m->len != len || memcmp(m->bytes, want, len) != 0)
             : (m->payload_len != len || memcmp(m->payload, want, len) != 0))
        nkt__fail(file, line,
                  "%s: message %zu %s %s (%zu bytes), expected %s (%zu "
                  "bytes)",
                  nkt__name(s, n, sizeof(n)), s->checked,
                  wire ? "on the wire is" : "is",
                  wire ? nkt__show(m->bytes, m->len, b, sizeof(b))
                       : nkt__show(m->payload, m->payload_len, b, sizeof(b)),
                  wire ? m->len : m->payload_len,
                  nkt__show(want, len, a, sizeof(a)), len);
}

/* Every message sent to s has been checked. */
#define nkt_expect_no_more(s) nkt__expect_no_more(__FILE__, __LINE__, (s))
static inline void
nkt__expect_no_more(const char *file, int line, struct nk_session *s)
{
    const struct nkt_msg *m = nkt_sent(s, s->checked);
    char b[512], n[96];

    if (m != NULL)
        nkt__fail(file, line, "%s: message %zu, %s, was not expected",
                  nkt__name(s, n, sizeof(n)), s->checked + 1,
                  nkt__show(m->payload, m->payload_len, b, sizeof(b)));
}

/* Exactly n messages were sent to s. */
#define nkt_expect_sent_count(s, n)                                            \
    nkt__expect_count(__FILE__, __LINE__, (s), (n))
static inline void
nkt__expect_count(const char *file, int line, struct nk_session *s, size_t n)
{
    char nm[96];

    if (nkt_sent_count(s) != n)
        nkt__fail(file, line, "%s: %zu messages sent, expected %zu",
                  nkt__name(s, nm, sizeof(nm)), nkt_sent_count(s), n);
}

/* s is closed (or closing), or is still open. */
#define nkt_expect_closed(s) nkt__expect_closed(__FILE__, __LINE__, (s), 1)
#define nkt_expect_open(s)   nkt__expect_closed(__FILE__, __LINE__, (s), 0)
static inline void
nkt__expect_closed(const char *file, int line, struct nk_session *s, int closed)
{
    char n[96];

    if (nkt_closed(s) != closed)
        nkt__fail(file, line, "%s is %s, expected it %s",
                  nkt__name(s, n, sizeof(n)), closed ? "open" : s->closed_why,
                  closed ? "closed" : "open");
}

/* Some log line holds text. */
#define nkt_expect_log(k, text) nkt__expect_log(__FILE__, __LINE__, (k), (text))
static inline void
nkt__expect_log(const char *file, int line, const struct nkt *k,
                const char *text)
{
    for (size_t i = 0; i < k->nlogs; i++)
        if (strstr(k->logs[i].text, text) != NULL)
            return;
    nkt__fail(file, line, "no log line holds \"%s\" (%zu lines%s%s)", text,
              k->nlogs, k->nlogs > 0 ? ", the last: " : "",
              k->nlogs > 0 ? k->logs[k->nlogs - 1].text : "");
}

/* ------------------------------------------------------------------------
 * Codec checks
 * ---------------------------------------------------------------------- */

static inline void
nkt__run_free(struct nkt__run *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->msgs[i].p);
    free(r->msgs);
    memset(r, 0, sizeof(*r));
}

/* Decode stream[0..len) delivered in pieces ending at cuts[0..ncuts) (then
 * the rest), as the read path buffers it; no callback but decode. */
static inline void
nkt__decode_run(struct nkt *k, const uint8_t *stream, size_t len,
                const size_t *cuts, size_t ncuts, struct nkt__run *r,
                const char *how)
{
    struct nkt__vec *inv = &k->split_in;
    size_t pos = 0, start = 0;

    inv->len = 0;
    nkt__run_free(r);
    for (size_t c = 0; c <= ncuts && r->end == 0; c++) {
        size_t to = c < ncuts ? cuts[c] : len;

        nkt__vec_add(k, inv, stream + pos, to - pos);
        pos = to;
        r->end = 0;
        while (start < inv->len) {
            const uint8_t *buf = inv->p + start;
            size_t n = inv->len - start;
            struct nk_frame f;
            long rc;

            memset(&f, 0, sizeof(f));
            rc = k->plugin->decode(k->inst[0], buf, n, &f);
            if (rc == NK_ENEEDMORE) {
                if (f.need != 0 && f.need <= n)
                    nkt__fail(k->file, k->line,
                              "plugin %s: decode (%s): NK_ENEEDMORE with need "
                              "%zu for %zu bytes",
                              k->plugin->name, how, f.need, n);
                if ((f.need > 0 ? f.need : n + 1) > k->max_message)
                    r->end = NK_EFRAMETOOBIG;
                else
                    r->end = NK_ENEEDMORE;
                break;
            }
            if (rc < 0) {
                r->end = rc;
                break;
            }
            if (rc == 0 || (size_t)rc > n ||
                (f.payload_len > 0 &&
                 (f.payload == NULL || f.payload < buf ||
                  f.payload_len > (size_t)rc ||
                  (size_t)(f.payload - buf) > (size_t)rc - f.payload_len)))
                nkt__fail(k->file, k->line,
                          "plugin %s: decode (%s) returned %ld for %zu bytes "
                          "with a %zu-byte payload (contract: 0 < result <= "
                          "bytes given, payload inside the message)",
                          k->plugin->name, how, rc, n, f.payload_len);
            if ((size_t)rc > k->max_message) {
                r->end = NK_EFRAMETOOBIG;
                break;
            }
            r->msgs = (struct nkt__vec *)realloc(r->msgs,
                                                 (r->n + 1) * sizeof(*r->msgs));
            if (r->msgs == NULL)
                nkt__fail(k->file, k->line, "netkit testkit: out of memory");
            memset(&r->msgs[r->n], 0, sizeof(*r->msgs));
            nkt__vec_add(k, &r->msgs[r->n++], f.payload, f.payload_len);
            start += (size_t)rc;
        }
        if (r->end == NK_ENEEDMORE && c < ncuts)
            r->end = 0;
    }
    if (r->end == 0 && start < inv->len)
        r->end = NK_ENEEDMORE;
    r->left = len - start;
}

/* Compare run r (split `how`) with the reference run ref. */
static inline void
nkt__same_run(struct nkt *k, const struct nkt__run *ref,
              const struct nkt__run *r, const char *how)
{
    char a[512], b[512];
    size_t i;

    for (i = 0; i < ref->n && i < r->n; i++)
        if (ref->msgs[i].len != r->msgs[i].len ||
            memcmp(ref->msgs[i].p, r->msgs[i].p, r->msgs[i].len) != 0)
            nkt__fail(k->file, k->line,
                      "plugin %s: split %s: message %zu is %s (%zu bytes), "
                      "the whole stream gave %s (%zu bytes)",
                      k->plugin->name, how, i + 1,
                      nkt__show(r->msgs[i].p, r->msgs[i].len, a, sizeof(a)),
                      r->msgs[i].len,
                      nkt__show(ref->msgs[i].p, ref->msgs[i].len, b, sizeof(b)),
                      ref->msgs[i].len);
    if (ref->n != r->n || ref->end != r->end)
        nkt__fail(k->file, k->line,
                  "plugin %s: split %s: %zu messages then %s, the whole "
                  "stream gave %zu then %s",
                  k->plugin->name, how, r->n,
                  r->end == 0 ? "the end" : nk_err_name((int)r->end), ref->n,
                  ref->end == 0 ? "the end" : nk_err_name((int)ref->end));
}

/*
 * Decode stream[0..len) whole (many messages per read), one byte at a
 * time, cut in two at every place (at most NKT_SPLIT2_MAX places, spread
 * evenly), and in NKT_RANDOM_SPLITS random ways (nkt_set_seed): every way
 * must give the same messages, and the whole stream must give exactly
 * want[0..n).  want NULL: only the ways are compared.  Only decode runs
 * (on instance 0): the messages are what on_message would get.  Returns
 * the number of messages.
 */
#define nkt_expect_splits(k, ...)                                              \
    nkt__expect_splits_str(NKT__AT(k), __VA_ARGS__)
#define nkt_expect_splits_bytes(k, ...)                                        \
    nkt__expect_splits_bytes(NKT__AT(k), __VA_ARGS__)
static inline size_t
nkt__expect_splits(struct nkt *k, const void *stream, size_t len,
                   const struct nkt_bytes *want, const char *const *want_strs,
                   size_t nwant)
{
    const uint8_t *st = (const uint8_t *)stream;
    struct nkt__run *ref = &k->ref, *r = &k->run;
    size_t *cuts, n, step;
    uint64_t rng = k->seed;
    char how[96], a[512], b[512];

    if (!k->created)
        nkt__fail(k->file, k->line, "nkt_expect_splits: no instance");
    free(k->cuts);
    k->cuts = cuts = (size_t *)nkt__alloc(k, (len + 1) * sizeof(size_t));
    nkt__decode_run(k, st, len, NULL, 0, ref, "whole");
    if (want_strs != NULL)
        for (nwant = 0; want_strs[nwant] != NULL; nwant++)
            ;
    if (want != NULL || want_strs != NULL) {
        for (size_t i = 0; i < nwant; i++) {
            const void *wp = want != NULL ? want[i].ptr : want_strs[i];
            size_t wl = want != NULL ? want[i].len : strlen(want_strs[i]);

            if (i >= ref->n)
                nkt__fail(k->file, k->line,
                          "plugin %s: the stream gave %zu messages, then %s "
                          "with %zu bytes left; expected %zu (the next: %s)",
                          k->plugin->name, ref->n,
                          ref->end == 0 ? "the end"
                                        : nk_err_name((int)ref->end),
                          ref->left, nwant, nkt__show(wp, wl, a, sizeof(a)));
            if (ref->msgs[i].len != wl || memcmp(ref->msgs[i].p, wp, wl) != 0)
                nkt__fail(
                    k->file, k->line,
                    "plugin %s: message %zu is %s (%zu bytes), "
                    "expected %s (%zu bytes)",
                    k->plugin->name, i + 1,
                    nkt__show(ref->msgs[i].p, ref->msgs[i].len, b, sizeof(b)),
                    ref->msgs[i].len, nkt__show(wp, wl, a, sizeof(a)), wl);
        }
        if (ref->n != nwant)
            nkt__fail(k->file, k->line,
                      "plugin %s: the stream gave %zu messages, expected %zu",
                      k->plugin->name, ref->n, nwant);
    }
    /* One byte at a time. */
    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    nkt__decode_run(k, st, len, cuts, len > 0 ? len - 1 : 0, r,
                    "one byte at a time");
    nkt__same_run(k, ref, r, "one byte at a time");
    nkt__run_free(r);
    /* Every two-way split. */
    step = len / NKT_SPLIT2_MAX + 1;
    for (size_t c = 1; c < len; c += step) {
        cuts[0] = c;
        snprintf(how, sizeof(how), "in two at byte %zu", c);
        nkt__decode_run(k, st, len, cuts, 1, r, how);
        nkt__same_run(k, ref, r, how);
        nkt__run_free(r);
    }
    /* Random pieces: mostly short, sometimes long. */
    for (int t = 0; t < NKT_RANDOM_SPLITS && len > 1; t++) {
        size_t nc = 0, at = 0;
        uint64_t first = rng;

        for (;;) {
            uint64_t x = nkt__rand(&rng);
            size_t piece = x % 4 == 0 ? 1 + (size_t)(x >> 8) % (len + 1)
                                      : 1 + (size_t)(x >> 8) % 16;
            if (at + piece >= len)
                break;
            at += piece;
            cuts[nc++] = at;
        }
        snprintf(how, sizeof(how),
                 "random #%d (%zu pieces; nkt_set_seed state %llu)", t + 1,
                 nc + 1, (unsigned long long)first);
        nkt__decode_run(k, st, len, cuts, nc, r, how);
        nkt__same_run(k, ref, r, how);
        nkt__run_free(r);
    }
    n = ref->n;
    nkt__run_free(ref);
    free(k->cuts);
    k->cuts = NULL;
    return n;
}

static inline size_t
nkt__expect_splits_str(struct nkt *k, const void *stream, size_t len,
                       const char *const *want)
{
    return nkt__expect_splits(k, stream, len, NULL, want, 0);
}

static inline size_t
nkt__expect_splits_bytes(struct nkt *k, const void *stream, size_t len,
                         const struct nkt_bytes *want, size_t n)
{
    return nkt__expect_splits(k, stream, len, want, NULL, n);
}

/* One split through the whole read path: a new session (on_open), the
 * pieces fed as reads, then the peer closes (on_close).  *err gets the
 * error that ended the session early, or 0. */
static inline struct nk_session *
nkt__served_run(struct nkt *k, const uint8_t *st, size_t len,
                const size_t *cuts, size_t ncuts, long *err)
{
    struct nk_session *s = nkt__open(k, 0);
    size_t pos = 0;

    *err = 0;
    for (size_t c = 0; c <= ncuts && *err == 0; c++) {
        size_t to = c < ncuts ? cuts[c] : len;
        long rc = nkt__feed(k->file, k->line, s, st + pos, to - pos);

        pos = to;
        if (rc < 0)
            *err = rc;
    }
    nkt__close(s, "closed by the peer (split check)");
    nkt__enter(k);
    nkt__leave(k);
    return s;
}

/* What session s got and answered is what ref got and answered. */
static inline void
nkt__same_served(struct nkt *k, const struct nk_session *ref, long ref_err,
                 const struct nk_session *s, long err, const char *how)
{
    size_t nref = nkt_sent_count(ref), ns = nkt_sent_count(s);
    char a[512], b[512];

    for (size_t i = 0; i < ref->nreceived && i < s->nreceived; i++)
        if (ref->received[i].len != s->received[i].len ||
            memcmp(ref->received[i].p, s->received[i].p, s->received[i].len))
            nkt__fail(
                k->file, k->line,
                "plugin %s: split %s: on_message %zu got %s, the "
                "whole stream gave %s",
                k->plugin->name, how, i + 1,
                nkt__show(s->received[i].p, s->received[i].len, a, sizeof(a)),
                nkt__show(ref->received[i].p, ref->received[i].len, b,
                          sizeof(b)));
    if (ref->nreceived != s->nreceived || ref_err != err)
        nkt__fail(k->file, k->line,
                  "plugin %s: split %s: on_message ran %zu times%s%s, the "
                  "whole stream %zu times%s%s",
                  k->plugin->name, how, s->nreceived, err ? ", then " : "",
                  err ? nk_err_name((int)err) : "", ref->nreceived,
                  ref_err ? ", then " : "",
                  ref_err ? nk_err_name((int)ref_err) : "");
    for (size_t i = 0; i < nref && i < ns; i++) {
        const struct nkt_msg *m = nkt_sent(s, i), *r = nkt_sent(ref, i);

        if (m->len != r->len || memcmp(m->bytes, r->bytes, m->len) != 0)
            nkt__fail(k->file, k->line,
                      "plugin %s: split %s: reply %zu is %s, the whole "
                      "stream's is %s",
                      k->plugin->name, how, i + 1,
                      nkt__show(m->bytes, m->len, a, sizeof(a)),
                      nkt__show(r->bytes, r->len, b, sizeof(b)));
    }
    if (nref != ns)
        nkt__fail(k->file, k->line,
                  "plugin %s: split %s: %zu replies, the whole stream %zu",
                  k->plugin->name, how, ns, nref);
}

/*
 * nkt_expect_splits through the whole read path: each way of cutting the
 * stream (whole, one byte at a time, in two at up to 256 places, and
 * NKT_RANDOM_SPLITS random ways) is fed to a session of its own, opened
 * for it and closed after it (on_open, on_message, on_close).  Every way
 * must hand on_message the same payloads, the whole stream exactly want
 * (NULL: not checked), and get the same replies, byte for byte.  Every run
 * is a real session of the kit, so a plugin whose sessions share state
 * (a chat room) sees them all; use nkt_expect_splits for the codec alone.
 * Returns the number of messages.
 */
#define nkt_expect_splits_served(k, ...)                                       \
    nkt__expect_splits_served(NKT__AT(k), __VA_ARGS__)
static inline size_t
nkt__expect_splits_served(struct nkt *k, const void *stream, size_t len,
                          const char *const *want)
{
    const uint8_t *st = (const uint8_t *)stream;
    struct nk_session *ref, *s;
    size_t *cuts, step, nwant = 0;
    uint64_t rng = k->seed;
    long ref_err, err;
    char how[96], a[512], b[512];

    if (!k->created || k->transport != NK_TRANSPORT_TCP)
        nkt__fail(k->file, k->line,
                  "nkt_expect_splits_served: no TCP instance");
    free(k->cuts);
    k->cuts = cuts = (size_t *)nkt__alloc(k, (len + 1) * sizeof(size_t));
    ref = nkt__served_run(k, st, len, NULL, 0, &ref_err);
    for (; want != NULL && want[nwant] != NULL; nwant++) {
        size_t wl = strlen(want[nwant]);

        if (nwant >= ref->nreceived)
            nkt__fail(k->file, k->line,
                      "plugin %s: on_message ran %zu times; expected %s "
                      "next",
                      k->plugin->name, ref->nreceived,
                      nkt__show(want[nwant], wl, a, sizeof(a)));
        if (ref->received[nwant].len != wl ||
            memcmp(ref->received[nwant].p, want[nwant], wl) != 0)
            nkt__fail(k->file, k->line,
                      "plugin %s: on_message %zu got %s, expected %s",
                      k->plugin->name, nwant + 1,
                      nkt__show(ref->received[nwant].p,
                                ref->received[nwant].len, b, sizeof(b)),
                      nkt__show(want[nwant], wl, a, sizeof(a)));
    }
    if (want != NULL && ref->nreceived != nwant)
        nkt__fail(k->file, k->line,
                  "plugin %s: on_message ran %zu times, expected %zu",
                  k->plugin->name, ref->nreceived, nwant);
    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    s = nkt__served_run(k, st, len, cuts, len > 0 ? len - 1 : 0, &err);
    nkt__same_served(k, ref, ref_err, s, err, "one byte at a time");
    step = len / 256 + 1;
    for (size_t c = 1; c < len; c += step) {
        cuts[0] = c;
        snprintf(how, sizeof(how), "in two at byte %zu", c);
        s = nkt__served_run(k, st, len, cuts, 1, &err);
        nkt__same_served(k, ref, ref_err, s, err, how);
    }
    for (int t = 0; t < NKT_RANDOM_SPLITS && len > 1; t++) {
        size_t nc = 0, at = 0;
        uint64_t first = rng;

        for (;;) {
            uint64_t x = nkt__rand(&rng);
            size_t piece = 1 + (size_t)(x >> 8) % 16;

            if (at + piece >= len)
                break;
            at += piece;
            cuts[nc++] = at;
        }
        snprintf(how, sizeof(how), "random #%d (seed state %llu)", t + 1,
                 (unsigned long long)first);
        s = nkt__served_run(k, st, len, cuts, nc, &err);
        nkt__same_served(k, ref, ref_err, s, err, how);
    }
    free(k->cuts);
    k->cuts = NULL;
    return ref->nreceived;
}

/*
 * encode frames payload[0..len) and decode gives it back: the wire bytes
 * (head + payload + tail) are one message of exactly that payload, taking
 * every byte, whole and under every split.  Two copies back to back are
 * two messages.
 */
#define nkt_expect_roundtrip(k, payload, len)                                  \
    nkt__expect_roundtrip(NKT__AT(k), (payload), (len))
static inline void
nkt__expect_roundtrip(struct nkt *k, const void *payload, size_t len)
{
    size_t n;
    uint8_t *wire = nkt__encode_msg(k, payload, len, &n);
    uint8_t *two = (uint8_t *)nkt__alloc(k, 2 * n);

    k->wires = (uint8_t **)nkt__grow(k, k->wires, &k->capwires, k->nwires,
                                     sizeof(*k->wires));
    k->wires[k->nwires++] = two; /* freed by nkt_free */
    struct nkt_bytes want[2];

    want[0].ptr = want[1].ptr = payload;
    want[0].len = want[1].len = len;
    nkt__expect_splits(k, wire, n, want, NULL, 1);
    memcpy(two, wire, n);
    memcpy(two + n, wire, n);
    nkt__expect_splits(k, two, 2 * n, want, NULL, 2);
}

#ifdef __cplusplus
}
#endif

#endif /* NETKIT_TESTKIT_H */
