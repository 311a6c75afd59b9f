/* safetensors: round trips of every dtype (scalars, zero-size tensors, metadata), the exact
 * byte layout of a small file, one rejected file per kind of corruption (each with its own
 * message), atomic writing, and an independent reader written in Python when one exists. */
#include "testutil.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors.h"

/* Number of entries in dir other than . and .. ; names them in `names` (space separated). */
static int dir_entries(const char *dir, char *names, size_t n) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int count = 0;
    names[0] = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        count++;
        strncat(names, e->d_name, n - strlen(names) - 2);
        strcat(names, " ");
    }
    closedir(d);
    return count;
}

/* Test data: 3x4 floats, 5 int32, 2x3 int64 beyond 32 bits, two scalars, an empty tensor. */
typedef struct {
    float w[12];
    int32_t cnt[5];
    int64_t big[6];
    float scalar;
    int64_t lone;
    float empty_dummy;
} Sample;

static void fill_sample(Sample *s) {
    for (int i = 0; i < 12; i++) s->w[i] = 0.1f * (float)i - 0.55f;
    for (int i = 0; i < 5; i++) s->cnt[i] = i * 1000003 - 2000000;
    for (int i = 0; i < 6; i++) s->big[i] = ((int64_t)1 << 40) * (i - 2) + i;
    s->scalar = 3.25f;
    s->lone = -((int64_t)1 << 62) + 17;
    s->empty_dummy = 0;
}

static const int64_t shape_w[] = {3, 4}, shape_cnt[] = {5}, shape_big[] = {2, 3}, shape_empty[] = {4, 0, 2};

static void save_sample(const Sample *s, const char *path) {
    StWriter *w = st_writer_new();
    st_writer_add(w, "weights", DT_F32, 2, shape_w, s->w);
    st_writer_add(w, "counts", DT_I32, 1, shape_cnt, s->cnt);
    st_writer_add(w, "big", DT_I64, 2, shape_big, s->big);
    st_writer_add(w, "scalar", DT_F32, 0, NULL, &s->scalar);
    st_writer_add(w, "empty", DT_F32, 3, shape_empty, NULL);
    st_writer_add(w, "lone", DT_I64, 0, NULL, &s->lone);
    st_writer_meta(w, "dataset", "CIFAR10");
    st_writer_meta(w, "note", "quotes \" and \\ and\nnewline");
    st_writer_meta(w, "epochs", "2");
    st_writer_meta(w, "epochs", "3");   /* replaces the earlier value */
    st_writer_save(w, path);
    st_writer_free(w);
}

static void check_tensor(const StFile *f, int idx, const char *name, DType dt, int ndim, const int64_t *shape,
                         const void *data) {
    const StTensor *t = &f->tensors[idx];
    ck_assert_str_eq(t->name, name);
    ck_assert_ptr_eq(st_find(f, name), t);
    ck_assert_int_eq(t->dtype, dt);
    ck_assert_int_eq(t->ndim, ndim);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        ck_assert_int_eq(t->shape[d], shape[d]);
        numel *= (size_t)shape[d];
    }
    ck_assert_uint_eq(t->numel, numel);
    ck_assert_uint_eq(t->nbytes, numel * dtype_size(dt));
    if (numel) ck_assert_int_eq(memcmp(t->data, data, t->nbytes), 0);
}

