/* Runs a Net on the device for batches of up to max_n samples. Keeps every layer's
 * output (and, for the R-operator pass, every tangent) for one batch at a time; the
 * adjoints of the nodes share a few buffers (two for a chain of layers, where they
 * ping-pong; residual nets keep a branch's adjoint while the other branch runs, and a node
 * that feeds two layers sums their contributions). Inputs are NCHW images; targets are
 * rows [n][K], one distribution per sample (one-hot for hard labels).
 *
 *   exec_forward         logits of a batch (train: batch statistics for batch norm,
 *                        and the running statistics are updated; eval: running statistics)
 *   exec_loss            softmax cross-entropy: mean loss and correct count are added to
 *                        the device accumulator (read with exec_take_sums); the same pass
 *                        writes the loss's gradient, where exec_backward starts
 *   exec_backward        grad = d loss / d params (overwritten), optional input gradient;
 *                        needs exec_loss or exec_softmax after the forward
 *   exec_grad_hvp        one pass for distillation (docs/algorithm.md#per-layer-second-order-passes): grad = g, hvp = H lambda,
 *                        u = the input meta-gradient: the mixed second derivative
 *                        applied to lambda, at the input. grad may be absent (NULL
 *                        buffer): the backward pass then runs for the adjoints only,
 *                        without the parameters' gradient products
 * Runs of layers that net/fuse.h finds (conv -> [norm] -> act -> [pool]) run as one block
 * (layers/block.h) per pass: only the block's output, tangent and statistics are kept, and
 * the block returns its convolution's bias gradient. */
#ifndef CLMTT_EXEC_H
#define CLMTT_EXEC_H

#include "net/fuse.h"
#include "net/net.h"
#include "core/tensor.h"

typedef struct {
    const Net *net;
    int max_n;
    int with_tangents;
    cl_mem act[NET_MAX_LAYERS + 1];   /* act[i+1]: output of layer i; act[0] unused */
    cl_mem tan[NET_MAX_LAYERS + 1];   /* tangents, same sizes (with_tangents only) */
    cl_mem stats[NET_MAX_LAYERS];     /* normalization statistics */
    int slot[NET_MAX_LAYERS + 1];     /* node v's adjoint lives in adj[slot[v]] (net_adjoint_slots) */
    int nslots;
    cl_mem adj[NET_MAX_LAYERS + 1], radj[NET_MAX_LAYERS + 1]; /* adjoints and their tangents */
    cl_mem scratch, rscratch;         /* a second contribution to a node that feeds two layers */
    cl_mem run_mean[NET_MAX_LAYERS];  /* batch norm running statistics, per layer */
    cl_mem run_var[NET_MAX_LAYERS];
    cl_mem probs, rowloss, correct;
    cl_mem sums;                      /* [0] loss sum, [1] correct count, [2] rows */
    int dlogits_n;                    /* rows of the output gradient the last loss pass wrote (0: none) */
    NetBlocks blocks;                 /* fused norm + activation + pool runs (net/fuse.h) */
} Exec;

void exec_init(Exec *e, const Net *net, int max_n, int with_tangents);
void exec_free(Exec *e);
/* Resets batch norm running statistics to mean 0, variance 1 (a fresh network). */
void exec_reset_running(Exec *e);

void exec_forward(Exec *e, DPtr params, cl_mem input, int n, int train);
cl_mem exec_logits(const Exec *e);
void exec_loss(Exec *e, cl_mem targets, int n);
/* Only the class probabilities and the loss's gradient that exec_backward needs (no loss or
 * accuracy sums). */
void exec_softmax(Exec *e, cl_mem targets, int n);
void exec_backward(Exec *e, DPtr params, DPtr grad, cl_mem input, int n, cl_mem dinput);
void exec_grad_hvp(Exec *e, DPtr params, DPtr lambda, cl_mem input, int n, cl_mem targets, DPtr grad, DPtr hvp,
                   cl_mem u);

/* Reads and clears the accumulated loss sum, correct count and row count. */
void exec_take_sums(Exec *e, double *loss_sum, double *correct, double *rows);

#endif
