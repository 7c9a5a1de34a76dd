/* show.c -- the effective settings and their origins.  See show.h. */
#include "serve/show.h"

#include <sys/socket.h>
#include <ctype.h>
#include <string.h>

#include "base/addr.h"
#include "base/cidr.h"
#include "config/conf.h"
#include "serve/proxy.h"

/* One "  key  value  origin" line. */
static void
show_line(FILE *out, const char *key, const char *value, const char *origin)
{
    if (*origin == '\0')
        fprintf(out, "  %-20s %s\n", key, value);
    else
        fprintf(out, "  %-20s %-24s %s\n", key, value, origin);
}

/* "FILE:LINE" for a key the file set, else the flag that sets it (when
 * the command line did), else "default". */
static const char *
show_origin(char *buf, size_t size, const struct nk__settings *s,
            const int *key_line, const char *key, unsigned cli_bit,
            const char *flag)
{
    int line;

    if (cli_bit != 0 && (s->cli_set & cli_bit)) {
        snprintf(buf, size, "flag %s", flag);
        return buf;
    }
    line = key_line != NULL ? nk__conf_key_line(key_line, key) : 0;
    if (line > 0 && s->config_file != NULL) {
        snprintf(buf, size, "%s:%d", s->config_file, line);
        return buf;
    }
    return "default";
}

/* A value as the config file would take it back: quoted, with escapes,
 * when it is empty or holds blanks, quotes, ';' or unprintable bytes. */
static void
show_value(char *buf, size_t size, const char *v, size_t len)
{
    int plain = len > 0;
    size_t n = 0;

    for (size_t i = 0; i < len && plain; i++)
        plain = isgraph((unsigned char)v[i]) && v[i] != '"' && v[i] != ';' &&
                v[i] != '\\';
    if (plain) {
        snprintf(buf, size, "%.*s", (int)len, v);
        return;
    }
    buf[n++] = '"';
    for (size_t i = 0; i < len && n + 6 < size; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '"' || c == '\\')
            n += (size_t)snprintf(buf + n, size - n, "\\%c", c);
        else if (c == '\n')
            n += (size_t)snprintf(buf + n, size - n, "\\n");
        else if (c == '\t')
            n += (size_t)snprintf(buf + n, size - n, "\\t");
        else if (c == ';' || !isprint(c))
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
        else
            buf[n++] = (char)c;
    }
    snprintf(buf + n, size - n, "\"");
}

static const char *
show_seconds(char *buf, size_t size, double v)
{
    snprintf(buf, size, "%g", v);
    return buf;
}

void
nk__show_settings(FILE *out, const struct nk__settings *s)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    char origin[600], v[300];

    fprintf(out, "config %s\n[netkit]\n",
            s->config_file != NULL ? s->config_file
                                   : "(none: built-in defaults)");
    show_line(out, "log_level", levels[s->log_level],
              show_origin(origin, sizeof(origin), s, s->key_line, "log_level",
                          NK_SET_LOG_LEVEL, "-v/-q"));
    snprintf(v, sizeof(v), "%d", s->workers);
    show_line(out, "workers", v,
              show_origin(origin, sizeof(origin), s, s->key_line, "workers",
                          NK_SET_WORKERS, "-w"));
    if (s->plugin_path != NULL)
        show_line(out, "plugin_path", s->plugin_path,
                  show_origin(origin, sizeof(origin), s, s->key_line,
                              "plugin_path", 0, NULL));
    for (size_t i = 0; i < s->plugin_dirs.n; i++)
        show_line(out, "plugin_dir", s->plugin_dirs.items[i], "flag -L");
    if (s->user != NULL)
        show_line(out, "user", s->user,
                  show_origin(origin, sizeof(origin), s, s->key_line, "user", 0,
                              NULL));
    if (s->group != NULL)
        show_line(out, "group", s->group,
                  show_origin(origin, sizeof(origin), s, s->key_line, "group",
                              0, NULL));
    show_line(out, "metrics", s->metrics != NULL ? s->metrics : "off",
              show_origin(origin, sizeof(origin), s, s->key_line, "metrics",
                          NK_SET_METRICS, "--metrics"));
}

/* The listener's own key: from the file, a flag that defines the command
 * line's listener, or the default. */
static const char *
show_lorigin(char *buf, size_t size, const struct nk__settings *s,
             const struct nk__listen_conf *lc, const char *key,
             unsigned cli_bit, const char *flag)
{
    return show_origin(buf, size, s, lc->file != NULL ? lc->key_line : NULL,
                       key, cli_bit, flag);
}

