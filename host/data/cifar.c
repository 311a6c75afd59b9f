/* CIFAR-10 / CIFAR-100 binary-version reader (docs/formats.md#datasets-read). A record is the label byte(s)
 * followed by 3072 pixel bytes already in CHW order (1024 red, 1024 green, 1024 blue). */
#include "data/dataset.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define CIFAR_PIXELS 3072    /* 3 x 32 x 32 */

/* A whole file of records into memory; the error names the file. */
static unsigned char *cifar_slurp(const char *path, size_t *len, char *err, size_t errlen) {
    errno = 0;
    unsigned char *b = read_file(path, len);
    if (!b) snprintf(err, errlen, "cannot read %s: %s", path, errno ? strerror(errno) : "read error");
    return b;
}

/* Size checks: a whole, non-zero number of records. Names the other variant when its
 * record size fits instead (a CIFAR-100 file given as CIFAR-10 or the reverse). */
static int cifar_check_size(const char *path, size_t len, int cifar100, char *err, size_t errlen) {
    size_t rec = (size_t)CIFAR_PIXELS + (cifar100 ? 2 : 1);
    size_t other = (size_t)CIFAR_PIXELS + (cifar100 ? 1 : 2);
    if (len == 0) {
        snprintf(err, errlen, "%s: empty file (no %zu-byte records)", path, rec);
        return -1;
    }
    if (len % rec != 0) {
        snprintf(err, errlen,
                 "%s: file size %zu is not a whole number of %zu-byte records (%s: %s label byte%s + 3072 pixel bytes); "
                 "%zu records and %zu bytes left over%s",
                 path, len, rec, cifar100 ? "CIFAR-100" : "CIFAR-10", cifar100 ? "coarse and fine" : "1",
                 cifar100 ? "s" : "", len / rec, len % rec,
                 len % other == 0 ? (cifar100 ? " (the size fits CIFAR-10 records)" : " (the size fits CIFAR-100 records)")
                                  : " (truncated?)");
        return -1;
    }
    if (len / rec > (size_t)INT_MAX / 2) {
        snprintf(err, errlen, "%s: implausible size %zu", path, len);
        return -1;
    }
    return 0;
}

/* Label range checks for every record before anything is appended. */
static int cifar_check_labels(const char *path, const unsigned char *b, size_t nrec, int cifar100, char *err, size_t errlen) {
    size_t rec = (size_t)CIFAR_PIXELS + (cifar100 ? 2 : 1);
    for (size_t i = 0; i < nrec; i++) {
        const unsigned char *r = b + i * rec;
        if (cifar100 && r[0] >= 20) {
            snprintf(err, errlen, "%s: record %zu has coarse label %u, out of range 0..19", path, i, r[0]);
            return -1;
        }
        unsigned lab = cifar100 ? r[1] : r[0];
        unsigned top = cifar100 ? 99 : 9;
        if (lab > top) {
            snprintf(err, errlen, "%s: record %zu has %slabel %u, out of range 0..%u", path, i, cifar100 ? "fine " : "",
                     lab, top);
            return -1;
        }
    }
    return 0;
}

int cifar_read(const char *path, int cifar100, ImageSet *s, char *err, size_t errlen) {
    if (s->n > 0 && (s->c != 3 || s->h != 32 || s->w != 32)) {
        snprintf(err, errlen, "%s: cannot append 3x32x32 images to a set of %dx%dx%d images", path, s->c, s->h, s->w);
        return -1;
    }
    size_t len = 0;
    unsigned char *b = cifar_slurp(path, &len, err, errlen);
    if (!b) return -1;
    size_t rec = (size_t)CIFAR_PIXELS + (cifar100 ? 2 : 1);
    size_t nrec = len / rec;
    if (cifar_check_size(path, len, cifar100, err, errlen) || cifar_check_labels(path, b, nrec, cifar100, err, errlen)) {
        free(b);
        return -1;
    }
    if ((size_t)s->n + nrec > (size_t)INT_MAX / 2) {
        snprintf(err, errlen, "%s: too many images in total", path);
        free(b);
        return -1;
    }
    size_t n0 = (size_t)s->n, n1 = n0 + nrec;
    s->images = xrealloc(s->images, n1 * CIFAR_PIXELS * sizeof(float));
    s->labels = xrealloc(s->labels, n1 * sizeof(int32_t));
    for (size_t i = 0; i < nrec; i++) {
        const unsigned char *r = b + i * rec;
        s->labels[n0 + i] = cifar100 ? r[1] : r[0];
        const unsigned char *p = r + (cifar100 ? 2 : 1);
        float *dst = s->images + (n0 + i) * CIFAR_PIXELS;
        for (int k = 0; k < CIFAR_PIXELS; k++) dst[k] = (float)p[k] / 255.0f;
    }
    s->n = (int)n1;
    s->c = 3;
    s->h = 32;
    s->w = 32;
    free(b);
    return 0;
}
