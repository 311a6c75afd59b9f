/* CLBlast kernel parameters tuned on the user's device by CLBlast's own tuners
 * (clblast_tuner_xgemm, ...), read from the JSON files they write and applied with
 * CLBlastOverrideParameters, so a device missing from CLBlast's built-in database runs
 * tuned kernels instead of the generic defaults. The environment variable
 * CLMTT_CLBLAST_PARAMS=FILE[:FILE...] names the files; every runtime applies them to its
 * device when it opens (docs/formats.md#clblast-tuning-parameters). */
#ifndef CLMTT_BLAS_PARAMS_H
#define CLMTT_BLAS_PARAMS_H

#include <CL/cl.h>
#include <stddef.h>

enum { BLAS_PARAMS_MAX = 64 };

/* One tuner file: the kernel (CLBlast's database name), its precision in bits and the
 * best configuration the tuner found. */
typedef struct {
    char kernel[64];
    int precision;                 /* 16, 32 or 64 */
    char device[256];              /* the device it was tuned on ("" when the file does not say) */
    int count;
    char names[BLAS_PARAMS_MAX][32];
    size_t values[BLAS_PARAMS_MAX];
} BlasParams;

/* Reads one tuner JSON file; exits with a message naming the file and what is wrong. */
void blas_params_read(const char *path, BlasParams *out);
/* Applies p to `device`; exits naming `path` when CLBlast refuses (unknown kernel, a
 * parameter missing). Warns on stderr when the file was tuned on a device of another name. */
void blas_params_apply(const BlasParams *p, cl_device_id device, const char *device_name, const char *path);
/* Reads and applies every file of CLMTT_CLBLAST_PARAMS (none when unset or empty). */
void blas_params_apply_env(cl_device_id device, const char *device_name);

#endif
