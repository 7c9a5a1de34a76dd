/*
 * test_host.c -- every plugin API 1.1 host service (core/plugin/host.c)
 * driven against two real workers' structures -- loops, handle tables,
 * mailboxes -- and connections over socketpairs, without a server process:
 * session handles, send_to and close_to on the same and another worker,
 * the no-re-entry rule (on_close only after the service returns), queued
 * and on_drain, timers, post, connect and now_ms.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "plugin/loader.h"
#include "plugin/session.h"
#include "serve/conn.h"
#include "serve/server.h"

/* ---- a plugin that records what the host calls ---------------------- */

static struct {
    int opens, closes, drains, posts, connects, fires;
    int messages, eofs, writable_calls, writable;
    size_t got; /* bytes of every on_message */
    int connect_status;
    struct nk_session *last; /* the session of the last on_open */
    char post[64];
    uint64_t fired_at;
} ev;

static long
rec_decode(void *inst, const uint8_t *buf, size_t len, struct nk_frame *f)
{
    (void)inst;
    f->payload = buf, f->payload_len = len;
    return (long)len;
}

static int
rec_encode(void *inst, size_t n, struct nk_wrap *w)
{
    (void)inst, (void)n, (void)w;
    return 0;
}

static int
rec_open(void *inst, struct nk_session *s)
{
    (void)inst;
    ev.opens++;
    ev.last = s;
    return 0;
}

static int
rec_message(void *inst, struct nk_session *s, const uint8_t *p, size_t n)
{
    (void)inst, (void)s, (void)p;
    ev.messages++;
    ev.got += n;
    return 0;
}

static void
rec_writable(void *inst, struct nk_session *s, int writable)
{
    (void)inst, (void)s;
    ev.writable_calls++;
    ev.writable = writable;
}

static void
rec_eof(void *inst, struct nk_session *s)
{
    (void)inst, (void)s;
    ev.eofs++;
}

static void
rec_close(void *inst, struct nk_session *s)
{
    (void)inst, (void)s;
    ev.closes++;
}

static void
rec_drain(void *inst, struct nk_session *s)
{
    (void)inst, (void)s;
    ev.drains++;
}

static void
rec_post(void *inst, const void *data, size_t len)
{
    (void)inst;
    ev.posts++;
    memcpy(ev.post, data, len < sizeof(ev.post) - 1 ? len : 0);
}

static void
rec_connect(void *inst, struct nk_session *s, int status)
{
    (void)inst, (void)s;
    ev.connects++;
    ev.connect_status = status;
}

static const struct nk_plugin rec_desc = {
    .name = "rec",
    .decode = rec_decode,
    .encode = rec_encode,
    .on_open = rec_open,
    .on_message = rec_message,
    .on_close = rec_close,
    .on_drain = rec_drain,
    .on_post = rec_post,
    .on_connect = rec_connect,
};

/* ---- two workers, one listener each ---------------------------------- */

#define NW 2

static struct {
    struct nk__plugin plugin;
    struct nk__server srv[NW];
    struct nk__listener ls[NW];
    atomic_llong slots, buffered;
    struct nk__listen_conf conf; /* what log lines name it by */
} w;

