/*
 * test_loader.c -- finding, loading and checking plugins
 * (core/plugin/loader.c).
 *
 * Every refusal is driven by a fixture in tests/fixtures/ that breaks exactly
 * one rule, and every message is compared whole: these lines are what a user
 * sees after "netkit: ", so their wording is part of the contract.  The real
 * plugins are loaded from the build tree too, so a change to plugin.h that
 * the shipped plugins do not follow fails here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netkit/plugin.h>

#include "base/alloc.h"
#include "base/err.h"
#include "plugin/loader.h"
#include "config/settings.h"

#ifndef NK_FIXTURE_DIR
#define NK_FIXTURE_DIR NK_TEST_BINDIR "/fixtures/plugins"
#endif

#define FIX   NK_FIXTURE_DIR
#define BUILT NK_TEST_BINDIR "/../plugins"

/* A list of directories from string literals. */
#define DIRS(...)                                                              \
    (struct nk__strlist)                                                       \
    {                                                                          \
        (char *[]){__VA_ARGS__},                                               \
            sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *)             \
    }

/* ---- helpers ------------------------------------------------------------ */

/* Load FIX/NAME.so and expect the loader to refuse it with exactly `want`. */
static void
expect_refused(const char *name, const char *want)
{
    struct nk__plugin *p = NULL;
    struct nk_err err = {.msg = ""};
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s.so", FIX, name);
    assert_int_equal(nk__plugin_open_path(path, name, &p, &err), -1);
    assert_null(p);
    assert_string_equal(err.msg, want);
    assert_null(err.file);
    assert_int_equal(err.status, 2);
}

/* Load a fixture that must load. */
static struct nk__plugin *
load_fixture(const char *name)
{
    struct nk__plugin *p = NULL;
    struct nk_err err = {.msg = ""};
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s.so", FIX, name);
    if (nk__plugin_open_path(path, name, &p, &err) != 0)
        fail_msg("loading %s: %s", path, err.msg);
    assert_non_null(p);
    return p;
}

/* The values of good.so for a config section and -O list, or a failure. */
static int
good_values(const struct nk__plugin *p, const struct nk__kvlist *conf,
            const struct nk__kvlist *cli, struct nk_value **out,
            struct nk_err *err)
{
    *out = NULL;
    return nk__plugin_values(p, conf, cli, out, err);
}

/* The whole error line main would print, after "netkit: ". */
static const char *
err_line(const struct nk_err *err)
{
    static char line[sizeof(err->msg) + PATH_MAX];

    nk__err_format(err, line, sizeof(line));
    return line;
}

/* Expect the config value `key = val` at good.ini:7 to fail with `want`. */
static void
expect_bad_value(const struct nk__plugin *p, const char *key, const char *val,
                 const char *want)
{
    struct nk__kvlist conf = {0};
    struct nk_value *v;
    struct nk_err err = {.msg = ""};

    assert_int_equal(
        nk__kvlist_add(&conf, key, val, strlen(val), "good.ini", 7), 0);
    assert_int_equal(good_values(p, &conf, NULL, &v, &err), -1);
    assert_null(v);
    assert_string_equal(err_line(&err), want);
    assert_string_equal(err.file, "good.ini");
    assert_int_equal(err.line, 7);
    nk__kvlist_free(&conf);
}

/* Everything open_memstream collected from one print call. */
struct capture {
    char *text;
    size_t len;
    FILE *out;
};

static void
capture_start(struct capture *c)
{
    c->text = NULL;
    c->len = 0;
    c->out = open_memstream(&c->text, &c->len);
    assert_non_null(c->out);
}

static const char *
capture_end(struct capture *c)
{
    assert_int_equal(fclose(c->out), 0);
    return c->text;
}

/* Occurrences of needle in haystack. */
static int
count_of(const char *haystack, const char *needle)
{
    int n = 0;

    for (const char *s = haystack; (s = strstr(s, needle)) != NULL; s++)
        n++;
    return n;
}

/* The search path must not depend on whoever runs the tests. */
static int
group_setup(void **state)
{
    (void)state;
    unsetenv("NETKIT_PLUGIN_PATH");
    return 0;
}

/* good.so, loaded for the option tests. */
static int
setup_good(void **state)
{
    *state = load_fixture("good");
    return 0;
}

static int
teardown_good(void **state)
{
    nk__plugin_close(*state);
    return 0;
}

/* ---- loading ------------------------------------------------------------ */

/* A valid plugin loads, and its description is the one it exported. */
static void
test_loader_good_loads(void **state)
{
    struct nk__plugin *p = load_fixture("good");

    (void)state;
    assert_string_equal(p->name, "good");
    assert_string_equal(p->path, FIX "/good.so");
    assert_non_null(p->handle);
    assert_string_equal(p->desc->name, "good");
    assert_string_equal(p->desc->version, "1.2.3");
    assert_string_equal(p->desc->summary,
                        "loader fixture: greeting + each chunk");
    assert_int_equal(p->nopts, 5);
    assert_int_equal(nk__plugin_option_index(p, "greeting"), 0);
    assert_int_equal(nk__plugin_option_index(p, "order"), 4);
    assert_int_equal(nk__plugin_option_index(p, "nope"), -1);
    nk__plugin_close(p);
}