START_TEST(roundtrip_all_dtypes) {
    char *path = tu_temp_file("st", "sample.safetensors");
    Sample s;
    fill_sample(&s);
    save_sample(&s, path);

    StFile f;
    char err[512];
    ck_assert_msg(st_open(path, &f, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(f.ntensors, 6);
    /* Insertion order is kept. */
    check_tensor(&f, 0, "weights", DT_F32, 2, shape_w, s.w);
    check_tensor(&f, 1, "counts", DT_I32, 1, shape_cnt, s.cnt);
    check_tensor(&f, 2, "big", DT_I64, 2, shape_big, s.big);
    check_tensor(&f, 3, "scalar", DT_F32, 0, NULL, &s.scalar);
    check_tensor(&f, 4, "empty", DT_F32, 3, shape_empty, NULL);
    check_tensor(&f, 5, "lone", DT_I64, 0, NULL, &s.lone);
    /* Data is laid out back to back from the 8-byte aligned start of the data section. */
    const unsigned char *base = f.tensors[0].data;
    ck_assert_uint_eq((size_t)(base - (const unsigned char *)f.map) % 8, 0);
    for (int i = 1; i < f.ntensors; i++)
        ck_assert_ptr_eq(f.tensors[i].data, (const unsigned char *)f.tensors[i - 1].data + f.tensors[i - 1].nbytes);
    ck_assert_uint_eq((size_t)((const unsigned char *)f.tensors[5].data + 8 - (const unsigned char *)f.map), f.size);

    ck_assert_int_eq(f.nmeta, 3);
    ck_assert_str_eq(st_meta(&f, "dataset"), "CIFAR10");
    ck_assert_str_eq(st_meta(&f, "epochs"), "3");
    ck_assert_str_eq(st_meta(&f, "note"), "quotes \" and \\ and\nnewline");
    ck_assert_ptr_null(st_meta(&f, "missing"));
    ck_assert_ptr_null(st_find(&f, "missing"));
    /* Lookups in any order. */
    const char *order[] = {"lone", "weights", "empty", "empty", "counts", "big", "scalar", "weights"};
    for (int i = 0; i < 8; i++) ck_assert_str_eq(st_find(&f, order[i])->name, order[i]);
    st_close(&f);
    ck_assert_ptr_null(f.map);
    tu_temp_file_free(path);
}
END_TEST

/* A larger tensor written in one stream, and a file with no metadata and no tensors. */
START_TEST(roundtrip_large_and_empty_file) {
    char *path = tu_temp_file("st", "large.safetensors");
    size_t n = 300007;
    float *x = xmalloc(n * sizeof *x);
    tu_rand(x, n, 7, -5, 5);
    int64_t shape[] = {(int64_t)n};
    StWriter *w = st_writer_new();
    st_writer_add(w, "x", DT_F32, 1, shape, x);
    st_writer_save(w, path);
    st_writer_free(w);
    StFile f;
    st_open_or_die(path, &f);
    ck_assert_int_eq(f.ntensors, 1);
    ck_assert_int_eq(f.nmeta, 0);
    ck_assert_uint_eq(f.tensors[0].numel, n);
    ck_assert_int_eq(memcmp(f.tensors[0].data, x, n * sizeof *x), 0);
    st_close(&f);

    w = st_writer_new();
    st_writer_save(w, path);   /* overwrites */
    st_writer_free(w);
    st_open_or_die(path, &f);
    ck_assert_int_eq(f.ntensors, 0);
    ck_assert_int_eq(f.nmeta, 0);
    ck_assert_uint_eq(f.size, 16);   /* 8 + "{}" padded to 8 */
    st_close(&f);
    free(x);
    tu_temp_file_free(path);
}
END_TEST

/* Hand-computed layout: the header below is 187 bytes, padded with 5 spaces to 192, so the
 * data section starts at 8 + 192 = 200 (a multiple of 8) and the file is 200 + 8 + 4 + 8 = 220. */
static const char layout_json[] =
    "{\"__metadata__\":{\"k\":\"v\"},"
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[8,12]},"
    "\"c\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[12,20]}}";
static const unsigned char layout_data[20] = {
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0,   /* 1.0f, -2.0f */
    0xf9, 0xff, 0xff, 0xff,                           /* -7 */
    0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};  /* 0x0102030405060708 */

START_TEST(byte_layout) {
    char *dir = tu_tempdir("st");
    char *path = tu_path(dir, "tiny.safetensors");
    float a[2] = {1.0f, -2.0f};
    int32_t b = -7;
    int64_t c = 0x0102030405060708LL, sa = 2, sb = 1;
    StWriter *w = st_writer_new();
    st_writer_add(w, "a", DT_F32, 1, &sa, a);
    st_writer_add(w, "b", DT_I32, 1, &sb, &b);
    st_writer_add(w, "c", DT_I64, 0, NULL, &c);
    st_writer_meta(w, "k", "v");
    st_writer_save(w, path);
    st_writer_free(w);

    size_t len;
    unsigned char *bytes = read_file(path, &len);
    ck_assert_ptr_nonnull(bytes);
    ck_assert_uint_eq(sizeof layout_json - 1, 187);
    ck_assert_uint_eq(len, 220);
    const unsigned char want_len[8] = {192, 0, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(memcmp(bytes, want_len, 8), 0);
    ck_assert_int_eq(memcmp(bytes + 8, layout_json, 187), 0);
    for (int i = 8 + 187; i < 200; i++) ck_assert_int_eq(bytes[i], ' ');
    ck_assert_int_eq(memcmp(bytes + 200, layout_data, 20), 0);
    free(bytes);

    /* The same layout built by hand (pretty-printed JSON, newline padding) reads back. */
    char *hand = tu_path(dir, "hand.safetensors");
    const char pretty[] =
        "{\n  \"c\": {\"dtype\": \"I64\", \"shape\": [], \"data_offsets\": [12, 20]},\n"
        "  \"a\": {\"data_offsets\": [0, 8], \"shape\": [2], \"dtype\": \"F32\"},\n"
        "  \"b\": {\"dtype\": \"I32\", \"shape\": [1], \"data_offsets\": [8, 12]}\n}\n";
    size_t hl = sizeof pretty - 1, fl = 8 + hl + 20;
    unsigned char *buf = xmalloc(fl);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, pretty, hl);
    memcpy(buf + 8 + hl, layout_data, 20);
    write_file_atomic(hand, buf, fl);
    StFile f;
    st_open_or_die(hand, &f);
    ck_assert_int_eq(f.ntensors, 3);
    ck_assert_str_eq(f.tensors[0].name, "c");
    ck_assert_int_eq(f.tensors[0].ndim, 0);
    /* This header is not padded, so the data section is not aligned: copy, never cast. */
    int64_t cv;
    float av[2];
    int32_t bv;
    memcpy(&cv, st_find(&f, "c")->data, 8);
    memcpy(av, st_find(&f, "a")->data, 8);
    memcpy(&bv, st_find(&f, "b")->data, 4);
    ck_assert_int_eq(cv, 0x0102030405060708LL);
    ck_assert_float_eq(av[0], 1.0f);
    ck_assert_float_eq(av[1], -2.0f);
    ck_assert_int_eq(bv, -7);
    st_close(&f);
    free(buf);
    unlink(hand);
    unlink(path);
    rmdir(dir);
    free(hand);
    free(path);
    free(dir);
}
END_TEST

/* ---------------------------------------------------------------- corruption */

/* Writes the 8-byte length of `json`, json itself and `datalen` bytes of data. */
static void write_st_raw(const char *path, const char *json, size_t datalen) {
    size_t hl = strlen(json), n = 8 + hl + datalen;
    unsigned char *buf = xcalloc(n, 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, json, hl);
    for (size_t i = 0; i < datalen; i++) buf[8 + hl + i] = (unsigned char)i;
    write_file_atomic(path, buf, n);
    free(buf);
}

/* st_open must fail with "path: ..." containing `phrase`, leaving the StFile empty. */
static void expect_reject(const char *path, const char *phrase) {
    StFile f;
    memset(&f, 0x5a, sizeof f);
    char err[512];
    ck_assert_int_eq(st_open(path, &f, err, sizeof err), -1);
    ck_assert_msg(strncmp(err, path, strlen(path)) == 0 && strncmp(err + strlen(path), ": ", 2) == 0,
                  "message does not start with the path: %s", err);
    ck_assert_msg(strstr(err, phrase) != NULL, "expected '%s' in: %s", phrase, err);
    ck_assert_ptr_null(f.map);
    ck_assert_ptr_null(f.tensors);
    ck_assert_int_eq(f.ntensors, 0);
}

/* One corrupt header per fault; `phrase` is the part of the message that names that fault. */
static void expect_header_reject(const char *json, size_t datalen, const char *phrase) {
    char *path = tu_temp_file("stbad", "bad.safetensors");
    write_st_raw(path, json, datalen);
    expect_reject(path, phrase);
    tu_temp_file_free(path);
}

#define OK_A "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"

START_TEST(reject_missing_file) {
    expect_reject("/nonexistent-clmtt/none.safetensors", "cannot open: No such file or directory");
}
END_TEST

START_TEST(reject_short_file) {
    char *path = tu_temp_file("stbad", "short.safetensors");
    write_file_atomic(path, "\x02\0\0\0\0", 5);
    expect_reject(path, "file is shorter than 8 bytes");
    write_file_atomic(path, "", 0);
    expect_reject(path, "file is shorter than 8 bytes");
    tu_temp_file_free(path);
}
END_TEST

START_TEST(reject_header_beyond_file) {
    char *path = tu_temp_file("stbad", "long.safetensors");
    unsigned char buf[8 + 10] = {11, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
    write_file_atomic(path, buf, sizeof buf);
    expect_reject(path, "is beyond the file size");
    buf[0] = 0;   /* a length that wraps around when added to 8 */
    buf[7] = 0xff;
    write_file_atomic(path, buf, sizeof buf);
    expect_reject(path, "is beyond the file size");
    buf[7] = 0;
    buf[0] = 10;   /* exactly the file: valid, empty */
    write_file_atomic(path, buf, sizeof buf);
    StFile f;
    st_open_or_die(path, &f);
    ck_assert_int_eq(f.ntensors, 0);
    st_close(&f);
    tu_temp_file_free(path);
}
END_TEST

START_TEST(reject_bad_json) {
    expect_header_reject("{\"a\": ", 0, "header is not well-formed JSON");
    expect_header_reject("{" OK_A "} x", 8, "header is not well-formed JSON");
    expect_header_reject("", 0, "header is not well-formed JSON");
}
END_TEST

START_TEST(reject_not_object) {
    expect_header_reject("[1, 2]", 0, "header is not a JSON object");
    expect_header_reject("\"text\"", 0, "header is not a JSON object");
}
END_TEST

START_TEST(reject_entry_not_object) {
    expect_header_reject("{\"a\": 5}", 0, "tensor 'a': entry is not an object");
    expect_header_reject("{\"a\": [0, 8]}", 8, "tensor 'a': entry is not an object");
}
END_TEST

START_TEST(reject_missing_field) {
    expect_header_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "tensor 'a': missing field 'data_offsets'");
    expect_header_reject("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "tensor 'a': missing field 'shape'");
    expect_header_reject("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'a': missing field 'dtype'");
}
END_TEST

START_TEST(reject_unknown_dtype) {
    expect_header_reject("{\"a\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}", 8,
                         "tensor 'a': unknown dtype 'F16'");
    expect_header_reject("{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'a': unknown dtype");
}
END_TEST

START_TEST(reject_bad_shape) {
    const char *phrase = "tensor 'a': shape is not a list of non-negative integers";
    expect_header_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}}", 8, phrase);
    expect_header_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 8, phrase);
    expect_header_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, phrase);
    expect_header_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, phrase);
    expect_header_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", 8,
                         "at most 8 are supported");
}
END_TEST