static int
setup(void **state)
{
    (void)state;
    memset(&ev, 0, sizeof(ev));
    memset(&w, 0, sizeof(w));
    w.plugin.name = "rec";
    w.plugin.full = rec_desc;
    w.plugin.desc = &w.plugin.full;
    w.conf.name = "test";
    w.conf.max_conns = 64;
    for (int i = 0; i < NW; i++) {
        struct nk__server *srv = &w.srv[i];
        struct nk__listener *ls = &w.ls[i];
        assert_int_equal(nk__loop_init(&srv->loop), 0);
        assert_int_equal(nk__mailbox_init(&srv->mail), 0);
        srv->id = i;
        srv->all = w.srv;
        srv->nall = NW;
        srv->listeners = ls;
        srv->nlisteners = 1;
        srv->buffered = &w.buffered;
        ls->ctx.ls = ls;
        ls->srv = srv;
        ls->plugin = &w.plugin;
        ls->conf = &w.conf;
        ls->max_message = 1 << 20;
        ls->max_output = 32 << 20;
        ls->slots = &w.slots;
        ls->out_high = NK_OUT_HIGH_DEFAULT;
        ls->out_low = NK_OUT_LOW_DEFAULT;
        ls->serving = ls->created = 1;
        nk__timer_init(&ls->idle_timer, NULL);
    }
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NW; i++) {
        struct nk__server *srv = &w.srv[i];
        while (w.ls[i].lru_head != NULL)
            nk__conn_close(w.ls[i].lru_head, "test over");
        nk__loop_finish(&srv->loop);
        nk__ptimer_stop_all(&w.ls[i].timers);
        nk__mailbox_fini(&srv->mail);
        nk__handles_free(&srv->sessions);
        nk__handles_free(&srv->timers);
        nk__buf_free(&srv->rbuf);
        nk__buf_free(&srv->wbuf);
        nk__loop_fini(&srv->loop);
    }
    return 0;
}

/* A connection on worker i over a socketpair; returns the test's end. */
static int
open_conn(int i)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(9)};
    int fds[2];

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds),
                     0);
    atomic_fetch_add(&w.slots, 1);
    assert_int_equal(
        nk__conn_open(&w.ls[i], fds[0], (struct sockaddr *)&sin, sizeof(sin)),
        0);
    return fds[1];
}

static void
turn(int i)
{
    nk__loop_run_once(&w.srv[i].loop, 10);
}

static struct iovec
iov_of(const char *s)
{
    return (struct iovec){(void *)s, strlen(s)};
}

static void
expect_read(int fd, const char *want)
{
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));

    assert_int_equal(n, (ssize_t)strlen(want));
    assert_memory_equal(buf, want, (size_t)n);
}

/* ---- the tests ------------------------------------------------------- */

static void
test_host_send_by_handle(void **state)
{
    const struct nk_host *h = &nk__host;
    int peer = open_conn(0);
    struct nk_session *s = ev.last;
    nk_sid sid = h->session_id(s);
    struct iovec v = iov_of("hello");

    (void)state;
    assert_int_equal(ev.opens, 1);
    assert_true(sid != 0);
    assert_int_equal(NK_SID_WORKER(sid), 0);
    assert_int_equal(h->send_to(&w.ls[0].ctx, sid, &v, 1), 0);
    assert_int_equal(h->send_to(&w.ls[0].ctx, sid, &v, 1), 0);
    turn(0); /* written once after the dispatch: both in one write */
    expect_read(peer, "hellohello");
    assert_int_equal(h->send_to(&w.ls[0].ctx, sid ^ 1, &v, 1), NK_ENOENT);
    assert_int_equal(h->send_to(&w.ls[0].ctx, 0, &v, 1), NK_ENOENT);
    assert_int_equal(h->send_to(&w.ls[0].ctx, sid, NULL, 1), NK_EINVAL);
    {
        /* Another listener on the same worker: its plugin's handles
         * reach its own sessions only. */
        struct nk__listener other = w.ls[0];
        other.ctx.ls = &other;
        assert_int_equal(h->send_to(&other.ctx, sid, &v, 1), NK_ENOENT);
        assert_int_equal(h->close_to(&other.ctx, sid), NK_ENOENT);
    }
    close(peer);
}

/* close and close_to only mark the session: on_close runs from the loop,
 * after the "callback" (this test) has returned; sends then fail. */
static void
test_host_close_never_reenters(void **state)
{
    const struct nk_host *h = &nk__host;
    int peer = open_conn(0), peer2 = open_conn(0);
    struct nk_session *s2 = ev.last;
    nk_sid sid2 = h->session_id(s2);
    struct iovec v = iov_of("late");
    char c;

    (void)state;
    assert_int_equal(h->close_to(&w.ls[0].ctx, sid2), 0);
    assert_int_equal(ev.closes, 0); /* not inside the service */
    turn(0);
    assert_int_equal(ev.closes, 1);
    assert_int_equal(h->send_to(&w.ls[0].ctx, sid2, &v, 1), NK_ENOENT);
    assert_int_equal(h->close_to(&w.ls[0].ctx, sid2), NK_ENOENT);
    assert_int_equal(read(peer2, &c, 1), 0); /* EOF: an orderly close */
    close(peer2);
    close(peer);
}