/* The shipped plugins, searched for in the build tree, pass every check. */
static void
test_loader_build_tree_plugins_load(void **state)
{
    struct nk__strlist dirs = DIRS(BUILT);
    struct nk__plugin *p = NULL;
    struct nk_err err = {.msg = ""};

    (void)state;
    if (nk__plugin_open("raw", &dirs, &p, &err) != 0)
        fail_msg("%s", err.msg);
    assert_string_equal(p->path, BUILT "/raw.so");
    assert_string_equal(p->desc->version, "1.0.0");
    assert_int_equal(p->nopts, 2);
    assert_int_equal(p->desc->transports, NK_TRANSPORT_TCP | NK_TRANSPORT_UDP);
    nk__plugin_close(p);

    p = NULL;
    if (nk__plugin_open("framed", &dirs, &p, &err) != 0)
        fail_msg("%s", err.msg);
    assert_string_equal(p->path, BUILT "/framed.so");
    assert_int_equal(p->nopts, 4);
    assert_int_equal(nk__plugin_option_index(p, "max_frame"), 1);
    nk__plugin_close(p);
}

/* The first directory that holds NAME.so wins; later ones are not read. */
static void
test_loader_first_dir_wins(void **state)
{
    struct nk__strlist dirs = DIRS("/nonexistent/netkit", FIX, BUILT);
    struct nk__plugin *p = NULL;
    struct nk_err err = {.msg = ""};

    (void)state;
    assert_int_equal(nk__plugin_open("good", &dirs, &p, &err), 0);
    assert_string_equal(p->path, FIX "/good.so");
    nk__plugin_close(p);
}

/* A name found nowhere lists every directory searched, in order; one
 * within two edits of a plugin there says "did you mean". */
static void
test_loader_missing_lists_dirs(void **state)
{
    struct nk__strlist dirs = DIRS("/nonexistent/a", FIX);
    struct nk__plugin *p = NULL;
    struct nk_err err = {.msg = ""};

    (void)state;
    assert_int_equal(nk__plugin_open("zzzzzzzzzz", &dirs, &p, &err), -1);
    assert_null(p);
    assert_string_equal(err.msg, "plugin 'zzzzzzzzzz' not found (looked in: "
                                 "/nonexistent/a, " FIX ")");
    assert_int_equal(err.status, 2);
    assert_int_equal(nk__plugin_open("nope", &dirs, &p, &err), -1);
    assert_string_equal(err.msg, "plugin 'nope' not found (did you mean "
                                 "nocb? looked in: /nonexistent/a, " FIX ")");
}

/* A name that is a path is refused before any directory is searched. */
static void
test_loader_bad_name(void **state)
{
    struct nk__strlist dirs = DIRS(FIX);
    struct nk__plugin *p = NULL;
    struct nk_err err = {.msg = ""};

    (void)state;
    assert_int_equal(
        nk__plugin_open("../fixtures/plugins/good", &dirs, &p, &err), -1);
    assert_string_equal(err.msg, "bad plugin name '../fixtures/plugins/good'");
    assert_int_equal(nk__plugin_open("", &dirs, &p, &err), -1);
    assert_string_equal(err.msg, "bad plugin name ''");
    assert_null(p);
}

/* A shared object without the entry symbol is not a plugin. */
static void
test_loader_no_entry_symbol(void **state)
{
    (void)state;
    expect_refused("noentry", "plugin " FIX "/noentry.so: not a netkit "
                              "plugin (no nk_plugin_entry symbol)");
}

/* An entry symbol that returns no description is refused, not followed. */
static void
test_loader_null_entry(void **state)
{
    (void)state;
    expect_refused("nullentry", "plugin " FIX "/nullentry.so: entry symbol "
                                "returned NULL");
}

/* Another ABI major is refused, newer as much as older would be. */
static void
test_loader_abi_major_mismatch(void **state)
{
    char want[512];

    (void)state;
    snprintf(want, sizeof(want),
             "plugin %s/badabi.so: built for plugin ABI %d, this netkit "
             "speaks %d",
             FIX, NK_ABI_MAJOR + 1, NK_ABI_MAJOR);
    expect_refused("badabi", want);
}

/* A plugin built for a newer minor needs members this host lacks. */
static void
test_loader_newer_minor(void **state)
{
    char want[512];

    (void)state;
    snprintf(want, sizeof(want),
             "plugin %s/newminor.so: needs plugin ABI %d.%d, this netkit has "
             "%d.%d",
             FIX, NK_ABI_MAJOR, NK_ABI_MINOR + 1, NK_ABI_MAJOR, NK_ABI_MINOR);
    expect_refused("newminor", want);
}

/* The name field must equal the file's basename. */
static void
test_loader_name_mismatch(void **state)
{
    (void)state;
    expect_refused("wrongname", "plugin " FIX "/wrongname.so: calls itself "
                                "'other', not 'wrongname'");
}

/* A description without a required callback is refused. */
static void
test_loader_missing_callback(void **state)
{
    (void)state;
    expect_refused("nocb", "plugin " FIX "/nocb.so: missing required "
                           "callback 'decode'");
}

/* A description smaller than the v1 struct is refused before it is read. */
static void
test_loader_struct_too_small(void **state)
{
    char want[512];

    (void)state;
    snprintf(want, sizeof(want),
             "plugin %s/small.so: description too small (%zu bytes)", FIX,
             offsetof(struct nk_plugin, on_close));
    expect_refused("small", want);
}

