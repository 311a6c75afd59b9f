/* safetensors reading (mmap + full validation) and streaming, atomic writing. */
#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"

/* Tensor bytes are used as they lie in the file (little-endian). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors I/O assumes a little-endian host"
#endif

#define ST_MAX_NDIM 8
/* JSON numbers are doubles: integers beyond 2^53 cannot be represented exactly. */
#define ST_MAX_JSON_INT 9007199254740992.0

/* ------------------------------------------------------------------ reading */

/* "path: message" into err (err may be NULL). Always returns -1. */
static int st_fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int st_fail(char *err, size_t errlen, const char *path, const char *fmt, ...) {
    if (!err || errlen == 0) return -1;
    int n = snprintf(err, errlen, "%s: ", path);
    if (n < 0 || (size_t)n >= errlen) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* A JSON number that is an integer in [0, 2^53]; its value in *v. */
static int json_uint(const cJSON *j, uint64_t *v) {
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= 0) || d > ST_MAX_JSON_INT || d != (double)(uint64_t)d) return 0;
    *v = (uint64_t)d;
    return 1;
}

static int parse_dtype(const char *s, DType *t) {
    if (strcmp(s, "F32") == 0) *t = DT_F32;
    else if (strcmp(s, "I32") == 0) *t = DT_I32;
    else if (strcmp(s, "I64") == 0) *t = DT_I64;
    else return 0;
    return 1;
}

/* Where one tensor's bytes lie, relative to the data section: [begin, end). */
typedef struct {
    uint64_t begin, end;
    int idx;
} StSpan;

