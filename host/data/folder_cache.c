/* The decoded cache file (see folder_cache.h). */
#include "data/folder_cache.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/util.h"

#define FC_MAGIC "CLMTTPIC"
#define FC_HEADER 48

/* File layout, native byte order (checked through a marker):
 *   "CLMTTPIC", u32 version, u32 0x01020304, u64 key, u32 c, h, w, u32 ntrain, ntest, skipped,
 *   i32 labels[ntrain], i32 labels[ntest], u8 train[ntrain][c][h][w], u8 test[ntest][c][h][w]. */
typedef struct {
    char magic[8];
    uint32_t version, order;
    uint64_t key;
    uint32_t c, h, w, ntrain, ntest, skipped;
} FcHeader;

_Static_assert(sizeof(FcHeader) == FC_HEADER, "cache header layout");

/* 1 when every label of d lies in 0..nclasses-1: a cache whose key matches could still have
 * been damaged on disk, and a label out of range would index past the class rows later. */
static int fc_labels_ok(const Decoded *d, int nclasses) {
    for (int i = 0; i < d->n; i++)
        if (d->labels[i] < 0 || d->labels[i] >= nclasses) return 0;
    return 1;
}

int folder_cache_read(const char *path, uint64_t key, int h, int w, int nclasses, Decoded *tr, Decoded *te) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    FcHeader hd;
    struct stat st;
    int ok = fread(&hd, sizeof hd, 1, f) == 1 && fstat(fileno(f), &st) == 0;
    if (!ok || memcmp(hd.magic, FC_MAGIC, 8) != 0 || hd.version != FOLDER_CACHE_VERSION || hd.order != 0x01020304u) {
        printf("The decoded cache %s is unreadable or from another version; rebuilding it\n", path);
        fclose(f);
        return 0;
    }
    if (hd.key != key || hd.c != 3 || (int)hd.h != h || (int)hd.w != w) {
        printf("The decoded cache %s is out of date (the pictures changed); rebuilding it\n", path);
        fclose(f);
        return 0;
    }
    size_t one = (size_t)3 * h * w, n = (size_t)hd.ntrain + hd.ntest;
    if ((uint64_t)st.st_size != FC_HEADER + n * (4 + one) || hd.ntrain > INT_MAX / 2 || hd.ntest > INT_MAX / 2) {
        printf("The decoded cache %s is truncated; rebuilding it\n", path);
        fclose(f);
        return 0;
    }
    tr->n = (int)hd.ntrain;
    te->n = (int)hd.ntest;
    tr->skipped = (int)hd.skipped;
    te->skipped = 0;
    tr->labels = xmalloc((tr->n ? (size_t)tr->n : 1) * 4);
    te->labels = xmalloc((te->n ? (size_t)te->n : 1) * 4);
    tr->pix = xmalloc((tr->n ? (size_t)tr->n : 1) * one);
    te->pix = xmalloc((te->n ? (size_t)te->n : 1) * one);
    ok = fread(tr->labels, 4, (size_t)tr->n, f) == (size_t)tr->n && fread(te->labels, 4, (size_t)te->n, f) == (size_t)te->n &&
         fread(tr->pix, one, (size_t)tr->n, f) == (size_t)tr->n && fread(te->pix, one, (size_t)te->n, f) == (size_t)te->n;
    fclose(f);
    if (ok && (!fc_labels_ok(tr, nclasses) || !fc_labels_ok(te, nclasses) || hd.skipped > INT_MAX / 2)) {
        printf("The decoded cache %s is damaged (a label out of 0..%d or a bad count); rebuilding it\n", path,
               nclasses - 1);
        ok = 0;
    } else if (!ok) {
        printf("The decoded cache %s could not be read; rebuilding it\n", path);
    }
    if (!ok) {
        free(tr->labels); free(te->labels); free(tr->pix); free(te->pix);
        memset(tr, 0, sizeof *tr);
        memset(te, 0, sizeof *te);
        return 0;
    }
    return 1;
}

/* mkdir -p that reports instead of dying: a cache that cannot be written only costs time. */
static int fc_mkdirs(const char *dir) {
    char *p = xstrdup(dir);
    int rc = 0;
    for (char *s = p + 1; rc == 0; s++) {
        if (*s != '/' && *s != 0) continue;
        char saved = *s;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) rc = -1;
        *s = saved;
        if (!saved) break;
    }
    free(p);
    return rc == 0 && dir_exists(dir) ? 0 : -1;
}

void folder_cache_write(const char *dir, const char *path, uint64_t key, int h, int w, const Decoded *tr, const Decoded *te) {
    size_t one = (size_t)3 * h * w, n = (size_t)tr->n + te->n;
    double bytes = FC_HEADER + (double)n * (4 + one);
    char hb[32], why[512] = "";
    struct statvfs vs;
    if (fc_mkdirs(dir) != 0) {
        snprintf(why, sizeof why, "cannot create the folder: %s", strerror(errno));
    } else if (statvfs(dir, &vs) == 0 && (double)vs.f_bavail * vs.f_frsize < bytes * 1.05) {
        snprintf(why, sizeof why, "not enough free space (%s needed)", human_bytes(bytes, hb, sizeof hb));
    }
    size_t tlen = strlen(path) + 32;
    char *tmp = xmalloc(tlen);
    snprintf(tmp, tlen, "%s.tmp.%d", path, (int)getpid());
    FILE *f = why[0] ? NULL : fopen(tmp, "wb");
    if (!why[0] && !f) snprintf(why, sizeof why, "%s", strerror(errno));
    if (f) {
        FcHeader hd = {.version = FOLDER_CACHE_VERSION, .order = 0x01020304u, .key = key, .c = 3, .h = (uint32_t)h, .w = (uint32_t)w,
                       .ntrain = (uint32_t)tr->n, .ntest = (uint32_t)te->n, .skipped = (uint32_t)tr->skipped};
        memcpy(hd.magic, FC_MAGIC, 8);
        int ok = fwrite(&hd, sizeof hd, 1, f) == 1 &&
                 fwrite(tr->labels, 4, (size_t)tr->n, f) == (size_t)tr->n && fwrite(te->labels, 4, (size_t)te->n, f) == (size_t)te->n &&
                 fwrite(tr->pix, one, (size_t)tr->n, f) == (size_t)tr->n && fwrite(te->pix, one, (size_t)te->n, f) == (size_t)te->n &&
                 fflush(f) == 0 && fsync(fileno(f)) == 0;
        if (!ok) snprintf(why, sizeof why, "%s", strerror(errno));
        if (fclose(f) != 0 && ok) {
            ok = 0;
            snprintf(why, sizeof why, "%s", strerror(errno));
        }
        if (ok && rename(tmp, path) != 0) snprintf(why, sizeof why, "%s", strerror(errno));
        if (why[0]) unlink(tmp);
    }
    free(tmp);
    if (why[0])
        warn("cannot write the decoded cache %s: %s; the next run decodes the pictures again "
             "(set CLMTT_CACHE_DIR to another folder, or to 'off')", path, why);
    else
        printf("Wrote the decoded cache %s (%s)\n", path, human_bytes(bytes, hb, sizeof hb));
}
