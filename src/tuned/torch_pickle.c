/*
 * torch_pickle.c - the restricted unpickler of torch_pickle.h.
 *
 * A stack machine over value nodes kept in growable arrays and referred to
 * by index: strings point into the pickle's bytes, tuples into a shared
 * array of item indices, dicts are linked lists of entries (SETITEM
 * mutates a dict that the memo may share, as in Python). Every opcode
 * checks the bytes it reads against the end and the stack it pops against
 * the current mark; nothing here is executed or looked up by name but the
 * five globals allowed.
 */
#include "tuned/torch_pickle.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

typedef enum value_kind {
    VALUE_NONE,
    VALUE_BOOL,
    VALUE_INT,
    VALUE_STRING,
    VALUE_TUPLE,
    VALUE_GLOBAL,
    VALUE_STORAGE,
    VALUE_DICT,
    VALUE_TENSOR,
} value_kind;

static const char *const kind_names[] = {"None", "a bool", "an int", "a string", "a tuple",
                                         "a global", "a storage", "a dict", "a tensor"};

typedef enum allowed_global {
    GLOBAL_ORDERED_DICT,
    GLOBAL_REBUILD_TENSOR,
    GLOBAL_FLOAT_STORAGE,
    GLOBAL_HALF_STORAGE,
    GLOBAL_BFLOAT16_STORAGE,
} allowed_global;

static const struct {
    const char *module, *name;
} allowed_globals[] = {
    {"collections", "OrderedDict"},
    {"torch._utils", "_rebuild_tensor_v2"},
    {"torch", "FloatStorage"},
    {"torch", "HalfStorage"},
    {"torch", "BFloat16Storage"},
};

typedef struct value {
    value_kind kind;
    int64_t number;        /* BOOL, INT: the value; GLOBAL: an allowed_global; STORAGE: its element count */
    size_t offset, length; /* STRING: bytes in the pickle; TUPLE: items in the item array */
    int32_t head, tail;    /* DICT: first and last entry (-1: empty) */
    int32_t key;           /* STORAGE: the string value of its key; TENSOR: its storage */
    tensor_dtype dtype;    /* STORAGE */
    int32_t args;          /* TENSOR: the tuple of _rebuild_tensor_v2's arguments */
} value;

typedef struct dict_entry {
    int32_t key, value, next;
} dict_entry;

/* A growable array of fixed-size elements. */
typedef struct growable {
    void *data;
    size_t count, capacity, element;
} growable;

typedef struct machine {
    const uint8_t *bytes;
    size_t size, at; /* at: the next byte to read */
    size_t opcode_at;
    const char *name;
    loupe_error *error;
    growable values;  /* value */
    growable items;   /* int32_t: tuple items */
    growable entries; /* dict_entry */
    growable stack;   /* int32_t */
    growable marks;   /* size_t: stack heights */
    growable memo;    /* int32_t, -1 where unset */
} machine;

static loupe_status fail(machine *m, loupe_status status, const char *what) {
    return error_set(m->error, status, "%s: byte %zu: %s", m->name, m->opcode_at, what);
}

/* Room for one more element; its address, or NULL (error set). Every array
 * is bounded by the pickle's size, so a hostile file cannot make it grow
 * without end. */
static void *grow(machine *m, growable *array) {
    if (array->count == array->capacity) {
        size_t capacity = array->capacity ? 2 * array->capacity : 64;
        if (capacity > (size_t)4 * TORCH_PICKLE_MAX_BYTES + 64) {
            fail(m, LOUPE_ERROR_LIMIT, "more values than a pickle of this size can hold");
            return NULL;
        }
        void *data = realloc(array->data, capacity * array->element);
        if (data == NULL) {
            error_set(m->error, LOUPE_ERROR_MEMORY, "%s: out of memory", m->name);
            return NULL;
        }
        array->data = data;
        array->capacity = capacity;
    }
    return (char *)array->data + array->element * array->count++;
}

static value *value_at(const machine *m, int32_t index) { return (value *)m->values.data + index; }
static int32_t *stack_data(const machine *m) { return (int32_t *)m->stack.data; }

