/*
 * test_settings.c -- the settings struct of core/config/settings.c: its lists,
 * its defaults, and nk__settings_finish's precedence rules (SPEC 5: the
 * command line's listener replaces the config's; -o, --max-conns and
 * --idle-timeout apply to every listener; socket options are checked
 * against each listener's transport and reported where they were written).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>

#include <netkit/plugin.h>

#include "base/alloc.h"
#include "config/settings.h"

struct fixture {
    struct nk__settings s;
    struct nk_err err;
    char line[700];
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    nk__settings_init(&f->s);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    nk__settings_free(&f->s);
    free(f);
    return 0;
}

/* Finish, expecting failure; returns the line main would print. */
static const char *
finish_fails(struct fixture *f)
{
    assert_int_equal(nk__settings_finish(&f->s, &f->err), -1);
    nk__err_format(&f->err, f->line, sizeof(f->line));
    return f->line;
}

/* A config listener as conf.c builds it: name, transport, location. */
static struct nk__listen_conf *
add_conf_listener(struct fixture *f, const char *name, unsigned transport,
                  int line)
{
    struct nk__listen_conf *l = nk__settings_add_listener(&f->s);

    assert_non_null(l);
    assert_non_null(l->name = nk__strdup(name));
    l->transport = transport;
    l->file = "conf/x.ini";
    l->line = line;
    return l;
}

/* A fresh settings holds the documented defaults, the CLI listener too. */
static void
test_settings_init_defaults(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(f->s.log_level, NK_LOG_INFO);
    assert_int_equal(f->s.workers, 1);
    assert_true(f->s.timeout == 5.0);
    assert_int_equal(f->s.count, 1);
    assert_int_equal(f->s.cli_set, 0);
    assert_null(f->s.config_file);
    assert_int_equal(f->s.nlisteners, 0);
    assert_string_equal(f->s.cli.proto, NK_DEFAULT_PROTO);
    assert_int_equal(f->s.cli.port, NK_DEFAULT_PORT);
    assert_int_equal(f->s.cli.transport, NK_TRANSPORT_TCP);
    assert_int_equal(f->s.cli.family, AF_UNSPEC);
    assert_int_equal(f->s.cli.max_conns, NK_DEFAULT_MAX_CONNS);
    assert_true(f->s.cli.idle_timeout == NK_DEFAULT_IDLE_TIMEOUT);
}

/* A string list keeps copies in order. */
static void
test_settings_strlist(void **state)
{
    struct nk__strlist l = {NULL, 0};
    char buf[] = "b";

    (void)state;
    assert_int_equal(nk__strlist_add(&l, "a"), 0);
    assert_int_equal(nk__strlist_add(&l, buf), 0);
    buf[0] = 'X';
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0], "a");
    assert_string_equal(l.items[1], "b");
    nk__strlist_free(&l);
    assert_int_equal(l.n, 0);
    assert_null(l.items);
}

/* A kv list keeps values with NULs and their origin; find returns the
 * last item with the key, so a later setting wins. */
static void
test_settings_kvlist(void **state)
{
    struct nk__kvlist l = {NULL, 0};
    const struct nk__kv *kv;

    (void)state;
    assert_int_equal(nk__kvlist_add(&l, "prefix", "a\0b", 3, "f.ini", 4), 0);
    assert_int_equal(nk__kvlist_add(&l, "x", "1", 1, NULL, 0), 0);
    assert_int_equal(nk__kvlist_add(&l, "prefix", "c", 1, NULL, 0), 0);
    assert_non_null(kv = nk__kvlist_find(&l, "prefix"));
    assert_string_equal(kv->val, "c");
    assert_null(kv->file);
    assert_int_equal(l.items[0].len, 3);
    assert_memory_equal(l.items[0].val, "a\0b", 4);
    assert_string_equal(l.items[0].file, "f.ini");
    assert_int_equal(l.items[0].line, 4);
    assert_null(nk__kvlist_find(&l, "missing"));
    nk__kvlist_free(&l);
    assert_int_equal(l.n, 0);
}

