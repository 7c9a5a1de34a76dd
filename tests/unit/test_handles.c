/*
 * test_handles.c -- generational handles (core/base/handles.c): a handle
 * finds its pointer until freed, and never again after, even once its slot
 * is reused; the top byte is the caller's; running out of memory is a
 * clean 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/handles.h"

static void
test_handles_add_get_del(void **state)
{
    struct nk__handles h = {0};
    int a, b;
    uint64_t ha = nk__handle_add(&h, &a), hb = nk__handle_add(&h, &b);

    (void)state;
    assert_true(ha != 0 && hb != 0 && ha != hb);
    assert_ptr_equal(nk__handle_get(&h, ha), &a);
    assert_ptr_equal(nk__handle_get(&h, hb), &b);
    nk__handle_del(&h, ha);
    assert_null(nk__handle_get(&h, ha));
    assert_ptr_equal(nk__handle_get(&h, hb), &b);
    nk__handles_free(&h);
}

/* A freed slot is reused under a new generation: the old handle stays
 * stale, the new one works. */
static void
test_handles_stale_after_reuse(void **state)
{
    struct nk__handles h = {0};
    int a, b;
    uint64_t ha = nk__handle_add(&h, &a), hb;

    (void)state;
    nk__handle_del(&h, ha);
    hb = nk__handle_add(&h, &b);
    assert_true(hb != ha);
    assert_int_equal(hb >> 32, ha >> 32); /* the same slot */
    assert_null(nk__handle_get(&h, ha));
    assert_ptr_equal(nk__handle_get(&h, hb), &b);
    nk__handle_del(&h, ha); /* deleting a stale handle changes nothing */
    assert_ptr_equal(nk__handle_get(&h, hb), &b);
    nk__handles_free(&h);
}

/* Handles that were never issued, 0, and a slot past the end find
 * nothing; the top byte is ignored. */
static void
test_handles_bogus(void **state)
{
    struct nk__handles h = {0};
    int a;
    uint64_t ha;

    (void)state;
    assert_null(nk__handle_get(&h, 0));
    assert_null(nk__handle_get(&h, (uint64_t)5 << 32 | 1));
    ha = nk__handle_add(&h, &a);
    assert_ptr_equal(nk__handle_get(&h, ha | (uint64_t)7 << 56), &a);
    assert_null(nk__handle_get(&h, ha + 1));
    assert_null(nk__handle_get(&h, (uint64_t)1000 << 32 | 1));
    nk__handles_free(&h);
}

/* Many handles: the table grows, every one stays right. */
static void
test_handles_many(void **state)
{
    struct nk__handles h = {0};
    static int items[5000];
    static uint64_t ids[5000];

    (void)state;
    for (int i = 0; i < 5000; i++)
        ids[i] = nk__handle_add(&h, &items[i]);
    for (int i = 0; i < 5000; i += 2)
        nk__handle_del(&h, ids[i]);
    for (int i = 0; i < 5000; i++)
        assert_ptr_equal(nk__handle_get(&h, ids[i]), i % 2 ? &items[i] : NULL);
    nk__handles_free(&h);
}

static void
test_handles_oom(void **state)
{
    struct nk__handles h = {0};
    int a;

    (void)state;
    nk__alloc_fail_after(0);
    assert_int_equal(nk__handle_add(&h, &a), 0);
    nk__alloc_fail_after(-1);
    assert_true(nk__handle_add(&h, &a) != 0);
    nk__handles_free(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handles_add_get_del),
        cmocka_unit_test(test_handles_stale_after_reuse),
        cmocka_unit_test(test_handles_bogus),
        cmocka_unit_test(test_handles_many),
        cmocka_unit_test(test_handles_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
