/* loader.c -- plugin search, dlopen and checks.  See loader.h. */
#include "plugin/loader.h"
#include "plugin/nearest.h"

#include <sys/stat.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "config/value.h"
#include "plugin/child.h"

#ifndef NK_PLUGIN_INSTALL_DIR
#define NK_PLUGIN_INSTALL_DIR "/usr/local/lib/netkit/plugins"
#endif
#ifndef NK_PLUGIN_REL_DIR
#define NK_PLUGIN_REL_DIR "lib/netkit/plugins"
#endif

/* The v1 members every plugin has, through on_close. */
#define LOADER_V1_SIZE                                                         \
    (offsetof(struct nk_plugin, on_close) +                                    \
     sizeof(((struct nk_plugin *)0)->on_close))

/* Add each element of a colon-separated list. */
static int
loader_add_path(struct nk__strlist *dirs, const char *list)
{
    char *copy, *dir, *save;
    int rc = 0;

    if (list == NULL || *list == '\0')
        return 0;
    copy = nk__strdup(list);
    if (copy == NULL)
        return NK_ENOMEM;
    for (dir = strtok_r(copy, ":", &save); dir != NULL && rc == 0;
         dir = strtok_r(NULL, ":", &save))
        rc = nk__strlist_add(dirs, dir);
    nk__free(copy);
    return rc;
}

int
nk__plugin_dirs(const struct nk__settings *s, struct nk__strlist *dirs)
{
    char exe[PATH_MAX], rel[PATH_MAX + 64], own[PATH_MAX + 16];
    int rc = 0, have_exe = nk__exe_dir(exe, sizeof(exe)) == 0;
    int built = have_exe && nk__exe_in_build_tree();

    if (have_exe)
        snprintf(own, sizeof(own), "%s/plugins", exe);
    for (size_t i = 0; i < s->plugin_dirs.n && rc == 0; i++)
        rc = nk__strlist_add(dirs, s->plugin_dirs.items[i]);
    if (rc == 0)
        rc = loader_add_path(dirs, getenv("NETKIT_PLUGIN_PATH"));
    if (rc == 0)
        rc = loader_add_path(dirs, s->plugin_path);
    /* A binary in a build tree: the plugins built with it, before any
     * installed (and perhaps stale) copy. */
    if (rc == 0 && built)
        rc = nk__strlist_add(dirs, own);
    if (rc == 0)
        rc = nk__strlist_add(dirs, NK_PLUGIN_INSTALL_DIR);
    if (rc != 0 || !have_exe)
        return rc;
    /* Installed under another prefix than configured (--prefix, DESTDIR):
     * the plugin directory relative to bin/. */
    snprintf(rel, sizeof(rel), "%s/../%s", exe, NK_PLUGIN_REL_DIR);
    if (strcmp(rel, NK_PLUGIN_INSTALL_DIR) != 0)
        rc = nk__strlist_add(dirs, rel);
    /* plugins/ beside the binary, last unless it is a build tree. */
    if (rc == 0 && !built)
        rc = nk__strlist_add(dirs, own);
    return rc;
}

/* Is dir the build tree's own plugins/ (searched before the installed
 * ones on purpose, so that shadowing them is no surprise)? */
static int
loader_own_build_dir(const char *dir)
{
    char exe[PATH_MAX], own[PATH_MAX + 16];

    if (nk__exe_dir(exe, sizeof(exe)) < 0 || !nk__exe_in_build_tree())
        return 0;
    snprintf(own, sizeof(own), "%s/plugins", exe);
    return strcmp(dir, own) == 0;
}

/* Fail a load: one message naming the file, and the handle closed. */
static int
loader_fail(struct nk__plugin *p, struct nk_err *err, const char *msg)
{
    nk__err_set(err, "plugin %s: %s", p->path, msg);
    nk__plugin_close(p);
    return -1;
}

