/* check.c -- `netkit check NAME`.  See check.h. */
#include "plugin/check.h"

#include <sys/mman.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "config/value.h"
#include "plugin/child.h"
#include "plugin/codec_host.h"
#include "plugin/contract.h"
#include "plugin/loader.h"

/* How long one case may run in its child. */
#define CHECK_TIMEOUT 60.0

/* The largest max_message the max-message and over-max cases build. */
#define CHECK_MAX_BUILD ((size_t)64 << 20)

/* Messages used for splitting and byte-by-byte feeding stay this small, so
 * that a codec which rescans its input (a line protocol) stays fast. */
#define CHECK_SMALL 4096

/* Random splits and random inputs: how many, from fixed seeds. */
#define CHECK_SPLITS 20
#define CHECK_RANDOM 3000

/* What a case's child returns (child.h results). */
enum { CK_OK = 0, CK_FAIL = 1, CK_SKIP = 2 };

struct ck {
    const struct nk__plugin *p;
    const struct nk_value *vals;
    unsigned transport;
    unsigned role;                     /* NK_ROLE_* the instance has */
    const struct nk__strlist *samples; /* --sample files */
    /* In the child, once created: */
    void *inst;
    void *enc;  /* encodes what inst decodes: an instance of the other role
                   (a client's requests for a server), or inst itself */
    size_t max; /* the instance's max_message */
    uint8_t *map;
    size_t map_len, room; /* bytes before the guard page */
    int unframed;         /* decode takes the whole buffer as one message */
    FILE *out;            /* the case's detail line */
    char why[400];
};

/* The result of one decode call, as offsets into the bytes given. */
struct ck_res {
    long rc;
    size_t need;
    size_t poff, plen;
};

/* One encoded message: head + payload + tail. */
struct ck_msg {
    uint8_t *wire;
    size_t len;  /* wire bytes */
    size_t poff; /* payload's offset in wire (the head's length) */
    size_t plen;
};

struct ck_msgs {
    struct ck_msg *m;
    size_t n;
};

/* ---- helpers ------------------------------------------------------------ */

static int ck_fail(struct ck *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Record why the case fails; returns -1. */
static int
ck_fail(struct ck *c, const char *fmt, ...)
{
    char msg[sizeof(c->why)];
    va_list ap;

    /* Through a copy: the arguments may include c->why itself. */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    memcpy(c->why, msg, sizeof(msg));
    return -1;
}

/* xorshift64*: the same sequence on every run and every machine. */
static uint64_t
ck_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* Payload bytes of the plugin's own messages: letters and digits, which
 * every text protocol carries (a line protocol cannot carry a newline). */
static void
ck_fill(uint8_t *p, size_t n, uint64_t seed)
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint64_t s = seed | 1;

    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)alpha[ck_rand(&s) % (sizeof(alpha) - 1)];
}

/* Destroy the instances ck_create made. */
static void
ck_destroy(struct ck *c)
{
    if (c->enc != NULL && c->enc != c->inst)
        c->p->desc->destroy(c->enc);
    c->p->desc->destroy(c->inst);
    c->enc = c->inst = NULL;
}

