/*
 * test_value.c -- the value parsers of core/config/value.c: numbers, sizes,
 * booleans, choices, seconds, quoted strings and plugin option values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "base/alloc.h"
#include "config/value.h"

/* A parser succeeded: its phrase is NULL. */
#define assert_ok(why) assert_null(why)

/* A parser failed with exactly this phrase. */
#define assert_why(why, text)                                                  \
    do {                                                                       \
        const char *w_ = (why);                                                \
        assert_non_null(w_);                                                   \
        assert_string_equal(w_, (text));                                       \
    } while (0)

/* Plain decimal integers parse, signs included, and the bounds are
 * inclusive. */
static void
test_value_int_valid(void **state)
{
    long long n = -1;

    (void)state;
    assert_ok(nk__parse_int("0", 0, 65535, &n));
    assert_int_equal(n, 0);
    assert_ok(nk__parse_int("65535", 0, 65535, &n));
    assert_int_equal(n, 65535);
    assert_ok(nk__parse_int("+42", 0, 100, &n));
    assert_int_equal(n, 42);
    assert_ok(nk__parse_int("-7", -10, 10, &n));
    assert_int_equal(n, -7);
    assert_ok(nk__parse_int("007", 0, 10, &n)); /* decimal, not octal */
    assert_int_equal(n, 7);
}

/* Anything but an optional sign and digits is "invalid number", echoed. */
static void
test_value_int_invalid(void **state)
{
    static const char *const bad[] = {"abc", "",  " 5",  "5 ", "0x10", "1.5",
                                      "+",   "-", "1e3", "5k", "--1"};
    long long n = 99;

    (void)state;
    assert_why(nk__parse_int("abc", 0, 10, &n), "invalid number 'abc'");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = nk__parse_int(bad[i], -100, 100, &n);

        assert_non_null(why);
        assert_non_null(strstr(why, "invalid number"));
    }
    assert_int_equal(n, 99); /* untouched on failure */
}

/* A value quoted back keeps the message on one line: control bytes are
 * written \xHH (found by tests/fuzz/fuzz_value: "-o SO_RCVBUF=$'1\n2'"
 * printed two lines). */
static void
test_value_echo_escapes_controls(void **state)
{
    long long n;

    (void)state;
    assert_why(nk__parse_int("1\n2", 0, 10, &n), "invalid number '1\\x0a2'");
    assert_why(nk__parse_int("\x1b[2J", 0, 10, &n),
               "invalid number '\\x1b[2J'");
}

/* Values past the range, and past long long itself, say the range. */
static void
test_value_int_range_and_overflow(void **state)
{
    long long n = 99;

    (void)state;
    assert_why(nk__parse_int("65536", 0, 65535, &n), "out of range 0..65535");
    assert_why(nk__parse_int("0", 1, 65535, &n), "out of range 1..65535");
    assert_why(nk__parse_int("-1", 0, 65535, &n), "out of range 0..65535");
    assert_why(nk__parse_int("99999999999999999999999", 0, 10, &n),
               "out of range 0..10");
    assert_why(nk__parse_int("9223372036854775808", LLONG_MIN, LLONG_MAX, &n),
               "out of range -9223372036854775808..9223372036854775807");
    assert_why(nk__parse_int("-9223372036854775809", LLONG_MIN, LLONG_MAX, &n),
               "out of range -9223372036854775808..9223372036854775807");
    assert_int_equal(n, 99);
}

/* The extremes of long long parse exactly, without signed overflow. */
static void
test_value_int_extremes(void **state)
{
    long long n = 0;

    (void)state;
    assert_ok(nk__parse_int("9223372036854775807", LLONG_MIN, LLONG_MAX, &n));
    assert_true(n == LLONG_MAX);
    assert_ok(nk__parse_int("-9223372036854775808", LLONG_MIN, LLONG_MAX, &n));
    assert_true(n == LLONG_MIN);
}

