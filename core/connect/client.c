/*
 * client.c -- `netkit connect`.  See client.h.
 *
 * One connection, so no event loop: the client waits with poll(2) directly.
 * The plugin's codec does all the protocol work (one codec, both
 * directions): encode says what goes before and after each message (a length
 * field, a line's newline), decode says where each received message ends.
 *
 * Over TCP the client polls standard input and the socket together and
 * prints every message the server sends as soon as it is complete: replies,
 * and also a banner sent on connect or messages pushed between replies or
 * while the user is idle (see client_tcp).  Over UDP each message is one
 * datagram and its reply the next datagram, or a missing reply.
 *
 * Where a message ends.  A framed codec says so: a message is complete as
 * soon as decode reports it.  An unframed codec (raw) cannot: its decode
 * takes whatever is buffered, and TCP may deliver a message in several
 * pieces.  So when decode consumes the whole buffer and the payload is the
 * whole buffer -- the mark of a message without framing -- the message is
 * taken to be everything that arrives until the socket has been quiet for
 * CLIENT_QUIET_MS after the last byte.  Known limit: a raw message that
 * pauses longer than that mid-way is printed as two lines, and two raw
 * messages sent closer together than that are printed as one.
 *
 * Messages go one at a time: send, wait for a message back (or --timeout),
 * next.  That keeps raw messages apart, at the price of one round trip per
 * message (plus the quiet interval for raw): fine for a person or a script,
 * not a load generator.
 *
 * The line `exit` ends a session after its reply.  A server may close instead
 * of answering it (raw does): that is the normal end, not an error.
 *
 * What is printed goes to stdout byte for byte, except that a terminal gets
 * control characters and invalid UTF-8 escaped (client_put_escaped), so a
 * server cannot clear the screen or retitle the window.
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
#include "base/unixaddr.h"
#include "connect/client_listen.h"
#include "connect/client_stream.h"
#include "connect/client_tls.h"
#include "connect/hexdump.h"
#include "connect/hints.h"
#include "connect/prompt.h"
#include "connect/source.h"
#include "connect/text.h"
#include "plugin/codec_host.h"
#include "plugin/contract.h"
#include "plugin/loader.h"
#include "base/log.h"
#include "config/sockopt.h"
#include "serve/proxy.h"

/* How long an unframed reply's socket must stay quiet for the reply to be
 * complete.  Loopback and LAN replies arrive in well under this. */
#define CLIENT_QUIET_MS 50

/* After the last reply owed: how long a server that neither closes nor
 * sends may keep the client waiting for late messages. */
