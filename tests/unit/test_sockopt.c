/*
 * test_sockopt.c -- the socket option table (core/config/sockopt.c, SPEC 6).
 *
 * Parsing is checked against the exact messages users see; setsockopt and
 * the read-back run on real, unconnected sockets (AF_INET/AF_INET6, TCP/UDP)
 * so no traffic is needed.  Nothing assumes root or non-root: options that
 * need a capability must either work or fail with EPERM.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netkit/plugin.h>

#include "config/sockopt.h"

#define TCP NK_TRANSPORT_TCP
#define UDP NK_TRANSPORT_UDP

/* One valid value for every option of SPEC 6 (plus SO_DONTLINGER), on a
 * transport it applies to.  `v6` marks options only AF_INET6 sockets have. */
static const struct {
    const char *name, *value;
    unsigned transport;
    int v6;
} spec_opts[] = {
    {"SO_REUSEADDR", "1", TCP, 0},     {"SO_REUSEPORT", "yes", UDP, 0},
    {"SO_KEEPALIVE", "on", TCP, 0},    {"SO_BROADCAST", "1", UDP, 0},
    {"SO_DONTROUTE", "true", UDP, 0},  {"SO_OOBINLINE", "1", TCP, 0},
    {"SO_LINGER", "1,5", TCP, 0},      {"SO_RCVBUF", "262144", TCP, 0},
    {"SO_SNDBUF", "262144", UDP, 0},   {"SO_RCVLOWAT", "1", TCP, 0},
    {"SO_PRIORITY", "6", UDP, 0},      {"SO_MARK", "4294967295", TCP, 0},
    {"SO_BINDTODEVICE", "lo", TCP, 0}, {"TCP_NODELAY", "1", TCP, 0},
    {"TCP_CORK", "0", TCP, 0},         {"TCP_QUICKACK", "1", TCP, 0},
    {"TCP_KEEPIDLE", "60", TCP, 0},    {"TCP_KEEPINTVL", "10", TCP, 0},
    {"TCP_KEEPCNT", "5", TCP, 0},      {"TCP_USER_TIMEOUT", "30000", TCP, 0},
    {"TCP_FASTOPEN", "16", TCP, 0},    {"TCP_CONGESTION", "reno", TCP, 0},
    {"TCP_MAXSEG", "1400", TCP, 0},    {"TCP_DEFER_ACCEPT", "5", TCP, 0},
    {"IP_TOS", "16", UDP, 0},          {"IP_TTL", "64", TCP, 0},
    {"IPV6_V6ONLY", "1", TCP, 1},      {"IPV6_UNICAST_HOPS", "-1", UDP, 1},
    {"IPV6_TCLASS", "255", TCP, 1},    {"SO_DONTLINGER", "1", TCP, 0},
};

#define N_SPEC_OPTS (sizeof(spec_opts) / sizeof(spec_opts[0]))

/* Names known only on other systems. */
static const char *const foreign_opts[] = {
    "SO_GROUP_PRIORITY", "SO_EXCLUSIVEADDRUSE", "SO_CONDITIONAL_ACCEPT",
    "SO_NOSIGPIPE",      "SO_USELOOPBACK",      "TCP_NOPUSH",
    "SO_REUSEPORT_LB",
};

/* Fresh sockets for each apply/read-back test; -1 where the system has
 * no such socket (no IPv6). */
struct fds {
    int tcp4, udp4, tcp6, udp6;
};

static int
setup(void **state)
{
    struct fds *f = malloc(sizeof(*f));

    if (f == NULL)
        return -1;
    f->tcp4 = socket(AF_INET, SOCK_STREAM, 0);
    f->udp4 = socket(AF_INET, SOCK_DGRAM, 0);
    f->tcp6 = socket(AF_INET6, SOCK_STREAM, 0);
    f->udp6 = socket(AF_INET6, SOCK_DGRAM, 0);
    *state = f;
    return f->tcp4 < 0 || f->udp4 < 0 ? -1 : 0;
}

static int
teardown(void **state)
{
    struct fds *f = *state;
    int all[] = {f->tcp4, f->udp4, f->tcp6, f->udp6};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (all[i] >= 0)
            close(all[i]);
    free(f);
    return 0;
}