/* The loader's checks, in order, on a freshly opened object. */
static int
loader_check(struct nk__plugin *p, struct nk_err *err)
{
    nk_plugin_entry_fn entry;
    const struct nk_plugin *d;
    const char *missing;
    char msg[200];

    *(void **)&entry = dlsym(p->handle, NK_PLUGIN_ENTRY_SYMBOL);
    if (entry == NULL)
        return loader_fail(p, err,
                           "not a netkit plugin (no " NK_PLUGIN_ENTRY_SYMBOL
                           " symbol)");
    d = entry();
    if (d == NULL)
        return loader_fail(p, err, "entry symbol returned NULL");
    if (d->abi_major != NK_ABI_MAJOR) {
        snprintf(msg, sizeof(msg),
                 "built for plugin ABI %u, this netkit speaks %d",
                 (unsigned)d->abi_major, NK_ABI_MAJOR);
        return loader_fail(p, err, msg);
    }
    if (d->abi_minor > NK_ABI_MINOR) {
        snprintf(msg, sizeof(msg),
                 "needs plugin ABI %d.%u, this netkit has %d.%d", NK_ABI_MAJOR,
                 (unsigned)d->abi_minor, NK_ABI_MAJOR, NK_ABI_MINOR);
        return loader_fail(p, err, msg);
    }
    if (d->size < LOADER_V1_SIZE) {
        snprintf(msg, sizeof(msg), "description too small (%u bytes)",
                 (unsigned)d->size);
        return loader_fail(p, err, msg);
    }
    if (d->name == NULL || strcmp(d->name, p->name) != 0) {
        snprintf(msg, sizeof(msg), "calls itself '%.64s', not '%.64s'",
                 d->name ? d->name : "(null)", p->name);
        return loader_fail(p, err, msg);
    }
    missing = d->create == NULL       ? "create"
              : d->destroy == NULL    ? "destroy"
              : d->decode == NULL     ? "decode"
              : d->encode == NULL     ? "encode"
              : d->on_message == NULL ? "on_message"
                                      : NULL;
    if (missing != NULL) {
        snprintf(msg, sizeof(msg), "missing required callback '%s'", missing);
        return loader_fail(p, err, msg);
    }
    /* Members a plugin of an older minor lacks read as NULL/0 from a copy
     * of the host's size, so no caller ever reads past the plugin's. */
    memcpy(&p->full, d, d->size < sizeof(p->full) ? d->size : sizeof(p->full));
    p->desc = &p->full;
    for (p->nopts = 0; d->options && d->options[p->nopts].name; p->nopts++)
        ;
    return 0;
}

/* ---- safe loading -------------------------------------------------------
 *
 * Code is loaded only from a file that nobody but root and the running user
 * could have written, in a directory chain nobody else could have changed.
 * The file is opened once; the checks look at that open descriptor (fstat)
 * and at the directories of the path it really has (readlink on
 * /proc/self/fd), and dlopen loads the same descriptor through
 * /proc/self/fd/N, so nothing can be swapped between check and load.
 */

/* Who may own a plugin file or one of its directories: root or us. */
static int
loader_owner_ok(uid_t uid)
{
    return uid == 0 || uid == geteuid();
}

/* After snprintf into why[size] returned n: a message cut short (paths
 * may be PATH_MAX long) ends in "..." so nobody copies a cut path as it
 * is.  Returns -1, the refusal. */
static int
loader_why_end(char *why, size_t size, int n)
{
    if ((n < 0 || (size_t)n >= size) && size > 3)
        memcpy(why + size - 4, "...", 4);
    return -1;
}

/*
 * Check one file or directory; 0, or -1 with `why` saying what is wrong and
 * how to fix it.  `parent` is set for the directories above the one that
 * holds the plugin: one of them may be a root-owned sticky directory such
 * as /tmp (1777), where nobody can rename or delete what another user owns.
 * The directory that holds the plugin itself may not be writable by others,
 * sticky or not.
 */
static int
loader_safe_one(const char *path, const struct stat *st, int parent, char *why,
                size_t size)
{
    unsigned mode = (unsigned)st->st_mode & 07777;

    if (!loader_owner_ok(st->st_uid)) {
        const struct passwd *pw = getpwuid(geteuid());
        char me[64], owner[64];

        /* getpwuid's answer lives in one static buffer: copy each. */
        snprintf(me, sizeof(me), "%s", pw != NULL ? pw->pw_name : "root");
        pw = getpwuid(st->st_uid);
        snprintf(owner, sizeof(owner), "%s",
                 pw != NULL ? pw->pw_name : "another user");
        return loader_why_end(
            why, size,
            snprintf(
                why, size,
                "%s is owned by %s (uid %u), not by root%s; run chown %s %s",
                path, owner, (unsigned)st->st_uid,
                geteuid() == 0 ? "" : " or you", me, path));
    }
    if ((mode & (S_IWGRP | S_IWOTH)) == 0)
        return 0;
    if (parent && S_ISDIR(st->st_mode) && (mode & S_ISVTX) && st->st_uid == 0)
        return 0;
    return loader_why_end(
        why, size,
        snprintf(why, size, "%s is %s-writable (mode %04o); run chmod go-w %s",
                 path, (mode & S_IWOTH) ? "world" : "group", mode, path));
}