static int span_cmp(const void *a, const void *b) {
    const StSpan *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static const char *const *name_sort_base;
static int name_idx_cmp(const void *a, const void *b) {
    return strcmp(name_sort_base[*(const int *)a], name_sort_base[*(const int *)b]);
}

/* Index of a repeated string among names[0..n-1] (its second occurrence), or -1. */
static int find_duplicate(const char *const *names, int n) {
    if (n < 2) return -1;
    int *ord = xmalloc((size_t)n * sizeof *ord);
    for (int i = 0; i < n; i++) ord[i] = i;
    name_sort_base = names;
    qsort(ord, (size_t)n, sizeof *ord, name_idx_cmp);
    int dup = -1;
    for (int i = 1; i < n && dup < 0; i++)
        if (strcmp(names[ord[i - 1]], names[ord[i]]) == 0) dup = ord[i];
    free(ord);
    return dup;
}

/* Frees what st_open has filled so far; leaves *f zeroed. */
static void st_release(StFile *f) {
    if (f->map && f->size) munmap(f->map, f->size);
    for (int i = 0; i < f->nmeta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    free(f->tensors);
    free(f->path);
    memset(f, 0, sizeof *f);
}

/* __metadata__: an object whose values are all strings. */
static int read_metadata(const cJSON *meta, StFile *f, const char *path, char *err, size_t errlen) {
    if (!cJSON_IsObject(meta)) return st_fail(err, errlen, path, "__metadata__ is not an object of strings");
    int n = cJSON_GetArraySize(meta);
    f->meta_keys = xcalloc((size_t)n + 1, sizeof(char *));
    f->meta_values = xcalloc((size_t)n + 1, sizeof(char *));
    for (const cJSON *m = meta->child; m; m = m->next) {
        if (!cJSON_IsString(m))
            return st_fail(err, errlen, path, "__metadata__ is not an object of strings (value of '%s')", m->string);
        f->meta_keys[f->nmeta] = xstrdup(m->string);
        f->meta_values[f->nmeta] = xstrdup(m->valuestring);
        f->nmeta++;
    }
    int dup = find_duplicate((const char *const *)f->meta_keys, f->nmeta);
    if (dup >= 0) return st_fail(err, errlen, path, "duplicate __metadata__ key '%s'", f->meta_keys[dup]);
    return 0;
}

/* One tensor entry {"dtype", "shape", "data_offsets"}; checks it against the data
 * section of `data_len` bytes and records it in *t (span in *sp). */
static int read_entry(const cJSON *e, uint64_t data_len, const unsigned char *data, StTensor *t, StSpan *sp,
                      const char *path, char *err, size_t errlen) {
    const char *name = e->string;
    if (strlen(name) >= sizeof t->name)
        return st_fail(err, errlen, path, "tensor name '%.40s...' is longer than %zu bytes", name, sizeof t->name - 1);
    if (!cJSON_IsObject(e)) return st_fail(err, errlen, path, "tensor '%s': entry is not an object", name);
    static const char *const fields[] = {"dtype", "shape", "data_offsets"};
    for (int k = 0; k < 3; k++)
        if (!cJSON_GetObjectItemCaseSensitive(e, fields[k]))
            return st_fail(err, errlen, path, "tensor '%s': missing field '%s'", name, fields[k]);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");

    snprintf(t->name, sizeof t->name, "%s", name);
    if (!cJSON_IsString(jd)) return st_fail(err, errlen, path, "tensor '%s': unknown dtype (not a string)", name);
    if (!parse_dtype(jd->valuestring, &t->dtype))
        return st_fail(err, errlen, path, "tensor '%s': unknown dtype '%s' (supported: F32, I32, I64)", name,
                       jd->valuestring);

    if (!cJSON_IsArray(js))
        return st_fail(err, errlen, path, "tensor '%s': shape is not a list of non-negative integers", name);
    int ndim = cJSON_GetArraySize(js);
    if (ndim > ST_MAX_NDIM)
        return st_fail(err, errlen, path, "tensor '%s': shape has %d dimensions, at most %d are supported", name, ndim,
                       ST_MAX_NDIM);
    t->ndim = 0;
    /* numel saturates instead of wrapping, so a huge shape cannot match a small span. */
    uint64_t numel = 1;
    for (const cJSON *d = js->child; d; d = d->next) {
        uint64_t v;
        if (!json_uint(d, &v))
            return st_fail(err, errlen, path, "tensor '%s': shape is not a list of non-negative integers", name);
        t->shape[t->ndim++] = (int64_t)v;
        numel = (v != 0 && numel > UINT64_MAX / v) ? UINT64_MAX : numel * v;
    }

    uint64_t begin, end;
    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2 || !json_uint(jo->child, &begin) ||
        !json_uint(jo->child->next, &end) || begin > end)
        return st_fail(err, errlen, path, "tensor '%s': data_offsets is not two integers [begin, end] with begin <= end",
                       name);
    if (end > data_len)
        return st_fail(err, errlen, path,
                       "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] lie outside the data section of %" PRIu64
                       " bytes",
                       name, begin, end, data_len);
    size_t esize = dtype_size(t->dtype);
    uint64_t need = numel > UINT64_MAX / esize ? UINT64_MAX : numel * esize;
    if (need != end - begin)
        return st_fail(err, errlen, path,
                       "tensor '%s': shape and dtype %s need %" PRIu64 " bytes but data_offsets span %" PRIu64
                       " (size mismatch)",
                       name, jd->valuestring, need, end - begin);
    t->numel = (size_t)numel;
    t->nbytes = (size_t)need;
    t->data = data + begin;
    sp->begin = begin;
    sp->end = end;
    return 0;
}

/* Non-empty spans must not share a byte (empty tensors may sit anywhere). */
static int check_overlaps(StSpan *sp, int n, const StTensor *ts, const char *path, char *err, size_t errlen) {
    qsort(sp, (size_t)n, sizeof *sp, span_cmp);
    int prev = -1;
    for (int i = 0; i < n; i++) {
        if (sp[i].begin == sp[i].end) continue;
        if (prev >= 0 && sp[prev].end > sp[i].begin)
            return st_fail(err, errlen, path, "tensors '%s' and '%s' have overlapping data", ts[sp[prev].idx].name,
                           ts[sp[i].idx].name);
        if (prev < 0 || sp[i].end > sp[prev].end) prev = i;
    }
    return 0;
}

/* Validates the parsed header `root` and fills f's tensors and metadata. */
static int read_header(const cJSON *root, uint64_t data_len, const unsigned char *data, StFile *f, const char *path,
                       char *err, size_t errlen) {
    int n = cJSON_GetArraySize(root);
    f->tensors = xcalloc((size_t)n + 1, sizeof *f->tensors);
    StSpan *sp = xcalloc((size_t)n + 1, sizeof *sp);
    const char **names = xcalloc((size_t)n + 1, sizeof *names);
    int nnames = 0, rc = 0;
    for (const cJSON *e = root->child; e && rc == 0; e = e->next) {
        names[nnames++] = e->string;
        if (strcmp(e->string, "__metadata__") == 0) {
            if (f->meta_keys) rc = st_fail(err, errlen, path, "duplicate name '__metadata__'");
            else rc = read_metadata(e, f, path, err, errlen);
            continue;
        }
        int i = f->ntensors;
        rc = read_entry(e, data_len, data, &f->tensors[i], &sp[i], path, err, errlen);
        sp[i].idx = i;
        if (rc == 0) f->ntensors++;
    }
    if (rc == 0) {
        int dup = find_duplicate(names, nnames);
        if (dup >= 0) rc = st_fail(err, errlen, path, "duplicate name '%s'", names[dup]);
    }
    if (rc == 0) rc = check_overlaps(sp, f->ntensors, f->tensors, path, err, errlen);
    free(sp);
    free(names);
    return rc;
}

int st_open(const char *path, StFile *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return st_fail(err, errlen, path, "cannot open: %s", strerror(errno));
    struct stat stt;
    if (fstat(fd, &stt) != 0) {
        int e = errno;
        close(fd);
        return st_fail(err, errlen, path, "cannot stat: %s", strerror(e));
    }
    if (!S_ISREG(stt.st_mode)) {
        close(fd);
        return st_fail(err, errlen, path, "not a regular file");
    }
    size_t size = (size_t)stt.st_size;
    if (size < 8) {
        close(fd);
        return st_fail(err, errlen, path, "file is shorter than 8 bytes (%zu bytes): not a safetensors file", size);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED) return st_fail(err, errlen, path, "cannot map: %s", strerror(map_errno));
    out->map = map;
    out->size = size;
    out->path = xstrdup(path);

    const unsigned char *bytes = map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | bytes[i];
    if (hlen > size - 8) {
        st_fail(err, errlen, path, "header length %" PRIu64 " is beyond the file size of %zu bytes", hlen, size);
        st_release(out);
        return -1;
    }
    const char *hdr = (const char *)bytes + 8;
    const char *parse_end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &parse_end, 0);
    /* The writer pads the header with spaces; anything else after the JSON is an error. */
    size_t used = root ? (size_t)(parse_end - hdr) : 0;
    while (root && used < hlen && (hdr[used] == ' ' || hdr[used] == '\n' || hdr[used] == '\t' || hdr[used] == '\r'))
        used++;
    int rc = 0;
    if (!root || used != hlen) {
        size_t at = root ? used : (size_t)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - hdr : 0);
        rc = st_fail(err, errlen, path, "header is not well-formed JSON (error near byte %zu of %" PRIu64 ")", at, hlen);
    } else if (!cJSON_IsObject(root)) {
        rc = st_fail(err, errlen, path, "header is not a JSON object");
    } else {
        rc = read_header(root, size - 8 - hlen, bytes + 8 + hlen, out, path, err, errlen);
    }
    cJSON_Delete(root);
    if (rc != 0) st_release(out);
    return rc;
}

