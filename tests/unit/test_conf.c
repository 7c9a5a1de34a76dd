/*
 * test_conf.c -- the INI loader of core/config/conf.c.
 *
 * Config-error goldens (STYLE J): every tests/conf/bad/NAME.ini must fail
 * with exactly the line in NAME.err, as nk__err_format prints it.  The
 * tests run from the repository root, so the paths in messages are the
 * relative ones a user would type (tests/conf/bad/port_range.ini:3: ...).
 * Good files in tests/conf/good/ and the shipped conf/netkit.ini and
 * conf/examples/multi.ini must load, with their values checked field by
 * field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/socket.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netkit/plugin.h>

#include "base/alloc.h"
#include "config/conf.h"
#include "config/settings.h"

#ifndef NK_TEST_SRCDIR
#error "NK_TEST_SRCDIR must name the tests/ directory"
#endif

#ifndef NK_CONFIG_INSTALL_FILE
#define NK_CONFIG_INSTALL_FILE "/usr/local/etc/netkit/netkit.ini"
#endif

#define BAD_DIR  "tests/conf/bad"
#define GOOD_DIR "tests/conf/good"

/* The golden cases SPEC 5 and the brief require, at the least. */
#define BAD_MIN 22

struct fixture {
    struct nk__settings s;
    struct nk_err err;
};

static int
group_setup(void **state)
{
    (void)state;
    return chdir(NK_TEST_SRCDIR "/..");
}

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

/* Load path into the fixture and fail the test with the message if it
 * does not load. */
static void
load_ok(struct fixture *f, const char *path)
{
    char line[700];

    if (nk__conf_load(&f->s, path, &f->err) < 0) {
        nk__err_format(&f->err, line, sizeof(line));
        fail_msg("%s did not load: %s", path, line);
    }
}

/* The error line of a failed load, as main would print it after
 * "netkit: ". */
static const char *
load_fails(struct fixture *f, const char *path, char *line, size_t size)
{
    assert_int_equal(nk__conf_load(&f->s, path, &f->err), -1);
    nk__err_format(&f->err, line, (unsigned)size);
    return line;
}

static int
golden_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first line of `path` without its newline, into buf. */
static void
golden_read(const char *path, char *buf, size_t size)
{
    FILE *fp = fopen(path, "r");

    if (fp == NULL)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    if (fgets(buf, (int)size, fp) == NULL)
        buf[0] = '\0';
    fclose(fp);
    buf[strcspn(buf, "\r\n")] = '\0';
}

/*
 * One golden: load (then finish, for errors only the merge can see) must
 * fail with status 2 and exactly the expected line.
 */
static void
golden_check(const char *name, int *failures)
{
    char ini[300], errf[300], want[700], got[700];
    struct nk__settings s;
    struct nk_err err = {{0}, NULL, 0, 0};
    int rc;

    snprintf(ini, sizeof(ini), "%s/%s.ini", BAD_DIR, name);
    snprintf(errf, sizeof(errf), "%s/%s.err", BAD_DIR, name);
    golden_read(errf, want, sizeof(want));
    nk__settings_init(&s);
    rc = nk__conf_load(&s, ini, &err);
    if (rc == 0)
        rc = nk__settings_finish(&s, &err);
    nk__err_format(&err, got, sizeof(got));
    if (rc == 0) {
        print_error("%s: loaded without error\n", ini);
        (*failures)++;
    } else if (strcmp(got, want) != 0 || err.status != 2) {
        print_error("%s:\n  want: %s\n  got:  %s (status %d)\n", ini, want, got,
                    err.status);
        (*failures)++;
    }
    nk__settings_free(&s);
}

/* Every bad config fails with exactly its golden line, and there are at
 * least BAD_MIN of them, each with a .err file. */