/* Sizes take k/K (1024), M (1024^2) and G (1024^3), or no suffix. */
static void
test_value_size_suffixes(void **state)
{
    long long n = 0;

    (void)state;
    assert_ok(nk__parse_size("1M", 0, LLONG_MAX, &n));
    assert_int_equal(n, 1048576);
    assert_ok(nk__parse_size("64k", 0, LLONG_MAX, &n));
    assert_int_equal(n, 65536);
    assert_ok(nk__parse_size("64K", 0, LLONG_MAX, &n));
    assert_int_equal(n, 65536);
    assert_ok(nk__parse_size("2G", 0, LLONG_MAX, &n));
    assert_int_equal(n, 2147483648LL);
    assert_ok(nk__parse_size("512", 0, LLONG_MAX, &n));
    assert_int_equal(n, 512);
    assert_ok(nk__parse_size("0k", 0, LLONG_MAX, &n));
    assert_int_equal(n, 0);
}

/* Unknown suffixes, blanks and a missing number are refused. */
static void
test_value_size_invalid(void **state)
{
    static const char *const bad[] = {"1m",   "1KB", "k",   "",    "1 M",
                                      "1.5M", "M1",  "1Mk", "0x1k"};
    long long n = 7;

    (void)state;
    assert_why(nk__parse_size("1X", 0, 100, &n),
               "invalid size '1X' (a number, optionally followed by k, M or "
               "G)");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_non_null(nk__parse_size(bad[i], 0, LLONG_MAX, &n));
    assert_int_equal(n, 7);
}

/* The range applies after the suffix, and no multiplication overflows. */
static void
test_value_size_range_and_overflow(void **state)
{
    long long n = 7;

    (void)state;
    assert_why(nk__parse_size("2G", 0, 1LL << 30, &n),
               "out of range 0..1073741824");
    assert_ok(nk__parse_size("1G", 0, 1LL << 30, &n));
    assert_int_equal(n, 1LL << 30);
    assert_why(nk__parse_size("9223372036854775807k", 0, LLONG_MAX, &n),
               "out of range 0..9223372036854775807");
    assert_why(nk__parse_size("8589934592G", 0, LLONG_MAX, &n),
               "out of range 0..9223372036854775807");
    assert_ok(nk__parse_size("8589934591G", 0, LLONG_MAX, &n));
    assert_int_equal(n, 8589934591LL * 1024 * 1024 * 1024);
    assert_why(nk__parse_size("-1k", 0, 10, &n), "out of range 0..10");
}

/* Every documented spelling of a boolean, in any case. */
static void
test_value_bool_words(void **state)
{
    static const char *const yes[] = {"1", "true", "yes", "on", "TRUE", "On"};
    static const char *const no[] = {"0", "false", "no", "off", "NO", "Off"};
    int b;

    (void)state;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        b = -1;
        assert_ok(nk__parse_bool(yes[i], &b));
        assert_int_equal(b, 1);
        b = -1;
        assert_ok(nk__parse_bool(no[i], &b));
        assert_int_equal(b, 0);
    }
}

/* Anything else is not a boolean, and the phrase lists the spellings. */
static void
test_value_bool_invalid(void **state)
{
    int b = 5;

    (void)state;
    assert_why(nk__parse_bool("2", &b),
               "expected a boolean (1/0, true/false, yes/no, on/off)");
    assert_non_null(nk__parse_bool("", &b));
    assert_non_null(nk__parse_bool("yess", &b));
    assert_non_null(nk__parse_bool(" 1", &b));
    assert_int_equal(b, 5);
}

/* A choice gives its index in the list; case is ignored. */
static void
test_value_enum_index(void **state)
{
    long long i = -1;

    (void)state;
    assert_ok(nk__parse_enum("little", "little|big", &i));
    assert_int_equal(i, 0);
    assert_ok(nk__parse_enum("big", "little|big", &i));
    assert_int_equal(i, 1);
    assert_ok(nk__parse_enum("BIG", "little|big", &i));
    assert_int_equal(i, 1);
    assert_ok(nk__parse_enum("8", "1|2|4|8", &i));
    assert_int_equal(i, 3);
}

