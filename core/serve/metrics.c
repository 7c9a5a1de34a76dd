/* metrics.c -- the metrics listener's HTTP/1.0 responder.  See metrics.h. */
#include "serve/metrics.h"

#include <sys/socket.h>
#include <netdb.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "serve/counters.h"
#include "serve/server.h"

#define MX_REQ_MAX    4096
#define MX_TIMEOUT_MS 10000
#define MX_PAUSE_MS   100 /* out of descriptors: not accepting for this */

struct mx_client {
    struct nk__io io; /* first member */
    struct nk__metrics *m;
    struct mx_client *prev, *next;
    struct nk__timer deadline;
    struct nk__defer gone; /* freed after the dispatch */
    char req[MX_REQ_MAX + 1];
    size_t len;
    struct nk__buf out;
    int responding;
};

struct nk__metrics {
    struct nk__io io; /* first member: the listening socket */
    struct nk__loop *loop;
    struct nk__server *const *srv; /* a worker of the serving configuration */
    struct mx_client *clients;     /* the newest first */
    int nclients;
    struct nk__timer resume; /* accepting again after a lack of descriptors */
    uint64_t warned;         /* when that was last logged (ms) */
    uint64_t shed;           /* clients closed to make room for newer ones */
};

static struct nk__loop *
mx_loop(const struct nk__metrics *m)
{
    return m->loop;
}

int
nk__metrics_bind(const char *where, const char *file, int line,
                 struct nk__metrics **out, struct nk_err *err)
{
    char host[256], addr[NK_ADDRSTRLEN];
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    struct addrinfo *ai;
    struct nk__metrics *m;
    const char *why;
    int port, fd, one = 1;

    *out = NULL;
    if ((why = nk__addr_split(where, host, sizeof(host), &port)) != NULL)
        return nk__err_at(err, file, line, "[netkit] metrics: %s", why);
    if (nk__addr_resolve(host, port, AF_UNSPEC, SOCK_STREAM, 1, &ai, err) < 0) {
        nk__err_prefix(err, "[netkit] metrics: ");
        if (file != NULL) {
            err->file = file;
            err->line = line;
        }
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
        int saved = errno;
        nk__addr_format(ai->ai_addr, addr, sizeof(addr));
        freeaddrinfo(ai);
        if (fd >= 0)
            close(fd);
        return nk__err_run(err, "metrics: bind %s: %s", addr, strerror(saved));
    }
    freeaddrinfo(ai);
    if ((m = nk__calloc(1, sizeof(*m))) == NULL) {
        close(fd);
        return nk__err_run(err, "out of memory");
    }
    nk__io_init(&m->io, fd, NULL);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    nk__addr_format((struct sockaddr *)&ss, addr, sizeof(addr));
    nk__log(NK_LOG_INFO, "Metrics on http://%s/metrics", addr);
    *out = m;
    return 0;
}

/* ---- one client --------------------------------------------------------- */

static void
mx_free_client(struct nk__defer *d)
{
    struct mx_client *c =
        (struct mx_client *)((char *)d - offsetof(struct mx_client, gone));

    nk__buf_free(&c->out);
    nk__free(c);
}

static void
mx_close(struct mx_client *c)
{
    struct nk__metrics *m = c->m;

    nk__timer_stop(mx_loop(m), &c->deadline);
    nk__io_stop(mx_loop(m), &c->io);
    close(c->io.fd);
    c->io.fd = -1;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        m->clients = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    m->nclients--;
    /* The loop may still look at c->io after this callback returns. */
    c->gone.cb = mx_free_client;
    nk__loop_defer(mx_loop(m), &c->gone);
}

/* Write what is queued; close once it is all out. */
static void
mx_write(struct mx_client *c)
{
    while (nk__buf_len(&c->out) > 0) {
        ssize_t n = send(c->io.fd, nk__buf_data(&c->out), nk__buf_len(&c->out),
                         MSG_NOSIGNAL);
        if (n > 0)
            nk__buf_consume(&c->out, (size_t)n);
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && errno == EAGAIN) {
            if (nk__io_set(mx_loop(c->m), &c->io, NK_IO_WRITE) < 0)
                mx_close(c);
            return;
        } else {
            mx_close(c);
            return;
        }
    }
    shutdown(c->io.fd, SHUT_WR);
    mx_close(c);
}

