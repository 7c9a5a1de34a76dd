/*
 * test_line.c -- the line plugin driven through a fake host.
 *
 * plugins/line.c is compiled into this executable, so its description is
 * reached through nk_plugin_entry() and its callbacks are called directly
 * with byte strings: no socket, no core.  Every case asserts the exact bytes
 * on the wire; a reply's "\n" is the tail the plugin's own encode gave, as
 * the real host will send it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fake_host.h"

const struct nk_plugin *nk_plugin_entry(void);

/* Option sets handed to setup as cmocka prestate ("name=value" lists). */
static const char *opts_max8[] = {"max_line=8", NULL};
static const char *opts_crlf[] = {"eol=crlf", NULL};
static const char *opts_noprefix[] = {"prefix=", NULL};
static const char *opts_quit[] = {"exit_word=quit", NULL};

static int
setup(void **state)
{
    return fake_setup(state, nk_plugin_entry(), NK_TRANSPORT_TCP);
}

static int
setup_udp(void **state)
{
    return fake_setup(state, nk_plugin_entry(), NK_TRANSPORT_UDP);
}

static int
teardown(void **state)
{
    return fake_teardown(state);
}

/* Decode buf[0..len) into a frame whose fields start as garbage. */
static long
decode(struct fake_host *fh, const void *buf, size_t len, struct nk_frame *fr)
{
    memset(fr, 0xa5, sizeof(*fr));
    return fh->plugin->decode(fh->inst, buf, len, fr);
}

/* Hand one payload to on_message on the default session. */
static int
serve(struct fake_host *fh, const void *payload, size_t len)
{
    return fh->plugin->on_message(fh->inst, &fh->session, payload, len);
}

/* Assert that buf[0..len) decodes to one message of `took` bytes whose
 * payload starts buf and is want[0..want_len). */
static void
assert_line(struct fake_host *fh, const void *buf, size_t len, long took,
            const char *want, size_t want_len)
{
    struct nk_frame fr;

    assert_int_equal(decode(fh, buf, len, &fr), took);
    assert_ptr_equal(fr.payload, buf);
    assert_int_equal(fr.payload_len, want_len);
    assert_memory_equal(fr.payload, want, want_len);
}

/* The description carries this ABI, its own size, its name, every required
 * callback and both transports. */
static void
test_line_description(void **state)
{
    const struct nk_plugin *p = nk_plugin_entry();

    (void)state;
    assert_non_null(p);
    assert_int_equal(p->abi_major, NK_ABI_MAJOR);
    assert_true(p->abi_minor <= NK_ABI_MINOR);
    assert_int_equal(p->size, sizeof(struct nk_plugin));
    assert_string_equal(p->name, "line");
    assert_non_null(p->version);
    assert_non_null(p->summary);
    assert_non_null(p->create);
    assert_non_null(p->destroy);
    assert_non_null(p->decode);
    assert_non_null(p->encode);
    assert_non_null(p->on_message);
    assert_int_equal(p->transports, NK_TRANSPORT_TCP | NK_TRANSPORT_UDP);
}

/* The option table lists prefix, max_line, eol and exit_word with their
 * documented defaults, each default valid for its own type and range, and
 * the range of max_line is enforced. */