/* A new value of `kind`; its index, or -1 (error set). */
static int32_t new_value(machine *m, value_kind kind) {
    value *v = grow(m, &m->values);
    if (v == NULL) return -1;
    memset(v, 0, sizeof *v);
    v->kind = kind;
    v->head = v->tail = -1;
    return (int32_t)(m->values.count - 1);
}

static loupe_status push(machine *m, int32_t index) {
    if (index < 0) return m->error->status;
    int32_t *slot = grow(m, &m->stack);
    if (slot == NULL) return m->error->status;
    *slot = index;
    return LOUPE_OK;
}

/* The stack height above which the current mark's items lie (0 without a mark). */
static size_t mark_floor(const machine *m) {
    return m->marks.count ? ((size_t *)m->marks.data)[m->marks.count - 1] : 0;
}

static loupe_status pop(machine *m, int32_t *out) {
    if (m->stack.count <= mark_floor(m)) return fail(m, LOUPE_ERROR_FORMAT, "pops an empty stack");
    *out = stack_data(m)[--m->stack.count];
    return LOUPE_OK;
}

static loupe_status top(machine *m, int32_t *out) {
    if (m->stack.count <= mark_floor(m)) return fail(m, LOUPE_ERROR_FORMAT, "reads an empty stack");
    *out = stack_data(m)[m->stack.count - 1];
    return LOUPE_OK;
}

/* Pops the current mark; *first is the stack height where its items begin. */
static loupe_status pop_mark(machine *m, size_t *first) {
    if (m->marks.count == 0) return fail(m, LOUPE_ERROR_FORMAT, "no MARK to pop");
    *first = ((size_t *)m->marks.data)[--m->marks.count];
    return LOUPE_OK;
}

static loupe_status need(machine *m, size_t n) {
    if (m->size - m->at < n) return fail(m, LOUPE_ERROR_FORMAT, "the pickle ends inside an opcode");
    return LOUPE_OK;
}

static uint64_t read_le(const uint8_t *p, int n) {
    uint64_t result = 0;
    for (int i = n - 1; i >= 0; i--) result = result << 8 | p[i];
    return result;
}

/* ------------------------------------------------------------------------
 * Building values
 * ---------------------------------------------------------------------- */

/* A tuple of the stack's items from height `first` up, which are popped. */
static loupe_status make_tuple(machine *m, size_t first) {
    size_t count = m->stack.count - first, offset = m->items.count;
    for (size_t i = 0; i < count; i++) {
        int32_t *slot = grow(m, &m->items);
        if (slot == NULL) return m->error->status;
        *slot = stack_data(m)[first + i];
    }
    m->stack.count = first;
    int32_t index = new_value(m, VALUE_TUPLE);
    if (index < 0) return m->error->status;
    value_at(m, index)->offset = offset;
    value_at(m, index)->length = count;
    return push(m, index);
}

static int32_t tuple_item(const machine *m, const value *tuple, size_t i) {
    return ((int32_t *)m->items.data)[tuple->offset + i];
}

static loupe_status dict_set(machine *m, int32_t dict, int32_t key, int32_t item) {
    if (value_at(m, dict)->kind != VALUE_DICT) return fail(m, LOUPE_ERROR_FORMAT, "SETITEM on something not a dict");
    dict_entry *entry = grow(m, &m->entries);
    if (entry == NULL) return m->error->status;
    int32_t index = (int32_t)(m->entries.count - 1);
    *entry = (dict_entry){.key = key, .value = item, .next = -1};
    value *d = value_at(m, dict);
    if (d->tail >= 0) ((dict_entry *)m->entries.data)[d->tail].next = index;
    else d->head = index;
    d->tail = index;
    return LOUPE_OK;
}

static loupe_status string_value(machine *m, size_t length) {
    loupe_status status = need(m, length);
    if (status != LOUPE_OK) return status;
    int32_t index = new_value(m, VALUE_STRING);
    if (index < 0) return m->error->status;
    value_at(m, index)->offset = m->at;
    value_at(m, index)->length = length;
    m->at += length;
    return push(m, index);
}

static loupe_status int_value(machine *m, int64_t number) {
    int32_t index = new_value(m, VALUE_INT);
    if (index < 0) return m->error->status;
    value_at(m, index)->number = number;
    return push(m, index);
}

