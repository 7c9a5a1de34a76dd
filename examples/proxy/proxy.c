/*
 * proxy.c -- a TCP relay: every client connection gets a connection of
 * its own to the backend, and bytes go both ways unchanged.  The worked
 * example of plugin ABI 1.2 (docs/plugin-guide.md, "Streams and flow
 * control"); built outside the netkit tree against the installed headers
 * (CMakeLists.txt or Makefile beside it).
 *
 *   netkit serve -L DIR -p proxy -P 8000 -O backend_host=db.example \
 *       -O backend_port=6379
 *
 * What it shows:
 *   - a backend by host name (host->connect looks it up off the loop) with
 *     a connect timeout (nk_setup.connect_timeout_ms): a client whose
 *     backend cannot be reached is closed;
 *   - back-pressure both ways: when one side's output passes its high
 *     watermark (on_writable(s, 0)), the other side is paused
 *     (pause_read), and resumed once the output is back at the low
 *     watermark.  A paused socket is not read, so TCP flow control stops
 *     the sender: a backend that never reads makes the client's writes
 *     block, and netkit holds at most about high_water bytes per side;
 *   - half-close passed through (NK_PLUGIN_HALF_CLOSE): a side's end of
 *     input (on_eof) becomes a shutdown of the other side's output
 *     (shutdown_write), so a client that sends, half-closes and waits gets
 *     the backend's answer; the pair is over when both directions are;
 *   - a pending connect cancelled by close_to when the client leaves
 *     first: on_connect then says NK_ECANCELED, and nothing the client
 *     sent is written to the backend.
 *
 * The codec is the raw one: a message is whatever one read brought.  The
 * client and its backend session run on one worker (connect opens the
 * connection on the caller's worker), so the instance needs no locks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netkit/plugin.h>

enum { OPT_HOST, OPT_PORT, OPT_TIMEOUT, OPT_HIGH, OPT_LOW };

static const struct nk_option proxy_options[] = {
    [OPT_HOST] = {.name = "backend_host",
                  .type = NK_OPT_STRING,
                  .def = "127.0.0.1",
                  .help = "backend: an IP address or a host name"},
    [OPT_PORT] = {.name = "backend_port",
                  .type = NK_OPT_INT,
                  .def = "6379",
                  .help = "backend TCP port",
                  .min = 1,
                  .max = 65535},
    [OPT_TIMEOUT] = {.name = "connect_timeout_ms",
                     .type = NK_OPT_INT,
                     .def = "5000",
                     .help = "how long connecting to the backend may take "
                             "(0: as long as the kernel tries)",
                     .min = 0,
                     .max = 3600000},
    [OPT_HIGH] = {.name = "high_water",
                  .type = NK_OPT_SIZE,
                  .def = "256k",
                  .help = "output queued for one side past which the "
                          "other side is no longer read",
                  .min = 2,
                  .max = 64 * 1024 * 1024},
    [OPT_LOW] = {.name = "low_water",
                 .type = NK_OPT_SIZE,
                 .def = "64k",
                 .help = "output queued at which the other side is read "
                         "again (below high_water)",
                 .min = 1,
                 .max = 64 * 1024 * 1024},
    {.name = NULL},
};

struct proxy {
    const struct nk_host *host;
    struct nk_ctx *ctx;
    char backend_host[256];
    char backend_port[8];
};

/* A client and its backend session; each session's data points here. */
struct pair {
    nk_sid client, backend;
    int refs; /* sessions that still owe their last callback */
};

static int
proxy_create(struct nk_setup *su)
{
    struct proxy *px;

    if (su->opts[OPT_LOW].num >= su->opts[OPT_HIGH].num) {
        snprintf(su->err, sizeof(su->err),
                 "low_water (%lld) must be below high_water (%lld)",
                 su->opts[OPT_LOW].num, su->opts[OPT_HIGH].num);
        return NK_EINVAL;
    }
    if (su->opts[OPT_HOST].len == 0 ||
        su->opts[OPT_HOST].len >= sizeof(px->backend_host)) {
        snprintf(su->err, sizeof(su->err),
                 "backend_host must hold 1 to 255 bytes");
        return NK_EINVAL;
    }
    px = calloc(1, sizeof(*px));
    if (px == NULL)
        return NK_ENOMEM;
    px->host = su->host;
    px->ctx = su->ctx;
    memcpy(px->backend_host, su->opts[OPT_HOST].str, su->opts[OPT_HOST].len);
    snprintf(px->backend_port, sizeof(px->backend_port), "%lld",
             su->opts[OPT_PORT].num);
    su->out_high = (size_t)su->opts[OPT_HIGH].num;
    su->out_low = (size_t)su->opts[OPT_LOW].num;
    su->connect_timeout_ms = (uint64_t)su->opts[OPT_TIMEOUT].num;
    su->inst = px;
    return 0;
}