/* Prefixes, longer words and the empty string are not choices. */
static void
test_value_enum_invalid(void **state)
{
    long long i = 9;

    (void)state;
    assert_why(nk__parse_enum("middle", "little|big", &i),
               "expected one of little|big");
    assert_non_null(nk__parse_enum("lit", "little|big", &i));
    assert_non_null(nk__parse_enum("bigger", "little|big", &i));
    assert_non_null(nk__parse_enum("", "little|big", &i));
    assert_non_null(nk__parse_enum("little|big", "little|big", &i));
    assert_int_equal(i, 9);
}

/* Seconds are non-negative decimals up to 1e6. */
static void
test_value_seconds(void **state)
{
    double d = -1;

    (void)state;
    assert_ok(nk__parse_seconds("300", &d));
    assert_true(d == 300.0);
    assert_ok(nk__parse_seconds("0.5", &d));
    assert_true(d == 0.5);
    assert_ok(nk__parse_seconds("0", &d));
    assert_true(d == 0.0);
    assert_ok(nk__parse_seconds("1000000", &d));
    assert_true(d == 1000000.0);
    assert_why(nk__parse_seconds("1000000.5", &d), "out of range 0..1000000");
    assert_why(nk__parse_seconds("99999999999999999999999999", &d),
               "out of range 0..1000000");
    assert_true(d == 1000000.0);
}

/* Signs, exponents, inf/nan, hex and blanks are not seconds. */
static void
test_value_seconds_invalid(void **state)
{
    static const char *const bad[] = {"-1", "1e3", "inf", "nan", "0x10",
                                      " 1", "1 ",  "",    ".",   "1.2.3"};
    double d = 42;

    (void)state;
    assert_why(nk__parse_seconds("soon", &d),
               "invalid number of seconds 'soon'");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_non_null(nk__parse_seconds(bad[i], &d));
    assert_true(d == 42);
}

/* An unquoted value is copied as written, backslashes and quotes kept. */
static void
test_value_unquote_plain(void **state)
{
    char *out = NULL;
    size_t len = 0;

    (void)state;
    assert_ok(nk__unquote("C:\\dir\\\"x\"", &out, &len));
    assert_string_equal(out, "C:\\dir\\\"x\"");
    assert_int_equal(len, strlen(out));
    nk__free(out);
    assert_ok(nk__unquote("", &out, &len));
    assert_string_equal(out, "");
    assert_int_equal(len, 0);
    nk__free(out);
}

/* Quotes keep outer blanks, and "" is the empty value. */
static void
test_value_unquote_blanks_and_empty(void **state)
{
    char *out = NULL;
    size_t len = 0;

    (void)state;
    assert_ok(nk__unquote("\"echo : \"", &out, &len));
    assert_string_equal(out, "echo : ");
    assert_int_equal(len, 7);
    nk__free(out);
    assert_ok(nk__unquote("\"\"", &out, &len));
    assert_string_equal(out, "");
    assert_int_equal(len, 0);
    nk__free(out);
}

/* Every escape decodes, \0 into a NUL counted in len. */
static void
test_value_unquote_escapes(void **state)
{
    static const char want[] = "a\tb\n\r\\\"A\x3b\xff";
    char *out = NULL;
    size_t len = 0;

    (void)state;
    assert_ok(
        nk__unquote("\"a\\tb\\n\\r\\\\\\\"\\x41\\x3B\\xfF\"", &out, &len));
    assert_int_equal(len, sizeof(want) - 1);
    assert_memory_equal(out, want, len);
    assert_int_equal(out[len], '\0');
    nk__free(out);
    assert_ok(nk__unquote("\"x\\0y\"", &out, &len));
    assert_int_equal(len, 3);
    assert_memory_equal(out, "x\0y", 4);
    nk__free(out);
}

/* Unknown escapes, short \x and a stray final backslash are refused. */
static void
test_value_unquote_bad_escape(void **state)
{
    char *out = (char *)"untouched";
    size_t len = 5;

    (void)state;
    assert_why(nk__unquote("\"a\\qb\"", &out, &len), "bad escape '\\q'");
    assert_why(nk__unquote("\"\\x4\"", &out, &len),
               "bad escape '\\x' (expected two hex digits, as in \\x3b)");
    assert_why(nk__unquote("\"\\xg0\"", &out, &len),
               "bad escape '\\x' (expected two hex digits, as in \\x3b)");
    assert_why(nk__unquote("\"\\'\"", &out, &len), "bad escape '\\''");
    assert_why(nk__unquote("\"\\\x01\"", &out, &len),
               "bad escape: '\\' before byte 0x01");
    assert_why(nk__unquote("\"abc\\", &out, &len), "unterminated quote");
    assert_string_equal(out, "untouched");
    assert_int_equal(len, 5);
}