/* Parse NAME=VALUE and assert it fails with exactly `msg`. */
static void
parse_fails(const char *name, const char *value, unsigned transport,
            const char *msg)
{
    struct nk__sockopt_val v;
    char why[256] = "";

    assert_int_equal(
        nk__sockopt_parse(name, value, transport, &v, why, sizeof(why)), -1);
    assert_string_equal(why, msg);
    assert_null(v.def);
}

/* Parse NAME=VALUE, which must succeed. */
static struct nk__sockopt_val
parse_ok(const char *name, const char *value, unsigned transport)
{
    struct nk__sockopt_val v;
    char why[256] = "";

    if (nk__sockopt_parse(name, value, transport, &v, why, sizeof(why)) != 0)
        fail_msg("%s=%s: %s", name, value, why);
    assert_non_null(v.def);
    assert_string_equal(v.def->name, name);
    return v;
}

/* Parse, apply on fd and read back into rb. */
static void
set_and_read(int fd, const char *name, const char *value, unsigned transport,
             char *rb, size_t size)
{
    struct nk__sockopt_val v = parse_ok(name, value, transport);
    char why[256] = "";

    if (nk__sockopt_apply(fd, &v, why, sizeof(why)) != 0)
        fail_msg("%s", why);
    assert_int_equal(nk__sockopt_readback(fd, v.def, rb, size), 0);
}

/* Every option of SPEC 6 parses with a valid value on its transport. */
static void
test_sockopt_spec_options_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SPEC_OPTS; i++) {
        struct nk__sockopt_val v = parse_ok(
            spec_opts[i].name, spec_opts[i].value, spec_opts[i].transport);

        assert_ptr_equal(v.def, nk__sockopt_find(spec_opts[i].name));
        assert_true(v.def->level >= 0);
    }
}

/* Values come out in the form setsockopt takes. */
static void
test_sockopt_values_parse_to_setsockopt_form(void **state)
{
    struct nk__sockopt_val v;

    (void)state;
    assert_int_equal(parse_ok("SO_RCVBUF", "262144", TCP).ival, 262144);
    assert_int_equal(parse_ok("IPV6_UNICAST_HOPS", "-1", UDP).ival, -1);
    /* An unsigned 32-bit mark travels as the same bits in an int. */
    assert_int_equal(parse_ok("SO_MARK", "4294967295", TCP).ival, (int)-1);
    v = parse_ok("TCP_CONGESTION", "cubic", TCP);
    assert_string_equal(v.str, "cubic");
    v = parse_ok("SO_LINGER", "1,5", TCP);
    assert_int_equal(v.linger.l_onoff, 1);
    assert_int_equal(v.linger.l_linger, 5);
}

/* Booleans accept 1/0, true/false, yes/no, on/off in any case. */
static void
test_sockopt_bool_words(void **state)
{
    static const char *const yes[] = {"1", "true", "yes", "on", "TRUE", "On"};
    static const char *const no[] = {"0", "false", "no", "off", "NO", "Off"};

    (void)state;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        assert_int_equal(parse_ok("TCP_NODELAY", yes[i], TCP).ival, 1);
        assert_int_equal(parse_ok("TCP_NODELAY", no[i], TCP).ival, 0);
    }
    parse_fails("TCP_NODELAY", "maybe", TCP,
                "socket option TCP_NODELAY: expected a boolean "
                "(1/0, true/false, yes/no, on/off)");
    parse_fails("SO_KEEPALIVE", "2", TCP,
                "socket option SO_KEEPALIVE: expected a boolean "
                "(1/0, true/false, yes/no, on/off)");
}

/* A value of the wrong type names the option and echoes the value. */
static void
test_sockopt_wrong_type(void **state)
{
    (void)state;
    parse_fails("SO_RCVBUF", "abc", TCP,
                "socket option SO_RCVBUF: invalid number 'abc'");
    parse_fails("SO_RCVBUF", "", TCP,
                "socket option SO_RCVBUF: invalid number ''");
    parse_fails("SO_RCVBUF", "12k", TCP,
                "socket option SO_RCVBUF: invalid number '12k'");
    parse_fails("IP_TTL", " 5", TCP,
                "socket option IP_TTL: invalid number ' 5'");
    parse_fails("TCP_KEEPCNT", "5 ", TCP,
                "socket option TCP_KEEPCNT: invalid number '5 '");
}

