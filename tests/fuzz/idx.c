/* idx_read on any bytes, gzipped or not, as an image file and as a label file, each
 * into a fresh set and after the other kind (the count check between the two). */
#include "fuzz_common.h"

#include "data/dataset.h"

static void check(const ImageSet *s) {
    if (s->images) fuzz_touch(s->images, (size_t)s->n * 28 * 28 * sizeof(float));
    if (s->labels)
        for (int i = 0; i < s->n; i++)
            if (s->labels[i] < 0 || s->labels[i] > 9) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    char err[512];
    for (int first = 0; first < 2; first++) {
        ImageSet s;
        memset(&s, 0, sizeof s);
        err[0] = 0;
        if (idx_read(path, first, &s, err, sizeof err) != 0 && !err[0]) abort();
        check(&s);
        err[0] = 0;
        if (idx_read(path, !first, &s, err, sizeof err) != 0 && !err[0]) abort();
        check(&s);
        free(s.images);
        free(s.labels);
    }
    return 0;
}
