/*
 * test_kit.c -- the installed test kit (<netkit/testkit.h>) tested on
 * probe.c, a plugin that uses every host service of ABI 1.1: sessions and
 * the no-re-entry rule, handles across fake workers, timers on the fake
 * clock, posts, back-pressure, outbound connections, bad input, UDP,
 * option values, and the kit's own failure reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <netkit/testkit.h>

#include "probe.c"

static struct probe *
probe_of(struct nkt *k, int worker)
{
    return nkt_instance(k, worker);
}

/* The greeting option's default is quoted with an escape; overrides follow
 * the host's one rule: quoted values are unescaped, others taken as
 * written.  ENUM values ignore case; bad values and names are refused. */
static void
test_kit_options(void **state)
{
    struct nkt *k = nkt_start(nk_plugin_entry(), NULL);
    struct nk_session *s = nkt_open(k);

    (void)state;
    nkt_expect_sent(s, "hi\t");
    nkt_free(k);

    k = nkt_start(nk_plugin_entry(), (const char *[]){"greeting=\"a\\x3bb\\0\"",
                                                      "mode=FANCY", NULL});
    s = nkt_open(k);
    nkt_expect_sent_bytes(s, "a;b\0", 4);
    assert_int_equal(probe_of(k, 0)->mode, 1);
    nkt_free(k);

    k = nkt_start(nk_plugin_entry(), (const char *[]){"greeting=a\\tb", NULL});
    s = nkt_open(k);
    nkt_expect_sent(s, "a\\tb");
    nkt_free(k);

    k = nkt_new(nk_plugin_entry());
    nkt_expect_err(nkt_create(k, (const char *[]){"greet=x", NULL}), NK_EINVAL);
    assert_string_equal(nkt_error(k), "unknown option 'greet=x'");
    nkt_expect_err(nkt_create(k, (const char *[]){"mode=odd", NULL}),
                   NK_EINVAL);
    assert_non_null(strstr(nkt_error(k), "mode"));
    nkt_expect_err(nkt_create(k, (const char *[]){"greeting=\"x", NULL}),
                   NK_EINVAL);
    assert_non_null(strstr(nkt_error(k), "unterminated quote"));
    nkt_expect_err(
        nkt_create(k, (const char *[]){"greeting=" /* too long */
                                       "0123456789012345678901234567890123456"
                                       "789012345678901234567890123456789",
                                       NULL}),
        NK_EINVAL);
    assert_string_equal(nkt_error(k), "greeting too long");
    nkt_free(k);
}

/* A close inside on_message: later sends fail with NK_EPIPE, and on_close
 * runs once, after on_message has returned. */
static void
test_kit_close_deferred(void **state)
{
    struct nkt *k = nkt_start(nk_plugin_entry(), NULL);
    struct nk_session *s = nkt_open(k);

    (void)state;
    nkt_expect_sent(s, "hi\t");
    assert_int_equal(nkt_feed_str(s, "echo one\nclose\necho two\n"), 2);
    nkt_expect_sent(s, "one");
    nkt_expect_sent(s, "bye");
    nkt_expect_no_more(s);
    nkt_expect_closed(s);
    assert_int_equal(nkt_close_calls(s), 1);
    assert_int_equal(probe_of(k, 0)->closes, 1);
    assert_int_equal(probe_of(k, 0)->bad_closes, 0);
    /* Nothing more is read from a closed session. */
    nkt_expect_err(nkt_feed_str(s, "echo three\n"), NK_EPIPE);
    nkt_peer_close(s);
    assert_int_equal(probe_of(k, 0)->closes, 1);
    nkt_free(k);
}

/* Timers fire on the fake clock only, in order, repeating ones each
 * period; stopping works once; a closed session's timers never fire. */
static void
test_kit_timers(void **state)
{
    struct nkt *k = nkt_start(nk_plugin_entry(), NULL);
    struct nk_session *s = nkt_open(k), *t = nkt_open(k);

    (void)state;
    nkt_feed_str(s, "tick 100\nonce 250\n");
    nkt_feed_str(t, "tick 40\n");
    assert_int_equal(nkt_timers_pending(k), 3);
    assert_int_equal(nkt_advance(k, 99), 2); /* t at 40 and 80 */
    assert_int_equal(nkt_now(k), NKT_CLOCK_START + 99);
    nkt_expect_sent_count(s, 1);
    assert_int_equal(nkt_advance(k, 1), 1);
    assert_int_equal(nkt_sent_count(s), 2);
    assert_int_equal(nkt_advance(k, 200), 2 + 1 + 5); /* s, once, t */
    nkt_expect_log(k, "once fired at 1000250");
    nkt_expect_sent(s, "hi\t");
    nkt_expect_sent(s, "tick 1");
    nkt_expect_sent(s, "tick 2");
    nkt_expect_sent(s, "tick 3");
    nkt_expect_no_more(s);
    nkt_feed_str(s, "stop\nstop\n");
    nkt_expect_sent(s, "rc=0");
    nkt_expect_sent(s, "rc=-2"); /* NK_ENOENT */
    nkt_peer_close(t);
    assert_int_equal(nkt_timers_pending(k), 0);
    assert_int_equal(nkt_advance(k, 1000), 0);
    assert_int_equal(nkt_sent_count(t), 1 + 7);
    nkt_free(k);
}

