/*
 * plugin_h.c -- <netkit/plugin.h> on its own, under -std=c99 -pedantic.
 *
 * Including the header is not enough: its macros expand only where a plugin
 * uses them, so this file also defines a complete (if useless) plugin the
 * way the header's overview shows, with NK_PLUGIN_INIT and NK_PLUGIN_DEFINE.
 */
#include <netkit/plugin.h>

int headers_plugin(void);

static long
hp_decode(void *inst, const uint8_t *buf, size_t len, struct nk_frame *f)
{
    (void)inst;
    f->payload = buf;
    f->payload_len = len;
    f->need = 0;
    return (long)len;
}

/* Touch every member of struct nk_wrap, so a renamed one fails here. */
static int
hp_encode(void *inst, size_t payload_len, struct nk_wrap *w)
{
    (void)inst;
    if (payload_len > 255)
        return NK_EMSGSIZE;
    w->head[0] = (uint8_t)payload_len;
    w->head_len = 1;
    w->tail[0] = '\n';
    w->tail_len = 1;
    return 0;
}

static int
hp_message(void *inst, struct nk_session *s, const uint8_t *p, size_t n)
{
    const struct nk_host *host = inst;
    struct iovec iov[1];

    iov[0].iov_base = (void *)p;
    iov[0].iov_len = n;
    return host->send(s, iov, 1);
}

static int
hp_create(struct nk_setup *su)
{
    su->inst = (void *)su->host;
    return 0;
}

static void
hp_destroy(void *inst)
{
    (void)inst;
}

static const struct nk_option hp_options[] = {
    {"word", NK_OPT_STRING, "hi", "a word", 0, 0, NULL},
    {NULL, NK_OPT_STRING, NULL, NULL, 0, 0, NULL},
};

static const struct nk_plugin hp =
    NK_PLUGIN_INIT(.name = "hp", .version = "1", .summary = "header check",
                   .transports = NK_TRANSPORT_TCP, .options = hp_options,
                   .create = hp_create, .destroy = hp_destroy,
                   .decode = hp_decode, .encode = hp_encode,
                   .on_message = hp_message);

NK_PLUGIN_DEFINE(hp)

/* Returns 0 when the description came back through the entry symbol. */
int
headers_plugin(void)
{
    nk_plugin_entry_fn entry = nk_plugin_entry;

    return entry()->abi_major == NK_ABI_MAJOR ? 0 : 1;
}
