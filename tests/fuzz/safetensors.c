/* st_open on any bytes: 0 with every tensor inside the file, or -1 with a message. */
#include "fuzz_common.h"

#include "io/safetensors.h"

/* As in core/tensor.c, which also holds device code and is not linked here. */
size_t dtype_size(DType t) { return t == DT_I64 ? 8 : 4; }
const char *dtype_name(DType t) { return t == DT_F32 ? "F32" : t == DT_I32 ? "I32" : "I64"; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    StFile f;
    char err[512];
    if (st_open(path, &f, err, sizeof err) != 0) {
        if (!err[0]) abort(); /* a refusal always says why */
        return 0;
    }
    for (int i = 0; i < f.ntensors; i++) {
        const StTensor *t = &f.tensors[i];
        if ((const char *)t->data < (const char *)f.map || (const char *)t->data + t->nbytes > (const char *)f.map + f.size ||
            t->nbytes != t->numel * dtype_size(t->dtype) || t->ndim < 0 || t->ndim > 8)
            abort();
        fuzz_touch(t->data, t->nbytes);
        if (st_find(&f, t->name) == NULL) abort();
    }
    for (int i = 0; i < f.nmeta; i++)
        if (st_meta(&f, f.meta_keys[i]) == NULL) abort();
    st_close(&f);
    return 0;
}