/* post reaches every fake worker's instance when the test pumps. */
static void
test_kit_post(void **state)
{
    struct nkt *k = nkt_new(nk_plugin_entry());
    struct nk_session *s[3];

    (void)state;
    nkt_set_workers(k, 3);
    nkt_expect_ok(nkt_create(k, NULL));
    for (int w = 0; w < 3; w++) {
        s[w] = nkt_open_on(k, w);
        nkt_expect_sent(s[w], "hi\t");
    }
    nkt_feed_str(s[1], "post news\n");
    assert_int_equal(nkt_pending(k), 3);
    nkt_expect_no_more(s[0]);
    assert_int_equal(nkt_pump(k), 3);
    for (int w = 0; w < 3; w++) {
        nkt_expect_sent(s[w], "news");
        nkt_expect_no_more(s[w]);
    }
    nkt_free(k);
}

/* Handles: send_to and close_to act at once on the same worker, at the
 * pump from another; a stale handle is NK_ENOENT, and a cross-worker send
 * to a session that closed meanwhile is dropped. */
static void
test_kit_handles(void **state)
{
    struct nkt *k = nkt_new(nk_plugin_entry());
    struct nk_session *a, *b, *c;
    char cmd[64];

    (void)state;
    nkt_set_workers(k, 2);
    nkt_expect_ok(nkt_create(k, NULL));
    a = nkt_open_on(k, 0);
    b = nkt_open_on(k, 0);
    c = nkt_open_on(k, 1);
    nkt_feed_str(a, "id\n");
    nkt_expect_sent(a, "hi\t");
    nkt_expect_sent(a, "1");

    snprintf(cmd, sizeof(cmd), "to %llu same\n", (unsigned long long)b->sid);
    nkt_feed_str(a, cmd);
    nkt_expect_sent(a, "rc=0");
    nkt_expect_sent(b, "hi\t");
    nkt_expect_sent(b, "same");

    snprintf(cmd, sizeof(cmd), "to %llu across\n", (unsigned long long)a->sid);
    nkt_feed_str(c, cmd);
    nkt_expect_sent(c, "hi\t");
    nkt_expect_sent(c, "rc=0");
    nkt_expect_no_more(a);
    assert_int_equal(nkt_pump(k), 1);
    nkt_expect_sent(a, "across");

    /* Cross-worker close_to, then a send that finds it closed. */
    snprintf(cmd, sizeof(cmd), "kill %llu\nto %llu late\n",
             (unsigned long long)a->sid, (unsigned long long)a->sid);
    nkt_feed_str(c, cmd);
    nkt_expect_sent(c, "rc=0");
    nkt_expect_sent(c, "rc=0");
    nkt_expect_open(a);
    assert_int_equal(nkt_pump(k), 2);
    nkt_expect_closed(a);
    nkt_expect_no_more(a);
    assert_int_equal(probe_of(k, 0)->closes, 1);

    /* Same worker, stale. */
    snprintf(cmd, sizeof(cmd), "to %llu x\nkill %llu\nto 999 x\n",
             (unsigned long long)a->sid, (unsigned long long)a->sid);
    nkt_feed_str(b, cmd);
    nkt_expect_sent(b, "rc=-2");
    nkt_expect_sent(b, "rc=-2");
    nkt_expect_sent(b, "rc=-2");
    nkt_free(k);
}

/* Back-pressure: queued is what the test sets, and on_drain runs when the
 * test drains, once per wait. */
static void
test_kit_drain(void **state)
{
    struct nkt *k = nkt_start(nk_plugin_entry(), NULL);
    struct nk_session *s = nkt_open(k);

    (void)state;
    nkt_expect_sent(s, "hi\t");
    nkt_feed_str(s, "stream 2\n");
    nkt_expect_sent(s, "part 2");
    nkt_expect_sent(s, "part 1");
    nkt_set_queued(s, 1000);
    nkt_feed_str(s, "stream 3\n");
    nkt_expect_no_more(s);
    nkt_feed_str(s, "echo queued\n");
    assert_int_equal(nkt_queued(s), 1000 + 7);
    assert_int_equal(nkt_drain(s), 1);
    assert_int_equal(probe_of(k, 0)->drains, 1);
    nkt_expect_sent(s, "queued");
    nkt_expect_sent(s, "part 3");
    nkt_expect_sent(s, "part 2");
    nkt_expect_sent(s, "part 1");
    assert_int_equal(nkt_drain(s), 0); /* nothing was waiting */
    nkt_free(k);
}