#define CLIENT_LINGER_MS 200

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
    uint8_t *ibuf; /* TCP: standard input not yet sent as lines */
    size_t ilen, icap;
    long long left; /* TCP: -m sends left */
    int in_eof;     /* TCP: end of standard input */
    int eof;        /* TCP: the peer closed its side */
    int pending;    /* TCP: an unframed message waits for the quiet */
    int exit_sent;  /* TCP: `exit` went: nothing more is sent */
    int escape;     /* stdout is a terminal: escape what is printed */
    int prompted;   /* TCP: a "> " prompt waits for a line */
    int wipe;       /* TCP: stderr is a terminal: a prompt can be wiped */
    int redraw;     /* TCP, editing: the prompt line must be drawn again */
    struct nk__prompt ed; /* TCP: the line being typed at a terminal */
    int sniff;            /* TCP: the first block of input may make it a pipe */
    int printed;     /* a message has been printed (hints look at the 1st) */
    unsigned owed;   /* TCP: replies owed for messages sent */
    int64_t last_rx; /* TCP: when the last byte came (ms) */
    unsigned long sent, missed; /* UDP: messages sent, replies missed */
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
    int udp = s->cli.transport == NK_TRANSPORT_UDP;

    if (s->crlf && strcmp(proto, "raw") != 0 && strcmp(proto, "line") != 0)
        return nk__err_set(err, "-C works with the raw and line plugins "
                                "only (a framed message has no line end)");
    if (s->probe && (s->message != NULL || s->stream || udp || s->listen))
        return nk__err_set(err, "-z only connects: it takes no -m, "
                                "--stream, -u or --listen (a UDP port "
                                "cannot be probed without an answer)");
    if (s->listen != NULL) {
        if (s->message != NULL || udp || s->proxy_header || s->source != NULL ||
            s->source_port != 0)
            return nk__err_set(err, "--listen is a TCP byte pipe: it takes "
                                    "no -m, -u, --proxy-protocol, -s or "
                                    "--source-port");
        if (strcmp(proto, "raw") != 0)
            return nk__err_set(err, "--listen works with the raw plugin "
                                    "only (for a protocol: netkit serve)");
        return 0;
    }
    if (s->host == NULL || (s->port == NULL && !nk__unix_is(s->host)))
        return nk__err_set(err, "connect needs HOST PORT");
    if (nk__unix_is(s->host) &&
        (s->proxy_header || s->source != NULL || s->source_port != 0))
        return nk__err_set(err, "a unix socket takes no --proxy-protocol, "
                                "-s or --source-port");
    if (s->count < 1)
        return nk__err_set(err, "-n %lld: expected at least 1", s->count);
    if (s->proxy_header && s->cli.transport == NK_TRANSPORT_UDP)
        return nk__err_set(err, "--proxy-protocol works over tcp only");
    if (s->tls_client && s->cli.transport == NK_TRANSPORT_UDP)
        return nk__err_set(err, "--tls works over tcp only (DTLS is not "
                                "supported)");
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
    su.host = &nk__codec_host;
    su.opts = c->values;
    su.transport = c->transport;
    su.max_message = ((size_t)1 << 20) + 2 * NK_HDR_MAX;
    su.role = NK_ROLE_CONNECT;
    su.workers = 1;
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
    if (c->s->source != NULL || c->s->source_port != 0) {
        rc = nk__client_bind_source(fd, ai->ai_family, ai->ai_socktype,
                                    c->s->source, c->s->source_port, err);
        if (rc != 0) {
            close(fd);
            errno = EAFNOSUPPORT;
            return rc < 0 ? -2 : -1;
        }
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

/* --proxy-protocol: the PROXY header, before any other byte, carrying
 * this connection's own addresses (source: ours, destination: the
 * server's), as a load balancer would send it. */
static int
client_proxy_header(struct client *c, struct nk_err *err)
{
    struct sockaddr_storage src, dst;
    socklen_t slen = sizeof(src), dlen = sizeof(dst);
    uint8_t hdr[NK_PROXY_V1_MAX + 64];
    int64_t deadline = client_now_ms() + c->timeout_ms;
    size_t off = 0;
    int n;

    if (getsockname(c->fd, (struct sockaddr *)&src, &slen) < 0 ||
        getpeername(c->fd, (struct sockaddr *)&dst, &dlen) < 0)
        return nk__err_run(err, "PROXY header: %s", strerror(errno));
    n = c->s->proxy_header == 1
            ? nk__proxy_build_v1((struct sockaddr *)&src,
                                 (struct sockaddr *)&dst, (char *)hdr,
                                 sizeof(hdr))
            : nk__proxy_build_v2((struct sockaddr *)&src,
                                 (struct sockaddr *)&dst, SOCK_STREAM, hdr,
                                 sizeof(hdr));
    if (n < 0)
        return nk__err_run(err, "PROXY header: cannot build one for %s",
                           c->peer);
    while (off < (size_t)n) {
        ssize_t w = send(c->fd, hdr + off, (size_t)n - off, MSG_NOSIGNAL);
        if (w > 0) {
            nk__hexdump_sent(hdr + off, (size_t)w);
            off += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (client_poll(c->fd, POLLOUT, deadline) <= 0)
                return nk__err_run(err, "PROXY header to %s: timed out",
                                   c->peer);
        } else {
            return nk__err_run(err, "PROXY header to %s: %s", c->peer,
                               strerror(errno));
        }
    }
    nk__log(NK_LOG_DEBUG, "Sent a PROXY v%d header (%d bytes)",
            c->s->proxy_header, n);
    return 0;
}

/* unix:/path or unix:@name, stream or datagram.  A datagram socket binds
 * an autobound abstract name first: the server answers to it. */
static int
client_connect_unix(struct client *c, struct nk_err *err)
{
    struct addrinfo ai = {0};
    struct sockaddr_storage ss;
    socklen_t len;
    struct sockaddr_storage any = {.ss_family = AF_UNIX}; /* autobind */

    nk__unix_parse(c->s->host, &ss, &len); /* checked on the command line */
    ai.ai_family = AF_UNIX;
    ai.ai_socktype =
        c->transport == NK_TRANSPORT_UDP ? SOCK_DGRAM : SOCK_STREAM;
    ai.ai_addr = (struct sockaddr *)&ss;
    ai.ai_addrlen = len;
    snprintf(c->peer, sizeof(c->peer), "%s", c->s->host);
    if (c->transport == NK_TRANSPORT_UDP) {
        /* client_open binds nothing for AF_UNIX: do it on a probe first. */
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        if (fd < 0 ||
            bind(fd, (struct sockaddr *)&any, sizeof(sa_family_t)) < 0 ||
            connect(fd, ai.ai_addr, ai.ai_addrlen) < 0) {
            int saved = errno;

            if (fd >= 0)
                close(fd);
            return nk__err_run(err, "connect %s: %s", c->peer, strerror(saved));
        }
        c->fd = fd;
    } else {
        c->fd = client_open(c, &ai, c->peer, err);
        if (c->fd == -2) {
            c->fd = -1;
            return -1;
        }
        if (c->fd < 0)
            return nk__err_run(err, "connect %s: %s", c->peer, strerror(errno));
    }
    nk__log(NK_LOG_INFO, "Connect to %s", c->peer);
    return 0;
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

    if (nk__unix_is(c->s->host))
        return client_connect_unix(c, err);
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
        /* The last one is the error itself: said once, not twice. */
        if (ai->ai_next != NULL)
            nk__log(NK_LOG_DEBUG, "connect %s: %s", where, strerror(saved));
    }
    freeaddrinfo(res);
    if (c->fd == -2) {
        c->fd = -1;
        return -1;
    }
    if (c->fd < 0) {
        if (saved == EAFNOSUPPORT && c->s->source != NULL)
            return nk__err_run(err,
                               "connect %s: no address of %s is of the "
                               "family of -s %s",
                               where, c->s->host, c->s->source);
        return nk__err_run(err, "connect %s: %s", where, strerror(saved));
    }
    memcpy(c->peer, where, sizeof(c->peer));
    nk__log(NK_LOG_INFO, "Connect to %s", c->peer);
    if (c->s->proxy_header && client_proxy_header(c, err) < 0)
        return -1;
    /* TLS after the PROXY header, which a balancer sends in the clear. */
    return c->s->tls_client
               ? nk__client_tls(c->s, c->peer, c->timeout_ms, &c->fd, err)
               : 0;
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
    /* -C: raw's message gets CR LF, line's a CR before the codec's LF. */
    const char *eol = !c->s->crlf                            ? ""
                      : strcmp(c->plugin->name, "line") == 0 ? "\r"
                                                             : "\r\n";
    size_t neol = strlen(eol);
    struct nk_wrap w;
    size_t total, off = 0;
    int rc = nk__plugin_encode(c->plugin->desc, c->inst, n + neol, &w);

    if (rc < 0)
        return nk__err_run(err, "message of %zu bytes: %s", n, nk_strerror(rc));
    total = w.head_len + n + neol + w.tail_len;
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
    memcpy(c->sbuf, nk__wrap_head(&w), w.head_len);
    if (n > 0)
        memcpy(c->sbuf + w.head_len, p, n);
    memcpy(c->sbuf + w.head_len + n, eol, neol);
    memcpy(c->sbuf + w.head_len + n + neol, nk__wrap_tail(&w), w.tail_len);
    while (off < total) {
        ssize_t sent = send(c->fd, c->sbuf + off, total - off, MSG_NOSIGNAL);

        if (sent >= 0) {
            nk__hexdump_sent(c->sbuf + off, (size_t)sent);
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

/* ---- printing ----------------------------------------------------------- */

/*
 * Write a payload for a terminal, showing instead of sending what the
 * terminal would act on, as `cat -v` and `less` do: C0 controls other than
 * tab and newline, and DEL, as ^@ .. ^_ and ^? (ESC is ^[, CR is ^M); C1
 * controls (U+0080..U+009F, which some terminals obey) as <U+009B>; a byte
 * that is not part of well-formed UTF-8 as <FF>.  Printable ASCII, tab,
 * newline and well-formed UTF-8 pass as they are.  Returns 0, or -1 with
 * errno.
 */
static int
client_put_escaped(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t b = p[i];
        uint32_t cp = 0;
        size_t len = 1;
        int rc;

        if (b == '\t' || b == '\n' || (b >= 0x20 && b < 0x7f))
            rc = putchar(b);
        else if (b < 0x20 || b == 0x7f)
            rc = printf("^%c", b ^ 0x40);
        else if ((len = nk__utf8_len(p + i, n - i, &cp)) == 0)
            rc = printf("<%02X>", (unsigned)b), len = 1;
        else if (cp < 0xa0)
            rc = printf("<U+%04X>", (unsigned)cp);
        else
            rc = fwrite(p + i, 1, len, stdout) == len ? 0 : EOF;
        if (rc < 0)
            return -1;
        i += len;
    }
    return 0;
}

/*
 * Print one message's payload on its own line, then drop its `used` bytes
 * from the receive buffer.  To a terminal the payload is escaped (see
 * client_put_escaped); to a pipe or a file it goes byte for byte.
 */
static int
client_print(struct client *c, const struct nk_frame *f, size_t used,
             struct nk_err *err)
{
    int bad;

    /* A message that comes while the prompt waits takes its place; the
     * prompt is shown again below it. */
    if (c->ed.on) {
        nk__prompt_clear(&c->ed);
        c->redraw = 1;
    } else if (c->prompted) {
        c->prompted = 0;
        if (c->wipe && write(STDERR_FILENO, "\r  \r", 4) < 0)
            c->wipe = 0;
    }
    if (c->escape)
        bad = client_put_escaped(f->payload, f->payload_len) < 0;
    else
        bad = f->payload_len > 0 &&
              fwrite(f->payload, 1, f->payload_len, stdout) != f->payload_len;
    if (bad || putchar('\n') == EOF || fflush(stdout) == EOF)
        return nk__err_run(err, "write to standard output: %s",
                           strerror(errno));
    if (!c->printed++) {
        const char *hint =
            nk__hint_first(c->plugin->name, f->payload, f->payload_len);

        if (hint != NULL)
            nk__log(NK_LOG_WARN, "The first reply from %s: %s", c->peer, hint);
    }
    if (c->transport == NK_TRANSPORT_TCP) {
        memmove(c->rbuf, c->rbuf + used, c->rlen - used);
        c->rlen -= used;
    }
    return 1;
}

/* ---- message mode over UDP ---------------------------------------------- */

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
            nk__hexdump_received(c->rbuf, (size_t)r);
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

/* The message is the exit word. */
static int
client_is_exit(const uint8_t *p, size_t n)
{
    return n == strlen(CLIENT_EXIT_WORD) && memcmp(p, CLIENT_EXIT_WORD, n) == 0;
}

/*
 * One datagram and its reply.  Returns 1 to go on, 0 when the session has
 * ended (the message was `exit`), -1 with err.
 */
static int
client_exchange_udp(struct client *c, const uint8_t *p, size_t n,
                    struct nk_err *err)
{
    int rc = client_send(c, p, n, err);

    if (rc < 0)
        return -1;
    c->sent++;
    rc = client_reply_udp(c, err);
    if (rc == 0)
        c->missed++;
    if (rc < 0)
        return -1;
    return client_is_exit(p, n) ? 0 : 1;
}

/* UDP over standard input: one line, one datagram, one reply.  The newline
 * and a carriage return before it are not part of the message. */
static int
client_lines_udp(struct client *c, struct nk_err *err)
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
        rc = client_exchange_udp(c, (const uint8_t *)line, (size_t)len, err);
    }
    free(line);
    return rc < 0 ? -1 : 0;
}

