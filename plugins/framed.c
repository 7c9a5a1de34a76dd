/*
 * framed.c -- the length-prefixed echo plugin: each message is a length field
 * (1, 2, 4 or 8 bytes, little- or big-endian; default 4, little) followed by
 * that many payload bytes, and is answered with one message whose payload is
 * prefix + payload.  With length_bytes=2 byte_order=big it speaks the framing
 * of DNS over TCP.
 *
 * The codec only reports how long a message is; the host refuses one longer
 * than max_frame before buffering its payload (see nk_setup.max_message).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <netkit/plugin.h>

enum { OPT_PREFIX, OPT_MAX_FRAME, OPT_LENGTH_BYTES, OPT_BYTE_ORDER };

static const struct nk_option framed_options[] = {
    [OPT_PREFIX] = {.name = "prefix",
                    .type = NK_OPT_STRING,
                    .def = "echo : ",
                    .help = "bytes put in front of every reply payload"},
    [OPT_MAX_FRAME] = {.name = "max_frame",
                       .type = NK_OPT_SIZE,
                       .def = "1M",
                       .help = "largest payload accepted; a longer one closes "
                               "the connection (UDP: drops the datagram)",
                       .min = 0,
                       .max = 1LL << 30},
    [OPT_LENGTH_BYTES] = {.name = "length_bytes",
                          .type = NK_OPT_ENUM,
                          .def = "4",
                          .help = "size of the length field",
                          .choices = "1|2|4|8"},
    [OPT_BYTE_ORDER] = {.name = "byte_order",
                        .type = NK_OPT_ENUM,
                        .def = "little",
                        .help = "byte order of the length field",
                        .choices = "little|big"},
    {.name = NULL},
};

static const unsigned framed_widths[] = {1, 2, 4, 8}; /* by ENUM index */

struct framed {
    const struct nk_host *host;
    char *prefix;
    size_t prefix_len;
    unsigned width; /* bytes of the length field */
    int big;        /* big-endian length field */
};

static void
framed_destroy(void *inst)
{
    struct framed *f = inst;

    if (f == NULL)
        return;
    free(f->prefix);
    free(f);
}

static int
framed_create(struct nk_setup *su)
{
    const struct nk_value *o = su->opts;
    struct framed *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return NK_ENOMEM;
    f->host = su->host;
    f->prefix = malloc(o[OPT_PREFIX].len + 1);
    if (f->prefix == NULL) {
        framed_destroy(f);
        return NK_ENOMEM;
    }
    memcpy(f->prefix, o[OPT_PREFIX].str, o[OPT_PREFIX].len + 1);
    f->prefix_len = o[OPT_PREFIX].len;
    f->width = framed_widths[o[OPT_LENGTH_BYTES].num];
    f->big = o[OPT_BYTE_ORDER].num == 1;
    su->max_message = (size_t)o[OPT_MAX_FRAME].num + f->width;
    su->inst = f;
    return 0;
}

static uint64_t
framed_get_len(const struct framed *f, const uint8_t *p)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < f->width; i++) {
        unsigned shift = 8 * (f->big ? f->width - 1 - i : i);
        n |= (uint64_t)p[i] << shift;
    }
    return n;
}

static long
framed_decode(void *inst, const uint8_t *buf, size_t len, struct nk_frame *fr)
{
    const struct framed *f = inst;
    uint64_t n;

    fr->need = 0;
    if (len < f->width)
        return NK_ENEEDMORE;
    n = framed_get_len(f, buf);
    /* A length no buffer could hold is refused here, without overflow;
     * every other length is the host's to judge against max_message. */
    if (n > (uint64_t)(LONG_MAX - f->width))
        return NK_EFRAMETOOBIG;
    fr->need = f->width + (size_t)n;
    if (len < fr->need)
        return NK_ENEEDMORE;
    fr->payload = buf + f->width;
    fr->payload_len = (size_t)n;
    return (long)fr->need;
}

/* The head is the length field; a length-prefixed message has no tail. */
static int
framed_encode(void *inst, size_t payload_len, struct nk_wrap *w)
{
    const struct framed *f = inst;

    if (f->width < 8 && (uint64_t)payload_len >> (8 * f->width) != 0)
        return NK_EMSGSIZE;
    for (unsigned i = 0; i < f->width; i++) {
        unsigned shift = 8 * (f->big ? f->width - 1 - i : i);
        w->head[i] = (uint8_t)((uint64_t)payload_len >> shift);
    }
    w->head_len = f->width;
    return 0;
}

static int
framed_message(void *inst, struct nk_session *s, const uint8_t *p, size_t n)
{
    struct framed *f = inst;
    struct iovec iov[2] = {
        {f->prefix, f->prefix_len},
        {(void *)p, n},
    };

    return f->host->send(s, iov, 2);
}

static const struct nk_plugin framed_plugin = NK_PLUGIN_INIT(
        .name = "framed", .version = "1.0.0",
        .summary = "length-prefixed echo: 'echo : ' + each message's payload",
        .transports = NK_TRANSPORT_TCP | NK_TRANSPORT_UDP,
        .options = framed_options, .create = framed_create,
        .destroy = framed_destroy, .decode = framed_decode,
        .encode = framed_encode, .on_message = framed_message);

NK_PLUGIN_DEFINE(framed_plugin)