static void
proxy_destroy(void *inst)
{
    free(inst);
}

/* Whole chunks: a message is what one read brought. */
static long
proxy_decode(void *inst, const uint8_t *buf, size_t len, struct nk_frame *f)
{
    (void)inst;
    f->payload = buf;
    f->payload_len = len;
    return (long)len;
}

static int
proxy_encode(void *inst, size_t n, struct nk_wrap *w)
{
    (void)inst, (void)n, (void)w;
    return 0; /* nothing around a payload */
}

/* The session on the other side of s. */
static nk_sid
proxy_other(const struct proxy *px, struct nk_session *s)
{
    const struct pair *pr = px->host->get_data(s);

    return px->host->session_id(s) == pr->client ? pr->backend : pr->client;
}

static void
proxy_unref(struct pair *pr)
{
    if (--pr->refs == 0)
        free(pr);
}

static int
proxy_open(void *inst, struct nk_session *s)
{
    struct proxy *px = inst;
    struct pair *pr = calloc(1, sizeof(*pr));
    int rc;

    if (pr == NULL)
        return NK_ENOMEM;
    pr->client = px->host->session_id(s);
    rc = px->host->connect(px->ctx, px->backend_host, px->backend_port, pr,
                           &pr->backend);
    if (rc < 0) {
        px->host->log(s, NK_LOG_WARN, "backend %s:%s: %s", px->backend_host,
                      px->backend_port, nk_strerror(rc));
        free(pr);
        return rc; /* refused: no on_close */
    }
    pr->refs = 2;
    px->host->set_data(s, pr);
    return 0;
}

static void
proxy_connect(void *inst, struct nk_session *s, int status)
{
    struct proxy *px = inst;
    struct pair *pr = px->host->get_data(s);

    if (status == 0)
        return; /* what the client sent meanwhile goes out now */
    if (status != NK_ECANCELED) /* cancelled: the client left first */
        px->host->log(s, NK_LOG_WARN, "backend %s:%s: %s", px->backend_host,
                      px->backend_port, nk_strerror(status));
    px->host->close_to(px->ctx, pr->client);
    proxy_unref(pr); /* a connect that failed gets no on_close */
}

static int
proxy_message(void *inst, struct nk_session *s, const uint8_t *p, size_t n)
{
    struct proxy *px = inst;
    struct iovec iov = {(void *)p, n};
    int rc = px->host->send_to(px->ctx, proxy_other(px, s), &iov, 1);

    /* The other side is gone or shut: so is this relay. */
    return rc < 0 ? NK_ECLOSE : 0;
}

/* One side's output passed its high watermark: stop reading the side
 * that feeds it, until the output is back at the low one. */
static void
proxy_writable(void *inst, struct nk_session *s, int writable)
{
    struct proxy *px = inst;
    nk_sid feeder = proxy_other(px, s);

    if (writable)
        px->host->resume_read(px->ctx, feeder);
    else
        px->host->pause_read(px->ctx, feeder);
}

/* One side ended its input: end the other side's output once what is
 * queued for it is written. */
static void
proxy_eof(void *inst, struct nk_session *s)
{
    struct proxy *px = inst;

    px->host->shutdown_write(px->ctx, proxy_other(px, s));
}

static void
proxy_close(void *inst, struct nk_session *s)
{
    struct proxy *px = inst;

    /* After what is queued for it: NK_ENOENT if it is gone already. */
    px->host->close_to(px->ctx, proxy_other(px, s));
    proxy_unref(px->host->get_data(s));
}

static const struct nk_plugin proxy =
    NK_PLUGIN_INIT(.name = "proxy", .version = "1.0",
                   .summary = "TCP relay with back-pressure and half-close",
                   .transports = NK_TRANSPORT_TCP, .options = proxy_options,
                   .create = proxy_create, .destroy = proxy_destroy,
                   .decode = proxy_decode, .encode = proxy_encode,
                   .on_open = proxy_open, .on_message = proxy_message,
                   .on_close = proxy_close, .flags = NK_PLUGIN_HALF_CLOSE,
                   .on_connect = proxy_connect, .on_writable = proxy_writable,
                   .on_eof = proxy_eof);
NK_PLUGIN_DEFINE(proxy)