static void
test_host_send_to_another_worker(void **state)
{
    const struct nk_host *h = &nk__host;
    int peer = open_conn(0);
    nk_sid sid = h->session_id(ev.last);
    struct iovec v = iov_of("from worker 1");
    char c;

    (void)state;
    /* Worker 1 cannot touch worker 0's connection: the send is mail. */
    assert_int_equal(h->send_to(&w.ls[1].ctx, sid, &v, 1), 0);
    assert_int_equal(read(peer, &c, 1), -1);
    assert_int_equal(errno, EAGAIN);
    nk__server_take_mail(&w.srv[0]);
    turn(0);
    expect_read(peer, "from worker 1");
    assert_int_equal(h->close_to(&w.ls[1].ctx, sid), 0);
    nk__server_take_mail(&w.srv[0]);
    turn(0);
    assert_int_equal(ev.closes, 1);
    /* A worker that does not exist owns no session. */
    assert_int_equal(
        h->send_to(&w.ls[1].ctx, NK_SID_MAKE(7, 1ull << 32 | 1), &v, 1),
        NK_ENOENT);
    close(peer);
}

static void
test_host_queued_and_drain(void **state)
{
    const struct nk_host *h = &nk__host;
    int peer = open_conn(0);
    struct nk_session *s = ev.last;
    static char chunk[65536], sink[65536];
    struct iovec v = {chunk, sizeof(chunk)};

    (void)state;
    assert_int_equal(h->queued(s), 0);
    while (h->queued(s) == 0) /* until the socket refuses */
        assert_int_equal(h->send(s, &v, 1), 0);
    assert_true(h->queued(s) > 0);
    turn(0);
    assert_int_equal(ev.drains, 0); /* still queued */
    for (int i = 0; i < 1000 && h->queued(s) > 0; i++) {
        while (read(peer, sink, sizeof(sink)) > 0)
            ;
        turn(0);
    }
    assert_int_equal(h->queued(s), 0);
    assert_int_equal(ev.drains, 1); /* once per wait */
    close(peer);
}

static void
fire(void *inst, struct nk_session *s, void *arg)
{
    (void)inst, (void)s;
    ev.fires++;
    if (arg != NULL) /* a repeating timer stops itself on its 3rd run */
        if (ev.fires == 3)
            nk__host.timer_stop(&w.ls[0].ctx, *(nk_timer_id *)arg);
}

static void
test_host_timers(void **state)
{
    const struct nk_host *h = &nk__host;
    struct nk_ctx *ctx = &w.ls[0].ctx;
    nk_timer_id once, every;
    int peer;

    (void)state;
    once = h->timer_start(ctx, NULL, 0, 0, fire, NULL);
    assert_true(once != 0);
    assert_int_equal(ev.fires, 0); /* never inside timer_start */
    turn(0);
    assert_int_equal(ev.fires, 1);
    assert_int_equal(h->timer_stop(ctx, once), NK_ENOENT); /* fired */
    every = h->timer_start(ctx, NULL, 1, 1, fire, &every);
    for (int i = 0; i < 200 && ev.fires < 3; i++)
        turn(0);
    assert_int_equal(ev.fires, 3);
    assert_int_equal(h->timer_stop(ctx, every), NK_ENOENT); /* stopped */
    /* A session's timer dies with the session. */
    peer = open_conn(0);
    assert_true(h->timer_start(ctx, ev.last, 1, 0, fire, NULL) != 0);
    h->close(ev.last);
    /* Closing (valid until on_close returns): no new timer either. */
    assert_int_equal(h->timer_start(ctx, ev.last, 1, 0, fire, NULL), 0);
    for (int i = 0; i < 5; i++)
        turn(0);
    assert_int_equal(ev.fires, 3);
    assert_int_equal(h->now_ms(ctx), w.srv[0].loop.now);
    close(peer);
}