/* A failed allocation leaves a list unchanged and leaks nothing. */
static void
test_settings_lists_oom(void **state)
{
    struct nk__kvlist kl = {NULL, 0};
    struct nk__strlist sl = {NULL, 0};

    (void)state;
    /* kvlist_add allocates key, value and the array; strlist_add the
     * copy and the array: fail each in turn. */
    for (long budget = 0; budget < 3; budget++) {
        nk__alloc_fail_after(budget);
        assert_int_equal(nk__kvlist_add(&kl, "k", "v", 1, NULL, 0), -1);
        nk__alloc_fail_after(-1);
        assert_int_equal(kl.n, 0);
    }
    for (long budget = 0; budget < 2; budget++) {
        nk__alloc_fail_after(budget);
        assert_int_equal(nk__strlist_add(&sl, "s"), -1);
        nk__alloc_fail_after(-1);
        assert_int_equal(sl.n, 0);
    }
}

/* Added listeners start from the listener defaults; plugin sections are
 * found by name. */
static void
test_settings_add_and_find(void **state)
{
    struct fixture *f = *state;
    struct nk__listen_conf *l = nk__settings_add_listener(&f->s);
    struct nk__plugin_conf *p;

    assert_non_null(l);
    assert_string_equal(l->proto, NK_DEFAULT_PROTO);
    assert_int_equal(l->port, NK_DEFAULT_PORT);
    assert_int_equal(l->max_conns, NK_DEFAULT_MAX_CONNS);
    assert_non_null(p = nk__settings_add_plugin(&f->s));
    assert_non_null(p->name = nk__strdup("framed"));
    assert_non_null(p = nk__settings_add_plugin(&f->s));
    assert_non_null(p->name = nk__strdup("raw"));
    assert_ptr_equal(nk__settings_find_plugin(&f->s, "raw"), &f->s.plugins[1]);
    assert_ptr_equal(nk__settings_find_plugin(&f->s, "framed"),
                     &f->s.plugins[0]);
    assert_null(nk__settings_find_plugin(&f->s, "rawx"));
}

/* With neither config listeners nor CLI listener flags, one default
 * listener: raw on localhost:9999 over TCP. */
static void
test_settings_finish_default_listener(void **state)
{
    struct fixture *f = *state;
    const struct nk__listen_conf *l;

    assert_int_equal(nk__settings_finish(&f->s, &f->err), 0);
    assert_int_equal(f->s.nlisteners, 1);
    l = &f->s.listeners[0];
    assert_string_equal(l->name, "default");
    assert_string_equal(l->proto, NK_DEFAULT_PROTO);
    assert_int_equal(l->hosts.n, 0);
    assert_int_equal(l->port, NK_DEFAULT_PORT);
    assert_int_equal(l->transport, NK_TRANSPORT_TCP);
    assert_int_equal(l->family, AF_UNSPEC);
    assert_int_equal(l->max_conns, NK_DEFAULT_MAX_CONNS);
    assert_null(l->file);
}

/* Without CLI listener flags the config's listeners are kept as they are. */
static void
test_settings_finish_keeps_config_listeners(void **state)
{
    struct fixture *f = *state;

    add_conf_listener(f, "a", NK_TRANSPORT_TCP, 1)->port = 1000;
    add_conf_listener(f, "b", NK_TRANSPORT_UDP, 5)->port = 2000;
    assert_int_equal(nk__settings_finish(&f->s, &f->err), 0);
    assert_int_equal(f->s.nlisteners, 2);
    assert_string_equal(f->s.listeners[0].name, "a");
    assert_int_equal(f->s.listeners[0].port, 1000);
    assert_string_equal(f->s.listeners[1].name, "b");
    assert_int_equal(f->s.listeners[1].transport, NK_TRANSPORT_UDP);
}

/* Any one of -p -H -P -u -4 -6 makes the CLI listener the only one; fields
 * not given keep the listener defaults, not the config's values. */
