/* qcvn120_speedups: one native pass over a request body that tells whether the generated server may
 * read it the short way (runtime/server/plainbody.py), and where its records are.
 *
 * scan(body, max_depth, max_list_items, max_object_keys) returns None unless the body is a "plain"
 * JSON object: valid UTF-8 whose every non-ASCII character, written or escaped (\uXXXX), is one that
 * NFC leaves alone and that composes with nothing (so every string is already in NFC, and none holds
 * a surrogate), only objects, arrays and strings (no number, true, false or null), no escape at all
 * in a key, no repeated key in any object, nesting below max_depth - 1, no array longer than max_list_items, no object with
 * more than min(64, max_object_keys) keys. None means "read it the careful way", which also writes
 * every refusal: this scan never refuses anything itself; nor is a body without records its business
 * (None too). Otherwise (the top-level object has a "data" member whose value is an array of objects)
 * it returns (node_bound, data_start, data_end, records): node_bound is strictjson.node_bound(body)
 * (1 + the body's ',', '{' and '[' bytes, inside strings too), data_start/data_end delimit that array
 * ('[' to after ']') and records holds each object's bytes as sent.
 *
 * CONTRACT numbers what scan promises: runtime/server/native.py uses the module only when its own
 * number is the same, so a generated server never relies on a promise its runtime does not know.
 *
 * The pure-Python side does without this module (the careful way for every body), with the same
 * verdicts: tests/test_plainbody.py compares the two on every body it builds.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#define VECTORS 1
#endif

/* 2: \uXXXX escapes in values taken like written characters; 1: no \u escape at all. */
#define SCAN_CONTRACT 2
#define MAX_KEYS 64 /* an object with more keys goes the careful way */
#define MAX_NEST 64

enum { C_PLAIN, C_QUOTE, C_BACKSLASH, C_CONTROL, C_UTF8, C_NODE };

static unsigned char byte_class[256];

typedef struct {
    const unsigned char *at;
    Py_ssize_t len;
    uint32_t hash;
} key_ref;

typedef struct {
    const unsigned char *p, *end, *start;
    int depth_limit;
    Py_ssize_t max_items;
    int max_keys;
    Py_ssize_t nodes;
    key_ref (*keys)[MAX_KEYS];
    int nkeys[MAX_NEST];
    Py_ssize_t data_start, data_end;
    Py_ssize_t *spans; /* pairs: start, end */
    Py_ssize_t nspans, capacity;
    int spans_failed;
} scanner;

/* Non-ASCII code points NFC leaves alone, that combine with nothing before them (canonical class 0,
 * never the second character of a canonical pair): tests/test_plainbody.py checks every one against
 * the running Python's unicodedata. Vietnamese text in NFC falls within the first two ranges. */
static int nfc_inert(uint32_t cp) {
    return (cp >= 0x80 && cp <= 0x2FF) || (cp >= 0x1E00 && cp <= 0x1EFF) || (cp >= 0x2010 && cp <= 0x2027) ||
           (cp >= 0x2030 && cp <= 0x205E) || (cp >= 0x20A0 && cp <= 0x20C0);
}

static inline int hex_digit(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static inline void skip_ws(scanner *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t')) s->p++;
}

/* The first byte at or after p that is not C_PLAIN (end if none). */
static const unsigned char *skip_plain(const unsigned char *p, const unsigned char *end) {
#ifdef VECTORS
    /* 16 bytes at a time: a byte is special when it is '"', '\\', ',', '{', '[', or below 0x20 as
     * a signed byte (a control character, or any byte of a non-ASCII character). */
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), comma = _mm_set1_epi8(',');
    const __m128i brace = _mm_set1_epi8('{'), bracket = _mm_set1_epi8('['), space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        __m128i special = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                       _mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, brace)));
        special = _mm_or_si128(special, _mm_or_si128(_mm_cmpeq_epi8(v, bracket), _mm_cmplt_epi8(v, space)));
        int mask = _mm_movemask_epi8(special);
        if (mask != 0) return p + __builtin_ctz((unsigned)mask);
        p += 16;
    }
#endif
    while (p < end && byte_class[*p] == C_PLAIN) p++;
    return p;
}