/* ---- message mode over TCP ---------------------------------------------- */

/*
 * Take what the TCP peer sent so far, without waiting: one recv.  Sets
 * c->eof when the stream ended (a reset counts as the peer closing: either
 * way nothing more is coming).  The buffer grows up to the instance's
 * max_message.  Returns 0, or -1 with err.
 */
static int
client_recv(struct client *c, struct nk_err *err)
{
    for (;;) {
        ssize_t r;

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
            nk__hexdump_received(c->rbuf + c->rlen, (size_t)r);
            c->rlen += (size_t)r;
            c->last_rx = client_now_ms();
            return 0;
        }
        if (r == 0 || errno == ECONNRESET) {
            c->eof = 1;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return nk__err_run(err, "recv from %s: %s", c->peer, strerror(errno));
    }
}

/* Add to err a hint about the protocol, from what was received and not
 * decoded (nothing, when no byte came), unless a message was already
 * printed: then the protocol worked.  Returns -1. */
static int
client_hint(const struct client *c, int closed, struct nk_err *err)
{
    if (!c->printed)
        nk__hint_add(err,
                     nk__hint_reply(c->plugin->name, c->rbuf, c->rlen, closed));
    return -1;
}

/*
 * Print every message the receive buffer holds, in order: the decode loop.
 * A framed message is complete as soon as decode reports it; an unframed
 * one (decode took the whole buffer as the payload) once the socket has been
 * quiet for CLIENT_QUIET_MS, or the peer closed, or `force`.  Each message
 * printed settles one reply owed, if any is.  Sets c->pending when an
 * unframed message waits for the quiet.  Returns how many were printed, or
 * -1 with err.
 */
