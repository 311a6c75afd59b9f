/* folder_cache_read (the decoded ImageNet / Tiny ImageNet cache) on any bytes: 1 with both
 * splits whole and every label in 0..9, or 0 with nothing kept. The key and the picture size
 * the caller would ask for are taken from the input's own header where they are plausible,
 * so that inputs get past the staleness check to the layout and label checks. */
#include "fuzz_common.h"

#include "data/folder_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    uint64_t key = 0;
    uint32_t h = 2, w = 2;
    if (size >= 36) {   /* header: magic[8], version, order, key (offset 16), c, h (28), w (32), ... */
        memcpy(&key, data + 16, sizeof key);
        memcpy(&h, data + 28, sizeof h);
        memcpy(&w, data + 32, sizeof w);
    }
    if (h < 1 || h > 64) h = 2;
    if (w < 1 || w > 64) w = 2;
    const int nclasses = 10;
    Decoded tr, te;
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    if (!folder_cache_read(path, key, (int)h, (int)w, nclasses, &tr, &te)) {
        if (tr.pix || tr.labels || te.pix || te.labels || tr.n || te.n) abort();
        return 0;
    }
    if (tr.n < 0 || te.n < 0 || tr.skipped < 0 || te.skipped != 0) abort();
    size_t one = (size_t)3 * h * w;
    fuzz_touch(tr.pix, (size_t)tr.n * one);
    fuzz_touch(te.pix, (size_t)te.n * one);
    for (int s = 0; s < 2; s++) {
        const Decoded *d = s ? &te : &tr;
        for (int i = 0; i < d->n; i++)
            if (d->labels[i] < 0 || d->labels[i] >= nclasses) abort();
    }
    free(tr.pix); free(tr.labels); free(te.pix); free(te.labels);
    return 0;
}
