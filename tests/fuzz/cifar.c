/* cifar_read on any bytes as CIFAR-10 and as CIFAR-100 records, the second appended to
 * the set of the first (or refused). */
#include "fuzz_common.h"

#include "data/dataset.h"

static void check(const ImageSet *s, int top) {
    if (s->n == 0) return;
    if (s->c != 3 || s->h != 32 || s->w != 32) abort();
    fuzz_touch(s->images, (size_t)s->n * 3072 * sizeof(float));
    for (int i = 0; i < s->n; i++)
        if (s->labels[i] < 0 || s->labels[i] > top) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    char err[512];
    for (int first = 0; first < 2; first++) {
        ImageSet s;
        memset(&s, 0, sizeof s);
        err[0] = 0;
        if (cifar_read(path, first, &s, err, sizeof err) != 0 && !err[0]) abort();
        check(&s, first ? 99 : 9);
        err[0] = 0;
        if (cifar_read(path, !first, &s, err, sizeof err) != 0 && !err[0]) abort();
        check(&s, 99);
        free(s.images);
        free(s.labels);
    }
    return 0;
}