static int
client_drain(struct client *c, int force, struct nk_err *err)
{
    int printed = 0;

    c->pending = 0;
    while (c->rlen > 0) {
        struct nk_frame f = {0};
        long n = c->plugin->desc->decode(c->inst, c->rbuf, c->rlen, &f);

        if (n > 0 && (size_t)n > c->rlen)
            return nk__err_run(err, "plugin %s: decode overran its input",
                               c->plugin->name);
        if (n > 0) {
            int whole = (size_t)n == c->rlen && f.payload == c->rbuf &&
                        f.payload_len == c->rlen;

            if (whole && !force && !c->eof &&
                client_now_ms() - c->last_rx < CLIENT_QUIET_MS) {
                c->pending = 1;
                break;
            }
            if (client_print(c, &f, (size_t)n, err) < 0)
                return -1;
            printed++;
            if (c->owed > 0)
                c->owed--;
            continue;
        }
        if (n != NK_ENEEDMORE) {
            nk__err_run(err, "bad reply from %s: %s", c->peer,
                        nk_strerror(n == 0 ? NK_EPROTO : (int)n));
            return client_hint(c, 0, err);
        }
        if (f.need > c->max_message) {
            nk__err_run(err,
                        "reply from %s: %zu bytes is over the "
                        "limit of %zu",
                        c->peer, f.need, c->max_message);
            return client_hint(c, 0, err);
        }
        break;
    }
    return printed;
}