static void
test_host_post(void **state)
{
    const struct nk_host *h = &nk__host;

    (void)state;
    assert_int_equal(h->post(&w.ls[0].ctx, NK_WORKER_ALL, "all", 3), 0);
    assert_int_equal(ev.posts, 0); /* delivered by each worker's loop */
    nk__server_take_mail(&w.srv[0]);
    nk__server_take_mail(&w.srv[1]);
    assert_int_equal(ev.posts, 2);
    assert_string_equal(ev.post, "all");
    assert_int_equal(h->post(&w.ls[1].ctx, 0, "one", 3), 0);
    nk__server_take_mail(&w.srv[1]);
    assert_int_equal(ev.posts, 2);
    nk__server_take_mail(&w.srv[0]);
    assert_int_equal(ev.posts, 3);
    assert_int_equal(h->post(&w.ls[0].ctx, NW, "x", 1), NK_EINVAL);
    w.plugin.full.on_post = NULL;
    assert_int_equal(h->post(&w.ls[0].ctx, 0, "x", 1), NK_EINVAL);
}

static void
test_host_connect(void **state)
{
    const struct nk_host *h = &nk__host;
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int lfd = socket(AF_INET, SOCK_STREAM, 0), afd;
    char port[16];
    nk_sid sid = 0;
    struct iovec v = iov_of("queued early");

    (void)state;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(lfd, 4), 0);
    getsockname(lfd, (struct sockaddr *)&sin, &len);
    snprintf(port, sizeof(port), "%d", ntohs(sin.sin_port));
    assert_int_equal(h->connect(&w.ls[0].ctx, "127.0.0.1", port, NULL, &sid),
                     0);
    assert_true(sid != 0);
    assert_int_equal(ev.connects, 0); /* never before connect returns */
    assert_int_equal(h->send_to(&w.ls[0].ctx, sid, &v, 1), 0);
    for (int i = 0; i < 100 && ev.connects == 0; i++)
        turn(0);
    assert_int_equal(ev.connects, 1);
    assert_int_equal(ev.connect_status, 0);
    afd = accept(lfd, NULL, NULL);
    assert_true(afd >= 0);
    expect_read(afd, "queued early");
    close(afd);
    /* Nobody listens there any more: on_connect with an error. */
    close(lfd);
    assert_int_equal(h->connect(&w.ls[0].ctx, "127.0.0.1", port, NULL, NULL),
                     0);
    for (int i = 0; i < 100 && ev.connects == 1; i++)
        turn(0);
    assert_int_equal(ev.connects, 2);
    assert_int_equal(ev.connect_status, -ECONNREFUSED);
    assert_int_equal(h->connect(&w.ls[0].ctx, "127.0.0.1", "x", NULL, NULL),
                     NK_EINVAL); /* a port is a number */
}

/* ---- ABI 1.2 --------------------------------------------------------- */

static int
sock_mask(int i)
{
    return (int)((struct nk__conn *)w.ls[i].lru_head)->io.mask;
}

/* A paused session is not read (no EPOLLIN, no on_message); resuming
 * delivers what waited; the same by mail from another worker. */
