/*
 * test_tls_tickets.c -- the session ticket keys of core/tls/tls_tickets.c
 * on a clock the test moves: one current key, replaced every
 * NK_TLS_TICKET_ROTATE_S; the previous one still found (to resume, and
 * reissue) for one more period, then forgotten; an unknown name never
 * found.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "tls/tls.h"
#include "tls/tls_int.h"

#define ROT NK_TLS_TICKET_ROTATE_S

static void
test_rotation(void **state)
{
    struct nk__tls_tkey a, b, c, k;
    const unsigned char unknown[16] = {0};
    time_t t0 = 1000000;

    (void)state;
    assert_int_equal(nk__tls_tkey_get(NULL, &a, t0), 1);
    /* The same key until the period is over, found by its name. */
    assert_int_equal(nk__tls_tkey_get(NULL, &k, t0 + ROT - 1), 1);
    assert_memory_equal(k.name, a.name, 16);
    assert_memory_equal(k.aes, a.aes, 32);
    assert_int_equal(nk__tls_tkey_get(a.name, &k, t0 + ROT - 1), 1);
    assert_int_equal(nk__tls_tkey_get(unknown, &k, t0), 0);
    /* Rotated: a new current key; the old one resumes as the previous. */
    assert_int_equal(nk__tls_tkey_get(NULL, &b, t0 + ROT), 1);
    assert_memory_not_equal(b.name, a.name, 16);
    assert_memory_not_equal(b.aes, a.aes, 32);
    assert_int_equal(nk__tls_tkey_get(a.name, &k, t0 + ROT), 2);
    assert_memory_equal(k.hmac, a.hmac, 32);
    assert_int_equal(nk__tls_tkey_get(b.name, &k, t0 + ROT), 1);
    /* Two periods after it was made, a key is gone. */
    assert_int_equal(nk__tls_tkey_get(NULL, &c, t0 + 2 * ROT), 1);
    assert_memory_not_equal(c.name, b.name, 16);
    assert_int_equal(nk__tls_tkey_get(a.name, &k, t0 + 2 * ROT), 0);
    assert_int_equal(nk__tls_tkey_get(b.name, &k, t0 + 2 * ROT), 2);
    assert_int_equal(nk__tls_tkey_get(c.name, &k, t0 + 2 * ROT + 1), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
