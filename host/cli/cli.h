/* Command-line flags with the original scripts' names.
 * Accepted forms: --name=value, --name value, and for booleans a bare --name.
 * Underscores and dashes are interchangeable (--syn_steps == --syn-steps).
 * Unknown flags and bad values are fatal errors that name the flag. */
#ifndef CLMTT_CLI_H
#define CLMTT_CLI_H

typedef enum {
    FLAG_INT,      /* int */
    FLAG_OPT_INT,  /* int, or "None" (stored as -1): the original's optional ints */
    FLAG_FLOAT,    /* double */
    FLAG_STR,      /* const char * (points into argv or a default literal) */
    FLAG_BOOL,     /* int 0/1: bare flag = true; value True/False/true/false/1/0/yes/no */
    FLAG_DEVICE    /* int: "None" (-1), an index, or a list "0,1,...": one rank per device,
                      the node-local rank picks its entry (core/runtime.h rt_pick_device) */
} FlagType;

typedef struct {
    const char *name;   /* with underscores, without dashes: "syn_steps" */
    FlagType type;
    void *dest;
    const char *help;
    int given;          /* set by cli_parse when the flag appeared */
} Flag;

typedef struct {
    const char *command;   /* "distill" */
    const char *summary;   /* one line */
    Flag *flags;
    int nflags;
} FlagSet;

/* Parses argv[1..argc-1] (argv[0] is the subcommand). Prints usage and exits 0 on --help. */
void cli_parse(FlagSet *fs, int argc, char **argv);
void cli_usage(const FlagSet *fs);
/* The flag record, to ask whether it was given. */
const Flag *cli_flag(const FlagSet *fs, const char *name);
/* Validation helper: dies "--name: message" when cond is false. */
void cli_require(int cond, const char *flag, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Parses a boolean literal; returns -1 when it is not one. */
int cli_parse_bool(const char *s);

#endif