static void
test_line_options(void **state)
{
    static const char *zero[] = {"max_line=0", NULL};
    static const char *over[] = {"max_line=1048577", NULL};
    static const char *top[] = {"max_line=1M", NULL};
    static const char *eol[] = {"eol=cr", NULL};
    const struct nk_option *o = nk_plugin_entry()->options;
    struct fake_opts fo;

    (void)state;
    assert_non_null(o);
    assert_string_equal(o[0].name, "prefix");
    assert_int_equal(o[0].type, NK_OPT_STRING);
    assert_string_equal(o[0].def, "echo : ");
    assert_string_equal(o[1].name, "max_line");
    assert_int_equal(o[1].type, NK_OPT_SIZE);
    assert_string_equal(o[1].def, "64k");
    assert_int_equal(o[1].min, 1);
    assert_int_equal(o[1].max, 1024 * 1024);
    assert_string_equal(o[2].name, "eol");
    assert_int_equal(o[2].type, NK_OPT_ENUM);
    assert_string_equal(o[2].def, "lf");
    assert_string_equal(o[2].choices, "lf|crlf");
    assert_string_equal(o[3].name, "exit_word");
    assert_int_equal(o[3].type, NK_OPT_STRING);
    assert_string_equal(o[3].def, "exit");
    assert_null(o[4].name);
    for (int i = 0; i < 4; i++) {
        assert_non_null(o[i].help);
        assert_true(o[i].help[0] != '\0');
    }

    assert_nk_ok(fake_opts_build(&fo, o, NULL));
    assert_int_equal(fo.n, 4);
    assert_int_equal(fo.v[0].len, 7);
    assert_int_equal(fo.v[1].num, 64 * 1024);
    assert_int_equal(fo.v[2].num, 0);
    assert_string_equal(fo.v[3].str, "exit");
    fake_opts_free(&fo);

    assert_nk_err(fake_opts_build(&fo, o, zero), NK_EINVAL);
    fake_opts_free(&fo);
    assert_nk_err(fake_opts_build(&fo, o, over), NK_EINVAL);
    fake_opts_free(&fo);
    assert_nk_err(fake_opts_build(&fo, o, eol), NK_EINVAL);
    fake_opts_free(&fo);
    assert_nk_ok(fake_opts_build(&fo, o, top));
    assert_int_equal(fo.v[1].num, 1024 * 1024);
    fake_opts_free(&fo);
}

/* By default a 64 KiB line and its "\r\n" fit what the host buffers, and
 * max_message follows max_line. */
static void
test_line_max_message(void **state)
{
    static const char *top[] = {"max_line=1M", NULL};
    struct fake_host *fh = *state;

    assert_int_equal(fh->max_message, 64 * 1024 + 2);
    assert_nk_ok(fake_host_reopen(fh, opts_max8, NK_TRANSPORT_TCP));
    assert_int_equal(fh->max_message, 8 + 2);
    assert_nk_ok(fake_host_reopen(fh, top, NK_TRANSPORT_UDP));
    assert_int_equal(fh->max_message, 1024 * 1024 + 2);
}

/* `hello\n` is one 6-byte message whose payload is hello, answered with
 * `echo : hello\n`: no head, the "\n" as the tail. */
static void
test_line_lf(void **state)
{
    static const char in[] = "hello\nnext";
    struct fake_host *fh = *state;
    struct nk_frame fr;

    assert_line(fh, in, 6, 6, "hello", 5);
    /* Bytes of the next line after it change nothing. */
    assert_line(fh, in, sizeof(in) - 1, 6, "hello", 5);
    assert_int_equal(decode(fh, in, 6, &fr), 6);
    assert_nk_ok(serve(fh, fr.payload, fr.payload_len));
    assert_int_equal(fh->nsent, 1);
    assert_sent_lit(fh, 0, "echo : hello\n");
    assert_int_equal(fh->sent[0].head_len, 0);
    assert_int_equal(fh->sent[0].tail_len, 1);
    assert_ptr_equal(fh->sent[0].session, &fh->session);
    assert_int_equal(fh->closes, 0);
}

/* `hello\r\n` is the same line: the "\r" before the "\n" is part of the
 * terminator, and the reply still ends with "\n" alone (eol=lf). */
static void
test_line_crlf(void **state)
{
    struct fake_host *fh = *state;

    assert_line(fh, FAKE_BYTES("hello\r\n"), 7, "hello", 5);
    assert_line(fh, FAKE_BYTES("hello\r\nworld\r\n"), 7, "hello", 5);
    assert_int_equal(fake_host_feed(fh, FAKE_BYTES("hello\r\n")), 1);
    assert_sent_lit(fh, 0, "echo : hello\n");
}

/* A "\r" not right before the "\n" is a byte of the line: in the middle, at
 * the start, or one of two before the "\n". */
