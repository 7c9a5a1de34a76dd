/*
 * child.h -- run a piece of work that calls a plugin's code in a child
 * process, so that a constructor or codec that crashes, hangs or exits
 * cannot take the netkit process down with it (GStreamer's plugin scanner
 * works the same way).
 */
#ifndef NK_CORE_CHILD_H
#define NK_CORE_CHILD_H

#include <stddef.h>
#include <stdio.h>

/* The most a child may say; the rest is dropped. */
#define NK_CHILD_TEXT_MAX (256 * 1024)

/* Results a child's work may return: 0..NK_CHILD_RESULT_MAX. */
#define NK_CHILD_RESULT_MAX 20

/* The work: write to out, return a result 0..NK_CHILD_RESULT_MAX. */
typedef int (*nk__child_fn)(void *arg, FILE *out);

/*
 * Fork, run fn(arg, out) in the child with out a pipe to this process, and
 * wait at most `timeout` seconds for it.  The child runs with default
 * handlers for crash signals and no core files, and leaves with _exit, so
 * no atexit handler or destructor of the parent runs twice.
 *
 * Returns fn's result, with everything it wrote in *text (NUL-terminated,
 * nk__free it; may be NULL when nothing was written).  Returns -1 when the
 * child did not return normally, with `why` saying how: "crashed (signal
 * 11, Segmentation fault)", "exited with status 1", "did not finish within
 * 5 s", or why it could not be started; *text then holds what it wrote
 * before that.
 */
int nk__child_run(nk__child_fn fn, void *arg, double timeout, char **text,
                  char *why, size_t size);

#endif /* NK_CORE_CHILD_H */
