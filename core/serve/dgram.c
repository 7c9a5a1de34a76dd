/* dgram.c -- UDP sockets of a listener.  See dgram.h. */
#include "serve/dgram.h"

#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "plugin/contract.h"
#include "serve/access.h"
#include "plugin/loader.h"
#include "base/log.h"
#include "serve/server.h"

/* A reply slot holds encode's head, the largest payload, and its tail. */
#define SLOT_OUT (NK_DGRAM_MAX + 2 * NK_HDR_MAX)

/* The largest UDP payload: 65535 less the IP and UDP headers. */
#define DGRAM_MAX_V4 65507
#define DGRAM_MAX_V6 65527

#define DGRAM_SLOTS    1024 /* rate buckets, and peers remembered, a socket */
#define DGRAM_OWN_MAX  64   /* UDP ports of this process remembered */
#define DGRAM_ECHO_MIN 8    /* bytes a reply needs to be matched as a tail */
#define DGRAM_ECHO_RUN 8    /* exact echoes in a row that mute a peer */

/* What a socket counts; the order of struct nk__dgram_stats. */
enum dgram_count {
    DG_ANSWERED,
    DG_MALFORMED,
    DG_LOW_PORT,
    DG_OWN_PORT,
    DG_RATE,
    DG_LOOP,
    DG_OVERSIZE,
    DG_NCOUNT
};

/* A token bucket of one source address; tokens in thousandths. */
struct dgram_bucket {
    uint8_t addr[16];
    int used;
    uint64_t at; /* loop time of the last refill, ms */
    uint64_t milli;
};

/* The last reply sent to one source address and port. */
struct dgram_peer {
    uint8_t addr[16];
    uint16_t port;
    int used;
    size_t len;           /* of the reply's payload */
    uint64_t hash;        /* of the reply's payload */
    unsigned run;         /* echoes of our reply in a row */
    uint64_t muted_until; /* loop time, ms */
};

/* A session for one datagram: knows the socket its reply leaves from and,
 * on a wildcard socket, the address the datagram was sent to. */
struct dgram_session {
    struct nk_session s;
    struct nk__sock *sk;
    const struct cmsghdr *pktinfo; /* NULL unless sk->pktinfo */
};

/* Room for one IP_PKTINFO or IPV6_PKTINFO control message. */
union dgram_ctl {
    char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
    struct cmsghdr align;
};

struct nk__dgram {
    uint8_t *in;  /* NK_DGRAM_BATCH slots of NK_DGRAM_MAX */
    uint8_t *out; /* NK_DGRAM_BATCH slots of SLOT_OUT */
    struct mmsghdr inmsg[NK_DGRAM_BATCH], outmsg[NK_DGRAM_BATCH];
    struct iovec iniov[NK_DGRAM_BATCH], outiov[NK_DGRAM_BATCH];
    struct sockaddr_storage from[NK_DGRAM_BATCH], to[NK_DGRAM_BATCH];
    union dgram_ctl inctl[NK_DGRAM_BATCH], outctl[NK_DGRAM_BATCH];
    unsigned nout;
    /* Against reflection (dgram.h). */
    uint64_t key; /* of the table hashes: a peer cannot aim at a slot */
    struct dgram_bucket bucket[DGRAM_SLOTS];
    struct dgram_peer peer[DGRAM_SLOTS];
    uint16_t own[DGRAM_OWN_MAX]; /* UDP ports of this process */
    size_t nown;
    int own_known;
    atomic_ullong count[DG_NCOUNT]; /* read by SIGUSR1 on worker 0 */
    uint64_t logged_at[DG_NCOUNT];
    unsigned long long unlogged[DG_NCOUNT];
};

int
nk__dgram_new(struct nk__sock *sk)
{
    struct nk__dgram *dg = nk__calloc(1, sizeof(*dg));

    if (dg == NULL)
        return NK_ENOMEM;
    dg->in = nk__malloc((size_t)NK_DGRAM_BATCH * NK_DGRAM_MAX);
    dg->out = nk__malloc((size_t)NK_DGRAM_BATCH * SLOT_OUT);
    if (dg->in == NULL || dg->out == NULL) {
        nk__dgram_free(dg);
        return NK_ENOMEM;
    }
    if (getrandom(&dg->key, sizeof(dg->key), GRND_NONBLOCK) !=
        (ssize_t)sizeof(dg->key))
        dg->key = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)dg;
    for (int i = 0; i < DG_NCOUNT; i++)
        atomic_init(&dg->count[i], 0);
    sk->dgram = dg;
    return 0;
}