/* Create the instance and the guarded buffer decode reads from. */
static int
ck_create(struct ck *c)
{
    struct nk_setup su;
    long page = sysconf(_SC_PAGESIZE);
    size_t want;
    int rc;

    memset(&su, 0, sizeof(su));
    su.size = sizeof(su);
    su.host = &nk__codec_host;
    su.opts = c->vals;
    su.transport = c->transport;
    su.max_message = ((size_t)1 << 20) + 2 * NK_HDR_MAX;
    su.role = c->role; /* serve: decode reads requests; connect: replies */
    su.workers = 1;
    rc = c->p->desc->create(&su);
    if (rc < 0)
        return ck_fail(c, "create failed: %s",
                       su.err[0] != '\0' ? su.err : nk_strerror(rc));
    c->inst = su.inst;
    c->max = su.max_message;
    if (c->max == 0) {
        c->p->desc->destroy(c->inst);
        return ck_fail(c, "create set max_message to 0");
    }
    /* What a serving instance decodes, a connecting one encodes, and the
     * other way round: so a codec whose requests and replies differ
     * round-trips too.  A plugin that refuses the other role encodes for
     * itself. */
    c->enc = c->inst;
    if (c->transport == NK_TRANSPORT_TCP) {
        struct nk_setup peer = su;
        peer.role =
            c->role == NK_ROLE_CONNECT ? NK_ROLE_SERVE : NK_ROLE_CONNECT;
        peer.max_message = ((size_t)1 << 20) + 2 * NK_HDR_MAX;
        peer.inst = NULL;
        peer.err[0] = '\0';
        if (c->p->desc->create(&peer) == 0)
            c->enc = peer.inst;
    }
    /* Room for the largest message built, one byte more, and random input;
     * a PROT_NONE page right after it catches any read past the end. */
    want = (c->max < CHECK_MAX_BUILD ? c->max : CHECK_MAX_BUILD) + 2 +
           2 * CHECK_SMALL;
    c->room = (want + (size_t)page - 1) / (size_t)page * (size_t)page;
    c->map_len = c->room + (size_t)page;
    c->map = mmap(NULL, c->map_len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (c->map == MAP_FAILED ||
        mprotect(c->map + c->room, (size_t)page, PROT_NONE) < 0) {
        ck_destroy(c);
        return ck_fail(c, "cannot map a guarded buffer");
    }
    return 0;
}

/*
 * Decode b[0..len) as the host would, from a copy that ends right at the
 * guard page, and check the result against the contract.  Returns 0 with
 * the result in r, or -1 with c->why.
 */
static int
ck_decode(struct ck *c, const uint8_t *b, size_t len, struct ck_res *r)
{
    uint8_t *buf = c->map + c->room - len;
    struct nk_frame f = {0};
    const char *broken;
    long rc;

    if (len > c->room)
        return ck_fail(c, "input of %zu bytes too large to check", len);
    memmove(buf, b, len);
    rc = c->p->desc->decode(c->inst, buf, len, &f);
    memset(r, 0, sizeof(*r));
    r->rc = rc;
    r->need = f.need;
    /* The host's own rules (plugin/contract.c), with the figures. */
    broken = nk__decode_check(rc, buf, len, &f,
                              c->transport == NK_TRANSPORT_TCP, c->max);
    if (broken != NULL && rc >= 0 && f.payload_len > 0 && (size_t)rc <= len)
        return ck_fail(c,
                       "payload of %zu bytes at offset %lld lies outside "
                       "the %ld-byte message decoded",
                       f.payload_len,
                       f.payload == NULL
                           ? -1LL
                           : (long long)((uintptr_t)f.payload - (uintptr_t)buf),
                       rc);
    if (broken != NULL)
        return ck_fail(c, "decode %s (%ld for %zu bytes, need %zu)", broken, rc,
                       len, f.need);
    if (rc >= 0) {
        r->poff = f.payload_len > 0 ? (size_t)(f.payload - buf) : 0;
        r->plen = f.payload_len;
    }
    return 0;
}

/* Encode a payload of n letters into m.  0, 1 when encode refuses the
 * length (NK_EMSGSIZE), or -1 with c->why. */
static int
ck_encode(struct ck *c, size_t n, uint64_t seed, struct ck_msg *m)
{
    struct nk_wrap w;
    int rc = nk__plugin_encode(c->p->desc, c->enc, n, &w);

    memset(m, 0, sizeof(*m));
    if (rc == NK_EMSGSIZE)
        return 1;
    if (rc < 0)
        return ck_fail(c, "encode of %zu bytes: %s", n,
                       rc == NK_EINVAL ? "broke the contract (a positive "
                                         "return, or a head or tail over "
                                         "its room)"
                                       : nk_strerror(rc));
    m->len = w.head_len + n + w.tail_len;
    m->wire = nk__malloc(m->len > 0 ? m->len : 1);
    if (m->wire == NULL)
        return ck_fail(c, "out of memory");
    memcpy(m->wire, nk__wrap_head(&w), w.head_len);
    ck_fill(m->wire + w.head_len, n, seed + n);
    memcpy(m->wire + w.head_len + n, nk__wrap_tail(&w), w.tail_len);
    m->poff = w.head_len;
    m->plen = n;
    return 0;
}

static void
ck_msgs_free(struct ck_msgs *l)
{
    for (size_t i = 0; i < l->n; i++)
        nk__free(l->m[i].wire);
    nk__free(l->m);
    l->m = NULL;
    l->n = 0;
}

/* The plugin's own messages of the given payload sizes that encode accepts
 * and that fit max_message (and, with `small`, CHECK_SMALL); empty wires
 * (an empty message of an unframed codec) are left out. */
static int
ck_messages(struct ck *c, const size_t *sizes, size_t nsizes, int small,
            struct ck_msgs *l)
{
    l->m = nk__calloc(nsizes, sizeof(*l->m));
    l->n = 0;
    if (l->m == NULL)
        return ck_fail(c, "out of memory");
    for (size_t i = 0; i < nsizes; i++) {
        struct ck_msg m;
        int rc = ck_encode(c, sizes[i], 7919 * (i + 1), &m);

        if (rc < 0) {
            ck_msgs_free(l);
            return -1;
        }
        if (rc > 0)
            continue;
        if (m.len == 0 || m.len > c->max || (small && m.len > CHECK_SMALL)) {
            nk__free(m.wire);
            continue;
        }
        l->m[l->n++] = m;
    }
    return 0;
}

static const size_t ck_sizes[] = {
    0, 1, 2, 3, 7, 16, 100, 255, 256, 1000, 1500, 4000, 65535, 65536, 1 << 18};
#define CK_NSIZES (sizeof(ck_sizes) / sizeof(ck_sizes[0]))

/* Decode m whole: it must come back as one message with its payload. */
static int
ck_roundtrip_one(struct ck *c, const struct ck_msg *m)
{
    struct ck_res r;

    if (ck_decode(c, m->wire, m->len, &r) < 0)
        return ck_fail(c, "%zu-byte payload: %s", m->plen, c->why);
    if (r.rc < 0)
        return ck_fail(c,
                       "%zu-byte payload: decode of the %zu bytes encode "
                       "framed gave %s",
                       m->plen, m->len, nk_strerror((int)r.rc));
    if ((size_t)r.rc != m->len)
        return ck_fail(c,
                       "%zu-byte payload: decode took %ld of the %zu bytes "
                       "encode framed",
                       m->plen, r.rc, m->len);
    if (r.plen != m->plen || (r.plen > 0 && r.poff != m->poff))
        return ck_fail(c,
                       "%zu-byte payload came back as %zu bytes at offset "
                       "%zu (head is %zu bytes)",
                       m->plen, r.plen, r.poff, m->poff);
    return 0;
}

/* Does decode take two messages, given together, as one?  (raw does: it
 * has no framing, each chunk read is a message.) */
static int
ck_detect_unframed(struct ck *c)
{
    struct ck_msg a, b;
    struct ck_res r;
    uint8_t *both;
    int rc = 0;

    if (ck_encode(c, 3, 1, &a) != 0)
        return 0;
    if (ck_encode(c, 4, 2, &b) != 0) {
        nk__free(a.wire);
        return 0;
    }
    both = nk__malloc(a.len + b.len);
    if (both != NULL) {
        memcpy(both, a.wire, a.len);
        memcpy(both + a.len, b.wire, b.len);
        rc = ck_decode(c, both, a.len + b.len, &r) == 0 &&
             r.rc == (long)(a.len + b.len);
    }
    nk__free(both);
    nk__free(a.wire);
    nk__free(b.wire);
    return rc;
}

/* ---- feeding a stream as the host does ---------------------------------- */

/* A decoded message: where its payload is in the stream. */
struct ck_got {
    size_t *off, *len;
    size_t n, cap;
};

static int
ck_got_add(struct ck *c, struct ck_got *g, size_t off, size_t len)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 64;
        size_t *o = nk__realloc(g->off, cap * sizeof(*o));
        size_t *l;

        if (o == NULL)
            return ck_fail(c, "out of memory");
        g->off = o;
        l = nk__realloc(g->len, cap * sizeof(*l));
        if (l == NULL)
            return ck_fail(c, "out of memory");
        g->len = l;
        g->cap = cap;
    }
    g->off[g->n] = off;
    g->len[g->n++] = len;
    return 0;
}