/* A whole line of standard input is buffered. */
static int
client_line_ready(const struct client *c)
{
    return c->ilen > 0 && (c->in_eof || memchr(c->ibuf, '\n', c->ilen) != NULL);
}

/*
 * The next message to send, if one is ready: -m's text while sends are
 * left, else the next line of standard input (without its newline and a
 * carriage return before it; at end of input, an unfinished last line).
 * Sets *p and *n, and *used to the input bytes it takes.  Returns 1, or 0
 * when no message is ready.
 */
static int
client_next(const struct client *c, const uint8_t **p, size_t *n, size_t *used)
{
    const uint8_t *nl;
    size_t len;

    if (c->s->message != NULL) {
        if (c->left == 0)
            return 0;
        *p = (const uint8_t *)c->s->message;
        *n = strlen(c->s->message);
        *used = 0;
        return 1;
    }
    if (!client_line_ready(c))
        return 0;
    nl = memchr(c->ibuf, '\n', c->ilen);
    len = nl != NULL ? (size_t)(nl - c->ibuf) : c->ilen;
    *used = nl != NULL ? len + 1 : len;
    if (len > 0 && c->ibuf[len - 1] == '\r')
        len--;
    *p = c->ibuf;
    *n = len;
    return 1;
}

/* Drop the message client_next gave from where it came. */
static void
client_took(struct client *c, size_t used)
{
    if (c->s->message != NULL) {
        c->left--;
        return;
    }
    memmove(c->ibuf, c->ibuf + used, c->ilen - used);
    c->ilen -= used;
}

/* Every message has been sent: -m's count, end of input, or `exit`. */
static int
client_all_sent(const struct client *c)
{
    if (c->exit_sent)
        return 1;
    if (c->s->message != NULL)
        return c->left == 0;
    return c->in_eof && c->ilen == 0;
}