/* ---- counters and their log lines ---------------------------------------- */

static void
dgram_count(struct nk__dgram *dg, enum dgram_count c)
{
    atomic_fetch_add_explicit(&dg->count[c], 1, memory_order_relaxed);
}

void
nk__dgram_stats_add(const struct nk__dgram *dg, struct nk__dgram_stats *st)
{
    unsigned long long *f[DG_NCOUNT] = {
        &st->answered, &st->malformed, &st->low_port, &st->own_port,
        &st->rate,     &st->loop,      &st->oversize,
    };

    if (dg == NULL)
        return;
    for (int i = 0; i < DG_NCOUNT; i++)
        *f[i] += atomic_load_explicit((atomic_ullong *)&dg->count[i],
                                      memory_order_relaxed);
}

void
nk__dgram_stats_log(const char *what, const char *name,
                    const struct nk__dgram_stats *st)
{
    nk__log(NK_LOG_INFO,
            "%s: [listen.%s] udp: answered %llu; not answered: malformed "
            "%llu, low port %llu, own port %llu, over udp_rate %llu, echo "
            "loop %llu; oversize replies %llu",
            what, name, st->answered, st->malformed, st->low_port, st->own_port,
            st->rate, st->loop, st->oversize);
}

/* Count case c; say whether to log it now (once a second at most), and
 * put how many went unlogged since into more. */
static int
dgram_log_due(struct nk__sock *sk, enum dgram_count c, char *more, size_t size)
{
    struct nk__dgram *dg = sk->dgram;
    uint64_t now = sk->ls->srv->loop.now;

    dgram_count(dg, c);
    if (!nk__log_due(&dg->logged_at[c], now)) {
        dg->unlogged[c]++;
        return 0;
    }
    if (dg->unlogged[c] > 0)
        snprintf(more, size, " (and %llu more since the last such line)",
                 dg->unlogged[c]);
    else
        more[0] = '\0';
    dg->unlogged[c] = 0;
    return 1;
}

/* ---- against reflection ------------------------------------------------ */

static uint64_t
dgram_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* A keyed 64-bit hash of p[0..n). */
static uint64_t
dgram_hash(uint64_t key, const uint8_t *p, size_t n)
{
    uint64_t h = key ^ ((uint64_t)n * 0x9E3779B97F4A7C15ULL), w = 0;

    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = dgram_mix(h ^ w);
    }
    w = 0;
    memcpy(&w, p, n);
    return dgram_mix(h ^ w ^ ((uint64_t)n << 56));
}

/* The address (IPv4 in the first 4 bytes) and port of a peer. */
static void
dgram_addr(const struct sockaddr *sa, uint8_t addr[16], uint16_t *port)
{
    memset(addr, 0, 16);
    *port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        memcpy(addr, &in->sin_addr, 4);
        *port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        memcpy(addr, &in6->sin6_addr, 16);
        *port = ntohs(in6->sin6_port);
    }
}

static size_t
dgram_slot(const struct nk__dgram *dg, const uint8_t addr[16], uint16_t port)
{
    uint8_t k[18];

    memcpy(k, addr, 16);
    memcpy(k + 16, &port, 2);
    return (size_t)dgram_hash(dg->key, k, sizeof(k)) & (DGRAM_SLOTS - 1);
}

/* The UDP ports of every listener of this process: each worker has every
 * listener, so this worker's sockets tell (read once, at the first
 * datagram, when all are bound). */
static void
dgram_learn_own_ports(struct nk__sock *sk)
{
    struct nk__dgram *dg = sk->dgram;
    const struct nk__server *srv = sk->ls->srv;

    dg->own_known = 1;
    for (size_t i = 0; i < srv->nlisteners; i++) {
        const struct nk__listener *ls = &srv->listeners[i];
        if (ls->conf->transport != NK_TRANSPORT_UDP)
            continue;
        for (size_t j = 0; j < ls->nsocks; j++) {
            struct sockaddr_storage ss;
            socklen_t len = sizeof(ss);
            uint8_t addr[16];
            uint16_t port;
            size_t k;

            if (ls->socks[j].io.fd < 0 ||
                getsockname(ls->socks[j].io.fd, (struct sockaddr *)&ss, &len) <
                    0)
                continue;
            dgram_addr((struct sockaddr *)&ss, addr, &port);
            for (k = 0; k < dg->nown && dg->own[k] != port; k++)
                ;
            if (k == dg->nown && dg->nown < DGRAM_OWN_MAX)
                dg->own[dg->nown++] = port;
        }
    }
}