static void
test_settings_finish_cli_replaces_config(void **state)
{
    static const unsigned bits[] = {NK_SET_PROTO, NK_SET_HOST, NK_SET_PORT,
                                    NK_SET_UDP, NK_SET_FAMILY};

    (void)state;
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        struct nk__settings s;
        struct nk_err err;
        struct nk__listen_conf *l;

        nk__settings_init(&s);
        assert_non_null(l = nk__settings_add_listener(&s));
        l->port = 1234;
        nk__free(l->proto);
        l->proto = nk__strdup("framed");
        s.cli_set = bits[i];
        assert_int_equal(nk__settings_finish(&s, &err), 0);
        assert_int_equal(s.nlisteners, 1);
        assert_string_equal(s.listeners[0].name, "cli");
        assert_string_equal(s.listeners[0].proto, NK_DEFAULT_PROTO);
        assert_int_equal(s.listeners[0].port, NK_DEFAULT_PORT);
        nk__settings_free(&s);
    }
}

/* The CLI listener is a deep copy of s->cli: proto, hosts, port,
 * transport, family. */
static void
test_settings_finish_cli_listener_fields(void **state)
{
    struct fixture *f = *state;
    const struct nk__listen_conf *l;

    add_conf_listener(f, "main", NK_TRANSPORT_TCP, 1);
    nk__free(f->s.cli.proto);
    f->s.cli.proto = nk__strdup("framed");
    assert_int_equal(nk__strlist_add(&f->s.cli.hosts, "::1"), 0);
    assert_int_equal(nk__strlist_add(&f->s.cli.hosts, "10.0.0.1"), 0);
    f->s.cli.port = 0;
    f->s.cli.transport = NK_TRANSPORT_UDP;
    f->s.cli.family = AF_INET6;
    f->s.cli_set =
        NK_SET_PROTO | NK_SET_HOST | NK_SET_PORT | NK_SET_UDP | NK_SET_FAMILY;
    assert_int_equal(nk__settings_finish(&f->s, &f->err), 0);
    assert_int_equal(f->s.nlisteners, 1);
    l = &f->s.listeners[0];
    assert_string_equal(l->proto, "framed");
    assert_int_equal(l->hosts.n, 2);
    assert_string_equal(l->hosts.items[1], "10.0.0.1");
    assert_ptr_not_equal(l->hosts.items[0], f->s.cli.hosts.items[0]);
    assert_int_equal(l->port, 0);
    assert_int_equal(l->transport, NK_TRANSPORT_UDP);
    assert_int_equal(l->family, AF_INET6);
}

/* -o options go after each listener's own, so they are set last and win;
 * their origin stays the command line. */
static void
test_settings_finish_appends_cli_sockopts(void **state)
{
    struct fixture *f = *state;
    struct nk__listen_conf *l =
        add_conf_listener(f, "main", NK_TRANSPORT_TCP, 1);
    const struct nk__kv *kv;

    assert_int_equal(
        nk__kvlist_add(&l->sockopts, "SO_RCVBUF", "1024", 4, "conf/x.ini", 3),
        0);
    add_conf_listener(f, "dns", NK_TRANSPORT_UDP, 9);
    assert_int_equal(
        nk__kvlist_add(&f->s.cli_sockopts, "SO_RCVBUF", "4096", 4, NULL, 0), 0);
    assert_int_equal(nk__settings_finish(&f->s, &f->err), 0);
    l = &f->s.listeners[0];
    assert_int_equal(l->sockopts.n, 2);
    assert_string_equal(l->sockopts.items[0].val, "1024");
    assert_int_equal(l->sockopts.items[0].line, 3);
    assert_string_equal(l->sockopts.items[1].val, "4096");
    assert_null(l->sockopts.items[1].file);
    assert_non_null(kv = nk__kvlist_find(&l->sockopts, "SO_RCVBUF"));
    assert_string_equal(kv->val, "4096");
    assert_int_equal(f->s.listeners[1].sockopts.n, 1);
}

