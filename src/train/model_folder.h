/*
 * model_folder.h - a fine-tuned model written as a Hugging Face model folder
 * (loupe_finetuner_write_model): the folder loupe_model_open and
 * transformers' from_pretrained load, with the input's tensor names and
 * shapes and its config and tokenizer files.
 */
#ifndef LOUPE_TRAIN_MODEL_FOLDER_H
#define LOUPE_TRAIN_MODEL_FOLDER_H

#include "loupe.h"
#include "train/train_parameters.h"

/* The __metadata__ entry of model.safetensors that marks a folder written
 * here, which a later write may replace. */
#define MODEL_FOLDER_WRITER_KEY "loupe.written_by"
#define MODEL_FOLDER_WRITER "loupe finetune"

/* Writes directory (created if missing; its parent must exist), each file
 * atomically, model.safetensors first (so a folder left half written is
 * still one this may write again):
 *   model.safetensors  every tensor of model's checkpoint, in its order
 *                      (shard after shard), under its name and shape: the
 *                      float ones from params (F32), the others (integer
 *                      buffers) copied as stored; __metadata__ "format": "pt"
 *                      and MODEL_FOLDER_WRITER_KEY: MODEL_FOLDER_WRITER;
 *   config.json        model's, with "torch_dtype" and "dtype" (those it
 *                      has; "torch_dtype" when it has neither) "float32";
 *   the tokenizer files model's folder has, copied byte for byte;
 *   training.json      training_json, when not NULL.
 * A folder holding config.json or weights (model.safetensors without the
 * mark, model.safetensors.index.json, pytorch_model.bin and its index) is
 * refused with LOUPE_ERROR_ARGUMENT naming the file. params must be the
 * checkpoint's float tensors (train_parameters_load of model). */
loupe_status model_folder_write(const loupe_model *model, const train_parameters *params, const char *directory,
                                const char *training_json, loupe_error *error);

#endif
