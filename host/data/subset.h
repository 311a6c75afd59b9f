/* ImageNet subsets (docs/algorithm.md#imagenet-subsets-and-resizing): text lists of classes, one per line, label = line order.
 * A line is "<wnid> [<ImageNet index>] [<name>]" or "<ImageNet index> [<name>]"; '#'
 * starts a comment. An index given alone is resolved when the data is loaded, as the
 * position of the class in the sorted list of the 1000 folders of <data_path>/train.
 * Lists are looked up as <name>.txt in $CLMTT_DATA_DIR/subsets, then in the source tree's
 * data/subsets, then among the six lists compiled into the binary. */
#ifndef CLMTT_SUBSET_H
#define CLMTT_SUBSET_H

#include <stddef.h>

typedef struct {
    char name[64];       /* the subset's name (file name without .txt) */
    char *source;        /* the file it was read from, or "built-in" */
    int num_classes;
    char **wnids;        /* per class: the class folder name, NULL when the line gave only an index */
    int *index;          /* per class: the ImageNet-1k index, -1 when the line gave none */
    char **names;        /* per class: the display name (the line's name, else the wnid, else "index N") */
    int *line;           /* per class: its line number in the source, for messages */
} Subset;

/* Parses a list. source names it in messages. Returns 0, or -1 with "source:line: reason". */
int subset_parse(const char *text, const char *source, const char *name, Subset *out, char *err, size_t errlen);
/* Finds and parses the list called name (lookup order above). Returns 0; 1 when no list
 * has that name; -1 with the reason in err when the name is malformed or the list is bad. */
int subset_find(const char *name, Subset *out, char *err, size_t errlen);
/* The names of every list the lookup can find, sorted, comma-separated (malloc'd). */
char *subset_known(void);
void subset_free(Subset *s);

#endif