void
nk__show_listener(FILE *out, const struct nk__settings *s,
                  const struct nk__listen_conf *lc, const struct nk__plugin *p,
                  const struct nk__bindaddr *addrs, size_t naddrs)
{
    static const char *const proxy[] = {"off", "v1", "v2", "any"};
    const int cli = lc->file == NULL; /* the command line's listener */
    const struct nk__plugin_conf *pc = nk__settings_find_plugin(s, lc->proto);
    char origin[600], v[600];

    if (lc->file != NULL)
        fprintf(out, "[listen.%s] %s:%d\n", lc->name, lc->file, lc->line);
    else
        fprintf(out, "[listen.%s] %s\n", lc->name,
                strcmp(lc->name, "cli") == 0 ? "the command line"
                                             : "the default listener");
    show_line(out, "proto", lc->proto,
              show_lorigin(origin, sizeof(origin), s, lc, "proto",
                           cli ? NK_SET_PROTO : 0, "-p"));
    if (lc->hosts.n == 0)
        show_line(out, "host", "localhost", "default");
    for (size_t i = 0; i < lc->hosts.n; i++)
        show_line(out, "host", lc->hosts.items[i],
                  show_lorigin(origin, sizeof(origin), s, lc, "host",
                               cli ? NK_SET_HOST : 0, "-H"));
    snprintf(v, sizeof(v), "%d", lc->port);
    show_line(out, "port", v,
              show_lorigin(origin, sizeof(origin), s, lc, "port",
                           cli ? NK_SET_PORT : 0, "-P"));
    show_line(out, "transport",
              lc->transport == NK_TRANSPORT_UDP ? "udp" : "tcp",
              show_lorigin(origin, sizeof(origin), s, lc, "transport",
                           cli ? NK_SET_UDP : 0, "-u"));
    show_line(out, "family",
              lc->family == AF_INET    ? "inet"
              : lc->family == AF_INET6 ? "inet6"
                                       : "any",
              show_lorigin(origin, sizeof(origin), s, lc, "family",
                           cli ? NK_SET_FAMILY : 0, "-4/-6"));
    for (size_t i = 0; i < naddrs; i++) {
        nk__addr_format((const struct sockaddr *)&addrs[i].ss, v, sizeof(v));
        show_line(out, "binds", v, addrs[i].implicit ? "(localhost)" : "");
    }
    if (lc->transport == NK_TRANSPORT_TCP) {
        snprintf(v, sizeof(v), "%lld", lc->max_conns);
        show_line(out, "max_conns", v,
                  show_lorigin(origin, sizeof(origin), s, lc, "max_conns",
                               NK_SET_MAX_CONNS, "--max-conns"));
        snprintf(v, sizeof(v), "%lld", lc->max_conns_per_ip);
        show_line(out, "max_conns_per_ip", v,
                  show_lorigin(origin, sizeof(origin), s, lc,
                               "max_conns_per_ip", NK_SET_MAX_CONNS_PER_IP,
                               "--max-conns-per-ip"));
        show_line(out, "idle_timeout",
                  show_seconds(v, sizeof(v), lc->idle_timeout),
                  show_lorigin(origin, sizeof(origin), s, lc, "idle_timeout",
                               NK_SET_IDLE, "--idle-timeout"));
        show_line(out, "message_timeout",
                  show_seconds(v, sizeof(v), lc->message_timeout),
                  show_lorigin(origin, sizeof(origin), s, lc, "message_timeout",
                               NK_SET_MESSAGE_TIMEOUT, "--message-timeout"));
        show_line(out, "write_timeout",
                  show_seconds(v, sizeof(v), lc->write_timeout),
                  show_lorigin(origin, sizeof(origin), s, lc, "write_timeout",
                               NK_SET_WRITE_TIMEOUT, "--write-timeout"));
        snprintf(v, sizeof(v), "%lld", lc->max_output);
        show_line(out, "max_output", v,
                  show_lorigin(origin, sizeof(origin), s, lc, "max_output",
                               NK_SET_MAX_OUTPUT, "--max-output"));
        show_line(out, "proxy_protocol", proxy[lc->proxy_protocol & 3],
                  show_lorigin(origin, sizeof(origin), s, lc, "proxy_protocol",
                               0, NULL));
        for (size_t i = 0; i < lc->proxy_trusted.n; i++) {
            nk__cidr_format(&lc->proxy_trusted.items[i], v, sizeof(v));
            show_line(out, "proxy_trusted", v,
                      show_lorigin(origin, sizeof(origin), s, lc,
                                   "proxy_trusted", 0, NULL));
        }
    }
    for (size_t i = 0; i < lc->acl.n; i++) {
        const struct nk__acl_rule *r = &lc->acl.items[i];
        char range[NK_CIDRSTRLEN];

        nk__cidr_format(&r->cidr, range, sizeof(range));
        if (r->file != NULL)
            snprintf(origin, sizeof(origin), "%s:%d", r->file, r->line);
        else
            snprintf(origin, sizeof(origin), "flag --%s",
                     r->allow ? "allow" : "deny");
        show_line(out, r->allow ? "allow" : "deny", range, origin);
    }
    for (size_t i = 0; i < lc->sockopts.n; i++) {
        const struct nk__kv *kv = &lc->sockopts.items[i];
        char key[200];

        if (nk__kvlist_find(&lc->sockopts, kv->key) != kv)
            continue; /* overridden by a later one */
        snprintf(key, sizeof(key), "sockopt.%s", kv->key);
        if (kv->file != NULL)
            snprintf(origin, sizeof(origin), "%s:%d", kv->file, kv->line);
        else
            snprintf(origin, sizeof(origin), "flag -o");
        show_line(out, key, kv->val, origin);
    }
    /* The plugin's options: -O, else [plugin.NAME], else the default. */
    for (const struct nk_option *o = p->desc->options; o != NULL && o->name;
         o++) {
        const struct nk__kv *kv = nk__kvlist_find(&s->cli_plugin_opts, o->name);
        char key[200];

        snprintf(key, sizeof(key), "%s.%s", p->name, o->name);
        if (kv == NULL && pc != NULL)
            kv = nk__kvlist_find(&pc->opts, o->name);
        if (kv != NULL) {
            show_value(v, sizeof(v), kv->val, kv->len);
            if (kv->file != NULL)
                snprintf(origin, sizeof(origin), "%s:%d", kv->file, kv->line);
            else
                snprintf(origin, sizeof(origin), "flag -O");
            show_line(out, key, v, origin);
        } else {
            /* The default as the plugin wrote it: a string in the
             * quoted form when it needs one, as `netkit plugins` shows. */
            const char *def = o->def != NULL ? o->def : "";
            if (o->type == NK_OPT_STRING && def[0] != '"')
                show_value(v, sizeof(v), def, strlen(def));
            else
                snprintf(v, sizeof(v), "%s", def);
            show_line(out, key, v, "default");
        }
    }
}
