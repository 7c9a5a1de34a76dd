/*
 * test_kit_line.c -- cases of test_line.c (and two of test_framed.c) on
 * the installed test kit instead of fake_host.h, with the same
 * assertions: the kit does what the project's own fake host does, through
 * the API a plugin author has.  plugins/line.c and plugins/framed.c are
 * compiled in; their descriptions are reached through line_entry() and
 * framed_entry() (see CMakeLists.txt, which renames the entry symbols).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <netkit/testkit.h>

const struct nk_plugin *line_entry(void);
const struct nk_plugin *framed_entry(void);

/* The stream of test_line.c's many-lines and split cases: LF, empty, CRLF,
 * a lone CR, bytes of every kind, and a line with blanks. */
static const uint8_t stream5[] = "a\n"
                                 "\n"
                                 "hello\r\n"
                                 "x\ry\n"
                                 "\x00\xff\t hello world \r\n";

static void
expect_stream5_replies(struct nk_session *s)
{
    nkt_expect_sent_count(s, 5);
    nkt_expect_wire(s, "echo : a\n", 9);
    nkt_expect_wire(s, "echo : \n", 8);
    nkt_expect_wire(s, "echo : hello\n", 13);
    nkt_expect_wire(s, "echo : x\ry\n", 11);
    nkt_expect_wire(s, "echo : \x00\xff\t hello world \n", 24);
}

/* Defaults, and the ranges and choices create is guarded by. */
static void
test_kit_line_options(void **state)
{
    struct nkt *k = nkt_new(line_entry());

    (void)state;
    nkt_expect_err(nkt_create(k, (const char *[]){"max_line=0", NULL}),
                   NK_EINVAL);
    nkt_expect_err(nkt_create(k, (const char *[]){"max_line=1048577", NULL}),
                   NK_EINVAL);
    nkt_expect_err(nkt_create(k, (const char *[]){"eol=cr", NULL}), NK_EINVAL);
    nkt_expect_ok(nkt_create(k, (const char *[]){"max_line=1M", NULL}));
    assert_int_equal(nkt_max_message(k), 1024 * 1024 + 2);
    nkt_free(k);
    k = nkt_start(line_entry(), NULL);
    assert_int_equal(nkt_max_message(k), 64 * 1024 + 2);
    nkt_free(k);
    k = nkt_start(line_entry(), (const char *[]){"max_line=8", NULL});
    assert_int_equal(nkt_max_message(k), 8 + 2);
    nkt_free(k);
}

/* hello\n and hello\r\n are answered "echo : hello\n": no head, the "\n"
 * as the tail; a "\r" elsewhere is a byte of the line; empty lines are
 * messages. */
static void
test_kit_line_lf_crlf(void **state)
{
    struct nkt *k = nkt_start(line_entry(), NULL);
    struct nk_session *s = nkt_open(k);
    const struct nkt_msg *m;

    (void)state;
    assert_int_equal(nkt_feed_str(s, "hello\n"), 1);
    m = nkt_sent(s, 0);
    assert_int_equal(m->head_len, 0);
    assert_int_equal(m->tail_len, 1);
    assert_ptr_equal(m->session, s);
    nkt_expect_wire(s, "echo : hello\n", 13);
    assert_int_equal(nkt_feed_str(s, "hello\r\n"), 1);
    nkt_expect_wire(s, "echo : hello\n", 13);
    assert_int_equal(nkt_feed_str(s, "a\rb\r\n"), 1);
    nkt_expect_wire(s, "echo : a\rb\n", 11);
    assert_int_equal(nkt_feed_str(s, "\n\r\n"), 2);
    nkt_expect_wire(s, "echo : \n", 8);
    nkt_expect_wire(s, "echo : \n", 8);
    nkt_expect_no_more(s);
    assert_int_equal(nkt_close_calls(s), 0);
    nkt_expect_splits(k, "a\rb\n\rab\nab\r\r\n\r\r\n", 17,
                      (const char *[]){"a\rb", "\rab", "ab\r", "\r", NULL});
    nkt_free(k);
}

/* Several lines in one read, split at any one place, or one byte a read:
 * the same five lines and the same five replies. */
