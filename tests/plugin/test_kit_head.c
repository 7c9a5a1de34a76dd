/*
 * test_kit_head.c -- the test kit on partial input (ABI 1.2), with the
 * head fixture (tests/fixtures/head.c), the cases test_api12.py runs
 * against the real host: on_head once per message before its body,
 * host->buffered inside on_message and from a timer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <netkit/testkit.h>

#include "head.c"

static void
test_kit_head_before_body(void **state)
{
    struct nkt *k = nkt_start(nk_plugin_entry(), NULL);
    struct nk_session *s = nkt_open(k);
    const uint8_t one[] = {5, 0, 0, 0, 'h', 'e'};
    const uint8_t two[] = {3, 0, 0, 0, 'a', 'b', 'c', 5, 0, 0, 0, 'w'};

    (void)state;
    assert_int_equal(nkt_feed(s, one, sizeof(one)), 0);
    nkt_expect_sent(s, "CONTINUE 5");
    assert_int_equal(nkt_feed(s, "l", 1), 0); /* once per message */
    nkt_expect_no_more(s);
    assert_int_equal(nkt_feed(s, "lo", 2), 1);
    nkt_expect_sent(s, "GOT 5 rest 0");
    assert_int_equal(nkt_feed(s, two, sizeof(two)), 1);
    nkt_expect_sent(s, "GOT 3 rest 5");
    nkt_expect_sent(s, "CONTINUE 5");
    nkt_free(k);
}

static void
test_kit_head_timer(void **state)
{
    struct nkt *k =
        nkt_start(nk_plugin_entry(), (const char *[]){"wait_ms=200", NULL});
    struct nk_session *half = nkt_open(k), *idle = nkt_open(k);
    const uint8_t part[] = {5, 0, 0, 0, 'h', 'e'};

    (void)state;
    nkt_feed(half, part, sizeof(part));
    nkt_expect_sent(half, "CONTINUE 5");
    nkt_advance(k, 200);
    nkt_expect_sent(half, "408 partial 6");
    nkt_expect_closed(half);
    nkt_expect_no_more(idle);
    nkt_expect_closed(idle);
    nkt_free(k);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kit_head_before_body),
        cmocka_unit_test(test_kit_head_timer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
