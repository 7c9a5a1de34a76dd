/* dgram.c -- UDP sockets of a listener.  See dgram.h. */
#include "serve/dgram.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "base/alloc.h"
#include "plugin/contract.h"
#include "serve/access.h"
#include "plugin/loader.h"
#include "base/log.h"
#include "serve/server.h"

/* A reply slot holds encode's head, the largest payload, and its tail. */
#define SLOT_OUT (NK_DGRAM_MAX + 2 * NK_HDR_MAX)

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
    sk->dgram = dg;
    return 0;
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
        return NK_EMSGSIZE;
    rc = nk__plugin_encode(p, sk->ls->inst, total, &w);
    if (rc < 0)
        return rc;
    if (w.head_len + total + w.tail_len > SLOT_OUT)
        return NK_EMSGSIZE;
    if (dg->nout == NK_DGRAM_BATCH)
        dgram_flush(sk);
    slot = dg->out + (size_t)dg->nout * SLOT_OUT;
    memcpy(slot, nk__wrap_head(&w), w.head_len);
    off = w.head_len;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(slot + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
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
    const char *broken;
    long rc;

    nk__ctr_add(&ls->ctr, NK_CTR_DGRAMS_IN, 1);
    nk__ctr_add(&ls->ctr, NK_CTR_BYTES_IN, len);
    if (!nk__access_check(ls, mh->msg_name))
        return; /* denied: dropped unanswered */
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
        nk__ctr_add(&ls->ctr, NK_CTR_MSGS_IN, 1);
        p->on_message(ls->inst, &ds.s, f.payload, f.payload_len);
        nk__session_fini(&ds.s);
        return;
    }
    ls->udp_dropped++;
    nk__ctr_add(&ls->ctr, NK_CTR_DECODE_ERRORS, 1);
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