/* One UTF-8 character starting at s->p (a lead byte >= 0x80): 0 if it is valid and inert. */
static inline int utf8_char(scanner *s) {
    const unsigned char *p = s->p;
    Py_ssize_t left = s->end - p;
    uint32_t cp;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        if (left < 2 || (p[1] & 0xC0) != 0x80) return -1;
        cp = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
        s->p += 2;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return -1;
        cp = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
        if (cp < 0x800) return -1; /* overlong; surrogates are not inert, so refused below */
        s->p += 3;
    } else {
        return -1; /* continuation byte, overlong lead, or a 4-byte character (none is inert) */
    }
    return nfc_inert(cp) ? 0 : -1;
}

/* A string from its opening quote; a key gets its hash (FNV-1a) and may hold no escape. */
static int string(scanner *s, int is_key, uint32_t *hash) {
    const unsigned char *opened = ++s->p;
    for (;;) {
        /* the common bytes first, in a loop of their own */
        const unsigned char *p = skip_plain(s->p, s->end), *end = s->end;
        s->p = p;
        if (p >= end) return -1;
        switch (byte_class[*p]) {
        case C_NODE:
            s->nodes++;
            s->p++;
            continue;
        case C_QUOTE:
            if (is_key) {
                uint32_t h = 2166136261u;
                for (const unsigned char *k = opened; k < p; k++) h = (h ^ *k) * 16777619u;
                *hash = h;
            }
            s->p++;
            return 0;
        case C_BACKSLASH:
            if (is_key || p + 1 >= end) return -1;
            if (p[1] == 'u') {
                /* an escaped character (what .NET's encoder writes for every non-ASCII one): kept
                 * when ASCII or inert, like a written one; a surrogate is neither */
                if (end - p < 6) return -1;
                uint32_t cp = 0;
                for (int i = 2; i < 6; i++) {
                    int digit = hex_digit(p[i]);
                    if (digit < 0) return -1;
                    cp = cp << 4 | (uint32_t)digit;
                }
                if (cp >= 0x80 && !nfc_inert(cp)) return -1;
                s->p += 6;
                continue;
            }
            if (!(p[1] == '"' || p[1] == '\\' || p[1] == '/' || p[1] == 'b' || p[1] == 'f' || p[1] == 'n' ||
                  p[1] == 'r' || p[1] == 't'))
                return -1; /* an invalid escape: the careful way says so */
            s->p += 2;
            continue;
        case C_UTF8:
            if (utf8_char(s) < 0) return -1;
            continue;
        default: /* C_CONTROL */
            return -1;
        }
    }
}

static int value(scanner *s, int depth);

static int add_span(scanner *s, Py_ssize_t start, Py_ssize_t end) {
    if (s->nspans == s->capacity) {
        Py_ssize_t capacity = s->capacity ? 2 * s->capacity : 256;
        Py_ssize_t *grown = PyMem_RawRealloc(s->spans, (size_t)capacity * 2 * sizeof(Py_ssize_t));
        if (grown == NULL) return -1;
        s->spans = grown;
        s->capacity = capacity;
    }
    s->spans[2 * s->nspans] = start;
    s->spans[2 * s->nspans + 1] = end;
    s->nspans++;
    return 0;
}

/* After an item of an object or array: 1 past a ',' (another item follows), 0 past its closing
 * byte, -1 at anything else. */
static int next_item(scanner *s, unsigned char close) {
    skip_ws(s);
    if (s->p >= s->end) return -1;
    if (*s->p == close) {
        s->p++;
        return 0;
    }
    if (*s->p != ',') return -1;
    s->nodes++;
    s->p++;
    skip_ws(s);
    return 1;
}

static int object(scanner *s, int depth, int top) {
    if (depth >= s->depth_limit) return -1;
    key_ref *keys = s->keys[depth];
    int n = 0;
    uint64_t seen = 0;
    s->nodes++; /* the '{' */
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        if (s->p >= s->end || *s->p != '"') return -1;
        const unsigned char *key = s->p + 1;
        uint32_t hash = 0;
        if (string(s, 1, &hash) < 0) return -1;
        Py_ssize_t len = s->p - 1 - key;
        /* a key whose hash bit is new to this object repeats none of its keys */
        uint64_t bit = (uint64_t)1 << (hash & 63);
        if (seen & bit) {
            for (int i = 0; i < n; i++)
                if (keys[i].hash == hash && keys[i].len == len && memcmp(keys[i].at, key, (size_t)len) == 0) return -1;
        }
        seen |= bit;
        if (n == s->max_keys) return -1;
        keys[n].at = key;
        keys[n].len = len;
        keys[n].hash = hash;
        n++;
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':') return -1;
        s->p++;
        skip_ws(s);
        if (top && len == 4 && memcmp(key, "data", 4) == 0 && s->p < s->end && *s->p == '[') {
            s->data_start = s->p - s->start;
            if (value(s, depth + 1) < 0) return -1;
            s->data_end = s->p - s->start;
        } else if (value(s, depth + 1) < 0) {
            return -1;
        }
        int more = next_item(s, '}');
        if (more <= 0) return more;
    }
}

