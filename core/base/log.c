/* log.c -- stderr logging.  See log.h. */
#include "base/log.h"

#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_level = NK_LOG_INFO;
static int log_json;
static int log_human_ts; /* human lines begin with a timestamp (serve) */
static int log_journal;  /* stderr is the journal: it stamps every line */

/* Debug lines (-v) share the info tag: the documented format is "[*] Sockopt".
 */
static const char *const log_tags[] = {"[!]", "[!]", "[*]", "[*]"};
static const char *const log_names[] = {"error", "warn", "info", "debug"};

/* systemd sets JOURNAL_STREAM=DEV:INODE for a service whose stderr is
 * connected to the journal; it holds only while stderr is still that
 * stream (not redirected since). */
static int
log_to_journal(void)
{
    const char *env = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2 ||
        fstat(STDERR_FILENO, &st) < 0)
        return 0;
    return (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
}

void
nk__log_setup(int level, int json)
{
    log_level = level;
    log_json = json;
    log_journal = log_to_journal();
}

void
nk__log_timestamps(int on)
{
    log_human_ts = on;
}

/* "2026-11-30T13:55:21.123Z": RFC 3339, UTC, milliseconds. */
static void
log_now(char *buf, size_t size)
{
    struct timespec now;
    struct tm tm;
    size_t n;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03dZ", (int)(now.tv_nsec / 1000000) % 1000);
}

int
nk__log_enabled(int level)
{
    return level <= log_level;
}

int
nk__log_due(uint64_t *last_ms, uint64_t now_ms)
{
    if (*last_ms != 0 && now_ms - *last_ms < NK_LOG_EVERY_MS)
        return 0;
    *last_ms = now_ms != 0 ? now_ms : 1; /* 0 means never logged */
    return 1;
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

/* One JSON object: ts (unless the journal stamps the line), level, msg
 * (already escaped). */
static int
log_json_line(char *line, size_t size, const char *level, const char *esc)
{
    char ts[40];

    if (log_journal)
        return snprintf(line, size, "{\"level\":\"%s\",\"msg\":\"%s\"}\n",
                        level, esc);
    log_now(ts, sizeof(ts));
    return snprintf(line, size,
                    "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", ts,
                    level, esc);
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
        char esc[2048];

        log_json_escape(esc, sizeof(esc), msg);
        n = log_json_line(line, sizeof(line), log_names[level], esc);
    } else if (log_human_ts && !log_journal) {
        char ts[40];

        log_now(ts, sizeof(ts));
        n = snprintf(line, sizeof(line), "%s %s %s\n", ts, log_tags[level],
                     msg);
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
    if (log_json) {
        char esc[2048], json[2200];
        int len;

        log_json_escape(esc, sizeof(esc), line + 8);
        len = log_json_line(json, sizeof(json), "fatal", esc);
        if (len > (int)sizeof(json) - 1)
            len = (int)sizeof(json) - 1;
        log_write(json, (size_t)len);
        return;
    }
    if (n > (int)sizeof(line) - 10)
        n = (int)sizeof(line) - 10;
    line[8 + n] = '\n';
    log_write(line, (size_t)n + 9);
}