/* A number outside the row's range gives the range. */
static void
test_sockopt_out_of_range(void **state)
{
    (void)state;
    parse_fails("IP_TTL", "0", TCP,
                "socket option IP_TTL: out of range 1..255");
    parse_fails("IP_TTL", "256", UDP,
                "socket option IP_TTL: out of range 1..255");
    parse_fails("TCP_KEEPCNT", "128", TCP,
                "socket option TCP_KEEPCNT: out of range 1..127");
    parse_fails("IPV6_TCLASS", "-2", TCP,
                "socket option IPV6_TCLASS: out of range -1..255");
    parse_fails("TCP_MAXSEG", "87", TCP,
                "socket option TCP_MAXSEG: out of range 88..32767");
    parse_fails("SO_MARK", "4294967296", TCP,
                "socket option SO_MARK: out of range 0..4294967295");
    parse_fails("SO_RCVBUF", "99999999999999999999", TCP,
                "socket option SO_RCVBUF: out of range 1..2147483647");
    parse_fails("SO_RCVBUF", "-1", TCP,
                "socket option SO_RCVBUF: out of range 1..2147483647");
}

/* An option is refused on a transport it means nothing to. */
static void
test_sockopt_wrong_transport(void **state)
{
    (void)state;
    parse_fails("TCP_NODELAY", "1", UDP,
                "socket option TCP_NODELAY does not apply to udp sockets");
    parse_fails("SO_BROADCAST", "1", TCP,
                "socket option SO_BROADCAST does not apply to tcp sockets");
    parse_fails("SO_LINGER", "1,5", UDP,
                "socket option SO_LINGER does not apply to udp sockets");
    /* Both transports: each must fit; the check comes before the value. */
    parse_fails("TCP_KEEPIDLE", "abc", TCP | UDP,
                "socket option TCP_KEEPIDLE does not apply to udp sockets");
    /* No transport bit: the caller does not know yet, so no check. */
    parse_ok("TCP_NODELAY", "1", 0);
    parse_ok("SO_RCVBUF", "4096", TCP | UDP);
}