static void
test_line_lone_cr_kept(void **state)
{
    struct fake_host *fh = *state;
    struct nk_frame fr;

    assert_line(fh, FAKE_BYTES("a\rb\n"), 4, "a\rb", 3);
    assert_line(fh, FAKE_BYTES("\rab\n"), 4, "\rab", 3);
    assert_line(fh, FAKE_BYTES("ab\r\r\n"), 5, "ab\r", 3);
    assert_line(fh, FAKE_BYTES("\r\r\n"), 3, "\r", 1);
    /* A "\r" at the end of what has come is not yet a terminator. */
    assert_nk_err(decode(fh, FAKE_BYTES("ab\r"), &fr), NK_ENEEDMORE);
    assert_int_equal(fr.need, 0);

    assert_int_equal(fake_host_feed(fh, FAKE_BYTES("a\rb\r\n")), 1);
    assert_sent_lit(fh, 0, "echo : a\rb\n");
}

/* "\n" and "\r\n" alone are empty lines, answered with the prefix alone. */
static void
test_line_empty(void **state)
{
    struct fake_host *fh = *state;

    assert_line(fh, FAKE_BYTES("\n"), 1, "", 0);
    assert_line(fh, FAKE_BYTES("\r\n"), 2, "", 0);
    assert_line(fh, FAKE_BYTES("\n\n"), 1, "", 0);
    assert_int_equal(fake_host_feed(fh, FAKE_BYTES("\n\r\n")), 2);
    assert_sent_lit(fh, 0, "echo : \n");
    assert_sent_lit(fh, 1, "echo : \n");
}

/* The stream shared by the many-lines and split cases: LF, empty, CRLF,
 * a lone CR, bytes of every kind, and a line with blanks. */
static const uint8_t stream5[] = "a\n"
                                 "\n"
                                 "hello\r\n"
                                 "x\ry\n"
                                 "\x00\xff\t hello world \r\n";

/* Assert the five replies to stream5, in order. */
static void
assert_stream5_replies(struct fake_host *fh)
{
    assert_int_equal(fh->nsent, 5);
    assert_sent_lit(fh, 0, "echo : a\n");
    assert_sent_lit(fh, 1, "echo : \n");
    assert_sent_lit(fh, 2, "echo : hello\n");
    assert_sent_lit(fh, 3, "echo : x\ry\n");
    assert_sent_lit(fh, 4, "echo : \x00\xff\t hello world \n");
}

/* Several lines in one read decode one after another, advancing by each
 * return value, and each gets its own reply. */
static void
test_line_many(void **state)
{
    static const size_t took[] = {2, 1, 7, 4, 18};
    static const size_t plen[] = {1, 0, 5, 3, 16};
    struct fake_host *fh = *state;
    size_t off = 0, len = sizeof(stream5) - 1;
    struct nk_frame fr;

    for (int i = 0; i < 5; i++) {
        long rc = decode(fh, stream5 + off, len - off, &fr);

        assert_int_equal(rc, took[i]);
        assert_ptr_equal(fr.payload, stream5 + off);
        assert_int_equal(fr.payload_len, plen[i]);
        assert_nk_ok(serve(fh, fr.payload, fr.payload_len));
        off += (size_t)rc;
    }
    assert_int_equal(off, len);
    assert_stream5_replies(fh);

    /* The same through the host's read path, in one read. */
    fake_host_clear(fh);
    assert_int_equal(fake_host_feed(fh, stream5, len), 5);
    assert_stream5_replies(fh);
    assert_int_equal(fh->session.in_len, 0);
}

/* Every proper prefix of a line needs more, with need 0 (a line does not
 * say how long it is); decode keeps no state between calls. */
static void
test_line_split_prefixes(void **state)
{
    static const char in[] = "hello\r\n";
    struct fake_host *fh = *state;
    struct nk_frame fr;

    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 1; k < 7; k++) {
            assert_nk_err(decode(fh, in, k, &fr), NK_ENEEDMORE);
            assert_int_equal(fr.need, 0);
        }
        assert_line(fh, in, 7, 7, "hello", 5);
    }
    assert_int_equal(fh->nsent, 0);
}

/* A stream split at any one position, between "\r" and "\n" included, or
 * fed one byte a read, gets the same replies as in one read. */
