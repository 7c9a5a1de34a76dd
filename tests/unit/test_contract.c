/*
 * test_contract.c -- the host's checks of what a plugin returns
 * (core/plugin/contract.c and nk__plugin_encode): every rule, and the
 * answers that keep the contract.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "plugin/contract.h"
#include "plugin/loader.h"

/* The buffer under test sits inside a larger array, so that the test can
 * point just outside it without undefined behaviour of its own. */
static const uint8_t mem[96];
#define buf     (mem + 32)
#define BUF_LEN 32

static const char *
check(long rc, const uint8_t *payload, size_t plen, size_t need, int stream)
{
    struct nk_frame f = {.payload = payload, .payload_len = plen, .need = need};

    return nk__decode_check(rc, buf, BUF_LEN, &f, stream, 1024);
}

static void
test_contract_decode_good(void **state)
{
    (void)state;
    assert_null(check(32, buf, 32, 0, 1));    /* the whole buffer */
    assert_null(check(10, buf + 4, 6, 0, 1)); /* payload at the end */
    assert_null(check(10, NULL, 0, 0, 1));    /* an empty payload */
    assert_null(check(0, NULL, 0, 0, 0));     /* an empty datagram */
    assert_null(check(NK_ENEEDMORE, NULL, 0, 0, 1));
    assert_null(check(NK_ENEEDMORE, NULL, 0, 33, 1));
    assert_null(check(NK_EPROTO, NULL, 0, 0, 1)); /* the peer's fault */
}

static void
test_contract_decode_broken(void **state)
{
    (void)state;
    assert_string_equal(check(33, buf, 33, 0, 1),
                        "returned a message longer than its input");
    assert_string_equal(check(0, NULL, 0, 0, 1),
                        "returned an empty message on a stream");
    assert_string_equal(check(10, buf - 1, 5, 0, 1),
                        "payload outside the message");
    assert_string_equal(check(10, buf + 4, 7, 0, 1),
                        "payload outside the message");
    assert_string_equal(check(10, buf + 11, 1, 0, 1),
                        "payload outside the message");
    assert_string_equal(check(10, NULL, 3, 0, 1),
                        "payload outside the message");
    /* A huge length must not wrap the check around. */
    assert_string_equal(check(10, buf + 2, SIZE_MAX, 0, 1),
                        "payload outside the message");
    assert_string_equal(check(NK_ENEEDMORE, NULL, 0, 32, 1),
                        "asked for more bytes than the message has");
    assert_string_equal(check(NK_ENEEDMORE, NULL, 0, 1, 1),
                        "asked for more bytes than the message has");
    {
        /* 1.2: a head must lie inside the input. */
        struct nk_frame f = {.need = 64, .head_len = 33};
        assert_string_equal(
            nk__decode_check(NK_ENEEDMORE, buf, 32, &f, 1, 1 << 20),
            "a head longer than its input");
        f.head_len = 32;
        assert_null(nk__decode_check(NK_ENEEDMORE, buf, 32, &f, 1, 1 << 20));
    }
}

static void
test_contract_create(void **state)
{
    char msg[100];

    (void)state;
    assert_null(nk__create_check(0, msg, sizeof(msg)));
    assert_null(nk__create_check(NK_EINVAL, msg, sizeof(msg)));
    assert_string_equal(nk__create_check(3, msg, sizeof(msg)),
                        "create returned 3 (0 or a negative code expected)");
}

/* An encode for each test below, chosen by the instance pointer. */
enum { E_SHORT, E_LONG, E_EXT, E_EXT_TOO_LONG, E_POSITIVE, E_REFUSE };

static uint8_t ext[NK_WRAP_MAX + 1];

static int
fake_encode(void *inst, size_t n, struct nk_wrap *w)
{
    (void)n;
    switch ((int)(intptr_t)inst) {
    case E_SHORT:
        w->head_len = NK_HDR_MAX;
        w->tail_len = 1;
        return 0;
    case E_LONG:
        w->head_len = NK_HDR_MAX + 1;
        return 0;
    case E_EXT:
        w->head_ext = ext;
        w->head_len = NK_WRAP_MAX;
        w->tail_ext = ext;
        w->tail_len = 300;
        return 0;
    case E_EXT_TOO_LONG:
        w->tail_ext = ext;
        w->tail_len = NK_WRAP_MAX + 1;
        return 0;
    case E_POSITIVE:
        return 1;
    default:
        return NK_EMSGSIZE;
    }
}

static void
test_contract_encode(void **state)
{
    struct nk_plugin d = {.encode = fake_encode};
    struct nk_wrap w;

    (void)state;
    assert_int_equal(nk__plugin_encode(&d, (void *)E_SHORT, 5, &w), 0);
    assert_ptr_equal(nk__wrap_head(&w), w.head);
    assert_int_equal(nk__plugin_encode(&d, (void *)E_LONG, 5, &w), NK_EINVAL);
    assert_int_equal(nk__plugin_encode(&d, (void *)E_EXT, 5, &w), 0);
    assert_ptr_equal(nk__wrap_head(&w), ext);
    assert_ptr_equal(nk__wrap_tail(&w), ext);
    assert_int_equal(nk__plugin_encode(&d, (void *)E_EXT_TOO_LONG, 5, &w),
                     NK_EINVAL);
    assert_int_equal(nk__plugin_encode(&d, (void *)E_POSITIVE, 5, &w),
                     NK_EINVAL);
    assert_int_equal(nk__plugin_encode(&d, (void *)E_REFUSE, 5, &w),
                     NK_EMSGSIZE);
    /* A stale _ext from an earlier call is never reused. */
    assert_int_equal(nk__plugin_encode(&d, (void *)E_SHORT, 5, &w), 0);
    assert_null(w.head_ext);
    assert_null(w.tail_ext);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract_decode_good),
        cmocka_unit_test(test_contract_decode_broken),
        cmocka_unit_test(test_contract_create),
        cmocka_unit_test(test_contract_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