/* Check every directory from the one holding `file` (an absolute path
 * without symbolic links) up to /. */
static int
loader_safe_dirs(const char *file, char *why, size_t size)
{
    char dir[PATH_MAX], *slash;
    struct stat st;
    int parent = 0;

    snprintf(dir, sizeof(dir), "%s", file);
    for (;;) {
        slash = strrchr(dir, '/');
        if (slash == NULL)
            return 0;
        if (slash == dir)
            slash[1] = '\0'; /* the root itself */
        else
            *slash = '\0';
        if (stat(dir, &st) < 0) {
            snprintf(why, size, "cannot check %s: %s", dir, strerror(errno));
            return -1;
        }
        if (loader_safe_one(dir, &st, parent, why, size) < 0)
            return -1;
        if (strcmp(dir, "/") == 0)
            return 0;
        parent = 1;
    }
}

/*
 * Open `path` for loading: a regular file that passes loader_safe_one, in
 * directories that pass it too.  A symbolic link is followed; the checks
 * apply to its target and its target's directories, and to the directories
 * of the link itself.  Returns the descriptor, or -1 with err set.
 */
static int
loader_safe_open(const char *path, struct nk_err *err)
{
    char link[64], real[PATH_MAX], why[PATH_MAX + 160];
    struct stat st, lst;
    ssize_t n;
    int fd;

    /* O_NONBLOCK: a FIFO named NAME.so must not hang the open. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return nk__err_set(err, "cannot open plugin %s: %s", path,
                           strerror(errno));
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    if (fstat(fd, &st) < 0) {
        snprintf(why, sizeof(why), "cannot check it: %s", strerror(errno));
        goto refuse;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, sizeof(why), "not a regular file");
        goto refuse;
    }
    n = readlink(link, real, sizeof(real) - 1);
    if (n <= 0 || real[0] != '/') {
        snprintf(why, sizeof(why), "cannot tell where it lives (%s: %s)", link,
                 n < 0 ? strerror(errno) : "not a path");
        goto refuse;
    }
    real[n] = '\0';
    if (loader_safe_one(real, &st, 0, why, sizeof(why)) < 0 ||
        loader_safe_dirs(real, why, sizeof(why)) < 0)
        goto refuse;
    /* A link: whoever could change the link could change what is loaded. */
    if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
        char dir[PATH_MAX], rdir[PATH_MAX], *slash;

        snprintf(dir, sizeof(dir), "%s", path);
        slash = strrchr(dir, '/');
        if (slash == NULL)
            snprintf(dir, sizeof(dir), ".");
        else if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
        if (realpath(dir, rdir) != NULL) {
            size_t len = strlen(rdir);
            /* loader_safe_dirs checks the directories of a file: name one
             * inside rdir. */
            if (len + 3 < sizeof(rdir)) {
                memcpy(rdir + len, "/x", 3);
                if (loader_safe_dirs(rdir, why, sizeof(why)) < 0)
                    goto refuse;
            }
        }
    }
    return fd;
refuse:
    close(fd);
    return nk__err_set(err, "plugin %s refused: %s", path, why);
}

/*
 * The plugins loaded, for sharing.  dlopen knows an object by every name
 * it was opened under ("/proc/self/fd/N") and by its file's device and
 * inode, and returns the object it has for either: so a file loaded twice
 * would be known by two descriptor numbers, and once one of them is closed
 * and reused for another plugin, dlopen would return the wrong object.
 * Sharing by inode keeps one name per object, whose descriptor stays open
 * as long as the object is mapped.
 */
static struct nk__plugin *loader_loaded;
static pthread_mutex_t loader_lock = PTHREAD_MUTEX_INITIALIZER;

/* 1 with *out the loaded record of the file open on fd, a reference
 * taken; 0 if it is not loaded; -1 with err for a record of that file
 * under another name (refused, as its dlopen would be). */
static int
loader_share(int fd, const char *path, const char *name, struct stat *st,
             struct nk__plugin **out, struct nk_err *err)
{
    struct nk__plugin *q;