static void
test_line_split_every_byte(void **state)
{
    struct fake_host *fh = *state;
    size_t len = sizeof(stream5) - 1;
    long served;

    for (size_t cut = 1; cut < len; cut++) {
        fake_host_clear(fh);
        served = fake_host_feed(fh, stream5, cut);
        assert_in_range(served, 0, 5);
        assert_int_equal(fake_host_feed(fh, stream5 + cut, len - cut),
                         5 - served);
        assert_stream5_replies(fh);
        assert_int_equal(fh->session.in_len, 0);
    }

    fake_host_clear(fh);
    served = 0;
    for (size_t i = 0; i < len; i++) {
        long rc = fake_host_feed(fh, stream5 + i, 1);

        assert_in_range(rc, 0, 1);
        served += rc;
    }
    assert_int_equal(served, 5);
    assert_stream5_replies(fh);
}

/* With max_line=8: a line of 8 bytes is served with either terminator; one
 * of 9 is refused whole by decode, and as a partial line by the host once
 * more than 8 + 2 bytes are buffered without a "\n". */
static void
test_line_max_line(void **state)
{
    struct fake_host *fh = *state;
    struct nk_frame fr;

    assert_int_equal(fh->max_message, 10);
    assert_line(fh, FAKE_BYTES("12345678\n"), 9, "12345678", 8);
    assert_line(fh, FAKE_BYTES("12345678\r\n"), 10, "12345678", 8);
    /* 9 bytes and "\n": the "\n" is within the first 10 bytes, so decode
     * sees the whole line and refuses it. */
    assert_nk_err(decode(fh, FAKE_BYTES("123456789\n"), &fr), NK_EFRAMETOOBIG);
    /* 9 bytes and "\r\n": no "\n" within the first 10 bytes, so decode
     * needs more, and the host refuses 11 bytes without a line. */
    assert_nk_err(decode(fh, FAKE_BYTES("123456789\r\n"), &fr), NK_ENEEDMORE);
    assert_int_equal(fr.need, 0);
    assert_nk_err(fake_host_feed(fh, FAKE_BYTES("12345678\r\r\n")),
                  NK_EFRAMETOOBIG);
    assert_int_equal(fh->nsent, 0);
    fake_host_clear(fh);

    /* 8 bytes, then the terminator in pieces: served. */
    assert_int_equal(fake_host_feed(fh, FAKE_BYTES("12345678")), 0);
    assert_int_equal(fake_host_feed(fh, FAKE_BYTES("\r")), 0);
    assert_int_equal(fake_host_feed(fh, FAKE_BYTES("\n")), 1);
    assert_sent_lit(fh, 0, "echo : 12345678\n");

    /* 9 bytes with their "\n" in one read: refused by decode. */
    fake_host_clear(fh);
    assert_nk_err(fake_host_feed(fh, FAKE_BYTES("123456789\n")),
                  NK_EFRAMETOOBIG);
    assert_int_equal(fh->nsent, 0);

    /* 9 bytes without a "\n": decode needs more, need 0, and 9 bytes are
     * still within max_message; the 10th without a "\n" is past it. */
    fake_host_clear(fh);
    assert_nk_err(decode(fh, FAKE_BYTES("123456789"), &fr), NK_ENEEDMORE);
    assert_int_equal(fr.need, 0);
    assert_int_equal(fake_host_feed(fh, FAKE_BYTES("123456789")), 0);
    assert_nk_err(fake_host_feed(fh, FAKE_BYTES("0")), NK_EFRAMETOOBIG);
    assert_int_equal(fh->nsent, 0);

    /* A "\n" past the first max_line + 2 bytes is not looked for: the
     * host refuses what is buffered. */
    fake_host_clear(fh);
    assert_nk_err(decode(fh, FAKE_BYTES("0123456789abcdef\n"), &fr),
                  NK_ENEEDMORE);
    assert_int_equal(fr.need, 0);
    assert_nk_err(fake_host_feed(fh, FAKE_BYTES("0123456789abcdef\n")),
                  NK_EFRAMETOOBIG);

    /* Lines before an over-long one are answered first. */
    fake_host_clear(fh);
    assert_nk_err(fake_host_feed(fh, FAKE_BYTES("ok\n0123456789abcdef\n")),
                  NK_EFRAMETOOBIG);
    assert_int_equal(fh->nsent, 1);
    assert_sent_lit(fh, 0, "echo : ok\n");
}

/* The default max_line, 64 KiB: a line of exactly that is served, one byte
 * more is refused. */