/* Read what standard input has (it was readable).  Returns 0, or -1 with
 * err; sets c->in_eof at end of input. */
static int
client_read_stdin(struct client *c, struct nk_err *err)
{
    ssize_t r;

    if (c->ilen == c->icap) {
        size_t cap = c->icap ? c->icap * 2 : CLIENT_RBUF_MIN;
        uint8_t *grown = nk__realloc(c->ibuf, cap);

        if (grown == NULL)
            return nk__err_run(err, "out of memory");
        c->ibuf = grown;
        c->icap = cap;
    }
    r = read(STDIN_FILENO, c->ibuf + c->ilen, c->icap - c->ilen);
    if (r > 0)
        c->ilen += (size_t)r;
    else if (r == 0)
        c->in_eof = 1;
    else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
        return nk__err_run(err, "read standard input: %s", strerror(errno));
    return 0;
}

/*
 * The peer closed.  The normal end when nothing was owed or the last
 * message was `exit` (a raw server closes instead of answering it); an
 * error when a reply was owed, a message was still to go, or a message was
 * cut short.
 */
static int
client_closed(struct client *c, struct nk_err *err)
{
    int unsent = c->s->message != NULL ? c->left > 0 : client_line_ready(c);

    if (c->rlen > 0 || (!c->exit_sent && (c->owed > 0 || unsent))) {
        nk__err_run(err, "connection closed by %s", c->peer);
        return client_hint(c, 1, err);
    }
    if (!client_all_sent(c))
        nk__log(NK_LOG_INFO, "Connection closed by %s", c->peer);
    return 0;
}

static int64_t
client_min(int64_t a, int64_t b)
{
    return a < 0 || b < a ? b : a;
}

/* A line typed at the terminal (nk__prompt_feed): queued as if read. */
static int
client_typed(void *arg, const char *s, size_t len)
{
    struct client *c = arg;

    if (c->ilen + len + 1 > c->icap) {
        size_t cap = c->ilen + len + 1 + CLIENT_RBUF_MIN;
        uint8_t *grown = nk__realloc(c->ibuf, cap);

        if (grown == NULL)
            return -1;
        c->ibuf = grown;
        c->icap = cap;
    }
    memcpy(c->ibuf + c->ilen, s, len);
    c->ibuf[c->ilen + len] = '\n';
    c->ilen += len + 1;
    return 0;
}

/* Keys from the terminal, edited (see prompt.h). */
static int
client_read_keys(struct client *c, struct nk_err *err)
{
    uint8_t keys[256];
    ssize_t r = read(STDIN_FILENO, keys, sizeof(keys));
    int eof = 0;

    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (r < 0 && errno != EIO)
        return nk__err_run(err, "read standard input: %s", strerror(errno));
    if (r <= 0) { /* the terminal hung up */
        c->in_eof = 1;
        return 0;
    }
    if (nk__prompt_feed(&c->ed, keys, (size_t)r, client_typed, c, &eof) < 0)
        return nk__err_run(err, "out of memory");
    c->redraw = 1;
    if (eof) {
        c->in_eof = 1;
        /* End the prompt's line; a terminal gone needs nothing more. */
        ssize_t w = write(STDERR_FILENO, "\n", 1);

        (void)w;
        c->ed.drawn = 0;
    }
    return 0;
}

/*
 * Message mode over TCP: one poll over standard input and the socket, so
 * that whatever the server sends -- replies, a banner, pushed messages -- is
 * printed as soon as it is complete, whether or not a reply is owed.
 *
 * Messages still go one at a time: the next is sent once the previous one
 * has been answered (any message received settles the reply owed; the
 * client cannot tell a reply from a push), which keeps unframed messages
 * apart on the wire.  The first waits CLIENT_QUIET_MS after connecting, so
 * that a banner sent on connect comes out first.  A reply owed for
 * --timeout is an error.
 *
 * When everything has been sent and answered (end of input, -n reached, or
 * `exit`), the client goes on printing until the server closes, or has been
 * silent for CLIENT_LINGER_MS, or --timeout has passed: a server that
 * answers or pushes late, or that sent a push the client took for a reply,
 * is still heard.  It does not half-close (shutdown SHUT_WR) first: it
 * knows how many replies it was owed and has had them, so the server need
 * not be told that input ended -- and a naive one misreads that end (a
 * framed server whose recv returns 0 bytes reads a length of 0 and answers
 * it, again and again).  The connection is closed at the end instead.
 * Half-closing belongs to --stream, where the end of input is the message.
 */