/* A file that is not an ELF object gets dlopen's own reason. */
static void
test_loader_not_elf(void **state)
{
    (void)state;
    /* dlerror's own copy of the path is not repeated. */
    expect_refused("notelf",
                   "cannot load plugin " FIX "/notelf.so: invalid ELF header");
}

/* A transport the plugin does not declare is refused by name. */
static void
test_loader_transport_check(void **state)
{
    struct nk__plugin *p = load_fixture("udponly");
    struct nk_err err = {.msg = ""};

    (void)state;
    assert_int_equal(nk__plugin_check_transport(p, NK_TRANSPORT_UDP, &err), 0);
    assert_int_equal(nk__plugin_check_transport(p, NK_TRANSPORT_TCP, &err), -1);
    assert_string_equal(err.msg, "plugin 'udponly' does not support tcp");
    assert_int_equal(err.status, 2);
    nk__plugin_close(p);
}

/* Each failed allocation while loading fails cleanly; ASan checks leaks. */
static void
test_loader_open_out_of_memory(void **state)
{
    struct nk__plugin *p;
    struct nk_err err;
    long n;
    int rc;

    (void)state;
    for (n = 0;; n++) {
        p = NULL;
        memset(&err, 0, sizeof(err));
        nk__alloc_fail_after(n);
        rc = nk__plugin_open_path(FIX "/good.so", "good", &p, &err);
        nk__alloc_fail_after(-1);
        if (rc == 0)
            break;
        assert_int_equal(rc, -1);
        assert_null(p);
        assert_string_equal(err.msg, "out of memory loading plugin good");
        assert_true(n < 100);
    }
    assert_true(n > 0);
    assert_string_equal(p->name, "good");
    nk__plugin_close(p);
}

/* ---- safe loading ------------------------------------------------------- */

/* A private directory under /tmp (0700, in a root-owned sticky /tmp) with a
 * copy of good.so in it. */
struct safe_dir {
    char dir[64];
    char so[96];
};

static void
copy_file(const char *from, const char *to, mode_t mode)
{
    char buf[65536];
    ssize_t n;
    int in = open(from, O_RDONLY), out;

    assert_true(in >= 0);
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(out >= 0);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    assert_int_equal(n, 0);
    close(in);
    assert_int_equal(close(out), 0);
    assert_int_equal(chmod(to, mode), 0);
}

static void
safe_dir_make(struct safe_dir *d)
{
    snprintf(d->dir, sizeof(d->dir), "/tmp/nk-loader-XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    snprintf(d->so, sizeof(d->so), "%s/good.so", d->dir);
    copy_file(FIX "/good.so", d->so, 0644);
}

static void
safe_dir_remove(struct safe_dir *d)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
    assert_int_equal(system(cmd), 0);
}

/* Load `path` as good and expect exactly `want`. */
static void
expect_unsafe(const char *path, const char *want)
{
    struct nk__plugin *p = NULL;
    struct nk_err err = {.msg = ""};

    assert_int_equal(nk__plugin_open_path(path, "good", &p, &err), -1);
    assert_null(p);
    assert_string_equal(err.msg, want);
    assert_int_equal(err.status, 2);
}

/* A copy in a private directory under /tmp loads: /tmp itself is
 * world-writable, but sticky and root's. */
static void
test_loader_safe_copy_loads(void **state)
{
    struct safe_dir d;
    struct nk__plugin *p = NULL;
    struct nk_err err = {.msg = ""};

    (void)state;
    safe_dir_make(&d);
    if (nk__plugin_open_path(d.so, "good", &p, &err) != 0)
        fail_msg("%s", err.msg);
    assert_string_equal(p->path, d.so);
    nk__plugin_close(p);
    safe_dir_remove(&d);
}

/* A file opened again while loaded is shared (one record, one object:
 * dlopen must never know it by two descriptor numbers); a file replaced
 * on disk (a new inode) loads anew beside the old one; the last close
 * unloads. */
static void
test_loader_shares_by_inode(void **state)
{
    struct safe_dir d;
    struct nk__plugin *p = NULL, *q = NULL, *r = NULL;
    struct nk_err err = {.msg = ""};
    char tmp[128];

    (void)state;
    safe_dir_make(&d);
    if (nk__plugin_open_path(d.so, "good", &p, &err) != 0 ||
        nk__plugin_open_path(d.so, "good", &q, &err) != 0)
        fail_msg("%s", err.msg);
    assert_ptr_equal(p, q);
    assert_int_equal(p->refs, 2);
    nk__plugin_close(q);
    assert_int_equal(p->refs, 1);
    /* Replaced as install(1) does: a new file renamed over the old. */
    snprintf(tmp, sizeof(tmp), "%s/.new", d.dir);
    copy_file(FIX "/good.so", tmp, 0644);
    assert_int_equal(rename(tmp, d.so), 0);
    if (nk__plugin_open_path(d.so, "good", &r, &err) != 0)
        fail_msg("%s", err.msg);
    assert_ptr_not_equal(r, p);
    assert_ptr_not_equal(r->handle, p->handle);
    assert_int_equal(r->refs, 1);
    nk__plugin_close(p);
    nk__plugin_close(r);
    /* The same file under another name: refused, as its dlopen would be. */
    if (nk__plugin_open_path(d.so, "good", &p, &err) != 0)
        fail_msg("%s", err.msg);
    snprintf(tmp, sizeof(tmp), "%s/other.so", d.dir);
    assert_int_equal(link(d.so, tmp), 0);
    assert_int_equal(nk__plugin_open_path(tmp, "other", &q, &err), -1);
    assert_non_null(strstr(err.msg, "calls itself 'good', not 'other'"));
    nk__plugin_close(p);
    safe_dir_remove(&d);
}