static void
test_line_max_line_default(void **state)
{
    enum { MAX = 64 * 1024 };
    struct fake_host *fh = *state;
    uint8_t *buf = malloc(MAX + 3);
    struct nk_frame fr;

    assert_non_null(buf);
    memset(buf, 'x', MAX + 1);
    buf[MAX] = '\n';
    assert_int_equal(decode(fh, buf, MAX + 1, &fr), MAX + 1);
    assert_int_equal(fr.payload_len, MAX);
    buf[MAX] = '\r';
    buf[MAX + 1] = '\n';
    assert_int_equal(decode(fh, buf, MAX + 2, &fr), MAX + 2);
    assert_int_equal(fr.payload_len, MAX);
    buf[MAX] = 'x';
    buf[MAX + 1] = '\n';
    assert_nk_err(decode(fh, buf, MAX + 2, &fr), NK_EFRAMETOOBIG);
    free(buf);
}

/* encode gives no head and the tail "\n" for any length, and
 * eol=crlf "\r\n". */
static void
test_line_encode_tail(void **state)
{
    static const size_t lens[] = {0, 1, 5, 65536, SIZE_MAX};
    struct fake_host *fh = *state;
    struct nk_wrap w;

    for (int crlf = 0; crlf < 2; crlf++) {
        if (crlf)
            assert_nk_ok(fake_host_reopen(fh, opts_crlf, NK_TRANSPORT_TCP));
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            assert_nk_ok(fake_encode(fh, lens[i], &w));
            assert_int_equal(w.head_len, 0);
            assert_int_equal(w.tail_len, crlf ? 2 : 1);
            assert_memory_equal(w.tail, crlf ? "\r\n" : "\n", w.tail_len);
        }
    }
}

/* With eol=crlf every reply ends with "\r\n", and decodes back, with the
 * same codec, to prefix + line. */
static void
test_line_eol_crlf(void **state)
{
    struct fake_host *fh = *state;

    assert_int_equal(fake_host_feed(fh, FAKE_BYTES("hello\nworld\r\n")), 2);
    assert_sent_lit(fh, 0, "echo : hello\r\n");
    assert_sent_lit(fh, 1, "echo : world\r\n");
    assert_line(fh, fh->sent[0].bytes, fh->sent[0].len, 14, "echo : hello", 12);
}

/* What the client sends (its encode) the server decodes to the same
 * payload, and the reply decodes to prefix + payload. */
static void
test_line_round_trip(void **state)
{
    static const char *const payloads[] = {"", "hello", "a\rb", "exit ",
                                           "\t\x01\xff"};
    struct fake_host *fh = *state;

    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        const char *p = payloads[i];
        size_t n = strlen(p);
        struct nk_wrap w;
        struct nk_frame fr;
        char buf[64];

        assert_nk_ok(fake_encode(fh, n, &w));
        memcpy(buf, w.head, w.head_len);
        memcpy(buf + w.head_len, p, n);
        memcpy(buf + w.head_len + n, w.tail, w.tail_len);
        assert_line(fh, buf, w.head_len + n + w.tail_len,
                    (long)(w.head_len + n + w.tail_len), p, n);

        fake_host_clear(fh);
        assert_nk_ok(serve(fh, p, n));
        assert_int_equal(decode(fh, fh->sent[0].bytes, fh->sent[0].len, &fr),
                         fh->sent[0].len);
        assert_int_equal(fr.payload_len, 7 + n);
        assert_memory_equal(fr.payload, "echo : ", 7);
        assert_memory_equal(fr.payload + 7, p, n);
    }
}

/* Over UDP a datagram is one line whether or not it ends with "\n" or
 * "\r\n": decode takes its whole length, and the reply is one datagram
 * ending with "\n". */