static void
ck_got_free(struct ck_got *g)
{
    nk__free(g->off);
    nk__free(g->len);
    memset(g, 0, sizeof(*g));
}

/* How the stream is cut: whole, one byte at a time, or random pieces. */
enum { CK_WHOLE, CK_BYTES, CK_RANDOM };

/*
 * Feed s[0..len) to decode the way the host reads a TCP stream: bytes
 * arrive in pieces; after each piece, decode from the first unconsumed byte
 * until it asks for more.  The decoded payloads go to g (stream offsets).
 */
static int
ck_feed(struct ck *c, const uint8_t *s, size_t len, int how, uint64_t seed,
        struct ck_got *g)
{
    size_t have = 0, start = 0;
    uint64_t rs = seed | 1;
    struct ck_res r;

    while (have < len) {
        size_t piece = how == CK_WHOLE ? len
                       : how == CK_BYTES
                           ? 1
                           /* mostly small pieces, now and then a large one */
                           : (ck_rand(&rs) % 8 == 0 ? 1 + ck_rand(&rs) % 3000
                                                    : 1 + ck_rand(&rs) % 17);

        have += piece < len - have ? piece : len - have;
        while (start < have) {
            if (ck_decode(c, s + start, have - start, &r) < 0)
                return ck_fail(c, "at stream byte %zu: %s", start, c->why);
            if (r.rc == NK_ENEEDMORE) {
                if (r.need > c->max)
                    return ck_fail(c,
                                   "at stream byte %zu: need %zu passes "
                                   "max_message %zu",
                                   start, r.need, c->max);
                break;
            }
            if (r.rc < 0)
                return ck_fail(c,
                               "at stream byte %zu, with %zu bytes there: "
                               "decode refused valid input (%s)",
                               start, have - start, nk_strerror((int)r.rc));
            if (ck_got_add(c, g, start + r.poff, r.plen) < 0)
                return -1;
            start += (size_t)r.rc;
        }
    }
    if (start != len)
        return ck_fail(c, "%zu bytes left undecoded at the end of the stream",
                       len - start);
    return 0;
}

/* Same messages, payloads at the same places? */
static int
ck_same(struct ck *c, const struct ck_got *want, const struct ck_got *got,
        const char *how)
{
    if (got->n != want->n)
        return ck_fail(c, "%s: %zu messages, whole: %zu", how, got->n, want->n);
    for (size_t i = 0; i < got->n; i++)
        if (got->len[i] != want->len[i] ||
            (got->len[i] > 0 && got->off[i] != want->off[i]))
            return ck_fail(c,
                           "%s: message %zu is %zu bytes at stream byte %zu, "
                           "whole: %zu bytes at %zu",
                           how, i, got->len[i], got->off[i], want->len[i],
                           want->off[i]);
    return 0;
}

/* s fed one byte at a time, then cut at random places (CHECK_SPLITS
 * seeds), must decode into the messages *want holds; 0, or -1 after the
 * failure is told.  got holds what the last way decoded. */
static int
ck_splits_same(struct ck *c, const uint8_t *s, size_t len,
               const struct ck_got *want, struct ck_got *got)
{
    if (ck_feed(c, s, len, CK_BYTES, 0, got) < 0 ||
        ck_same(c, want, got, "one byte at a time") < 0)
        return -1;
    for (unsigned i = 0; i < CHECK_SPLITS; i++) {
        char how[64];

        ck_got_free(got);
        snprintf(how, sizeof(how), "random split, seed %u", i + 1);
        if (ck_feed(c, s, len, CK_RANDOM, i + 1, got) < 0 ||
            ck_same(c, want, got, how) < 0)
            return -1;
    }
    return 0;
}

/* The stream: each small message twice, in two orders. */
static uint8_t *
ck_stream(struct ck *c, const struct ck_msgs *l, size_t *len, struct ck_got *g)
{
    size_t total = 0, at = 0;
    uint8_t *s;

    for (size_t i = 0; i < l->n; i++)
        total += 2 * l->m[i].len;
    s = nk__malloc(total > 0 ? total : 1);
    if (s == NULL) {
        ck_fail(c, "out of memory");
        return NULL;
    }
    for (size_t k = 0; k < 2 * l->n; k++) {
        const struct ck_msg *m = &l->m[k < l->n ? k : 2 * l->n - 1 - k];

        memcpy(s + at, m->wire, m->len);
        if (ck_got_add(c, g, at + m->poff, m->plen) < 0) {
            nk__free(s);
            return NULL;
        }
        at += m->len;
    }
    *len = total;
    return s;
}