/* A file others may write is refused, naming it and the fix. */
static void
test_loader_unsafe_file_mode(void **state)
{
    static const mode_t modes[] = {0666, 0757, 0775, 0777, 0664};
    struct safe_dir d;
    char want[512];

    (void)state;
    safe_dir_make(&d);
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        assert_int_equal(chmod(d.so, modes[i]), 0);
        snprintf(want, sizeof(want),
                 "plugin %s refused: %s is %s-writable (mode %04o); run "
                 "chmod go-w %s",
                 d.so, d.so, (modes[i] & 2) ? "world" : "group",
                 (unsigned)modes[i], d.so);
        expect_unsafe(d.so, want);
    }
    safe_dir_remove(&d);
}

/* A directory others may write is refused, sticky or not, when it holds
 * the plugin. */
static void
test_loader_unsafe_dir_mode(void **state)
{
    static const mode_t modes[] = {0777, 01777, 0775};
    struct safe_dir d;
    char want[512];

    (void)state;
    safe_dir_make(&d);
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        assert_int_equal(chmod(d.dir, modes[i]), 0);
        snprintf(want, sizeof(want),
                 "plugin %s refused: %s is %s-writable (mode %04o); run "
                 "chmod go-w %s",
                 d.so, d.dir, (modes[i] & 2) ? "world" : "group",
                 (unsigned)modes[i], d.dir);
        expect_unsafe(d.so, want);
    }
    /* ...and so is a writable directory higher up, unless sticky and
     * root's (as /tmp is). */
    assert_int_equal(chmod(d.dir, 0755), 0);
    {
        char sub[128], so[160];

        snprintf(sub, sizeof(sub), "%s/sub", d.dir);
        assert_int_equal(mkdir(sub, 0755), 0);
        snprintf(so, sizeof(so), "%s/good.so", sub);
        copy_file(FIX "/good.so", so, 0644);
        assert_int_equal(chmod(d.dir, 0777), 0);
        snprintf(want, sizeof(want),
                 "plugin %s refused: %s is world-writable (mode 0777); run "
                 "chmod go-w %s",
                 so, d.dir, d.dir);
        expect_unsafe(so, want);
        if (geteuid() == 0) {
            struct nk__plugin *p = NULL;
            struct nk_err err = {.msg = ""};

            assert_int_equal(chmod(d.dir, 01777), 0);
            if (nk__plugin_open_path(so, "good", &p, &err) != 0)
                fail_msg("%s", err.msg);
            nk__plugin_close(p);
        }
        assert_int_equal(chmod(d.dir, 0700), 0);
    }
    safe_dir_remove(&d);
}

/* A file or directory owned by another user is refused (root only: only
 * root can give a file away). */
static void
test_loader_unsafe_owner(void **state)
{
    struct safe_dir d;
    char want[512];

    (void)state;
    if (geteuid() != 0)
        skip();
    safe_dir_make(&d);
    assert_int_equal(chown(d.so, 65534, 65534), 0);
    snprintf(want, sizeof(want),
             "plugin %s refused: %s is owned by nobody (uid 65534), not by "
             "root; run chown root %s",
             d.so, d.so, d.so);
    expect_unsafe(d.so, want);
    assert_int_equal(chown(d.so, 0, 0), 0);
    assert_int_equal(chown(d.dir, 65534, 65534), 0);
    snprintf(want, sizeof(want),
             "plugin %s refused: %s is owned by nobody (uid 65534), not by "
             "root; run chown root %s",
             d.so, d.dir, d.dir);
    expect_unsafe(d.so, want);
    safe_dir_remove(&d);
}

/* A symbolic link is followed: its target is checked, and so is the
 * directory the link is in. */
static void
test_loader_unsafe_symlink(void **state)
{
    struct safe_dir d, t;
    char link[128], want[512];
    struct nk__plugin *p = NULL;
    struct nk_err err = {.msg = ""};

    (void)state;
    safe_dir_make(&d);
    safe_dir_make(&t);
    snprintf(link, sizeof(link), "%s/link.so", d.dir);
    assert_int_equal(symlink(t.so, link), 0);
    /* A safe target loads through the link. */
    if (nk__plugin_open_path(link, "good", &p, &err) != 0)
        fail_msg("%s", err.msg);
    nk__plugin_close(p);
    /* A writable target is refused by its own name. */
    assert_int_equal(chmod(t.so, 0666), 0);
    snprintf(want, sizeof(want),
             "plugin %s refused: %s is world-writable (mode 0666); run "
             "chmod go-w %s",
             link, t.so, t.so);
    expect_unsafe(link, want);
    /* A safe target linked from a writable directory is refused too. */
    assert_int_equal(chmod(t.so, 0644), 0);
    assert_int_equal(chmod(d.dir, 0777), 0);
    snprintf(want, sizeof(want),
             "plugin %s refused: %s is world-writable (mode 0777); run "
             "chmod go-w %s",
             link, d.dir, d.dir);
    expect_unsafe(link, want);
    safe_dir_remove(&d);
    safe_dir_remove(&t);
}

