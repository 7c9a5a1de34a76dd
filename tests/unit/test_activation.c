/*
 * test_activation.c -- systemd socket activation (core/serve/activation.c):
 * the LISTEN_PID / LISTEN_FDS / LISTEN_FDNAMES values, and adopting an
 * inherited socket for a listener, or refusing one that does not fit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/socket.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netkit/plugin.h>

#include "base/alloc.h"
#include "serve/activation.h"

static void
test_activation_unset_or_other_process(void **state)
{
    struct nk__activation a;
    struct nk_err err = {0};

    (void)state;
    assert_int_equal(nk__activation_parse(NULL, NULL, NULL, 42, &a, &err), 0);
    assert_int_equal(a.n, 0);
    assert_int_equal(nk__activation_parse("42", NULL, NULL, 42, &a, &err), 0);
    assert_int_equal(a.n, 0);
    /* For another process (a parent's leftovers): ignored. */
    assert_int_equal(nk__activation_parse("41", "2", NULL, 42, &a, &err), 0);
    assert_int_equal(a.n, 0);
    assert_int_equal(nk__activation_parse("42", "0", NULL, 42, &a, &err), 0);
    assert_int_equal(a.n, 0);
}

static void
test_activation_names(void **state)
{
    struct nk__activation a;
    struct nk_err err = {0};

    (void)state;
    assert_int_equal(
        nk__activation_parse("42", "3", "main:dns:main", 42, &a, &err), 0);
    assert_int_equal(a.n, 3);
    assert_int_equal(a.fds[0].fd, 3);
    assert_int_equal(a.fds[2].fd, 5);
    assert_string_equal(a.fds[0].name, "main");
    assert_string_equal(a.fds[1].name, "dns");
    assert_string_equal(a.fds[2].name, "main");
    nk__activation_free(&a);

    /* No LISTEN_FDNAMES: systemd's name for an unnamed descriptor. */
    assert_int_equal(nk__activation_parse("42", "2", NULL, 42, &a, &err), 0);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.fds[1].name, "unknown");
    nk__activation_free(&a);

    /* Empty names are names too (they match no listener). */
    assert_int_equal(nk__activation_parse("42", "2", ":x", 42, &a, &err), 0);
    assert_string_equal(a.fds[0].name, "");
    assert_string_equal(a.fds[1].name, "x");
    nk__activation_free(&a);
}

static void
test_activation_errors(void **state)
{
    static const struct {
        const char *pid, *fds, *names, *msg;
    } bad[] = {
        {"x", "1", NULL, "LISTEN_PID: invalid pid 'x'"},
        {"042", "1", NULL, "LISTEN_PID: invalid pid '042'"},
        {"42", "-1", NULL, "LISTEN_FDS: invalid count '-1'"},
        {"42", "1x", NULL, "LISTEN_FDS: invalid count '1x'"},
        {"42", "", NULL, "LISTEN_FDS: invalid count ''"},
        {"42", "99999", NULL, "LISTEN_FDS: invalid count '99999'"},
        {"42", "2", "main",
         "LISTEN_FDNAMES names 1 descriptor but LISTEN_FDS "
         "is 2"},
        {"42", "1", "a:b",
         "LISTEN_FDNAMES names 2 descriptors but "
         "LISTEN_FDS is 1"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct nk__activation a;
        struct nk_err err = {0};

        assert_int_equal(nk__activation_parse(bad[i].pid, bad[i].fds,
                                              bad[i].names, 42, &a, &err),
                         -1);
        assert_string_equal(err.msg, bad[i].msg);
        assert_int_equal(err.status, 2);
        assert_int_equal(a.n, 0);
    }
}

/* A socket on descriptor 3 as systemd would pass it, named `name`. */
static void
inherit(int type, const char *name)
{
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, type, 0);
    char pid[32];

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
    if (type == SOCK_STREAM)
        assert_int_equal(listen(fd, 8), 0);
    if (fd != 3) {
        assert_int_equal(dup2(fd, 3), 3);
        close(fd);
    }
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    setenv("LISTEN_PID", pid, 1);
    setenv("LISTEN_FDS", "1", 1);
    setenv("LISTEN_FDNAMES", name, 1);
}

static void
test_activation_adopt(void **state)
{
    struct nk__listen_conf lc;
    struct nk__bindaddr *addrs = nk__calloc(1, sizeof(*addrs));
    int *fds = nk__malloc(2 * sizeof(int));
    size_t naddrs = 1;
    struct nk_err err = {0};

    (void)state;
    nk__listen_conf_init(&lc);
    lc.name = nk__strdup("main");
    inherit(SOCK_STREAM, "main");
    assert_int_equal(nk__activation_init(&err), 0);
    assert_null(getenv("LISTEN_FDS")); /* not passed on */
    assert_int_equal(nk__activation_adopt(&lc, 2, &addrs, &naddrs, &fds, &err),
                     1);
    assert_int_equal(naddrs, 1);
    assert_int_equal(fds[0], 3);
    assert_true(fds[1] > 3); /* the second worker's dup */
    assert_int_equal(addrs[0].ss.ss_family, AF_INET);
    close(fds[1]);
    nk__activation_done();
    assert_int_equal(fcntl(3, F_GETFD), FD_CLOEXEC);
    close(3);

    /* Another name: bind as usual; the descriptor is closed as unused. */
    nk__free(lc.name);
    lc.name = nk__strdup("other");
    inherit(SOCK_STREAM, "main");
    assert_int_equal(nk__activation_init(&err), 0);
    assert_int_equal(nk__activation_adopt(&lc, 1, &addrs, &naddrs, &fds, &err),
                     0);
    nk__activation_done();
    assert_int_equal(fcntl(3, F_GETFD), -1);

    /* A datagram socket for a tcp listener: refused, naming both. */
    inherit(SOCK_DGRAM, "other");
    assert_int_equal(nk__activation_init(&err), 0);
    assert_int_equal(nk__activation_adopt(&lc, 1, &addrs, &naddrs, &fds, &err),
                     -1);
    assert_string_equal(err.msg, "[listen.other]: inherited descriptor 3 is "
                                 "not a listening stream socket "
                                 "(ListenStream=), as transport = tcp needs");
    nk__activation_done();

    nk__free(addrs);
    nk__free(fds);
    nk__listen_conf_free(&lc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_activation_unset_or_other_process),
        cmocka_unit_test(test_activation_names),
        cmocka_unit_test(test_activation_errors),
        cmocka_unit_test(test_activation_adopt),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
