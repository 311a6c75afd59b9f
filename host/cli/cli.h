/* Command-line flags with the original scripts' names.
 * Accepted forms: --name=value, --name value, and for booleans a bare --name.
 * Underscores and dashes are interchangeable (--syn_steps == --syn-steps).
 * Unknown flags and bad values are fatal errors that name the flag.
 * A command whose flags include "cfg" (a FLAG_STR) also takes its flags from a YAML file,
 * --cfg FILE (cli_config.h); the command line overrides the file. */
#ifndef CLMTT_CLI_H
#define CLMTT_CLI_H

#include <stddef.h>

typedef enum {
    FLAG_INT,      /* int */
    FLAG_OPT_INT,  /* int, or "None" (stored as -1): the original's optional ints */
    FLAG_FLOAT,    /* double */
    FLAG_STR,      /* const char * (points into argv, a default literal or a config file's value,
                      which is kept for the life of the program) */
    FLAG_BOOL,     /* int 0/1: bare flag = true; value True/False/true/false/1/0/yes/no */
    FLAG_DEVICE    /* int: "None" (-1), an index, or a list "0,1,...": one rank per device,
                      the node-local rank picks its entry (core/runtime.h rt_pick_device) */
} FlagType;

typedef struct {
    const char *name;   /* with underscores, without dashes: "syn_steps" */
    FlagType type;
    void *dest;
    const char *help;
    int given;          /* set by cli_parse: FLAG_GIVEN_ARGV or FLAG_GIVEN_CFG when the flag
                           appeared, 0 when it holds its default */
} Flag;

enum { FLAG_GIVEN_ARGV = 1, FLAG_GIVEN_CFG = 2 };

typedef struct {
    const char *command;   /* "distill" */
    const char *summary;   /* one line */
    Flag *flags;
    int nflags;
} FlagSet;

/* Parses argv[1..argc-1] (argv[0] is the subcommand), then the --cfg file if given.
 * Prints usage and exits 0 on --help (showing the values that flags before it and the
 * file set). */
void cli_parse(FlagSet *fs, int argc, char **argv);
/* The flag whose name is text[0..n) ('-' may stand for '_'), or NULL. */
Flag *cli_find(FlagSet *fs, const char *text, size_t n);
/* Sets f from the text v through its type's parser, dying with the flag's message on a bad
 * value; origin (NULL for the command line) is appended to the message and given becomes
 * FLAG_GIVEN_CFG instead of FLAG_GIVEN_ARGV. */
void cli_set(const FlagSet *fs, Flag *f, const char *v, const char *origin);
void cli_usage(const FlagSet *fs);
/* The flag record, to ask whether it was given. */
const Flag *cli_flag(const FlagSet *fs, const char *name);
/* Validation helper: dies "--name: message" when cond is false; when the flag's value
 * came from a --cfg file, the message names the file. */
void cli_require(int cond, const char *flag, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Parses a boolean literal; returns -1 when it is not one. */
int cli_parse_bool(const char *s);

#endif