/* Something that is not a regular file is refused without being read (a
 * FIFO would block an open without O_NONBLOCK). */
static void
test_loader_not_regular(void **state)
{
    struct safe_dir d;
    char fifo[128], want[512];

    (void)state;
    safe_dir_make(&d);
    snprintf(fifo, sizeof(fifo), "%s/fifo.so", d.dir);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    snprintf(want, sizeof(want), "plugin %s refused: not a regular file", fifo);
    expect_unsafe(fifo, want);
    safe_dir_remove(&d);
}

/* ---- encode ------------------------------------------------------------- */

/* An encode that answers by payload length, one way of keeping or breaking
 * the contract per length. */
static int
odd_encode(void *inst, size_t payload_len, struct nk_wrap *w)
{
    (void)inst;
    switch (payload_len) {
    case 0: /* leaves w as the host handed it */
        return 0;
    case 1: /* the old contract: a header length */
        return 4;
    case 2: /* the most the contract allows, both sides */
        w->head_len = NK_HDR_MAX;
        w->tail_len = NK_HDR_MAX;
        return 0;
    case 3:
        w->head_len = NK_HDR_MAX + 1;
        return 0;
    case 4:
        w->tail_len = NK_HDR_MAX + 1;
        return 0;
    default:
        return NK_EMSGSIZE;
    }
}

/* A wrap as a caller might leave it: every byte, lengths included, set. */
static void
garbage_wrap(struct nk_wrap *w)
{
    memset(w, 0xa5, sizeof(*w));
}

/* nk__plugin_encode zeroes the lengths before encode, passes its refusal
 * on, and turns every breach of the contract into NK_EINVAL, so that no
 * send path reads past w's arrays. */
static void
test_loader_encode_checks(void **state)
{
    struct nk_plugin d = {.encode = odd_encode};
    struct nk__plugin *wrap;
    struct nk_wrap w;

    (void)state;
    garbage_wrap(&w);
    assert_int_equal(nk__plugin_encode(&d, NULL, 0, &w), 0);
    assert_int_equal(w.head_len, 0);
    assert_int_equal(w.tail_len, 0);
    garbage_wrap(&w);
    assert_int_equal(nk__plugin_encode(&d, NULL, 1, &w), NK_EINVAL);
    garbage_wrap(&w);
    assert_int_equal(nk__plugin_encode(&d, NULL, 2, &w), 0);
    assert_int_equal(w.head_len, NK_HDR_MAX);
    assert_int_equal(w.tail_len, NK_HDR_MAX);
    garbage_wrap(&w);
    assert_int_equal(nk__plugin_encode(&d, NULL, 3, &w), NK_EINVAL);
    garbage_wrap(&w);
    assert_int_equal(nk__plugin_encode(&d, NULL, 4, &w), NK_EINVAL);
    garbage_wrap(&w);
    assert_int_equal(nk__plugin_encode(&d, NULL, 5, &w), NK_EMSGSIZE);

    /* A loaded plugin's head and tail come back as it wrote them. */
    wrap = load_fixture("wrap");
    garbage_wrap(&w);
    assert_int_equal(nk__plugin_encode(wrap->desc, NULL, 5, &w), 0);
    assert_int_equal(w.head_len, 1);
    assert_memory_equal(w.head, "<", 1);
    assert_int_equal(w.tail_len, 2);
    assert_memory_equal(w.tail, ">\n", 2);
    nk__plugin_close(wrap);
}

/* ---- option values ------------------------------------------------------ */

/* With nothing set, every option has its default, parsed by type. */
static void
test_loader_values_defaults(void **state)
{
    const struct nk__plugin *p = *state;
    struct nk_value *v;
    struct nk_err err = {.msg = ""};

    assert_int_equal(good_values(p, NULL, NULL, &v, &err), 0);
    /* good.so writes this default quoted, with an escape. */
    assert_string_equal(v[0].str, "hi\tthere ");
    assert_int_equal(v[0].len, 9);
    assert_int_equal(v[1].num, 3);
    assert_string_equal(v[1].str, "3");
    assert_int_equal(v[2].num, 64 * 1024);
    assert_int_equal(v[3].num, 0);
    assert_int_equal(v[4].num, 0);
    assert_string_equal(v[4].str, "little");
    nk__plugin_values_free(p, v);
}

/* The [plugin.good] section overrides defaults; its later line wins. */
static void
test_loader_values_config_overrides(void **state)
{
    const struct nk__plugin *p = *state;
    struct nk__kvlist conf = {0};
    struct nk_value *v;
    struct nk_err err = {.msg = ""};

    assert_int_equal(nk__kvlist_add(&conf, "count", "5", 1, "good.ini", 2), 0);
    assert_int_equal(nk__kvlist_add(&conf, "order", "big", 3, "good.ini", 3),
                     0);
    assert_int_equal(nk__kvlist_add(&conf, "count", "6", 1, "good.ini", 4), 0);
    assert_int_equal(
        nk__kvlist_add(&conf, "greeting", "a\0b", 3, "good.ini", 5), 0);
    assert_int_equal(good_values(p, &conf, NULL, &v, &err), 0);
    assert_int_equal(v[1].num, 6);
    assert_int_equal(v[4].num, 1);
    assert_int_equal(v[0].len, 3);
    assert_memory_equal(v[0].str, "a\0b", 4);
    assert_int_equal(v[2].num, 64 * 1024);
    nk__plugin_values_free(p, v);
    nk__kvlist_free(&conf);
}