    if (fstat(fd, st) < 0)
        return nk__err_set(err, "plugin %s: cannot check it: %s", path,
                           strerror(errno));
    pthread_mutex_lock(&loader_lock);
    for (q = loader_loaded; q != NULL; q = q->next)
        if (q->dev == st->st_dev && q->ino == st->st_ino)
            break;
    if (q != NULL && strcmp(q->name, name) == 0)
        q->refs++;
    pthread_mutex_unlock(&loader_lock);
    if (q == NULL)
        return 0;
    if (strcmp(q->name, name) != 0)
        return nk__err_set(err, "plugin %s: calls itself '%.64s', not '%.64s'",
                           path, q->name, name);
    if (q->mtime.tv_sec != st->st_mtim.tv_sec ||
        q->mtime.tv_nsec != st->st_mtim.tv_nsec)
        nk__log(NK_LOG_WARN,
                "plugin %s was written into while loaded: the code loaded "
                "before goes on; replace a plugin with a new file (install, "
                "or cp then mv), never by writing over it",
                path);
    *out = q;
    return 1;
}

int
nk__plugin_open_path(const char *path, const char *name,
                     struct nk__plugin **out, struct nk_err *err)
{
    struct nk__plugin *p = nk__calloc(1, sizeof(*p)), *shared = NULL;
    struct stat st;
    char link[64];
    int rc;

    if (p != NULL)
        p->fd = -1;
    /* The record exists before dlopen so that every failure path below
     * closes the handle through nk__plugin_close. */
    if (p == NULL || (p->name = nk__strdup(name)) == NULL ||
        (p->path = nk__strdup(path)) == NULL) {
        nk__plugin_close(p);
        return nk__err_set(err, "out of memory loading plugin %s", name);
    }
    p->fd = loader_safe_open(path, err);
    if (p->fd < 0) {
        nk__plugin_close(p);
        return -1;
    }
    rc = loader_share(p->fd, path, name, &st, &shared, err);
    if (rc != 0) {
        nk__plugin_close(p); /* not registered: closes its descriptor */
        if (rc < 0)
            return -1;
        *out = shared;
        return 0;
    }
    snprintf(link, sizeof(link), "/proc/self/fd/%d", p->fd);
    p->handle = dlopen(link, RTLD_NOW | RTLD_LOCAL);
    if (p->handle == NULL) {
        const char *why = dlerror();
        size_t llen = strlen(link);
        /* glibc's message starts with the name it was given: say the
         * plugin's path instead, and the rest verbatim. */
        if (why == NULL)
            why = "unknown dlopen error";
        else if (strncmp(why, link, llen) == 0 &&
                 strncmp(why + llen, ": ", 2) == 0)
            why += llen + 2;
        nk__err_set(err, "cannot load plugin %s: %s", path, why);
        nk__plugin_close(p);
        return -1;
    }
    if (loader_check(p, err) < 0)
        return -1;
    p->dev = st.st_dev;
    p->ino = st.st_ino;
    p->mtime = st.st_mtim;
    p->refs = 1;
    pthread_mutex_lock(&loader_lock);
    p->next = loader_loaded;
    loader_loaded = p;
    pthread_mutex_unlock(&loader_lock);
    *out = p;
    return 0;
}

/* Are a and b the same file (a directory listed twice, or an install dir
 * reached by two paths)? */
static int
loader_same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int
nk__plugin_find(const char *name, const struct nk__strlist *dirs, char *path,
                size_t size, struct nk_err *err)
{
    char looked[400] = "", other[PATH_MAX];
    size_t used = 0;

    if (*name == '\0' || strchr(name, '/') != NULL)
        return nk__err_set(err, "bad plugin name '%s'", name);
    for (size_t i = 0; i < dirs->n; i++) {
        snprintf(path, size, "%s/%s.so", dirs->items[i], name);
        if (access(path, F_OK) == 0) {
            /* The first wins; another copy later in the path is a warning,
             * since the user may be editing the one that is not used --
             * except that a build tree's own plugins are meant to shadow
             * installed ones. */
            for (size_t j = i + 1; j < dirs->n; j++) {
                if (loader_own_build_dir(dirs->items[i]))
                    break;
                snprintf(other, sizeof(other), "%s/%s.so", dirs->items[j],
                         name);
                if (access(other, F_OK) == 0 && !loader_same_file(path, other))
                    nk__log(NK_LOG_WARN,
                            "plugin '%s' is in %s and in %s; using %s", name,
                            path, other, path);
            }
            return 0;
        }
        if (used < sizeof(looked))
            used += (size_t)snprintf(looked + used, sizeof(looked) - used,
                                     "%s%s", i ? ", " : "", dirs->items[i]);
    }
    if (nk__plugin_nearest(name, dirs, other, sizeof(other)) != NULL)
        return nk__err_set(err,
                           "plugin '%s' not found (did you mean %s? "
                           "looked in: %s)",
                           name, other, looked);
    return nk__err_set(err, "plugin '%s' not found (looked in: %s)", name,
                       looked);
}