/* A quote must close, and nothing may follow the closing quote. */
static void
test_value_unquote_quote_errors(void **state)
{
    char *out = NULL;
    size_t len = 0;

    (void)state;
    assert_why(nk__unquote("\"echo : ", &out, &len), "unterminated quote");
    assert_why(nk__unquote("\"", &out, &len), "unterminated quote");
    assert_why(nk__unquote("\"a\\\"", &out, &len), "unterminated quote");
    assert_why(nk__unquote("\"echo\" :", &out, &len),
               "text after closing quote");
    assert_why(nk__unquote("\"a\"\"b\"", &out, &len),
               "text after closing quote");
    assert_null(out);
}

/* A failed allocation is a phrase, with nothing leaked. */
static void
test_value_unquote_oom(void **state)
{
    char *out = NULL;
    size_t len = 0;

    (void)state;
    nk__alloc_fail_after(0);
    assert_why(nk__unquote("\"x\"", &out, &len), "out of memory");
    assert_why(nk__unquote("x", &out, &len), "out of memory");
    nk__alloc_fail_after(-1);
    assert_null(out);
}

/* STRING options copy the bytes, NULs included; num stays 0. */
static void
test_value_option_string(void **state)
{
    const struct nk_option opt = {"prefix", NK_OPT_STRING, "", "", 0, 0, NULL};
    struct nk_value v = {NULL, 0, 0};

    (void)state;
    assert_ok(nk__parse_option(&opt, "a\0b\"c", 5, &v));
    assert_int_equal(v.len, 5);
    assert_memory_equal(v.str, "a\0b\"c", 6);
    assert_int_equal(v.num, 0);
    nk__free((char *)v.str);
    assert_ok(nk__parse_option(&opt, "", 0, &v));
    assert_string_equal(v.str, "");
    assert_int_equal(v.len, 0);
    nk__free((char *)v.str);
}

/* INT, SIZE, BOOL and ENUM set num, and str keeps the text as written. */
static void
test_value_option_numbers(void **state)
{
    const struct nk_option i = {"n", NK_OPT_INT, "", "", 1, 10, NULL};
    const struct nk_option z = {"max_frame", NK_OPT_SIZE, "",  "",
                                0,           1LL << 30,   NULL};
    const struct nk_option b = {"b", NK_OPT_BOOL, "", "", 0, 0, NULL};
    const struct nk_option e = {"byte_order", NK_OPT_ENUM, "", "", 0, 0,
                                "little|big"};
    struct nk_value v;

    (void)state;
    assert_ok(nk__parse_option(&i, "7", 1, &v));
    assert_int_equal(v.num, 7);
    nk__free((char *)v.str);
    assert_ok(nk__parse_option(&z, "1M", 2, &v));
    assert_int_equal(v.num, 1048576);
    assert_string_equal(v.str, "1M");
    nk__free((char *)v.str);
    assert_ok(nk__parse_option(&b, "yes", 3, &v));
    assert_int_equal(v.num, 1);
    nk__free((char *)v.str);
    assert_ok(nk__parse_option(&e, "big", 3, &v));
    assert_int_equal(v.num, 1);
    assert_string_equal(v.str, "big");
    assert_int_equal(v.len, 3);
    nk__free((char *)v.str);
}

/* A bad value leaves v untouched and allocates nothing; a NUL byte is not
 * silently cut off a number. */