static void
test_host_pause_read(void **state)
{
    const struct nk_host *h = &nk__host;
    int peer = open_conn(0);
    nk_sid sid = h->session_id(ev.last);

    (void)state;
    assert_int_equal(h->pause_read(&w.ls[0].ctx, sid), 0);
    assert_int_equal(sock_mask(0) & NK_IO_READ, 0);
    assert_int_equal(write(peer, "abc", 3), 3);
    for (int i = 0; i < 5; i++)
        turn(0);
    assert_int_equal(ev.messages, 0);
    assert_int_equal(h->resume_read(&w.ls[0].ctx, sid), 0);
    for (int i = 0; i < 5 && ev.messages == 0; i++)
        turn(0);
    assert_int_equal(ev.messages, 1);
    assert_int_equal(ev.got, 3);
    /* From worker 1: mail, acted on by worker 0. */
    assert_int_equal(h->pause_read(&w.ls[1].ctx, sid), 0);
    assert_true(sock_mask(0) & NK_IO_READ); /* not yet */
    nk__server_take_mail(&w.srv[0]);
    assert_int_equal(sock_mask(0) & NK_IO_READ, 0);
    assert_int_equal(write(peer, "de", 2), 2);
    turn(0);
    assert_int_equal(ev.messages, 1);
    assert_int_equal(h->resume_read(&w.ls[1].ctx, sid), 0);
    nk__server_take_mail(&w.srv[0]);
    for (int i = 0; i < 5 && ev.messages == 1; i++)
        turn(0);
    assert_int_equal(ev.got, 5);
    assert_int_equal(h->pause_read(&w.ls[0].ctx, sid ^ 1), NK_ENOENT);
    assert_int_equal(h->pause_read(NULL, sid), NK_EINVAL);
    close(peer);
}

/* on_writable(0) past the high watermark, on_writable(1) at the low one,
 * each once, after the sending callback; with on_writable the host does
 * not pause the session itself. */
static void
test_host_watermarks(void **state)
{
    const struct nk_host *h = &nk__host;
    int peer = open_conn(0);
    struct nk_session *s = ev.last;
    static char big[64 * 1024];
    struct iovec v = {big, sizeof(big)};
    char sink[65536];

    (void)state;
    w.plugin.full.on_writable = rec_writable;
    assert_int_equal(h->set_watermarks(s, 1000, 1000), NK_EINVAL);
    assert_int_equal(h->set_watermarks(s, 1000, 0), NK_EINVAL);
    assert_int_equal(h->set_watermarks(s, 256 * 1024, 16 * 1024), 0);
    /* The socket takes some; the rest queues past the high mark. */
    for (int i = 0; i < 32; i++)
        assert_int_equal(h->send(s, &v, 1), 0);
    assert_true(h->queued(s) > 256 * 1024);
    assert_int_equal(ev.writable_calls, 0); /* never inside send */
    nk__loop_run_deferred(&w.srv[0].loop);
    assert_int_equal(ev.writable_calls, 1);
    assert_int_equal(ev.writable, 0);
    assert_int_equal(((struct nk__conn *)w.ls[0].lru_head)->paused, 0);
    /* The peer reads everything: back at the low mark. */
    for (int i = 0; i < 2000 && h->queued(s) > 0; i++) {
        while (read(peer, sink, sizeof(sink)) > 0)
            ;
        turn(0);
    }
    assert_int_equal(h->queued(s), 0);
    assert_int_equal(ev.writable_calls, 2);
    assert_int_equal(ev.writable, 1);
    close(peer);
}

/* shutdown_write: the FIN after what was queued; the session reads on.
 * With NK_PLUGIN_HALF_CLOSE the peer's FIN is on_eof, and both shut ends
 * the session. */
