/*
 * prompt.h -- the interactive prompt of `netkit connect` on a terminal.
 *
 * When standard input and standard error are terminals, the client edits
 * the line itself (the terminal in non-canonical mode, without echo) so
 * that a message that comes while a line is half typed is printed above
 * it and the prompt and the typed text are drawn again below, as readline
 * does.  Keys: printable text and UTF-8, Backspace, ^U (the whole line),
 * ^W (a word), Enter, ^D on an empty line (end of input); ^C, ^\ and ^Z act
 * as usual, the terminal put back first.  Escape sequences (arrow keys) are
 * ignored.
 */
#ifndef NK_CORE_PROMPT_H
#define NK_CORE_PROMPT_H

#include <stddef.h>
#include <stdint.h>

#define NK_PROMPT_LINE_MAX 4096

struct nk__prompt {
    int on;    /* editing: the terminal is ours until nk__prompt_stop */
    int shown; /* "> " is wanted in front of the typed text */
    int drawn; /* the current line holds the prompt or typed text */
    int esc;   /* inside an escape sequence: 1 after ESC, 2 after ESC [ */
    size_t len;
    char line[NK_PROMPT_LINE_MAX];
};

/* Take the terminal (stdin and stderr must be terminals).  Returns 0, or -1
 * when it cannot be set (then the caller goes on without editing). */
int nk__prompt_start(struct nk__prompt *p);

/* Put the terminal back as it was.  Safe to call more than once. */
void nk__prompt_stop(struct nk__prompt *p);

/*
 * Take n bytes read from the terminal.  Each line ended with Enter is
 * passed to `line` (without its newline); ^D on an empty line sets *eof.
 * Returns 0, or -1 when `line` failed.
 */
int nk__prompt_feed(struct nk__prompt *p, const uint8_t *in, size_t n,
                    int (*line)(void *arg, const char *s, size_t len),
                    void *arg, int *eof);

/* Wipe the current line (before a message is printed over it). */
void nk__prompt_clear(struct nk__prompt *p);

/* Draw the current line again: "> " when `show`, then the typed text. */
void nk__prompt_draw(struct nk__prompt *p, int show);

#endif /* NK_CORE_PROMPT_H */