static int
dgram_own_port(struct nk__sock *sk, uint16_t port)
{
    struct nk__dgram *dg = sk->dgram;

    if (!dg->own_known)
        dgram_learn_own_ports(sk);
    for (size_t i = 0; i < dg->nown; i++)
        if (dg->own[i] == port)
            return 1;
    return 0;
}

/* Take a token from the address's bucket; 0 if it has none left. */
static int
dgram_rate_ok(struct nk__sock *sk, const uint8_t addr[16])
{
    struct nk__dgram *dg = sk->dgram;
    uint64_t rate = (uint64_t)sk->ls->conf->udp_rate;
    uint64_t now = sk->ls->srv->loop.now;
    uint64_t burst = (rate / 2 < 8 ? 8 : rate / 2) * 1000;
    struct dgram_bucket *b = &dg->bucket[dgram_slot(dg, addr, 0)];

    if (rate == 0)
        return 1;
    if (!b->used || memcmp(b->addr, addr, 16) != 0) {
        memcpy(b->addr, addr, 16);
        b->used = 1;
        b->milli = burst;
    } else if (now > b->at) {
        uint64_t add = (now - b->at) * rate; /* thousandths in now - at ms */
        b->milli = add >= burst - b->milli ? burst : b->milli + add;
    }
    b->at = now;
    if (b->milli < 1000)
        return 0;
    b->milli -= 1000;
    return 1;
}

/*
 * Has this peer sent back our last reply to it, DGRAM_ECHO_RUN times in a
 * row: p[0..n) is that reply's payload, or ends with it (an echo that adds
 * a prefix; then the reply must be DGRAM_ECHO_MIN bytes or more)?  Then it
 * is muted.  One match is not enough: a client that repeats a request to a
 * plain echo sends exactly what it got back, and cannot be told apart from
 * an echo but by the run.
 */
static int
dgram_echoes(struct nk__sock *sk, const uint8_t addr[16], uint16_t port,
             const uint8_t *p, size_t n)
{
    struct nk__dgram *dg = sk->dgram;
    struct dgram_peer *e = &dg->peer[dgram_slot(dg, addr, port)];
    uint64_t now = sk->ls->srv->loop.now;
    const uint8_t *tail;

    if (!e->used || e->port != port || memcmp(e->addr, addr, 16) != 0)
        return 0;
    if (e->muted_until > now)
        return 1;
    if (n < e->len || (n > e->len && e->len < DGRAM_ECHO_MIN))
        return 0;
    tail = e->len > 0 ? p + n - e->len : (const uint8_t *)"";
    if (dgram_hash(dg->key, tail, e->len) != e->hash) {
        e->run = 0;
        return 0;
    }
    if (++e->run < DGRAM_ECHO_RUN)
        return 0;
    e->run = 0;
    e->muted_until = now + NK_DGRAM_MUTE_MS;
    return 1;
}

/* Remember the payload of the reply just queued for `to`. */
static void
dgram_remember(struct nk__dgram *dg, const struct sockaddr *to,
               const uint8_t *p, size_t n)
{
    struct dgram_peer *e;
    uint8_t addr[16];
    uint16_t port;

    dgram_addr(to, addr, &port);
    e = &dg->peer[dgram_slot(dg, addr, port)];
    if (!e->used || e->port != port || memcmp(e->addr, addr, 16) != 0) {
        memset(e, 0, sizeof(*e));
        memcpy(e->addr, addr, 16);
        e->port = port;
        e->used = 1;
    }
    e->len = n;
    e->hash = dgram_hash(dg->key, p, n);
}