/* -O overrides the config file, and the later -O wins. */
static void
test_loader_values_cli_overrides_config(void **state)
{
    const struct nk__plugin *p = *state;
    struct nk__kvlist conf = {0}, cli = {0};
    struct nk_value *v;
    struct nk_err err = {.msg = ""};

    assert_int_equal(nk__kvlist_add(&conf, "count", "5", 1, "good.ini", 2), 0);
    assert_int_equal(nk__kvlist_add(&conf, "limit", "1k", 2, "good.ini", 3), 0);
    assert_int_equal(nk__kvlist_add(&cli, "count", "7", 1, NULL, 0), 0);
    assert_int_equal(nk__kvlist_add(&cli, "count", "8", 1, NULL, 0), 0);
    assert_int_equal(nk__kvlist_add(&cli, "verbose", "yes", 3, NULL, 0), 0);
    assert_int_equal(good_values(p, &conf, &cli, &v, &err), 0);
    assert_int_equal(v[1].num, 8);
    assert_int_equal(v[2].num, 1024);
    assert_int_equal(v[3].num, 1);
    nk__plugin_values_free(p, v);
    nk__kvlist_free(&conf);
    nk__kvlist_free(&cli);
}

/* An unknown key in the config is an error at its line, with a guess. */
static void
test_loader_values_unknown_config_key(void **state)
{
    const struct nk__plugin *p = *state;
    struct nk__kvlist conf = {0};
    struct nk_value *v;
    struct nk_err err = {.msg = ""};

    assert_int_equal(nk__kvlist_add(&conf, "cuont", "5", 1, "good.ini", 9), 0);
    assert_int_equal(good_values(p, &conf, NULL, &v, &err), -1);
    assert_null(v);
    assert_string_equal(err_line(&err), "good.ini:9: [plugin.good] unknown "
                                        "option 'cuont' (did you mean "
                                        "count?)");
    nk__kvlist_free(&conf);

    /* Nothing near: no guess rather than a wild one. */
    assert_int_equal(
        nk__kvlist_add(&conf, "xyzzyplugh", "1", 1, "good.ini", 11), 0);
    assert_int_equal(good_values(p, &conf, NULL, &v, &err), -1);
    assert_string_equal(err_line(&err), "good.ini:11: [plugin.good] unknown "
                                        "option 'xyzzyplugh'");
    nk__kvlist_free(&conf);
}

/* Each kind of bad value names the section, key and location. */
static void
test_loader_values_bad(void **state)
{
    const struct nk__plugin *p = *state;

    expect_bad_value(p, "count", "11",
                     "good.ini:7: [plugin.good] count: out of range 1..10");
    expect_bad_value(p, "count", "three",
                     "good.ini:7: [plugin.good] count: invalid number "
                     "'three'");
    expect_bad_value(p, "limit", "5x",
                     "good.ini:7: [plugin.good] limit: invalid size '5x' (a "
                     "number, optionally followed by k, M or G)");
    expect_bad_value(p, "limit", "2M",
                     "good.ini:7: [plugin.good] limit: out of range "
                     "1..1048576");
    expect_bad_value(p, "order", "middle",
                     "good.ini:7: [plugin.good] order: expected one of "
                     "little|big");
    expect_bad_value(p, "verbose", "maybe",
                     "good.ini:7: [plugin.good] verbose: expected a boolean "
                     "(1/0, true/false, yes/no, on/off)");
}

/* A bad -O value names the option as the user typed it. */
static void
test_loader_values_bad_cli(void **state)
{
    const struct nk__plugin *p = *state;
    struct nk__kvlist cli = {0};
    struct nk_value *v;
    struct nk_err err = {.msg = ""};

    assert_int_equal(nk__kvlist_add(&cli, "count", "0", 1, NULL, 0), 0);
    assert_int_equal(good_values(p, NULL, &cli, &v, &err), -1);
    assert_null(v);
    assert_string_equal(err_line(&err), "-O count=0: out of range 1..10");
    nk__kvlist_free(&cli);
}

/* -O keys this plugin does not know are left for another plugin. */
static void
test_loader_values_cli_unknown_skipped(void **state)
{
    const struct nk__plugin *p = *state;
    struct nk__kvlist cli = {0};
    struct nk_value *v;
    struct nk_err err = {.msg = ""};

    assert_int_equal(nk__kvlist_add(&cli, "max_frame", "2M", 2, NULL, 0), 0);
    assert_int_equal(nk__kvlist_add(&cli, "count", "2", 1, NULL, 0), 0);
    assert_int_equal(good_values(p, NULL, &cli, &v, &err), 0);
    assert_int_equal(v[1].num, 2);
    assert_int_equal(v[2].num, 64 * 1024);
    nk__plugin_values_free(p, v);
    nk__kvlist_free(&cli);
}

