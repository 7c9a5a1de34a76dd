/*
 * test_sysconf.c -- core/config/sysconf.c: the configuration directory of
 * an install prefix by GNUInstallDirs' rule (/usr and / in /etc, /opt/NAME
 * in /etc/opt/NAME, others in PREFIX/etc), an absolute SYSCONFDIR, and a
 * buffer too small.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config/sysconf.h"

static void
check(const char *prefix, const char *etc, const char *want)
{
    char buf[256];

    assert_int_equal(
        nk__sysconf_path(prefix, etc, "netkit/netkit.ini", buf, sizeof(buf)),
        0);
    assert_string_equal(buf, want);
}

static void
test_usr_and_root_use_etc(void **state)
{
    (void)state;
    check("/usr", "etc", "/etc/netkit/netkit.ini");
    check("/", "etc", "/etc/netkit/netkit.ini");
}

static void
test_opt_package(void **state)
{
    (void)state;
    check("/opt/netkit", "etc", "/etc/opt/netkit/netkit/netkit.ini");
    check("/opt/homebrew/nk", "etc", "/opt/homebrew/nk/etc/netkit/netkit.ini");
}

static void
test_other_prefixes(void **state)
{
    (void)state;
    check("/usr/local", "etc", "/usr/local/etc/netkit/netkit.ini");
    check("/usr2", "etc", "/usr2/etc/netkit/netkit.ini");
    check("/home/me/nk", "etc", "/home/me/nk/etc/netkit/netkit.ini");
    check("/opt", "etc", "/opt/etc/netkit/netkit.ini");
}

static void
test_absolute_sysconfdir(void **state)
{
    (void)state;
    check("/usr/local", "/srv/conf", "/srv/conf/netkit/netkit.ini");
}

static void
test_too_small(void **state)
{
    char buf[16];

    (void)state;
    assert_int_equal(nk__sysconf_path("/usr/local", "etc", "netkit/netkit.ini",
                                      buf, sizeof(buf)),
                     -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usr_and_root_use_etc),
        cmocka_unit_test(test_opt_package),
        cmocka_unit_test(test_other_prefixes),
        cmocka_unit_test(test_absolute_sysconfdir),
        cmocka_unit_test(test_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
