/*
 * test_text.c -- core/connect/text.c: well-formed UTF-8 and the rule that
 * makes a piped standard input a byte pipe (a NUL byte, or bytes that
 * cannot be UTF-8 text; a sequence cut by the block's end is not binary).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "connect/text.h"

static int
bin(const char *s, size_t n)
{
    return nk__text_is_binary((const uint8_t *)s, n);
}

static void
test_text_is_text(void **state)
{
    (void)state;
    assert_false(bin("", 0));
    assert_false(bin("hello\nexit\n", 11));
    assert_false(bin("tab\there\r\n", 10));
    assert_false(bin("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n", 15));
    /* A sequence cut by the end of the block may go on in the next. */
    assert_false(bin("caf\xc3", 4));
    assert_false(bin("x\xe2\x82", 3));
    assert_false(bin("x\xf0\x9f\x98", 4));
}

static void
test_text_is_binary(void **state)
{
    (void)state;
    assert_true(bin("a\0b", 3));
    assert_true(bin("\0", 1));
    assert_true(bin("\xff\xfe", 2));
    assert_true(bin("caf\xc3(", 5));     /* a broken sequence */
    assert_true(bin("\xc0\xaf", 2));     /* overlong */
    assert_true(bin("\xed\xa0\x80", 3)); /* a surrogate */
    assert_true(bin("\x80 text", 6));    /* a lone continuation byte */
    assert_true(bin("x\xf5", 2));        /* never UTF-8, even cut */
}

static void
test_utf8_len(void **state)
{
    uint32_t cp = 0;

    (void)state;
    assert_int_equal(nk__utf8_len((const uint8_t *)"\xc3\xa9", 2, &cp), 2);
    assert_int_equal(cp, 0xe9);
    assert_int_equal(nk__utf8_len((const uint8_t *)"\xf4\x8f\xbf\xbf", 4, &cp),
                     4);
    assert_int_equal(cp, 0x10ffff);
    assert_int_equal(nk__utf8_len((const uint8_t *)"\xf4\x90\x80\x80", 4, &cp),
                     0);
    assert_int_equal(nk__utf8_len((const uint8_t *)"A", 1, &cp), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_is_text),
        cmocka_unit_test(test_text_is_binary),
        cmocka_unit_test(test_utf8_len),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
