/*
 * client.c -- `netkit connect`.  See client.h.
 *
 * One connection, so no event loop: the client waits with poll(2) directly.
 * The plugin's codec does all the protocol work (one codec, both
 * directions): encode says what goes before and after each message (a length
 * field, a line's newline), decode says where each reply ends.
 *
 * Where a reply ends.  A framed codec says so: a reply is complete as soon
 * as decode reports a message.  An unframed codec (raw) cannot: its decode
 * takes whatever is buffered, and TCP may deliver a reply in several pieces.
 * So when decode consumes the whole buffer and the payload is the whole
 * buffer -- the mark of a message without framing -- the reply is taken to
 * be everything that arrives until the socket has been quiet for
 * CLIENT_QUIET_MS after the last byte, all bounded by --timeout.  Known
 * limit: a raw reply that pauses longer than that mid-way is printed as two
 * lines, the second one with the next message's reply.  Over UDP a datagram
 * is one reply, always.
 *
 * Messages go one at a time: send, wait for the reply (or --timeout), print,
 * next.  That keeps raw replies apart, at the price of one round trip per
 * message (plus the quiet interval for raw): fine for a person or a script,
 * not a load generator.
 *
 * The line `exit` ends a session after its reply.  A server may close instead
 * of answering it (raw does): that is the normal end, not an error.
 */
#include "connect/client.h"

#include <sys/socket.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netkit/plugin.h>

#include "base/addr.h"
#include "base/alloc.h"
#include "connect/client_stream.h"
#include "plugin/loader.h"
#include "base/log.h"
#include "config/sockopt.h"

/* How long an unframed reply's socket must stay quiet for the reply to be
 * complete.  Loopback and LAN replies arrive in well under this. */
#define CLIENT_QUIET_MS 50

#define CLIENT_DGRAM_MAX 65536 /* the largest UDP payload, and more */
#define CLIENT_RBUF_MIN  4096
#define CLIENT_EXIT_WORD "exit"

struct client {
    const struct nk__settings *s;
    struct nk__plugin *plugin;
    struct nk_value *values;
    void *inst;         /* the codec instance; NULL until create succeeds */
    size_t max_message; /* the longest reply buffered, header included */
    unsigned transport; /* NK_TRANSPORT_TCP or NK_TRANSPORT_UDP */
    struct nk__sockopt_val *opts; /* -o, parsed, plus our defaults */
    size_t nopts;
    int fd;
    int timeout_ms;
    char peer[NK_ADDRSTRLEN];
    uint8_t *rbuf; /* received bytes not yet taken by a reply */
    size_t rlen, rcap;
    uint8_t *sbuf; /* head + payload + tail of the message being sent */
    size_t scap;
    int eof;                    /* TCP: the peer closed its side */
    unsigned long sent, missed; /* UDP: messages sent, replies missed */
};

/* ---- the host table the codec gets -------------------------------------- */

/*
 * The client only calls the codec (create, decode, encode), which never
 * sends or closes; those services exist so that the table is complete, and
 * refuse politely.  Log works, so a plugin's create can explain itself.
 */
static int
client_host_send(struct nk_session *sess, const struct iovec *iov, int iovcnt)
{
    (void)sess, (void)iov, (void)iovcnt;
    return NK_EINVAL;
}

static void
client_host_close(struct nk_session *sess)
{
    (void)sess;
}

