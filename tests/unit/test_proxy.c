/*
 * test_proxy.c -- the PROXY protocol header of core/serve/proxy.c: version
 * 1 and 2 headers from HAProxy's doc/proxy-protocol.txt (its example line
 * and its longest lines), LOCAL / UNKNOWN / unspecified families, TLVs,
 * every header split at every byte, malformed headers with their reasons,
 * the length limits, and built headers parsed back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "base/addr.h"
#include "serve/proxy.h"

#define SIG "\r\n\r\n\0\r\nQUIT\n"

/* A byte string with its length (headers hold NULs). */
struct bytes {
    const char *p;
    size_t n;
};
#define B(lit) ((struct bytes){(lit), sizeof(lit) - 1})

static const char *
fmt(const struct sockaddr_storage *ss, char *buf)
{
    nk__addr_format((const struct sockaddr *)ss, buf, NK_ADDRSTRLEN);
    return buf;
}

/*
 * The whole of `b` (header + `extra` bytes of payload after it) parses to
 * a header of b.n - extra bytes; every shorter prefix of the header asks
 * for more.
 */
static void
parses(struct bytes b, size_t extra, int mode, struct nk__proxy_hdr *h)
{
    size_t hlen = b.n - extra;

    for (size_t k = 0; k < hlen; k++) {
        long rc = nk__proxy_parse((const uint8_t *)b.p, k, mode, h);
        if (rc != 0)
            fail_msg("prefix of %zu of %zu bytes: %ld (%s)", k, hlen, rc,
                     h->why ? h->why : "");
    }
    assert_int_equal(nk__proxy_parse((const uint8_t *)b.p, b.n, mode, h),
                     (long)hlen);
}

/* `b` is refused with `why`, once `at` bytes have arrived (and not
 * before: shorter prefixes ask for more). */
static void
refused(struct bytes b, int mode, size_t at, const char *why)
{
    struct nk__proxy_hdr h;

    for (size_t k = 0; k < at; k++) {
        long rc = nk__proxy_parse((const uint8_t *)b.p, k, mode, &h);
        if (rc != 0)
            fail_msg("'%.*s': prefix of %zu refused early (%s)", (int)b.n, b.p,
                     k, h.why ? h.why : "");
    }
    for (size_t k = at; k <= b.n; k++) {
        assert_int_equal(nk__proxy_parse((const uint8_t *)b.p, k, mode, &h),
                         -1);
        assert_string_equal(h.why, why);
    }
}

/* The example of the specification's section 2.1, before an HTTP request. */
static void
test_proxy_v1_spec_example(void **state)
{
    struct bytes b = B("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
                       "GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n");
    struct nk__proxy_hdr h;
    char a[NK_ADDRSTRLEN];

    (void)state;
    parses(b, b.n - 47, NK_PROXY_V1, &h);
    assert_int_equal(h.version, 1);
    assert_false(h.local);
    assert_int_equal(h.socktype, SOCK_STREAM);
    assert_string_equal(fmt(&h.src, a), "192.168.0.1:56324");
    assert_string_equal(fmt(&h.dst, a), "192.168.0.11:443");
    assert_int_equal(h.srclen, sizeof(struct sockaddr_in));
    parses(b, b.n - 47, NK_PROXY_ANY, &h);
}

