/*
 * test_perip.c -- connections per source address (core/serve/perip.c):
 * the limit, IPv4 and v4-mapped alike, IPv6 by /64, and a table that keeps
 * finding every key as entries come and go.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "serve/perip.h"

static struct sockaddr_storage
addr(const char *text)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (strchr(text, ':') != NULL) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, text, &in6->sin6_addr);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        inet_pton(AF_INET, text, &in->sin_addr);
    }
    return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static void
test_perip_limit(void **state)
{
    struct nk__perip p;
    struct sockaddr_storage a = addr("10.0.0.1"), b = addr("10.0.0.2");

    (void)state;
    assert_int_equal(nk__perip_init(&p, 2, 100), 0);
    assert_int_equal(nk__perip_take(&p, SA(a)), 0);
    assert_int_equal(nk__perip_take(&p, SA(a)), 0);
    assert_int_equal(nk__perip_take(&p, SA(a)), -1); /* at the limit */
    assert_int_equal(nk__perip_take(&p, SA(b)), 0);  /* another address */
    nk__perip_give(&p, SA(a));
    assert_int_equal(nk__perip_take(&p, SA(a)), 0); /* room again */
    nk__perip_fini(&p);
}

static void
test_perip_keys(void **state)
{
    struct sockaddr_storage v4 = addr("192.0.2.7"),
                            mapped = addr("::ffff:192.0.2.7"),
                            a = addr("2001:db8:1:2::1"),
                            b = addr("2001:db8:1:2:ffff::9"),
                            c = addr("2001:db8:1:3::1");
    uint8_t k1[16], k2[16];

    (void)state;
    nk__perip_key(SA(v4), k1);
    nk__perip_key(SA(mapped), k2);
    assert_memory_equal(k1, k2, 16); /* a dual-stack peer counts as IPv4 */
    nk__perip_key(SA(a), k1);
    nk__perip_key(SA(b), k2);
    assert_memory_equal(k1, k2, 16); /* the same /64 */
    nk__perip_key(SA(c), k2);
    assert_memory_not_equal(k1, k2, 16);
}

/* Many addresses taken and given in an interleaved order: every count
 * stays right (the backward-shift deletion keeps every key findable). */
static void
test_perip_churn(void **state)
{
    struct nk__perip p;
    struct sockaddr_storage ss[300];
    char text[32];

    (void)state;
    assert_int_equal(nk__perip_init(&p, 1, 300), 0);
    for (int i = 0; i < 300; i++) {
        snprintf(text, sizeof(text), "10.%d.%d.1", i / 200, i % 200);
        ss[i] = addr(text);
        assert_int_equal(nk__perip_take(&p, SA(ss[i])), 0);
    }
    for (int i = 0; i < 300; i += 3)
        nk__perip_give(&p, SA(ss[i]));
    for (int i = 0; i < 300; i++)
        assert_int_equal(nk__perip_take(&p, SA(ss[i])), i % 3 == 0 ? 0 : -1);
    nk__perip_fini(&p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perip_limit),
        cmocka_unit_test(test_perip_keys),
        cmocka_unit_test(test_perip_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