static void client_host_log(struct nk_session *sess, enum nk_log_level level,
                            const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
client_host_log(struct nk_session *sess, enum nk_log_level level,
                const char *fmt, ...)
{
    char msg[900];
    va_list ap;

    (void)sess;
    if (!nk__log_enabled((int)level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    nk__log((int)level, "%s", msg);
}

static const char *
client_host_peer_name(struct nk_session *sess)
{
    (void)sess;
    return "-";
}

static void *
client_host_get_data(struct nk_session *sess)
{
    (void)sess;
    return NULL;
}

static void
client_host_set_data(struct nk_session *sess, void *data)
{
    (void)sess, (void)data;
}

static const struct nk_host client_host = {
    .size = sizeof(struct nk_host),
    .send = client_host_send,
    .close = client_host_close,
    .log = client_host_log,
    .peer_name = client_host_peer_name,
    .get_data = client_host_get_data,
    .set_data = client_host_set_data,
};

/* ---- time --------------------------------------------------------------- */

static int64_t
client_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds until `deadline`, for poll: never negative. */
static int
client_left(int64_t deadline)
{
    int64_t d = deadline - client_now_ms();

    return d < 0 ? 0 : d > INT_MAX ? INT_MAX : (int)d;
}

/* Wait for `events` on fd until `deadline`.  Returns the revents, 0 on
 * timeout, or -1 with errno.  A signal does not cut the wait short. */
static int
client_poll(int fd, short events, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = events};

    for (;;) {
        int rc = poll(&p, 1, client_left(deadline));
        if (rc > 0)
            return p.revents;
        if (rc == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* ---- setting up: plugin, options ---------------------------------------- */

/* The combinations only connect can reject (the CLI checked the rest). */
static int
client_check(const struct nk__settings *s, const char *proto,
             struct nk_err *err)
{
    if (s->host == NULL || s->port == NULL)
        return nk__err_set(err, "connect needs HOST PORT");
    if (s->count < 1)
        return nk__err_set(err, "-n %lld: expected at least 1", s->count);
    if (!s->stream)
        return 0;
    if (strcmp(proto, "raw") != 0)
        return nk__err_set(err, "--stream works with the raw plugin only");
    if (s->cli.transport == NK_TRANSPORT_UDP)
        return nk__err_set(err, "--stream works over tcp only");
    if (s->message != NULL)
        return nk__err_set(err, "--stream and -m cannot be used together");
    return 0;
}

/* Load the plugin, validate its options and create the codec instance. */
static int
client_plugin(struct client *c, const char *name, struct nk_err *err)
{
    const struct nk__plugin_conf *pc;
    struct nk__strlist dirs = {0};
    struct nk_setup su;
    int rc;

    if (nk__plugin_dirs(c->s, &dirs) < 0) {
        nk__strlist_free(&dirs);
        return nk__err_set(err, "out of memory");
    }
    rc = nk__plugin_open(name, &dirs, &c->plugin, err);
    nk__strlist_free(&dirs);
    if (rc < 0)
        return -1;
    pc = nk__settings_find_plugin(c->s, name);
    if (nk__plugin_check_transport(c->plugin, c->transport, err) < 0 ||
        nk__plugin_check_cli_opts(&c->plugin, 1, &c->s->cli_plugin_opts, err) <
            0 ||
        nk__plugin_values(c->plugin, pc != NULL ? &pc->opts : NULL,
                          &c->s->cli_plugin_opts, &c->values, err) < 0)
        return -1;
    memset(&su, 0, sizeof(su));
    su.size = sizeof(su);
    su.host = &client_host;
    su.opts = c->values;
    su.transport = c->transport;
    su.max_message = ((size_t)1 << 20) + 2 * NK_HDR_MAX;
    rc = c->plugin->desc->create(&su);
    if (rc < 0)
        return nk__err_set(err, "plugin %s: %s", name,
                           su.err[0] != '\0' ? su.err : nk_strerror(rc));
    c->inst = su.inst;
    c->max_message = su.max_message;
    return 0;
}

/* Parse -o before any socket opens.  TCP_NODELAY is on unless the user says
 * otherwise: each message leaves in one write and waits for its reply, so
 * Nagle could only delay it. */
static int
client_sockopts(struct client *c, struct nk_err *err)
{
    const struct nk__kvlist *l = &c->s->cli_sockopts;
    char why[300];
    size_t n = 0;

    c->opts = nk__calloc(l->n + 1, sizeof(*c->opts));
    if (c->opts == NULL)
        return nk__err_set(err, "out of memory");
    if (c->transport == NK_TRANSPORT_TCP &&
        nk__kvlist_find(l, "TCP_NODELAY") == NULL &&
        nk__sockopt_parse("TCP_NODELAY", "1", c->transport, &c->opts[n], why,
                          sizeof(why)) == 0)
        n++;
    for (size_t i = 0; i < l->n; i++, n++)
        if (nk__sockopt_parse(l->items[i].key, l->items[i].val, c->transport,
                              &c->opts[n], why, sizeof(why)) < 0)
            return nk__err_set(err, "-o %s=%s: %s", l->items[i].key,
                               l->items[i].val, why);
    c->nopts = n;
    return 0;
}

/* ---- connecting --------------------------------------------------------- */

/* Set every option that means something on this socket's family, and
 * log what the kernel made of each at -v. */
static int
client_apply_opts(const struct client *c, int fd, int family, const char *where,
                  struct nk_err *err)
{
    const struct nk__sockopt_def *failed;
    char why[300];

    if (nk__sockopt_apply_all(fd, family, c->opts, c->nopts, &failed, why,
                              sizeof(why)) < 0)
        return nk__err_run(err, "%s on %s", why, where);
    nk__sockopt_log_all(fd, family, c->opts, c->nopts, where);
    return 0;
}

/*
 * Open a socket to one address, within --timeout.  Returns the descriptor
 * (non-blocking), -1 with errno when this address failed (try the next), or
 * -2 with err when no address can work (an option the kernel refuses).
 */
static int
client_open(const struct client *c, const struct addrinfo *ai,
            const char *where, struct nk_err *err)
{
    int type = ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC;
    int fd = socket(ai->ai_family, type, ai->ai_protocol), rc, soerr = 0;
    socklen_t len = sizeof(soerr);

    if (fd < 0)
        return -1;
    if (client_apply_opts(c, fd, ai->ai_family, where, err) < 0) {
        close(fd);
        return -2;
    }
    rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc < 0 && (errno == EINPROGRESS || errno == EINTR)) {
        rc = client_poll(fd, POLLOUT, client_now_ms() + c->timeout_ms);
        if (rc == 0)
            soerr = ETIMEDOUT;
        else if (rc < 0)
            soerr = errno;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            soerr = errno;
        rc = soerr == 0 ? 0 : -1;
    } else if (rc < 0) {
        soerr = errno;
    }
    if (rc < 0) {
        close(fd);
        errno = soerr;
        return -1;
    }
    return fd;
}

/* Resolve HOST PORT and try every address in order until one connects, as
 * nc does; the error names the last address tried. */
static int
client_connect(struct client *c, struct nk_err *err)
{
    int socktype = c->transport == NK_TRANSPORT_UDP ? SOCK_DGRAM : SOCK_STREAM;
    int port = nk__addr_parse_port(c->s->port, 0), saved = EADDRNOTAVAIL;
    char where[NK_ADDRSTRLEN] = "?";
    struct addrinfo *res, *ai;

    if (port < 0)
        return nk__err_set(err, "port '%s': expected 1..65535",
                           c->s->port != NULL ? c->s->port : "");
    if (nk__addr_resolve(c->s->host, port, c->s->cli.family, socktype, 0, &res,
                         err) < 0)
        return -1;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        nk__addr_format(ai->ai_addr, where, sizeof(where));
        c->fd = client_open(c, ai, where, err);
        if (c->fd >= 0 || c->fd == -2)
            break;
        saved = errno;
        nk__log(NK_LOG_DEBUG, "connect %s: %s", where, strerror(saved));
    }
    freeaddrinfo(res);
    if (c->fd == -2) {
        c->fd = -1;
        return -1;
    }
    if (c->fd < 0)
        return nk__err_run(err, "connect %s: %s", where, strerror(saved));
    memcpy(c->peer, where, sizeof(c->peer));
    nk__log(NK_LOG_INFO, "Connect to %s", c->peer);
    return 0;
}

/* ---- message mode ------------------------------------------------------- */

/*
 * Send one message: the codec's head, the payload and the codec's tail, in
 * one write.  Returns 1 when sent, 0 when there was nothing to send (an empty
 * message of an unframed codec over TCP: zero bytes on a stream are no
 * message, and no reply will come), or -1 with err.
 */
static int
client_send(struct client *c, const uint8_t *p, size_t n, struct nk_err *err)
{
    int64_t deadline = client_now_ms() + c->timeout_ms;
    struct nk_wrap w;
    size_t total, off = 0;
    int rc = nk__plugin_encode(c->plugin->desc, c->inst, n, &w);

    if (rc < 0)
        return nk__err_run(err, "message of %zu bytes: %s", n, nk_strerror(rc));
    total = w.head_len + n + w.tail_len;
    if (total == 0 && c->transport == NK_TRANSPORT_TCP)
        return 0;
    if (total > c->scap) {
        uint8_t *grown = nk__realloc(c->sbuf, total);
        if (grown == NULL)
            return nk__err_run(err, "out of memory");
        c->sbuf = grown;
        c->scap = total;
    }
    /* One contiguous buffer, so a UDP message is one datagram and a TCP one
     * leaves in as few segments as the socket allows. */
    memcpy(c->sbuf, w.head, w.head_len);
    if (n > 0)
        memcpy(c->sbuf + w.head_len, p, n);
    memcpy(c->sbuf + w.head_len + n, w.tail, w.tail_len);
    while (off < total) {
        ssize_t sent = send(c->fd, c->sbuf + off, total - off, MSG_NOSIGNAL);

        if (sent >= 0) {
            off += (size_t)sent;
            continue;
        }
        /* A UDP socket reports an earlier datagram's ICMP error once, on
         * the next call; that reply was already counted as missing. */
        if (errno == EINTR ||
            (errno == ECONNREFUSED && c->transport == NK_TRANSPORT_UDP))
            continue;
        if (errno == EPIPE || errno == ECONNRESET)
            return nk__err_run(err, "connection closed by %s", c->peer);
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return nk__err_run(err, "send to %s: %s", c->peer, strerror(errno));
        rc = client_poll(c->fd, POLLOUT, deadline);
        if (rc == 0)
            return nk__err_run(err, "send to %s: stuck for %gs", c->peer,
                               c->s->timeout);
        if (rc < 0)
            return nk__err_run(err, "poll: %s", strerror(errno));
    }
    return 1;
}

/* Print one reply's payload on its own line, then drop its `used` bytes from
 * the receive buffer. */
static int
client_print(struct client *c, const struct nk_frame *f, size_t used,
             struct nk_err *err)
{
    if ((f->payload_len > 0 &&
         fwrite(f->payload, 1, f->payload_len, stdout) != f->payload_len) ||
        putchar('\n') == EOF || fflush(stdout) == EOF)
        return nk__err_run(err, "write to standard output: %s",
                           strerror(errno));
    if (c->transport == NK_TRANSPORT_TCP) {
        memmove(c->rbuf, c->rbuf + used, c->rlen - used);
        c->rlen -= used;
    }
    return 1;
}

/*
 * Read what the TCP peer sent, waiting until `deadline`.  Returns 1 when
 * bytes or the end of the stream came (c->eof), 0 on timeout, -1 with err.
 * The buffer grows up to the instance's max_message.  A reset counts as the
 * peer closing: either way no reply is coming.
 */
static int
client_fill(struct client *c, int64_t deadline, struct nk_err *err)
{
    for (;;) {
        ssize_t r;
        int rc;

        if (c->rlen == c->rcap) {
            size_t cap = c->rcap ? c->rcap * 2 : CLIENT_RBUF_MIN;
            uint8_t *grown;

            if (c->rcap >= c->max_message)
                return nk__err_run(err,
                                   "reply from %s is longer than %zu "
                                   "bytes",
                                   c->peer, c->max_message);
            if (cap > c->max_message)
                cap = c->max_message;
            if ((grown = nk__realloc(c->rbuf, cap)) == NULL)
                return nk__err_run(err, "out of memory");
            c->rbuf = grown;
            c->rcap = cap;
        }
        r = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (r > 0) {
            c->rlen += (size_t)r;
            return 1;
        }
        if (r == 0 || errno == ECONNRESET) {
            c->eof = 1;
            return 1;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return nk__err_run(err, "recv from %s: %s", c->peer,
                               strerror(errno));
        rc = client_poll(c->fd, POLLIN, deadline);
        if (rc == 0)
            return 0;
        if (rc < 0)
            return nk__err_run(err, "poll: %s", strerror(errno));
    }
}

/*
 * Wait for one reply on TCP and print it: the decode loop.  Each turn
 * decodes what is buffered; a framed message is complete at once, an
 * unframed one once the socket has been quiet (see the top of this file) or
 * the peer closed.  Returns 1 when a reply was printed, 0 when the peer
 * closed with nothing pending, -1 with err.
 */
static int
client_reply_tcp(struct client *c, struct nk_err *err)
{
    int64_t deadline = client_now_ms() + c->timeout_ms, until;
    int quiet = 0, rc;

    for (;;) {
        struct nk_frame f = {0};
        int whole = 0;

        if (c->rlen > 0) {
            long n = c->plugin->desc->decode(c->inst, c->rbuf, c->rlen, &f);

            if (n > 0 && (size_t)n > c->rlen)
                return nk__err_run(err, "plugin %s: decode overran its input",
                                   c->plugin->name);
            if (n > 0) {
                whole = (size_t)n == c->rlen && f.payload == c->rbuf &&
                        f.payload_len == c->rlen;
                if (!whole || quiet || c->eof)
                    return client_print(c, &f, (size_t)n, err);
            } else if (n == NK_ENEEDMORE) {
                if (f.need > c->max_message)
                    return nk__err_run(err,
                                       "reply from %s: %zu bytes is "
                                       "over the limit of %zu",
                                       c->peer, f.need, c->max_message);
            } else {
                return nk__err_run(err, "bad reply from %s: %s", c->peer,
                                   nk_strerror(n == 0 ? NK_EPROTO : (int)n));
            }
        }
        if (c->eof && c->rlen == 0)
            return 0;
        if (c->eof)
            return nk__err_run(err, "connection closed by %s", c->peer);
        until = deadline;
        if (whole && client_now_ms() + CLIENT_QUIET_MS < deadline)
            until = client_now_ms() + CLIENT_QUIET_MS;
        rc = client_fill(c, until, err);
        if (rc < 0)
            return -1;
        if (rc == 0 && !whole)
            return nk__err_run(err, "no reply from %s within %gs", c->peer,
                               c->s->timeout);
        quiet = rc == 0;
    }
}

/*
 * Wait for one datagram reply and print it.  Returns 1 when printed, 0 when
 * none came in time (the error line is printed here, because the session
 * goes on), -1 with err.  A datagram the codec does not take whole is
 * dropped with a warning, as the server drops one.
 */
static int
client_reply_udp(struct client *c, struct nk_err *err)
{
    int64_t deadline = client_now_ms() + c->timeout_ms;

    for (;;) {
        ssize_t r = recv(c->fd, c->rbuf, c->rcap, 0);
        struct nk_frame f = {0};
        int rc;

        if (r >= 0) {
            if (c->plugin->desc->decode(c->inst, c->rbuf, (size_t)r, &f) == r)
                return client_print(c, &f, (size_t)r, err);
            nk__log(NK_LOG_WARN,
                    "Dropped a malformed reply of %zd bytes "
                    "from %s",
                    r, c->peer);
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == ECONNREFUSED) {
            /* An ICMP port unreachable, reported on the connected socket. */
            nk__log_fatal("no reply from %s: %s", c->peer, strerror(errno));
            return 0;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return nk__err_run(err, "recv from %s: %s", c->peer,
                               strerror(errno));
        rc = client_poll(c->fd, POLLIN, deadline);
        if (rc == 0) {
            nk__log_fatal("no reply from %s within %gs", c->peer,
                          c->s->timeout);
            return 0;
        }
        if (rc < 0)
            return nk__err_run(err, "poll: %s", strerror(errno));
    }
}

/*
 * One message and its reply.  Returns 1 to go on, 0 when the session has
 * ended (the message was `exit`), -1 with err.
 */
static int
client_exchange(struct client *c, const uint8_t *p, size_t n,
                struct nk_err *err)
{
    int is_exit =
        n == strlen(CLIENT_EXIT_WORD) && memcmp(p, CLIENT_EXIT_WORD, n) == 0;
    int rc;

    if (c->eof)
        return nk__err_run(err, "connection closed by %s", c->peer);
    rc = client_send(c, p, n, err);
    if (rc <= 0)
        return rc < 0 ? -1 : 1;
    c->sent++;
    if (c->transport == NK_TRANSPORT_UDP) {
        rc = client_reply_udp(c, err);
        if (rc == 0)
            c->missed++;
    } else {
        rc = client_reply_tcp(c, err);
        if (rc == 0 && !is_exit)
            return nk__err_run(err, "connection closed by %s", c->peer);
    }
    if (rc < 0)
        return -1;
    return is_exit ? 0 : 1;
}

/* Message mode over standard input: one line, one message.  The newline and
 * a carriage return before it are not part of the message. */
static int
client_lines(struct client *c, struct nk_err *err)
{
    int tty = isatty(STDIN_FILENO), rc = 1;
    char *line = NULL; /* getline's buffer: malloc'd by libc, freed by free */
    size_t cap = 0;

    while (rc > 0) {
        ssize_t len;

        if (tty && write(STDERR_FILENO, "> ", 2) < 0)
            tty = 0;
        errno = 0;
        len = getline(&line, &cap, stdin);
        if (len < 0) {
            if (ferror(stdin))
                rc = nk__err_run(err, "read standard input: %s",
                                 strerror(errno));
            else if (tty && write(STDERR_FILENO, "\n", 1) < 0)
                rc = 0;
            break;
        }
        if (len > 0 && line[len - 1] == '\n')
            len--;
        if (len > 0 && line[len - 1] == '\r')
            len--;
        rc = client_exchange(c, (const uint8_t *)line, (size_t)len, err);
    }
    free(line);
    return rc < 0 ? -1 : 0;
}

/* Message mode: -m TEXT -n N, or the lines of standard input. */
static int
client_messages(struct client *c, struct nk_err *err)
{
    const char *m = c->s->message;
    size_t cap = c->transport == NK_TRANSPORT_UDP ? CLIENT_DGRAM_MAX : 0;
    int rc = 1;

    /* UDP reads a whole datagram at once; TCP's buffer grows on demand. */
    c->sbuf = nk__malloc(2 * NK_HDR_MAX);
    c->rbuf = cap > 0 ? nk__malloc(cap) : NULL;
    if (c->sbuf == NULL || (cap > 0 && c->rbuf == NULL))
        return nk__err_run(err, "out of memory");
    c->scap = 2 * NK_HDR_MAX;
    c->rcap = cap;
    if (m == NULL)
        rc = client_lines(c, err);
    else
        for (long long i = 0; i < c->s->count && rc > 0; i++)
            rc = client_exchange(c, (const uint8_t *)m, strlen(m), err);
    if (rc < 0)
        return -1;
    if (c->missed > 0)
        return nk__err_run(err, "no reply to %lu of %lu messages", c->missed,
                           c->sent);
    return 0;
}

/* ---- the command -------------------------------------------------------- */

static void
client_fini(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    if (c->inst != NULL)
        c->plugin->desc->destroy(c->inst);
    if (c->plugin != NULL)
        nk__plugin_values_free(c->plugin, c->values);
    nk__plugin_close(c->plugin);
    nk__free(c->opts);
    nk__free(c->rbuf);
    nk__free(c->sbuf);
}

int
nk__client_run(struct nk__settings *s, struct nk_err *err)
{
    const char *proto = s->cli.proto != NULL ? s->cli.proto : NK_DEFAULT_PROTO;
    struct client c = {.s = s, .fd = -1, .transport = s->cli.transport};
    double ms = s->timeout * 1000.0;
    int rc;

    c.timeout_ms = ms < 1 ? 1 : ms > INT_MAX ? INT_MAX : (int)ms;
    rc = client_check(s, proto, err);
    if (rc == 0)
        rc = client_plugin(&c, proto, err);
    if (rc == 0)
        rc = client_sockopts(&c, err);
    if (rc == 0)
        rc = client_connect(&c, err);
    if (rc == 0)
        rc = s->stream ? nk__client_stream(c.fd, c.peer,
                                           s->timeout_set ? s->timeout : 0, err)
                       : client_messages(&c, err);
    client_fini(&c);
    return rc;
}
