/*
 * cli.h -- the command line: `netkit COMMAND [options] [args]`.
 *
 * One table describes every option: its names, which commands take it, its
 * argument, its help line and its setter.  getopt_long's option array, the
 * checks and the --help text are all generated from it.
 */
#ifndef NK_CORE_CLI_H
#define NK_CORE_CLI_H

#include <stdio.h>

#include "base/err.h"
#include "config/settings.h"

/* Parse argv into s.  Returns 0, or -1 with err (status 2). */
int nk__cli_parse(struct nk__settings *s, int argc, char **argv,
                  struct nk_err *err);

/* Every help line fits this many columns. */
#define NK_CLI_WIDTH 80

/* Print text from column col (what the line already holds), words wrapped
 * at NK_CLI_WIDTH, each further line indented to column indent; a newline
 * in text starts a line too.  Ends with a newline. */
void nk__cli_wrap(FILE *out, const char *text, int col, int indent);

/* Print the help of one command (NK_CMD_NONE/NK_CMD_HELP: the overview). */
void nk__cli_usage(FILE *out, enum nk__command cmd);

#endif /* NK_CORE_CLI_H */
