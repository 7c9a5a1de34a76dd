/* log.c -- stderr logging.  See log.h. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_level = NK_LOG_INFO;
static int log_json;

/* Debug lines (-v) share the info tag: the documented format is "[*] Sockopt".
 */
static const char *const log_tags[] = {"[!]", "[!]", "[*]", "[*]"};
static const char *const log_names[] = {"error", "warn", "info", "debug"};

void
nk__log_setup(int level, int json)
{
    log_level = level;
    log_json = json;
}

int
nk__log_enabled(int level)
{
    return level <= log_level;
}

/* Append `s` to out as a JSON string body (quotes not included). */
static size_t
log_json_escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;

    for (; *s != '\0' && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return n;
}

static void
log_write(const char *line, size_t len)
{
    /* One write per line; a short write to stderr is not worth a retry. */
    ssize_t rc = write(STDERR_FILENO, line, len);
    (void)rc;
}

void
nk__log(int level, const char *fmt, ...)
{
    char msg[1024], line[2200];
    va_list ap;
    int n;

    if (!nk__log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (log_json) {
        char esc[2048], ts[40];
        struct timespec now;
        struct tm tm;

        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        log_json_escape(esc, sizeof(esc), msg);
        n = snprintf(line, sizeof(line),
                     "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":\"%s\"}\n",
                     ts, now.tv_nsec / 1000000, log_names[level], esc);
    } else {
        n = snprintf(line, sizeof(line), "%s %s\n", log_tags[level], msg);
    }
    if (n > (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 1;
    log_write(line, (size_t)n);
}

void
nk__log_fatal(const char *fmt, ...)
{
    char line[1100];
    va_list ap;
    int n;

    memcpy(line, "netkit: ", 8);
    va_start(ap, fmt);
    n = vsnprintf(line + 8, sizeof(line) - 9, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 10)
        n = (int)sizeof(line) - 10;
    line[8 + n] = '\n';
    log_write(line, (size_t)n + 9);
}