/* Each failed allocation while building values fails cleanly. */
static void
test_loader_values_out_of_memory(void **state)
{
    const struct nk__plugin *p = *state;
    struct nk__kvlist conf = {0}, cli = {0};
    struct nk_value *v;
    struct nk_err err;
    long n;
    int rc;

    assert_int_equal(nk__kvlist_add(&conf, "count", "5", 1, "good.ini", 2), 0);
    assert_int_equal(nk__kvlist_add(&cli, "greeting", "yo", 2, NULL, 0), 0);
    for (n = 0;; n++) {
        memset(&err, 0, sizeof(err));
        nk__alloc_fail_after(n);
        rc = good_values(p, &conf, &cli, &v, &err);
        nk__alloc_fail_after(-1);
        if (rc == 0)
            break;
        assert_int_equal(rc, -1);
        assert_null(v);
        assert_non_null(strstr(err.msg, "out of memory"));
        assert_true(n < 100);
    }
    assert_int_equal(v[1].num, 5);
    assert_string_equal(v[0].str, "yo");
    nk__plugin_values_free(p, v);
    nk__kvlist_free(&conf);
    nk__kvlist_free(&cli);
}

/* ---- search path -------------------------------------------------------- */

/* The directory plugins/ beside this test binary, as the loader sees it. */
static void
binary_plugins_dir(char *buf, size_t size)
{
    char real[PATH_MAX];
    size_t n;

    assert_non_null(realpath(NK_TEST_BINDIR, real));
    n = strlen(real);
    assert_true(n + sizeof("/plugins") <= size);
    memcpy(buf, real, n);
    memcpy(buf + n, "/plugins", sizeof("/plugins"));
}

/* -L, then $NETKIT_PLUGIN_PATH, then plugin_path, install dir, binary's. */
static void
test_loader_dirs_order(void **state)
{
    static const char *const want[] = {
        "/l1", "/l2", "/e1", "/e2", "/c1", "/c2", NK_PLUGIN_INSTALL_DIR,
    };
    struct nk__settings s;
    struct nk__strlist dirs = {0};
    char exe[PATH_MAX];
    size_t i;

    (void)state;
    nk__settings_init(&s);
    assert_int_equal(nk__strlist_add(&s.plugin_dirs, "/l1"), 0);
    assert_int_equal(nk__strlist_add(&s.plugin_dirs, "/l2"), 0);
    s.plugin_path = nk__strdup("/c1:/c2");
    assert_non_null(s.plugin_path);
    /* Empty elements of a colon list are skipped, not read as ".". */
    assert_int_equal(setenv("NETKIT_PLUGIN_PATH", ":/e1::/e2:", 1), 0);

    assert_int_equal(nk__plugin_dirs(&s, &dirs), 0);
    unsetenv("NETKIT_PLUGIN_PATH");
    binary_plugins_dir(exe, sizeof(exe));
    /* Then the install dir relative to the binary, then its plugins/. */
    assert_int_equal(dirs.n, sizeof(want) / sizeof(want[0]) + 2);
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_string_equal(dirs.items[i], want[i]);
    assert_non_null(strstr(dirs.items[i], "/../" NK_PLUGIN_REL_DIR));
    assert_string_equal(dirs.items[i + 1], exe);
    nk__strlist_free(&dirs);
    nk__settings_free(&s);
}

/* With no -L, variable or config, only the fixed places remain: the
 * configured install dir, the install dir relative to the binary (for an
 * install under another prefix), and plugins/ beside the binary. */
static void
test_loader_dirs_defaults(void **state)
{
    struct nk__settings s;
    struct nk__strlist dirs = {0};
    char exe[PATH_MAX];

    (void)state;
    nk__settings_init(&s);
    assert_int_equal(nk__plugin_dirs(&s, &dirs), 0);
    binary_plugins_dir(exe, sizeof(exe));
    assert_int_equal(dirs.n, 3);
    assert_string_equal(dirs.items[0], NK_PLUGIN_INSTALL_DIR);
    assert_non_null(strstr(dirs.items[1], "/../" NK_PLUGIN_REL_DIR));
    assert_string_equal(dirs.items[2], exe);
    nk__strlist_free(&dirs);
    nk__settings_free(&s);
}

/* ---- listings ----------------------------------------------------------- */

/* `netkit plugins` shows usable plugins and says why others are not. */
static void
test_loader_print_list(void **state)
{
    struct nk__strlist dirs = DIRS(FIX, BUILT, FIX);
    struct capture c;
    const char *text;

    (void)state;
    capture_start(&c);
    assert_int_equal(nk__plugin_print_list(&dirs, c.out), 0);
    text = capture_end(&c);
    assert_int_equal(strncmp(text, "NAME ", 5), 0);
    assert_non_null(strstr(text, "\ngood         1.2.3    tcp,udp    loader "
                                 "fixture: greeting + each chunk\n"));
    assert_non_null(strstr(text, " " FIX "/good.so\n"));
    assert_non_null(strstr(text, "\nudponly      0.0.1    udp        "));
    assert_non_null(strstr(text, "\nraw          1.0.0    tcp,udp    "));
    assert_non_null(strstr(text, " " BUILT "/framed.so\n"));
    assert_non_null(strstr(text, "(refused: plugin " FIX "/nocb.so: missing "
                                 "required callback 'decode'"));
    assert_non_null(
        strstr(text, "(refused: cannot load plugin " FIX "/notelf.so: "));
    /* Constructors that crash are loaded in a child process: the listing
     * goes on, and says how they died. */
    assert_non_null(strstr(text, "\ncrashsegv    -        -          "
                                 "(refused: plugin " FIX "/crashsegv.so: "
                                 "crashed while loading (signal 11, "));
    assert_non_null(strstr(text, "\ncrashabort   -        -          "
                                 "(refused: plugin " FIX "/crashabort.so: "
                                 "crashed while loading (signal 6, "));
    assert_non_null(strstr(text, "\nwrap "));
    /* A directory listed twice does not list its plugins twice. */
    assert_int_equal(count_of(text, "\ngood "), 1);
    free(c.text);
}