/* ---- the cases ---------------------------------------------------------- */

static int
case_create(struct ck *c)
{
    fprintf(c->out, "max_message %zu", c->max);
    return CK_OK;
}

static int
case_round_trip(struct ck *c)
{
    struct ck_msgs l;
    size_t tried = 0, top = 0;

    if (ck_messages(c, ck_sizes, CK_NSIZES, 0, &l) < 0)
        return CK_FAIL;
    for (size_t i = 0; i < l.n; i++) {
        if (ck_roundtrip_one(c, &l.m[i]) < 0) {
            ck_msgs_free(&l);
            return CK_FAIL;
        }
        tried++;
        top = l.m[i].plen;
    }
    ck_msgs_free(&l);
    if (tried == 0) {
        ck_fail(c, "encode accepts none of the sizes tried");
        return CK_FAIL;
    }
    fprintf(c->out, "%zu payload sizes, up to %zu bytes", tried, top);
    return CK_OK;
}

static int
case_split(struct ck *c)
{
    struct ck_msgs l;
    struct ck_got want = {0}, got = {0};
    uint8_t *s = NULL;
    size_t len = 0;
    int rc = CK_FAIL;

    if (c->transport == NK_TRANSPORT_UDP) {
        fprintf(c->out, "over UDP each datagram is one message");
        return CK_SKIP;
    }
    if (c->unframed) {
        fprintf(c->out, "the codec takes the whole buffer as one message "
                        "(no framing), so a split makes other messages by "
                        "design");
        return CK_SKIP;
    }
    if (ck_messages(c, ck_sizes, CK_NSIZES, 1, &l) < 0)
        return CK_FAIL;
    if ((s = ck_stream(c, &l, &len, &want)) == NULL)
        goto out;
    if (ck_feed(c, s, len, CK_WHOLE, 0, &got) < 0 ||
        ck_same(c, &want, &got, "whole") < 0)
        goto out;
    ck_got_free(&got);
    if (ck_splits_same(c, s, len, &want, &got) < 0)
        goto out;
    fprintf(c->out,
            "%zu messages in %zu bytes: whole, one byte at a time, %d "
            "random splits",
            want.n, len, CHECK_SPLITS);
    rc = CK_OK;
out:
    ck_got_free(&want);
    ck_got_free(&got);
    nk__free(s);
    ck_msgs_free(&l);
    return rc;
}

/* Two results say the same thing. */
static int
ck_res_equal(const struct ck_res *a, const struct ck_res *b)
{
    if (a->rc != b->rc)
        return 0;
    if (a->rc == NK_ENEEDMORE)
        return a->need == b->need;
    if (a->rc >= 0)
        return a->plen == b->plen && (a->plen == 0 || a->poff == b->poff);
    return 1;
}

static void
ck_res_text(const struct ck_res *r, char *buf, size_t size)
{
    if (r->rc == NK_ENEEDMORE)
        snprintf(buf, size, "NK_ENEEDMORE need %zu", r->need);
    else if (r->rc >= 0)
        snprintf(buf, size, "%ld bytes, payload %zu at %zu", r->rc, r->plen,
                 r->poff);
    else
        snprintf(buf, size, "%s", nk_err_name((int)r->rc));
}

static int
case_stateless(struct ck *c)
{
    struct ck_msgs l;
    size_t calls = 0;

    if (ck_messages(c, ck_sizes, CK_NSIZES, 1, &l) < 0)
        return CK_FAIL;
    for (size_t i = 0; i < l.n; i++) {
        const struct ck_msg *m = &l.m[i], *o = &l.m[(i + 1) % l.n];
        size_t cuts[] = {1,           2,          3,          m->poff,
                         m->poff + 1, m->len / 2, m->len - 1, m->len};

        for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
            struct ck_res a, a2, b, x;
            char ta[80], tb[80];
            size_t n = cuts[k];

            if (n == 0 || n > m->len)
                continue;
            /* The same bytes twice, then other bytes, then the same again. */
            if (ck_decode(c, m->wire, n, &a) < 0 ||
                ck_decode(c, m->wire, n, &a2) < 0 ||
                ck_decode(c, o->wire, o->len, &x) < 0 ||
                ck_decode(c, m->wire, n, &b) < 0) {
                ck_msgs_free(&l);
                return CK_FAIL;
            }
            calls += 4;
            if (!ck_res_equal(&a, &a2))
                b = a2;
            if (!ck_res_equal(&a, &b)) {
                ck_res_text(&a, ta, sizeof(ta));
                ck_res_text(&b, tb, sizeof(tb));
                ck_fail(c,
                        "the first %zu bytes of a %zu-byte message gave %s, "
                        "then %s",
                        n, m->len, ta, tb);
                ck_msgs_free(&l);
                return CK_FAIL;
            }
        }
    }
    ck_msgs_free(&l);
    fprintf(c->out, "%zu calls", calls);
    return CK_OK;
}