static int array(scanner *s, int depth) {
    if (depth >= s->depth_limit) return -1;
    /* The top-level "data" array is the one opened at depth 1 while data_end is still unset. */
    int is_data = depth == 1 && s->data_start == s->p - s->start && s->data_end < 0;
    Py_ssize_t items = 0;
    s->nodes++; /* the '[' */
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (;;) {
        if (++items > s->max_items) return -1;
        const unsigned char *item = s->p;
        if (value(s, depth + 1) < 0) return -1;
        if (is_data) {
            if (*item != '{') s->spans_failed = 1;
            else if (add_span(s, item - s->start, s->p - s->start) < 0) return -1; /* no memory: careful way */
        }
        int more = next_item(s, ']');
        if (more <= 0) return more;
    }
}

static int value(scanner *s, int depth) {
    if (s->p >= s->end) return -1;
    switch (*s->p) {
    case '{':
        return object(s, depth, 0);
    case '[':
        return array(s, depth);
    case '"':
        return string(s, 0, NULL);
    default:
        return -1; /* a number, true, false, null, or not JSON: the careful way */
    }
}

static PyObject *scan(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer body;
    int max_depth, max_object_keys;
    Py_ssize_t max_list_items;
    if (!PyArg_ParseTuple(args, "y*ini:scan", &body, &max_depth, &max_list_items, &max_object_keys)) return NULL;
    scanner s;
    memset(&s, 0, sizeof s);
    s.start = s.p = body.buf;
    s.end = s.start + body.len;
    /* one level short of the limit: the careful way judges a body that comes near it */
    s.depth_limit = max_depth - 1 < MAX_NEST ? max_depth - 1 : MAX_NEST;
    s.max_items = max_list_items;
    s.max_keys = max_object_keys < MAX_KEYS ? max_object_keys : MAX_KEYS;
    s.data_start = s.data_end = -1;
    int outcome = -1;
    if (s.depth_limit > 0 && s.max_keys >= 0) {
        s.keys = PyMem_RawMalloc(sizeof(key_ref[MAX_KEYS]) * (size_t)s.depth_limit);
        if (s.keys == NULL) {
            PyBuffer_Release(&body);
            return PyErr_NoMemory();
        }
        Py_BEGIN_ALLOW_THREADS
        skip_ws(&s);
        if (s.p < s.end && *s.p == '{') {
            outcome = object(&s, 0, 1);
            if (outcome == 0) {
                skip_ws(&s);
                if (s.p != s.end) outcome = -1;
            }
        }
        Py_END_ALLOW_THREADS
        PyMem_RawFree(s.keys);
    }
    PyObject *result = NULL;
    if (outcome < 0 || s.data_end < 0 || s.spans_failed) {
        result = Py_NewRef(Py_None); /* not plain, or no records to cut out: the careful way */
    } else {
        PyObject *records = PyList_New(s.nspans);
        for (Py_ssize_t i = 0; records != NULL && i < s.nspans; i++) {
            PyObject *record = PyBytes_FromStringAndSize((const char *)s.start + s.spans[2 * i],
                                                         s.spans[2 * i + 1] - s.spans[2 * i]);
            if (record == NULL) Py_CLEAR(records);
            else PyList_SET_ITEM(records, i, record);
        }
        if (records != NULL) {
            result = Py_BuildValue("(nnnN)", 1 + s.nodes, s.data_start, s.data_end, records);
        }
    }
    PyMem_RawFree(s.spans);
    PyBuffer_Release(&body);
    return result;
}

/* [start, end) clamped to the buffer, as a slice of it would be. */
static void clamp(Py_ssize_t length, Py_ssize_t *start, Py_ssize_t *end) {
    if (*start < 0) *start = 0;
    if (*end > length) *end = length;
    if (*end < *start) *end = *start;
}

