/* child.c -- plugin code in a child process.  See child.h. */
#include "plugin/child.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"

/* A child's exit status is CHILD_BASE + fn's result; anything else is the
 * plugin leaving on its own (exit() in a constructor). */
#define CHILD_BASE 100

static double
child_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
child_main(nk__child_fn fn, void *arg, int wfd)
{
    static const int crash[] = {SIGSEGV, SIGBUS,  SIGFPE, SIGILL,
                                SIGABRT, SIGTRAP, SIGSYS};
    struct rlimit no_core = {0, 0};
    FILE *out;
    int rc;

    /* A crash must kill the child, whatever handler the parent (or a
     * sanitizer) installed, and leave no core file behind. */
    for (size_t i = 0; i < sizeof(crash) / sizeof(crash[0]); i++)
        signal(crash[i], SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    setrlimit(RLIMIT_CORE, &no_core);
    out = fdopen(wfd, "w");
    if (out == NULL)
        _exit(CHILD_BASE + NK_CHILD_RESULT_MAX + 1);
    rc = fn(arg, out);
    if (rc < 0 || rc > NK_CHILD_RESULT_MAX)
        rc = NK_CHILD_RESULT_MAX;
    fclose(out);
    _exit(CHILD_BASE + rc);
}

/* Append what can be read from fd to buf; 0 at end of file. */
static int
child_read(int fd, char *buf, size_t *used)
{
    char tmp[4096];
    ssize_t n = read(fd, tmp, sizeof(tmp));

    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 1 : 0;
    if (n == 0)
        return 0;
    if (*used < NK_CHILD_TEXT_MAX) {
        size_t keep = (size_t)n;
        if (keep > NK_CHILD_TEXT_MAX - *used)
            keep = NK_CHILD_TEXT_MAX - *used;
        memcpy(buf + *used, tmp, keep);
        *used += keep;
    }
    return 1;
}

int
nk__child_run(nk__child_fn fn, void *arg, double timeout, char **text,
              char *why, size_t size)
{
    double end = child_now() + timeout;
    size_t used = 0;
    int fds[2], status = 0, open_pipe = 1, waited = 0;
    char *buf;
    pid_t pid;

    *text = NULL;
    buf = nk__malloc(NK_CHILD_TEXT_MAX + 1);
    if (buf == NULL) {
        snprintf(why, size, "out of memory");
        return -1;
    }
    if (pipe2(fds, O_CLOEXEC) < 0) {
        snprintf(why, size, "cannot make a pipe: %s", strerror(errno));
        nk__free(buf);
        return -1;
    }
    fflush(NULL); /* nothing buffered may be written twice */
    pid = fork();
    if (pid < 0) {
        snprintf(why, size, "cannot fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        nk__free(buf);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(fn, arg, fds[1]);
    }
    close(fds[1]);
    while (!waited) {
        double left = end - child_now();
        struct pollfd pfd = {fds[0], POLLIN, 0};
        pid_t w;

        if (left <= 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            close(fds[0]);
            buf[used] = '\0';
            *text = buf;
            snprintf(why, size, "did not finish within %g s", timeout);
            return -1;
        }
        if (open_pipe) {
            /* Read until the child closes its end. */
            if (poll(&pfd, 1, (int)(left * 1000) + 1) > 0 &&
                !child_read(fds[0], buf, &used))
                open_pipe = 0;
            continue;
        }
        w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            waited = 1;
        else if (w < 0 && errno != EINTR)
            waited = 1;
        else
            poll(NULL, 0, 2); /* closed its end, not yet gone */
    }
    close(fds[0]);
    buf[used] = '\0';
    *text = buf;
    if (WIFSIGNALED(status)) {
        snprintf(why, size, "crashed (signal %d, %s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) >= CHILD_BASE &&
        WEXITSTATUS(status) <= CHILD_BASE + NK_CHILD_RESULT_MAX)
        return WEXITSTATUS(status) - CHILD_BASE;
    snprintf(why, size, "exited with status %d",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return -1;
}