void st_open_or_die(const char *path, StFile *out) {
    char err[1024];
    if (st_open(path, out, err, sizeof err) != 0) die("%s", err);
}

void st_close(StFile *f) { st_release(f); }

/* Tensors are usually looked up in file order, so the search starts just after the
 * previous hit: a sequential walk over thousands of tensors stays linear overall. */
const StTensor *st_find(const StFile *f, const char *name) {
    static _Thread_local int next;
    int n = f->ntensors;
    if (next >= n) next = 0;
    for (int k = 0; k < n; k++) {
        int i = next + k < n ? next + k : next + k - n;
        if (strcmp(f->tensors[i].name, name) == 0) {
            next = i + 1;
            return &f->tensors[i];
        }
    }
    return NULL;
}

const char *st_meta(const StFile *f, const char *key) {
    for (int i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}

/* ------------------------------------------------------------------ writing */

typedef struct {
    char *name;
    DType dtype;
    int ndim;
    int64_t shape[ST_MAX_NDIM];
    size_t nbytes;
    const void *data;
} StEntry;

struct StWriter {
    int n, cap;
    StEntry *e;
    int nmeta, capmeta;
    char **keys, **values;
};

StWriter *st_writer_new(void) { return xcalloc(1, sizeof(StWriter)); }

/* Shape: ndim sizes (ndim 0 = scalar). Dies on a bad name, shape or dtype. */
void st_writer_add(StWriter *w, const char *name, DType dtype, int ndim, const int64_t *shape, const void *data) {
    if (!name || strlen(name) >= sizeof(((StTensor *)0)->name))
        die("safetensors writer: tensor name missing or longer than %zu bytes", sizeof(((StTensor *)0)->name) - 1);
    if (strcmp(name, "__metadata__") == 0) die("safetensors writer: '__metadata__' cannot name a tensor");
    if (dtype != DT_F32 && dtype != DT_I32 && dtype != DT_I64)
        die("safetensors writer: tensor '%s' has unknown dtype %d", name, (int)dtype);
    if (ndim < 0 || ndim > ST_MAX_NDIM)
        die("safetensors writer: tensor '%s' has %d dimensions (0..%d allowed)", name, ndim, ST_MAX_NDIM);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || (double)shape[d] > ST_MAX_JSON_INT)
            die("safetensors writer: tensor '%s' has bad size %" PRId64 " in dimension %d", name, shape[d], d);
        numel *= (size_t)shape[d];
    }
    if (numel > 0 && !data) die("safetensors writer: tensor '%s' has no data", name);
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 16;
        w->e = xrealloc(w->e, (size_t)w->cap * sizeof *w->e);
    }
    StEntry *e = &w->e[w->n++];
    memset(e, 0, sizeof *e);
    e->name = xstrdup(name);
    e->dtype = dtype;
    e->ndim = ndim;
    for (int d = 0; d < ndim; d++) e->shape[d] = shape[d];
    e->nbytes = numel * dtype_size(dtype);
    e->data = data;
}

