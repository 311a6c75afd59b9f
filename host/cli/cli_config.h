/* --cfg FILE: flags from a YAML config file (DATM's configs run unchanged;
 * docs/formats.md#config-files). Each key sets the flag of that name through the same
 * parser as the command line; keys the command does not have are reported and ignored,
 * unless they look like a misspelt flag, which is an error. */
#ifndef CLMTT_CLI_CONFIG_H
#define CLMTT_CLI_CONFIG_H

#include "cli/cli.h"

/* Sets the flags of fs that the command line did not give from the file at path (given
 * becomes FLAG_GIVEN_CFG). Prints "Config: path (N keys)" on stdout and the ignored keys
 * on one stderr line; dies naming the file on anything wrong with it. */
void cli_apply_config(FlagSet *fs, const char *path);

/* Whether name is a key of DATM's configuration (its utils/cfg.py), flag of clmtt or not. */
int cli_config_datm_key(const char *name);

/* The name among fs's flags and DATM's keys that the unknown key most likely misspells
 * (case aside, a few edits away), or NULL. */
const char *cli_config_suggest(const FlagSet *fs, const char *key);

#endif