/* --max-conns and --idle-timeout apply to every listener; without them
 * each keeps its own value. */
static void
test_settings_finish_limits_from_cli(void **state)
{
    struct fixture *f = *state;

    add_conf_listener(f, "a", NK_TRANSPORT_TCP, 1)->max_conns = 10;
    add_conf_listener(f, "b", NK_TRANSPORT_TCP, 4)->idle_timeout = 30;
    f->s.cli.max_conns = 77;
    f->s.cli.idle_timeout = 1.5;
    f->s.cli_set = NK_SET_MAX_CONNS;
    assert_int_equal(nk__settings_finish(&f->s, &f->err), 0);
    assert_int_equal(f->s.listeners[0].max_conns, 77);
    assert_int_equal(f->s.listeners[1].max_conns, 77);
    assert_true(f->s.listeners[1].idle_timeout == 30);

    nk__settings_free(&f->s);
    nk__settings_init(&f->s);
    add_conf_listener(f, "a", NK_TRANSPORT_TCP, 1)->max_conns = 10;
    f->s.cli.idle_timeout = 1.5;
    f->s.cli_set = NK_SET_IDLE;
    assert_int_equal(nk__settings_finish(&f->s, &f->err), 0);
    assert_int_equal(f->s.listeners[0].max_conns, 10);
    assert_true(f->s.listeners[0].idle_timeout == 1.5);
}

/* --udp-rate applies to every UDP listener (and is refused when there is
 * none); udp_* keys in a TCP listener's section are refused at their line. */
static void
test_settings_finish_udp_rate(void **state)
{
    struct fixture *f = *state;
    char line[300];

    add_conf_listener(f, "u", NK_TRANSPORT_UDP, 1)->udp_rate = 5;
    add_conf_listener(f, "t", NK_TRANSPORT_TCP, 4);
    f->s.cli.udp_rate = 0;
    f->s.cli_set = NK_SET_UDP_RATE;
    assert_int_equal(nk__settings_finish(&f->s, &f->err), 0);
    assert_int_equal(f->s.listeners[0].udp_rate, 0);

    nk__settings_free(&f->s);
    nk__settings_init(&f->s);
    add_conf_listener(f, "t", NK_TRANSPORT_TCP, 4);
    f->s.cli_set = NK_SET_UDP_RATE;
    assert_int_equal(nk__settings_finish(&f->s, &f->err), -1);
    assert_string_equal(f->err.msg, "option --udp-rate applies to UDP "
                                    "listeners only (add -u)");

    nk__settings_free(&f->s);
    nk__settings_init(&f->s);
    {
        struct nk__listen_conf *l = add_conf_listener(f, "t", 0, 4);
        l->transport = NK_TRANSPORT_TCP;
        l->udp_key = "udp_allow_low_ports";
        l->udp_line = 6;
    }
    assert_int_equal(nk__settings_finish(&f->s, &f->err), -1);
    nk__err_format(&f->err, line, sizeof(line));
    assert_string_equal(line, "conf/x.ini:6: [listen.t] udp_allow_low_ports "
                              "applies to UDP listeners only (add 'transport "
                              "= udp', or remove it)");
}

/* A config socket option that does not fit its listener's transport is
 * reported at its own file and line. */
static void
test_settings_finish_sockopt_error_at_line(void **state)
{
    struct fixture *f = *state;
    struct nk__listen_conf *l =
        add_conf_listener(f, "dns", NK_TRANSPORT_UDP, 2);

    assert_int_equal(
        nk__kvlist_add(&l->sockopts, "TCP_NODELAY", "1", 1, "conf/x.ini", 7),
        0);
    assert_string_equal(finish_fails(f),
                        "conf/x.ini:7: socket option TCP_NODELAY does not "
                        "apply to udp sockets");
    assert_int_equal(f->err.status, 2);
}

/* A bad -o is reported as the option, naming the config listener it was
 * applied to when there is one. */
