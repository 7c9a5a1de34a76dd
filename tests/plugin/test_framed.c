/*
 * test_framed.c -- the framed plugin (SPEC §2) driven through a fake host.
 *
 * plugins/framed.c is compiled into this executable, so its description is
 * reached through nk_plugin_entry() and its callbacks are called directly
 * with byte strings: no socket, no core.  Every case asserts the exact bytes
 * on the wire; a reply's header is the head the plugin's own encode gave,
 * as the real host will send it.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fake_host.h"

const struct nk_plugin *nk_plugin_entry(void);

/* Option sets handed to setup as cmocka prestate ("name=value" lists). */
static const char *opts_max16[] = {"max_frame=16", NULL};
static const char *opts_wide8[] = {"length_bytes=8", NULL};
static const char *opts_dns[] = {"length_bytes=2", "byte_order=big",
                                 "prefix=", NULL};
static const char *opts_re[] = {"prefix=re: ", NULL};
static const char *opts_noprefix[] = {"prefix=", NULL};
static const char *opts_width1[] = {"length_bytes=1", NULL};

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
decode(struct fake_host *fh, const uint8_t *buf, size_t len,
       struct nk_frame *fr)
{
    memset(fr, 0xa5, sizeof(*fr));
    return fh->plugin->decode(fh->inst, buf, len, fr);
}

/*
 * Run the plugin's encode as the host does (lengths zeroed, the bytes
 * garbage) and copy the head into head.  Returns encode's error, or the
 * head's length: framed's head is its length field, and it has no tail.
 */
static long
encode(struct fake_host *fh, size_t payload_len, uint8_t *head)
{
    struct nk_wrap w;
    int rc = fake_encode(fh, payload_len, &w);

    if (rc < 0)
        return rc;
    assert_int_equal(w.tail_len, 0);
    assert_in_range(w.head_len, 1, NK_HDR_MAX);
    memcpy(head, w.head, w.head_len);
    return (long)w.head_len;
}

/* Hand one payload to on_message on the default session. */
static int
serve(struct fake_host *fh, const void *payload, size_t len)
{
    return fh->plugin->on_message(fh->inst, &fh->session, payload, len);
}

/* Write a length field by hand, independently of the plugin's encode. */
static void
put_len(uint8_t *hdr, unsigned width, int big, uint64_t n)
{
    for (unsigned i = 0; i < width; i++)
        hdr[big ? width - 1 - i : i] = (uint8_t)(n >> (8 * i));
}

/* The description carries this ABI, its own size, its name, every required
 * callback and both transports. */
static void
test_framed_description(void **state)
{
    const struct nk_plugin *p = nk_plugin_entry();

    (void)state;
    assert_non_null(p);
    assert_int_equal(p->abi_major, NK_ABI_MAJOR);
    assert_true(p->abi_minor <= NK_ABI_MINOR);
    assert_int_equal(p->size, sizeof(struct nk_plugin));
    assert_string_equal(p->name, "framed");
    assert_non_null(p->version);
    assert_non_null(p->summary);
    assert_non_null(p->create);
    assert_non_null(p->destroy);
    assert_non_null(p->decode);
    assert_non_null(p->encode);
    assert_non_null(p->on_message);
    assert_int_equal(p->transports, NK_TRANSPORT_TCP | NK_TRANSPORT_UDP);
}

/* The option table lists prefix, max_frame, length_bytes and byte_order
 * with SPEC's defaults, each default valid for its own type and range. */
