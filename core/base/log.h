/*
 * log.h -- every line netkit prints on stderr goes through here.
 *
 * Human format, one event a line, in the seeds' style:
 *     [*] Listen on 127.0.0.1:9999 (tcp, framed)       info
 *     [!] Frame too big from 127.0.0.1:5000 ...        warning or error
 *     [*] Sockopt SO_RCVBUF = 524288 ...               debug (-v)
 * JSON format (--log-format json): {"ts":"...","level":"info","msg":"..."}.
 * Each line is formatted first and written with one write(2), so lines from
 * several worker threads never interleave.
 */
#ifndef NK_CORE_LOG_H
#define NK_CORE_LOG_H

#include <netkit/plugin.h>

/* Set the most verbose level printed and the format (0 human, 1 JSON). */
void nk__log_setup(int level, int json);

/* Human lines begin with an RFC 3339 timestamp (`netkit serve`), unless
 * stderr is the journal (JOURNAL_STREAM), which stamps lines itself; JSON
 * lines then leave out their "ts" too. */
void nk__log_timestamps(int on);

/* Would a line at `level` be printed? */
int nk__log_enabled(int level);

/* Log one event at `level` (enum nk_log_level). */
void nk__log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* For a line that may come often (a refusal, a shortage): once a second
 * at most.  Returns 1, and records now_ms in *last_ms, when a line may go
 * out; 0 when one went out less than a second ago.  *last_ms starts at 0;
 * one thread's. */
#define NK_LOG_EVERY_MS 1000
int nk__log_due(uint64_t *last_ms, uint64_t now_ms);

/* Print "netkit: MSG" on stderr, whatever the level: the one-line error;
 * under --log-format json, {"ts":...,"level":"fatal","msg":"MSG"}. */
void nk__log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* NK_CORE_LOG_H */
