/*
 * raw.c -- the raw echo plugin: every chunk read is answered with
 * prefix + chunk; a chunk equal to the exit word closes the connection.
 *
 * TCP has no message boundaries, so "a chunk" is what one read returned: the
 * codec takes the whole buffer as one message.  Over UDP a chunk is one
 * datagram and there is no exit word.  With an empty prefix this is a plain
 * RFC 862 echo.  This file is the worked example of plugin.h.
 */
#include <stdlib.h>
#include <string.h>

#include <netkit/plugin.h>

enum { OPT_PREFIX, OPT_EXIT_WORD };

static const struct nk_option raw_options[] = {
    [OPT_PREFIX] = {.name = "prefix",
                    .type = NK_OPT_STRING,
                    .def = ">Server echo : ",
                    .help = "bytes put in front of every reply (empty: pure "
                            "echo)"},
    [OPT_EXIT_WORD] = {.name = "exit_word",
                       .type = NK_OPT_STRING,
                       .def = "exit",
                       .help = "a chunk equal to this closes the connection "
                               "(TCP; trailing \\r\\n or \\n ignored; "
                               "empty: never)"},
    {.name = NULL},
};

struct raw {
    const struct nk_host *host;
    unsigned transport;
    char *prefix;
    size_t prefix_len;
    char *exit_word;
    size_t exit_len;
};

static char *
raw_dup(const struct nk_value *v)
{
    char *s = malloc(v->len + 1);

    if (s != NULL)
        memcpy(s, v->str, v->len + 1);
    return s;
}

static void
raw_destroy(void *inst)
{
    struct raw *r = inst;

    if (r == NULL)
        return;
    free(r->prefix);
    free(r->exit_word);
    free(r);
}

static int
raw_create(struct nk_setup *su)
{
    struct raw *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NK_ENOMEM;
    r->host = su->host;
    r->transport = su->transport;
    r->prefix = raw_dup(&su->opts[OPT_PREFIX]);
    r->prefix_len = su->opts[OPT_PREFIX].len;
    r->exit_word = raw_dup(&su->opts[OPT_EXIT_WORD]);
    r->exit_len = su->opts[OPT_EXIT_WORD].len;
    if (r->prefix == NULL || r->exit_word == NULL) {
        raw_destroy(r);
        return NK_ENOMEM;
    }
    su->inst = r;
    return 0;
}

/* The whole buffer is one message. */
static long
raw_decode(void *inst, const uint8_t *buf, size_t len, struct nk_frame *f)
{
    (void)inst;
    f->payload = buf;
    f->payload_len = len;
    f->need = 0;
    return (long)len;
}

/* Raw messages have no head and no tail: the host zeroed w, so leaving it
 * alone sends the payload as it is. */
static int
raw_encode(void *inst, size_t payload_len, struct nk_wrap *w)
{
    (void)inst, (void)payload_len, (void)w;
    return 0;
}

/* Is the chunk the exit word, ignoring one trailing "\r\n" or "\n"? */
static int
raw_is_exit(const struct raw *r, const uint8_t *p, size_t n)
{
    if (r->exit_len == 0)
        return 0;
    if (n > 0 && p[n - 1] == '\n') {
        n--;
        if (n > 0 && p[n - 1] == '\r')
            n--;
    }
    return n == r->exit_len && memcmp(p, r->exit_word, n) == 0;
}

static int
raw_message(void *inst, struct nk_session *s, const uint8_t *p, size_t n)
{
    struct raw *r = inst;
    struct iovec iov[2] = {
        {r->prefix, r->prefix_len},
        {(void *)p, n},
    };

    if (r->transport == NK_TRANSPORT_TCP && raw_is_exit(r, p, n))
        return NK_ECLOSE;
    return r->host->send(s, iov, 2);
}

static const struct nk_plugin raw_plugin =
    NK_PLUGIN_INIT(.name = "raw", .version = "1.0.0",
                   .summary =
                       "raw echo: prefix + each chunk read; 'exit' closes",
                   .transports = NK_TRANSPORT_TCP | NK_TRANSPORT_UDP,
                   .options = raw_options, .create = raw_create,
                   .destroy = raw_destroy, .decode = raw_decode,
                   .encode = raw_encode, .on_message = raw_message);

NK_PLUGIN_DEFINE(raw_plugin)