static void
test_conf_bad_goldens(void **state)
{
    DIR *d = opendir(BAD_DIR);
    struct dirent *e;
    char *names[256];
    size_t n = 0;
    int failures = 0;

    (void)state;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL && n < 256) {
        size_t len = strlen(e->d_name);

        /* serve_*: found by `netkit serve` once hosts are resolved
         * (test_config.py runs every golden through the binary). */
        if (len > 4 && strcmp(e->d_name + len - 4, ".ini") == 0 &&
            strncmp(e->d_name, "serve_", 6) != 0)
            names[n++] = strndup(e->d_name, len - 4);
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), golden_cmp);
    for (size_t i = 0; i < n; i++) {
        golden_check(names[i], &failures);
        free(names[i]);
    }
    assert_int_equal(failures, 0);
    assert_true(n >= BAD_MIN);
}

/* Quoted values keep outer blanks and decode escapes; "" is empty; plugin
 * values are stored verbatim (1M stays "1M") with their lines. */
static void
test_conf_good_quoting(void **state)
{
    struct fixture *f = *state;
    const struct nk__plugin_conf *raw, *fr;
    const struct nk__kv *kv;

    load_ok(f, GOOD_DIR "/quoting.ini");
    assert_non_null(raw = nk__settings_find_plugin(&f->s, "raw"));
    assert_non_null(fr = nk__settings_find_plugin(&f->s, "framed"));
    assert_non_null(kv = nk__kvlist_find(&raw->opts, "prefix"));
    assert_string_equal(kv->val, "");
    assert_int_equal(kv->len, 0);
    assert_int_equal(kv->line, 4);
    assert_string_equal(nk__kvlist_find(&raw->opts, "exit_word")->val,
                        "  bye  ");
    assert_string_equal(nk__kvlist_find(&fr->opts, "prefix")->val, "a\tbA");
    assert_string_equal(nk__kvlist_find(&fr->opts, "max_frame")->val, "1M");
    assert_string_equal(nk__kvlist_find(&fr->opts, "length_bytes")->val, "2");
    assert_non_null(kv = nk__kvlist_find(&fr->opts, "note"));
    assert_int_equal(kv->len, 14);
    assert_memory_equal(kv->val, "x\0y ; \"q\" \\ \n\r", 15);
    assert_string_equal(nk__kvlist_find(&fr->opts, "path")->val,
                        "C:\\dir\\\"file\"");
    assert_int_equal(fr->line, 7);
    assert_ptr_equal(kv->file, f->s.config_file);
}

/* [netkit] keys, a repeated host, several listeners and every listener
 * field; a listener that sets only its port keeps the other defaults. */
static void
test_conf_good_listeners(void **state)
{
    struct fixture *f = *state;
    const struct nk__listen_conf *l;

    load_ok(f, GOOD_DIR "/hosts.ini");
    assert_string_equal(f->s.plugin_path,
                        "/opt/netkit/plugins:/usr/lib/netkit");
    assert_int_equal(f->s.plugin_path_line, 2);
    assert_ptr_equal(f->s.plugin_path_file, f->s.config_file);
    assert_int_equal(f->s.log_level, NK_LOG_DEBUG);
    assert_int_equal(f->s.workers, 4);
    assert_int_equal(f->s.nlisteners, 3);
    l = &f->s.listeners[0];
    assert_string_equal(l->name, "main");
    assert_int_equal(l->line, 6);
    assert_string_equal(l->proto, "framed");
    assert_int_equal(l->hosts.n, 3);
    assert_string_equal(l->hosts.items[0], "127.0.0.1");
    assert_string_equal(l->hosts.items[1], "::1");
    assert_string_equal(l->hosts.items[2], "[fe80::1%eth0]");
    assert_int_equal(l->port, 0);
    assert_int_equal(l->transport, NK_TRANSPORT_TCP);
    assert_int_equal(l->family, AF_INET6);
    assert_int_equal(l->max_conns, 1000000);
    assert_true(l->idle_timeout == 0.5);
    assert_int_equal(l->sockopts.n, 2);
    assert_string_equal(l->sockopts.items[0].key, "SO_REUSEADDR");
    assert_string_equal(l->sockopts.items[0].val, "yes");
    assert_int_equal(l->sockopts.items[0].line, 16);
    assert_string_equal(l->sockopts.items[1].val, "1,5");
    l = &f->s.listeners[1];
    assert_string_equal(l->name, "dns");
    assert_int_equal(l->port, 5353);
    assert_int_equal(l->transport, NK_TRANSPORT_UDP);
    assert_int_equal(l->family, AF_UNSPEC);
    assert_int_equal(l->hosts.n, 0);
    assert_int_equal(l->udp_rate, 0);
    assert_int_equal(l->udp_allow_low_ports, 1);
    l = &f->s.listeners[2];
    assert_string_equal(l->name, "plain");
    assert_string_equal(l->proto, NK_DEFAULT_PROTO);
    assert_int_equal(l->port, NK_DEFAULT_PORT);
    assert_int_equal(l->max_conns, NK_DEFAULT_MAX_CONNS);
    assert_true(l->idle_timeout == NK_DEFAULT_IDLE_TIMEOUT);
    assert_true(l->message_timeout == NK_DEFAULT_MESSAGE_TIMEOUT);
    assert_true(l->write_timeout == NK_DEFAULT_WRITE_TIMEOUT);
    assert_int_equal(l->udp_rate, NK_DEFAULT_UDP_RATE);
    assert_int_equal(l->udp_allow_low_ports, 0);
}

