/* Device memory: accounted buffers, a thin tensor type, and float pointers with offsets.
 * Every device allocation goes through dev_alloc, so clmtt always knows the bytes it
 * holds now and at peak (runs report the peak). */
#ifndef CLMTT_TENSOR_H
#define CLMTT_TENSOR_H

#include "core/runtime.h"

typedef enum { DT_F32 = 0, DT_I32 = 1, DT_I64 = 2 } DType;
size_t dtype_size(DType t);
const char *dtype_name(DType t);   /* safetensors spelling: F32, I32, I64 */

/* A float offset into a device buffer: parameters live in one flat buffer. */
typedef struct { cl_mem mem; size_t off; } DPtr;
static inline DPtr dptr(cl_mem m, size_t off) { DPtr p = {m, off}; return p; }
static inline DPtr dptr_add(DPtr p, size_t n) { p.off += n; return p; }

/* Allocates `bytes` (zero-filled). Dies with what was being allocated, the size,
 * and the device's limits when it cannot. */
cl_mem dev_alloc(size_t bytes, const char *what);
/* How many items of item_bytes each one buffer may hold under the device's per-buffer cap
 * (RT.dev.max_alloc: CL_DEVICE_MAX_MEM_ALLOC_SIZE, lowered by CLMTT_MAX_ALLOC_BYTES); at
 * least 1, so callers that chunk always progress (a single item too big is dev_alloc's
 * clear refusal). */
size_t dev_max_items(size_t item_bytes);
void dev_free(cl_mem m);
size_t dev_mem_current(void);
size_t dev_mem_peak(void);
void dev_mem_reset_peak(void);

/* Blocking transfers; offsets and sizes in bytes. */
void dev_write(cl_mem m, size_t off, size_t bytes, const void *src);
/* The same without waiting: the copy is made when the queue reaches it, so src must stay
 * alive and unchanged until a later blocking call (a read, rt_finish) has returned. */
void dev_write_async(cl_mem m, size_t off, size_t bytes, const void *src);
void dev_read(cl_mem m, size_t off, size_t bytes, void *dst);
/* Float helpers; offsets and counts in floats. */
void dev_fill(cl_mem m, size_t off, size_t n, float v);
void dev_copy(cl_mem dst, size_t doff, cl_mem src, size_t soff, size_t n);
void dev_write_f32(cl_mem m, size_t off, size_t n, const float *src);
void dev_read_f32(cl_mem m, size_t off, size_t n, float *dst);

/* A device tensor with shape and dtype; `owns` says whether tensor_free releases it. */
typedef struct {
    cl_mem mem;
    DType dtype;
    int ndim;
    int64_t shape[6];
    size_t numel;
    int owns;
} Tensor;

Tensor tensor_new(DType dt, int ndim, const int64_t *shape, const char *what);
Tensor tensor_f32(size_t n, const char *what);
void tensor_free(Tensor *t);
size_t tensor_bytes(const Tensor *t);

#endif
