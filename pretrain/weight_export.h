/* weight_export.h — a checkpoint's weights as a safetensors file
 * (crate-probe --export-safetensors), under crate's names or the official
 * CRATE PyTorch code's (pretrain/official_names.h).
 *
 *   crate     every tensor of the section (the whole model: encoder, decoder,
 *             heads), names and shapes as in the manifest's tensor table;
 *             init.from reads it back into the same model
 *   official  the tensors of the official model the checkpoint's architecture
 *             is (model/crate.py's CRATE without its classifier, or crate-lm's
 *             CRATE-GPT), under their names and shapes, plus what that code
 *             keeps in its state dict but crate computes: fixed sin-cos
 *             positions (pos_embedding; they need the image size), the tied
 *             lm_head.weight, the causal masks transformer.h.ℓ.attn.bias.
 *             Tensors the official model lacks (MAE's decoder, DINO's head, a
 *             mask token) are left out and counted.
 *
 * Metadata: format "pt", producer "crate", names, objective, and model (the
 * model section of the config, YAML): only what defines the tensors, so an
 * export read back with init.from and exported again gives the same bytes.
 */
#ifndef CRATE_WEIGHT_EXPORT_H
#define CRATE_WEIGHT_EXPORT_H

typedef struct {
    const char *ckpt;    /* a step folder or a folder with `latest` */
    const char *weights; /* section: "params" or "teacher" */
    const char *path;    /* the .safetensors file to write */
    int official;        /* 1: official names */
    int image_h, image_w; /* official image exports with sin-cos positions: the
                           * image size; 0 reads it from the stored data.train */
} weight_export_request;

typedef struct {
    int written, left_out; /* tensors written; crate tensors the official model lacks */
    long long step;        /* the checkpoint's */
} weight_export_report;

int weight_export(const weight_export_request *r, weight_export_report *rep);

#endif
