/*
 * testkit_h.c -- <netkit/testkit.h> on its own, under -std=c99 -pedantic
 * and without _GNU_SOURCE, as a plugin author's test builds it.  Every
 * function of the kit is static, so this also drives a small plugin through
 * it: sessions, a timer, a split check and a round trip.
 */
#include <netkit/testkit.h>

int headers_testkit(void);

static long
tk_decode(void *inst, const uint8_t *buf, size_t len, struct nk_frame *f)
{
    (void)inst;
    if (len < 1 + (size_t)buf[0]) {
        f->need = 1 + (size_t)buf[0];
        return NK_ENEEDMORE;
    }
    f->payload = buf + 1;
    f->payload_len = buf[0];
    return 1 + (long)buf[0];
}

static int
tk_encode(void *inst, size_t n, struct nk_wrap *w)
{
    (void)inst;
    if (n > 255)
        return NK_EMSGSIZE;
    w->head[0] = (uint8_t)n;
    w->head_len = 1;
    return 0;
}

static int
tk_message(void *inst, struct nk_session *s, const uint8_t *p, size_t n)
{
    const struct nk_host *host = inst;
    struct iovec iov;

    iov.iov_base = (void *)p;
    iov.iov_len = n;
    return host->send(s, &iov, 1);
}

static void
tk_timer(void *inst, struct nk_session *s, void *arg)
{
    const struct nk_host *host = inst;

    (void)arg;
    host->close(s);
}

static struct nk_ctx *tk_ctx;

static int
tk_create(struct nk_setup *su)
{
    su->inst = (void *)su->host;
    tk_ctx = su->ctx;
    return 0;
}

static void
tk_destroy(void *inst)
{
    (void)inst;
}

static const struct nk_plugin tk =
    NK_PLUGIN_INIT(.name = "tk", .version = "1", .summary = "kit check",
                   .transports = NK_TRANSPORT_TCP, .create = tk_create,
                   .destroy = tk_destroy, .decode = tk_decode,
                   .encode = tk_encode, .on_message = tk_message);

/* Returns 0 when the kit drove the plugin as expected (a failure aborts). */
int
headers_testkit(void)
{
    static const struct nkt_bytes two[] = {NKT_LIT("ab"), NKT_LIT("")};
    struct nkt *k = nkt_start(&tk, NULL);
    struct nk_session *s = nkt_open(k);
    const struct nk_host *host = nkt_instance(k, 0);

    nkt_expect_ok(nkt_feed(s, "\002hi\001", 4));
    nkt_expect_wire(s, "\002hi", 3);
    nkt_expect_ok(nkt_feed(s, "!", 1));
    nkt_expect_sent(s, "!");
    nkt_expect_no_more(s);
    nkt_expect_splits_bytes(k, "\002ab\000", 4, two, 2);
    nkt_expect_roundtrip(k, "hello", 5);
    nkt_expect(host->timer_start(tk_ctx, s, 10, 0, tk_timer, NULL) != 0);
    nkt_expect(nkt_advance(k, 10) == 1);
    nkt_expect_closed(s);
    nkt_free(k);
    return 0;
}