static void
test_host_half_close(void **state)
{
    const struct nk_host *h = &nk__host;
    int peer;
    nk_sid sid;
    struct iovec v = iov_of("last words");
    char c;

    (void)state;
    w.plugin.full.flags = NK_PLUGIN_HALF_CLOSE;
    w.plugin.full.on_eof = rec_eof;
    peer = open_conn(0);
    sid = h->session_id(ev.last);
    /* The peer half-closes first: on_eof, and the session stays. */
    assert_int_equal(write(peer, "q", 1), 1);
    assert_int_equal(shutdown(peer, SHUT_WR), 0);
    for (int i = 0; i < 5 && ev.eofs == 0; i++)
        turn(0);
    assert_int_equal(ev.messages, 1); /* the message before it first */
    assert_int_equal(ev.eofs, 1);
    turn(0);
    assert_int_equal(ev.closes, 0);
    assert_int_equal(h->send_to(&w.ls[0].ctx, sid, &v, 1), 0);
    assert_int_equal(h->shutdown_write(&w.ls[0].ctx, sid), 0);
    /* Both directions shut: the session is over at once. */
    assert_int_equal(h->send_to(&w.ls[0].ctx, sid, &v, 1), NK_ENOENT);
    for (int i = 0; i < 5 && ev.closes == 0; i++)
        turn(0);
    expect_read(peer, "last words");
    assert_int_equal(read(peer, &c, 1), 0);
    assert_int_equal(ev.closes, 1);
    close(peer);

    /* Our side first, by mail from worker 1: the peer reads EOF while
     * the session still reads what it sends. */
    peer = open_conn(0);
    sid = h->session_id(ev.last);
    assert_int_equal(h->shutdown_write(&w.ls[1].ctx, sid), 0);
    nk__server_take_mail(&w.srv[0]);
    assert_int_equal(h->send_to(&w.ls[0].ctx, sid, &v, 1), NK_EPIPE);
    turn(0);
    assert_int_equal(read(peer, &c, 1), 0);
    assert_int_equal(write(peer, "more", 4), 4);
    for (int i = 0; i < 5 && ev.messages == 1; i++)
        turn(0);
    assert_int_equal(ev.messages, 2);
    assert_int_equal(ev.closes, 1);
    close(peer);
    for (int i = 0; i < 5 && ev.closes == 1; i++)
        turn(0);
    assert_int_equal(ev.eofs, 2);
    assert_int_equal(ev.closes, 2);
}

/* Without the flag, the peer's FIN ends the session as before 1.2. */
static void
test_host_eof_without_flag(void **state)
{
    int peer = open_conn(0);

    (void)state;
    w.plugin.full.on_eof = rec_eof; /* but no NK_PLUGIN_HALF_CLOSE */
    assert_int_equal(shutdown(peer, SHUT_WR), 0);
    for (int i = 0; i < 5 && ev.closes == 0; i++)
        turn(0);
    assert_int_equal(ev.closes, 1);
    assert_int_equal(ev.eofs, 0);
    close(peer);
}

static int
listen_any(char *port, size_t size, int backlog)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(lfd, backlog), 0);
    getsockname(lfd, (struct sockaddr *)&sin, &len);
    snprintf(port, size, "%d", ntohs(sin.sin_port));
    return lfd;
}

/* close_to on a pending connect cancels it: on_connect(NK_ECANCELED)
 * from the loop, no on_close, and what was sent is never written; the
 * slot is given back. */
static void
test_host_connect_cancel(void **state)
{
    const struct nk_host *h = &nk__host;
    char port[16], c;
    int lfd = listen_any(port, sizeof(port), 4), afd;
    nk_sid sid = 0;
    struct iovec v = iov_of("from a dead client");

    (void)state;
    assert_int_equal(h->connect(&w.ls[0].ctx, "127.0.0.1", port, NULL, &sid),
                     0);
    assert_int_equal(atomic_load(&w.slots), 1);
    assert_int_equal(h->send_to(&w.ls[0].ctx, sid, &v, 1), 0);
    assert_int_equal(h->close_to(&w.ls[0].ctx, sid), 0);
    assert_int_equal(ev.connects, 0); /* never inside the service */
    nk__loop_run_deferred(&w.srv[0].loop);
    assert_int_equal(ev.connects, 1);
    assert_int_equal(ev.connect_status, NK_ECANCELED);
    assert_int_equal(ev.closes, 0);
    assert_int_equal(atomic_load(&w.slots), 0);
    assert_int_equal(h->send_to(&w.ls[0].ctx, sid, &v, 1), NK_ENOENT);
    /* The kernel may have completed the handshake: nothing came. */
    afd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
    if (afd >= 0) {
        assert_true(read(afd, &c, 1) <= 0); /* EOF, a reset or nothing */
        close(afd);
    }
    close(lfd);
}

/* A connect the peer never answers: NK_ETIMEDOUT after connect_ms.  A
 * listener whose accept queue is full drops the SYN. */