/* Not answering a datagram: count it, and log it now and then. */
static void
dgram_refuse(struct nk__sock *sk, enum dgram_count c,
             const struct sockaddr *from, size_t len)
{
    char peer[NK_ADDRSTRLEN], more[80], why[120];

    if (!dgram_log_due(sk, c, more, sizeof(more)))
        return;
    nk__addr_format(from, peer, sizeof(peer));
    switch (c) {
    case DG_LOW_PORT:
        snprintf(why, sizeof(why),
                 "its source port is below 1024 (udp_allow_low_ports = 1 "
                 "answers it)");
        break;
    case DG_OWN_PORT:
        snprintf(why, sizeof(why),
                 "its source port is one of this server's UDP ports");
        break;
    case DG_RATE:
        snprintf(why, sizeof(why), "its address is over udp_rate (%lld/s)",
                 sk->ls->conf->udp_rate);
        break;
    default:
        snprintf(why, sizeof(why),
                 "it echoes the last reply it got (muted for %d s)",
                 NK_DGRAM_MUTE_MS / 1000);
        break;
    }
    nk__log(NK_LOG_WARN, "[listen.%s] not answering %zu bytes from %s: %s%s",
            sk->ls->conf->name, len, peer, why, more);
}

/* A reply too big for one datagram: counted and logged, not sent. */
static int
dgram_oversize(struct nk__sock *sk, const struct sockaddr *to, size_t len,
               size_t max)
{
    char peer[NK_ADDRSTRLEN], more[80];

    if (dgram_log_due(sk, DG_OVERSIZE, more, sizeof(more))) {
        nk__addr_format(to, peer, sizeof(peer));
        nk__log(NK_LOG_WARN,
                "[listen.%s] reply of %zu bytes to %s not sent: over the UDP "
                "maximum of %zu%s",
                sk->ls->conf->name, len, peer, max, more);
    }
    return NK_EMSGSIZE;
}

/* The largest datagram to `to`: an IPv4 one also on a dual-stack socket. */
static size_t
dgram_max_to(const struct sockaddr *to)
{
    if (to->sa_family == AF_INET6 &&
        !IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)to)->sin6_addr))
        return DGRAM_MAX_V6;
    return DGRAM_MAX_V4;
}

void
nk__dgram_free(struct nk__dgram *dg)
{
    if (dg == NULL)
        return;
    nk__free(dg->in);
    nk__free(dg->out);
    nk__free(dg);
}

/* Send the gathered replies; UDP may drop, so what the socket refuses now
 * (a full send buffer) is counted rather than queued. */
static void
dgram_flush(struct nk__sock *sk)
{
    struct nk__dgram *dg = sk->dgram;
    unsigned done = 0;

    while (done < dg->nout) {
        int n = sendmmsg(sk->io.fd, dg->outmsg + done, dg->nout - done,
                         MSG_NOSIGNAL);
        if (n > 0) {
            for (int i = 0; i < n; i++)
                nk__ctr_add(&sk->ls->ctr, NK_CTR_BYTES_OUT,
                            dg->outmsg[done + (unsigned)i].msg_len);
            done += (unsigned)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            /* EMSGSIZE, or a peer's ICMP error reported here: skip the one
             * datagram at fault and go on with the rest. */
            char peer[NK_ADDRSTRLEN];
            if (errno == EMSGSIZE) {
                dgram_oversize(sk, (struct sockaddr *)&dg->to[done],
                               dg->outiov[done].iov_len,
                               dgram_max_to((struct sockaddr *)&dg->to[done]));
                done++;
                continue;
            }
            nk__addr_format((struct sockaddr *)&dg->to[done], peer,
                            sizeof(peer));
            nk__log(NK_LOG_DEBUG, "Reply to %s not sent: %s", peer,
                    strerror(errno));
            nk__ctr_add(&sk->ls->ctr, NK_CTR_DGRAMS_UNSENT, 1);
            done++;
        }
    }
    dg->nout = 0;
}

/*
 * A socket bound to a wildcard address must answer from the address the
 * request was sent to, not whichever the route picks: a connected UDP
 * client (or one on a second address of the host) drops a reply from
 * anywhere else.  The received IP_PKTINFO / IPV6_PKTINFO says which.
 */
static void
dgram_set_source(struct msghdr *mh, union dgram_ctl *ctl,
                 const struct cmsghdr *in)
{
    struct cmsghdr *out;

    if (in == NULL)
        return;
    memset(ctl, 0, sizeof(*ctl));
    mh->msg_control = ctl->buf;
    out = (struct cmsghdr *)ctl->buf;
    out->cmsg_level = in->cmsg_level;
    out->cmsg_type = in->cmsg_type;
    if (in->cmsg_level == IPPROTO_IP) {
        struct in_pktinfo got, pi = {0};
        memcpy(&got, CMSG_DATA(in), sizeof(got));
        pi.ipi_spec_dst = got.ipi_addr;
        out->cmsg_len = CMSG_LEN(sizeof(pi));
        memcpy(CMSG_DATA(out), &pi, sizeof(pi));
        mh->msg_controllen = CMSG_SPACE(sizeof(pi));
    } else {
        /* Also an IPv4 datagram on a dual-stack socket (v4-mapped). */
        struct in6_pktinfo pi;
        memcpy(&pi, CMSG_DATA(in), sizeof(pi));
        out->cmsg_len = CMSG_LEN(sizeof(pi));
        memcpy(CMSG_DATA(out), &pi, sizeof(pi));
        mh->msg_controllen = CMSG_SPACE(sizeof(pi));
    }
}