static void
test_line_udp(void **state)
{
    struct fake_host *fh = *state;
    struct nk_frame fr;

    assert_line(fh, FAKE_BYTES("hello\n"), 6, "hello", 5);
    assert_line(fh, FAKE_BYTES("hello"), 5, "hello", 5);
    assert_line(fh, FAKE_BYTES("hello\r\n"), 7, "hello", 5);
    assert_line(fh, FAKE_BYTES("hello\r"), 6, "hello\r", 6);
    assert_line(fh, FAKE_BYTES("\n"), 1, "", 0);
    /* Only one terminator is removed; a "\n" inside stays. */
    assert_line(fh, FAKE_BYTES("a\nb\n"), 4, "a\nb", 3);
    assert_line(fh, FAKE_BYTES("a\n\n"), 3, "a\n", 2);
    /* The empty datagram is an empty line. */
    assert_int_equal(decode(fh, "", 0, &fr), 0);
    assert_int_equal(fr.payload_len, 0);

    assert_int_equal(decode(fh, FAKE_BYTES("hello\n"), &fr), 6);
    assert_nk_ok(serve(fh, fr.payload, fr.payload_len));
    assert_int_equal(decode(fh, FAKE_BYTES("hello"), &fr), 5);
    assert_nk_ok(serve(fh, fr.payload, fr.payload_len));
    assert_sent_lit(fh, 0, "echo : hello\n");
    assert_sent_lit(fh, 1, "echo : hello\n");
}

/* Over UDP max_line bounds the datagram without its terminator: a longer
 * one is refused (the host drops it), and `exit` is echoed like any line. */
static void
test_line_udp_max_and_exit(void **state)
{
    struct fake_host *fh = *state;
    struct nk_frame fr;

    assert_nk_ok(fake_host_reopen(fh, opts_max8, NK_TRANSPORT_UDP));
    assert_line(fh, FAKE_BYTES("12345678"), 8, "12345678", 8);
    assert_line(fh, FAKE_BYTES("12345678\r\n"), 10, "12345678", 8);
    assert_nk_err(decode(fh, FAKE_BYTES("123456789"), &fr), NK_EFRAMETOOBIG);
    assert_nk_err(decode(fh, FAKE_BYTES("123456789\n"), &fr), NK_EFRAMETOOBIG);

    assert_nk_ok(serve(fh, "exit", 4));
    assert_sent_lit(fh, 0, "echo : exit\n");
    assert_int_equal(fh->closes, 0);
}

/* A line equal to the exit word, with either terminator, closes without a
 * reply; lines that merely resemble it are echoed. */
static void
test_line_exit_word(void **state)
{
    static const char *const near[] = {"exitx", "exi",    " exit", "EXIT",
                                       "exit ", "exit\r", "xexit"};
    struct fake_host *fh = *state;

    assert_nk_err(fake_host_feed(fh, FAKE_BYTES("hi\nexit\nafter\n")),
                  NK_ECLOSE);
    assert_int_equal(fh->nsent, 1);
    assert_sent_lit(fh, 0, "echo : hi\n");
    fake_host_clear(fh);
    assert_nk_err(fake_host_feed(fh, FAKE_BYTES("exit\r\n")), NK_ECLOSE);
    assert_int_equal(fh->nsent, 0);

    for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++) {
        fake_host_clear(fh);
        assert_nk_ok(serve(fh, near[i], strlen(near[i])));
        assert_int_equal(fh->nsent, 1);
        assert_int_equal(fh->sent[0].len, 7 + strlen(near[i]) + 1);
        assert_memory_equal(fh->sent[0].bytes + 7, near[i], strlen(near[i]));
    }

    /* exit_word=quit: exit is a line like any other, quit closes. */
    assert_nk_ok(fake_host_reopen(fh, opts_quit, NK_TRANSPORT_TCP));
    assert_int_equal(fake_host_feed(fh, FAKE_BYTES("exit\n")), 1);
    assert_sent_lit(fh, 0, "echo : exit\n");
    assert_nk_err(fake_host_feed(fh, FAKE_BYTES("quit\n")), NK_ECLOSE);
    assert_int_equal(fh->nsent, 1);
}

/* With exit_word= and prefix= every line comes back as it was sent. */
static void
test_line_plain_echo(void **state)
{
    static const char *plain[] = {"prefix=", "exit_word=", NULL};
    struct fake_host *fh = *state;

    assert_nk_ok(fake_host_reopen(fh, plain, NK_TRANSPORT_TCP));
    assert_int_equal(fake_host_feed(fh, FAKE_BYTES("exit\nhello\r\n\n")), 3);
    assert_sent_lit(fh, 0, "exit\n");
    assert_sent_lit(fh, 1, "hello\n");
    assert_sent_lit(fh, 2, "\n");
}

/* A custom prefix, NULs included, goes before the line; an empty prefix
 * leaves the line alone. */
