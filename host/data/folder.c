/* Picture-folder datasets (see folder.h).
 *
 * Pipeline per picture: decode to 8-bit RGB (data/image.h), then
 *   Tiny:     the 64 x 64 bytes as they are;
 *   ImageNet: p/255 in float32, bilinear resize to res x res (docs/algorithm.md#imagenet-subsets-and-resizing), then rounded back
 *             to the nearest of the 256 levels v = q/255.
 * That last rounding is this implementation's choice, not the original's (which keeps the
 * resized floats): it moves a value by at most 0.5/255 and lets the decoded cache hold one
 * byte per value. The cached and the freshly decoded paths both go through it, so they give
 * bit-identical images. Pictures already res x res are not resized, hence exact.
 *
 * Decoded cache: one file per (dataset, subset, res, source folder) in folder_cache_dir(),
 * holding the labels and the bytes of both splits (Tiny: 110000 x 12288 bytes = 1.35 GB;
 * imagenette at 128: about 13400 x 49152 bytes = 0.66 GB; 4x that at res 256). Its key
 * hashes the class folders, every picture's path, size and modification time, the label of
 * each, the target size and --skip_bad_images, so any change to the source rebuilds it
 * (over the same file name, so stale copies do not pile up). Written atomically. */
#include "data/folder.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data/folder_cache.h"
#include "data/image.h"
#include "core/util.h"

/* The folder walk does not follow deeper nesting (guards against link loops). */
#define FL_MAX_DEPTH 16
/* A progress line every this many pictures. */
#define FL_PROGRESS_EVERY 5000

/* ------------------------------------------------------------------ listing */

typedef struct {
    char *path;
    int label;
} Pic;

typedef struct {
    Pic *v;
    int n, cap;
} PicList;

static char *fl_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static void pl_add(PicList *l, char *path, int label) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = xrealloc(l->v, (size_t)l->cap * sizeof(Pic));
    }
    l->v[l->n].path = path;
    l->v[l->n].label = label;
    l->n++;
}

static void pl_free(PicList *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i].path);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Picture files by extension, case-insensitive: JPEG and PNG are read; the other picture
 * formats the original's loader knows are listed too, so they fail with a clear message
 * instead of vanishing. */
static int fl_is_picture(const char *name) {
    static const char *const ext[] = {"jpg", "jpeg", "jpe", "jfif", "png", "bmp", "gif", "ppm", "pgm",
                                      "pbm", "pnm", "tif", "tiff", "webp", NULL};
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    for (int i = 0; ext[i]; i++)
        if (strcasecmp(dot + 1, ext[i]) == 0) return 1;
    return 0;
}

static int fl_strcmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The names in dir (sorted byte-wise) of sub-folders (dirs = 1) or of plain files (dirs = 0),
 * links followed, hidden entries (leading '.') left out. Dies when dir cannot be read. */