/* CRLF line endings load like LF ones: no '\r' reaches a value. */
static void
test_conf_good_crlf(void **state)
{
    struct fixture *f = *state;
    char raw[64];
    FILE *fp = fopen(GOOD_DIR "/crlf.ini", "rb");

    /* Guard against an editor or checkout that normalized the file. */
    assert_non_null(fp);
    assert_non_null(fgets(raw, sizeof(raw), fp));
    fclose(fp);
    assert_non_null(strstr(raw, "\r\n"));

    load_ok(f, GOOD_DIR "/crlf.ini");
    assert_int_equal(f->s.workers, 3);
    assert_int_equal(f->s.nlisteners, 1);
    assert_string_equal(f->s.listeners[0].proto, "framed");
    assert_string_equal(f->s.listeners[0].hosts.items[0], "::1");
    assert_int_equal(f->s.listeners[0].port, 7007);
    assert_string_equal(nk__kvlist_find(&f->s.plugins[0].opts, "prefix")->val,
                        "crlf ");
}

/* ';' and '#' comment lines, inline " ;" comments, a ';' inside a word,
 * \x3b, and '#' after a value (kept: inih has no inline '#'). */
static void
test_conf_good_comments(void **state)
{
    struct fixture *f = *state;
    const struct nk__kvlist *o;

    load_ok(f, GOOD_DIR "/comments.ini");
    assert_int_equal(f->s.workers, 2);
    assert_int_equal(f->s.log_level, NK_LOG_WARN);
    o = &f->s.plugins[0].opts;
    assert_string_equal(nk__kvlist_find(o, "prefix")->val, "a;b");
    assert_string_equal(nk__kvlist_find(o, "exit_word")->val, "stop ; now");
    assert_string_equal(nk__kvlist_find(o, "extra")->val, "1 # 2");
    assert_int_equal(nk__kvlist_find(o, "extra")->line, 14);
}

/* A UTF-8 byte order mark before the first section is skipped. */
static void
test_conf_good_bom(void **state)
{
    struct fixture *f = *state;

    load_ok(f, GOOD_DIR "/bom.ini");
    assert_int_equal(f->s.workers, 5);
}

/* A 197-byte line and a 48-byte section name are the largest accepted. */
static void
test_conf_good_limits(void **state)
{
    struct fixture *f = *state;
    const struct nk__kv *kv;

    load_ok(f, GOOD_DIR "/longest.ini");
    assert_int_equal(f->s.nlisteners, 1);
    assert_int_equal(strlen(f->s.listeners[0].name), 48 - 7);
    assert_non_null(kv = nk__kvlist_find(&f->s.plugins[0].opts, "prefix"));
    assert_int_equal(kv->len, 197 - strlen("prefix = \"\""));
}

/* The shipped example: framed on localhost:9999 over TCP, the plugin
 * defaults written out. */
/* user/group resolved at load; allow/deny kept in file order with their
 * lines; the PROXY keys parsed. */