/* Unknown names are errors; far-off names get no suggestion. */
static void
test_sockopt_unknown_name(void **state)
{
    struct nk__sockopt_val v;
    char longname[300], why[64];

    (void)state;
    parse_fails("SO_FOO", "1", TCP, "unknown socket option 'SO_FOO'");
    parse_fails("IP_MTU", "1", TCP, "unknown socket option 'IP_MTU'");
    parse_fails("", "1", TCP, "unknown socket option ''");
    /* A name longer than any row is no typo; the message is cut to fit. */
    memset(longname, 'A', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(
        nk__sockopt_parse(longname, "1", TCP, &v, why, sizeof(why)), -1);
    assert_int_equal(strlen(why), sizeof(why) - 1);
    assert_int_equal(strncmp(why, "unknown socket option 'AAAA", 27), 0);
}

/* A near miss, another case or a missing prefix suggests the real name. */
static void
test_sockopt_misspelled_name_suggests(void **state)
{
    (void)state;
    parse_fails("SO_REUSEADR", "1", TCP,
                "unknown socket option 'SO_REUSEADR' "
                "(did you mean SO_REUSEADDR?)");
    parse_fails("so_reuseaddr", "1", TCP,
                "unknown socket option 'so_reuseaddr' "
                "(did you mean SO_REUSEADDR?)");
    parse_fails(
        "TCP_NODLAY", "1", TCP,
        "unknown socket option 'TCP_NODLAY' (did you mean TCP_NODELAY?)");
    parse_fails("TCP_KEEPINTERVAL", "1", TCP,
                "unknown socket option 'TCP_KEEPINTERVAL' "
                "(did you mean TCP_KEEPINTVL?)");
    parse_fails("NODELAY", "1", TCP,
                "unknown socket option 'NODELAY' (did you mean TCP_NODELAY?)");
    parse_fails("Ipv6_V6Only", "1", TCP,
                "unknown socket option 'Ipv6_V6Only' "
                "(did you mean IPV6_V6ONLY?)");
}

/* Lookup is exact and case-sensitive. */
static void
test_sockopt_find_is_exact(void **state)
{
    (void)state;
    assert_non_null(nk__sockopt_find("SO_REUSEADDR"));
    assert_null(nk__sockopt_find("so_reuseaddr"));
    assert_null(nk__sockopt_find("SO_REUSEADD"));
    assert_null(nk__sockopt_find(NULL));
}

/* Names of other systems are known, and say they are not supported here,
 * whatever the transport or value. */
static void
test_sockopt_other_systems_not_supported(void **state)
{
    char msg[128];

    (void)state;
    parse_fails("SO_GROUP_PRIORITY", "1", TCP,
                "socket option SO_GROUP_PRIORITY is not supported on this "
                "system");
    for (size_t i = 0; i < sizeof(foreign_opts) / sizeof(foreign_opts[0]);
         i++) {
        const struct nk__sockopt_def *d = nk__sockopt_find(foreign_opts[i]);

        assert_non_null(d);
        assert_int_equal(d->level, -1);
        snprintf(msg, sizeof(msg),
                 "socket option %s is not supported on this system",
                 foreign_opts[i]);
        parse_fails(foreign_opts[i], "1", TCP, msg);
        parse_fails(foreign_opts[i], "junk", UDP, msg);
    }
}

/* SO_LINGER takes "on,seconds" or a lone "0"; other shapes show the form. */
static void
test_sockopt_linger_forms(void **state)
{
    static const char *const bad[] = {
        "1,", "x,5", "1", ",5", "1,x", "1,-1", "", "1,5,6", "yes please,5"};
    struct nk__sockopt_val v;

    (void)state;
    v = parse_ok("SO_LINGER", "1,5", TCP);
    assert_true(v.linger.l_onoff == 1 && v.linger.l_linger == 5);
    v = parse_ok("SO_LINGER", "on,30", TCP);
    assert_true(v.linger.l_onoff == 1 && v.linger.l_linger == 30);
    v = parse_ok("SO_LINGER", "1,0", TCP);
    assert_true(v.linger.l_onoff == 1 && v.linger.l_linger == 0);
    v = parse_ok("SO_LINGER", "0", TCP);
    assert_true(v.linger.l_onoff == 0 && v.linger.l_linger == 0);
    v = parse_ok("SO_LINGER", "off", TCP);
    assert_true(v.linger.l_onoff == 0 && v.linger.l_linger == 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        parse_fails("SO_LINGER", bad[i], TCP,
                    "socket option SO_LINGER: expected on,seconds (e.g. 1,5) "
                    "or 0");
    parse_fails("SO_LINGER", "1,65536", TCP,
                "socket option SO_LINGER: seconds out of range 0..65535");
}

/* SO_DONTLINGER=1 is SO_LINGER off; 0 has no Linux meaning. */
static void
test_sockopt_dontlinger(void **state)
{
    struct nk__sockopt_val v = parse_ok("SO_DONTLINGER", "1", TCP);

    (void)state;
    assert_int_equal(v.def->level, SOL_SOCKET);
    assert_int_equal(v.def->optname, SO_LINGER);
    assert_true(v.linger.l_onoff == 0 && v.linger.l_linger == 0);
    parse_fails("SO_DONTLINGER", "0", TCP,
                "socket option SO_DONTLINGER: only 1 is meaningful "
                "(to linger, use SO_LINGER=1,seconds)");
    parse_fails("SO_DONTLINGER", "1", UDP,
                "socket option SO_DONTLINGER does not apply to udp sockets");
}

/* Strings are bounded by the kernel's name length. */
static void
test_sockopt_string_length(void **state)
{
    (void)state;
    parse_fails("TCP_CONGESTION", "", TCP,
                "socket option TCP_CONGESTION: empty value");
    parse_fails("TCP_CONGESTION", "abcdefghijklmnop", TCP,
                "socket option TCP_CONGESTION: 'abcdefghijklmnop' is too long "
                "(at most 15 bytes)");
    assert_string_equal(parse_ok("SO_BINDTODEVICE", "", UDP).str, "");
}

/* A name with no value says so. */
static void
test_sockopt_missing_value(void **state)
{
    (void)state;
    parse_fails("TCP_NODELAY", NULL, TCP,
                "socket option TCP_NODELAY: missing value");
}

/* IP_* fit both families, IPV6_* only AF_INET6, nothing fits AF_UNIX. */
static void
test_sockopt_applies_family(void **state)
{
    const struct nk__sockopt_def *v6only = nk__sockopt_find("IPV6_V6ONLY");
    const struct nk__sockopt_def *tos = nk__sockopt_find("IP_TOS");
    const struct nk__sockopt_def *nodelay = nk__sockopt_find("TCP_NODELAY");

    (void)state;
    assert_false(nk__sockopt_applies_family(v6only, AF_INET));
    assert_true(nk__sockopt_applies_family(v6only, AF_INET6));
    assert_true(nk__sockopt_applies_family(tos, AF_INET));
    assert_true(nk__sockopt_applies_family(tos, AF_INET6));
    assert_true(nk__sockopt_applies_family(nodelay, AF_INET6));
    assert_false(nk__sockopt_applies_family(nodelay, AF_UNIX));
}

/* Listener-only and per-accepted-socket options are marked as such. */
static void
test_sockopt_listener_and_accepted_marks(void **state)
{
    static const char *const listener[] = {"SO_REUSEADDR", "SO_REUSEPORT",
                                           "TCP_DEFER_ACCEPT", "TCP_FASTOPEN",
                                           "IPV6_V6ONLY"};

    (void)state;
    for (size_t i = 0; i < sizeof(listener) / sizeof(listener[0]); i++)
        assert_true(nk__sockopt_find(listener[i])->applies & NK_SO_LISTENER);
    assert_true(nk__sockopt_find("TCP_QUICKACK")->applies & NK_SO_ACCEPTED);
    assert_false(nk__sockopt_find("TCP_NODELAY")->applies &
                 (NK_SO_LISTENER | NK_SO_ACCEPTED));
}

/* The socket a spec_opts row belongs on, or -1 if the system lacks it. */
static int
spec_fd(const struct fds *f, size_t i)
{
    if (spec_opts[i].v6)
        return spec_opts[i].transport == UDP ? f->udp6 : f->tcp6;
    return spec_opts[i].transport == UDP ? f->udp4 : f->tcp4;
}

/* Every option of SPEC 6 is set by the kernel on its socket, or refused
 * only for want of a capability. */
static void
test_sockopt_every_option_applies(void **state)
{
    struct fds *f = *state;
    char why[256], rb[64];

    for (size_t i = 0; i < N_SPEC_OPTS; i++) {
        struct nk__sockopt_val v = parse_ok(
            spec_opts[i].name, spec_opts[i].value, spec_opts[i].transport);
        int fd = spec_fd(f, i);

        if (fd < 0)
            continue;
        if (nk__sockopt_apply(fd, &v, why, sizeof(why)) != 0 && errno != EPERM)
            fail_msg("%s", why);
        assert_int_equal(nk__sockopt_readback(fd, v.def, rb, sizeof(rb)), 0);
    }
}

/* The kernel doubles SO_RCVBUF; the read-back shows what it kept. */
static void
test_sockopt_rcvbuf_readback_doubled(void **state)
{
    struct fds *f = *state;
    char rb[64];

    set_and_read(f->tcp4, "SO_RCVBUF", "65536", TCP, rb, sizeof(rb));
    assert_true(strtoll(rb, NULL, 10) >= 65536);
    set_and_read(f->udp4, "SO_SNDBUF", "65536", UDP, rb, sizeof(rb));
    assert_true(strtoll(rb, NULL, 10) >= 65536);
}

/* Booleans read back as 1 or 0. */
static void
test_sockopt_bool_readback(void **state)
{
    struct fds *f = *state;
    char rb[64];

    set_and_read(f->tcp4, "TCP_NODELAY", "yes", TCP, rb, sizeof(rb));
    assert_string_equal(rb, "1");
    set_and_read(f->tcp4, "SO_KEEPALIVE", "1", TCP, rb, sizeof(rb));
    assert_string_equal(rb, "1");
    set_and_read(f->tcp4, "TCP_NODELAY", "off", TCP, rb, sizeof(rb));
    assert_string_equal(rb, "0");
    set_and_read(f->udp4, "SO_BROADCAST", "1", UDP, rb, sizeof(rb));
    assert_string_equal(rb, "1");
}

/* SO_LINGER reads back as written; SO_DONTLINGER turns it off. */
static void
test_sockopt_linger_readback(void **state)
{
    struct fds *f = *state;
    char rb[64];

    set_and_read(f->tcp4, "SO_LINGER", "1,5", TCP, rb, sizeof(rb));
    assert_string_equal(rb, "1,5");
    set_and_read(f->tcp4, "SO_DONTLINGER", "1", TCP, rb, sizeof(rb));
    assert_string_equal(rb, "1");
    assert_int_equal(nk__sockopt_readback(f->tcp4,
                                          nk__sockopt_find("SO_LINGER"), rb,
                                          sizeof(rb)),
                     0);
    assert_string_equal(rb, "0");
}

/* TCP_CONGESTION reads back each algorithm this process may set. */
static void
test_sockopt_congestion_readback(void **state)
{
    struct fds *f = *state;
    char list[512] = "reno", rb[64], *save = NULL;
    FILE *fp = fopen("/proc/sys/net/ipv4/tcp_allowed_congestion_control", "r");

    /* reno is built in and always allowed, even without the file. */
    if (fp != NULL) {
        if (fgets(list, sizeof(list), fp) == NULL)
            strcpy(list, "reno");
        fclose(fp);
    }
    for (char *a = strtok_r(list, " \n", &save); a != NULL;
         a = strtok_r(NULL, " \n", &save)) {
        set_and_read(f->tcp4, "TCP_CONGESTION", a, TCP, rb, sizeof(rb));
        assert_string_equal(rb, a);
    }
}

/* IP and IPv6 options read back on AF_INET6 sockets. */
static void
test_sockopt_ipv6_readback(void **state)
{
    struct fds *f = *state;
    char rb[64];

    if (f->tcp6 < 0)
        skip();
    set_and_read(f->tcp6, "IPV6_V6ONLY", "1", TCP, rb, sizeof(rb));
    assert_string_equal(rb, "1");
    set_and_read(f->tcp6, "IPV6_TCLASS", "32", TCP, rb, sizeof(rb));
    assert_string_equal(rb, "32");
    set_and_read(f->tcp6, "IP_TTL", "9", TCP, rb, sizeof(rb));
    assert_string_equal(rb, "9");
    set_and_read(f->udp6, "IPV6_UNICAST_HOPS", "17", UDP, rb, sizeof(rb));
    assert_string_equal(rb, "17");
}

/* A refusal by the kernel names the option and the reason, errno kept. */
static void
test_sockopt_kernel_refusal(void **state)
{
    struct fds *f = *state;
    struct nk__sockopt_val v = parse_ok("TCP_CONGESTION", "no_such_algo", TCP);
    char why[256] = "";
    int pipefd[2];

    errno = 0;
    assert_int_equal(nk__sockopt_apply(f->tcp4, &v, why, sizeof(why)), -1);
    assert_int_equal(errno, ENOENT);
    assert_string_equal(why,
                        "setsockopt TCP_CONGESTION: No such file or directory");
    /* Not a socket at all. */
    assert_int_equal(pipe(pipefd), 0);
    v = parse_ok("SO_RCVBUF", "4096", TCP);
    assert_int_equal(nk__sockopt_apply(pipefd[0], &v, why, sizeof(why)), -1);
    assert_int_equal(errno, ENOTSOCK);
    assert_string_equal(why,
                        "setsockopt SO_RCVBUF: Socket operation on non-socket");
    close(pipefd[0]);
    close(pipefd[1]);
}

/* SO_MARK works with CAP_NET_ADMIN (and reads back unsigned), or fails
 * with EPERM and says so. */
static void
test_sockopt_privileged_mark(void **state)
{
    struct fds *f = *state;
    struct nk__sockopt_val v = parse_ok("SO_MARK", "4294967295", TCP);
    char why[256] = "", rb[64];

    if (nk__sockopt_apply(f->tcp4, &v, why, sizeof(why)) == 0) {
        assert_int_equal(nk__sockopt_readback(f->tcp4, v.def, rb, sizeof(rb)),
                         0);
        assert_string_equal(rb, "4294967295");
    } else {
        assert_int_equal(errno, EPERM);
        assert_string_equal(why, "setsockopt SO_MARK: Operation not permitted");
    }
}

/* A row of another system cannot be applied or read back. */
static void
test_sockopt_foreign_row_apply_fails(void **state)
{
    struct fds *f = *state;
    struct nk__sockopt_val v;
    char why[256] = "", rb[64];

    memset(&v, 0, sizeof(v));
    v.def = nk__sockopt_find("SO_GROUP_PRIORITY");
    assert_int_equal(nk__sockopt_apply(f->tcp4, &v, why, sizeof(why)), -1);
    assert_int_equal(errno, ENOPROTOOPT);
    assert_string_equal(why,
                        "setsockopt SO_GROUP_PRIORITY: Protocol not available");
    assert_int_equal(nk__sockopt_readback(f->tcp4, v.def, rb, sizeof(rb)), -1);
    assert_int_equal(errno, ENOPROTOOPT);
}

/* `netkit sockopts` lists every name, aligned, under a header. */
static void
test_sockopt_print_lists_every_name(void **state)
{
    char *text = NULL, *line, *save = NULL;
    size_t size = 0, col;
    FILE *out = open_memstream(&text, &size);

    (void)state;
    assert_non_null(out);
    nk__sockopt_print(out);
    assert_int_equal(fclose(out), 0);
    for (size_t i = 0; i < N_SPEC_OPTS; i++)
        assert_non_null(strstr(text, spec_opts[i].name));
    for (size_t i = 0; i < sizeof(foreign_opts) / sizeof(foreign_opts[0]); i++)
        assert_non_null(strstr(text, foreign_opts[i]));
    assert_non_null(strstr(text, "not supported on this system"));
    assert_non_null(strstr(text, "int 1..255"));
    assert_non_null(strstr(text, "on,seconds"));
    assert_int_equal(strncmp(text, "NAME ", 5), 0);
    col = (size_t)(strstr(text, "LEVEL") - text);
    /* Every row's second column starts under LEVEL. */
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        assert_true(strlen(line) > col);
        assert_true(line[col - 1] == ' ' && line[col] != ' ');
    }
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sockopt_spec_options_parse),
        cmocka_unit_test(test_sockopt_values_parse_to_setsockopt_form),
        cmocka_unit_test(test_sockopt_bool_words),
        cmocka_unit_test(test_sockopt_wrong_type),
        cmocka_unit_test(test_sockopt_out_of_range),
        cmocka_unit_test(test_sockopt_wrong_transport),
        cmocka_unit_test(test_sockopt_unknown_name),
        cmocka_unit_test(test_sockopt_misspelled_name_suggests),
        cmocka_unit_test(test_sockopt_find_is_exact),
        cmocka_unit_test(test_sockopt_other_systems_not_supported),
        cmocka_unit_test(test_sockopt_linger_forms),
        cmocka_unit_test(test_sockopt_dontlinger),
        cmocka_unit_test(test_sockopt_string_length),
        cmocka_unit_test(test_sockopt_missing_value),
        cmocka_unit_test(test_sockopt_applies_family),
        cmocka_unit_test(test_sockopt_listener_and_accepted_marks),
        cmocka_unit_test(test_sockopt_print_lists_every_name),
        cmocka_unit_test_setup_teardown(test_sockopt_every_option_applies,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sockopt_rcvbuf_readback_doubled,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sockopt_bool_readback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sockopt_linger_readback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sockopt_congestion_readback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sockopt_ipv6_readback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sockopt_kernel_refusal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sockopt_privileged_mark, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sockopt_foreign_row_apply_fails,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