static void
test_line_prefix(void **state)
{
    const struct nk_option *o = nk_plugin_entry()->options;
    struct fake_host *fh = *state;
    struct fake_opts fo;

    assert_int_equal(fake_host_feed(fh, FAKE_BYTES("hello\n")), 1);
    assert_sent_lit(fh, 0, "hello\n");

    fake_host_fini(fh);
    assert_nk_ok(fake_opts_build(&fo, o, NULL));
    assert_nk_ok(fake_opts_set_bytes(&fo, o, "prefix", "\0>\0", 3));
    assert_nk_ok(fake_host_create_opts(fh, &fo, NK_TRANSPORT_TCP));
    fake_opts_free(&fo);
    assert_int_equal(fake_host_feed(fh, FAKE_BYTES("hello\n")), 1);
    assert_sent_lit(fh, 0, "\0>\0hello\n");
}

/* A prefix or an exit word holding a newline is refused by create, with a
 * reason: the one would make every reply two lines, the other never
 * matches. */
static void
test_line_newline_options_refused(void **state)
{
    static const char *prefix_nl[] = {"prefix=a\nb", NULL};
    static const char *exit_nl[] = {"exit_word=exit\n", NULL};
    static const char *prefix_cr[] = {"prefix=\r>", NULL};
    struct fake_host *fh = *state;

    fake_host_fini(fh);
    assert_nk_err(fake_host_create(fh, prefix_nl, NK_TRANSPORT_TCP), NK_EINVAL);
    assert_non_null(strstr(fh->err, "prefix"));
    assert_null(fh->inst);
    assert_nk_err(fake_host_create(fh, exit_nl, NK_TRANSPORT_UDP), NK_EINVAL);
    assert_non_null(strstr(fh->err, "exit_word"));
    assert_null(fh->inst);
    /* A "\r" alone is allowed. */
    assert_nk_ok(fake_host_create(fh, prefix_cr, NK_TRANSPORT_TCP));
}

/* An error from the host's send is on_message's result. */
static void
test_line_send_error(void **state)
{
    struct fake_host *fh = *state;

    fh->send_fail = NK_ENOMEM;
    assert_nk_err(serve(fh, "hello", 5), NK_ENOMEM);
    assert_int_equal(fh->nsent, 0);
}

/* Two instances with different options do not share state. */
static void
test_line_instances_independent(void **state)
{
    static const char *other_opts[] = {"prefix=B:", "eol=crlf", NULL};
    struct fake_host *fh = *state;
    struct fake_host other;

    fake_host_init(&other, nk_plugin_entry());
    assert_nk_ok(fake_host_create(&other, other_opts, NK_TRANSPORT_UDP));

    assert_nk_ok(serve(fh, "x", 1));
    assert_nk_ok(serve(&other, "x", 1));
    assert_nk_ok(serve(fh, "y", 1));
    assert_sent_lit(fh, 0, "echo : x\n");
    assert_sent_lit(fh, 1, "echo : y\n");
    assert_sent_lit(&other, 0, "B:x\r\n");
    fake_host_fini(&other);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_description),
        cmocka_unit_test(test_line_options),
        cmocka_unit_test_setup_teardown(test_line_max_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_lf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_crlf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_lone_cr_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_line_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_split_prefixes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_line_split_every_byte, setup,
                                        teardown),
        cmocka_unit_test_prestate_setup_teardown(test_line_max_line, setup,
                                                 teardown, opts_max8),
        cmocka_unit_test_setup_teardown(test_line_max_line_default, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_line_encode_tail, setup, teardown),
        cmocka_unit_test_prestate_setup_teardown(test_line_eol_crlf, setup,
                                                 teardown, opts_crlf),
        cmocka_unit_test_setup_teardown(test_line_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_udp, setup_udp, teardown),
        cmocka_unit_test_setup_teardown(test_line_udp_max_and_exit, setup_udp,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_line_exit_word, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_plain_echo, setup, teardown),
        cmocka_unit_test_prestate_setup_teardown(test_line_prefix, setup,
                                                 teardown, opts_noprefix),
        cmocka_unit_test_setup_teardown(test_line_newline_options_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_send_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_instances_independent, setup,
                                        teardown),
    };

    fake_test_args(argc, argv);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