/* count_byte(body, byte, start, end): body.count(bytes([byte]), start, end), 16 bytes at a time. */
static PyObject *count_byte(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer body;
    int byte;
    Py_ssize_t start, end, count = 0;
    if (!PyArg_ParseTuple(args, "y*inn:count_byte", &body, &byte, &start, &end)) return NULL;
    clamp(body.len, &start, &end);
    const unsigned char *p = (const unsigned char *)body.buf + start, *stop = (const unsigned char *)body.buf + end;
    Py_BEGIN_ALLOW_THREADS
#ifdef VECTORS
    const __m128i wanted = _mm_set1_epi8((char)byte);
    while (stop - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        count += __builtin_popcount((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, wanted)));
        p += 16;
    }
#endif
    for (; p < stop; p++) count += *p == (unsigned char)byte;
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&body);
    return PyLong_FromSsize_t(count);
}

/* find_all(body, needle, start, end): every position at which needle (2 bytes or more) starts within
 * body[start:end], overlapping ones included, in order. */
static PyObject *find_all(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer body, needle;
    Py_ssize_t start, end;
    if (!PyArg_ParseTuple(args, "y*y*nn:find_all", &body, &needle, &start, &end)) return NULL;
    PyObject *found = NULL;
    if (needle.len < 2) {
        PyErr_SetString(PyExc_ValueError, "find_all: the needle must be 2 bytes or more");
        goto done;
    }
    clamp(body.len, &start, &end);
    found = PyList_New(0);
    const unsigned char *base = body.buf, *n = needle.buf;
    Py_ssize_t at = start, last = end - needle.len; /* the last position a match can start at */
    while (found != NULL && at <= last) {
#ifdef VECTORS
        /* positions whose first two bytes match, 16 at a time (p + 16 < end: both loads in bounds) */
        const __m128i first = _mm_set1_epi8((char)n[0]), second = _mm_set1_epi8((char)n[1]);
        unsigned mask = 0;
        while (last - at >= 16 && mask == 0) {
            __m128i a = _mm_loadu_si128((const __m128i *)(base + at));
            __m128i b = _mm_loadu_si128((const __m128i *)(base + at + 1));
            mask = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, second)));
            if (mask == 0) at += 16;
        }
        if (mask != 0) {
            while (mask != 0) {
                Py_ssize_t candidate = at + __builtin_ctz(mask);
                mask &= mask - 1;
                if (memcmp(base + candidate, n, (size_t)needle.len) == 0) {
                    PyObject *position = PyLong_FromSsize_t(candidate);
                    if (position == NULL || PyList_Append(found, position) < 0) Py_CLEAR(found);
                    Py_XDECREF(position);
                    if (found == NULL) break;
                }
            }
            at += 16;
            continue;
        }
#endif
        if (base[at] == n[0] && memcmp(base + at, n, (size_t)needle.len) == 0) {
            PyObject *position = PyLong_FromSsize_t(at);
            if (position == NULL || PyList_Append(found, position) < 0) Py_CLEAR(found);
            Py_XDECREF(position);
        }
        at++;
    }
done:
    PyBuffer_Release(&needle);
    PyBuffer_Release(&body);
    return found;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, "scan(body, max_depth, max_list_items, max_object_keys): see the module's source."},
    {"count_byte", count_byte, METH_VARARGS, "count_byte(body, byte, start, end): body.count(bytes([byte]), start, end)."},
    {"find_all", find_all, METH_VARARGS, "find_all(body, needle, start, end): every start of needle in body[start:end]."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "qcvn120_speedups",
    "A native scan of request bodies for the generated QCVN 120 server (optional: see plainbody.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_qcvn120_speedups(void) {
    for (int c = 0; c < 256; c++) {
        byte_class[c] = c < 0x20 ? C_CONTROL : c >= 0x80 ? C_UTF8 : C_PLAIN;
    }
    byte_class['"'] = C_QUOTE;
    byte_class['\\'] = C_BACKSLASH;
    byte_class[','] = C_NODE;
    byte_class['{'] = C_NODE;
    byte_class['['] = C_NODE;
    PyObject *created = PyModule_Create(&module);
    if (created != NULL && PyModule_AddIntConstant(created, "CONTRACT", SCAN_CONTRACT) < 0) Py_CLEAR(created);
    return created;
}
