/*
 * test_keepopts.c -- socket options across a reload (core/serve/keepopts.c):
 * what changes, what goes back to the default, what waits for a restart,
 * and the options as the kernel has them on a live listening socket after
 * the changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include <netkit/plugin.h>

#include "base/alloc.h"
#include "serve/keepopts.h"

static struct nk__sockopt_val
opt(const char *name, const char *value)
{
    struct nk__sockopt_val v;
    char why[300];

    if (nk__sockopt_parse(name, value, NK_TRANSPORT_TCP, &v, why, sizeof(why)) <
        0)
        fail_msg("%s", why);
    return v;
}

static int
get_int(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);

    assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

/* A listening socket on 127.0.0.1, port 0, with opts set before bind. */
static int
listener(const struct nk__sockopt_val *opts, size_t n)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    const struct nk__sockopt_def *failed;
    char why[300];
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(
        nk__sockopt_apply_all(fd, AF_INET, opts, n, &failed, why, sizeof(why)),
        0);
    assert_int_equal(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
    assert_int_equal(listen(fd, 8), 0);
    return fd;
}

/* Added and changed options are set; one removed goes back to the
 * kernel's default; unchanged ones are left alone. */
static void
test_keepopts_set_and_revert(void **state)
{
    struct nk__listen_conf lc = {.name = "main", .transport = NK_TRANSPORT_TCP};
    struct nk__sockopt_val old[] = {opt("TCP_NODELAY", "1"),
                                    opt("SO_KEEPALIVE", "1"),
                                    opt("TCP_KEEPIDLE", "77")};
    struct nk__sockopt_val new[] = {opt("TCP_NODELAY", "1"),
                                    opt("TCP_KEEPIDLE", "99"),
                                    opt("SO_RCVBUF", "100000")};
    struct nk__keepopt *ch;
    struct nk_err err = {.msg = ""};
    size_t n;
    int fd = listener(old, 3);

    (void)state;
    assert_int_equal(get_int(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
    assert_int_equal(nk__keepopts_plan(&lc, old, 3, new, 3, &ch, &n, &err), 0);
    assert_int_equal(n, 3); /* SO_KEEPALIVE back, TCP_KEEPIDLE, SO_RCVBUF */
    assert_true(ch[0].revert);
    assert_string_equal(ch[0].val.def->name, "SO_KEEPALIVE");
    assert_string_equal(ch[1].val.def->name, "TCP_KEEPIDLE");
    assert_string_equal(ch[2].val.def->name, "SO_RCVBUF");
    assert_int_equal(nk__keepopts_apply(&lc, fd, AF_INET, ch, n, &err), 0);
    assert_int_equal(get_int(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
    assert_int_equal(get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE), 99);
    assert_int_equal(get_int(fd, SOL_SOCKET, SO_RCVBUF), 200000);
    assert_int_equal(get_int(fd, IPPROTO_TCP, TCP_NODELAY), 1);
    nk__free(ch);
    close(fd);
}

/* IPV6_V6ONLY cannot change on a bound socket, and a buffer size once set
 * cannot go back to the kernel's tuning: neither is in the plan. */
static void
test_keepopts_wait_for_restart(void **state)
{
    struct nk__listen_conf lc = {.name = "main", .transport = NK_TRANSPORT_TCP};
    struct nk__sockopt_val old[] = {opt("SO_RCVBUF", "100000")};
    struct nk__sockopt_val new[] = {opt("IPV6_V6ONLY", "1")};
    struct nk__keepopt *ch;
    struct nk_err err = {.msg = ""};
    size_t n;

    (void)state;
    assert_int_equal(nk__keepopts_plan(&lc, old, 1, new, 1, &ch, &n, &err), 0);
    assert_int_equal(n, 0);
    nk__free(ch);
    /* Nothing changed: nothing to do. */
    assert_int_equal(nk__keepopts_plan(&lc, old, 1, old, 1, &ch, &n, &err), 0);
    assert_int_equal(n, 0);
    nk__free(ch);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keepopts_set_and_revert),
        cmocka_unit_test(test_keepopts_wait_for_restart),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
