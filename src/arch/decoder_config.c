/*
 * decoder_config.c - the config.json fields of the rotary decoder families
 * (see decoder.h), each error naming the file and the field.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "arch/decoder.h"
#include "io/config_fields.h"
#include "io/hf_config.h"
#include "util/error.h"

/* The rope scalings loupe implements, for messages. */
static const char ROPE_TYPES_SUPPORTED[] = "default, linear, llama3";

/* A required positive number of a rope scaling: `object_name`.`name`. */
static loupe_status read_rope_number(const cJSON *object, const char *object_name, const char *name,
                                     const char *rope_type, const char *path, double *out, loupe_error *error) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s.", object_name);
    loupe_status status = config_read_positive(object, prefix, name, NAN, path, out, error);
    if (status == LOUPE_OK && isnan(*out))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: %s%s missing (rope type %s needs it)", path, prefix,
                         name, rope_type);
    return status;
}

/* The scaling of `object` (rope_parameters or rope_scaling, named
 * object_name; NULL: the default). Its type is under rope_type or, in older
 * files, type. */
static loupe_status read_rope_scaling(const cJSON *object, const char *object_name, const char *path,
                                      rope_params *rope, loupe_error *error) {
    rope->scaling = ROPE_SCALING_DEFAULT;
    if (object == NULL) return LOUPE_OK;
    const char *type_key = config_present_field(object, "rope_type") ? "rope_type" : "type";
    const cJSON *type = config_present_field(object, type_key);
    if (type == NULL) return LOUPE_OK;
    if (!cJSON_IsString(type))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: %s.%s is %s, expected a string", path, object_name,
                         type_key, json_type_name(type));
    const char *name = type->valuestring;
    if (strcmp(name, "default") == 0) return LOUPE_OK;
    loupe_status status = LOUPE_OK;
    if (strcmp(name, "linear") == 0) {
        rope->scaling = ROPE_SCALING_LINEAR;
        status = read_rope_number(object, object_name, "factor", name, path, &rope->factor, error);
    } else if (strcmp(name, "llama3") == 0) {
        rope->scaling = ROPE_SCALING_LLAMA3;
        status = read_rope_number(object, object_name, "factor", name, path, &rope->factor, error);
        if (status == LOUPE_OK)
            status = read_rope_number(object, object_name, "low_freq_factor", name, path, &rope->low_freq_factor,
                                      error);
        if (status == LOUPE_OK)
            status = read_rope_number(object, object_name, "high_freq_factor", name, path,
                                      &rope->high_freq_factor, error);
        if (status == LOUPE_OK)
            status = read_rope_number(object, object_name, "original_max_position_embeddings", name, path,
                                      &rope->original_context, error);
        if (status == LOUPE_OK && !(rope->high_freq_factor > rope->low_freq_factor))
            status = error_set(error, LOUPE_ERROR_FORMAT,
                               "%s: %s.high_freq_factor %g must be above low_freq_factor %g", path, object_name,
                               rope->high_freq_factor, rope->low_freq_factor);
    } else {
        status = error_set(error, LOUPE_ERROR_UNSUPPORTED, "%s: %s.%s \"%.32s\" is not supported (supported: %s)",
                           path, object_name, type_key, name, ROPE_TYPES_SUPPORTED);
    }
    return status;
}

/* An optional JSON object field; NULL when absent or null. */
static loupe_status optional_object(const cJSON *root, const char *name, const char *path,
                                    const cJSON **out, loupe_error *error) {
    *out = config_present_field(root, name);
    if (*out != NULL && !cJSON_IsObject(*out))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: %s is %s, expected an object", path, name,
                         json_type_name(*out));
    return LOUPE_OK;
}

/* theta, the scaling and the rotary width: transformers 5 keeps them in
 * rope_parameters, older files at the top level (rope_theta, rope_scaling,
 * partial_rotary_factor; GPT-NeoX: rotary_emb_base, rotary_pct). */