static void
test_conf_good_ops(void **state)
{
    struct fixture *f = *state;
    const struct nk__listen_conf *l;

    load_ok(f, GOOD_DIR "/ops.ini");
    assert_string_equal(f->s.user, "nobody");
    assert_string_equal(f->s.group, "nogroup");
    assert_int_equal(f->s.uid, 65534);
    assert_int_equal(f->s.gid, 65534);
    assert_int_equal(f->s.user_line, 3);
    l = &f->s.listeners[0];
    assert_int_equal(l->acl.n, 6);
    assert_false(l->acl.items[0].allow);
    assert_int_equal(l->acl.items[0].line, 8);
    assert_true(l->acl.items[1].allow);
    assert_int_equal(l->acl.items[2].line, 9);
    assert_int_equal(l->acl.items[4].cidr.family, AF_INET); /* mapped */
    assert_int_equal(l->acl.items[4].cidr.prefix, 8);
    assert_int_equal(l->acl.items[5].cidr.family, AF_UNSPEC); /* all */
    assert_string_equal(l->acl.items[5].file, GOOD_DIR "/ops.ini");
    assert_int_equal(l->proxy_protocol, 2);
    assert_int_equal(l->proxy_line, 12);
    assert_int_equal(l->proxy_trusted.n, 3);
    assert_int_equal(l->proxy_trusted_line, 13);
}

static void
test_conf_shipped_netkit_ini(void **state)
{
    struct fixture *f = *state;
    const struct nk__listen_conf *l;
    const struct nk__plugin_conf *p;

    load_ok(f, "conf/netkit.ini");
    assert_int_equal(f->s.log_level, NK_LOG_INFO);
    assert_int_equal(f->s.workers, 1);
    assert_null(f->s.plugin_path);
    assert_int_equal(f->s.nlisteners, 1);
    l = &f->s.listeners[0];
    assert_string_equal(l->name, "main");
    assert_string_equal(l->proto, "framed");
    assert_int_equal(l->hosts.n, 0); /* localhost: 127.0.0.1 and ::1 */
    assert_int_equal(l->port, 9999);
    assert_int_equal(l->transport, NK_TRANSPORT_TCP);
    assert_int_equal(l->family, AF_UNSPEC);
    assert_string_equal(nk__kvlist_find(&l->sockopts, "SO_REUSEADDR")->val,
                        "1");
    assert_string_equal(nk__kvlist_find(&l->sockopts, "TCP_NODELAY")->val, "1");
    assert_non_null(p = nk__settings_find_plugin(&f->s, "framed"));
    assert_string_equal(nk__kvlist_find(&p->opts, "prefix")->val, "echo : ");
    assert_string_equal(nk__kvlist_find(&p->opts, "max_frame")->val, "1M");
    assert_string_equal(nk__kvlist_find(&p->opts, "length_bytes")->val, "4");
    assert_string_equal(nk__kvlist_find(&p->opts, "byte_order")->val, "little");
    assert_non_null(p = nk__settings_find_plugin(&f->s, "raw"));
    assert_string_equal(nk__kvlist_find(&p->opts, "prefix")->val,
                        ">Server echo : ");
    assert_string_equal(nk__kvlist_find(&p->opts, "exit_word")->val, "exit");
    assert_int_equal(nk__settings_finish(&f->s, &f->err), 0);
}

/* The multi-listener example: framed/tcp and raw/udp on 9999, raw/tcp on
 * 7007, and it passes the socket option checks. */
static void
test_conf_shipped_multi_ini(void **state)
{
    struct fixture *f = *state;
    const struct nk__listen_conf *l;

    load_ok(f, "conf/examples/multi.ini");
    assert_int_equal(f->s.nlisteners, 3);
    l = f->s.listeners;
    assert_string_equal(l[0].proto, "framed");
    assert_int_equal(l[0].port, 9999);
    assert_int_equal(l[0].transport, NK_TRANSPORT_TCP);
    assert_string_equal(l[1].proto, "raw");
    assert_int_equal(l[1].port, 9999);
    assert_int_equal(l[1].transport, NK_TRANSPORT_UDP);
    assert_string_equal(l[2].proto, "raw");
    assert_int_equal(l[2].port, 7007);
    assert_int_equal(l[2].transport, NK_TRANSPORT_TCP);
    assert_int_equal(nk__settings_finish(&f->s, &f->err), 0);
    assert_int_equal(f->s.nlisteners, 3);
}

