/*
 * test_cidr.c -- address ranges and access rules of core/base/cidr.c:
 * parsing (IPv4, IPv6, v4-mapped, "all", the errors), matching sockaddrs of
 * both families and v4-mapped peers, lists, and first-match rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "base/cidr.h"

static struct sockaddr_storage
sa_of(const char *ip)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':') == NULL) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(5000);
        assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(5000);
        assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
    }
    return ss;
}

/* Does range `cidr` hold address `ip`? */
static int
matches(const char *cidr, const char *ip)
{
    struct nk__cidr c;
    struct sockaddr_storage ss = sa_of(ip);
    const char *why = nk__cidr_parse(cidr, &c);

    if (why != NULL)
        fail_msg("%s: %s", cidr, why);
    return nk__cidr_match(&c, (struct sockaddr *)&ss);
}

/* The canonical form a range parses to. */
static void
assert_canon(const char *cidr, const char *want)
{
    struct nk__cidr c;
    char buf[NK_CIDRSTRLEN];
    const char *why = nk__cidr_parse(cidr, &c);

    if (why != NULL)
        fail_msg("%s: %s", cidr, why);
    nk__cidr_format(&c, buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void
assert_bad(const char *cidr, const char *want)
{
    struct nk__cidr c;
    const char *why = nk__cidr_parse(cidr, &c);

    if (why == NULL)
        fail_msg("%s parsed", cidr);
    assert_string_equal(why, want);
}

static void
test_cidr_parse_forms(void **state)
{
    (void)state;
    assert_canon("10.0.0.0/8", "10.0.0.0/8");
    assert_canon("127.0.0.2", "127.0.0.2/32");
    assert_canon("0.0.0.0/0", "0.0.0.0/0");
    assert_canon("::1", "::1/128");
    assert_canon("[::1]", "::1/128");
    assert_canon("[2001:db8::]/32", "2001:db8::/32");
    assert_canon("2001:db8::/32", "2001:db8::/32");
    assert_canon("::/0", "::/0");
    assert_canon("fe80::/10", "fe80::/10");
    assert_canon("all", "all");
    /* v4-mapped ranges are IPv4 ranges */
    assert_canon("::ffff:10.0.0.0/104", "10.0.0.0/8");
    assert_canon("::ffff:127.0.0.3", "127.0.0.3/32");
    /* a shorter v4-mapped prefix stays IPv6 */
    assert_canon("::ffff:0:0/96", "0.0.0.0/0");
    assert_canon("::/80", "::/80");
}

static void
test_cidr_parse_errors(void **state)
{
    (void)state;
    assert_bad("", "empty address");
    assert_bad("10.0.0.300", "invalid address '10.0.0.300'");
    assert_bad("10.0.0", "invalid address '10.0.0'");
    assert_bad("localhost", "invalid address 'localhost'");
    assert_bad("10.0.0.0/33", "prefix /33 is longer than 32 bits");
    assert_bad("::/129", "prefix /129 is longer than 128 bits");
    assert_bad("10.0.0.0/", "invalid prefix length '/'");
    assert_bad("10.0.0.0/-1", "invalid prefix length '/-1'");
    assert_bad("10.0.0.0/8x", "invalid prefix length '/8x'");
    assert_bad("10.0.0.0/08", "invalid prefix length '/08'");
    assert_bad("10.0.0.0/8/8", "invalid prefix length '/8/8'");
    assert_bad("/8", "invalid address '/8'");
    assert_bad("10.1.0.0/8",
               "'10.1.0.0/8' has bits set past the prefix (did you mean "
               "10.0.0.0/8?)");
    assert_bad("2001:db8::1/32", "'2001:db8::1/32' has bits set past the "
                                 "prefix (did you mean 2001:db8::/32?)");
    assert_bad("fe80::1%lo", "invalid address 'fe80::1%lo'");
}

static void
test_cidr_match_v4(void **state)
{
    (void)state;
    assert_true(matches("10.0.0.0/8", "10.1.2.3"));
    assert_true(matches("10.0.0.0/8", "10.255.255.255"));
    assert_false(matches("10.0.0.0/8", "11.0.0.0"));
    assert_false(matches("10.0.0.0/8", "9.255.255.255"));
    assert_true(matches("192.168.1.0/25", "192.168.1.127"));
    assert_false(matches("192.168.1.0/25", "192.168.1.128"));
    assert_true(matches("127.0.0.2", "127.0.0.2"));
    assert_false(matches("127.0.0.2", "127.0.0.3"));
    assert_true(matches("0.0.0.0/0", "1.2.3.4"));
    assert_false(matches("0.0.0.0/0", "::1")); /* not IPv6 */
    assert_true(matches("all", "1.2.3.4"));
    assert_true(matches("all", "2001:db8::1"));
}

static void
test_cidr_match_v6(void **state)
{
    (void)state;
    assert_true(matches("::1", "::1"));
    assert_false(matches("::1", "::2"));
    assert_true(matches("2001:db8::/32", "2001:db8:ffff::1"));
    assert_false(matches("2001:db8::/32", "2001:db9::1"));
    assert_true(matches("fe80::/10", "febf::1"));
    assert_false(matches("fe80::/10", "fec0::1"));
    assert_true(matches("::/0", "2001:db8::1"));
    assert_false(matches("::/0", "10.0.0.1")); /* not IPv4 */
    assert_false(matches("::1", "127.0.0.1"));
}

/* An IPv4 client of a dual-stack socket (::ffff:a.b.c.d) matches IPv4
 * ranges, and v4-mapped ranges match IPv4 peers. */
static void
test_cidr_match_v4mapped(void **state)
{
    (void)state;
    assert_true(matches("127.0.0.0/8", "::ffff:127.0.0.3"));
    assert_true(matches("127.0.0.3", "::ffff:127.0.0.3"));
    assert_false(matches("127.0.0.2", "::ffff:127.0.0.3"));
    assert_true(matches("::ffff:127.0.0.0/104", "127.0.0.3"));
    assert_true(matches("::ffff:127.0.0.0/104", "::ffff:127.0.0.3"));
    assert_false(matches("::/0", "::ffff:10.0.0.1")); /* it is IPv4 */
    assert_true(matches("0.0.0.0/0", "::ffff:10.0.0.1"));
}

static void
test_cidr_match_other_family(void **state)
{
    struct nk__cidr c;
    struct sockaddr_storage ss;

    (void)state;
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_UNIX;
    assert_null(nk__cidr_parse("all", &c));
    assert_false(nk__cidr_match(&c, (struct sockaddr *)&ss));
}

static void
test_cidr_list(void **state)
{
    struct nk__cidr_list l = {0}, copy = {0};
    struct sockaddr_storage a = sa_of("192.168.0.7"), b = sa_of("::1"),
                            c = sa_of("8.8.8.8");

    (void)state;
    assert_null(nk__cidr_list_parse(&l, "10.0.0.0/8  192.168.0.0/16"));
    assert_null(nk__cidr_list_parse(&l, "\t::1 "));
    assert_int_equal(l.n, 3);
    assert_true(nk__cidr_list_match(&l, (struct sockaddr *)&a));
    assert_true(nk__cidr_list_match(&l, (struct sockaddr *)&b));
    assert_false(nk__cidr_list_match(&l, (struct sockaddr *)&c));
    assert_string_equal(nk__cidr_list_parse(&l, "1.2.3.4 nope"),
                        "invalid address 'nope'");
    assert_string_equal(nk__cidr_list_parse(&l, "   "), "empty value");
    assert_int_equal(l.n, 4); /* 1.2.3.4 went in before the error */
    assert_int_equal(nk__cidr_list_append(&copy, &l), 0);
    assert_int_equal(copy.n, 4);
    nk__cidr_list_free(&l);
    nk__cidr_list_free(&copy);
    assert_int_equal(l.n, 0);
}

/* The first matching rule decides; no rule: allowed. */
static void
test_acl_first_match(void **state)
{
    struct nk__acl acl = {0}, cli = {0};
    struct sockaddr_storage two = sa_of("127.0.0.2"),
                            three = sa_of("::ffff:127.0.0.3"),
                            far = sa_of("10.0.0.1"), six = sa_of("::1");
    const struct nk__acl_rule *r;

    (void)state;
    assert_null(nk__acl_find(&acl, (struct sockaddr *)&two));
    assert_null(nk__acl_parse(&acl, 0, "127.0.0.3", "f.ini", 3));
    assert_null(nk__acl_parse(&acl, 1, "127.0.0.0/8 ::1", "f.ini", 4));
    assert_null(nk__acl_parse(&acl, 0, "all", "f.ini", 5));
    assert_int_equal(acl.n, 4);

    r = nk__acl_find(&acl, (struct sockaddr *)&three);
    assert_non_null(r);
    assert_false(r->allow);
    assert_int_equal(r->line, 3);
    r = nk__acl_find(&acl, (struct sockaddr *)&two);
    assert_true(r->allow);
    assert_int_equal(r->line, 4);
    r = nk__acl_find(&acl, (struct sockaddr *)&six);
    assert_true(r->allow);
    r = nk__acl_find(&acl, (struct sockaddr *)&far);
    assert_false(r->allow);
    assert_int_equal(r->line, 5);

    /* The command line's rules go first. */
    assert_null(nk__acl_parse(&cli, 1, "10.0.0.0/8", NULL, 0));
    assert_int_equal(nk__acl_prepend(&acl, &cli), 0);
    assert_int_equal(acl.n, 5);
    r = nk__acl_find(&acl, (struct sockaddr *)&far);
    assert_true(r->allow);
    assert_null(r->file);
    assert_string_equal(nk__acl_parse(&acl, 1, "10.0.0.0/33", NULL, 0),
                        "prefix /33 is longer than 32 bits");
    nk__acl_free(&acl);
    nk__acl_free(&cli);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_parse_forms),
        cmocka_unit_test(test_cidr_parse_errors),
        cmocka_unit_test(test_cidr_match_v4),
        cmocka_unit_test(test_cidr_match_v6),
        cmocka_unit_test(test_cidr_match_v4mapped),
        cmocka_unit_test(test_cidr_match_other_family),
        cmocka_unit_test(test_cidr_list),
        cmocka_unit_test(test_acl_first_match),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
