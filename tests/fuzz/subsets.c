/* subset_parse on any text: 0 with at least two distinct classes, or -1 with a message. */
#include "fuzz_common.h"

#include "data/subset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0; /* a list is read as a C string, so a NUL ends it */
    Subset s;
    char err[512];
    err[0] = 0;
    if (subset_parse(text, "fuzz.txt", "fuzz", &s, err, sizeof err) != 0) {
        if (!err[0] || s.num_classes != 0 || s.wnids || s.source) abort();
        free(text);
        return 0;
    }
    if (s.num_classes < 2) abort();
    for (int k = 0; k < s.num_classes; k++) {
        if (s.index[k] < -1 || s.index[k] > 999 || !s.names[k] || (!s.wnids[k] && s.index[k] < 0)) abort();
        if (s.wnids[k] && (!s.wnids[k][0] || strchr(s.wnids[k], '/') || strchr(s.wnids[k], ' '))) abort();
        for (int j = 0; j < k; j++)
            if ((s.wnids[k] && s.wnids[j] && strcmp(s.wnids[k], s.wnids[j]) == 0) ||
                (s.index[k] >= 0 && s.index[k] == s.index[j]))
                abort();
    }
    subset_free(&s);
    free(text);
    return 0;
}