static int
client_tcp_loop(struct client *c, int tty, struct nk_err *err)
{
    int64_t hold = client_now_ms() + CLIENT_QUIET_MS, sent_at = 0, done_at = -1;

    for (;;) {
        struct pollfd pf[2];
        const uint8_t *p;
        size_t n, used;
        int64_t now, wake = -1;
        int rc, want_in;

        rc = client_drain(c, 0, err);
        if (rc < 0)
            return -1;
        if (c->eof) {
            nk__prompt_clear(&c->ed); /* the log line takes its place */
            return client_closed(c, err);
        }
        now = client_now_ms();
        if (c->owed > 0 && now >= sent_at + c->timeout_ms) {
            if (!c->pending) {
                nk__err_run(err, "no reply from %s within %gs", c->peer,
                            c->s->timeout);
                return client_hint(c, 0, err);
            }
            if (client_drain(c, 1, err) < 0) /* an unframed reply as is */
                return -1;
            continue;
        }
        if (c->owed == 0 && !c->exit_sent && !c->pending && now >= hold &&
            client_next(c, &p, &n, &used)) {
            int is_exit = client_is_exit(p, n);

            rc = client_send(c, p, n, err);
            if (rc < 0)
                return -1;
            if (rc > 0) {
                c->owed++;
                sent_at = client_now_ms();
            }
            client_took(c, used);
            c->exit_sent = is_exit;
            continue;
        }
        if (c->owed == 0 && client_all_sent(c)) {
            int64_t end;

            if (done_at < 0)
                done_at = now;
            end = (c->last_rx > done_at ? c->last_rx : done_at) +
                  CLIENT_LINGER_MS;
            if (end > done_at + c->timeout_ms)
                end = done_at + c->timeout_ms;
            if (now >= end)
                return client_drain(c, 1, err) < 0 ? -1 : 0;
            wake = end;
        }
        if (c->owed > 0)
            wake = client_min(wake, sent_at + c->timeout_ms);
        if (c->pending)
            wake = client_min(wake, c->last_rx + CLIENT_QUIET_MS);
        if (now < hold)
            wake = client_min(wake, hold);
        want_in = c->s->message == NULL && !c->in_eof && c->owed == 0 &&
                  !c->exit_sent && !client_line_ready(c);
        if (c->ed.on) {
            /* Keys are read (and shown) while a reply is owed too; the
             * prompt says when the next line would go at once. */
            if (c->redraw || want_in != c->ed.shown)
                nk__prompt_draw(&c->ed, want_in);
            c->redraw = 0;
            want_in = !c->in_eof && !c->exit_sent;
        } else if (tty && want_in && !c->prompted) {
            if (write(STDERR_FILENO, "> ", 2) < 0)
                tty = 0;
            c->prompted = 1;
        }
        pf[0] = (struct pollfd){.fd = want_in ? STDIN_FILENO : -1,
                                .events = POLLIN};
        pf[1] = (struct pollfd){.fd = c->fd, .events = POLLIN};
        rc = poll(pf, 2, wake < 0 ? -1 : client_left(wake));
        if (rc < 0 && errno != EINTR)
            return nk__err_run(err, "poll: %s", strerror(errno));
        if (rc <= 0)
            continue;
        if (pf[0].revents != 0 && c->ed.on) {
            if (client_read_keys(c, err) < 0)
                return -1;
        } else if (pf[0].revents != 0) {
            if (client_read_stdin(c, err) < 0)
                return -1;
            /* Nothing has been sent yet: a binary file makes the session a
             * byte pipe (nk__client_run). */
            if (c->sniff && c->ilen > 0) {
                c->sniff = 0;
                if (nk__text_is_binary(c->ibuf, c->ilen))
                    return 2;
            }
            c->prompted = 0; /* the line typed ended the prompt's line */
            if (c->in_eof && tty && write(STDERR_FILENO, "\n", 1) < 0)
                tty = 0;
        }
        if (pf[1].revents != 0 && client_recv(c, err) < 0)
            return -1;
    }
}