static void
test_host_connect_timeout(void **state)
{
    const struct nk_host *h = &nk__host;
    char port[16];
    int lfd = listen_any(port, sizeof(port), 0), fill[4];

    (void)state;
    for (int i = 0; i < 4; i++) { /* fill the accept queue */
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)atoi(port))};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
    }
    w.ls[0].connect_ms = 100;
    assert_int_equal(h->connect(&w.ls[0].ctx, "127.0.0.1", port, NULL, NULL),
                     0);
    for (int i = 0; i < 300 && ev.connects == 0; i++)
        turn(0);
    assert_int_equal(ev.connects, 1);
    /* Refused or established would be a setup problem: say which. */
    assert_int_equal(ev.connect_status, NK_ETIMEDOUT);
    assert_int_equal(ev.closes, 0);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
}

/* Outbound connections hold max_conns slots: past it, NK_EAGAIN. */
static void
test_host_connect_limit(void **state)
{
    const struct nk_host *h = &nk__host;
    char port[16];
    int lfd = listen_any(port, sizeof(port), 8);

    (void)state;
    w.conf.max_conns = 2;
    assert_int_equal(h->connect(&w.ls[0].ctx, "127.0.0.1", port, NULL, NULL),
                     0);
    assert_int_equal(h->connect(&w.ls[0].ctx, "127.0.0.1", port, NULL, NULL),
                     0);
    assert_int_equal(h->connect(&w.ls[0].ctx, "127.0.0.1", port, NULL, NULL),
                     NK_EAGAIN);
    assert_int_equal(atomic_load(&w.slots), 2);
    close(lfd);
}

/* A host name is looked up off the loop (the answer is mail). */
static void
test_host_connect_by_name(void **state)
{
    const struct nk_host *h = &nk__host;
    char port[16];
    int lfd = listen_any(port, sizeof(port), 8), afd;
    nk_sid sid = 0;
    struct iovec v = iov_of("by name");

    (void)state;
    assert_int_equal(h->connect(&w.ls[0].ctx, "localhost", port, NULL, &sid),
                     0);
    assert_int_equal(h->send_to(&w.ls[0].ctx, sid, &v, 1), 0);
    /* The lookup's answer arrives by mail; localhost may say ::1 first,
     * where nobody listens: the next address is tried. */
    for (int i = 0; i < 500 && ev.connects == 0; i++) {
        nk__server_take_mail(&w.srv[0]);
        turn(0);
    }
    assert_int_equal(ev.connects, 1);
    assert_int_equal(ev.connect_status, 0);
    afd = accept(lfd, NULL, NULL);
    expect_read(afd, "by name");
    close(afd);
    close(lfd);
    /* A name that cannot be: on_connect with an error, not a crash. */
    assert_int_equal(
        h->connect(&w.ls[0].ctx, "no-such-host.invalid", port, NULL, NULL), 0);
    for (int i = 0; i < 1000 && ev.connects == 1; i++) {
        nk__server_take_mail(&w.srv[0]);
        turn(0);
    }
    assert_int_equal(ev.connects, 2);
    assert_true(ev.connect_status < 0);
    nk__resolve_stop(); /* the threads: joined, for leak checkers */
}

/* A post or a cross-worker send that could never fit: NK_EMSGSIZE. */
static void
test_host_post_too_big(void **state)
{
    const struct nk_host *h = &nk__host;
    size_t n = NK_MAILBOX_MAX + 1;
    char *big = calloc(1, n);
    struct iovec v = {big, n};

    (void)state;
    w.plugin.full.on_post = rec_post;
    assert_int_equal(h->post(&w.ls[0].ctx, 1, big, n), NK_EMSGSIZE);
    assert_int_equal(h->send_to(&w.ls[0].ctx, NK_SID_MAKE(1, 1), &v, 1),
                     NK_EMSGSIZE);
    free(big);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_host_send_by_handle, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_host_close_never_reenters, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_host_send_to_another_worker, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_host_queued_and_drain, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_host_timers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_post, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_connect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_pause_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_watermarks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_half_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_eof_without_flag, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_host_connect_cancel, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_host_connect_timeout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_host_connect_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_host_connect_by_name, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_host_post_too_big, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