int
nk__plugin_open(const char *name, const struct nk__strlist *dirs,
                struct nk__plugin **out, struct nk_err *err)
{
    char path[PATH_MAX];

    if (nk__plugin_find(name, dirs, path, sizeof(path), err) < 0)
        return -1;
    return nk__plugin_open_path(path, name, out, err);
}

/* Unmap p's object and close its descriptor -- unless the object stays
 * mapped all the same (a plugin dlclose cannot unload, such as one marked
 * NODELETE): then the descriptor stays open too, so that its number, the
 * object's name for dlopen, is never reused for another plugin. */
static void
loader_unload(struct nk__plugin *p)
{
    const char *keep = getenv("NK_NO_DLCLOSE");
    char link[64];
    void *still;

    if (p->handle != NULL && keep != NULL && strcmp(keep, "1") == 0)
        return; /* kept mapped, and its descriptor open: see above */
    if (p->handle != NULL) {
        dlclose(p->handle);
        snprintf(link, sizeof(link), "/proc/self/fd/%d", p->fd);
        still = dlopen(link, RTLD_LAZY | RTLD_NOLOAD);
        if (still != NULL) {
            dlclose(still);
            return;
        }
        dlerror();
    }
    if (p->fd >= 0)
        close(p->fd);
}

void
nk__plugin_close(struct nk__plugin *p)
{
    struct nk__plugin **pp;

    if (p == NULL)
        return;
    pthread_mutex_lock(&loader_lock);
    if (p->refs > 1) {
        p->refs--;
        pthread_mutex_unlock(&loader_lock);
        return;
    }
    for (pp = &loader_loaded; *pp != NULL; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    pthread_mutex_unlock(&loader_lock);
    loader_unload(p);
    nk__free(p->name);
    nk__free(p->path);
    nk__free(p);
}

int
nk__plugin_encode(const struct nk_plugin *d, void *inst, size_t payload_len,
                  struct nk_wrap *w)
{
    int rc;

    *w = (struct nk_wrap){0};
    rc = d->encode(inst, payload_len, w);
    if (rc < 0)
        return rc;
    if (rc > 0 ||
        w->head_len > (w->head_ext != NULL ? NK_WRAP_MAX : NK_HDR_MAX) ||
        w->tail_len > (w->tail_ext != NULL ? NK_WRAP_MAX : NK_HDR_MAX))
        return NK_EINVAL;
    return 0;
}

int
nk__plugin_check_transport(const struct nk__plugin *p, unsigned transport,
                           struct nk_err *err)
{
    if ((p->desc->transports & transport) != 0)
        return 0;
    return nk__err_set(err, "plugin '%s' does not support %s", p->name,
                       transport == NK_TRANSPORT_UDP ? "udp" : "tcp");
}

int
nk__plugin_option_index(const struct nk__plugin *p, const char *key)
{
    for (size_t i = 0; i < p->nopts; i++)
        if (strcmp(p->desc->options[i].name, key) == 0)
            return (int)i;
    return -1;
}

/* The option name closest to key, for "did you mean" (NULL if none near). */
const char *
nk__plugin_suggest(const struct nk__plugin *p, const char *key)
{
    const char *best = NULL;
    int best_d = 3;

    for (size_t i = 0; i < p->nopts; i++) {
        int d = nk__edit_distance(key, p->desc->options[i].name);
        if (d < best_d) {
            best_d = d;
            best = p->desc->options[i].name;
        }
    }
    return best;
}

int
nk__plugin_check_cli_opts(struct nk__plugin *const *plugins, size_t n,
                          const struct nk__kvlist *cli, struct nk_err *err)
{
    for (size_t i = 0; i < cli->n && n > 0; i++) {
        const char *key = cli->items[i].key, *near = NULL;
        size_t j;

        for (j = 0; j < n; j++)
            if (nk__plugin_option_index(plugins[j], key) >= 0)
                break;
        if (j < n)
            continue;
        for (j = 0; j < n && near == NULL; j++)
            near = nk__plugin_suggest(plugins[j], key);
        return nk__err_set(
            err, "-O %s: plugin '%s'%s has no option '%s'%s%s%s", key,
            plugins[0]->name, n > 1 ? " (nor any other in use)" : "", key,
            near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
    }
    return 0;
}

/* Parse one KEY=VALUE into vals; an unknown key is an error only for the
 * config section (cli keys may belong to another plugin in use). */
static int
loader_set_value(const struct nk__plugin *p, const struct nk__kv *kv,
                 int from_cli, struct nk_value *vals, struct nk_err *err)
{
    int i = nk__plugin_option_index(p, kv->key);
    const char *why, *near;
    struct nk_value v;

    if (i < 0 && from_cli)
        return 0;
    if (i < 0) {
        near = nk__plugin_suggest(p, kv->key);
        return nk__err_at(err, kv->file, kv->line,
                          "[plugin.%s] unknown option '%s'%s%s%s", p->name,
                          kv->key, near ? " (did you mean " : "",
                          near ? near : "", near ? "?)" : "");
    }
    why = nk__parse_option(&p->desc->options[i], kv->val, kv->len, &v);
    if (why != NULL) {
        if (from_cli)
            return nk__err_set(err, "-O %s=%s: %s", kv->key, kv->val, why);
        return nk__err_at(err, kv->file, kv->line, "[plugin.%s] %s: %s",
                          p->name, kv->key, why);
    }
    nk__free((char *)vals[i].str);
    vals[i] = v;
    return 0;
}

const char *
nk__plugin_default(const struct nk_option *o, struct nk_value *v)
{
    const char *why;
    char *text;
    size_t len;

    /* A default is written as a user would write the value: the same
     * quoting rule as -O and the config file. */
    if ((why = nk__unquote(o->def != NULL ? o->def : "", &text, &len)) != NULL)
        return why;
    why = nk__parse_option(o, text, len, v);
    nk__free(text);
    return why;
}

int
nk__plugin_values(const struct nk__plugin *p, const struct nk__kvlist *conf,
                  const struct nk__kvlist *cli, struct nk_value **out,
                  struct nk_err *err)
{
    struct nk_value *vals = nk__calloc(p->nopts + 1, sizeof(*vals));
    const struct nk_option *o = p->desc->options;
    const char *why;

    if (vals == NULL)
        return nk__err_set(err, "out of memory");
    for (size_t i = 0; i < p->nopts; i++) {
        if ((why = nk__plugin_default(&o[i], &vals[i])) != NULL) {
            nk__plugin_values_free(p, vals);
            return nk__err_set(err, "plugin %s: bad default for %s: %s",
                               p->name, o[i].name, why);
        }
    }
    for (size_t i = 0; conf != NULL && i < conf->n; i++)
        if (loader_set_value(p, &conf->items[i], 0, vals, err) < 0)
            goto fail;
    for (size_t i = 0; cli != NULL && i < cli->n; i++)
        if (loader_set_value(p, &cli->items[i], 1, vals, err) < 0)
            goto fail;
    *out = vals;
    return 0;
fail:
    nk__plugin_values_free(p, vals);
    return -1;
}

void
nk__plugin_values_free(const struct nk__plugin *p, struct nk_value *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < p->nopts; i++)
        nk__free((char *)v[i].str);
    nk__free(v);
}

static const char *
loader_transports(unsigned t)
{
    if ((t & NK_TRANSPORT_TCP) && (t & NK_TRANSPORT_UDP))
        return "tcp,udp";
    return (t & NK_TRANSPORT_UDP)   ? "udp"
           : (t & NK_TRANSPORT_TCP) ? "tcp"
                                    : "-";
}

/* Only NAME.so entries interest `netkit plugins`. */
static int
loader_is_so(const struct dirent *de)
{
    size_t len = strlen(de->d_name);

    return len > 3 && strcmp(de->d_name + len - 3, ".so") == 0;
}

/* ---- inspecting in a child process -------------------------------------
 *
 * Loading a plugin runs its code (constructors, the entry function).  The
 * listing commands load each candidate in a child process, which writes
 * back what it found; a plugin that crashes, hangs or exits while loading
 * is then one line of the listing, not the end of it.
 */

/* How long one child may take to load and describe a plugin. */
#define LOADER_INSPECT_TIMEOUT 10.0

/* What a child's work returns. */
enum { LOADER_LOADED = 0, LOADER_REFUSED = 1 };

struct loader_inspect {
    const char *path, *name;
    void (*print)(const struct nk__plugin *p, FILE *out);
};

/* In the child: load, then print the description or the refusal. */
static int
loader_inspect_child(void *arg, FILE *out)
{
    const struct loader_inspect *in = arg;
    struct nk__plugin *p;
    struct nk_err err;

    if (nk__plugin_open_path(in->path, in->name, &p, &err) < 0) {
        fputs(err.msg, out);
        return LOADER_REFUSED;
    }
    in->print(p, out);
    return LOADER_LOADED;
}

/*
 * Load path in a child and have it print with `print`.  Returns 0 with the
 * child's text in *text, or -1 with err saying why the plugin cannot be
 * used (its refusal, or how it died).  *text is NULL or for nk__free.
 */
static int
loader_inspect(const char *path, const char *name,
               void (*print)(const struct nk__plugin *, FILE *), char **text,
               struct nk_err *err)
{
    struct loader_inspect in = {path, name, print};
    char why[200];
    int rc = nk__child_run(loader_inspect_child, &in, LOADER_INSPECT_TIMEOUT,
                           text, why, sizeof(why));

    if (rc == LOADER_LOADED)
        return 0;
    if (rc == LOADER_REFUSED) {
        /* The child's refusal is already one line naming the path. */
        nk__err_set(err, "%s", *text != NULL ? *text : "refused");
    } else if (rc < 0 && strncmp(why, "crashed ", 8) == 0) {
        /* "crashed (signal 11, ...)" */
        nk__err_set(err, "plugin %s: crashed while loading %s", path, why + 8);
    } else if (rc < 0) {
        nk__err_set(err, "plugin %s: %s while loading", path, why);
    } else {
        nk__err_set(err, "plugin %s: unexpected result %d while loading", path,
                    rc);
    }
    nk__free(*text);
    *text = NULL;
    return -1;
}

/* One line of the listing for a plugin that loaded. */
static void
loader_print_line(const struct nk__plugin *p, FILE *out)
{
    fprintf(out, "%-12s %-8s %-10s %s\n%-32s %s\n", p->name,
            p->desc->version ? p->desc->version : "-",
            loader_transports(p->desc->transports),
            p->desc->summary ? p->desc->summary : "", "", p->path);
}

/* Print one plugin file's line: usable, or why not. */
static void
loader_print_one(const char *path, const char *name, FILE *out)
{
    struct nk_err err;
    char *text;

    if (loader_inspect(path, name, loader_print_line, &text, &err) < 0) {
        fprintf(out, "%-12s %-8s %-10s (refused: %s)\n", name, "-", "-",
                err.msg);
        return;
    }
    fputs(text != NULL ? text : "", out);
    nk__free(text);
}

/* The path listed earlier under the same name, or NULL. */
static const char *
loader_seen(const struct nk__strlist *seen, const char *file)
{
    for (size_t i = 0; i < seen->n; i++) {
        const char *base = strrchr(seen->items[i], '/');
        if (strcmp(base != NULL ? base + 1 : seen->items[i], file) == 0)
            return seen->items[i];
    }
    return NULL;
}

int
nk__plugin_print_list(const struct nk__strlist *dirs, FILE *out)
{
    struct nk__strlist seen = {0};
    struct dirent **ents;
    char name[256], path[PATH_MAX];
    const char *first;
    int rc = 0;

    fprintf(out, "%-12s %-8s %-10s %s\n", "NAME", "VERSION", "TRANSPORT",
            "SUMMARY / PATH");
    for (size_t i = 0; i < dirs->n; i++) {
        /* Sorted, so the listing is the same on every run. */
        int n = scandir(dirs->items[i], &ents, loader_is_so, alphasort);

        for (int j = 0; j < n; j++) {
            size_t len = strlen(ents[j]->d_name) - 3;

            snprintf(path, sizeof(path), "%s/%s", dirs->items[i],
                     ents[j]->d_name);
            first = loader_seen(&seen, ents[j]->d_name);
            if (len >= sizeof(name)) {
                /* Not a name netkit could be asked for. */
            } else if (first == NULL) {
                memcpy(name, ents[j]->d_name, len);
                name[len] = '\0';
                if (nk__strlist_add(&seen, path) < 0)
                    rc = NK_ENOMEM;
                loader_print_one(path, name, out);
            } else if (!loader_same_file(first, path)) {
                /* An earlier directory shadows a later one: say so. */
                memcpy(name, ents[j]->d_name, len);
                name[len] = '\0';
                fprintf(out,
                        "%-12s %-8s %-10s (not used: %s comes first)\n"
                        "%-32s %s\n",
                        name, "-", "-", first, "", path);
            }
            free(ents[j]);
        }
        if (n >= 0)
            free(ents);
    }
    nk__strlist_free(&seen);
    return rc;
}

int
nk__plugin_describe(const char *name, const struct nk__strlist *dirs, FILE *out,
                    struct nk_err *err)
{
    char path[PATH_MAX], *text;

    if (nk__plugin_find(name, dirs, path, sizeof(path), err) < 0 ||
        loader_inspect(path, name, nk__plugin_print_options, &text, err) < 0)
        return -1;
    fputs(text != NULL ? text : "", out);
    nk__free(text);
    return 0;
}

static const char *
loader_type_name(const struct nk_option *o, char *buf, size_t size)
{
    switch (o->type) {
    case NK_OPT_STRING:
        return "string";
    case NK_OPT_BOOL:
        return "bool";
    case NK_OPT_ENUM:
        /* The choices go in the help column: a long list would push every
         * column after it out of line. */
        return "enum";
    case NK_OPT_INT:
        snprintf(buf, size, "int %lld..%lld", o->min, o->max);
        return buf;
    case NK_OPT_SIZE:
        snprintf(buf, size, "size %lld..%lld", o->min, o->max);
        return buf;
    }
    return "?";
}

/* An option's default as a user would write it: a string in quotes with
 * escapes (so blanks and control bytes show), anything else as is. */
static void
loader_default_text(const struct nk_option *o, char *buf, size_t size)
{
    struct nk_value v;

    if (nk__plugin_default(o, &v) != NULL) {
        snprintf(buf, size, "%s", o->def != NULL ? o->def : "");
        return;
    }
    if (o->type == NK_OPT_STRING)
        nk__quote(v.str, v.len, buf, size);
    else
        snprintf(buf, size, "%s", v.str);
    nk__free((char *)v.str);
}

/* The widest of `min` and a column's cells, at most `max`. */
static int
loader_width(int cur, const char *cell, int max)
{
    int n = (int)strlen(cell);

    if (n > max)
        n = max;
    return n > cur ? n : cur;
}

void
nk__plugin_print_options(const struct nk__plugin *p, FILE *out)
{
    const struct nk_option *o = p->desc->options;
    int wname = 6, wtype = 4, wdef = 7; /* the headings */
    char type[64], def[64];

    fprintf(out, "%s %s (%s): %s\n%s\n\n", p->name,
            p->desc->version ? p->desc->version : "-",
            loader_transports(p->desc->transports),
            p->desc->summary ? p->desc->summary : "", p->path);
    if (p->nopts == 0) {
        fprintf(out, "no options\n");
        return;
    }
    for (size_t i = 0; i < p->nopts; i++) {
        loader_default_text(&o[i], def, sizeof(def));
        wname = loader_width(wname, o[i].name, 24);
        wtype = loader_width(wtype, loader_type_name(&o[i], type, sizeof(type)),
                             32);
        wdef = loader_width(wdef, def, (int)sizeof(def));
    }
    fprintf(out, "%-*s  %-*s  %-*s  %s\n", wname, "OPTION", wtype, "TYPE", wdef,
            "DEFAULT", "HELP");
    for (size_t i = 0; i < p->nopts; i++) {
        const char *why;
        struct nk_value v;

        loader_default_text(&o[i], def, sizeof(def));
        fprintf(out, "%-*s  %-*s  %-*s  %s", wname, o[i].name, wtype,
                loader_type_name(&o[i], type, sizeof(type)), wdef, def,
                o[i].help ? o[i].help : "");
        if (o[i].type == NK_OPT_ENUM)
            fprintf(out, "%sone of %s", o[i].help ? "; " : "",
                    o[i].choices ? o[i].choices : "");
        if ((why = nk__plugin_default(&o[i], &v)) != NULL)
            fprintf(out, " (bad default: %s)", why);
        else
            nk__free((char *)v.str);
        fputc('\n', out);
    }
    fprintf(out, "\nValues: \"quoted\" with escapes \\n \\t \\r \\\\ \\\" "
                 "\\0 \\xHH, or as is.\n");
}
