/*
 * prompt.c -- line editing for the interactive client.  See prompt.h.
 *
 * Only the local modes change (ICANON and ECHO off, one byte a read):
 * input and output processing stay, so Enter still reads as '\n' and "\n"
 * still writes as "\r\n", and ISIG stays, so ^C still interrupts.  The
 * signals that end or stop the process put the terminal back first; a
 * stopped client takes it again when continued.
 */
#include "connect/prompt.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define PROMPT_WIPE "\r\033[K" /* to the line's start, erase to its end */

static struct termios prompt_saved, prompt_raw;
static volatile sig_atomic_t prompt_taken;
static struct nk__prompt *prompt_current; /* redrawn after a stop */

static const int prompt_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
#define PROMPT_NSIGNALS (sizeof(prompt_signals) / sizeof(prompt_signals[0]))

static void prompt_on_signal(int sig);

static void
prompt_handle(int sig, void (*fn)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void
prompt_put(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Async-signal-safe: tcsetattr, sigaction, sigprocmask, raise and write
 * only. */
static void
prompt_on_signal(int sig)
{
    int saved = errno;
    sigset_t set;

    if (prompt_taken)
        tcsetattr(STDIN_FILENO, TCSADRAIN, &prompt_saved);
    /* What comes next (the shell's prompt) starts on a line of its own. */
    if (prompt_current != NULL && prompt_current->drawn)
        prompt_put("\n", 1);
    prompt_handle(sig, SIG_DFL);
    /* The signal is blocked while its handler runs: unblocked, the raise
     * acts now (ends or stops the process) instead of on return, which
     * would run this handler again and again. */
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    /* Still here: a stop that was continued (or a signal ignored). */
    if (prompt_taken) {
        tcsetattr(STDIN_FILENO, TCSADRAIN, &prompt_raw);
        prompt_handle(sig, prompt_on_signal);
        if (prompt_current != NULL)
            nk__prompt_draw(prompt_current, prompt_current->shown);
    }
    errno = saved;
}

int
nk__prompt_start(struct nk__prompt *p)
{
    memset(p, 0, sizeof(*p));
    if (tcgetattr(STDIN_FILENO, &prompt_saved) < 0)
        return -1;
    prompt_raw = prompt_saved;
    prompt_raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    prompt_raw.c_cc[VMIN] = 1;
    prompt_raw.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSADRAIN, &prompt_raw) < 0)
        return -1;
    prompt_taken = 1;
    prompt_current = p;
    for (size_t i = 0; i < PROMPT_NSIGNALS; i++)
        prompt_handle(prompt_signals[i], prompt_on_signal);
    p->on = 1;
    return 0;
}

void
nk__prompt_stop(struct nk__prompt *p)
{
    if (!p->on)
        return;
    p->on = 0;
    for (size_t i = 0; i < PROMPT_NSIGNALS; i++)
        prompt_handle(prompt_signals[i], SIG_DFL);
    prompt_taken = 0;
    prompt_current = NULL;
    tcsetattr(STDIN_FILENO, TCSADRAIN, &prompt_saved);
}

void
nk__prompt_clear(struct nk__prompt *p)
{
    if (p->on && p->drawn)
        prompt_put(PROMPT_WIPE, sizeof(PROMPT_WIPE) - 1);
    p->drawn = 0;
}

void
nk__prompt_draw(struct nk__prompt *p, int show)
{
    if (!p->on)
        return;
    p->shown = show;
    if (!show && p->len == 0) {
        nk__prompt_clear(p);
        return;
    }
    prompt_put(PROMPT_WIPE, sizeof(PROMPT_WIPE) - 1);
    if (show)
        prompt_put("> ", 2);
    prompt_put(p->line, p->len);
    p->drawn = 1;
}

/* Drop the last character: a UTF-8 sequence goes whole. */
static void
prompt_rubout(struct nk__prompt *p)
{
    while (p->len > 0 && ((unsigned char)p->line[p->len - 1] & 0xc0) == 0x80)
        p->len--;
    if (p->len > 0)
        p->len--;
}

/* ^W: the spaces before the cursor, then the word. */
static void
prompt_word(struct nk__prompt *p)
{
    while (p->len > 0 && p->line[p->len - 1] == ' ')
        p->len--;
    while (p->len > 0 && p->line[p->len - 1] != ' ')
        p->len--;
}

int
nk__prompt_feed(struct nk__prompt *p, const uint8_t *in, size_t n,
                int (*line)(void *arg, const char *s, size_t len), void *arg,
                int *eof)
{
    for (size_t i = 0; i < n && !*eof; i++) {
        uint8_t b = in[i];

        if (p->esc == 1) { /* ESC [ ... or ESC O x, or ESC x */
            p->esc = b == '[' || b == 'O' ? 2 : 0;
            continue;
        }
        if (p->esc == 2) {
            if (b >= 0x40 && b <= 0x7e)
                p->esc = 0;
            continue;
        }
        if (b == '\n' || b == '\r') {
            nk__prompt_draw(p, p->shown); /* the whole line, then Enter */
            prompt_put("\n", 1);
            p->drawn = 0;
            p->shown = 0;
            if (line(arg, p->line, p->len) < 0)
                return -1;
            p->len = 0;
        } else if (b == 0x04) {
            if (p->len == 0)
                *eof = 1;
        } else if (b == 0x7f || b == 0x08) {
            prompt_rubout(p);
        } else if (b == 0x15) {
            p->len = 0;
        } else if (b == 0x17) {
            prompt_word(p);
        } else if (b == 0x1b) {
            p->esc = 1;
        } else if ((b >= 0x20 || b == '\t') && p->len < sizeof(p->line)) {
            p->line[p->len++] = (char)b;
        }
    }
    return 0;
}
