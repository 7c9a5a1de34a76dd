/*
 * upper.c -- an example netkit plugin, built outside the netkit tree against
 * the installed headers (see CMakeLists.txt or Makefile beside it, and
 * docs/plugin-guide.md, which walks through this file).
 *
 * Protocol: text lines.  A message is the bytes up to and including "\n";
 * each line is answered with the same line upper-cased (ASCII letters only,
 * so the answer does not depend on the server's locale).  "hello\n" is
 * answered "HELLO\n", and "a\r\n" is answered "A\r\n": only the "\n" ends a
 * line, the "\r" is payload.
 *
 * Limit: a line longer than `max_line` bytes, its newline included, closes
 * the connection.  A line has no header announcing its length, so the host
 * cannot refuse it early from frame->need; decode refuses it itself as soon
 * as max_line bytes have arrived without a newline.
 *
 * The one codec frames both directions: encode puts the "\n" after every
 * message, so the replies sent here and the requests of
 * `netkit connect -p upper` are lines alike, and decode reports a line's
 * payload without it.
 *
 * Over UDP a datagram is one line, with or without its newline (nc -u
 * sends one; a script may not), and is answered with one datagram.
 */
#include <stdlib.h>
#include <string.h>

#include <netkit/plugin.h>

enum { OPT_MAX_LINE };

static const struct nk_option upper_options[] = {
    [OPT_MAX_LINE] = {.name = "max_line",
                      .type = NK_OPT_SIZE,
                      .def = "4k",
                      .help = "longest line accepted, newline included; "
                              "a longer one closes the connection",
                      .min = 1,
                      .max = 1024 * 1024},
    {.name = NULL},
};

/* One instance per listener.  All its callbacks run on one thread, so the
 * reply buffer can be shared by every connection of the listener. */
struct upper {
    const struct nk_host *host;
    int udp; /* serving UDP: a datagram is one line */
    size_t max_line;
    char *reply; /* max_line bytes: one upper-cased line (encode adds the
                    newline) */
};

static void
upper_destroy(void *inst)
{
    struct upper *u = inst;

    if (u == NULL)
        return;
    free(u->reply);
    free(u);
}

/* The option values are borrowed for this call: keep the number, not the
 * nk_value. */
static int
upper_create(struct nk_setup *su)
{
    struct upper *u = calloc(1, sizeof(*u));

    if (u == NULL)
        return NK_ENOMEM;
    u->host = su->host;
    u->udp = su->transport == NK_TRANSPORT_UDP;
    u->max_line = (size_t)su->opts[OPT_MAX_LINE].num;
    u->reply = malloc(u->max_line);
    if (u->reply == NULL) {
        upper_destroy(u);
        return NK_ENOMEM;
    }
    /* Tell the host the largest message this instance will ever take, so
     * it sizes and bounds its buffers for this listener accordingly. */
    su->max_message = u->max_line;
    su->inst = u;
    return 0;
}

/*
 * A line ends at the first "\n".  Only the first max_line bytes are
 * searched: a newline past them would end a line that is already too long.
 * Keeps no state between calls (the host may offer the same bytes again),
 * which costs a rescan of a partial line on each read -- at most max_line
 * bytes each time.
 */
static long
upper_decode(void *inst, const uint8_t *buf, size_t len, struct nk_frame *f)
{
    const struct upper *u = inst;
    const uint8_t *nl =
        memchr(buf, '\n', len < u->max_line ? len : u->max_line);

    if (nl == NULL && u->udp && len <= u->max_line)
        nl = buf + len; /* a datagram is one line, newline or not */
    if (nl == NULL) {
        f->need = 0; /* a line does not say how long it will be */
        return len < u->max_line ? NK_ENEEDMORE : NK_EFRAMETOOBIG;
    }
    f->payload = buf;
    f->payload_len = (size_t)(nl - buf); /* the newline is not payload */
    return nl < buf + len ? (long)f->payload_len + 1 : (long)len;
}

/* A line has no head; its tail is the newline that decode takes off. */
static int
upper_encode(void *inst, size_t payload_len, struct nk_wrap *w)
{
    (void)inst, (void)payload_len;
    w->tail[0] = '\n';
    w->tail_len = 1;
    return 0;
}

static int
upper_open(void *inst, struct nk_session *s)
{
    const struct upper *u = inst;

    u->host->log(s, NK_LOG_DEBUG, "upper: new client %s",
                 u->host->peer_name(s));
    return 0;
}

/* Upper-case into the instance's buffer and send it; the host asks encode
 * for the newline.  send copies or writes the bytes before it returns, so
 * the buffer is free again at once. */
static int
upper_message(void *inst, struct nk_session *s, const uint8_t *p, size_t n)
{
    struct upper *u = inst;
    struct iovec iov = {u->reply, n};

    for (size_t i = 0; i < n; i++)
        u->reply[i] =
            (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 'a' + 'A' : p[i]);
    return u->host->send(s, &iov, 1);
}

static const struct nk_plugin upper_plugin =
    NK_PLUGIN_INIT(.name = "upper", .version = "1.0.0",
                   .summary = "line protocol: each line answered upper-cased",
                   .transports = NK_TRANSPORT_TCP | NK_TRANSPORT_UDP,
                   .options = upper_options, .create = upper_create,
                   .destroy = upper_destroy, .decode = upper_decode,
                   .encode = upper_encode, .on_open = upper_open,
                   .on_message = upper_message);

NK_PLUGIN_DEFINE(upper_plugin)