static int
case_need(struct ck *c)
{
    struct ck_msgs l;
    size_t checked = 0;
    char wrong[200] = "";

    if (c->transport == NK_TRANSPORT_UDP) {
        fprintf(c->out, "over UDP a message arrives whole");
        return CK_SKIP;
    }
    if (c->unframed) {
        fprintf(c->out, "the codec takes the whole buffer as one message: "
                        "it never needs more");
        return CK_SKIP;
    }
    if (ck_messages(c, ck_sizes, CK_NSIZES, 1, &l) < 0)
        return CK_FAIL;
    for (size_t i = 0; i < l.n; i++) {
        const struct ck_msg *m = &l.m[i];
        size_t prev = 0;

        for (size_t n = 1; n < m->len; n++) {
            struct ck_res r;
            const char *bad = NULL;

            if (ck_decode(c, m->wire, n, &r) < 0) {
                ck_msgs_free(&l);
                return CK_FAIL;
            }
            if (r.rc != NK_ENEEDMORE) {
                char t[80];
                ck_res_text(&r, t, sizeof(t));
                ck_fail(c,
                        "the first %zu bytes of a %zu-byte message gave %s, "
                        "not NK_ENEEDMORE",
                        n, m->len, t);
                ck_msgs_free(&l);
                return CK_FAIL;
            }
            if (prev != 0 && r.need < prev)
                bad = "shrank";
            else if (r.need > c->max)
                bad = "passes max_message";
            if (bad != NULL) {
                ck_fail(c,
                        "%zu-byte message: after %zu byte%s need is %zu (was "
                        "%zu, max_message %zu): it %s",
                        m->len, n, n == 1 ? "" : "s", r.need, prev, c->max,
                        bad);
                ck_msgs_free(&l);
                return CK_FAIL;
            }
            /* Reported only if it does not shrink later, which says more. */
            if (r.need != 0 && r.need != m->len && wrong[0] == '\0')
                snprintf(wrong, sizeof(wrong),
                         "%zu-byte message: after %zu byte%s need is %zu: "
                         "not the message's length",
                         m->len, n, n == 1 ? "" : "s", r.need);
            prev = r.need;
            checked++;
        }
    }
    if (wrong[0] != '\0') {
        ck_fail(c, "%s", wrong);
        ck_msgs_free(&l);
        return CK_FAIL;
    }
    ck_msgs_free(&l);
    fprintf(c->out, "%zu partial messages", checked);
    return CK_OK;
}

static int
case_empty(struct ck *c)
{
    struct ck_msg m;
    int rc = ck_encode(c, 0, 1, &m);

    if (rc < 0)
        return CK_FAIL;
    if (rc > 0) {
        fprintf(c->out, "encode refuses an empty payload (NK_EMSGSIZE)");
        return CK_SKIP;
    }
    if (m.len == 0 && c->transport != NK_TRANSPORT_UDP) {
        nk__free(m.wire);
        fprintf(c->out, "an empty message has no bytes on a stream (no "
                        "framing)");
        return CK_SKIP;
    }
    rc = ck_roundtrip_one(c, &m);
    nk__free(m.wire);
    if (rc < 0)
        return CK_FAIL;
    fprintf(c->out, "%zu byte%s on the wire", m.len, m.len == 1 ? "" : "s");
    return CK_OK;
}

/*
 * The largest payload whose message fits max_message and that encode
 * accepts: start from max_message minus encode's head and tail; if encode
 * refuses, the largest it accepts below that.  0 with *n set, 1 when
 * encode accepts no payload at all, -1 with c->why.
 */
static int
ck_max_payload(struct ck *c, size_t *n)
{
    struct nk_wrap w;
    size_t lo = 0, hi, guess = c->max;

    for (int i = 0; i < 4; i++) {
        int rc = nk__plugin_encode(c->p->desc, c->enc, guess, &w);
        size_t frame;

        if (rc == NK_EMSGSIZE)
            break;
        if (rc < 0)
            return ck_fail(c, "encode of %zu bytes: %s", guess,
                           nk_strerror(rc));
        frame = w.head_len + w.tail_len;
        if (frame + guess == c->max) {
            *n = guess;
            return 0;
        }
        guess = c->max > frame ? c->max - frame : 0;
    }
    /* Encode refuses: binary search its largest accepted payload. */
    if (nk__plugin_encode(c->p->desc, c->enc, 0, &w) != 0)
        return 1;
    hi = guess;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (nk__plugin_encode(c->p->desc, c->enc, mid, &w) == 0 &&
            w.head_len + w.tail_len + mid <= c->max)
            lo = mid;
        else
            hi = mid - 1;
    }
    *n = lo;
    return 0;
}

/*
 * max_message bounds what the host buffers; a codec may refuse a little
 * less on its own (a line codec's max_message leaves room for "\r\n" while
 * its encode ends a line with "\n").  When decode refuses the largest
 * message encode makes with NK_EFRAMETOOBIG, look for the largest that
 * round-trips within CHECK_OWN_SLACK bytes below it: m and *n become that
 * one.  Returns 0, or -1 keeping the first failure in c->why.
 */
#define CHECK_OWN_SLACK 64

static int
ck_own_limit(struct ck *c, struct ck_msg *m, size_t *n)
{
    char first[sizeof(c->why)];
    struct ck_res r;

    if (ck_decode(c, m->wire, m->len, &r) < 0 || r.rc != NK_EFRAMETOOBIG)
        return -1;
    memcpy(first, c->why, sizeof(first));
    for (size_t k = 1; k <= CHECK_OWN_SLACK && k <= *n; k++) {
        struct ck_msg try;
        if (ck_encode(c, *n - k, 3, &try) != 0)
            break;
        if (ck_roundtrip_one(c, &try) == 0) {
            nk__free(m->wire);
            *m = try;
            *n -= k;
            return 0;
        }
        nk__free(try.wire);
    }
    memcpy(c->why, first, sizeof(first));
    return -1;
}