static char **fl_list(const char *dir, int dirs, int *count) {
    DIR *d = opendir(dir);
    if (!d) die("cannot read the folder %s: %s", dir, strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *p = fl_join(dir, e->d_name);
        struct stat st;
        int ok = stat(p, &st) == 0 && (dirs ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
        free(p);
        if (!ok) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = xrealloc(names, (size_t)cap * sizeof(char *));
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, (size_t)n, sizeof(char *), fl_strcmp);
    *count = n;
    return names;
}

static void fl_free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Every picture below dir, labelled `label`: the folder's own files (sorted), then each
 * sub-folder (sorted), as the original's folder loader walks a class folder. */
static void fl_collect(const char *dir, int label, PicList *out, int depth) {
    int nf, nd;
    char **files = fl_list(dir, 0, &nf);
    for (int i = 0; i < nf; i++)
        if (fl_is_picture(files[i])) pl_add(out, fl_join(dir, files[i]), label);
    fl_free_names(files, nf);
    if (depth >= FL_MAX_DEPTH) return;
    char **subs = fl_list(dir, 1, &nd);
    for (int i = 0; i < nd; i++) {
        char *p = fl_join(dir, subs[i]);
        fl_collect(p, label, out, depth + 1);
        free(p);
    }
    fl_free_names(subs, nd);
}

/* Position of name in the sorted names[0..n), or -1. */
static int fl_find(char *const *names, int n, const char *name) {
    char *const *hit = bsearch(&name, names, (size_t)n, sizeof(char *), fl_strcmp);
    return hit ? (int)(hit - names) : -1;
}

/* ------------------------------------------------------------------ decoding */

/* One picture into dst (3 x h x w bytes, CHW). exact: the picture must be h x w already.
 * Returns 0, or -1 with "path: reason" in err. */
static int fl_decode_one(const char *path, int h, int w, int exact, uint8_t *dst, char *err, size_t errlen) {
    uint8_t *pix;
    int pw, ph;
    if (image_read_rgb8(path, &pix, &pw, &ph, err, errlen) != 0) return -1;
    size_t plane = (size_t)h * w;
    if (pw == w && ph == h) {
        for (size_t k = 0; k < plane; k++)
            for (int c = 0; c < 3; c++) dst[c * plane + k] = pix[3 * k + c];
        free(pix);
        return 0;
    }
    if (exact) {
        snprintf(err, errlen, "%s: the picture is %d x %d pixels (width x height), expected %d x %d", path, pw, ph, w, h);
        free(pix);
        return -1;
    }
    /* docs/algorithm.md#imagenet-subsets-and-resizing: p/255 in float32, then the resize; then back to a byte level. */
    size_t pin = (size_t)pw * ph;
    float *in = malloc(3 * pin * sizeof(float)), *out = malloc(3 * plane * sizeof(float));
    if (!in || !out) {
        snprintf(err, errlen, "%s: out of memory for a %d x %d picture", path, pw, ph);
        free(in);
        free(out);
        free(pix);
        return -1;
    }
    for (size_t k = 0; k < pin; k++)
        for (int c = 0; c < 3; c++) in[c * pin + k] = (float)pix[3 * k + c] / 255.0f;
    free(pix);
    image_resize_bilinear(in, 3, ph, pw, out, h, w);
    for (size_t k = 0; k < 3 * plane; k++) {
        long q = lrintf(out[k] * 255.0f);
        dst[k] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
    }
    free(in);
    free(out);
    return 0;
}

typedef struct {
    const Pic *pics;
    int n, h, w, exact, stop_on_error;
    uint8_t *dst;          /* n x 3 x h x w */
    char **errs;           /* per picture: NULL, or the reason it could not be read */
    atomic_int next, done, stop;
} DecodeJob;

static void *fl_worker(void *arg) {
    DecodeJob *j = arg;
    size_t one = (size_t)3 * j->h * j->w;
    char err[1024];
    for (;;) {
        if (atomic_load(&j->stop)) break;
        int i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n) break;
        if (fl_decode_one(j->pics[i].path, j->h, j->w, j->exact, j->dst + (size_t)i * one, err, sizeof err) != 0) {
            j->errs[i] = xstrdup(err);
            if (j->stop_on_error) atomic_store(&j->stop, 1);
        }
        atomic_fetch_add(&j->done, 1);
    }
    return NULL;
}

static int fl_threads(int n) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int t = cpus > 0 ? (int)(cpus < 32 ? cpus : 32) : 1;
    return t < n ? t : (n > 0 ? n : 1);
}

/* Decodes every picture of l on all cores with a progress line every few thousand; then
 * dies on the first unreadable one (in list order), or with skip reports each on stderr
 * and leaves it out. what: "Tiny training set" and the like. */