/* Outbound connections: recorded, completed or failed by the test. */
static void
test_kit_connect(void **state)
{
    struct nkt *k = nkt_start(nk_plugin_entry(), NULL);
    struct nk_session *s = nkt_open(k), *up, *down;
    char want[32];

    (void)state;
    nkt_feed_str(s, "dial 6379\ndial 6380\n");
    assert_int_equal(nkt_connect_count(k), 2);
    up = nkt_connect_session(k, 0);
    down = nkt_connect_session(k, 1);
    assert_string_equal(nkt_connect_host(up), "127.0.0.1");
    assert_string_equal(nkt_connect_port(up), "6379");
    nkt_expect_sent(s, "hi\t");
    snprintf(want, sizeof(want), "rc=0 sid=%llu", (unsigned long long)up->sid);
    nkt_expect_sent(s, want);

    nkt_connect_done(up, 0);
    nkt_expect_sent(up, "hello upstream");
    nkt_feed_str(up, "echo pong\n");
    nkt_expect_sent(up, "pong");

    nkt_connect_done(down, -ECONNREFUSED);
    nkt_expect_closed(down);
    nkt_expect_log(k, "dial 127.0.0.1:6380 failed");
    nkt_peer_close(up);
    assert_int_equal(probe_of(k, 0)->closes, 1); /* none for the failed */
    nkt_free(k);
}

/* Malformed input: on_bad_input answers, then the session closes; a
 * message past max_message closes it too. */
static void
test_kit_bad_input(void **state)
{
    struct nkt *k = nkt_start(nk_plugin_entry(), NULL);
    struct nk_session *s = nkt_open(k), *t = nkt_open(k);
    char big[300];

    (void)state;
    nkt_expect_err(nkt_feed_str(s, "echo ok\n!x\necho no\n"), NK_EPROTO);
    nkt_expect_sent(s, "hi\t");
    nkt_expect_sent(s, "ok");
    nkt_expect_sent(s, "-ERR bang");
    nkt_expect_no_more(s);
    nkt_expect_closed(s);
    assert_int_equal(nkt_bad_input(s), NK_EPROTO);
    nkt_expect_log(k, "Bad input: protocol error: bang");

    memset(big, 'a', sizeof(big));
    assert_int_equal(nkt_max_message(k), 256);
    nkt_expect_err(nkt_feed(t, big, sizeof(big)), NK_EFRAMETOOBIG);
    nkt_expect_closed(t);
    /* As in the host: on_bad_input answers an over-size message too. */
    assert_int_equal(nkt_bad_input(t), NK_EFRAMETOOBIG);
    nkt_expect_sent(t, "hi\t");
    nkt_expect_sent(t, "-ERR message over the size limit");
    nkt_free(k);
}

/* UDP: a datagram is one message when decode takes it whole. */
static void
test_kit_udp(void **state)
{
    struct nkt *k = nkt_new(nk_plugin_entry());
    struct nk_session *d;

    (void)state;
    nkt_set_transport(k, NK_TRANSPORT_UDP);
    nkt_expect_ok(nkt_create(k, NULL));
    d = nkt_datagram(k, 0, "echo hi\n", 8);
    nkt_expect_sent(d, "hi");
    assert_int_equal(nkt_received_count(d), 1);
    d = nkt_datagram(k, 0, "echo a\necho b\n", 14);
    nkt_expect_sent_count(d, 0);
    assert_int_equal(nkt_dropped(k), 1);
    nkt_free(k);
}

/* The codec checks: splits, round trips, the received payloads. */
static void
test_kit_codec(void **state)
{
    static const struct nkt_bytes want[] = {NKT_LIT("echo a"), NKT_LIT(""),
                                            NKT_LIT("b\0c")};
    struct nkt *k = nkt_start(nk_plugin_entry(), NULL);
    struct nk_session *s = nkt_open(k);
    size_t len;
    const uint8_t *p;

    (void)state;
    assert_int_equal(
        nkt_expect_splits_bytes(k, "echo a\n\nb\0c\n", 12, want, 3), 3);
    assert_int_equal(nkt_expect_splits(k, "x\ny", 3, NULL), 1);
    nkt_expect_roundtrip(k, "hello", 5);
    nkt_expect_roundtrip(k, "", 0);
    /* Through on_message: the same payloads and the same replies. */
    assert_int_equal(
        nkt_expect_splits_served(k, "echo a\necho b\n!", 15,
                                 (const char *[]){"echo a", "echo b", NULL}),
        2);
    nkt_feed_msg(s, "echo z", 6);
    nkt_expect_sent(s, "hi\t");
    nkt_expect_wire(s, "z\n", 2);
    p = nkt_received(s, 0, &len);
    assert_int_equal(len, 6);
    assert_memory_equal(p, "echo z", 6);
    nkt_free(k);
}