/* [netkit] values are checked but do not override the command line. */
static void
test_conf_cli_wins_over_netkit(void **state)
{
    struct fixture *f = *state;
    char line[700];

    f->s.cli_set = NK_SET_LOG_LEVEL | NK_SET_WORKERS;
    f->s.log_level = NK_LOG_ERROR;
    f->s.workers = 8;
    load_ok(f, GOOD_DIR "/hosts.ini");
    assert_int_equal(f->s.log_level, NK_LOG_ERROR);
    assert_int_equal(f->s.workers, 8);

    nk__settings_free(&f->s);
    nk__settings_init(&f->s);
    f->s.cli_set = NK_SET_WORKERS;
    assert_string_equal(
        load_fails(f, BAD_DIR "/workers_zero.ini", line, sizeof(line)),
        BAD_DIR "/workers_zero.ini:2: [netkit] workers: out "
                "of range 1..64");
}

/* A missing file is a config error (status 2) naming the path and why. */
static void
test_conf_cannot_open(void **state)
{
    struct fixture *f = *state;
    char line[700];

    load_fails(f, "conf/x.ini", line, sizeof(line));
    assert_string_equal(line,
                        "cannot open conf/x.ini: No such file or directory");
    assert_int_equal(f->err.status, 2);
    assert_null(f->err.file);
}

/* A directory opens but cannot be read: that is an error too. */
static void
test_conf_cannot_read(void **state)
{
    struct fixture *f = *state;
    char line[700];

    load_fails(f, "tests/conf", line, sizeof(line));
    assert_string_equal(line, "cannot read tests/conf: Is a directory");
    assert_int_equal(f->err.status, 2);
}

/* $NETKIT_CONFIG wins when set; set but empty, no file is read; unset,
 * the installed file if it is readable, else no file. */
static void
test_conf_default_path(void **state)
{
    const char *p;

    (void)state;
    setenv("NETKIT_CONFIG", "conf/netkit.ini", 1);
    assert_string_equal(nk__conf_default_path(), "conf/netkit.ini");
    setenv("NETKIT_CONFIG", "", 1);
    assert_null(nk__conf_default_path());
    unsetenv("NETKIT_CONFIG");
    p = nk__conf_default_path();
    if (access(NK_CONFIG_INSTALL_FILE, R_OK) == 0 && !nk__exe_in_build_tree())
        assert_string_equal(p, NK_CONFIG_INSTALL_FILE);
}

/* Every allocation failure while loading is a clean "out of memory"
 * (status 1) with nothing leaked (run under ASan to see leaks). */
static void
test_conf_oom(void **state)
{
    long budget;
    int rc = -1;

    (void)state;
    for (budget = 0; rc != 0 && budget < 10000; budget++) {
        struct nk__settings s;
        struct nk_err err = {{0}, NULL, 0, 0};

        nk__alloc_fail_after(budget);
        nk__settings_init(&s);
        rc = nk__conf_load(&s, "conf/examples/multi.ini", &err);
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
        T(test_conf_bad_goldens),       T(test_conf_good_quoting),
        T(test_conf_good_listeners),    T(test_conf_good_crlf),
        T(test_conf_good_comments),     T(test_conf_good_bom),
        T(test_conf_good_limits),       T(test_conf_shipped_netkit_ini),
        T(test_conf_shipped_multi_ini), T(test_conf_cli_wins_over_netkit),
        T(test_conf_cannot_open),       T(test_conf_cannot_read),
        T(test_conf_default_path),      T(test_conf_oom),
        T(test_conf_good_ops), /* user/group, allow/deny, PROXY keys */
    };
#undef T

    return cmocka_run_group_tests(tests, group_setup, NULL);
}