static void fl_decode_all(const char *what, const PicList *l, int h, int w, int exact, int skip, Decoded *out) {
    size_t one = (size_t)3 * h * w;
    DecodeJob j = {.pics = l->v, .n = l->n, .h = h, .w = w, .exact = exact, .stop_on_error = !skip};
    j.dst = xmalloc((size_t)(l->n ? l->n : 1) * one);
    j.errs = xcalloc((size_t)(l->n ? l->n : 1), sizeof(char *));
    atomic_init(&j.next, 0);
    atomic_init(&j.done, 0);
    atomic_init(&j.stop, 0);
    int nt = fl_threads(l->n);
    pthread_t *th = xmalloc((size_t)nt * sizeof(pthread_t));
    printf("%s: decoding %d pictures on %d thread%s\n", what, l->n, nt, nt == 1 ? "" : "s");
    fflush(stdout);
    double t0 = now_seconds();
    int started = 0;
    for (; started < nt; started++)
        if (pthread_create(&th[started], NULL, fl_worker, &j) != 0) break;
    if (started == 0) fl_worker(&j);
    /* Progress from this thread while the workers run. */
    int next_report = FL_PROGRESS_EVERY;
    while (started > 0) {
        int done = atomic_load(&j.done);
        if (done >= l->n || atomic_load(&j.stop)) break;
        if (done >= next_report) {
            double dt = now_seconds() - t0;
            printf("%s: %d/%d pictures decoded (%.0f/s)\n", what, done, l->n, dt > 0 ? done / dt : 0.0);
            fflush(stdout);
            while (next_report <= done) next_report += FL_PROGRESS_EVERY;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    free(th);
    double dt = now_seconds() - t0;
    int done = atomic_load(&j.done);
    if (!atomic_load(&j.stop)) {
        printf("%s: %d pictures decoded in %.1f s (%.0f/s)\n", what, done, dt, dt > 0 ? done / dt : 0.0);
        fflush(stdout);
    }
    /* Failures in list order: every picture before a failed one was taken and finished. */
    out->labels = xmalloc((size_t)(l->n ? l->n : 1) * sizeof(int32_t));
    out->n = out->skipped = 0;
    for (int i = 0; i < l->n; i++) {
        if (j.errs[i]) {
            if (!skip)
                die("%s: %s\n(pass --skip_bad_images to report unreadable pictures and leave them out)", what, j.errs[i]);
            warn("%s: skipping an unreadable picture: %s", what, j.errs[i]);
            out->skipped++;
            continue;
        }
        if (out->n != i) memcpy(j.dst + (size_t)out->n * one, j.dst + (size_t)i * one, one);
        out->labels[out->n++] = l->v[i].label;
    }
    if (out->skipped)
        warn("%s: %d of %d pictures could not be read and were left out (listed above)", what, out->skipped, l->n);
    for (int i = 0; i < l->n; i++) free(j.errs[i]);
    free(j.errs);
    out->pix = j.dst;
}

/* ------------------------------------------------------------------ decoded cache */

char *folder_cache_dir(void) {
    const char *env = getenv("CLMTT_CACHE_DIR");
    if (env && *env) {
        if (strcmp(env, "off") == 0) return NULL;
        return xstrdup(env);
    }
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg && *xdg) return fl_join(xdg, "clmtt/datasets");
    const char *home = getenv("HOME");
    if (home && *home) return fl_join(home, ".cache/clmtt/datasets");
    return NULL;
}

/* What a cache is of, and the fingerprint of its source. */
typedef struct {
    const char *dataset, *subset;   /* subset NULL for Tiny */
    const char *root;               /* the dataset folder */
    int h, w, exact, skip;
    char *const *classes;           /* class folder names in label order */
    int nclasses;
} FolderJob;

static uint64_t fc_str(uint64_t k, const char *s) { return hash64(s, strlen(s) + 1, k); }
static uint64_t fc_int(uint64_t k, int64_t v) { return hash64(&v, sizeof v, k); }

/* Hash of everything the decoded bytes depend on; stats every picture (dies when one
 * vanished since the listing). */
static uint64_t fc_key(const FolderJob *fj, const PicList *tr, const PicList *te) {
    uint64_t k = fc_str(0, "clmtt decoded pictures");
    k = fc_int(k, FOLDER_CACHE_VERSION);
    k = fc_str(k, fj->dataset);
    k = fc_str(k, fj->subset ? fj->subset : "");
    char real[PATH_MAX];
    k = fc_str(k, realpath(fj->root, real) ? real : fj->root);
    k = fc_int(k, fj->h);
    k = fc_int(k, fj->w);
    k = fc_int(k, fj->exact);
    k = fc_int(k, fj->skip);
    k = fc_int(k, fj->nclasses);
    for (int c = 0; c < fj->nclasses; c++) k = fc_str(k, fj->classes[c]);
    for (int s = 0; s < 2; s++) {
        const PicList *l = s ? te : tr;
        k = fc_int(k, l->n);
        for (int i = 0; i < l->n; i++) {
            struct stat st;
            if (stat(l->v[i].path, &st) != 0) die("%s: cannot read: %s", l->v[i].path, strerror(errno));
            k = fc_str(k, l->v[i].path);
            k = fc_int(k, l->v[i].label);
            k = fc_int(k, (int64_t)st.st_size);
            k = fc_int(k, (int64_t)st.st_mtim.tv_sec);
            k = fc_int(k, (int64_t)st.st_mtim.tv_nsec);
        }
    }
    return k;
}

/* <dir>/<dataset>[-<subset>-<res>]-<hash of the source folder>.pixels: one file per source,
 * so a changed source overwrites its own stale cache. */
static char *fc_path(const char *dir, const FolderJob *fj) {
    char real[PATH_MAX];
    const char *r = realpath(fj->root, real) ? real : fj->root;
    char name[512];
    if (fj->subset)
        snprintf(name, sizeof name, "%s-%s-%d-%016llx.pixels", fj->dataset, fj->subset, fj->h,
                 (unsigned long long)hash64(r, strlen(r), 0));
    else
        snprintf(name, sizeof name, "%s-%016llx.pixels", fj->dataset, (unsigned long long)hash64(r, strlen(r), 0));
    return fl_join(dir, name);
}

/* ------------------------------------------------------------------ both splits */

/* Bytes -> p/255 floats into an ImageSet. */
static void fl_to_set(const Decoded *d, int h, int w, ImageSet *s) {
    size_t one = (size_t)3 * h * w, total = (size_t)d->n * one;
    s->n = d->n;
    s->c = 3;
    s->h = h;
    s->w = w;
    s->images = xmalloc((total ? total : 1) * sizeof(float));
    for (size_t k = 0; k < total; k++) s->images[k] = (float)d->pix[k] / 255.0f;
    s->labels = xmalloc((d->n ? (size_t)d->n : 1) * sizeof(int32_t));
    memcpy(s->labels, d->labels, (size_t)d->n * sizeof(int32_t));
}

/* The decoded cache when it is current, else decoding (then writing the cache); fills both
 * splits of out. */
static void fl_load(const FolderJob *fj, const PicList *tr, const PicList *te, Dataset *out) {
    char label[160];
    if (fj->subset) snprintf(label, sizeof label, "%s %s %dx%d", fj->dataset, fj->subset, fj->h, fj->w);
    else snprintf(label, sizeof label, "%s", fj->dataset);
    uint64_t key = fc_key(fj, tr, te);
    char *dir = folder_cache_dir();
    char *path = dir ? fc_path(dir, fj) : NULL;
    Decoded dtr = {0}, dte = {0};
    if (path && folder_cache_read(path, key, fj->h, fj->w, fj->nclasses, &dtr, &dte)) {
        out->from_cache = 1;
        printf("%s: %d training and %d test pictures from the decoded cache %s (delete it to decode again)\n", label,
               dtr.n, dte.n, path);
        if (dtr.skipped)
            warn("%s: %d unreadable pictures were left out when the cache was built (--skip_bad_images)", label,
                 dtr.skipped);
    } else {
        char what[200];
        snprintf(what, sizeof what, "%s training set", label);
        fl_decode_all(what, tr, fj->h, fj->w, fj->exact, fj->skip, &dtr);
        snprintf(what, sizeof what, "%s test set", label);
        fl_decode_all(what, te, fj->h, fj->w, fj->exact, fj->skip, &dte);
        out->decoded = dtr.n + dte.n + dtr.skipped + dte.skipped;
        dtr.skipped += dte.skipped;
        dte.skipped = 0;
        if (path) folder_cache_write(dir, path, key, fj->h, fj->w, &dtr, &dte);
        else printf("%s: the decoded cache is off (CLMTT_CACHE_DIR=off or no home folder)\n", label);
    }
    out->skipped = dtr.skipped;
    fl_to_set(&dtr, fj->h, fj->w, &out->train);
    fl_to_set(&dte, fj->h, fj->w, &out->test);
    free(dtr.pix); free(dtr.labels); free(dte.pix); free(dte.labels);
    free(path);
    free(dir);
}

/* ------------------------------------------------------------------ Tiny ImageNet */

/* The folder holding train/ and val/: root/tiny-imagenet-200 or root itself. */
static char *tiny_base(const char *root) {
    char *sub = fl_join(root, "tiny-imagenet-200");
    char *t = fl_join(sub, "train");
    int ok = dir_exists(t);
    free(t);
    if (ok) return sub;
    t = fl_join(root, "train");
    ok = dir_exists(t);
    free(t);
    if (ok) {
        free(sub);
        return xstrdup(root);
    }
    die("Tiny: cannot find Tiny ImageNet: neither %s/train nor %s/train is a folder%s.\n"
        "Unpack tiny-imagenet-200.zip into the data folder, or pass --data_path <folder holding tiny-imagenet-200>",
        sub, root, dir_exists(root) ? "" : " (the data folder does not exist)");
}

/* One "file<TAB>wnid<TAB>..." line of val_annotations.txt. */
typedef struct {
    char *file;
    int label;   /* -1: a class without a train/ folder */
} TinyNote;

static int tiny_note_cmp(const void *a, const void *b) {
    return strcmp(((const TinyNote *)a)->file, ((const TinyNote *)b)->file);
}

static int pic_label_cmp(const void *a, const void *b) {
    const Pic *x = a, *y = b;
    if (x->label != y->label) return x->label < y->label ? -1 : 1;
    return strcmp(x->path, y->path);
}

/* val/images/<name>.JPEG labelled through val/val_annotations.txt, sorted by (class, name) as
 * the per-class layout would be. Pictures of classes that have no train/ folder are left
 * out with a warning when the class set is reduced; otherwise they are an error. */
static void tiny_val_flat(const char *val, const char *images, char **wnids, int nc, int reduced, PicList *te) {
    char *ann = fl_join(val, "val_annotations.txt");
    size_t len;
    char *text = (char *)read_file(ann, &len);
    if (!text)
        die("Tiny: %s holds pictures but %s is missing; it labels them (or move each picture into "
            "val/images/<wnid>/)", images, ann);
    TinyNote *notes = NULL;
    int nn = 0, cap = 0, lineno = 0;
    for (char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl) *nl = 0;
        lineno++;
        char *save = NULL;
        char *file = strtok_r(p, " \t\r", &save), *wnid = file ? strtok_r(NULL, " \t\r", &save) : NULL;
        if (!file) continue;
        if (!wnid) die("Tiny: %s:%d: expected '<file> <wnid> ...', found only '%s'", ann, lineno, file);
        if (nn == cap) {
            cap = cap ? 2 * cap : 1024;
            notes = xrealloc(notes, (size_t)cap * sizeof *notes);
        }
        notes[nn].file = file;
        notes[nn].label = fl_find(wnids, nc, wnid);
        if (notes[nn].label < 0 && !reduced)
            die("Tiny: %s:%d: class %s has no folder in train/", ann, lineno, wnid);
        nn++;
    }
    if (nn) qsort(notes, (size_t)nn, sizeof *notes, tiny_note_cmp);
    int nf, left_out = 0;
    char **files = fl_list(images, 0, &nf);
    for (int i = 0; i < nf; i++) {
        if (!fl_is_picture(files[i])) continue;
        TinyNote key = {files[i], 0};
        TinyNote *hit = nn ? bsearch(&key, notes, (size_t)nn, sizeof *notes, tiny_note_cmp) : NULL;
        if (!hit) die("Tiny: %s/%s has no line in %s", images, files[i], ann);
        if (hit->label < 0) {
            left_out++;
            continue;
        }
        pl_add(te, fl_join(images, files[i]), hit->label);
    }
    if (left_out) warn("Tiny: %d test pictures of classes without a train/ folder were left out", left_out);
    if (te->n) qsort(te->v, (size_t)te->n, sizeof(Pic), pic_label_cmp);
    fl_free_names(files, nf);
    free(notes);
    free(text);
    free(ann);
}