/* `netkit plugins good` shows every option with type, default and help. */
static void
test_loader_print_options(void **state)
{
    const struct nk__plugin *p = *state;
    struct capture c;
    const char *text;

    capture_start(&c);
    nk__plugin_print_options(p, c.out);
    text = capture_end(&c);
    assert_int_equal(
        strncmp(text,
                "good 1.2.3 (tcp,udp): loader fixture: "
                "greeting + each chunk\n" FIX "/good.so\n",
                strlen("good 1.2.3 (tcp,udp): loader fixture: "
                       "greeting + each chunk\n" FIX "/good.so\n")),
        0);
    /* Columns as wide as their widest cell; a string default quoted, with
     * escapes, so its tab and trailing space show; the choices of an ENUM
     * in the help column. */
    assert_non_null(strstr(text, "\n\nOPTION    TYPE             DEFAULT       "
                                 "HELP\n"));
    assert_non_null(strstr(text, "\ngreeting  string           \"hi\\tthere "
                                 "\"  bytes put before every reply\n"));
    assert_non_null(strstr(text, "\ncount     int 1..10        3             "
                                 "how many times to answer\n"));
    assert_non_null(strstr(text, "\nlimit     size 1..1048576  64k           "
                                 "largest message\n"));
    assert_non_null(strstr(text, "\nverbose   bool             off           "
                                 "log every message\n"));
    assert_non_null(strstr(text, "\norder     enum             little        "
                                 "byte order; one of little|big\n"));
    free(c.text);
}

/* A plugin without options says so rather than printing an empty table. */
static void
test_loader_print_options_none(void **state)
{
    struct nk__plugin *p = load_fixture("udponly");
    struct capture c;
    const char *text;

    (void)state;
    capture_start(&c);
    nk__plugin_print_options(p, c.out);
    text = capture_end(&c);
    assert_non_null(strstr(text, "udponly 0.0.1 (udp): loader fixture\n"));
    assert_non_null(strstr(text, "\nno options\n"));
    assert_null(strstr(text, "OPTION"));
    free(c.text);
    nk__plugin_close(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loader_good_loads),
        cmocka_unit_test(test_loader_build_tree_plugins_load),
        cmocka_unit_test(test_loader_first_dir_wins),
        cmocka_unit_test(test_loader_missing_lists_dirs),
        cmocka_unit_test(test_loader_bad_name),
        cmocka_unit_test(test_loader_no_entry_symbol),
        cmocka_unit_test(test_loader_null_entry),
        cmocka_unit_test(test_loader_abi_major_mismatch),
        cmocka_unit_test(test_loader_newer_minor),
        cmocka_unit_test(test_loader_name_mismatch),
        cmocka_unit_test(test_loader_missing_callback),
        cmocka_unit_test(test_loader_struct_too_small),
        cmocka_unit_test(test_loader_not_elf),
        cmocka_unit_test(test_loader_transport_check),
        cmocka_unit_test(test_loader_open_out_of_memory),
        cmocka_unit_test(test_loader_safe_copy_loads),
        cmocka_unit_test(test_loader_shares_by_inode),
        cmocka_unit_test(test_loader_unsafe_file_mode),
        cmocka_unit_test(test_loader_unsafe_dir_mode),
        cmocka_unit_test(test_loader_unsafe_owner),
        cmocka_unit_test(test_loader_unsafe_symlink),
        cmocka_unit_test(test_loader_not_regular),
        cmocka_unit_test(test_loader_encode_checks),
        cmocka_unit_test_setup_teardown(test_loader_values_defaults, setup_good,
                                        teardown_good),
        cmocka_unit_test_setup_teardown(test_loader_values_config_overrides,
                                        setup_good, teardown_good),
        cmocka_unit_test_setup_teardown(test_loader_values_cli_overrides_config,
                                        setup_good, teardown_good),
        cmocka_unit_test_setup_teardown(test_loader_values_unknown_config_key,
                                        setup_good, teardown_good),
        cmocka_unit_test_setup_teardown(test_loader_values_bad, setup_good,
                                        teardown_good),
        cmocka_unit_test_setup_teardown(test_loader_values_bad_cli, setup_good,
                                        teardown_good),
        cmocka_unit_test_setup_teardown(test_loader_values_cli_unknown_skipped,
                                        setup_good, teardown_good),
        cmocka_unit_test_setup_teardown(test_loader_values_out_of_memory,
                                        setup_good, teardown_good),
        cmocka_unit_test(test_loader_dirs_order),
        cmocka_unit_test(test_loader_dirs_defaults),
        cmocka_unit_test(test_loader_print_list),
        cmocka_unit_test_setup_teardown(test_loader_print_options, setup_good,
                                        teardown_good),
        cmocka_unit_test(test_loader_print_options_none),
    };

    return cmocka_run_group_tests(tests, group_setup, NULL);
}