/* Message mode over TCP: on a terminal (standard input and standard error)
 * the line is edited here, so that messages print above it (prompt.h). */
static int
client_tcp(struct client *c, struct nk_err *err)
{
    int tty = c->s->message == NULL && isatty(STDIN_FILENO);
    int rc;

    c->wipe = tty && isatty(STDERR_FILENO);
    if (c->wipe && nk__prompt_start(&c->ed) == 0)
        c->redraw = 1;
    rc = client_tcp_loop(c, tty, err);
    if (c->ed.on) {
        nk__prompt_clear(&c->ed);
        nk__prompt_stop(&c->ed);
    }
    return rc;
}

/* Message mode: -m TEXT -n N, or the lines of standard input.  Returns 0,
 * -1 with err, or 2 when standard input turned out to be binary (see
 * nk__client_run). */
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
    c->left = c->s->count;
    c->escape = isatty(STDOUT_FILENO);
    c->sniff = m == NULL && !c->s->crlf && !isatty(STDIN_FILENO) &&
               strcmp(c->plugin->name, "raw") == 0;
    if (c->transport == NK_TRANSPORT_TCP)
        return client_tcp(c, err);
    if (m == NULL)
        rc = client_lines_udp(c, err);
    else
        for (long long i = 0; i < c->s->count && rc > 0; i++)
            rc = client_exchange_udp(c, (const uint8_t *)m, strlen(m), err);
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
    if (c->s->tls_client)
        nk__client_tls_end();
    if (c->inst != NULL)
        c->plugin->desc->destroy(c->inst);
    if (c->plugin != NULL)
        nk__plugin_values_free(c->plugin, c->values);
    nk__plugin_close(c->plugin);
    nk__free(c->opts);
    nk__free(c->rbuf);
    nk__free(c->sbuf);
    nk__free(c->ibuf);
}

/*
 * Raw over TCP, standard input not a terminal, and its first block binary
 * (a NUL byte, or bytes that are not UTF-8): a file, not lines typed or
 * scripted.  Cutting it at its newline bytes, adding a newline to each
 * reply and waiting for one per line would corrupt it and take a round trip
 * per line, so the session becomes what nc gives: --stream's byte pipe,
 * starting with what was already read and received.  A text pipe keeps
 * message mode (scripts that send lines and read one reply per line, the
 * `exit` word); --stream makes any input a byte pipe.
 */
static int
client_pipe(struct client *c, struct nk_err *err)
{
    const struct nk__settings *s = c->s;
    struct nk__client_pre pre = {c->ibuf, c->ilen, c->in_eof,
                                 c->rbuf, c->rlen, 0};

    nk__log(NK_LOG_INFO, "Standard input is binary: piping bytes as "
                         "--stream does");
    return nk__client_stream(c->fd, c->peer, s->timeout_set ? s->timeout : 0,
                             &pre, err);
}

int
nk__client_run(struct nk__settings *s, struct nk_err *err)
{
    const char *proto = s->cli.proto != NULL ? s->cli.proto : NK_DEFAULT_PROTO;
    struct client c = {.s = s, .fd = -1, .transport = s->cli.transport};
    double ms = s->timeout * 1000.0;
    int rc;

    c.timeout_ms = ms < 1 ? 1 : ms > INT_MAX ? INT_MAX : (int)ms;
    if (s->hexdump)
        nk__hexdump_enable();
    rc = client_check(s, proto, err);
    if (rc == 0 && s->listen != NULL)
        return nk__client_listen(s, err);
    if (rc == 0)
        rc = client_plugin(&c, proto, err);
    if (rc == 0)
        rc = client_sockopts(&c, err);
    if (rc == 0)
        rc = client_connect(&c, err);
    if (rc == 0 && s->probe) {
        nk__log(NK_LOG_INFO, "Port %s is open", c.peer);
        client_fini(&c);
        return 0;
    }
    if (rc == 0 && !s->stream)
        rc = client_messages(&c, err);
    if (rc == 2)
        rc = client_pipe(&c, err);
    else if (rc == 0 && s->stream)
        rc = nk__client_stream(c.fd, c.peer, s->timeout_set ? s->timeout : 0,
                               &(struct nk__client_pre){.crlf = s->crlf}, err);
    client_fini(&c);
    return rc;
}