/* ---- failures are reported, with the caller's file and line ---------- */

static jmp_buf kit_jmp;
static char kit_msg[2048];
static int kit_line;

static void
kit_catch(const char *file, int line, const char *msg)
{
    snprintf(kit_msg, sizeof(kit_msg), "%s:%d: %s", file, line, msg);
    kit_line = line;
    longjmp(kit_jmp, 1);
}

/* A decoder with state: it gives a different answer to the same bytes
 * once it has been called before, which a split reveals. */
static int stateful_calls;

static long
stateful_decode(void *inst, const uint8_t *buf, size_t len, struct nk_frame *f)
{
    (void)inst;
    if (stateful_calls++ > 0 && len > 1) {
        f->payload = buf, f->payload_len = 1;
        return 1;
    }
    f->payload = buf, f->payload_len = len;
    return (long)len;
}

static long
raw_decode(void *inst, const uint8_t *buf, size_t len, struct nk_frame *f)
{
    (void)inst;
    f->payload = buf, f->payload_len = len;
    return (long)len;
}

static long
outside_decode(void *inst, const uint8_t *buf, size_t len, struct nk_frame *f)
{
    (void)inst;
    f->payload = buf + 1, f->payload_len = len;
    return (long)len;
}

static void
test_kit_failures(void **state)
{
    struct nk_plugin broken = *nk_plugin_entry();
    struct nkt *volatile k = nkt_start(nk_plugin_entry(), NULL);
    struct nk_session *volatile s = nkt_open(k);
    int expect_line = __LINE__ + 6;

    (void)state;
    nkt_set_fail_handler(kit_catch);
    if (setjmp(kit_jmp) == 0) {
        /* the next line is expect_line */
        nkt_expect_sent(s, "hello");
        fail();
    }
    assert_int_equal(kit_line, expect_line);
    assert_non_null(strstr(kit_msg, "test_kit.c:"));
    assert_non_null(strstr(kit_msg, ": session 1 (127.0.0.1:40001): message 1 "
                                    "is \"hi\\t\" (3 bytes), expected "
                                    "\"hello\" (5 bytes)"));
    if (setjmp(kit_jmp) == 0) {
        nkt_expect_closed(s);
        fail();
    }
    assert_non_null(strstr(kit_msg, "is open, expected it closed"));
    if (setjmp(kit_jmp) == 0) {
        nkt_expect_splits(k, "a\nb\n", 4, (const char *[]){"a", NULL});
        fail();
    }
    assert_non_null(strstr(kit_msg, "gave 2 messages, expected 1"));
    nkt_free(k);

    broken.decode = stateful_decode;
    k = nkt_start(&broken, NULL);
    if (setjmp(kit_jmp) == 0) {
        nkt_expect_splits(k, "abc", 3, NULL);
        fail();
    }
    assert_non_null(strstr(kit_msg, "split one byte at a time"));
    nkt_free(k);

    broken.decode = raw_decode;
    k = nkt_start(&broken, NULL);
    if (setjmp(kit_jmp) == 0) {
        nkt_expect_splits_served(k, "echo abc", 8, NULL);
        fail();
    }
    assert_non_null(strstr(kit_msg, "split one byte at a time: on_message 1 "
                                    "got \"e\", the whole stream gave "
                                    "\"echo abc\""));
    nkt_free(k);

    broken.decode = outside_decode;
    k = nkt_start(&broken, NULL);
    s = nkt_open(k);
    if (setjmp(kit_jmp) == 0) {
        nkt_feed_str(s, "abc");
        fail();
    }
    assert_non_null(strstr(kit_msg, "payload inside the message"));
    nkt_set_fail_handler(NULL);
    nkt_free(k);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kit_options),
        cmocka_unit_test(test_kit_close_deferred),
        cmocka_unit_test(test_kit_timers),
        cmocka_unit_test(test_kit_post),
        cmocka_unit_test(test_kit_handles),
        cmocka_unit_test(test_kit_drain),
        cmocka_unit_test(test_kit_connect),
        cmocka_unit_test(test_kit_bad_input),
        cmocka_unit_test(test_kit_udp),
        cmocka_unit_test(test_kit_codec),
        cmocka_unit_test(test_kit_failures),
    };

    if (argc == 3 && strcmp(argv[1], "-t") == 0)
        cmocka_set_test_filter(argv[2]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
