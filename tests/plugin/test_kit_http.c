/*
 * test_kit_http.c -- the http example (examples/http/http.c) on the test
 * kit: the cases tests/integration/test_http_example.py runs against the
 * real host -- "100 Continue" from on_head before the body, 413 before
 * any 100, 400, keep-alive, and at a host deadline (nkt_timeout) 408 for
 * a request half received and silence for an idle connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <netkit/testkit.h>

#include "../../examples/http/http.c"

#define OK_PAGE                                                                \
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "          \
    "18\r\n\r\nhello from netkit\n"

static void
test_kit_http_continue(void **state)
{
    struct nkt *k = nkt_start(nk_plugin_entry(), NULL);
    struct nk_session *s = nkt_open(k);

    (void)state;
    nkt_feed_str(s, "POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                    "Expect: 100-continue\r\n\r\n");
    nkt_expect_sent(s, "HTTP/1.1 100 Continue\r\n\r\n");
    nkt_expect_no_more(s);
    nkt_feed_str(s, "hel");
    nkt_expect_no_more(s); /* once per message */
    nkt_feed_str(s, "lo");
    nkt_expect_sent(s, "HTTP/1.1 200 OK\r\nContent-Type: "
                       "application/octet-stream\r\nContent-Length: "
                       "5\r\n\r\nhello");
    /* No 100 unasked, nor for a body that came with its head. */
    nkt_feed_str(s, "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\n");
    nkt_expect_no_more(s);
    nkt_feed_str(s, "x");
    nkt_expect_sent(s, "HTTP/1.1 200 OK\r\nContent-Type: "
                       "application/octet-stream\r\nContent-Length: "
                       "1\r\n\r\nx");
    nkt_expect_open(s);
    nkt_free(k);
}

static void
test_kit_http_refusals(void **state)
{
    struct nkt *k =
        nkt_start(nk_plugin_entry(), (const char *[]){"max_body=1k", NULL});
    struct nk_session *big = nkt_open(k), *bad = nkt_open(k);

    (void)state;
    nkt_feed_str(big, "POST / HTTP/1.1\r\nContent-Length: 2048\r\n"
                      "Expect: 100-continue\r\n\r\n");
    nkt_expect_sent(big, "HTTP/1.1 413 Content Too Large\r\nContent-Type: "
                         "text/plain\r\nContent-Length: 15\r\nConnection: "
                         "close\r\n\r\nbody too large\n");
    nkt_expect_closed(big);
    nkt_feed_str(bad, "GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n");
    assert_int_equal(nkt_bad_input(bad), NK_EPROTO);
    nkt_expect_closed(bad);
    nkt_free(k);
}

static void
test_kit_http_keep_alive_and_timeouts(void **state)
{
    struct nkt *k = nkt_start(nk_plugin_entry(), NULL);
    struct nk_session *idle = nkt_open(k), *half = nkt_open(k),
                      *body = nkt_open(k);
    static const char t408[] =
        "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\n"
        "Content-Length: 29\r\nConnection: close\r\n\r\nrequest not "
        "received in time\n";

    (void)state;
    nkt_feed_str(idle, "GET / HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
    nkt_expect_sent(idle, OK_PAGE);
    nkt_expect_sent(idle, OK_PAGE);
    nkt_expect_open(idle);
    nkt_timeout(idle, NK_TIMEOUT_IDLE); /* keep-alive over: not a word */
    nkt_expect_no_more(idle);
    nkt_expect_closed(idle);

    nkt_feed_str(half, "GET / HTTP/1.1\r\nHost: t\r\n");
    nkt_timeout(half, NK_TIMEOUT_IDLE);
    nkt_expect_sent(half, t408);
    nkt_expect_closed(half);

    nkt_feed_str(body, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    nkt_timeout(body, NK_TIMEOUT_MESSAGE);
    nkt_expect_sent(body, t408);
    nkt_expect_closed(body);
    nkt_free(k);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kit_http_continue),
        cmocka_unit_test(test_kit_http_refusals),
        cmocka_unit_test(test_kit_http_keep_alive_and_timeouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