static loupe_status read_rope(const cJSON *root, const char *path, double partial_default,
                              model_description *out, loupe_error *error) {
    const cJSON *parameters = NULL, *scaling = NULL;
    loupe_status status = optional_object(root, "rope_parameters", path, &parameters, error);
    if (status == LOUPE_OK) status = optional_object(root, "rope_scaling", path, &scaling, error);
    if (status != LOUPE_OK) return status;
    double theta = 10000.0, partial = partial_default;
    const char *theta_key = config_present_field(root, "rope_theta") ? "rope_theta" : "rotary_emb_base";
    status = config_read_positive(root, "", theta_key, theta, path, &theta, error);
    const char *partial_key = config_present_field(root, "partial_rotary_factor") ? "partial_rotary_factor"
                                                                                   : "rotary_pct";
    if (status == LOUPE_OK) status = config_read_positive(root, "", partial_key, partial, path, &partial, error);
    if (status == LOUPE_OK && parameters != NULL) {
        status = config_read_positive(parameters, "rope_parameters.", "rope_theta", theta, path, &theta, error);
        if (status == LOUPE_OK)
            status = config_read_positive(parameters, "rope_parameters.", "partial_rotary_factor", partial, path,
                                          &partial, error);
        if (status == LOUPE_OK) status = read_rope_scaling(parameters, "rope_parameters", path, &out->rope, error);
    } else if (status == LOUPE_OK) {
        status = read_rope_scaling(scaling, "rope_scaling", path, &out->rope, error);
    }
    if (status != LOUPE_OK) return status;
    if (partial > 1.0)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: partial_rotary_factor %g is above 1", path, partial);
    out->rope.theta = theta;
    out->rope.rotary_dim = (int)(out->head_dim * partial); /* Python's int(): truncated */
    if (out->rope.rotary_dim < 2 || out->rope.rotary_dim % 2 != 0)
        return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                         "%s: the rotary width (head_dim %d x partial_rotary_factor %g = %d) must be even and at "
                         "least 2",
                         path, out->head_dim, partial, out->rope.rotary_dim);
    out->rotary = true;
    return LOUPE_OK;
}

/* sqrt(C) rounded to the dtype the model runs in (transformers multiplies
 * by torch.tensor(hidden_size ** 0.5, dtype=hidden_states.dtype)). */
static float embedding_scale_in_dtype(int C, const char *dtype) {
    double value = sqrt((double)C);
    int bits = 24; /* float32 significand */
    if (strcmp(dtype, "bfloat16") == 0) bits = 8;
    if (strcmp(dtype, "float16") == 0) bits = 11;
    int exponent;
    double mantissa = frexp(value, &exponent); /* value = mantissa 2^exponent, mantissa in [0.5, 1) */
    return (float)ldexp(nearbyint(ldexp(mantissa, bits)), exponent - bits); /* ties to even */
}

/* The bias flags from the family's traits and keys. */
static loupe_status read_biases(const cJSON *root, const char *path, const decoder_family_traits *traits,
                                model_description *out, loupe_error *error) {
    loupe_status status = LOUPE_OK;
    bool attention_bias = traits->attention_bias;
    if (traits->qkv_bias_key)
        status = config_read_bool(root, "attention_bias", traits->attention_bias, path, &attention_bias, error);
    out->qkv_bias = attention_bias || traits->qkv_bias_only;
    out->output_bias = attention_bias && !traits->qkv_bias_only;
    out->mlp_bias = traits->mlp_bias;
    if (status == LOUPE_OK && traits->mlp_bias_key)
        status = config_read_bool(root, "mlp_bias", false, path, &out->mlp_bias, error);
    return status;
}

/* The sliding window: Mistral's sliding_window (an integer, null for none);
 * Qwen's use_sliding_window must be false. */
static loupe_status read_window(const cJSON *root, const char *path, const decoder_family_traits *traits,
                                model_description *out, loupe_error *error) {
    out->sliding_window = 0;
    loupe_status status = LOUPE_OK;
    if (traits->sliding_window_key) {
        const cJSON *window = cJSON_GetObjectItemCaseSensitive(root, "sliding_window");
        if (window == NULL)
            out->sliding_window = traits->sliding_window;
        else if (!cJSON_IsNull(window))
            status = config_read_size(root, "sliding_window", NULL, HF_CONFIG_MAX_CONTEXT, path,
                                      &out->sliding_window, error);
    }
    if (status == LOUPE_OK && traits->refuse_sliding_window) {
        bool used = false;
        status = config_read_bool(root, "use_sliding_window", false, path, &used, error);
        if (status == LOUPE_OK && used)
            status = error_set(error, LOUPE_ERROR_UNSUPPORTED,
                               "%s: use_sliding_window true is not supported (false is)", path);
    }
    return status;
}