static void
test_framed_options(void **state)
{
    const struct nk_option *o = nk_plugin_entry()->options;
    struct fake_opts fo;

    (void)state;
    assert_non_null(o);
    assert_string_equal(o[0].name, "prefix");
    assert_int_equal(o[0].type, NK_OPT_STRING);
    assert_string_equal(o[0].def, "echo : ");
    assert_string_equal(o[1].name, "max_frame");
    assert_int_equal(o[1].type, NK_OPT_SIZE);
    assert_string_equal(o[1].def, "1M");
    assert_string_equal(o[2].name, "length_bytes");
    assert_int_equal(o[2].type, NK_OPT_ENUM);
    assert_string_equal(o[2].def, "4");
    assert_string_equal(o[2].choices, "1|2|4|8");
    assert_string_equal(o[3].name, "byte_order");
    assert_int_equal(o[3].type, NK_OPT_ENUM);
    assert_string_equal(o[3].def, "little");
    assert_string_equal(o[3].choices, "little|big");
    assert_null(o[4].name);
    for (int i = 0; i < 4; i++) {
        assert_non_null(o[i].help);
        assert_true(o[i].help[0] != '\0');
    }

    assert_nk_ok(fake_opts_build(&fo, o, NULL));
    assert_int_equal(fo.n, 4);
    assert_int_equal(fo.v[0].len, 7);
    assert_int_equal(fo.v[1].num, 1024 * 1024);
    assert_int_equal(fo.v[2].num, 2);
    assert_int_equal(fo.v[3].num, 0);
    fake_opts_free(&fo);
}

/* By default the host may buffer a 1 MiB payload plus its 4-byte header. */
static void
test_framed_default_max_message(void **state)
{
    struct fake_host *fh = *state;

    assert_int_equal(fh->max_message, 1024 * 1024 + 4);
}

/* `05 00 00 00 hello` is one 9-byte message whose payload is hello, and it
 * is answered with `0c 00 00 00 echo : hello`. */
static void
test_framed_one_message(void **state)
{
    static const uint8_t in[] = "\x05\x00\x00\x00"
                                "hello"
                                "\x07\x00";
    struct fake_host *fh = *state;
    struct nk_frame fr;

    assert_int_equal(decode(fh, in, 9, &fr), 9);
    assert_ptr_equal(fr.payload, in + 4);
    assert_int_equal(fr.payload_len, 5);
    /* Bytes of the next message after it change nothing. */
    assert_int_equal(decode(fh, in, sizeof(in) - 1, &fr), 9);
    assert_ptr_equal(fr.payload, in + 4);
    assert_int_equal(fr.payload_len, 5);

    assert_nk_ok(serve(fh, fr.payload, fr.payload_len));
    assert_int_equal(fh->nsent, 1);
    assert_sent_lit(fh, 0,
                    "\x0c\x00\x00\x00"
                    "echo : hello");
    assert_int_equal(fh->sent[0].head_len, 4);
    assert_int_equal(fh->sent[0].tail_len, 0);
    assert_ptr_equal(fh->sent[0].session, &fh->session);
    assert_int_equal(fh->closes, 0);
}

/* The stream shared by the many-messages and split cases: a, an empty
 * message, hello, hello world. */
static const uint8_t stream4[] = "\x01\x00\x00\x00"
                                 "a"
                                 "\x00\x00\x00\x00"
                                 "\x05\x00\x00\x00"
                                 "hello"
                                 "\x0b\x00\x00\x00"
                                 "hello world";

/* Assert the four replies to stream4, in order. */
static void
assert_stream4_replies(struct fake_host *fh)
{
    assert_int_equal(fh->nsent, 4);
    assert_sent_lit(fh, 0,
                    "\x08\x00\x00\x00"
                    "echo : a");
    assert_sent_lit(fh, 1,
                    "\x07\x00\x00\x00"
                    "echo : ");
    assert_sent_lit(fh, 2,
                    "\x0c\x00\x00\x00"
                    "echo : hello");
    assert_sent_lit(fh, 3,
                    "\x12\x00\x00\x00"
                    "echo : hello world");
}

/* Several messages in one read decode one after another, advancing by each
 * return value, and each gets its own reply. */
static void
test_framed_many_messages(void **state)
{
    static const size_t sizes[] = {5, 4, 9, 15};
    struct fake_host *fh = *state;
    size_t off = 0, len = sizeof(stream4) - 1;
    struct nk_frame fr;

    for (int i = 0; i < 4; i++) {
        long rc = decode(fh, stream4 + off, len - off, &fr);

        assert_int_equal(rc, sizes[i]);
        assert_ptr_equal(fr.payload, stream4 + off + 4);
        assert_int_equal(fr.payload_len, sizes[i] - 4);
        assert_nk_ok(serve(fh, fr.payload, fr.payload_len));
        off += (size_t)rc;
    }
    assert_int_equal(off, len);
    assert_stream4_replies(fh);

    /* The same through the host's read path, in one read. */
    fake_host_clear(fh);
    assert_int_equal(fake_host_feed(fh, stream4, len), 4);
    assert_stream4_replies(fh);
    assert_int_equal(fh->session.in_len, 0);
}

