/* IDX reader for MNIST and Fashion-MNIST (docs/formats.md#datasets-read): gzipped or plain files, both through
 * zlib's gzread (it passes plain files through unchanged). */
#include "data/dataset.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/util.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_SIDE 28          /* both datasets are 28x28 */
#define IDX_CLASSES 10       /* both datasets have 10 classes */

static uint32_t idx_be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The size in bytes that the header at b[0..n) declares for the whole file, or 0 when the
 * header is incomplete, of the other kind or of a shape the parse refuses anyway (the parse
 * then names what is wrong). */
static size_t idx_declared(const unsigned char *b, size_t n, int images) {
    size_t header = images ? 16 : 8;
    if (n < header || idx_be32(b) != (images ? IDX_MAGIC_IMAGES : IDX_MAGIC_LABELS)) return 0;
    uint32_t count = idx_be32(b + 4);
    if (count > INT_MAX / 2) return 0;
    if (!images) return header + count;
    if (idx_be32(b + 8) != IDX_SIDE || idx_be32(b + 12) != IDX_SIDE) return 0;
    return header + (size_t)count * IDX_SIDE * IDX_SIDE;
}

/* The (decompressed) content of path into *buf (malloc'd), its length in *len. Reads the
 * header first and then only what it declares, so a small gzip file that inflates to far
 * more (a damaged or hostile one) never takes more memory than its header's claim; bytes
 * past the claim are counted, not kept (*len counts them, *buf holds the claim plus one). */
static int idx_slurp(const char *path, int images, unsigned char **buf, size_t *len, char *err, size_t errlen) {
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, errno ? strerror(errno) : "out of memory");
        return -1;
    }
    gzbuffer(f, 1 << 17);
    size_t header = images ? 16 : 8, limit = header, cap = 1 << 16, n = 0, extra = 0;
    int claimed = 0;   /* limit is the header's claim plus one */
    unsigned char *b = xmalloc(cap);
    for (;;) {
        if (n == limit) {
            if (claimed) {
                /* Extra data: count it, so the message can name the file's size. */
                unsigned char sink[1 << 16];
                int r;
                while ((r = gzread(f, sink, sizeof sink)) > 0) extra += (size_t)r;
                break;
            }
            size_t want = idx_declared(b, n, images);
            if (!want) break;
            claimed = 1;
            limit = want + 1;
        }
        size_t ask = limit - n < (1u << 20) ? limit - n : (1u << 20);
        if (cap - n < ask) {
            while (cap - n < ask) cap *= 2;
            b = xrealloc(b, cap);
        }
        int r = gzread(f, b + n, (unsigned)ask);
        if (r <= 0) break;
        n += (size_t)r;
    }
    /* A gzip stream cut short reads as its partial content plus Z_BUF_ERROR. */
    int zerr = Z_OK;
    /* gzerror's message lives in the stream's state, which gzclose frees: copy it first. */
    char msg[256];
    snprintf(msg, sizeof msg, "%s", gzerror(f, &zerr));
    gzclose(f);
    if (zerr == Z_BUF_ERROR) {
        snprintf(err, errlen, "%s: the gzip stream ends early after %zu decompressed bytes (incomplete download?)", path, n + extra);
        free(b);
        return -1;
    }
    if (zerr != Z_OK) {
        snprintf(err, errlen, "%s: cannot decompress: %s", path, msg);
        free(b);
        return -1;
    }
    *buf = b;
    *len = n + extra;
    return 0;
}

/* Checks the magic number at the start of an IDX file; names the other kind when swapped. */
static int idx_check_magic(const char *path, const unsigned char *b, size_t len, int images, char *err, size_t errlen) {
    uint32_t want = images ? IDX_MAGIC_IMAGES : IDX_MAGIC_LABELS;
    size_t header = images ? 16 : 8;
    if (len < 4) {
        snprintf(err, errlen, "%s: %zu bytes is too short for an IDX %s file (header of %zu bytes)", path, len,
                 images ? "image" : "label", header);
        return -1;
    }
    uint32_t magic = idx_be32(b);
    if (magic != want) {
        const char *hint = magic == IDX_MAGIC_LABELS ? " (that of a label file)"
                         : magic == IDX_MAGIC_IMAGES ? " (that of an image file)" : "";
        snprintf(err, errlen, "%s: bad magic number 0x%08x%s, expected 0x%08x for an IDX %s file", path, magic, hint,
                 want, images ? "image" : "label");
        return -1;
    }
    if (len < header) {
        snprintf(err, errlen, "%s: truncated: expected at least the %zu-byte header but found %zu bytes", path, header, len);
        return -1;
    }
    return 0;
}