static int
case_max(struct ck *c)
{
    struct ck_msg m;
    size_t n;
    int rc, own = 0;

    if (c->max > CHECK_MAX_BUILD) {
        fprintf(c->out,
                "max_message %zu is over the %zu bytes this check "
                "builds",
                c->max, CHECK_MAX_BUILD);
        return CK_SKIP;
    }
    rc = ck_max_payload(c, &n);
    if (rc == 0)
        rc = ck_encode(c, n, 3, &m);
    if (rc != 0) {
        if (rc > 0)
            fputs("encode accepts no payload", c->out);
        return rc < 0 ? CK_FAIL : CK_SKIP;
    }
    rc = ck_roundtrip_one(c, &m);
    if (rc < 0 && ck_own_limit(c, &m, &n) == 0) {
        rc = 0; /* the codec's own limit is a little lower: fine */
        own = 1;
    }
    if (rc == 0 && !c->unframed && c->transport != NK_TRANSPORT_UDP) {
        /* Arriving in pieces as well. */
        struct ck_got got = {0};

        rc = ck_feed(c, m.wire, m.len, CK_RANDOM, 99, &got);
        if (rc == 0 && (got.n != 1 || got.len[0] != n))
            rc = ck_fail(c, "in random pieces it decoded as %zu messages",
                         got.n);
        ck_got_free(&got);
    }
    nk__free(m.wire);
    if (rc < 0)
        return CK_FAIL;
    fprintf(c->out, "%zu-byte payload, %zu bytes with its framing%s", n, m.len,
            own              ? " (decode's own limit, under max_message)"
            : m.len < c->max ? " (encode refuses longer payloads)"
                             : "");
    return CK_OK;
}

static int
case_over(struct ck *c)
{
    struct ck_msg m;
    size_t n, upto;
    uint64_t rs = 5;
    int rc;

    if (c->unframed) {
        fprintf(c->out, "the codec takes the whole buffer as one message: "
                        "the host never buffers more than max_message");
        return CK_SKIP;
    }
    if (c->transport == NK_TRANSPORT_UDP) {
        fprintf(c->out, "over UDP the host drops a datagram over "
                        "max_message, whatever decode says");
        return CK_SKIP;
    }
    if (c->max > CHECK_MAX_BUILD) {
        fprintf(c->out,
                "max_message %zu is over the %zu bytes this check "
                "builds",
                c->max, CHECK_MAX_BUILD);
        return CK_SKIP;
    }
    if ((rc = ck_max_payload(c, &n)) != 0) {
        if (rc > 0)
            fputs("encode accepts no payload", c->out);
        return rc < 0 ? CK_FAIL : CK_SKIP;
    }
    rc = ck_encode(c, n + 1, 4, &m);
    if (rc != 0) {
        if (rc > 0)
            fputs("encode refuses a payload one byte over the largest, so "
                  "no such message can be sent",
                  c->out);
        return rc < 0 ? CK_FAIL : CK_SKIP;
    }
    if (m.len <= c->max) {
        fprintf(c->out,
                "a %zu-byte payload still fits max_message (%zu bytes "
                "framed)",
                n + 1, m.len);
        nk__free(m.wire);
        return CK_SKIP;
    }
    /* The host buffers at most max_message bytes: none of those prefixes
     * may decode as a message. */
    upto = c->max < m.len ? c->max : m.len;
    for (size_t have = 1; have <= upto;) {
        struct ck_res r;

        if (ck_decode(c, m.wire, have, &r) < 0) {
            nk__free(m.wire);
            return CK_FAIL;
        }
        if (r.rc >= 0) {
            ck_fail(c,
                    "the first %zu bytes of a %zu-byte message (max_message "
                    "%zu) decoded as a %ld-byte message",
                    have, m.len, c->max, r.rc);
            nk__free(m.wire);
            return CK_FAIL;
        }
        if (r.rc != NK_ENEEDMORE || r.need > c->max)
            break; /* refused: by decode, or by the host on need */
        if (have == upto)
            break;
        have += 1 + ck_rand(&rs) % 4096;
        if (have > upto)
            have = upto;
    }
    nk__free(m.wire);
    fprintf(c->out, "a %zu-byte message is refused", m.len);
    return CK_OK;
}

static int
case_random(struct ck *c)
{
    struct ck_msgs l;
    uint64_t rs = 12345;
    uint8_t *buf = nk__malloc(2 * CHECK_SMALL);
    size_t calls = 0;

    if (buf == NULL) {
        ck_fail(c, "out of memory");
        return CK_FAIL;
    }
    if (ck_messages(c, ck_sizes, CK_NSIZES, 1, &l) < 0) {
        nk__free(buf);
        return CK_FAIL;
    }
    for (unsigned i = 0; i < CHECK_RANDOM; i++) {
        size_t len = 1 + ck_rand(&rs) % (i % 4 == 0 ? 2 * CHECK_SMALL : 64);

        if (i % 3 == 1 && l.n > 0) {
            /* A valid message, damaged: bytes changed, then cut. */
            const struct ck_msg *m = &l.m[ck_rand(&rs) % l.n];

            len = m->len < 2 * CHECK_SMALL ? m->len : 2 * CHECK_SMALL;
            memcpy(buf, m->wire, len);
            for (int k = 0; k < 3; k++)
                buf[ck_rand(&rs) % len] = (uint8_t)ck_rand(&rs);
            len = 1 + ck_rand(&rs) % len;
        } else {
            for (size_t k = 0; k < len; k++)
                buf[k] = (uint8_t)ck_rand(&rs);
        }
        /* Say which input is next, so a crash can be placed. */
        fprintf(c->out, "on input %u (%zu bytes)\n", i, len);
        fflush(c->out);
        for (size_t at = 0; at < len;) {
            struct ck_res r;

            calls++;
            if (ck_decode(c, buf + at, len - at, &r) < 0) {
                ck_fail(c, "%.300s, on input %u (%zu bytes)", c->why, i, len);
                nk__free(buf);
                ck_msgs_free(&l);
                return CK_FAIL;
            }
            if (r.rc <= 0)
                break;
            at += (size_t)r.rc;
        }
    }
    nk__free(buf);
    ck_msgs_free(&l);
    fprintf(c->out, "%d inputs, %zu decode calls", CHECK_RANDOM, calls);
    return CK_OK;
}

