/*
 * main.c -- runs the header checks.  The real test is that the files
 * compiled at all: each includes one public header and nothing else, with
 * -std=c99 -pedantic and without _GNU_SOURCE, as a plugin author's build
 * would.
 */
int headers_plugin(void);
int headers_error(void);
int headers_version(void);
int headers_testkit(void);

int
main(void)
{
    return headers_plugin() | headers_error() | headers_version() |
           headers_testkit();
}
