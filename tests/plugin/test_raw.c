/*
 * test_raw.c -- the raw plugin (SPEC §2) driven through a fake host.
 *
 * plugins/raw.c is compiled into this executable, so its description is
 * reached through nk_plugin_entry() and its callbacks are called directly
 * with byte strings: no socket, no core.  Every case asserts the exact bytes
 * of the reply, or that nothing was sent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fake_host.h"

const struct nk_plugin *nk_plugin_entry(void);

/* Option sets handed to setup as cmocka prestate ("name=value" lists). */
static const char *opts_quit[] = {"exit_word=quit", NULL};
static const char *opts_noexit[] = {"exit_word=", NULL};
static const char *opts_noprefix[] = {"prefix=", NULL};

/* A chunk of test input: bytes and length (the bytes may hold NULs). */
struct chunk {
    const char *bytes;
    size_t len;
};

#define CHUNK(lit)                                                             \
    {                                                                          \
        (lit), sizeof(lit) - 1                                                 \
    }

/* Chunks that resemble the exit word but are not it. */
static const struct chunk near_exit[] = {
    CHUNK("exitx"),  CHUNK("exi"),   CHUNK(" exit"),      CHUNK("exit\n\n"),
    CHUNK("exit\r"), CHUNK("EXIT"),  CHUNK("exit "),      CHUNK("\nexit"),
    CHUNK("exit\0"), CHUNK("xexit"), CHUNK("exit\r\r\n"), CHUNK("exit\nexit\n"),
    CHUNK("\n"),     CHUNK("\r\n"),  CHUNK("e"),
};

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

/* Hand one chunk to on_message on the default session. */
static int
serve(struct fake_host *fh, const void *chunk, size_t len)
{
    return fh->plugin->on_message(fh->inst, &fh->session, chunk, len);
}

/* Serve `c` and assert the reply is prefix + c, exactly. */
static void
assert_echoed(struct fake_host *fh, const void *prefix, size_t prefix_len,
              const struct chunk *c)
{
    fake_host_clear(fh);
    assert_nk_ok(serve(fh, c->bytes, c->len));
    assert_int_equal(fh->nsent, 1);
    assert_int_equal(fh->sent[0].head_len, 0);
    assert_int_equal(fh->sent[0].tail_len, 0);
    assert_int_equal(fh->sent[0].len, prefix_len + c->len);
    assert_memory_equal(fh->sent[0].bytes, prefix, prefix_len);
    assert_memory_equal(fh->sent[0].bytes + prefix_len, c->bytes, c->len);
    assert_int_equal(fh->closes, 0);
}

/* Serve `c` and assert it asks for an orderly close and sends nothing. */
static void
assert_exit(struct fake_host *fh, const struct chunk *c)
{
    fake_host_clear(fh);
    assert_nk_err(serve(fh, c->bytes, c->len), NK_ECLOSE);
    assert_int_equal(fh->nsent, 0);
}

/* The description carries this ABI, its own size, its name, every required
 * callback and both transports. */
static void
test_raw_description(void **state)
{
    const struct nk_plugin *p = nk_plugin_entry();

    (void)state;
    assert_non_null(p);
    assert_int_equal(p->abi_major, NK_ABI_MAJOR);
    assert_true(p->abi_minor <= NK_ABI_MINOR);
    assert_int_equal(p->size, sizeof(struct nk_plugin));
    assert_string_equal(p->name, "raw");
    assert_non_null(p->version);
    assert_non_null(p->summary);
    assert_non_null(p->create);
    assert_non_null(p->destroy);
    assert_non_null(p->decode);
    assert_non_null(p->encode);
    assert_non_null(p->on_message);
    assert_int_equal(p->transports, NK_TRANSPORT_TCP | NK_TRANSPORT_UDP);
}

/* The option table lists prefix and exit_word, both strings, with SPEC's
 * defaults: the 15-byte `>Server echo : ` and `exit`. */
static void
test_raw_options(void **state)
{
    const struct nk_option *o = nk_plugin_entry()->options;
    struct fake_opts fo;

    (void)state;
    assert_non_null(o);
    assert_string_equal(o[0].name, "prefix");
    assert_int_equal(o[0].type, NK_OPT_STRING);
    assert_string_equal(o[0].def, ">Server echo : ");
    assert_string_equal(o[1].name, "exit_word");
    assert_int_equal(o[1].type, NK_OPT_STRING);
    assert_string_equal(o[1].def, "exit");
    assert_null(o[2].name);
    for (int i = 0; i < 2; i++) {
        assert_non_null(o[i].help);
        assert_true(o[i].help[0] != '\0');
    }

    assert_nk_ok(fake_opts_build(&fo, o, NULL));
    assert_int_equal(fo.n, 2);
    assert_int_equal(fo.v[0].len, 15);
    assert_int_equal(fo.v[1].len, 4);
    fake_opts_free(&fo);
}