/* The test split: val/images/<wnid>/<name> when val/images has class folders, else the flat
 * layout with val_annotations.txt. */
static void tiny_val(const char *base, char **wnids, int nc, int reduced, PicList *te) {
    char *val = fl_join(base, "val"), *images = fl_join(val, "images");
    if (!dir_exists(images))
        die("Tiny: %s is not a folder; expected val/images/*.JPEG with val/val_annotations.txt, or "
            "val/images/<wnid>/*.JPEG", images);
    int nd;
    char **subs = fl_list(images, 1, &nd);
    if (nd > 0) {
        for (int i = 0; i < nd; i++) {
            int c = fl_find(wnids, nc, subs[i]);
            if (c < 0) die("Tiny: %s/%s is not a class of train/ (no folder train/%s)", images, subs[i], subs[i]);
            char *p = fl_join(images, subs[i]);
            fl_collect(p, c, te, 1);
            free(p);
        }
    } else {
        tiny_val_flat(val, images, wnids, nc, reduced, te);
    }
    if (te->n == 0) die("Tiny: no JPEG or PNG pictures in %s", images);
    fl_free_names(subs, nd);
    free(images);
    free(val);
}

void folder_load_tiny(const DatasetInfo *info, const char *root, Dataset *out) {
    char *base = tiny_base(root);
    char *train = fl_join(base, "train");
    int nc;
    char **wnids = fl_list(train, 1, &nc);
    if (nc == 0) die("Tiny: %s holds no class folders", train);
    if (nc > info->num_classes)
        die("Tiny: %s holds %d class folders, but Tiny ImageNet has %d", train, nc, info->num_classes);
    if (nc < info->num_classes)
        warn("Tiny: %s holds %d class folders (the full dataset has %d); classes %d..%d stay empty", train, nc,
             info->num_classes, nc, info->num_classes - 1);
    PicList tr = {0}, te = {0};
    for (int c = 0; c < nc; c++) {
        char *p = fl_join(train, wnids[c]);
        int before = tr.n;
        fl_collect(p, c, &tr, 1);
        if (tr.n == before) die("Tiny: the class folder %s holds no JPEG or PNG pictures", p);
        free(p);
    }
    tiny_val(base, wnids, nc, nc < info->num_classes, &te);
    FolderJob fj = {.dataset = info->name, .subset = NULL, .root = base, .h = info->height, .w = info->width,
                    .exact = 1, .skip = info->skip_bad_images, .classes = wnids, .nclasses = nc};
    fl_load(&fj, &tr, &te, out);
    out->class_names = xcalloc((size_t)info->num_classes, sizeof(char *));
    for (int c = 0; c < nc; c++) out->class_names[c] = wnids[c];
    free(wnids);
    pl_free(&tr);
    pl_free(&te);
    free(train);
    free(base);
}