/* GLOBAL: "module\nname\n", one of the allowed pairs. */
static loupe_status global_value(machine *m) {
    const uint8_t *start = m->bytes + m->at, *end = m->bytes + m->size;
    const uint8_t *newline1 = memchr(start, '\n', (size_t)(end - start));
    const uint8_t *newline2 = newline1 ? memchr(newline1 + 1, '\n', (size_t)(end - newline1 - 1)) : NULL;
    if (newline2 == NULL) return fail(m, LOUPE_ERROR_FORMAT, "GLOBAL without its two lines");
    size_t module_length = (size_t)(newline1 - start), name_length = (size_t)(newline2 - newline1 - 1);
    m->at = (size_t)(newline2 + 1 - m->bytes);
    for (size_t g = 0; g < sizeof allowed_globals / sizeof allowed_globals[0]; g++)
        if (strlen(allowed_globals[g].module) == module_length && strlen(allowed_globals[g].name) == name_length &&
            memcmp(start, allowed_globals[g].module, module_length) == 0 &&
            memcmp(newline1 + 1, allowed_globals[g].name, name_length) == 0) {
            int32_t index = new_value(m, VALUE_GLOBAL);
            if (index < 0) return m->error->status;
            value_at(m, index)->number = (int64_t)g;
            return push(m, index);
        }
    char shown[160];
    int module_shown = module_length > 60 ? 60 : (int)module_length, name_shown = name_length > 60 ? 60 : (int)name_length;
    snprintf(shown, sizeof shown, "%.*s.%.*s", module_shown, (const char *)start, name_shown,
             (const char *)newline1 + 1);
    for (char *c = shown; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) *c = '?';
    return error_set(m->error, LOUPE_ERROR_UNSUPPORTED,
                     "%s: byte %zu: global %s is not allowed (a state dict of tensors needs only "
                     "collections.OrderedDict, torch._utils._rebuild_tensor_v2 and the Float, Half and BFloat16 "
                     "storages)",
                     m->name, m->opcode_at, shown);
}

static bool string_equals(const machine *m, const value *v, const char *text) {
    return v->kind == VALUE_STRING && v->length == strlen(text) && memcmp(m->bytes + v->offset, text, v->length) == 0;
}