/* The packet-info control message of a received datagram, or NULL. */
static const struct cmsghdr *
dgram_pktinfo(struct msghdr *mh)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL;
         c = CMSG_NXTHDR(mh, c))
        if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) ||
            (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO))
            return c;
    return NULL;
}

int
nk__dgram_send(struct nk_session *s, const struct iovec *iov, int iovcnt)
{
    struct nk__sock *sk = ((struct dgram_session *)s)->sk;
    struct nk__dgram *dg = sk->dgram;
    const struct nk_plugin *p = sk->ls->plugin->desc;
    size_t total = 0, off;
    struct nk_wrap w;
    uint8_t *slot;
    int rc;

    if (iovcnt < 0 || iovcnt > NK_SEND_IOV_MAX)
        return NK_EINVAL;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (total > NK_DGRAM_MAX)
        return dgram_oversize(sk, &s->addr.sa, total,
                              dgram_max_to(&s->addr.sa));
    rc = nk__plugin_encode(p, sk->ls->inst, total, &w);
    if (rc < 0)
        return rc;
    if (w.head_len + total + w.tail_len > dgram_max_to(&s->addr.sa))
        return dgram_oversize(sk, &s->addr.sa, w.head_len + total + w.tail_len,
                              dgram_max_to(&s->addr.sa));
    if (dg->nout == NK_DGRAM_BATCH)
        dgram_flush(sk);
    slot = dg->out + (size_t)dg->nout * SLOT_OUT;
    memcpy(slot, nk__wrap_head(&w), w.head_len);
    off = w.head_len;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(slot + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    dgram_remember(dg, &s->addr.sa, slot + w.head_len, total);
    memcpy(slot + off, nk__wrap_tail(&w), w.tail_len);
    off += w.tail_len;
    memcpy(&dg->to[dg->nout], &s->addr, s->addrlen);
    dg->outiov[dg->nout] = (struct iovec){slot, off};
    dg->outmsg[dg->nout].msg_hdr = (struct msghdr){
        .msg_name = &dg->to[dg->nout],
        .msg_namelen = s->addrlen,
        .msg_iov = &dg->outiov[dg->nout],
        .msg_iovlen = 1,
    };
    dgram_set_source(&dg->outmsg[dg->nout].msg_hdr, &dg->outctl[dg->nout],
                     ((struct dgram_session *)s)->pktinfo);
    dg->nout++;
    nk__ctr_add(&sk->ls->ctr, NK_CTR_MSGS_OUT, 1);
    return 0;
}

/* Decode one datagram as exactly one message and hand it to the plugin. */
static void
dgram_handle(struct nk__sock *sk, unsigned i)
{
    struct nk__dgram *dg = sk->dgram;
    struct nk__listener *ls = sk->ls;
    const struct nk_plugin *p = ls->plugin->desc;
    struct msghdr *mh = &dg->inmsg[i].msg_hdr;
    size_t len = dg->inmsg[i].msg_len;
    const uint8_t *data = dg->in + (size_t)i * NK_DGRAM_MAX;
    struct dgram_session ds = {.sk = sk};
    struct nk_frame f = {0};
    char peer[NK_ADDRSTRLEN];
    uint8_t addr[16];
    uint16_t port;
    const char *broken;
    long rc;
    int local = ((struct sockaddr *)mh->msg_name)->sa_family == AF_UNIX;

    nk__ctr_add(&ls->ctr, NK_CTR_DGRAMS_IN, 1);
    nk__ctr_add(&ls->ctr, NK_CTR_BYTES_IN, len);
    if (!nk__access_check(ls, mh->msg_name))
        return; /* denied: dropped unanswered */
    /* Refuse what may be a reflection before any work is spent on it --
     * not from a unix socket: a local process, whose address is its own
     * (and whose reply address must fit a session's). */
    dgram_addr(mh->msg_name, addr, &port);
    if (local && mh->msg_namelen > sizeof(ds.s.addr)) {
        dgram_refuse(sk, DG_RATE, mh->msg_name, len);
        return;
    }
    if (local)
        goto answer;
    if (port < 1024 && !ls->conf->udp_allow_low_ports) {
        dgram_refuse(sk, DG_LOW_PORT, mh->msg_name, len);
        return;
    }
    if (dgram_own_port(sk, port)) {
        dgram_refuse(sk, DG_OWN_PORT, mh->msg_name, len);
        return;
    }
    if (!dgram_rate_ok(sk, addr)) {
        dgram_refuse(sk, DG_RATE, mh->msg_name, len);
        return;
    }
answer:
    ds.s.ls = ls;
    ds.s.transport = NK_TRANSPORT_UDP;
    nk__session_set_addr(&ds.s, mh->msg_name, mh->msg_namelen);
    if (sk->pktinfo)
        ds.pktinfo = dgram_pktinfo(mh);
    /* The whole datagram must be one message; an empty one is offered too
     * (a raw echo answers it, a framed codec finds no header). */
    rc = (mh->msg_flags & MSG_TRUNC) ? NK_EMSGSIZE
                                     : p->decode(ls->inst, data, len, &f);
    broken = nk__decode_check(rc, data, len, &f, 0, ls->max_message);
    if (broken != NULL) {
        nk__log(NK_LOG_ERROR, "Plugin %s broke the decode contract (%s)",
                ls->plugin->name, broken);
        rc = NK_EPROTO; /* dropped, never answered */
    }
    if (rc >= 0 && (size_t)rc == len && (size_t)rc <= ls->max_message) {
        if (!local && dgram_echoes(sk, addr, port, f.payload, f.payload_len)) {
            dgram_refuse(sk, DG_LOOP, mh->msg_name, len);
            nk__session_fini(&ds.s);
            return;
        }
        dgram_count(dg, DG_ANSWERED);
        nk__ctr_add(&ls->ctr, NK_CTR_MSGS_IN, 1);
        p->on_message(ls->inst, &ds.s, f.payload, f.payload_len);
        nk__session_fini(&ds.s);
        return;
    }
    ls->udp_dropped++;
    nk__ctr_add(&ls->ctr, NK_CTR_DECODE_ERRORS, 1);
    dgram_count(dg, DG_MALFORMED);
    nk__session_format(&ds.s, peer, sizeof(peer));
    nk__log(ls->udp_dropped == 1 ? NK_LOG_WARN : NK_LOG_DEBUG,
            "Dropped a datagram of %zu bytes from %s: %s%s", len, peer,
            rc >= 0 && (size_t)rc == len ? "over the size limit"
            : rc >= 0 || rc == NK_ENEEDMORE
                ? "its length field disagrees with its size"
                : nk_strerror((int)rc),
            ls->udp_dropped == 1 ? " (further drops are logged at -v)" : "");
}

void
nk__dgram_on_io(struct nk__loop *loop, struct nk__io *io, unsigned events)
{
    struct nk__sock *sk = (struct nk__sock *)io;
    struct nk__dgram *dg = sk->dgram;

    (void)loop;
    if (!(events & NK_IO_READ))
        return;
    for (int round = 0; round < 4; round++) {
        int n;

        for (unsigned i = 0; i < NK_DGRAM_BATCH; i++) {
            dg->iniov[i] =
                (struct iovec){dg->in + (size_t)i * NK_DGRAM_MAX, NK_DGRAM_MAX};
            dg->inmsg[i].msg_hdr = (struct msghdr){
                .msg_name = &dg->from[i],
                .msg_namelen = sizeof(dg->from[i]),
                .msg_iov = &dg->iniov[i],
                .msg_iovlen = 1,
                .msg_control = sk->pktinfo ? dg->inctl[i].buf : NULL,
                .msg_controllen = sk->pktinfo ? sizeof(dg->inctl[i]) : 0,
            };
        }
        n = recvmmsg(io->fd, dg->inmsg, NK_DGRAM_BATCH, MSG_DONTWAIT, NULL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EAGAIN, or an ICMP error from an earlier send */
        for (int i = 0; i < n; i++)
            dgram_handle(sk, (unsigned)i);
        dgram_flush(sk);
        if (n < NK_DGRAM_BATCH)
            break;
    }
}