static void
test_kit_line_many_and_splits(void **state)
{
    static const struct nkt_bytes want[] = {NKT_LIT("a"), NKT_LIT(""),
                                            NKT_LIT("hello"), NKT_LIT("x\ry"),
                                            NKT_LIT("\x00\xff\t hello world ")};
    size_t len = sizeof(stream5) - 1;
    struct nkt *k = nkt_start(line_entry(), NULL);
    struct nk_session *s = nkt_open(k);
    long served = 0;

    (void)state;
    assert_int_equal(nkt_expect_splits_bytes(k, stream5, len, want, 5), 5);
    assert_int_equal(nkt_expect_splits_served(k, stream5, len, NULL), 5);
    assert_int_equal(nkt_feed(s, stream5, len), 5);
    expect_stream5_replies(s);
    for (size_t cut = 1; cut < len; cut++) {
        s = nkt_open(k);
        served = nkt_feed(s, stream5, cut);
        assert_in_range(served, 0, 5);
        assert_int_equal(nkt_feed(s, stream5 + cut, len - cut), 5 - served);
        expect_stream5_replies(s);
    }
    s = nkt_open(k);
    served = 0;
    for (size_t i = 0; i < len; i++)
        served += nkt_feed(s, stream5 + i, 1);
    assert_int_equal(served, 5);
    expect_stream5_replies(s);
    nkt_free(k);
}

/* With max_line=8: 8 bytes are served with either terminator; a 9-byte
 * line is refused whole by decode, or as a partial line by the host once
 * more than 8 + 2 bytes are buffered; lines before it are answered. */
static void
test_kit_line_max_line(void **state)
{
    struct nkt *k =
        nkt_start(line_entry(), (const char *[]){"max_line=8", NULL});
    struct nk_session *s = nkt_open(k);

    (void)state;
    assert_int_equal(nkt_feed_str(s, "12345678"), 0);
    assert_int_equal(nkt_feed_str(s, "\r"), 0);
    assert_int_equal(nkt_feed_str(s, "\n"), 1);
    nkt_expect_wire(s, "echo : 12345678\n", 16);

    s = nkt_open(k);
    nkt_expect_err(nkt_feed_str(s, "12345678\r\r\n"), NK_EFRAMETOOBIG);
    nkt_expect_sent_count(s, 0);
    nkt_expect_closed(s);

    s = nkt_open(k);
    nkt_expect_err(nkt_feed_str(s, "123456789\n"), NK_EFRAMETOOBIG);
    nkt_expect_sent_count(s, 0);

    s = nkt_open(k);
    assert_int_equal(nkt_feed_str(s, "123456789"), 0);
    nkt_expect_err(nkt_feed_str(s, "0"), NK_EFRAMETOOBIG);

    s = nkt_open(k);
    nkt_expect_err(nkt_feed_str(s, "ok\n0123456789abcdef\n"), NK_EFRAMETOOBIG);
    nkt_expect_sent_count(s, 1);
    nkt_expect_wire(s, "echo : ok\n", 10);
    nkt_free(k);
}

/* A line equal to the exit word closes without a reply; lines that merely
 * resemble it are echoed; exit_word=quit moves it. */
static void
test_kit_line_exit_word(void **state)
{
    static const char *const near[] = {"exitx", "exi",    " exit", "EXIT",
                                       "exit ", "exit\r", "xexit"};
    struct nkt *k = nkt_start(line_entry(), NULL);
    struct nk_session *s = nkt_open(k);

    (void)state;
    nkt_expect_err(nkt_feed_str(s, "hi\nexit\nafter\n"), NK_ECLOSE);
    nkt_expect_sent_count(s, 1);
    nkt_expect_wire(s, "echo : hi\n", 10);
    nkt_expect_closed(s);
    s = nkt_open(k);
    nkt_expect_err(nkt_feed_str(s, "exit\r\n"), NK_ECLOSE);
    nkt_expect_sent_count(s, 0);
    for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++) {
        size_t n = strlen(near[i]);

        s = nkt_open(k);
        nkt_expect_ok(nkt_deliver(s, near[i], n));
        nkt_expect_sent_count(s, 1);
        assert_int_equal(nkt_sent(s, 0)->len, 7 + n + 1);
        assert_memory_equal(nkt_sent(s, 0)->bytes + 7, near[i], n);
    }
    nkt_free(k);

    k = nkt_start(line_entry(), (const char *[]){"exit_word=quit", NULL});
    s = nkt_open(k);
    assert_int_equal(nkt_feed_str(s, "exit\n"), 1);
    nkt_expect_sent(s, "echo : exit");
    nkt_expect_err(nkt_feed_str(s, "quit\n"), NK_ECLOSE);
    nkt_expect_sent_count(s, 1);
    nkt_free(k);
}

/* Over UDP a datagram is one line with or without its terminator, a
 * longer one than max_line is dropped, and exit is a line like another. */