/* BINPERSID: ("storage", StorageType, key, location, numel). */
static loupe_status persistent_load(machine *m) {
    int32_t record;
    loupe_status status = pop(m, &record);
    if (status != LOUPE_OK) return status;
    const value *tuple = value_at(m, record);
    if (tuple->kind != VALUE_TUPLE || tuple->length != 5 || !string_equals(m, value_at(m, tuple_item(m, tuple, 0)), "storage"))
        return fail(m, LOUPE_ERROR_FORMAT, "a persistent id that is not a (\"storage\", type, key, location, numel) record");
    const value *type = value_at(m, tuple_item(m, tuple, 1)), *key = value_at(m, tuple_item(m, tuple, 2));
    const value *location = value_at(m, tuple_item(m, tuple, 3)), *numel = value_at(m, tuple_item(m, tuple, 4));
    if (type->kind != VALUE_GLOBAL || type->number < GLOBAL_FLOAT_STORAGE)
        return fail(m, LOUPE_ERROR_FORMAT, "a storage record whose type is not a storage type");
    if (key->kind != VALUE_STRING || key->length == 0 || key->length > 64 || location->kind != VALUE_STRING ||
        numel->kind != VALUE_INT || numel->number < 0)
        return fail(m, LOUPE_ERROR_FORMAT, "a storage record with a bad key, location or element count");
    for (size_t i = 0; i < key->length; i++) {
        uint8_t c = m->bytes[key->offset + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'))
            return fail(m, LOUPE_ERROR_FORMAT, "a storage key that is not a plain name");
    }
    static const tensor_dtype dtypes[] = {TENSOR_DTYPE_F32, TENSOR_DTYPE_F16, TENSOR_DTYPE_BF16};
    int32_t index = new_value(m, VALUE_STORAGE);
    if (index < 0) return m->error->status;
    value *storage = value_at(m, index);
    storage->dtype = dtypes[value_at(m, tuple_item(m, value_at(m, record), 1))->number - GLOBAL_FLOAT_STORAGE];
    storage->key = tuple_item(m, value_at(m, record), 2);
    storage->number = value_at(m, tuple_item(m, value_at(m, record), 4))->number;
    return push(m, index);
}

/* A tuple of ints (shape or strides) of at most TENSOR_MAX_DIMS. */
static bool int_tuple(const machine *m, const value *tuple) {
    if (tuple->kind != VALUE_TUPLE || tuple->length > TENSOR_MAX_DIMS) return false;
    for (size_t i = 0; i < tuple->length; i++)
        if (value_at(m, tuple_item(m, tuple, i))->kind != VALUE_INT) return false;
    return true;
}

/* REDUCE: OrderedDict() or _rebuild_tensor_v2(storage, offset, size,
 * stride, requires_grad, backward_hooks[, metadata]). */
static loupe_status reduce(machine *m) {
    int32_t args_index = -1, callable_index = -1;
    loupe_status status = pop(m, &args_index);
    if (status == LOUPE_OK) status = pop(m, &callable_index);
    if (status != LOUPE_OK) return status;
    const value *callable = value_at(m, callable_index), *args = value_at(m, args_index);
    if (callable->kind != VALUE_GLOBAL || args->kind != VALUE_TUPLE)
        return fail(m, LOUPE_ERROR_FORMAT, "REDUCE of something not a global and a tuple");
    if (callable->number == GLOBAL_ORDERED_DICT) {
        if (args->length != 0) return fail(m, LOUPE_ERROR_UNSUPPORTED, "OrderedDict called with arguments");
        return push(m, new_value(m, VALUE_DICT));
    }
    if (callable->number != GLOBAL_REBUILD_TENSOR) return fail(m, LOUPE_ERROR_UNSUPPORTED, "a storage type called");
    if (args->length != 6 && args->length != 7)
        return fail(m, LOUPE_ERROR_FORMAT, "_rebuild_tensor_v2 with other than 6 or 7 arguments");
    const value *storage = value_at(m, tuple_item(m, args, 0)), *offset = value_at(m, tuple_item(m, args, 1));
    const value *shape = value_at(m, tuple_item(m, args, 2)), *stride = value_at(m, tuple_item(m, args, 3));
    const value *requires_grad = value_at(m, tuple_item(m, args, 4)), *hooks = value_at(m, tuple_item(m, args, 5));
    if (storage->kind != VALUE_STORAGE || offset->kind != VALUE_INT || offset->number < 0 || !int_tuple(m, shape) ||
        !int_tuple(m, stride) || shape->length != stride->length || requires_grad->kind != VALUE_BOOL)
        return fail(m, LOUPE_ERROR_FORMAT, "_rebuild_tensor_v2 with arguments that are not (storage, offset, "
                                           "shape, strides, requires_grad, hooks)");
    if (hooks->kind != VALUE_DICT || hooks->head >= 0)
        return fail(m, LOUPE_ERROR_UNSUPPORTED, "a tensor with backward hooks");
    if (args->length == 7 && value_at(m, tuple_item(m, args, 6))->kind != VALUE_NONE &&
        value_at(m, tuple_item(m, args, 6))->kind != VALUE_DICT)
        return fail(m, LOUPE_ERROR_UNSUPPORTED, "tensor metadata that is neither None nor a dict");
    int32_t index = new_value(m, VALUE_TENSOR);
    if (index < 0) return m->error->status;
    value_at(m, index)->args = args_index;
    return push(m, index);
}

/* ------------------------------------------------------------------------
 * The machine
 * ---------------------------------------------------------------------- */

static loupe_status memo_put(machine *m, uint64_t index) {
    if (index >= TORCH_PICKLE_MAX_MEMO) return fail(m, LOUPE_ERROR_LIMIT, "a memo index above the limit of 1048576");
    while (m->memo.count <= index) {
        int32_t *slot = grow(m, &m->memo);
        if (slot == NULL) return m->error->status;
        *slot = -1;
    }
    int32_t item;
    loupe_status status = top(m, &item);
    if (status != LOUPE_OK) return status;
    ((int32_t *)m->memo.data)[index] = item;
    return LOUPE_OK;
}

static loupe_status memo_get(machine *m, uint64_t index) {
    if (index >= m->memo.count || ((int32_t *)m->memo.data)[index] < 0)
        return fail(m, LOUPE_ERROR_FORMAT, "reads a memo entry never stored");
    return push(m, ((int32_t *)m->memo.data)[index]);
}

/* Runs one opcode; *stop is set by STOP. */
static loupe_status step(machine *m, bool *stop) {
    m->opcode_at = m->at;
    uint8_t opcode = m->bytes[m->at++];
    loupe_status status = LOUPE_OK;
    int32_t a = -1, b = -1, c = -1;
    size_t first = 0;
    switch (opcode) {
    case 0x80: /* PROTO */
        if ((status = need(m, 1)) != LOUPE_OK) return status;
        if (m->bytes[m->at] < 2 || m->bytes[m->at] > 4) return fail(m, LOUPE_ERROR_UNSUPPORTED, "pickle protocol other than 2 to 4");
        m->at++;
        return LOUPE_OK;
    case 0x95: /* FRAME: a length hint */
        if ((status = need(m, 8)) != LOUPE_OK) return status;
        m->at += 8;
        return LOUPE_OK;
    case '.': *stop = true; return LOUPE_OK;
    case '(': {
        size_t *slot = grow(m, &m->marks);
        if (slot == NULL) return m->error->status;
        *slot = m->stack.count;
        return LOUPE_OK;
    }
    case 'N': return push(m, new_value(m, VALUE_NONE));
    case 0x88: case 0x89: /* NEWTRUE, NEWFALSE */
        if ((a = new_value(m, VALUE_BOOL)) < 0) return m->error->status;
        value_at(m, a)->number = opcode == 0x88;
        return push(m, a);
    case 'K': if ((status = need(m, 1)) != LOUPE_OK) return status; m->at += 1; return int_value(m, m->bytes[m->at - 1]);
    case 'M': if ((status = need(m, 2)) != LOUPE_OK) return status; m->at += 2; return int_value(m, (int64_t)read_le(m->bytes + m->at - 2, 2));
    case 'J':
        if ((status = need(m, 4)) != LOUPE_OK) return status;
        m->at += 4;
        return int_value(m, (int32_t)(uint32_t)read_le(m->bytes + m->at - 4, 4));
    case 0x8a: { /* LONG1: a little-endian two's-complement integer of n bytes */
        if ((status = need(m, 1)) != LOUPE_OK) return status;
        size_t n = m->bytes[m->at++];
        if (n > 8) return fail(m, LOUPE_ERROR_UNSUPPORTED, "an integer wider than 64 bits");
        if ((status = need(m, n)) != LOUPE_OK) return status;
        uint64_t raw = n ? read_le(m->bytes + m->at, (int)n) : 0;
        if (n > 0 && n < 8 && (m->bytes[m->at + n - 1] & 0x80)) raw |= ~UINT64_C(0) << (8 * n);
        m->at += n;
        return int_value(m, (int64_t)raw);
    }
    case 'X': /* BINUNICODE */
        if ((status = need(m, 4)) != LOUPE_OK) return status;
        m->at += 4;
        return string_value(m, (size_t)read_le(m->bytes + m->at - 4, 4));
    case 0x8c: /* SHORT_BINUNICODE */
        if ((status = need(m, 1)) != LOUPE_OK) return status;
        m->at += 1;
        return string_value(m, m->bytes[m->at - 1]);
    case 'c': return global_value(m);
    case 'q': if ((status = need(m, 1)) != LOUPE_OK) return status; m->at += 1; return memo_put(m, m->bytes[m->at - 1]);
    case 'r': if ((status = need(m, 4)) != LOUPE_OK) return status; m->at += 4; return memo_put(m, read_le(m->bytes + m->at - 4, 4));
    case 0x94: return memo_put(m, m->memo.count); /* MEMOIZE */
    case 'h': if ((status = need(m, 1)) != LOUPE_OK) return status; m->at += 1; return memo_get(m, m->bytes[m->at - 1]);
    case 'j': if ((status = need(m, 4)) != LOUPE_OK) return status; m->at += 4; return memo_get(m, read_le(m->bytes + m->at - 4, 4));
    case ')': return make_tuple(m, m->stack.count);
    case 't': if ((status = pop_mark(m, &first)) != LOUPE_OK) return status; return make_tuple(m, first);
    case 0x85: case 0x86: case 0x87: { /* TUPLE1, TUPLE2, TUPLE3 */
        size_t n = (size_t)(opcode - 0x84);
        if (m->stack.count - mark_floor(m) < n) return fail(m, LOUPE_ERROR_FORMAT, "TUPLE of more items than the stack holds");
        return make_tuple(m, m->stack.count - n);
    }
    case '}': return push(m, new_value(m, VALUE_DICT));
    case 's':
        if ((status = pop(m, &c)) != LOUPE_OK || (status = pop(m, &b)) != LOUPE_OK || (status = top(m, &a)) != LOUPE_OK)
            return status;
        return dict_set(m, a, b, c);
    case 'u': {
        if ((status = pop_mark(m, &first)) != LOUPE_OK) return status;
        size_t count = m->stack.count - first;
        if (count % 2 != 0) return fail(m, LOUPE_ERROR_FORMAT, "SETITEMS with an odd number of items");
        if (first <= mark_floor(m)) return fail(m, LOUPE_ERROR_FORMAT, "SETITEMS without a dict below its MARK");
        a = stack_data(m)[first - 1];
        for (size_t i = 0; i < count && status == LOUPE_OK; i += 2)
            status = dict_set(m, a, stack_data(m)[first + i], stack_data(m)[first + i + 1]);
        m->stack.count = first;
        return status;
    }
    case 'Q': return persistent_load(m);
    case 'R': return reduce(m);
    case 'b': /* BUILD: only a dict's attributes (a state dict's _metadata), which are dropped */
        if ((status = pop(m, &b)) != LOUPE_OK || (status = top(m, &a)) != LOUPE_OK) return status;
        if (value_at(m, a)->kind != VALUE_DICT || value_at(m, b)->kind != VALUE_DICT)
            return fail(m, LOUPE_ERROR_UNSUPPORTED, "BUILD of something other than a dict's attributes");
        return LOUPE_OK;
    default: {
        char what[96];
        snprintf(what, sizeof what, "opcode 0x%02x%s%c%s is not allowed in a state dict of tensors", opcode,
                 opcode >= 0x20 && opcode < 0x7f ? " ('" : "", opcode >= 0x20 && opcode < 0x7f ? opcode : ' ',
                 opcode >= 0x20 && opcode < 0x7f ? "')" : "");
        return fail(m, LOUPE_ERROR_UNSUPPORTED, what);
    }
    }
}

/* ------------------------------------------------------------------------
 * The result
 * ---------------------------------------------------------------------- */

static char *copy_bytes(const uint8_t *bytes, size_t length) {
    char *copy = malloc(length + 1);
    if (copy == NULL) return NULL;
    memcpy(copy, bytes, length);
    copy[length] = '\0';
    return copy;
}

/* The state dict's entries, each a string key and a tensor, as the list. */
static loupe_status collect(machine *m, int32_t root, torch_pickle_tensor **tensors_out, size_t *n_out) {
    const value *dict = value_at(m, root);
    if (dict->kind != VALUE_DICT)
        return error_set(m->error, LOUPE_ERROR_FORMAT, "%s: the pickle holds %s, expected a state dict", m->name,
                         kind_names[dict->kind]);
    const dict_entry *entries = m->entries.data;
    size_t n = 0;
    for (int32_t e = dict->head; e >= 0; e = entries[e].next) n++;
    torch_pickle_tensor *tensors = calloc(n ? n : 1, sizeof *tensors);
    if (tensors == NULL) return error_set(m->error, LOUPE_ERROR_MEMORY, "%s: out of memory", m->name);
    size_t k = 0;
    loupe_status status = LOUPE_OK;
    for (int32_t e = dict->head; e >= 0 && status == LOUPE_OK; e = entries[e].next, k++) {
        const value *key = value_at(m, entries[e].key), *item = value_at(m, entries[e].value);
        if (key->kind != VALUE_STRING || memchr(m->bytes + key->offset, '\0', key->length) != NULL) {
            status = error_set(m->error, LOUPE_ERROR_FORMAT, "%s: state dict entry %zu has %s as its key", m->name, k,
                               kind_names[key->kind]);
            break;
        }
        torch_pickle_tensor *tensor = &tensors[k];
        tensor->name = copy_bytes(m->bytes + key->offset, key->length);
        if (tensor->name == NULL) {
            status = error_set(m->error, LOUPE_ERROR_MEMORY, "%s: out of memory", m->name);
            break;
        }
        if (item->kind != VALUE_TENSOR) {
            status = error_set(m->error, LOUPE_ERROR_UNSUPPORTED, "%s: state dict entry '%.200s' is %s, not a tensor",
                               m->name, tensor->name, kind_names[item->kind]);
            break;
        }
        const value *args = value_at(m, item->args);
        const value *storage = value_at(m, tuple_item(m, args, 0)), *shape = value_at(m, tuple_item(m, args, 2));
        const value *stride = value_at(m, tuple_item(m, args, 3)), *key_string = value_at(m, storage->key);
        tensor->storage_key = copy_bytes(m->bytes + key_string->offset, key_string->length);
        if (tensor->storage_key == NULL) {
            status = error_set(m->error, LOUPE_ERROR_MEMORY, "%s: out of memory", m->name);
            break;
        }
        tensor->dtype = storage->dtype;
        tensor->storage_numel = storage->number;
        tensor->offset = value_at(m, tuple_item(m, args, 1))->number;
        tensor->n_dims = (int)shape->length;
        for (int d = 0; d < tensor->n_dims; d++) {
            tensor->shape[d] = value_at(m, tuple_item(m, shape, (size_t)d))->number;
            tensor->stride[d] = value_at(m, tuple_item(m, stride, (size_t)d))->number;
        }
    }
    if (status != LOUPE_OK) {
        torch_pickle_free(tensors, n);
        return status;
    }
    *tensors_out = tensors;
    *n_out = n;
    return LOUPE_OK;
}

loupe_status torch_pickle_read(const uint8_t *bytes, size_t size, const char *name,
                               torch_pickle_tensor **tensors_out, size_t *n_out, loupe_error *error) {
    *tensors_out = NULL;
    *n_out = 0;
    loupe_error local; /* the machine reads back the status it set */
    if (error == NULL) error = &local;
    if (size > TORCH_PICKLE_MAX_BYTES)
        return error_set(error, LOUPE_ERROR_LIMIT, "%s: %zu bytes, above the limit of %d for a state dict's pickle",
                         name, size, TORCH_PICKLE_MAX_BYTES);
    machine m = {.bytes = bytes, .size = size, .name = name, .error = error};
    m.values.element = sizeof(value);
    m.items.element = sizeof(int32_t);
    m.entries.element = sizeof(dict_entry);
    m.stack.element = sizeof(int32_t);
    m.marks.element = sizeof(size_t);
    m.memo.element = sizeof(int32_t);
    loupe_status status = LOUPE_OK;
    bool stop = false;
    while (status == LOUPE_OK && !stop) {
        if (m.at >= m.size) {
            m.opcode_at = m.at;
            status = fail(&m, LOUPE_ERROR_FORMAT, "the pickle ends without STOP");
            break;
        }
        status = step(&m, &stop);
    }
    if (status == LOUPE_OK && (m.stack.count != 1 || m.marks.count != 0))
        status = error_set(error, LOUPE_ERROR_FORMAT, "%s: STOP with %zu values on the stack, expected 1", name,
                           m.stack.count);
    if (status == LOUPE_OK) status = collect(&m, stack_data(&m)[0], tensors_out, n_out);
    free(m.values.data);
    free(m.items.data);
    free(m.entries.data);
    free(m.stack.data);
    free(m.marks.data);
    free(m.memo.data);
    return status;
}

void torch_pickle_free(torch_pickle_tensor *tensors, size_t n) {
    if (tensors == NULL) return;
    for (size_t i = 0; i < n; i++) {
        free(tensors[i].name);
        free(tensors[i].storage_key);
    }
    free(tensors);
}