START_TEST(reject_bad_offsets) {
    const char *phrase = "tensor 'a': data_offsets is not two integers [begin, end] with begin <= end";
    expect_header_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, phrase);
    expect_header_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, phrase);
    expect_header_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8, phrase);
    expect_header_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8.5]}}", 8, phrase);
    expect_header_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, phrase);
    expect_header_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":\"0,8\"}}", 8, phrase);
}
END_TEST

START_TEST(reject_span_outside) {
    expect_header_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", 8,
                         "tensor 'a': data_offsets [0, 12] lie outside the data section of 8 bytes");
    expect_header_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[9,9]}}", 8,
                         "lie outside the data section");
}
END_TEST

START_TEST(reject_size_mismatch) {
    expect_header_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 12,
                         "tensor 'a': shape and dtype F32 need 12 bytes but data_offsets span 8 (size mismatch)");
    expect_header_reject("{\"a\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "(size mismatch)");
    /* A shape whose byte count overflows 64 bits must not wrap around to the span. */
    expect_header_reject(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,1],\"data_offsets\":[0,0]}}", 8, "(size mismatch)");
}
END_TEST

START_TEST(reject_overlap) {
    expect_header_reject("{" OK_A ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
                         "tensors 'a' and 'b' have overlapping data");
    /* Listed out of order, and one span nested inside an earlier long one. */
    expect_header_reject("{\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
                         "\"a\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[0,20]}}",
                         20, "have overlapping data");
    /* Empty tensors may share an offset with anything; adjacent spans do not overlap. */
    char *path = tu_temp_file("stok", "ok.safetensors");
    write_st_raw(path,
                 "{" OK_A ",\"e\":{\"dtype\":\"I64\",\"shape\":[0],\"data_offsets\":[4,4]},"
                 "\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                 12);
    StFile f;
    char err[512];
    ck_assert_msg(st_open(path, &f, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(f.ntensors, 3);
    st_close(&f);
    tu_temp_file_free(path);
}
END_TEST

START_TEST(reject_bad_metadata) {
    expect_header_reject("{\"__metadata__\":{\"k\":1}," OK_A "}", 8, "__metadata__ is not an object of strings");
    expect_header_reject("{\"__metadata__\":[\"k\"]," OK_A "}", 8, "__metadata__ is not an object of strings");
    expect_header_reject("{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0, "duplicate __metadata__ key 'k'");
}
END_TEST

START_TEST(reject_duplicate_name) {
    expect_header_reject("{" OK_A ",\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12,
                         "duplicate name 'a'");
    expect_header_reject("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate name '__metadata__'");
}
END_TEST

/* ---------------------------------------------------------------- atomic writing */

/* Writers that die, for tu_in_child. */
static void save_to(void *path) {
    Sample s;
    fill_sample(&s);
    save_sample(&s, path);
}

static void save_duplicate(void *path) {
    float v[2] = {1, 2};
    int64_t n = 2;
    StWriter *w = st_writer_new();
    st_writer_add(w, "x", DT_F32, 1, &n, v);
    st_writer_add(w, "y", DT_F32, 1, &n, v);
    st_writer_add(w, "x", DT_F32, 0, NULL, v);
    st_writer_save(w, path);
}

START_TEST(atomic_write) {
    char *dir = tu_tempdir("statomic");
    char *path = tu_path(dir, "traj.safetensors");
    Sample s;
    fill_sample(&s);
    save_sample(&s, path);
    save_sample(&s, path);   /* replacing an existing file */
    char names[1024];
    ck_assert_int_eq(dir_entries(dir, names, sizeof names), 1);
    ck_assert_str_eq(names, "traj.safetensors ");

    /* Renaming onto a folder fails: the writer dies naming the path and leaves no temp file. */
    char *target = tu_path(dir, "taken");
    ck_assert_int_eq(mkdir(target, 0755), 0);
    char msg[4096];
    ck_assert_int_eq(tu_in_child(save_to, target, msg, sizeof msg), 1);
    ck_assert_msg(strstr(msg, target) != NULL && strstr(msg, "cannot write") != NULL, "message: %s", msg);
    ck_assert_int_eq(dir_entries(dir, names, sizeof names), 2);
    ck_assert_msg(strstr(names, ".tmp.") == NULL, "left behind: %s", names);

    /* A missing folder. */
    char *nodir = tu_path(dir, "missing/x.safetensors");
    ck_assert_int_eq(tu_in_child(save_to, nodir, msg, sizeof msg), 1);
    ck_assert_msg(strstr(msg, nodir) != NULL, "message: %s", msg);

    /* Two tensors of one name: refused before anything is written. */
    char *dup = tu_path(dir, "dup.safetensors");
    ck_assert_int_eq(tu_in_child(save_duplicate, dup, msg, sizeof msg), 1);
    ck_assert_msg(strstr(msg, dup) != NULL && strstr(msg, "duplicate tensor name 'x'") != NULL, "message: %s", msg);
    ck_assert(!file_exists(dup));
    free(dup);

    rmdir(target);
    unlink(path);
    rmdir(dir);
    free(nodir);
    free(target);
    free(path);
    free(dir);
}
END_TEST

/* ---------------------------------------------------------------- independent reader */

/* Prints every tensor of the file as "name dtype ndim dims... values..." lines (header
 * order), then "meta key value" lines, decoding with numpy when it is there and with
 * struct otherwise. */
static const char py_reader[] =
    "import json, struct, sys\n"
    "try:\n"
    "    import numpy as np\n"
    "except ImportError:\n"
    "    np = None\n"
    "raw = open(sys.argv[1], 'rb').read()\n"
    "n = struct.unpack('<Q', raw[:8])[0]\n"
    "assert (8 + n) % 8 == 0\n"
    "hdr = json.loads(raw[8:8 + n].decode('utf-8'))\n"
    "data = raw[8 + n:]\n"
    "codes = {'F32': ('<f4', 'f', 4), 'I32': ('<i4', 'i', 4), 'I64': ('<i8', 'q', 8)}\n"
    "out = open(sys.argv[2], 'w')\n"
    "for name, e in hdr.items():\n"
    "    if name == '__metadata__':\n"
    "        continue\n"
    "    b, end = e['data_offsets']\n"
    "    npd, sc, size = codes[e['dtype']]\n"
    "    count = (end - b) // size\n"
    "    if np is not None:\n"
    "        vals = np.frombuffer(data[b:end], dtype=npd).tolist()\n"
    "    else:\n"
    "        vals = list(struct.unpack('<%d%s' % (count, sc), data[b:end]))\n"
    "    out.write(' '.join([name, e['dtype'], str(len(e['shape']))] + [str(d) for d in e['shape']]"
    " + [repr(float(v)) if e['dtype'] == 'F32' else str(int(v)) for v in vals]) + '\\n')\n"
    "for k, v in hdr.get('__metadata__', {}).items():\n"
    "    out.write('meta %s %s\\n' % (k, v.replace('\\n', '|')))\n";

static void check_py_line(FILE *fp, const char *name, const char *dt, int ndim, const int64_t *shape, const void *data) {
    char word[256];
    ck_assert_int_eq(fscanf(fp, "%255s", word), 1);
    ck_assert_str_eq(word, name);
    ck_assert_int_eq(fscanf(fp, "%255s", word), 1);
    ck_assert_str_eq(word, dt);
    int nd;
    ck_assert_int_eq(fscanf(fp, "%d", &nd), 1);
    ck_assert_int_eq(nd, ndim);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        int64_t v;
        ck_assert_int_eq(fscanf(fp, "%" SCNd64, &v), 1);
        ck_assert_int_eq(v, shape[d]);
        numel *= (size_t)shape[d];
    }
    for (size_t i = 0; i < numel; i++) {
        if (strcmp(dt, "F32") == 0) {
            double v;
            ck_assert_int_eq(fscanf(fp, "%lf", &v), 1);
            ck_assert_float_eq((float)v, ((const float *)data)[i]);
            ck_assert_double_eq(v, (double)((const float *)data)[i]);
        } else {
            int64_t v;
            ck_assert_int_eq(fscanf(fp, "%" SCNd64, &v), 1);
            int64_t want = strcmp(dt, "I32") == 0 ? ((const int32_t *)data)[i] : ((const int64_t *)data)[i];
            ck_assert_int_eq(v, want);
        }
    }
}

START_TEST(python_reader_agrees) {
    if (system("python3 -c 'import json, struct' >/dev/null 2>&1") != 0) {
        printf("python_reader_agrees: python3 not available, skipped\n");
        return;
    }
    int have_numpy = system("python3 -c 'import numpy' >/dev/null 2>&1") == 0;
    printf("python_reader_agrees: decoding with %s\n", have_numpy ? "numpy.frombuffer" : "struct (numpy missing)");
    char *dir = tu_tempdir("stpy");
    char *path = tu_path(dir, "sample.safetensors"), *script = tu_path(dir, "reader.py"),
         *txt = tu_path(dir, "out.txt");
    Sample s;
    fill_sample(&s);
    save_sample(&s, path);
    write_file_atomic(script, py_reader, sizeof py_reader - 1);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s' '%s'", script, path, txt);
    ck_assert_int_eq(system(cmd), 0);
    FILE *fp = fopen(txt, "r");
    ck_assert_ptr_nonnull(fp);
    check_py_line(fp, "weights", "F32", 2, shape_w, s.w);
    check_py_line(fp, "counts", "I32", 1, shape_cnt, s.cnt);
    check_py_line(fp, "big", "I64", 2, shape_big, s.big);
    check_py_line(fp, "scalar", "F32", 0, NULL, &s.scalar);
    check_py_line(fp, "empty", "F32", 3, shape_empty, NULL);
    check_py_line(fp, "lone", "I64", 0, NULL, &s.lone);
    char line[512];
    int nmeta = 0;
    while (fgets(line, sizeof line, fp)) {
        if (strcmp(line, "\n") == 0) continue;
        nmeta++;
        ck_assert_msg(strcmp(line, "meta dataset CIFAR10\n") == 0 || strcmp(line, "meta epochs 3\n") == 0 ||
                          strcmp(line, "meta note quotes \" and \\ and|newline\n") == 0,
                      "unexpected line: %s", line);
    }
    ck_assert_int_eq(nmeta, 3);
    fclose(fp);
    unlink(txt);
    unlink(script);
    unlink(path);
    rmdir(dir);
    free(txt);
    free(script);
    free(path);
    free(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("safetensors");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, roundtrip_all_dtypes);
    tcase_add_test(tc, roundtrip_large_and_empty_file);
    tcase_add_test(tc, byte_layout);
    tcase_add_test(tc, reject_missing_file);
    tcase_add_test(tc, reject_short_file);
    tcase_add_test(tc, reject_header_beyond_file);
    tcase_add_test(tc, reject_bad_json);
    tcase_add_test(tc, reject_not_object);
    tcase_add_test(tc, reject_entry_not_object);
    tcase_add_test(tc, reject_missing_field);
    tcase_add_test(tc, reject_unknown_dtype);
    tcase_add_test(tc, reject_bad_shape);
    tcase_add_test(tc, reject_bad_offsets);
    tcase_add_test(tc, reject_span_outside);
    tcase_add_test(tc, reject_size_mismatch);
    tcase_add_test(tc, reject_overlap);
    tcase_add_test(tc, reject_bad_metadata);
    tcase_add_test(tc, reject_duplicate_name);
    tcase_add_test(tc, atomic_write);
    tcase_add_test(tc, python_reader_agrees);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