static void
test_value_option_errors(void **state)
{
    const struct nk_option i = {"n", NK_OPT_INT, "", "", 1, 10, NULL};
    const struct nk_option z = {"max_frame", NK_OPT_SIZE, "",  "",
                                0,           1LL << 30,   NULL};
    const struct nk_option e = {"length_bytes", NK_OPT_ENUM, "", "", 0, 0,
                                "1|2|4|8"};
    struct nk_value v = {"keep", 4, 42};

    (void)state;
    assert_why(nk__parse_option(&i, "11", 2, &v), "out of range 1..10");
    assert_why(nk__parse_option(&i,
                                "5\0"
                                "5",
                                3, &v),
               "value holds a NUL byte");
    assert_why(nk__parse_option(&z, "2G", 2, &v), "out of range 0..1073741824");
    assert_why(nk__parse_option(&e, "3", 1, &v), "expected one of 1|2|4|8");
    assert_string_equal(v.str, "keep");
    assert_int_equal(v.num, 42);
}

/* Edit distance counts insertions, deletions and substitutions. */
static void
test_value_edit_distance(void **state)
{
    (void)state;
    assert_int_equal(nk__edit_distance("proto", "proto"), 0);
    assert_int_equal(nk__edit_distance("prot", "proto"), 1);
    assert_int_equal(nk__edit_distance("prto", "proto"), 1);
    assert_int_equal(nk__edit_distance("porto", "proto"), 2);
    assert_int_equal(nk__edit_distance("", "abc"), 3);
    assert_int_equal(nk__edit_distance("kitten", "sitting"), 3);
    assert_true(nk__edit_distance("x", "a-name-far-longer-than-sixty-four-"
                                       "bytes-is-never-a-typo-of-anything-"
                                       "at-all") > 10);
}

/* nk__quote shows a value so that nk__unquote gives it back. */
static void
test_value_quote(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"", 0, "\"\""},
        {"echo : ", 7, "\"echo : \""},
        {"a\tb\n\r\\\"", 7, "\"a\\tb\\n\\r\\\\\\\"\""},
        {"a\0b", 3, "\"a\\0b\""},
        {"\x01\x7f\xff", 3, "\"\\x01\\x7f\\xff\""},
        {"a;b ;c", 6, "\"a;b \\x3bc\""},
    };
    char buf[64], *back;
    size_t len;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nk__quote(cases[i].in, cases[i].len, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].want);
        assert_null(nk__unquote(buf, &back, &len));
        assert_int_equal(len, cases[i].len);
        assert_memory_equal(back, cases[i].in, len);
        nk__free(back);
    }
    /* Too long for the buffer: cut, with "...", inside it. */
    nk__quote("abcdefghijklmnopqrstuvwxyz", 26, buf, 12);
    assert_string_equal(buf, "\"abcdef...");
    nk__quote("\n\n\n\n\n\n", 6, buf, 12);
    assert_string_equal(buf, "\"\\n\\n\\n...");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_quote),
        cmocka_unit_test(test_value_int_valid),
        cmocka_unit_test(test_value_int_invalid),
        cmocka_unit_test(test_value_echo_escapes_controls),
        cmocka_unit_test(test_value_int_range_and_overflow),
        cmocka_unit_test(test_value_int_extremes),
        cmocka_unit_test(test_value_size_suffixes),
        cmocka_unit_test(test_value_size_invalid),
        cmocka_unit_test(test_value_size_range_and_overflow),
        cmocka_unit_test(test_value_bool_words),
        cmocka_unit_test(test_value_bool_invalid),
        cmocka_unit_test(test_value_enum_index),
        cmocka_unit_test(test_value_enum_invalid),
        cmocka_unit_test(test_value_seconds),
        cmocka_unit_test(test_value_seconds_invalid),
        cmocka_unit_test(test_value_unquote_plain),
        cmocka_unit_test(test_value_unquote_blanks_and_empty),
        cmocka_unit_test(test_value_unquote_escapes),
        cmocka_unit_test(test_value_unquote_bad_escape),
        cmocka_unit_test(test_value_unquote_quote_errors),
        cmocka_unit_test(test_value_unquote_oom),
        cmocka_unit_test(test_value_option_string),
        cmocka_unit_test(test_value_option_numbers),
        cmocka_unit_test(test_value_option_errors),
        cmocka_unit_test(test_value_edit_distance),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