/* ------------------------------------------------------------------ ImageNet subsets */

/* The class folders of the subset in label order (malloc'd copies). An index given alone
 * is the position among the sorted folders of train/, which then must be all 1000. */
static char **imagenet_classes(const DatasetInfo *info, const char *train) {
    int K = info->num_classes, nall = 0;
    char **all = NULL, **out = xcalloc((size_t)K, sizeof(char *));
    for (int k = 0; k < K; k++) {
        if (info->wnids[k]) {
            out[k] = xstrdup(info->wnids[k]);
            continue;
        }
        if (!all) {
            all = fl_list(train, 1, &nall);
            if (nall != 1000)
                die("ImageNet: subset '%s' gives class %d by its ImageNet index %d alone, which is its position among "
                    "the sorted class folders of %s; that needs all 1000 ImageNet classes there, but it holds %d. "
                    "Write the wnid on that line instead (e.g. 'n01440764 0 tench')",
                    info->subset, k, info->imagenet_index[k], train, nall);
        }
        out[k] = xstrdup(all[info->imagenet_index[k]]);
    }
    fl_free_names(all, nall);
    for (int k = 0; k < K; k++)
        for (int m = 0; m < k; m++)
            if (strcmp(out[k], out[m]) == 0)
                die("ImageNet: subset '%s' names the class folder %s twice (classes %d and %d)", info->subset, out[k], m, k);
    return out;
}