/* Every proper prefix of a message needs more, with need 0 until the
 * header is complete and the total after; decode keeps no state. */
static void
test_framed_split_prefixes(void **state)
{
    static const uint8_t in[] = "\x05\x00\x00\x00"
                                "hello";
    struct fake_host *fh = *state;
    struct nk_frame fr;

    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 1; k < 9; k++) {
            assert_nk_err(decode(fh, in, k, &fr), NK_ENEEDMORE);
            assert_int_equal(fr.need, k < 4 ? 0 : 9);
        }
        assert_int_equal(decode(fh, in, 9, &fr), 9);
        assert_int_equal(fr.payload_len, 5);
    }
    assert_int_equal(fh->nsent, 0);
}

/* A stream split at any one position, or fed one byte a read, gets the
 * same replies as in one read. */
static void
test_framed_split_every_byte(void **state)
{
    struct fake_host *fh = *state;
    size_t len = sizeof(stream4) - 1;
    long served;

    for (size_t cut = 1; cut < len; cut++) {
        fake_host_clear(fh);
        served = fake_host_feed(fh, stream4, cut);
        assert_in_range(served, 0, 4);
        assert_int_equal(fake_host_feed(fh, stream4 + cut, len - cut),
                         4 - served);
        assert_stream4_replies(fh);
        assert_int_equal(fh->session.in_len, 0);
    }

    fake_host_clear(fh);
    served = 0;
    for (size_t i = 0; i < len; i++) {
        long rc = fake_host_feed(fh, stream4 + i, 1);

        assert_in_range(rc, 0, 1);
        served += rc;
    }
    assert_int_equal(served, 4);
    assert_stream4_replies(fh);
}

/* Length 0 is a valid empty message, answered with `07 00 00 00 echo : `. */
static void
test_framed_empty_message(void **state)
{
    static const uint8_t in[] = "\x00\x00\x00\x00";
    struct fake_host *fh = *state;
    struct nk_frame fr;

    assert_nk_err(decode(fh, in, 3, &fr), NK_ENEEDMORE);
    assert_int_equal(fr.need, 0);
    assert_int_equal(decode(fh, in, 4, &fr), 4);
    assert_int_equal(fr.payload_len, 0);
    assert_nk_ok(serve(fh, fr.payload, fr.payload_len));
    assert_sent_lit(fh, 0,
                    "\x07\x00\x00\x00"
                    "echo : ");
}

/* With max_frame=16 a header announcing 16 fits max_message and one
 * announcing 17 does not, known from the 4 header bytes alone. */
static void
test_framed_max_frame(void **state)
{
    static const uint8_t hdr16[] = "\x10\x00\x00\x00"
                                   "0123456789abcdef";
    static const uint8_t hdr17[] = "\x11\x00\x00\x00";
    struct fake_host *fh = *state;
    struct nk_frame fr;

    assert_int_equal(fh->max_message, 4 + 16);

    assert_nk_err(decode(fh, hdr16, 4, &fr), NK_ENEEDMORE);
    assert_int_equal(fr.need, 4 + 16);
    assert_true(fr.need <= fh->max_message);

    assert_nk_err(decode(fh, hdr17, 3, &fr), NK_ENEEDMORE);
    assert_int_equal(fr.need, 0);
    assert_nk_err(decode(fh, hdr17, 4, &fr), NK_ENEEDMORE);
    assert_int_equal(fr.need, 4 + 17);
    assert_true(fr.need > fh->max_message);

    /* The host refuses 17 on the header; 16 is served whole. */
    assert_nk_err(fake_host_feed(fh, hdr17, 4), NK_EFRAMETOOBIG);
    assert_int_equal(fh->nsent, 0);
    fake_host_clear(fh);
    assert_int_equal(fake_host_feed(fh, hdr16, sizeof(hdr16) - 1), 1);
    assert_sent_lit(fh, 0,
                    "\x17\x00\x00\x00"
                    "echo : 0123456789abcdef");
}

