/*
 * test_cli.c -- the command line (core/config/cli.c): regressions found by
 * tests/fuzz/fuzz_cli.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/socket.h>

#include <string.h>

#include <netkit/plugin.h>

#include "config/cli.h"
#include "config/settings.h"

/* A parse refused inside a group of short options ("-4ju", at j) must not
 * leave getopt inside that group: the next parse in the process starts
 * afresh (it went on with the stale "u", and read freed memory when the
 * old argv was gone). */
static void
test_cli_parse_after_refused_group(void **state)
{
    char a0[] = "netkit", a1[] = "serve", a2[] = "-4ju";
    char b0[] = "netkit", b1[] = "serve", b2[] = "-6";
    char *first[] = {a0, a1, a2, NULL}, *second[] = {b0, b1, b2, NULL};
    struct nk__settings s;
    struct nk_err err;

    (void)state;
    memset(&err, 0, sizeof(err));
    nk__settings_init(&s);
    assert_int_equal(nk__cli_parse(&s, 3, first, &err), -1);
    assert_non_null(strstr(err.msg, "unknown option -j"));
    nk__settings_free(&s);

    memset(&err, 0, sizeof(err));
    nk__settings_init(&s);
    assert_int_equal(nk__cli_parse(&s, 3, second, &err), 0);
    assert_int_equal(s.cli.transport, NK_TRANSPORT_TCP); /* no stale -u */
    assert_int_equal(s.cli.family, AF_INET6);
    nk__settings_free(&s);
}

/* An error quoting the user's text stays one line (found by fuzz_cli: an
 * unknown command holding a newline printed two). */
static void
test_cli_error_is_one_line(void **state)
{
    char a0[] = "netkit", a1[] = "\xbd\n4", a2[] = "4";
    char *argv[] = {a0, a1, a2, NULL}, line[300];
    struct nk__settings s;
    struct nk_err err;

    (void)state;
    memset(&err, 0, sizeof(err));
    nk__settings_init(&s);
    assert_int_equal(nk__cli_parse(&s, 3, argv, &err), -1);
    nk__err_format(&err, line, sizeof(line));
    assert_null(strchr(line, '\n'));
    assert_non_null(strstr(line, "unknown command '\xbd?4'"));
    nk__settings_free(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_parse_after_refused_group),
        cmocka_unit_test(test_cli_error_is_one_line),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