static void
mx_respond(struct mx_client *c, const char *status, const char *extra,
           const char *body, size_t blen, int head)
{
    char hdr[400];
    int n = snprintf(hdr, sizeof(hdr),
                     "HTTP/1.0 %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "%s"
                     "Connection: close\r\n\r\n",
                     status,
                     strncmp(status, "200", 3) == 0
                         ? "text/plain; version=0.0.4; charset=utf-8"
                         : "text/plain; charset=utf-8",
                     blen, extra);

    c->responding = 1;
    nk__buf_consume(&c->out, nk__buf_len(&c->out));
    if (nk__buf_append(&c->out, hdr, (size_t)n) < 0 ||
        (!head && nk__buf_append(&c->out, body, blen) < 0)) {
        mx_close(c);
        return;
    }
    mx_write(c);
}

static void
mx_error(struct mx_client *c, const char *status, const char *extra)
{
    char body[100];
    int n = snprintf(body, sizeof(body), "%s\n", status);

    mx_respond(c, status, extra, body, (size_t)n, 0);
}

/* A whole request head is in c->req: answer it. */
static void
mx_handle(struct mx_client *c)
{
    char method[16], path[256], version[16];
    struct nk__buf body = {0};
    size_t plen;
    int head;

    if (sscanf(c->req, "%15s %255s %15s", method, path, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0) {
        mx_error(c, "400 Bad Request", "");
        return;
    }
    head = strcmp(method, "HEAD") == 0;
    if (strcmp(method, "GET") != 0 && !head) {
        mx_error(c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n");
        return;
    }
    plen = strcspn(path, "?");
    if (plen != strlen("/metrics") || strncmp(path, "/metrics", plen) != 0) {
        mx_error(c, "404 Not Found", "");
        return;
    }
    if (nk__counters_prometheus(*c->m->srv, &body) < 0) {
        nk__buf_free(&body);
        mx_error(c, "500 Internal Server Error", "");
        return;
    }
    mx_respond(c, "200 OK", "", (const char *)nk__buf_data(&body),
               nk__buf_len(&body), head);
    nk__buf_free(&body);
}

static void
mx_on_io(struct nk__loop *loop, struct nk__io *io, unsigned events)
{
    struct mx_client *c = (struct mx_client *)io;

    (void)loop;
    if (c->io.fd < 0)
        return;
    if (c->responding) {
        if (events & NK_IO_WRITE)
            mx_write(c);
        return;
    }
    for (;;) {
        ssize_t n = read(c->io.fd, c->req + c->len, MX_REQ_MAX - c->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            mx_close(c); /* closed, or an error, before a whole request */
            return;
        }
        c->len += (size_t)n;
        c->req[c->len] = '\0';
        if (strstr(c->req, "\r\n\r\n") != NULL ||
            strstr(c->req, "\n\n") != NULL) {
            if (nk__io_set(mx_loop(c->m), &c->io, 0) < 0) {
                mx_close(c);
                return;
            }
            mx_handle(c);
            return;
        }
        if (c->len == MX_REQ_MAX) {
            mx_error(c, "431 Request Header Fields Too Large", "");
            return;
        }
    }
}

static void
mx_on_deadline(struct nk__loop *loop, struct nk__timer *t)
{
    struct mx_client *c =
        (struct mx_client *)((char *)t - offsetof(struct mx_client, deadline));

    (void)loop;
    mx_close(c);
}

/*
 * Full: make room for a newcomer by closing the oldest client still
 * sending its request (a scrape sends its request at once and is answered
 * in the same turn, so the oldest of those waiting is the slowest).  Peers
 * that connect and send nothing, or a byte now and then, cannot keep a
 * scrape out for the ten seconds each may wait: the newest connections
 * always get in.  Returns 0 if there is room now.
 */
static int
mx_make_room(struct nk__metrics *m)
{
    struct mx_client *oldest = NULL;

    if (m->nclients < NK_METRICS_CLIENTS_MAX)
        return 0;
    for (struct mx_client *c = m->clients; c != NULL; c = c->next)
        if (!c->responding)
            oldest = c;
    if (oldest == NULL)
        return -1; /* every one is being answered: they end soon */
    if (m->shed++ == 0 || nk__log_due(&m->warned, mx_loop(m)->now))
        nk__log(NK_LOG_WARN,
                "Metrics: %d clients at once: closing the oldest that has "
                "not sent its request (%llu so far)",
                NK_METRICS_CLIENTS_MAX, (unsigned long long)m->shed);
    mx_close(oldest);
    return 0;
}

static void
mx_on_resume(struct nk__loop *loop, struct nk__timer *t)
{
    struct nk__metrics *m =
        (struct nk__metrics *)((char *)t -
                               offsetof(struct nk__metrics, resume));

    if (m->io.fd >= 0)
        nk__io_set(loop, &m->io, NK_IO_READ);
}

/* Out of descriptors: the listening socket stays readable, so stop
 * watching it for a moment rather than spin, as the serving listeners do
 * once they cannot shed; the scrape waits in the queue. */
static void
mx_pause(struct nk__metrics *m, int err)
{
    struct nk__loop *loop = mx_loop(m);

    if (nk__log_due(&m->warned, loop->now))
        nk__log(NK_LOG_WARN,
                "Metrics: accept: %s: not accepting for %d ms "
                "(raise the descriptor limit, ulimit -n)",
                strerror(err), MX_PAUSE_MS);
    nk__io_set(loop, &m->io, 0);
    nk__timer_start(loop, &m->resume, loop->now + MX_PAUSE_MS);
}

static void
mx_on_accept(struct nk__loop *loop, struct nk__io *io, unsigned events)
{
    struct nk__metrics *m = (struct nk__metrics *)io;

    (void)events;
    for (int i = 0; i < 16; i++) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct mx_client *c;

        if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
            continue;
        if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                       errno == ENOMEM)) {
            mx_pause(m, errno);
            return;
        }
        if (fd < 0)
            return; /* EAGAIN: the next wakeup */
        if (mx_make_room(m) < 0 || (c = nk__calloc(1, sizeof(*c))) == NULL) {
            close(fd);
            continue;
        }
        nk__io_init(&c->io, fd, mx_on_io);
        nk__timer_init(&c->deadline, mx_on_deadline);
        c->m = m;
        c->next = m->clients;
        if (m->clients != NULL)
            m->clients->prev = c;
        m->clients = c;
        m->nclients++;
        if (nk__io_set(loop, &c->io, NK_IO_READ) < 0 ||
            nk__timer_start(loop, &c->deadline, loop->now + MX_TIMEOUT_MS) < 0)
            mx_close(c);
    }
}

int
nk__metrics_start(struct nk__metrics *m, struct nk__loop *loop,
                  struct nk__server *const *srv, struct nk_err *err)
{
    m->loop = loop;
    m->srv = srv;
    m->io.cb = mx_on_accept;
    nk__timer_init(&m->resume, mx_on_resume);
    if (nk__io_set(loop, &m->io, NK_IO_READ) < 0)
        return nk__err_run(err, "cannot watch the metrics socket");
    return 0;
}

void
nk__metrics_close(struct nk__metrics *m)
{
    if (m == NULL || m->io.fd < 0)
        return;
    if (m->loop != NULL) {
        nk__timer_stop(mx_loop(m), &m->resume);
        nk__io_stop(mx_loop(m), &m->io);
    }
    close(m->io.fd);
    m->io.fd = -1;
}

void
nk__metrics_free(struct nk__metrics *m)
{
    if (m == NULL)
        return;
    nk__metrics_close(m);
    while (m->clients != NULL)
        mx_close(m->clients);
    if (m->loop != NULL)
        nk__loop_run_deferred(mx_loop(m));
    nk__free(m);
}