/* max_message is max_frame plus the width of the length field, and
 * max_frame=0 admits only empty messages. */
static void
test_framed_max_frame_width(void **state)
{
    static const char *k1[] = {"length_bytes=2", "max_frame=1k", NULL};
    static const char *zero[] = {"length_bytes=8", "max_frame=0", NULL};
    static const uint8_t one[8] = {1};
    static const uint8_t none[8] = {0};
    struct fake_host *fh = *state;
    struct nk_frame fr;

    assert_nk_ok(fake_host_reopen(fh, k1, NK_TRANSPORT_TCP));
    assert_int_equal(fh->max_message, 1024 + 2);

    assert_nk_ok(fake_host_reopen(fh, zero, NK_TRANSPORT_TCP));
    assert_int_equal(fh->max_message, 8);
    assert_int_equal(decode(fh, none, 8, &fr), 8);
    assert_nk_err(decode(fh, one, 8, &fr), NK_ENEEDMORE);
    assert_int_equal(fr.need, 9);
    assert_true(fr.need > fh->max_message);
}

/* With length_bytes=8, a length near UINT64_MAX is NK_EFRAMETOOBIG, and no
 * length makes need wrap around. */
static void
test_framed_huge_length(void **state)
{
    const uint64_t top = UINT64_MAX, half = (uint64_t)1 << 63;
    const uint64_t huge[] = {top,          top - 1, top - 7, top - 8,
                             top - 0xffff, half,    half - 7};
    static const char *big8[] = {"length_bytes=8", "byte_order=big", NULL};
    struct fake_host *fh = *state;
    uint8_t buf[8 + 3] = {0};
    struct nk_frame fr;

    for (int big = 0; big < 2; big++) {
        if (big)
            assert_nk_ok(fake_host_reopen(fh, big8, NK_TRANSPORT_TCP));
        for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
            put_len(buf, 8, big, huge[i]);
            assert_nk_err(decode(fh, buf, 8, &fr), NK_EFRAMETOOBIG);
            assert_nk_err(decode(fh, buf, sizeof(buf), &fr), NK_EFRAMETOOBIG);
        }
        /* Around 2^63 and below 2^64: refused, or a need that did not
         * wrap and that the host will refuse. */
        for (uint64_t d = 0; d < 64; d++) {
            uint64_t n[2] = {half - 32 + d, top - d};

            for (int j = 0; j < 2; j++) {
                long rc;

                put_len(buf, 8, big, n[j]);
                rc = decode(fh, buf, 8, &fr);
                if (rc == NK_EFRAMETOOBIG)
                    continue;
                assert_nk_err(rc, NK_ENEEDMORE);
                assert_true(fr.need > n[j]);
                assert_true(fr.need - 8 == n[j]);
                assert_true(fr.need > fh->max_message);
            }
        }
        put_len(buf, 8, big, top);
        assert_nk_err(fake_host_feed(fh, buf, 8), NK_EFRAMETOOBIG);
        assert_int_equal(fh->nsent, 0);
        fake_host_clear(fh);
    }

    /* A 4-byte field's largest length does not wrap either. */
    assert_nk_ok(fake_host_reopen(fh, NULL, NK_TRANSPORT_TCP));
    memset(buf, 0xff, 4);
#if LONG_MAX > 0xffffffffL
    assert_nk_err(decode(fh, buf, 4, &fr), NK_ENEEDMORE);
    assert_true(fr.need == (size_t)0xffffffffu + 4);
    assert_true(fr.need > fh->max_message);
#else
    assert_nk_err(decode(fh, buf, 4, &fr), NK_EFRAMETOOBIG);
#endif
}

/* One length_bytes x byte_order combination with its expected headers. */
struct combo {
    const char *opts[3];
    unsigned width;
    int big;
    uint8_t five[8]; /* the header of a 5-byte payload */
    uint64_t wide;   /* a length that uses every header byte */
    uint8_t wide_hdr[8];
};

