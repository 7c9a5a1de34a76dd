/*
 * conn.c -- one accepted TCP connection.  See conn.h for the data flow,
 * back-pressure and deferred closing.
 */
#include "serve/conn.h"

#include <sys/socket.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "plugin/loader.h"
#include "base/log.h"
#include "serve/server.h"

static void conn_on_io(struct nk__loop *loop, struct nk__io *io,
                       unsigned events);

static struct nk__loop *
conn_loop(const struct nk__conn *c)
{
    return &c->ls->srv->loop;
}

static const struct nk_plugin *
conn_plugin(const struct nk__conn *c)
{
    return c->ls->plugin->desc;
}

/* ---- the listener's LRU list ---------------------------------------- */

static void
lru_unlink(struct nk__conn *c)
{
    struct nk__listener *ls = c->ls;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        ls->lru_head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        ls->lru_tail = c->prev;
    c->prev = c->next = NULL;
}

static void
lru_append(struct nk__conn *c)
{
    struct nk__listener *ls = c->ls;

    c->prev = ls->lru_tail;
    c->next = NULL;
    if (ls->lru_tail != NULL)
        ls->lru_tail->next = c;
    else
        ls->lru_head = c;
    ls->lru_tail = c;
}

static void
lru_touch(struct nk__conn *c)
{
    c->last_active = conn_loop(c)->now;
    if (c->ls->lru_tail != c) {
        lru_unlink(c);
        lru_append(c);
    }
}

/* ---- opening and closing -------------------------------------------- */

static void
conn_release(struct nk__defer *d)
{
    struct nk__conn *c =
        (struct nk__conn *)((char *)d - offsetof(struct nk__conn, free_ev));

    nk__buf_free(&c->in);
    nk__buf_free(&c->out);
    nk__session_fini(&c->sess);
    nk__free(c);
}

void
nk__conn_close(struct nk__conn *c, const char *why)
{
    struct nk__listener *ls = c->ls;
    struct nk__server *srv = ls->srv;
    const struct nk_plugin *p = conn_plugin(c);
    char peer[NK_ADDRSTRLEN];

    if (c->closing)
        return;
    c->closing = 1;
    if (srv->batch == c)
        nk__buf_consume(&srv->wbuf,
                        nk__buf_len(&srv->wbuf)); /* undeliverable */
    if (c->opened && p->on_close != NULL)
        p->on_close(ls->inst, &c->sess);
    nk__io_stop(conn_loop(c), &c->io);
    close(c->io.fd);
    lru_unlink(c);
    ls->nconns--;
    srv->nconns--;
    atomic_fetch_sub(ls->slots, 1);
    nk__session_format(&c->sess, peer, sizeof(peer));
    if (why != NULL)
        nk__log(NK_LOG_INFO, "Connection closed %s (%s)", peer, why);
    else
        nk__log(NK_LOG_INFO, "Connection closed %s", peer);
    nk__loop_defer(conn_loop(c), &c->free_ev);
    nk__server_conn_gone(srv);
}

int
nk__conn_open(struct nk__listener *ls, int fd, const struct sockaddr *sa,
              socklen_t salen)
{
    struct nk__loop *loop = &ls->srv->loop;
    const struct nk_plugin *p = ls->plugin->desc;
    struct nk__conn *c = nk__calloc(1, sizeof(*c));
    char why[160], peer[NK_ADDRSTRLEN];
    int rc;

    if (c == NULL) {
        close(fd);
        atomic_fetch_sub(ls->slots, 1);
        nk__log(NK_LOG_WARN, "Connection dropped: out of memory");
        return NK_ENOMEM;
    }
    nk__io_init(&c->io, fd, conn_on_io);
    c->ls = ls;
    c->sess.ls = ls;
    c->sess.transport = NK_TRANSPORT_TCP;
    nk__session_set_addr(&c->sess, sa, salen);
    nk__session_format(&c->sess, peer, sizeof(peer));
    c->free_ev.cb = conn_release;
    c->rsize = NK_CONN_READ_SIZE;
    for (size_t i = 0; i < ls->naccept_opts; i++)
        if (nk__sockopt_apply(fd, &ls->accept_opts[i], why, sizeof(why)) < 0)
            nk__log(NK_LOG_WARN, "%s on %s", why, peer);
    rc = nk__io_set(loop, &c->io, NK_IO_READ);
    if (rc < 0) {
        close(fd);
        nk__free(c);
        atomic_fetch_sub(ls->slots, 1);
        nk__log(NK_LOG_WARN, "Connection dropped: %s", nk_strerror(rc));
        return rc;
    }
    ls->nconns++;
    ls->srv->nconns++;
    c->last_active = loop->now;
    lru_append(c);
    nk__log(NK_LOG_INFO, "Connection from %s", peer);
    /* opened is still 0 here, so a close from inside on_open does not call
     * on_close before on_open has even returned. */
    if (p->on_open != NULL) {
        rc = p->on_open(ls->inst, &c->sess);
        if (rc < 0) {
            nk__conn_close(c, "refused by the plugin"); /* no on_close */
            return rc;
        }
    }
    c->opened = 1;
    if (c->closing) {
        /* Closed from inside on_open (host->close, a failed send): the
         * close skipped on_close then, and it is owed now. */
        if (p->on_close != NULL)
            p->on_close(ls->inst, &c->sess);
        return 0;
    }
    if (ls->idle_ms > 0 && !nk__timer_active(&ls->idle_timer))
        nk__timer_start(loop, &ls->idle_timer, loop->now + ls->idle_ms);
    return 0;
}