/* Whatever one read returned is one message: decode takes the whole buffer
 * and the payload is the buffer itself. */
static void
test_raw_decode_whole_chunk(void **state)
{
    static const uint8_t bin[] = "\x00\x05\x00\x00\x00hello\r\n\xff";
    struct fake_host *fh = *state;
    struct nk_frame fr;
    size_t big_len = 65536 + 17;
    uint8_t *big = malloc(big_len);

    assert_non_null(big);
    memset(big, 'z', big_len);
    const struct chunk cases[] = {
        CHUNK("hello"),
        CHUNK("a"),
        CHUNK("exit\n"),
        {(const char *)bin, sizeof(bin) - 1},
        {(const char *)big, big_len},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const uint8_t *buf = (const uint8_t *)cases[i].bytes;

        memset(&fr, 0xa5, sizeof(fr));
        assert_int_equal(fh->plugin->decode(fh->inst, buf, cases[i].len, &fr),
                         cases[i].len);
        assert_ptr_equal(fr.payload, buf);
        assert_int_equal(fr.payload_len, cases[i].len);
    }
    free(big);
}

/* Each chunk is answered with `>Server echo : ` + chunk, newline kept. */
static void
test_raw_reply(void **state)
{
    struct fake_host *fh = *state;

    assert_nk_ok(serve(fh, "hello", 5));
    assert_nk_ok(serve(fh, "hello\r\n", 7));
    assert_int_equal(fh->nsent, 2);
    assert_sent_lit(fh, 0, ">Server echo : hello");
    assert_sent_lit(fh, 1, ">Server echo : hello\r\n");
    assert_ptr_equal(fh->sent[0].session, &fh->session);
}

/* Through the host's read path each read is its own message, even when
 * it splits a line. */
static void
test_raw_each_read_is_a_message(void **state)
{
    struct fake_host *fh = *state;

    assert_int_equal(fake_host_feed(fh, FAKE_BYTES("hel")), 1);
    assert_int_equal(fake_host_feed(fh, FAKE_BYTES("lo\n")), 1);
    assert_sent_lit(fh, 0, ">Server echo : hel");
    assert_sent_lit(fh, 1, ">Server echo : lo\n");
    assert_int_equal(fh->session.in_len, 0);
}

/* `exit`, `exit\n` and `exit\r\n` ask for an orderly close (NK_ECLOSE) and
 * send nothing; the plugin leaves the closing to the host. */
static void
test_raw_exit_closes(void **state)
{
    static const struct chunk exits[] = {
        CHUNK("exit"),
        CHUNK("exit\n"),
        CHUNK("exit\r\n"),
    };
    struct fake_host *fh = *state;

    for (size_t i = 0; i < sizeof(exits) / sizeof(exits[0]); i++) {
        assert_exit(fh, &exits[i]);
        assert_int_equal(fh->closes, 0);
    }

    /* After an echo, the exit word still closes, through the read path. */
    fake_host_clear(fh);
    assert_int_equal(fake_host_feed(fh, FAKE_BYTES("hi\n")), 1);
    assert_nk_err(fake_host_feed(fh, FAKE_BYTES("exit\r\n")), NK_ECLOSE);
    assert_int_equal(fh->nsent, 1);
}

/* Chunks that only resemble the exit word (`exitx`, `exi`, ` exit`,
 * `exit\n\n`, ...) are echoed. */
static void
test_raw_near_exit_echoed(void **state)
{
    struct fake_host *fh = *state;

    for (size_t i = 0; i < sizeof(near_exit) / sizeof(near_exit[0]); i++)
        assert_echoed(fh, FAKE_BYTES(">Server echo : "), &near_exit[i]);
}

/* A custom exit word closes, with or without a newline, and `exit` becomes
 * an ordinary chunk. */
static void
test_raw_custom_exit_word(void **state)
{
    static const struct chunk quits[] = {
        CHUNK("quit"),
        CHUNK("quit\n"),
        CHUNK("quit\r\n"),
    };
    static const struct chunk others[] = {
        CHUNK("exit"),
        CHUNK("exit\n"),
        CHUNK("quitx"),
        CHUNK("qui"),
    };
    struct fake_host *fh = *state;

    for (size_t i = 0; i < sizeof(quits) / sizeof(quits[0]); i++)
        assert_exit(fh, &quits[i]);
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        assert_echoed(fh, FAKE_BYTES(">Server echo : "), &others[i]);
}

/* An empty exit word disables closing: `exit` and a bare newline (which
 * strips to the empty word) are echoed. */