static const struct combo combos[] = {
    {{"length_bytes=1", "byte_order=little"}, 1, 0, {5}, 0xfe, {0xfe}},
    {{"length_bytes=1", "byte_order=big"}, 1, 1, {5}, 0xfe, {0xfe}},
    {{"length_bytes=2", "byte_order=little"}, 2, 0, {5, 0}, 0x0102, {2, 1}},
    {{"length_bytes=2", "byte_order=big"}, 2, 1, {0, 5}, 0x0102, {1, 2}},
    {{"length_bytes=4", "byte_order=little"},
     4,
     0,
     {5, 0, 0, 0},
     0x01020304,
     {4, 3, 2, 1}},
    {{"length_bytes=4", "byte_order=big"},
     4,
     1,
     {0, 0, 0, 5},
     0x01020304,
     {1, 2, 3, 4}},
    {{"length_bytes=8", "byte_order=little"},
     8,
     0,
     {5, 0, 0, 0, 0, 0, 0, 0},
     0x0102030405060708,
     {8, 7, 6, 5, 4, 3, 2, 1}},
    {{"length_bytes=8", "byte_order=big"},
     8,
     1,
     {0, 0, 0, 0, 0, 0, 0, 5},
     0x0102030405060708,
     {1, 2, 3, 4, 5, 6, 7, 8}},
};

/* Does a length fit a field of `width` bytes? */
static int
fits(size_t n, unsigned width)
{
    return width >= 8 || ((uint64_t)n >> (8 * width)) == 0;
}

/* Encode, decode and echo payloads of several sizes with combination c. */
static void
round_trip(struct fake_host *fh, const struct combo *c)
{
    static const size_t sizes[] = {0,   1,    5,     200,   249,   255,  256,
                                   258, 1000, 65528, 65535, 65536, 70000};
    enum { PREFIX = 7, EXTRA = 3 };

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        uint8_t *buf = malloc(NK_HDR_MAX + n + EXTRA);
        struct nk_frame fr;
        long hlen;

        assert_non_null(buf);
        if (!fits(n, c->width)) {
            assert_nk_err(encode(fh, n, buf), NK_EMSGSIZE);
            free(buf);
            continue;
        }
        hlen = encode(fh, n, buf);
        assert_int_equal(hlen, c->width);
        for (size_t j = 0; j < n + EXTRA; j++)
            buf[hlen + j] = (uint8_t)(j * 31 + 7); /* NULs included */
        assert_int_equal(decode(fh, buf, (size_t)hlen + n + EXTRA, &fr),
                         hlen + (long)n);
        assert_ptr_equal(fr.payload, buf + hlen);
        assert_int_equal(fr.payload_len, n);

        /* The reply decodes, with the same codec, to prefix + payload. */
        fake_host_clear(fh);
        if (!fits(n + PREFIX, c->width)) {
            assert_nk_err(serve(fh, fr.payload, n), NK_EMSGSIZE);
            assert_int_equal(fh->nsent, 0);
            free(buf);
            continue;
        }
        assert_nk_ok(serve(fh, fr.payload, n));
        assert_int_equal(fh->nsent, 1);
        assert_int_equal(fh->sent[0].len, c->width + PREFIX + n);
        assert_int_equal(decode(fh, fh->sent[0].bytes, fh->sent[0].len, &fr),
                         fh->sent[0].len);
        assert_int_equal(fr.payload_len, PREFIX + n);
        assert_memory_equal(fr.payload, "echo : ", PREFIX);
        assert_memory_equal(fr.payload + PREFIX, buf + hlen, n);
        free(buf);
    }
}

/* Every length_bytes x byte_order combination writes the expected header
 * bytes, reads them back, and round-trips payloads of many sizes. */