/* A repeated key replaces the earlier value. */
void st_writer_meta(StWriter *w, const char *key, const char *value) {
    if (!key || !value) die("safetensors writer: metadata key and value must be strings");
    for (int i = 0; i < w->nmeta; i++)
        if (strcmp(w->keys[i], key) == 0) {
            free(w->values[i]);
            w->values[i] = xstrdup(value);
            return;
        }
    if (w->nmeta == w->capmeta) {
        w->capmeta = w->capmeta ? 2 * w->capmeta : 8;
        w->keys = xrealloc(w->keys, (size_t)w->capmeta * sizeof(char *));
        w->values = xrealloc(w->values, (size_t)w->capmeta * sizeof(char *));
    }
    w->keys[w->nmeta] = xstrdup(key);
    w->values[w->nmeta] = xstrdup(value);
    w->nmeta++;
}

/* Integers go in as raw JSON text so large offsets never turn into exponent notation. */
static cJSON *json_raw_u64(uint64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_CreateRaw(buf);
}

/* The header JSON (malloc'd, padded with spaces to a multiple of 8 bytes) and its length. */
static char *build_header(const StWriter *w, size_t *len) {
    cJSON *root = cJSON_CreateObject();
    if (w->nmeta > 0) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; i < w->nmeta; i++) cJSON_AddStringToObject(m, w->keys[i], w->values[i]);
    }
    uint64_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const StEntry *e = &w->e[i];
        cJSON *t = cJSON_AddObjectToObject(root, e->name);
        cJSON_AddStringToObject(t, "dtype", dtype_name(e->dtype));
        cJSON *sh = cJSON_AddArrayToObject(t, "shape");
        for (int d = 0; d < e->ndim; d++) cJSON_AddItemToArray(sh, json_raw_u64((uint64_t)e->shape[d]));
        cJSON *o = cJSON_AddArrayToObject(t, "data_offsets");
        cJSON_AddItemToArray(o, json_raw_u64(off));
        cJSON_AddItemToArray(o, json_raw_u64(off + e->nbytes));
        off += e->nbytes;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) die("safetensors writer: cannot format the header (out of memory)");
    size_t n = strlen(json), padded = (n + 7) / 8 * 8;
    char *h = xmalloc(padded + 1);
    memcpy(h, json, n);
    memset(h + n, ' ', padded - n);
    h[padded] = 0;
    cJSON_free(json);
    *len = padded;
    return h;
}

static int write_all(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

/* Streams length, header and every tensor into fd. */
static int write_contents(int fd, const StWriter *w, const char *header, size_t hlen) {
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++) lenbuf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    if (write_all(fd, lenbuf, 8) != 0 || write_all(fd, header, hlen) != 0) return -1;
    for (int i = 0; i < w->n; i++)
        if (w->e[i].nbytes && write_all(fd, w->e[i].data, w->e[i].nbytes) != 0) return -1;
    return 0;
}

void st_writer_save(StWriter *w, const char *path) {
    /* Names are checked here, once, rather than on every add (files may hold thousands). */
    const char **names = xmalloc(((size_t)w->n + 1) * sizeof *names);
    for (int i = 0; i < w->n; i++) names[i] = w->e[i].name;
    int dup = find_duplicate(names, w->n);
    if (dup >= 0) die("cannot write %s: duplicate tensor name '%s'", path, names[dup]);
    free(names);
    size_t hlen;
    char *header = build_header(w, &hlen);
    size_t tlen = strlen(path) + 32;
    char *tmp = xmalloc(tlen);
    snprintf(tmp, tlen, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) die("cannot write %s: cannot create %s: %s", path, tmp, strerror(errno));
    int rc = write_contents(fd, w, header, hlen);
    if (rc == 0) rc = fsync(fd);
    int e = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        die("cannot write %s: %s", path, strerror(e));
    }
    free(tmp);
    free(header);
}

void st_writer_free(StWriter *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) free(w->e[i].name);
    for (int i = 0; i < w->nmeta; i++) {
        free(w->keys[i]);
        free(w->values[i]);
    }
    free(w->e);
    free(w->keys);
    free(w->values);
    free(w);
}