static void
test_raw_empty_exit_word(void **state)
{
    static const struct chunk cases[] = {
        CHUNK("exit"), CHUNK("exit\n"), CHUNK("exit\r\n"),
        CHUNK("\n"),   CHUNK("\r\n"),
    };
    struct fake_host *fh = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_echoed(fh, FAKE_BYTES(">Server echo : "), &cases[i]);
}

/* With an empty prefix the reply is the chunk itself (RFC 862 echo), and
 * the exit word still closes. */
static void
test_raw_empty_prefix(void **state)
{
    static const struct chunk exit_word = CHUNK("exit\n");
    struct fake_host *fh = *state;

    for (size_t i = 0; i < sizeof(near_exit) / sizeof(near_exit[0]); i++)
        assert_echoed(fh, "", 0, &near_exit[i]);
    fake_host_clear(fh);
    assert_nk_ok(serve(fh, "hello", 5));
    assert_sent_lit(fh, 0, "hello");
    assert_exit(fh, &exit_word);
}

/* Over UDP there is no exit word: `exit` is echoed in every form. */
static void
test_raw_udp_exit_echoed(void **state)
{
    static const struct chunk cases[] = {
        CHUNK("exit"),
        CHUNK("exit\n"),
        CHUNK("exit\r\n"),
        CHUNK("hello"),
    };
    struct fake_host *fh = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_echoed(fh, FAKE_BYTES(">Server echo : "), &cases[i]);
}

/* Raw messages have no head and no tail: encode leaves the wrap as the host
 * handed it (lengths zeroed) and returns 0. */
static void
test_raw_encode_no_header(void **state)
{
    static const size_t lens[] = {0, 1, 5, 65536, SIZE_MAX};
    struct fake_host *fh = *state;
    struct nk_wrap w, untouched;

    memset(&untouched, 0xaa, sizeof(untouched));
    untouched.head_len = 0;
    untouched.tail_len = 0;
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        memcpy(&w, &untouched, sizeof(w));
        assert_int_equal(fh->plugin->encode(fh->inst, lens[i], &w), 0);
        assert_int_equal(w.head_len, 0);
        assert_int_equal(w.tail_len, 0);
        assert_memory_equal(&w, &untouched, sizeof(w));
    }
}

/* Chunks with NUL, CR, LF and every byte value come back exactly. */
static void
test_raw_binary_chunk(void **state)
{
    struct fake_host *fh = *state;
    struct chunk c;
    char all[256];

    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    c.bytes = all;
    c.len = sizeof(all);
    assert_echoed(fh, FAKE_BYTES(">Server echo : "), &c);
}

/* A prefix holding NUL bytes is sent whole. */
static void
test_raw_prefix_with_nul(void **state)
{
    const struct nk_option *o = nk_plugin_entry()->options;
    static const struct chunk hello = CHUNK("hello");
    struct fake_host *fh = *state;
    struct fake_opts fo;

    fake_host_fini(fh);
    assert_nk_ok(fake_opts_build(&fo, o, NULL));
    assert_nk_ok(fake_opts_set_bytes(&fo, o, "prefix", "<\0>", 3));
    assert_nk_ok(fake_host_create_opts(fh, &fo, NK_TRANSPORT_TCP));
    fake_opts_free(&fo);

    assert_echoed(fh, "<\0>", 3, &hello);
}

/* An error from the host's send is on_message's result. */
static void
test_raw_send_error(void **state)
{
    struct fake_host *fh = *state;

    fh->send_fail = NK_ENOMEM;
    assert_nk_err(serve(fh, "hello", 5), NK_ENOMEM);
    assert_int_equal(fh->nsent, 0);
}

/* Two instances with different options do not share state. */
static void
test_raw_instances_independent(void **state)
{
    static const char *other_opts[] = {"prefix=B:", "exit_word=quit", NULL};
    struct fake_host *fh = *state;
    struct fake_host other;

    fake_host_init(&other, nk_plugin_entry());
    assert_nk_ok(fake_host_create(&other, other_opts, NK_TRANSPORT_TCP));

    assert_nk_ok(serve(fh, "quit", 4));
    assert_nk_err(serve(&other, "quit", 4), NK_ECLOSE);
    assert_nk_ok(serve(&other, "exit", 4));
    assert_nk_err(serve(fh, "exit", 4), NK_ECLOSE);
    assert_int_equal(fh->nsent, 1);
    assert_sent_lit(fh, 0, ">Server echo : quit");
    assert_int_equal(other.nsent, 1);
    assert_sent_lit(&other, 0, "B:exit");
    fake_host_fini(&other);
}

