/*
 * main.c -- the netkit command: parse, configure, load, run, exit status.
 *
 * The only place that decides exit codes: 0 success,
 * 1 run-time failure, 2 usage or configuration error.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netkit/version.h>

#include "base/alloc.h"
#include "config/cli.h"
#include "connect/client.h"
#include "config/conf.h"
#include "base/err.h"
#include "plugin/check.h"
#include "plugin/loader.h"
#include "base/log.h"
#include "serve/server.h"
#include "config/settings.h"
#include "config/sockopt.h"

/* `netkit plugins [NAME]`. */
static int
run_plugins(struct nk__settings *s, struct nk_err *err)
{
    struct nk__strlist dirs = {0};
    int rc = 0;

    if (nk__plugin_dirs(s, &dirs) < 0)
        return nk__err_set(err, "out of memory");
    if (s->plugins_name == NULL)
        nk__plugin_print_list(&dirs, stdout);
    else
        rc = nk__plugin_describe(s->plugins_name, &dirs, stdout, err);
    nk__strlist_free(&dirs);
    return rc;
}

/* The end of a command's --help: which config file its defaults come
 * from on this machine, so that the defaults printed above are the ones
 * the user gets. */
static void
help_config(FILE *out, enum nk__command cmd)
{
    const char *path = nk__conf_default_path();
    const char *env = getenv("NETKIT_CONFIG");
    char text[PATH_MAX + 300];

    if (cmd != NK_CMD_SERVE && cmd != NK_CMD_CONNECT && cmd != NK_CMD_PLUGINS &&
        cmd != NK_CMD_CHECK)
        return;
    if (path == NULL) {
        snprintf(text, sizeof(text),
                 "Config: without -c, none is read%s: the defaults above "
                 "apply.",
                 env != NULL ? " ($NETKIT_CONFIG is set empty)"
                 : nk__exe_in_build_tree()
                     ? " (this binary is in a build tree, which ignores an "
                       "installed netkit.ini)"
                     : "");
    } else {
        snprintf(text, sizeof(text),
                 "Config: without -c, %s%s is read; its settings replace "
                 "the defaults above%s.",
                 path, env != NULL && *env != '\0' ? " ($NETKIT_CONFIG)" : "",
                 cmd == NK_CMD_SERVE
                     ? ", and its [listen.*] sections are served unless -p, "
                       "-H, -P, -u, -4 or -6 is given"
                     : "");
    }
    fputc('\n', out);
    nk__cli_wrap(out, text, 0, 0);
}

/* `netkit serve -t`.  With -q, as nginx -t -q, only an error is printed:
 * a unit's ExecReload runs it before each reload, and the settings need
 * not fill the journal every time. */
static int
run_serve_check(struct nk__settings *s, struct nk_err *err)
{
    int quiet = (s->cli_set & NK_SET_LOG_LEVEL) && s->log_level == NK_LOG_ERROR;
    FILE *out = quiet ? fopen("/dev/null", "w") : stdout;
    int rc;

    if (out == NULL)
        return nk__err_run(err, "/dev/null: %s", strerror(errno));
    rc = nk__serve_check(s, out, err);
    if (out != stdout)
        fclose(out);
    return rc;
}

static int
run(struct nk__settings *s, int argc, char **argv, struct nk_err *err)
{
    s->argc = argc;
    s->argv = argv;
    if (nk__cli_parse(s, argc, argv, err) < 0)
        return -1;
    if (s->command == NK_CMD_HELP || s->help) {
        nk__cli_usage(stdout, s->command);
        if (s->help)
            help_config(stdout, s->command);
        return 0;
    }
    if (s->command == NK_CMD_VERSION) {
        printf("netkit %s (plugin ABI %d.%d)\n", NK_VERSION_STRING,
               NK_ABI_MAJOR, NK_ABI_MINOR);
        return 0;
    }
    if (s->command == NK_CMD_SOCKOPTS) {
        nk__sockopt_print(stdout);
        return 0;
    }
    nk__log_setup(s->log_level, s->log_json);
    if (nk__conf_load_chosen(s, err) < 0)
        return -1;
    nk__log_setup(s->log_level, s->log_json);
    switch (s->command) {
    case NK_CMD_PLUGINS:
        return run_plugins(s, err);
    case NK_CMD_CONNECT:
        return nk__client_run(s, err);
    case NK_CMD_CHECK:
        return nk__check_run(s, stdout, err);
    default:
        if (nk__settings_finish(s, err) < 0)
            return -1;
        if (s->check_only)
            return run_serve_check(s, err);
        nk__log_timestamps(1);
        return nk__serve(s, err);
    }
}

int
main(int argc, char **argv)
{
    struct nk__settings s;
    struct nk_err err = {.status = 2};
    char line[700];
    int rc;

    nk__alloc_setup();
    nk__settings_init(&s);
    rc = run(&s, argc, argv, &err);
    if (rc != 0) {
        /* Before the settings go: err.file points into them. */
        nk__err_format(&err, line, sizeof(line));
        nk__log_setup(s.log_level, s.log_json); /* JSON if asked, so far */
        nk__log_fatal("%s", line);
        rc = err.status == 1 && !s.check_only ? 1 : 2;
    }
    nk__settings_free(&s);
    return rc;
}