/* ---- running the cases -------------------------------------------------- */

struct ck_case {
    const char *name;
    int (*run)(struct ck *c);
};

/* Read a whole file (a --sample); NULL with c->why. */
static uint8_t *
ck_read_file(struct ck *c, const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b = NULL;
    size_t cap = 0, n = 0;

    if (f == NULL) {
        ck_fail(c, "%s: %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t got;
        if (n == cap) {
            uint8_t *nb = nk__realloc(b, cap = cap ? 2 * cap : 65536);
            if (nb == NULL) {
                ck_fail(c, "%s: out of memory", path);
                break;
            }
            b = nb;
        }
        got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                ck_fail(c, "%s: read error", path);
            else if (n == 0)
                ck_fail(c, "%s: empty", path);
            else {
                fclose(f);
                *len = n;
                return b;
            }
            break;
        }
    }
    fclose(f);
    nk__free(b);
    return NULL;
}

/* --sample: real traffic of the role's direction (an HTTP request stream
 * for serve, responses for connect), which encode cannot make for a codec
 * whose two directions differ: it decodes whole to messages with nothing
 * left over, and to the same messages byte by byte and at random splits. */
static int
case_samples(struct ck *c)
{
    size_t msgs = 0, bytes = 0;

    if (c->samples == NULL || c->samples->n == 0) {
        fprintf(c->out, "no --sample given");
        return CK_SKIP;
    }
    if (c->transport == NK_TRANSPORT_UDP) {
        fprintf(c->out, "over UDP each datagram is one message");
        return CK_SKIP;
    }
    for (size_t i = 0; i < c->samples->n; i++) {
        const char *path = c->samples->items[i];
        struct ck_got want = {0}, got = {0};
        size_t len = 0;
        uint8_t *s = ck_read_file(c, path, &len);
        int rc = -1;

        if (s == NULL)
            return CK_FAIL;
        if (ck_feed(c, s, len, CK_WHOLE, 0, &want) < 0)
            goto done;
        if (!c->unframed && ck_splits_same(c, s, len, &want, &got) < 0)
            goto done;
        msgs += want.n;
        bytes += len;
        rc = 0;
    done:
        if (rc < 0) {
            char why[sizeof(c->why)];
            snprintf(why, sizeof(why), "%s", c->why);
            ck_fail(c, "%s: %s", path, why);
        }
        ck_got_free(&want);
        ck_got_free(&got);
        nk__free(s);
        if (rc < 0)
            return CK_FAIL;
    }
    fprintf(c->out, "%zu file%s, %zu messages in %zu bytes (%s role)%s",
            c->samples->n, c->samples->n == 1 ? "" : "s", msgs, bytes,
            c->role == NK_ROLE_CONNECT ? "connect" : "serve",
            c->unframed ? ", whole only (no framing)" : "");
    return CK_OK;
}

static const struct ck_case ck_cases[] = {
    {"create", case_create},          {"round-trip", case_round_trip},
    {"split-invariance", case_split}, {"stateless", case_stateless},
    {"need-monotonic", case_need},    {"empty-message", case_empty},
    {"max-message", case_max},        {"over-max", case_over},
    {"random-bytes", case_random},    {"samples", case_samples},
};

#define CK_NCASES (sizeof(ck_cases) / sizeof(ck_cases[0]))

struct ck_job {
    struct ck *c;
    const struct ck_case *cs;
};

/* In the child: create, run one case, destroy. */
static int
ck_child(void *arg, FILE *out)
{
    struct ck_job *j = arg;
    struct ck *c = j->c;
    int rc;

    c->out = out;
    if (ck_create(c) < 0) {
        fprintf(out, "%s", c->why);
        return CK_FAIL;
    }
    c->unframed = c->transport != NK_TRANSPORT_UDP && ck_detect_unframed(c);
    c->why[0] = '\0';
    rc = j->cs->run(c);
    /* The verdict is the last line (random-bytes writes progress lines
     * before it). */
    if (rc == CK_FAIL)
        fprintf(out, "\n%s", c->why[0] != '\0' ? c->why : "failed");
    fflush(out);
    ck_destroy(c);
    return rc;
}

/* The last line of text (a case's verdict; earlier lines are progress). */
static const char *
ck_last_line(char *text)
{
    size_t n = strlen(text);
    char *nl;

    while (n > 0 && text[n - 1] == '\n')
        text[--n] = '\0';
    nl = strrchr(text, '\n');
    return nl != NULL ? nl + 1 : text;
}

/* Print one verdict line; returns 1 for a failure. */
static int
ck_report(FILE *out, const char *name, int rc, const char *detail)
{
    const char *tag = rc == CK_OK ? "ok  " : rc == CK_SKIP ? "skip" : "FAIL";

    fprintf(out, "%s %s%s%s\n", tag, name, *detail ? ": " : "", detail);
    fflush(out);
    return rc != CK_OK && rc != CK_SKIP;
}

/* The load case: the plugin loads in a child before this process loads
 * it, so that a crashing constructor fails the case, not the run. */
static int
ck_load_child(void *arg, FILE *out)
{
    const char *const *pn = arg;
    struct nk__plugin *p;
    struct nk_err err;

    if (nk__plugin_open_path(pn[0], pn[1], &p, &err) < 0) {
        fputs(err.msg, out);
        return CK_FAIL;
    }
    return CK_OK;
}