static void
test_framed_widths_and_orders(void **state)
{
    struct fake_host *fh = *state;

    for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
        const struct combo *c = &combos[i];
        uint8_t hdr[NK_HDR_MAX], msg[8 + 5];
        struct nk_frame fr;

        assert_nk_ok(fake_host_reopen(fh, c->opts, NK_TRANSPORT_TCP));
        assert_int_equal(fh->max_message, 1024 * 1024 + c->width);

        assert_int_equal(encode(fh, 5, hdr), c->width);
        assert_memory_equal(hdr, c->five, c->width);
        if (c->wide <= SIZE_MAX) {
            assert_int_equal(encode(fh, (size_t)c->wide, hdr), c->width);
            assert_memory_equal(hdr, c->wide_hdr, c->width);
        }
        if (c->wide <= (uint64_t)LONG_MAX - c->width) {
            assert_nk_err(decode(fh, c->wide_hdr, c->width, &fr), NK_ENEEDMORE);
            assert_true(fr.need == c->width + c->wide);
        } else { /* a 32-bit host cannot hold it */
            assert_nk_err(decode(fh, c->wide_hdr, c->width, &fr),
                          NK_EFRAMETOOBIG);
        }

        /* hello after its header; every proper prefix needs more. */
        memcpy(msg, c->five, c->width);
        memcpy(msg + c->width, "hello", 5);
        for (size_t k = 1; k < c->width + 5; k++) {
            assert_nk_err(decode(fh, msg, k, &fr), NK_ENEEDMORE);
            assert_int_equal(fr.need, k < c->width ? 0 : c->width + 5);
        }
        assert_int_equal(decode(fh, msg, c->width + 5, &fr), c->width + 5);
        assert_memory_equal(fr.payload, "hello", 5);

        /* The reply's header holds 12 in this width and order. */
        assert_nk_ok(serve(fh, fr.payload, fr.payload_len));
        assert_int_equal(fh->sent[0].len, c->width + 12);
        memset(hdr, 0, sizeof(hdr));
        put_len(hdr, c->width, c->big, 12);
        assert_memory_equal(fh->sent[0].bytes, hdr, c->width);
        assert_memory_equal(fh->sent[0].bytes + c->width, "echo : hello", 12);

        round_trip(fh, c);
    }
}

/* With length_bytes=2 byte_order=big (DNS over TCP) a 5-byte message is
 * `00 05` + payload, and with an empty prefix it comes back unchanged. */
static void
test_framed_dns_over_tcp(void **state)
{
    static const uint8_t in[] = "\x00\x05"
                                "hello";
    struct fake_host *fh = *state;
    struct nk_frame fr;
    uint8_t hdr[NK_HDR_MAX];

    assert_int_equal(encode(fh, 5, hdr), 2);
    assert_memory_equal(hdr, "\x00\x05", 2);
    assert_int_equal(encode(fh, 512, hdr), 2);
    assert_memory_equal(hdr, "\x02\x00", 2);
    assert_int_equal(decode(fh, in, 7, &fr), 7);
    assert_nk_ok(serve(fh, fr.payload, fr.payload_len));
    assert_sent_lit(fh, 0,
                    "\x00\x05"
                    "hello");
}

/* encode refuses a length its field cannot hold with NK_EMSGSIZE, and so
 * does the reply that would need it, sending nothing. */
static void
test_framed_encode_too_big(void **state)
{
    static const char *w2[] = {"length_bytes=2", NULL};
    static const char *w4[] = {"length_bytes=4", NULL};
    static const char *w8[] = {"length_bytes=8", "byte_order=big", NULL};
    struct fake_host *fh = *state;
    uint8_t hdr[NK_HDR_MAX], payload[249];

    assert_int_equal(encode(fh, 255, hdr), 1);
    assert_int_equal(hdr[0], 0xff);
    assert_nk_err(encode(fh, 256, hdr), NK_EMSGSIZE);
    assert_nk_err(encode(fh, SIZE_MAX, hdr), NK_EMSGSIZE);

    /* 7 + 248 = 255 bytes fit; 7 + 249 = 256 do not. */
    memset(payload, 'x', sizeof(payload));
    assert_nk_ok(serve(fh, payload, 248));
    assert_int_equal(fh->sent[0].len, 256);
    assert_int_equal(fh->sent[0].bytes[0], 0xff);
    fake_host_clear(fh);
    assert_nk_err(serve(fh, payload, 249), NK_EMSGSIZE);
    assert_int_equal(fh->nsent, 0);

    assert_nk_ok(fake_host_reopen(fh, w2, NK_TRANSPORT_TCP));
    assert_int_equal(encode(fh, 65535, hdr), 2);
    assert_memory_equal(hdr, "\xff\xff", 2);
    assert_nk_err(encode(fh, 65536, hdr), NK_EMSGSIZE);

    assert_nk_ok(fake_host_reopen(fh, w4, NK_TRANSPORT_TCP));
    assert_int_equal(encode(fh, 0xffffffffu, hdr), 4);
    assert_memory_equal(hdr, "\xff\xff\xff\xff", 4);
#if SIZE_MAX > 0xffffffffu
    assert_nk_err(encode(fh, (size_t)1 << 32, hdr), NK_EMSGSIZE);
#endif

    assert_nk_ok(fake_host_reopen(fh, w8, NK_TRANSPORT_TCP));
    assert_int_equal(encode(fh, SIZE_MAX, hdr), 8);
    put_len(payload, 8, 1, SIZE_MAX);
    assert_memory_equal(hdr, payload, 8);
}