/* A codec that wraps each message in a head "<" + length byte and a tail
 * "\r\n", to check the fake host's send against the wire format. */
static int
wrap_encode(void *inst, size_t payload_len, struct nk_wrap *w)
{
    (void)inst;
    if (payload_len > UINT8_MAX)
        return NK_EMSGSIZE;
    w->head[0] = '<';
    w->head[1] = (uint8_t)payload_len;
    w->head_len = 2;
    memcpy(w->tail, "\r\n", 2);
    w->tail_len = 2;
    return 0;
}

/* The fake host sends head + payload + tail, as the real host does: raw's
 * two iovecs (prefix, chunk) are the payload, the tail comes after the last
 * of them, and an encode refusal sends nothing. */
static void
test_raw_fake_host_wraps(void **state)
{
    static const char *opts[] = {"prefix=P:", NULL};
    /* Static: the teardown still reaches destroy through it. */
    static struct nk_plugin wrapped;
    struct fake_host *fh = *state;
    uint8_t big[UINT8_MAX];

    wrapped = *nk_plugin_entry();
    wrapped.encode = wrap_encode;
    fake_host_fini(fh);
    fake_host_init(fh, &wrapped);
    assert_nk_ok(fake_host_create(fh, opts, NK_TRANSPORT_TCP));

    assert_nk_ok(serve(fh, "hello", 5));
    assert_int_equal(fh->nsent, 1);
    assert_int_equal(fh->sent[0].head_len, 2);
    assert_int_equal(fh->sent[0].tail_len, 2);
    assert_sent_lit(fh, 0, "<\x07P:hello\r\n");

    /* An empty chunk is still wrapped: the tail follows the prefix. */
    assert_nk_ok(serve(fh, "", 0));
    assert_sent_lit(fh, 1, "<\x02P:\r\n");

    /* 2 + 253 bytes is the longest payload wrap_encode takes. */
    memset(big, 'b', sizeof(big));
    assert_nk_ok(serve(fh, big, sizeof(big) - 2));
    assert_int_equal(fh->nsent, 3);
    assert_int_equal(fh->sent[2].len, 2 + 255 + 2);
    assert_memory_equal(fh->sent[2].bytes, "<\xffP:", 4);
    assert_memory_equal(fh->sent[2].bytes + 4, big, sizeof(big) - 2);
    assert_memory_equal(fh->sent[2].bytes + 2 + 255, "\r\n", 2);
    assert_nk_err(serve(fh, big, sizeof(big) - 1), NK_EMSGSIZE);
    assert_int_equal(fh->nsent, 3);
}

/* The fake host itself: a complete table whose services answer as the
 * real host's do, so a plugin test fails only for the plugin's sake. */
static void
test_raw_fake_host(void **state)
{
    struct fake_host *fh = *state;
    const struct nk_host *h = &fh->host;
    int cookie;

    assert_int_equal(h->size, offsetof(struct nk_host, session_id));
    assert_string_equal(h->peer_name(&fh->session), "127.0.0.1:5000");
    assert_null(h->get_data(&fh->session));
    h->set_data(&fh->session, &cookie);
    assert_ptr_equal(h->get_data(&fh->session), &cookie);
    h->log(&fh->session, NK_LOG_INFO, "seen %d", 42);
    h->log(NULL, NK_LOG_DEBUG, "no session");
    assert_int_equal(fh->logs, 2);
    assert_string_equal(fh->last_log, "no session");
    h->close(&fh->session);
    assert_int_equal(fh->session.closes, 1);
    assert_int_equal(fh->closes, 1);
    assert_nk_err(h->send(&fh->session, NULL, NK_SEND_IOV_MAX + 1), NK_EINVAL);
    assert_int_equal(fh->nsent, 0);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_description),
        cmocka_unit_test(test_raw_options),
        cmocka_unit_test_setup_teardown(test_raw_decode_whole_chunk, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_raw_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_each_read_is_a_message, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_raw_exit_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_near_exit_echoed, setup,
                                        teardown),
        cmocka_unit_test_prestate_setup_teardown(test_raw_custom_exit_word,
                                                 setup, teardown, opts_quit),
        cmocka_unit_test_prestate_setup_teardown(test_raw_empty_exit_word,
                                                 setup, teardown, opts_noexit),
        cmocka_unit_test_prestate_setup_teardown(test_raw_empty_prefix, setup,
                                                 teardown, opts_noprefix),
        cmocka_unit_test_setup_teardown(test_raw_udp_exit_echoed, setup_udp,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_raw_encode_no_header, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_raw_binary_chunk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_prefix_with_nul, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_raw_send_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_instances_independent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_raw_fake_host_wraps, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_raw_fake_host, setup, teardown),
    };

    fake_test_args(argc, argv);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