/* Append a case's name to the list of failures. */
static void
ck_failed(char *list, size_t size, const char *name)
{
    size_t n = strlen(list);

    snprintf(list + n, size - n, "%s%s", n ? ", " : "", name);
}

int
nk__check_run(const struct nk__settings *s, FILE *out, struct nk_err *err)
{
    const char *name = s->plugins_name;
    const struct nk__plugin_conf *pc = nk__settings_find_plugin(s, name);
    struct nk__strlist dirs = {0};
    struct nk__plugin *p = NULL;
    struct nk_value *vals = NULL;
    char path[PATH_MAX], why[200], failed[400] = "", *text = NULL;
    const char *pn[2] = {path, name};
    int rc, nfail = 0, npass = 0, nskip = 0;
    struct ck c;

    if (nk__plugin_dirs(s, &dirs) < 0) {
        nk__strlist_free(&dirs);
        return nk__err_set(err, "out of memory");
    }
    rc = nk__plugin_find(name, &dirs, path, sizeof(path), err);
    nk__strlist_free(&dirs);
    if (rc < 0)
        return -1;

    /* load: first in a child, so that a constructor that crashes is a
     * failing case; then here, where the cases' children inherit it. */
    rc = nk__child_run(ck_load_child, pn, CHECK_TIMEOUT, &text, why,
                       sizeof(why));
    if (rc != CK_OK) {
        char line[700];

        if (rc < 0)
            snprintf(line, sizeof(line), "%s while loading", why);
        else
            snprintf(line, sizeof(line), "%s", text != NULL ? text : "");
        nk__free(text);
        fprintf(out, "netkit check %s (%s)\n", name, path);
        ck_report(out, "load", CK_FAIL, line);
        fprintf(out, "%s: 0 passed, 1 failed, 0 skipped\n", name);
        return nk__err_run(err, "check %s: 1 case failed: load", name);
    }
    nk__free(text);
    text = NULL;
    if (nk__plugin_open_path(path, name, &p, err) < 0)
        return -1;

    /* defaults: the table is data; no plugin code runs. */
    snprintf(why, sizeof(why), "%zu option%s", p->nopts,
             p->nopts == 1 ? "" : "s");
    for (size_t i = 0; i < p->nopts; i++) {
        const struct nk_option *o = &p->desc->options[i];
        struct nk_value v;
        const char *bad = nk__plugin_default(o, &v);

        if (bad != NULL) {
            snprintf(why, sizeof(why), "option %s: default '%s': %s", o->name,
                     o->def ? o->def : "", bad);
            fprintf(out, "netkit check %s (%s)\n", name, path);
            ck_report(out, "load", CK_OK, "");
            ck_report(out, "defaults", CK_FAIL, why);
            fprintf(out, "%s: 1 passed, 1 failed, 0 skipped\n", name);
            nk__plugin_close(p);
            return nk__err_run(err, "check %s: 1 case failed: defaults", name);
        }
        nk__free((char *)v.str);
    }

    /* The options to check with: a mistake is a usage error (status 2),
     * reported before any case. */
    if (((s->cli_set & NK_SET_UDP) &&
         nk__plugin_check_transport(p, NK_TRANSPORT_UDP, err) < 0) ||
        nk__plugin_check_cli_opts(&p, 1, &s->cli_plugin_opts, err) < 0 ||
        nk__plugin_values(p, pc != NULL ? &pc->opts : NULL, &s->cli_plugin_opts,
                          &vals, err) < 0) {
        nk__plugin_close(p);
        return -1;
    }
    fprintf(out, "netkit check %s (%s)\n", name, path);
    ck_report(out, "load", CK_OK, "");
    ck_report(out, "defaults", CK_OK, why);
    npass += 2;
    memset(&c, 0, sizeof(c));
    c.p = p;
    c.vals = vals;
    c.role = s->check_role != 0 ? s->check_role : NK_ROLE_SERVE;
    c.samples = &s->check_samples;
    c.transport = s->cli.transport;
    if ((p->desc->transports & c.transport) == 0)
        c.transport = (p->desc->transports & NK_TRANSPORT_TCP)
                          ? NK_TRANSPORT_TCP
                          : NK_TRANSPORT_UDP;

    for (size_t i = 0; i < CK_NCASES; i++) {
        struct ck_job job = {&c, &ck_cases[i]};
        const char *detail;

        rc = nk__child_run(ck_child, &job, CHECK_TIMEOUT, &text, why,
                           sizeof(why));
        detail = text != NULL ? ck_last_line(text) : "";
        if (rc < 0) {
            char line[700];
            snprintf(line, sizeof(line), "%s%s%s", why,
                     strncmp(detail, "on input", 8) == 0 ? " " : "",
                     strncmp(detail, "on input", 8) == 0 ? detail : "");
            rc = CK_FAIL;
            ck_report(out, ck_cases[i].name, rc, line);
        } else {
            ck_report(out, ck_cases[i].name, rc, detail);
        }
        nk__free(text);
        text = NULL;
        if (rc == CK_FAIL) {
            nfail++;
            ck_failed(failed, sizeof(failed), ck_cases[i].name);
        } else if (rc == CK_SKIP) {
            nskip++;
        } else {
            npass++;
        }
        if (rc == CK_FAIL && i == 0) {
            /* No instance: nothing else can run. */
            break;
        }
    }
    fprintf(out, "%s: %d passed, %d failed, %d skipped\n", name, npass, nfail,
            nskip);
    nk__plugin_values_free(p, vals);
    nk__plugin_close(p);
    if (nfail > 0)
        return nk__err_run(err, "check %s: %d case%s failed: %s", name, nfail,
                           nfail == 1 ? "" : "s", failed);
    return 0;
}