/* A custom prefix is put in front of the payload, and the length counts
 * it. */
static void
test_framed_custom_prefix(void **state)
{
    struct fake_host *fh = *state;

    assert_nk_ok(serve(fh, "hello", 5));
    assert_sent_lit(fh, 0,
                    "\x09\x00\x00\x00"
                    "re: hello");
}

/* With an empty prefix every message comes back byte for byte. */
static void
test_framed_empty_prefix(void **state)
{
    static const uint8_t in[] = "\x05\x00\x00\x00"
                                "hello"
                                "\x00\x00\x00\x00";
    struct fake_host *fh = *state;

    assert_int_equal(fake_host_feed(fh, in, sizeof(in) - 1), 2);
    assert_sent_lit(fh, 0,
                    "\x05\x00\x00\x00"
                    "hello");
    assert_sent_lit(fh, 1, "\x00\x00\x00\x00");
}

/* A prefix holding NUL bytes is sent whole. */
static void
test_framed_prefix_with_nul(void **state)
{
    const struct nk_option *o = nk_plugin_entry()->options;
    struct fake_host *fh = *state;
    struct fake_opts fo;

    fake_host_fini(fh);
    assert_nk_ok(fake_opts_build(&fo, o, NULL));
    assert_nk_ok(fake_opts_set_bytes(&fo, o, "prefix", "\0>\0", 3));
    assert_nk_ok(fake_host_create_opts(fh, &fo, NK_TRANSPORT_TCP));
    fake_opts_free(&fo);

    assert_nk_ok(serve(fh, "hello", 5));
    assert_sent_lit(fh, 0,
                    "\x08\x00\x00\x00"
                    "\0>\0hello");
}

/* Payloads with NUL, CR, LF and every byte value pass through exactly. */
static void
test_framed_binary_payload(void **state)
{
    static const uint8_t in[] = "\x06\x00\x00\x00"
                                "\x00\xff\x00\r\n\x00";
    struct fake_host *fh = *state;
    uint8_t all[4 + 256];
    struct nk_frame fr;

    assert_int_equal(decode(fh, in, sizeof(in) - 1, &fr), 10);
    assert_int_equal(fr.payload_len, 6);
    assert_nk_ok(serve(fh, fr.payload, fr.payload_len));
    assert_sent_lit(fh, 0,
                    "\x0d\x00\x00\x00"
                    "echo : "
                    "\x00\xff\x00\r\n\x00");

    put_len(all, 4, 0, 256);
    for (int i = 0; i < 256; i++)
        all[4 + i] = (uint8_t)i;
    fake_host_clear(fh);
    assert_int_equal(fake_host_feed(fh, all, sizeof(all)), 1);
    assert_int_equal(fh->sent[0].len, 4 + 7 + 256);
    assert_memory_equal(fh->sent[0].bytes, "\x07\x01\x00\x00", 4);
    assert_memory_equal(fh->sent[0].bytes + 11, all + 4, 256);
}