/* The longest lines of each kind, as section 2.1 counts them. */
static void
test_proxy_v1_longest_lines(void **state)
{
    struct bytes v4 =
        B("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n");
    struct bytes v6 = B("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 "
                        "65535\r\n");
    struct bytes unk = B("PROXY UNKNOWN\r\n");
    struct bytes worst = B("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:"
                           "ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                           "65535 65535\r\n");
    struct nk__proxy_hdr h;
    char a[NK_ADDRSTRLEN];

    (void)state;
    assert_int_equal(v4.n, 56);
    assert_int_equal(v6.n, 104);
    assert_int_equal(unk.n, 15);
    assert_int_equal(worst.n, 107);
    parses(v4, 0, NK_PROXY_V1, &h);
    assert_string_equal(fmt(&h.src, a), "255.255.255.255:65535");
    parses(v6, 0, NK_PROXY_V1, &h);
    assert_string_equal(fmt(&h.src, a),
                        "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
    assert_int_equal(h.srclen, sizeof(struct sockaddr_in6));
    parses(unk, 0, NK_PROXY_V1, &h);
    assert_true(h.local);
    parses(worst, 0, NK_PROXY_ANY, &h);
    assert_true(h.local);
}

static void
test_proxy_v1_forms(void **state)
{
    struct nk__proxy_hdr h;
    char a[NK_ADDRSTRLEN];

    (void)state;
    parses(B("PROXY TCP6 2001:db8::1 ::1 0 9999\r\nx"), 1, NK_PROXY_V1, &h);
    assert_string_equal(fmt(&h.src, a), "[2001:db8::1]:0");
    assert_string_equal(fmt(&h.dst, a), "[::1]:9999");
    parses(B("PROXY TCP4 0.0.0.0 10.0.0.1 0 0\r\n"), 0, NK_PROXY_V1, &h);
    assert_string_equal(fmt(&h.src, a), "0.0.0.0:0");
    /* UNKNOWN: anything up to the CRLF is ignored */
    parses(B("PROXY UNKNOWN whatever 1 2 3\r\n"), 0, NK_PROXY_V1, &h);
    assert_true(h.local);
}

static void
test_proxy_v1_malformed(void **state)
{
    static const struct {
        const char *line, *why;
    } bad[] = {
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "LF without CR"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", "CR without LF"},
        {"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
         "empty field (two spaces, or a space at the end)"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
         "empty field (two spaces, or a space at the end)"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "too many fields"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "too few fields"},
        {"PROXY TCP4\r\n", "too few fields"},
        {"PROXY \r\n", "empty field (two spaces, or a space at the end)"},
        {"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
         "unknown protocol (expected TCP4, TCP6 or UNKNOWN)"},
        {"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
         "unknown protocol (expected TCP4, TCP6 or UNKNOWN)"},
        {"PROXY UNKNOWNX\r\n",
         "unknown protocol (expected TCP4, TCP6 or UNKNOWN)"},
        {"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", "invalid source IPv4 address"},
        {"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "invalid source IPv4 address"},
        {"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", "invalid source IPv4 address"},
        {"PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", "invalid source IPv4 address"},
        {"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "invalid source IPv4 address"},
        {"PROXY TCP4 1.2.3.4 ::1 1 2\r\n", "invalid destination IPv4 address"},
        {"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "invalid source IPv6 address"},
        {"PROXY TCP6 ::1 ::g 1 2\r\n", "invalid destination IPv6 address"},
        {"PROXY TCP6 fe80::1%lo ::1 1 2\r\n", "invalid source IPv6 address"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "invalid source port"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", "invalid source port"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", "invalid source port"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 x\r\n", "invalid destination port"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\t\r\n",
         "a byte that is not printable ASCII"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct nk__proxy_hdr h;
        size_t n = strlen(bad[i].line);
        long rc =
            nk__proxy_parse((const uint8_t *)bad[i].line, n, NK_PROXY_ANY, &h);
        if (rc != -1 || strcmp(h.why, bad[i].why) != 0)
            fail_msg("'%s': %ld (%s), want '%s'", bad[i].line, rc,
                     h.why ? h.why : "no reason", bad[i].why);
    }
}

/* Refused as soon as a byte shows it: not after waiting for more. */
static void
test_proxy_early_refusal(void **state)
{
    (void)state;
    refused(B("GET / HTTP/1.1\r\n"), NK_PROXY_ANY, 1,
            "no PROXY protocol header");
    refused(B("PROXX TCP4"), NK_PROXY_ANY, 5, "no PROXY protocol header");
    refused(B("\r\n\r\nX"), NK_PROXY_ANY, 5, "no PROXY protocol header");
    refused(B("PROXY TCP4 1.2.3.4\n"), NK_PROXY_V1, 19, "LF without CR");
    refused(B("PROXY TCP4\x01"), NK_PROXY_V1, 11,
            "a byte that is not printable ASCII");
    refused(B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), NK_PROXY_V2, 1,
            "a version 1 header where only version 2 is accepted");
    refused(B(SIG "\x21\x11\x00\x0c"), NK_PROXY_V1, 1,
            "a version 2 header where only version 1 is accepted");
    refused(B(SIG "\x11\x11\x00\x0c"), NK_PROXY_V2, 13,
            "unsupported version (expected 2)");
    refused(B(SIG "\x22\x11\x00\x0c"), NK_PROXY_V2, 13,
            "unknown command (expected LOCAL or PROXY)");
    refused(B(SIG "\x21\x41\x00\x0c"), NK_PROXY_V2, 14,
            "invalid address family or protocol");
    refused(B(SIG "\x21\x13\x00\x0c"), NK_PROXY_V2, 14,
            "invalid address family or protocol");
}

/* 107 bytes without a CRLF: refused at the 107th, not one byte before. */
static void
test_proxy_v1_limit(void **state)
{
    char line[200];
    struct nk__proxy_hdr h;

    (void)state;
    memset(line, 'a', sizeof(line));
    memcpy(line, "PROXY UNKNOWN ", 14);
    assert_int_equal(nk__proxy_parse((uint8_t *)line, 106, NK_PROXY_V1, &h), 0);
    assert_int_equal(nk__proxy_parse((uint8_t *)line, 107, NK_PROXY_V1, &h),
                     -1);
    assert_string_equal(h.why, "no CRLF in the first 107 bytes");
    assert_int_equal(nk__proxy_parse((uint8_t *)line, 200, NK_PROXY_V1, &h),
                     -1);
    /* a CR as the 107th byte: its LF would be the 108th */
    line[106] = '\r';
    line[107] = '\n';
    assert_int_equal(nk__proxy_parse((uint8_t *)line, 106, NK_PROXY_V1, &h), 0);
    assert_int_equal(nk__proxy_parse((uint8_t *)line, 108, NK_PROXY_V1, &h),
                     -1);
    assert_string_equal(h.why, "no CRLF in the first 107 bytes");
    /* 107 bytes with the CRLF: the longest accepted */
    line[105] = '\r';
    line[106] = '\n';
    assert_int_equal(nk__proxy_parse((uint8_t *)line, 200, NK_PROXY_V1, &h),
                     107);
}

/* Version 2, TCP over IPv4 and IPv6, as the structs of section 2.2 lay
 * them out, with payload after. */
static void
test_proxy_v2_addresses(void **state)
{
    struct bytes v4 = B(SIG "\x21\x11\x00\x0c"
                            "\xc0\xa8\x00\x01"
                            "\xc0\xa8\x00\x0b"
                            "\xdc\x04\x01\xbb"
                            "payload");
    struct bytes v6 = B(SIG "\x21\x21\x00\x24"
                            "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"
                            "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"
                            "\x30\x39\x27\x0f");
    struct bytes udp = B(SIG "\x21\x12\x00\x0c"
                             "\x0a\x00\x00\x01\x0a\x00\x00\x02\x00\x35\x00"
                             "\x35");
    struct nk__proxy_hdr h;
    char a[NK_ADDRSTRLEN];

    (void)state;
    parses(v4, 7, NK_PROXY_V2, &h);
    assert_int_equal(h.version, 2);
    assert_false(h.local);
    assert_int_equal(h.socktype, SOCK_STREAM);
    assert_string_equal(fmt(&h.src, a), "192.168.0.1:56324");
    assert_string_equal(fmt(&h.dst, a), "192.168.0.11:443");
    parses(v4, 7, NK_PROXY_ANY, &h);
    parses(v6, 0, NK_PROXY_ANY, &h);
    assert_string_equal(fmt(&h.src, a), "[2001:db8::1]:12345");
    assert_string_equal(fmt(&h.dst, a), "[::1]:9999");
    parses(udp, 0, NK_PROXY_ANY, &h);
    assert_int_equal(h.socktype, SOCK_DGRAM);
    assert_string_equal(fmt(&h.src, a), "10.0.0.1:53");
}

/* LOCAL (health checks), unspecified and AF_UNIX: consumed, addresses of
 * the connection kept; the length is respected even for LOCAL. */
static void
test_proxy_v2_local_and_unspec(void **state)
{
    struct nk__proxy_hdr h;
    static const char unix_hdr[] = SIG "\x21\x31\x00\xd8";
    uint8_t buf[16 + 216 + 4];

    (void)state;
    parses(B(SIG "\x20\x00\x00\x00"
                 "GET"),
           3, NK_PROXY_V2, &h);
    assert_true(h.local);
    assert_int_equal(h.version, 2);
    /* LOCAL with an address block and a family byte to ignore */
    parses(B(SIG "\x20\x11\x00\x0c"
                 "\x01\x02\x03\x04\x05\x06\x07\x08\x00\x01\x00\x02"),
           0, NK_PROXY_V2, &h);
    assert_true(h.local);
    parses(B(SIG "\x20\xff\x00\x01"
                 "z"),
           0, NK_PROXY_V2, &h);
    assert_true(h.local);
    /* PROXY with an unspecified family or protocol */
    parses(B(SIG "\x21\x00\x00\x00"), 0, NK_PROXY_V2, &h);
    assert_true(h.local);
    parses(B(SIG "\x21\x10\x00\x0c"
                 "\x01\x02\x03\x04\x05\x06\x07\x08\x00\x01\x00\x02"),
           0, NK_PROXY_V2, &h);
    assert_true(h.local);
    /* AF_UNIX stream: 216 bytes of addresses skipped */
    memset(buf, 'u', sizeof(buf));
    memcpy(buf, unix_hdr, 16);
    parses((struct bytes){(const char *)buf, sizeof(buf)}, 4, NK_PROXY_ANY, &h);
    assert_true(h.local);
}

/* TLVs after the addresses are skipped; one that overruns is refused. */
static void
test_proxy_v2_tlvs(void **state)
{
    struct nk__proxy_hdr h;
    char a[NK_ADDRSTRLEN];

    (void)state;
    /* PP2_TYPE_AUTHORITY "example.com", PP2_TYPE_NOOP of 2 bytes, an
     * empty PP2_TYPE_UNIQUE_ID */
    parses(B(SIG "\x21\x11\x00\x22"
                 "\x7f\x00\x00\x02\x7f\x00\x00\x01\x13\x88\x27\x0f"
                 "\x02\x00\x0b"
                 "example.com"
                 "\x04\x00\x02zz"
                 "\x05\x00\x00"
                 "data"),
           4, NK_PROXY_V2, &h);
    assert_string_equal(fmt(&h.src, a), "127.0.0.2:5000");
    refused(B(SIG "\x21\x11\x00\x10"
                  "\x7f\x00\x00\x02\x7f\x00\x00\x01\x13\x88\x27\x0f"
                  "\x02\x00\x05"
                  "e"),
            NK_PROXY_V2, 32, "TLV longer than the header");
    refused(B(SIG "\x21\x11\x00\x0e"
                  "\x7f\x00\x00\x02\x7f\x00\x00\x01\x13\x88\x27\x0f"
                  "\x02\x00"),
            NK_PROXY_V2, 30, "truncated TLV");
}

static void
test_proxy_v2_short_address_block(void **state)
{
    (void)state;
    refused(B(SIG "\x21\x11\x00\x08"
                  "\x01\x02\x03\x04\x05\x06\x07\x08"),
            NK_PROXY_V2, 24, "address block too short for IPv4");
    refused(B(SIG "\x21\x21\x00\x0c"
                  "\x01\x02\x03\x04\x05\x06\x07\x08\x00\x01\x00\x02"),
            NK_PROXY_V2, 28, "address block too short for IPv6");
}

/* A v2 header is 16 + its length: a length of 65535 waits for all of it. */
static void
test_proxy_v2_limit(void **state)
{
    static uint8_t big[NK_PROXY_V2_MAX + 10];
    struct nk__proxy_hdr h;

    (void)state;
    memcpy(big, SIG "\x20\x00\xff\xff", 16);
    assert_int_equal(nk__proxy_parse(big, NK_PROXY_V2_MAX - 1, NK_PROXY_V2, &h),
                     0);
    assert_int_equal(nk__proxy_parse(big, sizeof(big), NK_PROXY_V2, &h),
                     NK_PROXY_V2_MAX);
}

static struct sockaddr_storage
sa(const char *ip, int port)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':') == NULL) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
    }
    return ss;
}

/* Built headers are what the specification says and parse back. */
static void
test_proxy_build(void **state)
{
    struct sockaddr_storage c4 = sa("192.168.0.1", 56324),
                            s4 = sa("192.168.0.11", 443),
                            c6 = sa("2001:db8::1", 12345), s6 = sa("::1", 9999),
                            m4 = sa("::ffff:10.0.0.1", 7);
    struct sockaddr *C4 = (struct sockaddr *)&c4, *S4 = (struct sockaddr *)&s4,
                    *C6 = (struct sockaddr *)&c6, *S6 = (struct sockaddr *)&s6,
                    *M4 = (struct sockaddr *)&m4;
    char line[NK_PROXY_V1_MAX + 1], a[NK_ADDRSTRLEN];
    uint8_t bin[16 + 36];
    struct nk__proxy_hdr h;
    int n;

    (void)state;
    n = nk__proxy_build_v1(C4, S4, line, sizeof(line));
    assert_string_equal(line,
                        "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
    assert_int_equal(n, 47);
    n = nk__proxy_build_v1(C6, S6, line, sizeof(line));
    assert_string_equal(line, "PROXY TCP6 2001:db8::1 ::1 12345 9999\r\n");
    /* mixed families: the IPv4 one is mapped */
    nk__proxy_build_v1(C4, S6, line, sizeof(line));
    assert_string_equal(line,
                        "PROXY TCP6 ::ffff:192.168.0.1 ::1 56324 9999\r\n");
    /* v4-mapped on both sides: plain TCP4 */
    nk__proxy_build_v1(M4, S4, line, sizeof(line));
    assert_string_equal(line, "PROXY TCP4 10.0.0.1 192.168.0.11 7 443\r\n");
    n = nk__proxy_build_v1(NULL, NULL, line, sizeof(line));
    assert_string_equal(line, "PROXY UNKNOWN\r\n");
    assert_int_equal(
        nk__proxy_parse((uint8_t *)line, (size_t)n, NK_PROXY_V1, &h), n);
    assert_true(h.local);
    assert_int_equal(nk__proxy_build_v1(C4, S4, line, 20), -1);

    n = nk__proxy_build_v2(C4, S4, SOCK_STREAM, bin, sizeof(bin));
    assert_int_equal(n, 28);
    assert_memory_equal(bin, SIG "\x21\x11\x00\x0c\xc0\xa8\x00\x01", 20);
    assert_int_equal(nk__proxy_parse(bin, (size_t)n, NK_PROXY_ANY, &h), n);
    assert_string_equal(fmt(&h.src, a), "192.168.0.1:56324");
    assert_string_equal(fmt(&h.dst, a), "192.168.0.11:443");
    n = nk__proxy_build_v2(C6, S6, SOCK_DGRAM, bin, sizeof(bin));
    assert_int_equal(n, 52);
    assert_int_equal(bin[13], 0x22);
    assert_int_equal(nk__proxy_parse(bin, (size_t)n, NK_PROXY_V2, &h), n);
    assert_int_equal(h.socktype, SOCK_DGRAM);
    assert_string_equal(fmt(&h.src, a), "[2001:db8::1]:12345");
    n = nk__proxy_build_v2(C4, S6, SOCK_STREAM, bin, sizeof(bin));
    assert_int_equal(n, 52);
    assert_int_equal(nk__proxy_parse(bin, (size_t)n, NK_PROXY_V2, &h), n);
    assert_string_equal(fmt(&h.src, a), "192.168.0.1:56324"); /* mapped */
    n = nk__proxy_build_v2(NULL, NULL, SOCK_STREAM, bin, sizeof(bin));
    assert_int_equal(n, 16);
    assert_memory_equal(bin, SIG "\x20\x00\x00\x00", 16);
    assert_int_equal(nk__proxy_build_v2(C6, S6, SOCK_STREAM, bin, 40), -1);
    assert_int_equal(nk__proxy_build_v2(C4, S4, SOCK_RAW, bin, sizeof(bin)),
                     -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proxy_v1_spec_example),
        cmocka_unit_test(test_proxy_v1_longest_lines),
        cmocka_unit_test(test_proxy_v1_forms),
        cmocka_unit_test(test_proxy_v1_malformed),
        cmocka_unit_test(test_proxy_early_refusal),
        cmocka_unit_test(test_proxy_v1_limit),
        cmocka_unit_test(test_proxy_v2_addresses),
        cmocka_unit_test(test_proxy_v2_local_and_unspec),
        cmocka_unit_test(test_proxy_v2_tlvs),
        cmocka_unit_test(test_proxy_v2_short_address_block),
        cmocka_unit_test(test_proxy_v2_limit),
        cmocka_unit_test(test_proxy_build),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