/* Every picture of each class folder of split (train or val), label = class. */
static void imagenet_split(const DatasetInfo *info, const char *dir, int val, char **classes, PicList *l) {
    for (int k = 0; k < info->num_classes; k++) {
        char *p = fl_join(dir, classes[k]);
        if (!dir_exists(p))
            die("ImageNet: the class folder %s is missing (class %d, %s, of subset '%s')%s", p, k, info->class_names[k],
                info->subset, val ? "; the validation pictures must be sorted into val/<wnid>/ folders, as torchvision's "
                                    "ImageNet class arranges them" : "");
        int before = l->n;
        fl_collect(p, k, l, 1);
        if (l->n == before) die("ImageNet: the class folder %s holds no JPEG or PNG pictures", p);
        free(p);
    }
}

void folder_load_imagenet(const DatasetInfo *info, const char *root, Dataset *out) {
    if (!info->wnids || !info->subset) die("internal: ImageNet needs dataset_resolve before loading");
    char *train = fl_join(root, "train"), *val = fl_join(root, "val");
    for (int s = 0; s < 2; s++)
        if (!dir_exists(s ? val : train))
            die("ImageNet: %s is not a folder%s; clmtt expects %s/train/<wnid>/*.JPEG and %s/val/<wnid>/*.JPEG "
                "(pass --data_path <folder>)", s ? val : train, dir_exists(root) ? "" : " (the data folder does not exist)",
                root, root);
    char **classes = imagenet_classes(info, train);
    PicList tr = {0}, te = {0};
    imagenet_split(info, train, 0, classes, &tr);
    imagenet_split(info, val, 1, classes, &te);
    FolderJob fj = {.dataset = info->name, .subset = info->subset, .root = root, .h = info->height, .w = info->width,
                    .exact = 0, .skip = info->skip_bad_images, .classes = classes, .nclasses = info->num_classes};
    fl_load(&fj, &tr, &te, out);
    fl_free_names(classes, info->num_classes);
    pl_free(&tr);
    pl_free(&te);
    free(train);
    free(val);
}