static void
test_kit_line_udp(void **state)
{
    struct nkt *k = nkt_new(line_entry());
    struct nk_session *d;

    (void)state;
    nkt_set_transport(k, NK_TRANSPORT_UDP);
    nkt_expect_ok(nkt_create(k, (const char *[]){"max_line=8", NULL}));
    nkt_expect_wire(nkt_datagram(k, 0, "hello\n", 6), "echo : hello\n", 13);
    nkt_expect_wire(nkt_datagram(k, 0, "hello", 5), "echo : hello\n", 13);
    nkt_expect_sent(nkt_datagram(k, 0, "a\nb\n", 4), "echo : a\nb");
    nkt_expect_sent(nkt_datagram(k, 0, "", 0), "echo : ");
    nkt_expect_sent(nkt_datagram(k, 0, "12345678\r\n", 10), "echo : 12345678");
    d = nkt_datagram(k, 0, "123456789", 9);
    nkt_expect_sent_count(d, 0);
    assert_int_equal(nkt_dropped(k), 1);
    d = nkt_datagram(k, 0, "exit", 4);
    nkt_expect_sent(d, "echo : exit");
    assert_int_equal(nkt_close_calls(d), 0);
    nkt_free(k);
}

/* A prefix with NULs (quoted, with escapes, as -O takes it), an empty
 * prefix and exit word; a newline in either is refused by create. */
static void
test_kit_line_prefix(void **state)
{
    struct nkt *k =
        nkt_start(line_entry(), (const char *[]){"prefix=\"\\0>\\0\"", NULL});
    struct nk_session *s = nkt_open(k);

    (void)state;
    assert_int_equal(nkt_feed_str(s, "hello\n"), 1);
    nkt_expect_wire(s, "\0>\0hello\n", 9);
    nkt_free(k);

    k = nkt_start(line_entry(),
                  (const char *[]){"prefix=", "exit_word=", NULL});
    s = nkt_open(k);
    assert_int_equal(nkt_feed_str(s, "exit\nhello\r\n\n"), 3);
    nkt_expect_wire(s, "exit\n", 5);
    nkt_expect_wire(s, "hello\n", 6);
    nkt_expect_wire(s, "\n", 1);
    nkt_free(k);

    k = nkt_new(line_entry());
    nkt_expect_err(nkt_create(k, (const char *[]){"prefix=\"a\\nb\"", NULL}),
                   NK_EINVAL);
    assert_non_null(strstr(nkt_error(k), "prefix"));
    assert_null(nkt_instance(k, 0));
    nkt_expect_ok(nkt_create(k, (const char *[]){"prefix=\r>", NULL}));
    nkt_free(k);
}

/* An error from the host's send is on_message's result, which closes. */
static void
test_kit_line_send_error(void **state)
{
    struct nkt *k = nkt_start(line_entry(), NULL);
    struct nk_session *s = nkt_open(k);

    (void)state;
    nkt_fail_sends(s, NK_ENOMEM);
    nkt_expect_err(nkt_feed_str(s, "hello\n"), NK_ENOMEM);
    nkt_expect_sent_count(s, 0);
    nkt_expect_closed(s);
    nkt_free(k);
}

/* framed: the head is the length field, a message split anywhere is one
 * message, and a length over max_frame closes before its payload is
 * buffered. */
static void
test_kit_framed(void **state)
{
    struct nkt *k =
        nkt_start(framed_entry(), (const char *[]){"max_frame=16", NULL});
    struct nk_session *s = nkt_open(k);

    (void)state;
    assert_int_equal(nkt_feed(s, "\x05\x00\x00\x00hello", 9), 1);
    nkt_expect_wire(s,
                    "\x0c\x00\x00\x00"
                    "echo : hello",
                    16);
    assert_int_equal(nkt_sent(s, 0)->head_len, 4);
    nkt_expect_splits_bytes(
        k, "\x02\0\0\0hi\0\0\0\0\x01\0\0\0x", 15,
        ((const struct nkt_bytes[]){NKT_LIT("hi"), NKT_LIT(""), NKT_LIT("x")}),
        3);
    nkt_expect_roundtrip(k, "0123456789abcdef", 16);
    nkt_expect_err(nkt_feed(s, "\x11\0\0\0", 4), NK_EFRAMETOOBIG);
    nkt_expect_closed(s);
    nkt_expect_log(k, "over the limit of 20");
    nkt_free(k);

    k = nkt_start(
        framed_entry(),
        (const char *[]){"length_bytes=2", "byte_order=big", "prefix=", NULL});
    s = nkt_open(k);
    nkt_feed_msg(s, "dns", 3);
    nkt_expect_wire(s,
                    "\0\x03"
                    "dns",
                    5);
    nkt_free(k);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kit_line_options),
        cmocka_unit_test(test_kit_line_lf_crlf),
        cmocka_unit_test(test_kit_line_many_and_splits),
        cmocka_unit_test(test_kit_line_max_line),
        cmocka_unit_test(test_kit_line_exit_word),
        cmocka_unit_test(test_kit_line_udp),
        cmocka_unit_test(test_kit_line_prefix),
        cmocka_unit_test(test_kit_line_send_error),
        cmocka_unit_test(test_kit_framed),
    };

    if (argc == 3 && strcmp(argv[1], "-t") == 0)
        cmocka_set_test_filter(argv[2]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