/* The sizes; head_dim and num_key_value_heads may be absent. */
static loupe_status read_sizes(const cJSON *root, const char *path, const decoder_family_traits *traits,
                               model_description *out, loupe_error *error) {
    loupe_status status =
        config_read_size(root, "num_hidden_layers", NULL, HF_CONFIG_MAX_LAYERS, path, &out->n_layer, error);
    if (status == LOUPE_OK)
        status = config_read_size(root, "hidden_size", NULL, HF_CONFIG_MAX_WIDTH, path, &out->n_embd, error);
    if (status == LOUPE_OK)
        status = config_read_size(root, "num_attention_heads", NULL, HF_CONFIG_MAX_HEADS, path, &out->n_head, error);
    if (status == LOUPE_OK)
        status = config_read_optional_size(root, "num_key_value_heads", out->n_head, HF_CONFIG_MAX_HEADS, path,
                                           &out->n_kv_head, error);
    int default_head_dim = traits->head_dim ? traits->head_dim : (out->n_head ? out->n_embd / out->n_head : 0);
    if (status == LOUPE_OK)
        status = config_read_optional_size(root, "head_dim", default_head_dim, HF_CONFIG_MAX_WIDTH, path,
                                           &out->head_dim, error);
    if (status == LOUPE_OK)
        status = config_read_size(root, "intermediate_size", NULL, HF_CONFIG_MAX_INNER, path, &out->n_inner, error);
    if (status == LOUPE_OK)
        status = config_read_size(root, "vocab_size", NULL, HF_CONFIG_MAX_VOCAB, path, &out->n_vocab, error);
    if (status == LOUPE_OK)
        status = config_read_size(root, "max_position_embeddings", NULL, HF_CONFIG_MAX_CONTEXT, path, &out->n_ctx,
                                  error);
    if (status != LOUPE_OK) return status;
    if (out->head_dim < 1)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: hidden_size %d is narrower than num_attention_heads %d",
                         path, out->n_embd, out->n_head);
    if (out->n_head % out->n_kv_head != 0)
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", path, out->n_head,
                         out->n_kv_head);
    if ((int64_t)out->n_head * out->head_dim > HF_CONFIG_MAX_WIDTH)
        return error_set(error, LOUPE_ERROR_LIMIT, "%s: num_attention_heads x head_dim is %lld, above the limit of %d",
                         path, (long long)out->n_head * out->head_dim, HF_CONFIG_MAX_WIDTH);
    if (traits->fused_qkv && out->n_kv_head != out->n_head)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: num_key_value_heads %d must equal num_attention_heads %d",
                         path, out->n_kv_head, out->n_head);
    return LOUPE_OK;
}

loupe_status decoder_read_config(const cJSON *root, const char *path, const decoder_family_traits *traits,
                                 model_description *out, loupe_error *error) {
    loupe_status status = read_sizes(root, path, traits, out, error);
    if (status == LOUPE_OK)
        status = config_read_string(root, traits->activation_key, traits->activation, path, out->activation_name,
                                    sizeof out->activation_name, error);
    if (status == LOUPE_OK && activation_from_name(out->activation_name, &out->activation) != 0)
        status = error_set(error, LOUPE_ERROR_UNSUPPORTED, "%s: %s '%s' is not supported (%s are)", path,
                           traits->activation_key, out->activation_name, ACTIVATION_SUPPORTED_NAMES);
    if (status == LOUPE_OK)
        status = config_read_positive(root, "", traits->eps_key, traits->eps, path, &out->norm_eps, error);
    if (status == LOUPE_OK)
        status = config_read_bool(root, "tie_word_embeddings", traits->tie_word_embeddings, path,
                                  &out->tie_word_embeddings, error);
    if (status == LOUPE_OK) status = read_biases(root, path, traits, out, error);
    if (status == LOUPE_OK) status = read_window(root, path, traits, out, error);
    out->parallel_residual = false;
    if (status == LOUPE_OK && traits->parallel_residual_key)
        status = config_read_bool(root, "use_parallel_residual", true, path, &out->parallel_residual, error);
    if (status == LOUPE_OK) status = read_rope(root, path, traits->rotary_fraction, out, error);
    if (status != LOUPE_OK) return status;
    out->norm = traits->norm;
    out->norm_weight_offset = traits->norm_weight_offset;
    out->gated_mlp = traits->gated_mlp;
    out->qk_norm = traits->qk_norm;
    out->fused_qkv = traits->fused_qkv;
    out->embedding_scale = traits->scale_embeddings ? embedding_scale_in_dtype(out->n_embd, out->dtype) : 1.0f;
    return LOUPE_OK;
}