/* A message saying exit is echoed like any other; framed never closes. */
static void
test_framed_exit_is_echoed(void **state)
{
    static const uint8_t in[] = "\x04\x00\x00\x00"
                                "exit";
    struct fake_host *fh = *state;

    assert_int_equal(fake_host_feed(fh, in, sizeof(in) - 1), 1);
    assert_sent_lit(fh, 0,
                    "\x0b\x00\x00\x00"
                    "echo : exit");
    assert_int_equal(fh->closes, 0);
}

/* Over UDP, a datagram whose length field disagrees with its size decodes
 * to a different length (or needs more), which the host drops. */
static void
test_framed_udp_mismatch(void **state)
{
    static const uint8_t shorter[] = "\x03\x00\x00\x00"
                                     "hello";
    static const uint8_t longer[] = "\x09\x00\x00\x00"
                                    "hello";
    static const uint8_t exact[] = "\x05\x00\x00\x00"
                                   "hello";
    struct fake_host *fh = *state;
    struct nk_frame fr;

    assert_int_equal(decode(fh, shorter, 9, &fr), 7);
    assert_nk_err(decode(fh, longer, 9, &fr), NK_ENEEDMORE);
    assert_int_equal(fr.need, 13);
    assert_int_equal(decode(fh, exact, 9, &fr), 9);
    assert_nk_ok(serve(fh, fr.payload, fr.payload_len));
    assert_sent_lit(fh, 0,
                    "\x0c\x00\x00\x00"
                    "echo : hello");
}

/* An error from the host's send is on_message's result. */
static void
test_framed_send_error(void **state)
{
    struct fake_host *fh = *state;

    fh->send_fail = NK_ENOMEM;
    assert_nk_err(serve(fh, "hello", 5), NK_ENOMEM);
    assert_int_equal(fh->nsent, 0);
}

/* Two instances with different options do not share state. */
static void
test_framed_instances_independent(void **state)
{
    static const char *other_opts[] = {"prefix=B:", "length_bytes=2",
                                       "byte_order=big", NULL};
    struct fake_host *fh = *state;
    struct fake_host other;

    fake_host_init(&other, nk_plugin_entry());
    assert_nk_ok(fake_host_create(&other, other_opts, NK_TRANSPORT_UDP));

    assert_nk_ok(serve(fh, "x", 1));
    assert_nk_ok(serve(&other, "x", 1));
    assert_nk_ok(serve(fh, "y", 1));
    assert_sent_lit(fh, 0,
                    "\x08\x00\x00\x00"
                    "echo : x");
    assert_sent_lit(fh, 1,
                    "\x08\x00\x00\x00"
                    "echo : y");
    assert_sent_lit(&other, 0,
                    "\x00\x03"
                    "B:x");
    fake_host_fini(&other);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framed_description),
        cmocka_unit_test(test_framed_options),
        cmocka_unit_test_setup_teardown(test_framed_default_max_message, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_framed_one_message, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_framed_many_messages, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_framed_split_prefixes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_framed_split_every_byte, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_framed_empty_message, setup,
                                        teardown),
        cmocka_unit_test_prestate_setup_teardown(test_framed_max_frame, setup,
                                                 teardown, opts_max16),
        cmocka_unit_test_setup_teardown(test_framed_max_frame_width, setup,
                                        teardown),
        cmocka_unit_test_prestate_setup_teardown(test_framed_huge_length, setup,
                                                 teardown, opts_wide8),
        cmocka_unit_test_setup_teardown(test_framed_widths_and_orders, setup,
                                        teardown),
        cmocka_unit_test_prestate_setup_teardown(test_framed_dns_over_tcp,
                                                 setup, teardown, opts_dns),
        cmocka_unit_test_prestate_setup_teardown(test_framed_encode_too_big,
                                                 setup, teardown, opts_width1),
        cmocka_unit_test_prestate_setup_teardown(test_framed_custom_prefix,
                                                 setup, teardown, opts_re),
        cmocka_unit_test_prestate_setup_teardown(
            test_framed_empty_prefix, setup, teardown, opts_noprefix),
        cmocka_unit_test_setup_teardown(test_framed_prefix_with_nul, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_framed_binary_payload, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_framed_exit_is_echoed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_framed_udp_mismatch, setup_udp,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_framed_send_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_framed_instances_independent,
                                        setup, teardown),
    };

    fake_test_args(argc, argv);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