/* ---- writing -------------------------------------------------------- */

/* Watch for what the connection is waiting on now. */
static void
conn_update_mask(struct nk__conn *c)
{
    unsigned mask = 0;

    if (!c->paused && !c->close_after_write && !c->eof)
        mask |= NK_IO_READ;
    /* Paused, wait for writability even with nothing queued: the event
     * resumes reading (conn_on_writable), so a pause can never strand a
     * connection with no events at all. */
    if (nk__buf_len(&c->out) > 0 || c->paused)
        mask |= NK_IO_WRITE;
    if (nk__io_set(conn_loop(c), &c->io, mask) < 0)
        nk__conn_close(c, "cannot watch the socket");
}

/* Send what buf holds; returns 0 (possibly partly sent: EAGAIN) or -1 after
 * closing the connection on a socket error. */
static int
conn_write(struct nk__conn *c, struct nk__buf *buf)
{
    while (nk__buf_len(buf) > 0) {
        ssize_t n =
            send(c->io.fd, nk__buf_data(buf), nk__buf_len(buf), MSG_NOSIGNAL);
        if (n > 0) {
            nk__buf_consume(buf, (size_t)n);
            lru_touch(c); /* a peer that reads is not idle */
        } else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && errno == EAGAIN)
            return 0;
        else {
            nk__conn_close(c, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Write the gathered replies (the worker's wbuf during this connection's
 * batch, then its own queue); keep what the socket would not take, and
 * wait for writability if anything is left. */
static void
conn_flush(struct nk__conn *c)
{
    struct nk__server *srv = c->ls->srv;
    struct nk__buf *w = &srv->wbuf;

    if (srv->batch == c && nk__buf_len(w) > 0) {
        /* Invariant: c->out is empty while replies gather in wbuf. */
        if (conn_write(c, w) < 0)
            return;
        if (nk__buf_len(w) > 0 &&
            nk__buf_append(&c->out, nk__buf_data(w), nk__buf_len(w)) < 0) {
            nk__conn_close(c, "out of memory");
            return;
        }
        nk__buf_consume(w, nk__buf_len(w));
    }
    if (conn_write(c, &c->out) < 0)
        return;
    if (nk__buf_len(&c->out) == 0) {
        nk__buf_free(&c->out);
        if (c->close_after_write || c->eof) {
            nk__conn_close(c, NULL);
            return;
        }
    }
    conn_update_mask(c);
}

/* Where a reply goes: the worker's wbuf while this connection's batch runs
 * and nothing of its own is queued (else its own queue, to keep order). */
static struct nk__buf *
conn_outbuf(struct nk__conn *c)
{
    struct nk__server *srv = c->ls->srv;

    return srv->batch == c && nk__buf_len(&c->out) == 0 ? &srv->wbuf : &c->out;
}

/* Write head + iov + tail straight to the socket; queue what did not fit.
 * A failure closes the connection (the plugin has nothing to undo). */
static void
conn_send_direct(struct nk__conn *c, struct iovec *v, int n, size_t size)
{
    struct msghdr msg = {.msg_iov = v, .msg_iovlen = (size_t)n};
    ssize_t w;

    do
        w = sendmsg(c->io.fd, &msg, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0 && errno != EAGAIN) {
        nk__conn_close(c, strerror(errno));
        return;
    }
    /* Part of the message may be on the wire: the rest must be queued
     * whole, or the byte stream would be corrupt -- room first. */
    if (nk__buf_reserve(&c->out, size - (w > 0 ? (size_t)w : 0)) < 0) {
        nk__conn_close(c, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++) {
        size_t skip =
            w > 0 ? ((size_t)w < v[i].iov_len ? (size_t)w : v[i].iov_len) : 0;
        w -= (ssize_t)skip;
        nk__buf_append(&c->out, (char *)v[i].iov_base + skip,
                       v[i].iov_len - skip);
    }
}

int
nk__conn_send(struct nk__conn *c, const struct iovec *iov, int iovcnt)
{
    /* head, the payload's iovecs, tail */
    struct iovec v[NK_SEND_IOV_MAX + 2];
    struct nk_wrap w;
    struct nk__buf *b;
    size_t total = 0, size;
    int n, rc;

    if (iovcnt < 0 || iovcnt > NK_SEND_IOV_MAX)
        return NK_EINVAL;
    if (c->closing)
        return 0; /* the peer is gone: nothing to deliver to */
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    rc = nk__plugin_encode(conn_plugin(c), c->ls->inst, total, &w);
    if (rc < 0)
        return rc;
    v[0] = (struct iovec){w.head, w.head_len};
    memcpy(&v[1], iov, (size_t)iovcnt * sizeof(*iov));
    v[iovcnt + 1] = (struct iovec){w.tail, w.tail_len};
    n = iovcnt + 2;
    size = w.head_len + total + w.tail_len;
    if (nk__buf_len(&c->out) > NK_CONN_OUT_MAX) {
        /* Answers to this peer stop at the high-water mark (it is paused),
         * so only sends from elsewhere -- a plugin writing to other
         * sessions -- get a queue this long: a consumer that cannot keep
         * up.  One large message is always taken whole. */
        nk__conn_close(c, "output queue over its limit");
        return 0;
    }
    b = conn_outbuf(c);
    if (nk__buf_len(b) == 0 && nk__buf_len(&c->out) == 0 &&
        size >= NK_CONN_DIRECT_MIN) {
        /* Large and first in line: gathered write, no copy. */
        conn_send_direct(c, v, n, size);
        b = &c->out;
    } else if (nk__buf_reserve(b, size) < 0) {
        return NK_ENOMEM; /* nothing of it was queued */
    } else {
        for (int i = 0; i < n; i++)
            nk__buf_append(b, v[i].iov_base, v[i].iov_len);
    }
    if (c->closing)
        return 0;
    if (nk__buf_len(b) > NK_CONN_HIGH_WATER) {
        /* The peer is not keeping up: stop decoding until it drains. */
        conn_flush(c);
        if (!c->closing && nk__buf_len(&c->out) > NK_CONN_HIGH_WATER)
            c->paused = 1;
    } else if (c->ls->srv->batch != c) {
        conn_flush(c);
    }
    return 0;
}

void
nk__conn_close_after_write(struct nk__conn *c)
{
    c->close_after_write = 1;
    if (c->ls->srv->batch != c && !c->closing)
        conn_flush(c);
}

/* ---- reading -------------------------------------------------------- */

/* Close on bad input, after writing the replies to the messages before it
 * (as much as the socket takes now). */
static void
conn_refuse(struct nk__conn *c, const char *why)
{
    conn_flush(c);
    nk__conn_close(c, why);
}

/* Refuse a message over the listener's max_message: log and close. */
static void
conn_too_big(struct nk__conn *c, size_t size)
{
    char peer[NK_ADDRSTRLEN];

    nk__session_format(&c->sess, peer, sizeof(peer));
    nk__log(NK_LOG_WARN,
            "Message of %zu bytes from %s is over the limit of %zu: closing",
            size, peer, c->ls->max_message);
    conn_refuse(c, "frame too big");
}

/* Decode and answer every complete message in `in`. */
static void
conn_process(struct nk__conn *c, struct nk__buf *in)
{
    const struct nk_plugin *p = conn_plugin(c);
    struct nk__listener *ls = c->ls;
    char peer[NK_ADDRSTRLEN];

    while (!c->closing && !c->paused && !c->close_after_write &&
           nk__buf_len(in) > 0) {
        struct nk_frame f = {0};
        long rc = p->decode(ls->inst, nk__buf_data(in), nk__buf_len(in), &f);

        if (rc > 0 && (size_t)rc <= nk__buf_len(in) &&
            (size_t)rc > ls->max_message) {
            /* Arrived whole in one read, but over the limit all the same. */
            conn_too_big(c, (size_t)rc);
            return;
        } else if (rc > 0 && (size_t)rc <= nk__buf_len(in)) {
            int mrc;
            c->need = 0;
            mrc = p->on_message(ls->inst, &c->sess, f.payload, f.payload_len);
            nk__buf_consume(in, (size_t)rc);
            if (mrc == NK_ECLOSE)
                c->close_after_write = 1;
            else if (mrc < 0)
                nk__conn_close(c, nk_strerror(mrc));
        } else if (rc == NK_ENEEDMORE) {
            /* A codec that cannot tell the length yet (a line protocol)
             * has at least what is buffered plus one byte to go. */
            size_t need = f.need > 0 ? f.need : nk__buf_len(in) + 1;
            if (need > ls->max_message)
                conn_too_big(c, need);
            c->need = f.need;
            return;
        } else {
            nk__session_format(&c->sess, peer, sizeof(peer));
            nk__log(NK_LOG_WARN, "Bad input from %s: %s: closing", peer,
                    rc > 0 ? "decoder overran its input"
                           : nk_strerror((int)rc));
            conn_refuse(c, "bad input");
        }
    }
}

/* After a read served from the worker's rbuf: keep what is left (a partial
 * message, or messages held back by back-pressure) in the connection's own
 * buffer, and empty rbuf for the next connection. */
static void
conn_keep_rest(struct nk__conn *c, struct nk__buf *rbuf)
{
    if (!c->closing && !c->close_after_write && nk__buf_len(rbuf) > 0 &&
        nk__buf_append(&c->in, nk__buf_data(rbuf), nk__buf_len(rbuf)) < 0)
        nk__conn_close(c, "out of memory");
    nk__buf_consume(rbuf, nk__buf_len(rbuf));
}

/* A batch is over: drop an emptied input buffer and write what was
 * gathered.  If that drained a paused connection below the low-water mark,
 * answer what was held back (which may gather and pause again), so a pause
 * always ends once the peer reads.  Then give the worker's buffers back. */
static void
conn_end_batch(struct nk__conn *c)
{
    struct nk__server *srv = c->ls->srv;

    srv->batch = c;
    while (!c->closing) {
        if (nk__buf_len(&c->in) == 0)
            nk__buf_free(&c->in);
        conn_flush(c);
        if (c->closing || !c->paused ||
            nk__buf_len(&c->out) >= NK_CONN_LOW_WATER)
            break;
        c->paused = 0;
        conn_process(c, &c->in);
    }
    srv->batch = NULL;
}

static void
conn_on_readable(struct nk__conn *c)
{
    struct nk__server *srv = c->ls->srv;

    srv->batch = c;
    lru_touch(c);
    for (int i = 0; i < NK_CONN_READS_PER_WAKEUP; i++) {
        /* A partial message keeps growing in the connection's own buffer;
         * anything else is read into the worker's. */
        struct nk__buf *in = nk__buf_len(&c->in) > 0 ? &c->in : &srv->rbuf;
        size_t len = nk__buf_len(in), want = c->rsize, room;
        ssize_t n;

        if (c->closing || c->paused || c->close_after_write)
            break;
        if (c->need > len && c->need - len > want)
            want = c->need - len;
        if (nk__buf_reserve(in, want) < 0) {
            nk__conn_close(c, "out of memory");
            break;
        }
        room = in->cap - in->end;
        n = read(c->io.fd, in->base + in->end, room);
        if (n > 0) {
            in->end += (size_t)n;
            conn_process(c, in);
            if (in == &srv->rbuf)
                conn_keep_rest(c, in);
            if ((size_t)n < room) {
                /* Drained: save a read that would say EAGAIN, and let the
                 * read size settle back once the burst is over. */
                if (c->rsize > NK_CONN_READ_SIZE)
                    c->rsize /= 2;
                break;
            }
            if (c->rsize < NK_CONN_READ_MAX)
                c->rsize *= 2;
        } else if (n == 0) {
            c->eof = 1;
            break;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN) {
            break;
        } else {
            nk__conn_close(c, strerror(errno));
            break;
        }
    }
    conn_end_batch(c);
}

static void
conn_on_writable(struct nk__conn *c)
{
    /* The replies queue behind c->out (conn_outbuf keeps the order). */
    conn_end_batch(c);
}

static void
conn_on_io(struct nk__loop *loop, struct nk__io *io, unsigned events)
{
    struct nk__conn *c = (struct nk__conn *)io;

    (void)loop;
    if (c->closing)
        return;
    if (events & NK_IO_READ)
        conn_on_readable(c);
    else if (events & NK_IO_WRITE)
        conn_on_writable(c);
}

void
nk__conn_drain(struct nk__conn *c)
{
    c->close_after_write = 1;
    if (!c->closing)
        conn_flush(c);
}

void
nk__conn_idle_sweep(struct nk__listener *ls)
{
    struct nk__loop *loop = &ls->srv->loop;

    while (ls->lru_head != NULL &&
           ls->lru_head->last_active + ls->idle_ms <= loop->now)
        nk__conn_close(ls->lru_head, "idle timeout");
    if (ls->lru_head != NULL)
        nk__timer_start(loop, &ls->idle_timer,
                        ls->lru_head->last_active + ls->idle_ms);
}
