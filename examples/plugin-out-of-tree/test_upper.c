/*
 * test_upper.c -- tests of the upper plugin with netkit's test kit, built
 * out of tree like the plugin itself: `pkg-config --cflags netkit-testkit`
 * gives the include flags, and nothing from netkit is linked.  upper.c is
 * compiled into this program; the kit plays the host.
 *
 *   ctest --test-dir build         (CMakeLists.txt)
 *   make -f path/to/Makefile check  (Makefile)
 *
 * Each check that fails prints FILE:LINE and what differs, and aborts.
 */
#include <stdio.h>
#include <string.h>

#include <netkit/testkit.h>

const struct nk_plugin *nk_plugin_entry(void);

/* Each line is answered upper-cased; the "\n" is encode's tail. */
static void
test_lines(void)
{
    struct nkt *k = nkt_start(nk_plugin_entry(), NULL);
    struct nk_session *s = nkt_open(k);

    nkt_expect_log(k, "upper: new client 127.0.0.1:");
    nkt_expect(nkt_feed_str(s, "hello\n") == 1);
    nkt_expect_sent(s, "HELLO");
    /* Two lines in one read, then a line in two reads. */
    nkt_expect(nkt_feed_str(s, "two\nLines 2\r\nsp") == 2);
    nkt_expect_sent(s, "TWO");
    nkt_expect_wire(s, "LINES 2\r\n", 9); /* only "\n" ends a line */
    nkt_expect(nkt_feed_str(s, "lit\n\n") == 2);
    nkt_expect_sent(s, "SPLIT");
    nkt_expect_sent(s, ""); /* an empty line is a message */
    nkt_expect_no_more(s);
    nkt_expect_open(s);
    nkt_free(k);
}

/* decode gives the same lines however the bytes arrive, and encode's
 * framing decodes back to the payload. */
static void
test_codec(void)
{
    struct nkt *k = nkt_start(nk_plugin_entry(), NULL);

    nkt_expect_splits(k, "hello\nWorld\r\n\nlast", 18,
                      (const char *[]){"hello", "World\r", "", NULL});
    /* The same through on_message, with the same replies. */
    nkt_expect_splits_served(k, "hello\nWorld\n", 12,
                             (const char *[]){"hello", "World", NULL});
    nkt_expect_roundtrip(k, "hello", 5);
    nkt_expect_roundtrip(k, "", 0);
    nkt_free(k);
}

/* A line of max_line bytes, its newline included, is served; one byte
 * more closes the connection before any newline comes. */
static void
test_max_line(void)
{
    struct nkt *k =
        nkt_start(nk_plugin_entry(), (const char *[]){"max_line=8", NULL});
    struct nk_session *s = nkt_open(k), *t = nkt_open(k);

    nkt_expect(nkt_max_message(k) == 8);
    nkt_expect(nkt_feed_str(s, "abcdefg\n") == 1);
    nkt_expect_sent(s, "ABCDEFG");
    nkt_expect_err(nkt_feed_str(t, "abcdefgh"), NK_EFRAMETOOBIG);
    nkt_expect_closed(t);
    nkt_expect_no_more(t);
    nkt_expect_open(s);
    nkt_free(k);
}

/* Options are read as netkit reads them: a bad one is refused. */
static void
test_options(void)
{
    struct nkt *k = nkt_new(nk_plugin_entry());

    nkt_expect_err(nkt_create(k, (const char *[]){"max_line=0", NULL}),
                   NK_EINVAL);
    nkt_expect_err(nkt_create(k, (const char *[]){"maxline=8", NULL}),
                   NK_EINVAL);
    nkt_expect_ok(nkt_create(k, (const char *[]){"max_line=1M", NULL}));
    nkt_expect(nkt_max_message(k) == 1024 * 1024);
    nkt_free(k);
}

int
main(void)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"lines", test_lines},
        {"codec", test_codec},
        {"max_line", test_max_line},
        {"options", test_options},
    };
    size_t n = sizeof(tests) / sizeof(tests[0]);

    printf("1..%zu\n", n);
    for (size_t i = 0; i < n; i++) {
        tests[i].fn(); /* a failure aborts, naming FILE:LINE */
        printf("ok %zu - %s\n", i + 1, tests[i].name);
    }
    return 0;
}
