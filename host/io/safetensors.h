/* safetensors files: an 8-byte little-endian header length, a JSON header
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "string", ...}}, then the raw little-endian data.
 * Reading validates everything and names the file and the fault; writing goes
 * through a temporary file, fsync and rename, so a file is complete or absent. */
#ifndef CLMTT_SAFETENSORS_H
#define CLMTT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/tensor.h"   /* DType */

typedef struct {
    char name[256];
    DType dtype;
    int ndim;
    int64_t shape[8];
    size_t numel;
    size_t nbytes;
    const void *data;   /* points into the mapped file; may be unaligned (files from other
                           writers, or an I64 tensor after an odd number of 4-byte values),
                           so copy with memcpy rather than casting where alignment matters */
} StTensor;

typedef struct {
    char *path;
    void *map;          /* the whole file, mmap'd read-only */
    size_t size;
    int ntensors;
    StTensor *tensors;
    int nmeta;
    char **meta_keys;
    char **meta_values;
} StFile;

/* Returns 0, or -1 with "path: what is wrong" in err. */
int st_open(const char *path, StFile *out, char *err, size_t errlen);
/* Same, but dies with the message. */
void st_open_or_die(const char *path, StFile *out);
void st_close(StFile *f);
const StTensor *st_find(const StFile *f, const char *name);
/* Metadata value or NULL. */
const char *st_meta(const StFile *f, const char *key);

/* Writer: tensors are referenced, not copied, until st_writer_save. */
typedef struct StWriter StWriter;
StWriter *st_writer_new(void);
void st_writer_add(StWriter *w, const char *name, DType dtype, int ndim, const int64_t *shape, const void *data);
void st_writer_meta(StWriter *w, const char *key, const char *value);
/* Writes atomically; dies naming the path on failure. */
void st_writer_save(StWriter *w, const char *path);
void st_writer_free(StWriter *w);

#endif