static void
test_settings_finish_cli_sockopt_error(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(
        nk__kvlist_add(&f->s.cli_sockopts, "TCP_NODELAY", "1", 1, NULL, 0), 0);
    f->s.cli.transport = NK_TRANSPORT_UDP;
    f->s.cli_set = NK_SET_UDP;
    assert_string_equal(finish_fails(f),
                        "-o TCP_NODELAY=1: socket option TCP_NODELAY does not "
                        "apply to udp sockets");

    nk__settings_free(&f->s);
    nk__settings_init(&f->s);
    add_conf_listener(f, "web", NK_TRANSPORT_TCP, 1);
    add_conf_listener(f, "dns", NK_TRANSPORT_UDP, 5);
    assert_int_equal(
        nk__kvlist_add(&f->s.cli_sockopts, "TCP_NODELAY", "1", 1, NULL, 0), 0);
    assert_string_equal(finish_fails(f),
                        "-o TCP_NODELAY=1 (listener [listen.dns]): socket "
                        "option TCP_NODELAY does not apply to udp sockets");

    nk__settings_free(&f->s);
    nk__settings_init(&f->s);
    assert_int_equal(
        nk__kvlist_add(&f->s.cli_sockopts, "SO_REUSEADR", "1", 1, NULL, 0), 0);
    assert_string_equal(finish_fails(f),
                        "-o SO_REUSEADR=1: unknown socket option "
                        "'SO_REUSEADR' (did you mean SO_REUSEADDR?)");
}

/* A socket option value holding a NUL byte is refused, not cut short. */
static void
test_settings_finish_sockopt_nul(void **state)
{
    struct fixture *f = *state;
    struct nk__listen_conf *l = add_conf_listener(f, "a", NK_TRANSPORT_TCP, 1);

    assert_int_equal(nk__kvlist_add(&l->sockopts, "SO_RCVBUF",
                                    "1\0"
                                    "2",
                                    3, "conf/x.ini", 2),
                     0);
    assert_string_equal(finish_fails(f), "conf/x.ini:2: socket option "
                                         "SO_RCVBUF: value holds a NUL byte");
}

/* Every allocation failure in finish is a clean "out of memory" (status 1)
 * with nothing leaked. */
static void
test_settings_finish_oom(void **state)
{
    long budget;
    int rc = -1;

    (void)state;
    for (budget = 0; rc != 0 && budget < 1000; budget++) {
        struct nk__settings s;
        struct nk_err err = {{0}, NULL, 0, 0};

        nk__settings_init(&s);
        assert_int_equal(nk__strlist_add(&s.cli.hosts, "::1"), 0);
        assert_int_equal(
            nk__kvlist_add(&s.cli_sockopts, "SO_RCVBUF", "1", 1, NULL, 0), 0);
        s.cli_set = NK_SET_HOST;
        nk__alloc_fail_after(budget);
        rc = nk__settings_finish(&s, &err);
        nk__alloc_fail_after(-1);
        if (rc != 0) {
            assert_string_equal(err.msg, "out of memory");
            assert_int_equal(err.status, 1);
        }
        nk__settings_free(&s);
    }
    assert_int_equal(rc, 0);
    assert_true(budget > 1);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_settings_init_defaults),
        T(test_settings_strlist),
        T(test_settings_kvlist),
        T(test_settings_lists_oom),
        T(test_settings_add_and_find),
        T(test_settings_finish_default_listener),
        T(test_settings_finish_keeps_config_listeners),
        T(test_settings_finish_cli_replaces_config),
        T(test_settings_finish_cli_listener_fields),
        T(test_settings_finish_appends_cli_sockopts),
        T(test_settings_finish_limits_from_cli),
        T(test_settings_finish_udp_rate),
        T(test_settings_finish_sockopt_error_at_line),
        T(test_settings_finish_cli_sockopt_error),
        T(test_settings_finish_sockopt_nul),
        T(test_settings_finish_oom),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
