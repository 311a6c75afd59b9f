/* An image parameterization: how the synthetic set stores its images, and how a student
 * step gets rows of network input from that stored form.
 *
 *   create    an implementation's constructor (imageparam_pixels, imageparam_texture, ...)
 *   draw      step k's own random choices for the n set rows of its batch (texture: crop
 *             offsets); called once per step, in step order, before the step renders
 *   render    stored form -> the step's network input: `rounds` x n rows, row r*n + i from
 *             set row idx[idx_off + i]
 *   pullback  dstored += scale x J^T u: the meta-gradient u at the rendered rows back to the
 *             stored form (J: the Jacobian of render)
 *   save      stored form (device) -> the set file's images (host), rows x file_floats
 *   load      the set file's images (host) -> stored form (device)
 *   extras    what the set file carries beside the images: the stored form itself and its
 *             metadata, when it is not the images (NULL: nothing)
 *
 * The stored form is `stored_floats` floats at the start of the set's flat parameter buffer
 * (host/distill/learnset.h). A new parameterization is one more file with these functions
 * and one more case where the command picks it. */
#ifndef CLMTT_IMAGEPARAM_H
#define CLMTT_IMAGEPARAM_H

#include "core/blas.h"
#include "core/rng.h"
#include "io/synset.h"

typedef struct ImageParam ImageParam;

typedef struct {
    const char *name;
    void (*draw)(ImageParam *p, int step, int n, Rng *rng);
    void (*render)(ImageParam *p, int step, DPtr stored, cl_mem idx, int idx_off, int n, cl_mem out);
    void (*pullback)(ImageParam *p, int step, DPtr dstored, cl_mem idx, int idx_off, int n, cl_mem u, float scale);
    void (*save)(ImageParam *p, DPtr stored, float *images);
    void (*load)(ImageParam *p, const float *images, DPtr stored);
    void (*extras)(ImageParam *p, DPtr stored, SynExtras *out);
    void (*destroy)(ImageParam *p);
} ImageParamOps;

struct ImageParam {
    const ImageParamOps *ops;
    int rows;               /* set rows (images, or canvases) */
    int C, H, W;            /* one network input */
    int fh, fw;             /* one row as the set file holds it: C x fh x fw */
    int rounds;             /* network inputs per set row in one step */
    size_t stored_floats;   /* the whole stored form */
    void *impl;             /* the implementation's own state */
};

/* Plain pixels: the stored form is the images themselves, rows x C x H x W. */
ImageParam *imageparam_pixels(int rows, int C, int H, int W);
/* Texture canvases (host/augment/texture.h): rows x C x (side H) x (side W) canvases, each
 * step takes `rounds` random circular crops of every canvas of its batch. Up to max_steps
 * steps of max_batch canvases keep their offsets for the reverse sweep. */
ImageParam *imageparam_texture(int rows, int C, int H, int W, int side, int rounds, int max_steps, int max_batch);

/* Frequency-domain images: rows x C x K orthonormal DCT coefficients, at the first K positions
 * of each channel's ranking order [C][H*W] (host/data/freqrank.h); render decodes them to
 * C x H x W inputs. Batches of up to max_batch rows. */
ImageParam *imageparam_freq(int rows, int C, int H, int W, int K, const int64_t *order, int max_batch);
/* Frequency: the kept positions [C][K] (flat h*W + w), and K. */
const int32_t *imageparam_freq_index(const ImageParam *p, int *K);

/* Texture: the host copy of step k's crop offsets (rounds x n pairs dh, dw), for tests. */
const int32_t *imageparam_texture_offsets(const ImageParam *p, int step);

void imageparam_free(ImageParam *p);
/* save and load of parameterizations whose stored form is the file's images (pixels, canvases). */
void imageparam_save_as_is(ImageParam *p, DPtr stored, float *images);
void imageparam_load_as_is(ImageParam *p, const float *images, DPtr stored);

#endif
