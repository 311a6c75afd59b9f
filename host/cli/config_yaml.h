/* Config files: a flat YAML mapping of key: value, the shape of DATM's configs
 * (docs/formats.md#config-files). This reader knows YAML, not flags; cli_config.c turns
 * the entries into flag values. */
#ifndef CLMTT_CONFIG_YAML_H
#define CLMTT_CONFIG_YAML_H

#include <stddef.h>

typedef enum {
    CFG_SCALAR,     /* key: text (quoted or plain) */
    CFG_NULL,       /* key:  or key: ~ / null (plain): YAML's null */
    CFG_SEQUENCE,   /* key: [a, b] or a block list */
    CFG_MAPPING     /* key: {a: b} or an indented block */
} CfgKind;

typedef struct {
    char *key;
    char *value;      /* the scalar's text; "" for the other kinds */
    CfgKind kind;
    int line, column; /* 1-based, of the key */
} CfgEntry;

typedef struct {
    CfgEntry *e;   /* in file order */
    int n;
} CfgFile;

/* Reads path. Returns 0, or -1 with a message naming path (and the line and column of a
 * YAML error, of both places of a duplicate key) in err. An empty file is a mapping of no
 * keys; anything but one mapping of scalar keys at the top is an error. */
int cfg_read(const char *path, CfgFile *out, char *err, size_t errlen);
void cfg_free(CfgFile *f);

#endif