/* The image and label files of one split must agree on the count. */
static int idx_check_pair(const char *path, const ImageSet *s, int images, uint32_t count, char *err, size_t errlen) {
    int other_loaded = images ? s->labels != NULL : s->images != NULL;
    if (other_loaded && (uint32_t)s->n != count) {
        snprintf(err, errlen, "%s: count mismatch: it holds %u %s but the %s file holds %d", path, count,
                 images ? "images" : "labels", images ? "label" : "image", s->n);
        return -1;
    }
    return 0;
}

/* Images: header (magic, count, rows, cols), then count*28*28 bytes -> n x 1 x 28 x 28 floats p/255. */
static int idx_parse_images(const char *path, const unsigned char *b, size_t len, ImageSet *s, char *err, size_t errlen) {
    uint32_t count = idx_be32(b + 4), rows = idx_be32(b + 8), cols = idx_be32(b + 12);
    if (rows != IDX_SIDE || cols != IDX_SIDE) {
        snprintf(err, errlen, "%s: images are %ux%u (rows x cols), expected %dx%d", path, rows, cols, IDX_SIDE, IDX_SIDE);
        return -1;
    }
    if (count > INT_MAX / 2) {
        snprintf(err, errlen, "%s: implausible image count %u", path, count);
        return -1;
    }
    size_t pix = (size_t)IDX_SIDE * IDX_SIDE;
    size_t want = 16 + (size_t)count * pix;
    if (len != want) {
        snprintf(err, errlen, "%s: %s: expected %zu bytes (16-byte header + %u images of %dx%d) but found %zu", path,
                 len < want ? "truncated" : "extra data after the last image", want, count, IDX_SIDE, IDX_SIDE, len);
        return -1;
    }
    if (idx_check_pair(path, s, 1, count, err, errlen)) return -1;
    float *img = xmalloc((count ? (size_t)count * pix : 1) * sizeof(float));
    const unsigned char *p = b + 16;
    for (size_t i = 0; i < (size_t)count * pix; i++) img[i] = (float)p[i] / 255.0f;
    free(s->images);
    s->images = img;
    s->n = (int)count;
    s->c = 1;
    s->h = IDX_SIDE;
    s->w = IDX_SIDE;
    return 0;
}

/* Labels: header (magic, count), then count bytes in 0..9 -> int32. */
static int idx_parse_labels(const char *path, const unsigned char *b, size_t len, ImageSet *s, char *err, size_t errlen) {
    uint32_t count = idx_be32(b + 4);
    if (count > INT_MAX / 2) {
        snprintf(err, errlen, "%s: implausible label count %u", path, count);
        return -1;
    }
    size_t want = 8 + (size_t)count;
    if (len != want) {
        snprintf(err, errlen, "%s: %s: expected %zu bytes (8-byte header + %u labels) but found %zu", path,
                 len < want ? "truncated" : "extra data after the last label", want, count, len);
        return -1;
    }
    const unsigned char *p = b + 8;
    for (uint32_t i = 0; i < count; i++)
        if (p[i] >= IDX_CLASSES) {
            snprintf(err, errlen, "%s: label %u at index %u is out of range 0..%d", path, p[i], i, IDX_CLASSES - 1);
            return -1;
        }
    if (idx_check_pair(path, s, 0, count, err, errlen)) return -1;
    int32_t *lab = xmalloc((count ? count : 1) * sizeof(int32_t));
    for (uint32_t i = 0; i < count; i++) lab[i] = p[i];
    free(s->labels);
    s->labels = lab;
    s->n = (int)count;
    return 0;
}

int idx_read(const char *path, int expect_images, ImageSet *inout, char *err, size_t errlen) {
    unsigned char *b = NULL;
    size_t len = 0;
    if (idx_slurp(path, expect_images, &b, &len, err, errlen)) return -1;
    int rc = idx_check_magic(path, b, len, expect_images, err, errlen);
    if (rc == 0)
        rc = expect_images ? idx_parse_images(path, b, len, inout, err, errlen)
                           : idx_parse_labels(path, b, len, inout, err, errlen);
    free(b);
    return rc;
}
