/* The state tree's batch update in C: chainfin.smt_update.run_update, step for step, with the
 * nodes, pages and hashes as C buffers instead of Python objects.
 *
 * update(tree, root, changes) -> (new root, {hash: record}) or None
 *
 * For SparseMerkleTree.update (changes: a dict {state key: value or None}, not empty): the key
 * hashes and their order, then run_update(tree, root, entries). It reads records only through
 * tree.nodes.get (in the same order, one call per record, as the Python code; a record found
 * in tree.nodes.fast_layers, when the nodes object has them, is taken from there) and returns
 * exactly what run_update returns: the same new root and the same records to write. It
 * returns None, having written nothing, where it does not go on: a record missing, damaged or
 * not of type bytes, input not in update()'s form, or anything the Python code would refuse. The caller (SparseMerkleTree.update) then runs the Python run_update,
 * which raises its StorageError with its own message. An exception raised by tree.nodes.get
 * itself propagates, as it does from the Python code.
 *
 * The format (chainfin/smt.py's docstring): a page is 0x04 || kinds (u64, little-endian, two
 * bits per slot s = 2..31 at bit 2(s - 2): 0 absent, 1 empty, 2 leaf, 3 node) || a 32-byte hash
 * per slot of code 2 or 3, in slot order. Slot 1 is the page root (its hash is the record's
 * key); slot s has children 2s and 2s + 1; slots 16..31 with code 3 are the roots of the pages
 * below. A page's root is at a depth that is a multiple of 4. Leaves: 0x02 || key hash || value,
 * or 0x05 || key hash || SHA-256(value) (65 bytes, a digest leaf). Hashes: leaf
 * SHA-256(0x02 || key hash || SHA-256(value)), node SHA-256(0x03 || left || right), EMPTY 32
 * zero bytes.
 *
 * SHA-256 comes from the system's libcrypto (OpenSSL), loaded by soname at import, so building
 * needs no OpenSSL headers. No state outlives a call but the libcrypto entry points, set once at
 * import. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

#define EMPTY_K 1 /* slot codes, and kinds of subtrees (0: absent) */
#define LEAF_K 2
#define NODE_K 3
#define MAX_DEPTH 256
#define FALLBACK (-2) /* a status: not handled here, the Python update takes over (no exception) */

static const uint8_t EMPTY[32];

/* ------------------------------------------------------------------------------ SHA-256 */

/* libcrypto's SHA256_Init/Update/Final. We never look inside its SHA256_CTX (112 bytes in
 * OpenSSL 1.0 to 3.x): a larger, aligned buffer stands for it. */
typedef struct { unsigned long long opaque[32]; } sha_ctx;
static int (*sha_init)(void *);
static int (*sha_update)(void *, const void *, size_t);
static int (*sha_final)(unsigned char *, void *);

static void sha256(const void *d, size_t n, uint8_t out[32]) {
    sha_ctx c;
    sha_init(&c);
    sha_update(&c, d, n);
    sha_final(out, &c);
}

/* An internal node's hash. `out` may be `l` or `r`. */
static void node_hash(const uint8_t *l, const uint8_t *r, uint8_t out[32]) {
    uint8_t b[65];
    b[0] = 0x03;
    memcpy(b + 1, l, 32);
    memcpy(b + 33, r, 32);
    sha256(b, 65, out);
}

static int load_libcrypto(void) {
    static const char *const names[] = {"libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.so"};
    static const uint8_t abc[32] = {  /* SHA-256("abc"), FIPS 180-2 */
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
        0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
        0xf2, 0x00, 0x15, 0xad};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (lib == NULL)
            continue;
        sha_init = (int (*)(void *))dlsym(lib, "SHA256_Init");
        sha_update = (int (*)(void *, const void *, size_t))dlsym(lib, "SHA256_Update");
        sha_final = (int (*)(unsigned char *, void *))dlsym(lib, "SHA256_Final");
        if (sha_init && sha_update && sha_final) {
            uint8_t d[32];
            sha256("abc", 3, d);
            if (memcmp(d, abc, 32) == 0)
                return 0; /* the library stays loaded for the life of the process */
        }
        sha_init = NULL;
        dlclose(lib);
    }
    PyErr_SetString(PyExc_ImportError,
                    "chainfin._smt_fast: no usable libcrypto (SHA-256) found");
    return -1;
}

/* ------------------------------------------------------------------------------ the update */

/* A page read on a changed path, and what the update changed in it (smt_update's patches). */
typedef struct {
    PyObject *rec;     /* the record (exact bytes; a reference we own) */
    const uint8_t *p;  /* its bytes, valid while rec lives */
    Py_ssize_t len;
    uint8_t nav[64];   /* smt._page_nav's table: nav[s] slot s's code, nav[32 + s] its hash's
                          index (the hash at 9 + 32 * index), nav[0] the number of hashes */
    int reshaped;      /* a slot changed kind: the page is re-encoded, not patched */
    int first, last;   /* its patches, in the order made: a list in Ctx.patch (-1: none) */
} Page;

typedef struct PageBlock { struct PageBlock *next; int used; Page pages[64]; } PageBlock;

/* A change to a slot of a page: its new code and hash (and the offset of its old hash). */
typedef struct { uint8_t h[32]; int off, next; uint8_t slot, code; } Patch;

typedef struct { uint8_t h[32]; int k; } Sub; /* a subtree: its hash and its kind */

/* An entry of build()'s input: a key hash with its new value, or an existing leaf (known). */
typedef struct { const uint8_t *kh; PyObject *val; const uint8_t *known; } Item;

/* A node of a subtree built from scratch (smt_update's `built`): its children. */
typedef struct { uint8_t h[32], l[32], r[32]; uint8_t lk, rk, used; } Built;

/* A node upd1 passed on its way down: its page and slot, its child on the key's path (slot c,
 * the offset of its hash, its old code) and that child's sibling. */
typedef struct { Page *pg; int s, c, o, oc, sc; const uint8_t *sib; } Step;

typedef struct {
    PyObject *get;          /* tree.nodes.get */
    PyObject *layers;       /* tree.nodes.fast_layers (a tuple of dicts) or NULL */
    int digest;             /* tree.digest_leaves */
    Py_ssize_t n;           /* entries, sorted by key hash */
    const uint8_t **kh;     /* their key hashes (32 bytes) */
    PyObject **val;         /* their values (bytes), NULL for a delete */
    PyObject *out;          /* the records to write */
    Item *todo;             /* scratch for build()'s input: n + 1 items */
    Patch *patch;           /* every page's patches */
    int npatch, patch_cap;
    Built *built;           /* open addressing on the hash's first 8 bytes; bcap a power of 2 */
    size_t bcap, bn;
    PageBlock *pages;
} Ctx;

/* *res = (h, k); 0 (a status: done). */
static int sub(Sub *res, const uint8_t *h, int k) {
    memmove(res->h, h, 32);
    res->k = k;
    return 0;
}

static int bit(const uint8_t *kh, int depth) { return (kh[depth >> 3] >> (7 - (depth & 7))) & 1; }

/* The bound smt_update bisects with at `depth` under kh: kh's first `depth` bits, then a 1. */
static void split_key(const uint8_t *kh, int depth, uint8_t t[32]) {
    int b = depth >> 3, r = depth & 7;
    memset(t, 0, 32);
    memcpy(t, kh, b);
    t[b] = (uint8_t)((kh[b] & (0xFF00 >> r)) | (0x80 >> r));
}

/* The first i in [lo, hi) whose key hash is >= t (bisect_left), else hi. */
static Py_ssize_t lower_bound(Ctx *x, Py_ssize_t lo, Py_ssize_t hi, const uint8_t *t) {
    while (lo < hi) {
        Py_ssize_t m = lo + (hi - lo) / 2;
        if (memcmp(x->kh[m], t, 32) < 0) lo = m + 1; else hi = m;
    }
    return lo;
}

/* smt_update.present: entries[lo:hi] that set a value, into x->todo; their number. */
static Py_ssize_t present(Ctx *x, Py_ssize_t lo, Py_ssize_t hi) {
    Py_ssize_t n = 0;
    for (Py_ssize_t i = lo; i < hi; i++)
        if (x->val[i] != NULL) {
            Item it = {x->kh[i], x->val[i], NULL};
            x->todo[n++] = it;
        }
    return n;
}

static int is_leaf(const uint8_t *p, Py_ssize_t n) { /* smt._is_leaf */
    return n >= 33 && (p[0] == 0x02 || (p[0] == 0x05 && n == 65));
}

/* Check a page record as smt._page_nav does (every rule: its tag, slots present exactly below
 * the page's nodes, the compact shape, zero padding bits, its length) and fill its nav. 0: a
 * well-formed page; -1: not (then Python raises its StorageError). */
static int page_nav(const uint8_t *p, Py_ssize_t n, uint8_t nav[64]) {
    if (n < 9 || p[0] != 0x04)
        return -1;
    uint64_t k = 0;
    for (int i = 8; i >= 1; i--)
        k = (k << 8) | p[i];
    if (k >> 60)
        return -1;
    memset(nav, 0, 64);
    nav[1] = NODE_K;
    int cnt = 0;
    for (int s = 2; s < 32; s++) {
        int c = (int)((k >> (2 * s - 4)) & 3);
        if ((c != 0) != (nav[s >> 1] == NODE_K)) /* present exactly when its parent is a node */
            return -1;
        nav[s] = (uint8_t)c;
        if (c >= LEAF_K)
            nav[32 + s] = (uint8_t)cnt++;
    }
    for (int s = 2; s < 32; s += 2) { /* no empty child beside a leaf or another empty one */
        int a = nav[s], b = nav[s + 1];
        if ((a == EMPTY_K && b != NODE_K) || (b == EMPTY_K && a != NODE_K))
            return -1;
    }
    nav[0] = (uint8_t)cnt;
    return n == 9 + 32 * (Py_ssize_t)cnt ? 0 : -1;
}

/* tree.nodes.get(h): a new reference (maybe Py_None), or NULL with the exception it raised.
 * A value other than None in one of tree.nodes.fast_layers' dicts is that record without the
 * call (the nodes object promises that its get() returns the first such value). */
static PyObject *read_rec(Ctx *x, const uint8_t *h) {
    PyObject *key = PyBytes_FromStringAndSize((const char *)h, 32);
    if (key == NULL)
        return NULL;
    if (x->layers != NULL) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(x->layers); i++) {
            PyObject *v = PyDict_GetItemWithError(PyTuple_GET_ITEM(x->layers, i), key);
            if (v == NULL && PyErr_Occurred()) {
                Py_DECREF(key);
                return NULL;
            }
            if (v != NULL && v != Py_None) {
                Py_DECREF(key);
                return Py_NewRef(v);
            }
        }
    }
    PyObject *r = PyObject_CallOneArg(x->get, key);
    Py_DECREF(key);
    return r;
}

/* The leaf record under h (a new reference) in *rec; FALLBACK when it is none. */
static int read_leaf(Ctx *x, const uint8_t *h, PyObject **rec) {
    PyObject *r = read_rec(x, h);
    if (r == NULL)
        return -1;
    if (!PyBytes_CheckExact(r) || !is_leaf((const uint8_t *)PyBytes_AS_STRING(r),
                                           PyBytes_GET_SIZE(r))) {
        Py_DECREF(r);
        return FALLBACK;
    }
    *rec = r;
    return 0;
}

/* A new page for the record rec (whose reference it takes); NULL on MemoryError. */
static Page *new_page(Ctx *x, PyObject *rec) {
    PageBlock *b = x->pages;
    if (b == NULL || b->used == (int)(sizeof b->pages / sizeof *b->pages)) {
        b = PyMem_Malloc(sizeof *b);
        if (b == NULL) {
            Py_DECREF(rec);
            PyErr_NoMemory();
            return NULL;
        }
        b->next = x->pages;
        b->used = 0;
        x->pages = b;
    }
    Page *pg = &b->pages[b->used++];
    pg->rec = rec;
    pg->p = (const uint8_t *)PyBytes_AS_STRING(rec);
    pg->len = PyBytes_GET_SIZE(rec);
    pg->reshaped = 0;
    pg->first = pg->last = -1;
    return pg;
}

/* The page of the record r (taking the reference), if it is a well-formed one. */
static int check_page(Ctx *x, PyObject *r, Page **out) {
    uint8_t nav[64];
    if (!PyBytes_CheckExact(r) || page_nav((const uint8_t *)PyBytes_AS_STRING(r),
                                           PyBytes_GET_SIZE(r), nav) < 0) {
        Py_DECREF(r);
        return FALLBACK;
    }
    if ((*out = new_page(x, r)) == NULL)
        return -1;
    memcpy((*out)->nav, nav, 64);
    return 0;
}

/* smt_update._Update.page: the checked page under h, whose root is at `depth`. */
static int load_page(Ctx *x, const uint8_t *h, int depth, Page **out) {
    if (depth >= MAX_DEPTH)
        return FALLBACK;
    PyObject *r = read_rec(x, h);
    return r == NULL ? -1 : check_page(x, r, out);
}

static int add_patch(Ctx *x, Page *pg, int off, int slot, int code, const uint8_t *h) {
    if (x->npatch == x->patch_cap) {
        int cap = x->patch_cap ? 2 * x->patch_cap : 256;
        Patch *np = PyMem_Realloc(x->patch, (size_t)cap * sizeof *np);
        if (np == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        x->patch = np;
        x->patch_cap = cap;
    }
    Patch *pt = &x->patch[x->npatch];
    memcpy(pt->h, h, 32);
    pt->off = off, pt->slot = (uint8_t)slot, pt->code = (uint8_t)code, pt->next = -1;
    if (pg->last < 0)
        pg->first = x->npatch;
    else
        x->patch[pg->last].next = x->npatch;
    pg->last = x->npatch++;
    return 0;
}

/* out[h] = rec, taking the reference to rec. */
static int put(Ctx *x, const uint8_t *h, PyObject *rec) {
    if (rec == NULL)
        return -1;
    PyObject *key = PyBytes_FromStringAndSize((const char *)h, 32);
    int r = key == NULL ? -1 : PyDict_SetItem(x->out, key, rec);
    Py_XDECREF(key);
    Py_DECREF(rec);
    return r;
}

/* ------------------------------------------------------------------ built nodes (a hash map) */

/* Where h is in the table (cap a power of 2, never full), or the free entry where it goes. */
static Built *built_find(Built *tab, size_t cap, const uint8_t *h) {
    uint64_t k;
    memcpy(&k, h, 8);
    size_t i = (size_t)k & (cap - 1);
    while (tab[i].used && memcmp(tab[i].h, h, 32) != 0)
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

static Built *built_get(Ctx *x, const uint8_t *h) {
    Built *b = x->bcap ? built_find(x->built, x->bcap, h) : NULL;
    return b != NULL && b->used ? b : NULL;
}

static int built_put(Ctx *x, const uint8_t *h, const Sub *l, const Sub *r) {
    if (2 * (x->bn + 1) > x->bcap) { /* grow: at most half full */
        size_t cap = x->bcap ? 2 * x->bcap : 64;
        Built *nb = PyMem_Calloc(cap, sizeof *nb);
        if (nb == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (size_t i = 0; i < x->bcap; i++)
            if (x->built[i].used)
                *built_find(nb, cap, x->built[i].h) = x->built[i];
        PyMem_Free(x->built);
        x->built = nb;
        x->bcap = cap;
    }
    Built *b = built_find(x->built, x->bcap, h);
    x->bn += !b->used;
    b->used = 1;
    memcpy(b->h, h, 32);
    memcpy(b->l, l->h, 32);
    memcpy(b->r, r->h, 32);
    b->lk = (uint8_t)l->k;
    b->rk = (uint8_t)r->k;
    return 0;
}

/* ---------------------------------------------------------------------------- records */

/* smt._encode_page: the record of the slots' codes ks and hashes hs (slots 2..31). */
static PyObject *encode_page(const uint8_t ks[32], const uint8_t *const hs[32]) {
    uint64_t kinds = 0;
    int cnt = 0;
    for (int s = 2; s < 32; s++) {
        kinds |= (uint64_t)ks[s] << (2 * s - 4);
        cnt += ks[s] >= LEAF_K;
    }
    PyObject *rec = PyBytes_FromStringAndSize(NULL, 9 + 32 * (Py_ssize_t)cnt);
    if (rec == NULL)
        return NULL;
    uint8_t *o = (uint8_t *)PyBytes_AS_STRING(rec);
    *o++ = 0x04;
    for (int i = 0; i < 8; i++)
        *o++ = (uint8_t)(kinds >> (8 * i));
    for (int s = 2; s < 32; s++)
        if (ks[s] >= LEAF_K) {
            memcpy(o, hs[s], 32);
            o += 32;
        }
    return rec;
}

/* smt_update._page_new: the page of the built node `root` (a page root). */
static int page_new(Ctx *x, const uint8_t *root) {
    uint8_t ks[32] = {0};
    const uint8_t *hs[32];
    for (int s = 0; s < 32; s++)
        hs[s] = EMPTY;
    ks[1] = NODE_K;
    hs[1] = root;
    for (int s = 1; s < 16; s++)
        if (ks[s] == NODE_K) {
            Built *b = built_get(x, hs[s]);
            if (b == NULL)
                return FALLBACK; /* cannot happen: a built node's nodes are built */
            hs[2 * s] = b->l, ks[2 * s] = b->lk, hs[2 * s + 1] = b->r, ks[2 * s + 1] = b->rk;
        }
    return put(x, root, encode_page(ks, hs));
}

/* smt_update._Update.emit: write the page pg's new version, rooted at the new node h. */
static int emit(Ctx *x, const uint8_t *h, Page *pg) {
    if (!pg->reshaped) { /* the same shape: the old record, the new hashes over the old ones */
        PyObject *rec = PyBytes_FromStringAndSize((const char *)pg->p, pg->len);
        if (rec == NULL)
            return -1;
        uint8_t *o = (uint8_t *)PyBytes_AS_STRING(rec);
        for (int i = pg->first; i >= 0; i = x->patch[i].next) {
            if (x->patch[i].off + 32 > pg->len) { /* cannot happen: patched slots have hashes */
                Py_DECREF(rec);
                return FALLBACK;
            }
            memcpy(o + x->patch[i].off, x->patch[i].h, 32);
        }
        return put(x, h, rec);
    }
    /* _page_reshaped: the old slots, the patches over them, the slots under a slot that is no
     * longer a node dropped, those under a node of a built subtree taken from `built` */
    uint8_t ks[32];
    const uint8_t *hs[32];
    for (int s = 0; s < 32; s++) {
        ks[s] = pg->nav[s];
        hs[s] = s >= 2 && ks[s] >= LEAF_K ? pg->p + 9 + 32 * pg->nav[32 + s] : EMPTY;
    }
    for (int i = pg->first; i >= 0; i = x->patch[i].next) {
        ks[x->patch[i].slot] = x->patch[i].code;
        hs[x->patch[i].slot] = x->patch[i].h;
    }
    for (int s = 2; s < 16; s++) {
        int c = 2 * s;
        if (ks[s] != NODE_K) {
            ks[c] = ks[c + 1] = 0;
        } else {
            Built *b = built_get(x, hs[s]);
            if (b != NULL)
                hs[c] = b->l, ks[c] = b->lk, hs[c + 1] = b->r, ks[c + 1] = b->rk;
        }
    }
    return put(x, h, encode_page(ks, hs));
}

/* A leaf's hash (smt._leaf_record): b gets 0x02 || kh || SHA-256(value), h its SHA-256. */
static void leaf_hash(const uint8_t *kh, PyObject *value, uint8_t b[65], uint8_t h[32]) {
    b[0] = 0x02;
    memcpy(b + 1, kh, 32);
    sha256(PyBytes_AS_STRING(value), (size_t)PyBytes_GET_SIZE(value), b + 33);
    sha256(b, 65, h);
}

/* Write the leaf h of leaf_hash's b (its key hash and value hash) and value: the value itself,
 * or its hash in a digest leaf. */
static int put_leaf(Ctx *x, const uint8_t *h, uint8_t b[65], PyObject *value) {
    PyObject *rec;
    if (x->digest) {
        b[0] = 0x05;
        rec = PyBytes_FromStringAndSize((const char *)b, 65);
    } else {
        Py_ssize_t vn = PyBytes_GET_SIZE(value);
        rec = PyBytes_FromStringAndSize(NULL, 33 + vn);
        if (rec != NULL) {
            memcpy(PyBytes_AS_STRING(rec), b, 33);
            memcpy(PyBytes_AS_STRING(rec) + 33, PyBytes_AS_STRING(value), (size_t)vn);
        }
    }
    return put(x, h, rec);
}

/* The new leaf of (kh, value) written, its hash in h. */
static int new_leaf(Ctx *x, const uint8_t *kh, PyObject *value, uint8_t h[32]) {
    uint8_t b[65];
    leaf_hash(kh, value, b, h);
    return put_leaf(x, h, b, value);
}

/* ---------------------------------------------------------------------- the recursion */

#define TRY(e) do { int rc_ = (e); if (rc_) return rc_; } while (0)

/* smt_update._Update.build: the subtree at `depth` of todo[0:n] (sorted). */
static int build(Ctx *x, int depth, Item *todo, Py_ssize_t n, Sub *res) {
    if (n == 0)
        return sub(res, EMPTY, EMPTY_K);
    if (n == 1 && todo[0].known != NULL)
        return sub(res, todo[0].known, LEAF_K);
    res->k = LEAF_K;
    if (n == 1)
        return new_leaf(x, todo[0].kh, todo[0].val, res->h);
    if (depth >= MAX_DEPTH)
        return FALLBACK; /* (Python: an AssertionError) */
    uint8_t t[32];
    split_key(todo[0].kh, depth, t);
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi) {
        Py_ssize_t m = lo + (hi - lo) / 2;
        if (memcmp(todo[m].kh, t, 32) < 0) lo = m + 1; else hi = m;
    }
    Sub l, r;
    TRY(build(x, depth + 1, todo, lo, &l));
    TRY(build(x, depth + 1, todo + lo, n - lo, &r));
    node_hash(l.h, r.h, res->h);
    res->k = NODE_K;
    TRY(built_put(x, res->h, &l, &r));
    return depth & 3 ? 0 : page_new(x, res->h); /* a page root: its page is complete */
}

/* smt_update._Update.upd1: a single change, entries[i], below h (slot s of pg, 0: a page root
 * not loaded yet). */
static int upd1(Ctx *x, const uint8_t *h, int kind, int depth, Py_ssize_t i, Page *pg, int s,
                Sub *res) {
    const uint8_t *kh = x->kh[i];
    PyObject *value = x->val[i];
    const uint8_t *top = h; /* (into a record held to the end, or the caller's root) */
    int top_kind = kind;
    Sub cur;
    Step path[MAX_DEPTH];
    int np = 0;
    while (kind == NODE_K) { /* down the key's path */
        if (s == 0) {
            TRY(load_page(x, h, depth, &pg));
            s = 1;
        }
        if (depth >= MAX_DEPTH || np == MAX_DEPTH)
            return FALLBACK; /* cannot happen: the page check stops at depth 256 */
        int c = 2 * s + bit(kh, depth);
        Step *st = &path[np++];
        kind = pg->nav[c];
        st->pg = pg, st->s = s, st->c = c, st->oc = kind, st->sc = pg->nav[c ^ 1];
        st->o = 9 + (pg->nav[32 + c] << 5);
        h = kind >= LEAF_K ? pg->p + st->o : EMPTY;
        st->sib = st->sc >= LEAF_K ? pg->p + 9 + (pg->nav[32 + (c ^ 1)] << 5) : EMPTY;
        s = c < 16 ? c : 0;
        depth++;
    }
    /* where the key's path ends: an empty subtree or a leaf */
    if (kind == EMPTY_K) {
        if (value == NULL)
            return sub(res, top, top_kind);
        TRY(new_leaf(x, kh, value, cur.h));
        cur.k = LEAF_K;
    } else {
        PyObject *lrec;
        TRY(read_leaf(x, h, &lrec));
        const uint8_t *okh = (const uint8_t *)PyBytes_AS_STRING(lrec) + 1;
        int cmp = memcmp(okh, kh, 32), rc = 0;
        if (cmp == 0 && value == NULL) {
            sub(&cur, EMPTY, EMPTY_K);
        } else if (cmp == 0) {
            uint8_t b[65];
            leaf_hash(kh, value, b, cur.h);
            if (memcmp(cur.h, h, 32) == 0) { /* the same value: nothing changes */
                Py_DECREF(lrec);
                return sub(res, top, top_kind);
            }
            rc = put_leaf(x, cur.h, b, value);
            cur.k = LEAF_K;
        } else if (value == NULL) { /* deleting an absent key */
            Py_DECREF(lrec);
            return sub(res, top, top_kind);
        } else { /* another key's leaf: both under a new subtree */
            Item two[2] = {{kh, value, NULL}, {okh, NULL, h}};
            if (cmp < 0) {
                Item t = two[0];
                two[0] = two[1], two[1] = t;
            }
            rc = build(x, depth, two, 2, &cur);
        }
        Py_DECREF(lrec);
        if (rc)
            return rc;
    }
    /* back up: at each node passed, the parent of the new child and the old sibling */
    while (np > 0) {
        Step *st = &path[--np];
        if (cur.k == EMPTY_K || st->sc == EMPTY_K) { /* the compact shape: a lone leaf moves up */
            if (cur.k == EMPTY_K && st->sc != NODE_K) {
                sub(&cur, st->sib, st->sc);
                continue;
            }
            if (st->sc == EMPTY_K && cur.k == LEAF_K)
                continue;
        }
        TRY(add_patch(x, st->pg, st->o, st->c, cur.k, cur.h));
        if (cur.k != st->oc)
            st->pg->reshaped = 1;
        if (st->c & 1)
            node_hash(st->sib, cur.h, cur.h);
        else
            node_hash(cur.h, st->sib, cur.h);
        cur.k = NODE_K;
        if (st->s == 1) /* a page root: its page is complete */
            TRY(emit(x, cur.h, st->pg));
    }
    return sub(res, cur.h, cur.k);
}

/* smt_update._Update.upd's leaf case: the leaf h at `depth` and the changes entries[lo:hi]. */
static int upd_leaf(Ctx *x, const uint8_t *h, int depth, Py_ssize_t lo, Py_ssize_t hi,
                    Sub *res) {
    PyObject *lrec;
    TRY(read_leaf(x, h, &lrec));
    const uint8_t *okh = (const uint8_t *)PyBytes_AS_STRING(lrec) + 1;
    Py_ssize_t at = lower_bound(x, lo, hi, okh), n = 0;
    int keep = at == hi || memcmp(x->kh[at], okh, 32) != 0; /* the leaf's key is not changed */
    for (Py_ssize_t i = lo; i <= hi; i++) {
        if (keep && i == at) { /* the leaf, in its place in key order */
            Item it = {okh, NULL, h};
            x->todo[n++] = it;
        }
        if (i < hi && x->val[i] != NULL) {
            Item it = {x->kh[i], x->val[i], NULL};
            x->todo[n++] = it;
        }
    }
    int rc = build(x, depth, x->todo, n, res);
    Py_DECREF(lrec);
    return rc;
}

/* smt_update._Update.upd: the subtree h at `depth` after the changes entries[lo:hi] (lo < hi).
 * A node sits in slot s of page pg (s == 0: the root of a page not loaded yet). */
static int upd(Ctx *x, const uint8_t *h, int kind, int depth, Py_ssize_t lo, Py_ssize_t hi,
               Page *pg, int s, Sub *res) {
    if (kind == LEAF_K)
        return upd_leaf(x, h, depth, lo, hi, res);
    if (s == 0) {
        TRY(load_page(x, h, depth, &pg));
        s = 1;
    }
    if (depth >= MAX_DEPTH)
        return FALLBACK; /* cannot happen: the page check stops at depth 256 */
    uint8_t t[32];
    split_key(x->kh[lo], depth, t);
    Py_ssize_t mid = lower_bound(x, lo, hi, t);
    int ls = 2 * s, lc = pg->nav[ls], rc = pg->nav[ls + 1];
    int lo_ = 9 + (pg->nav[32 + ls] << 5), ro = 9 + (pg->nav[33 + ls] << 5);
    const uint8_t *left = lc >= LEAF_K ? pg->p + lo_ : EMPTY;
    const uint8_t *right = rc >= LEAF_K ? pg->p + ro : EMPTY;
    int cs = ls < 16 ? ls : 0; /* the children's slot in this page, or 0: in a page below */
    Sub l, r;
    if (lo == mid)
        sub(&l, left, lc);
    else if (lc == EMPTY_K)
        TRY(build(x, depth + 1, x->todo, present(x, lo, mid), &l));
    else if (mid - lo == 1)
        TRY(upd1(x, left, lc, depth + 1, lo, pg, cs, &l));
    else
        TRY(upd(x, left, lc, depth + 1, lo, mid, pg, cs, &l));
    if (mid == hi)
        sub(&r, right, rc);
    else if (rc == EMPTY_K)
        TRY(build(x, depth + 1, x->todo, present(x, mid, hi), &r));
    else if (hi - mid == 1)
        TRY(upd1(x, right, rc, depth + 1, mid, pg, cs ? cs + 1 : 0, &r));
    else
        TRY(upd(x, right, rc, depth + 1, mid, hi, pg, cs ? cs + 1 : 0, &r));
    int lsame = memcmp(l.h, left, 32) == 0, rsame = memcmp(r.h, right, 32) == 0;
    if (lsame && rsame)
        return sub(res, h, NODE_K);
    /* parent of the two new subtrees, keeping the compact shape: a lone leaf moves up, and an
     * internal node never has two empty children or one empty child and a leaf */
    int lempty = memcmp(l.h, EMPTY, 32) == 0, rempty = memcmp(r.h, EMPTY, 32) == 0;
    if (lempty && rempty)
        return sub(res, EMPTY, EMPTY_K);
    if (lempty && r.k == LEAF_K)
        return sub(res, r.h, LEAF_K);
    if (!lempty && rempty && l.k == LEAF_K)
        return sub(res, l.h, LEAF_K);
    node_hash(l.h, r.h, res->h);
    res->k = NODE_K;
    if (!lsame)
        TRY(add_patch(x, pg, lo_, ls, l.k, l.h));
    if (!rsame)
        TRY(add_patch(x, pg, ro, ls + 1, r.k, r.h));
    if (l.k != lc || r.k != rc)
        pg->reshaped = 1; /* the page changes shape */
    return s == 1 ? emit(x, res->h, pg) : 0; /* a page root: its page is complete */
}

/* smt_update.run_update's body, once the input is checked. */
static int run(Ctx *x, const uint8_t *root, Sub *res) {
    if (memcmp(root, EMPTY, 32) == 0)
        return build(x, 0, x->todo, present(x, 0, x->n), res);
    PyObject *r = read_rec(x, root); /* SparseMerkleTree._root */
    if (r == NULL)
        return -1;
    if (!PyBytes_CheckExact(r)) {
        Py_DECREF(r);
        return FALLBACK;
    }
    Page *pg = NULL;
    int kind = LEAF_K;
    if (is_leaf((const uint8_t *)PyBytes_AS_STRING(r), PyBytes_GET_SIZE(r))) {
        Py_DECREF(r); /* a lone leaf: upd1 and upd read it again, as the Python code does */
    } else {
        TRY(check_page(x, r, &pg));
        kind = NODE_K;
    }
    if (x->n == 1)
        return upd1(x, root, kind, 0, 0, pg, 1, res);
    return upd(x, root, kind, 0, 0, x->n, pg, 1, res);
}

/* 1 when o is a tuple of dicts (exact types: no Python code runs in a lookup's hashing). */
static int layers_ok(PyObject *o) {
    if (!PyTuple_CheckExact(o))
        return 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(o); i++)
        if (!PyDict_CheckExact(PyTuple_GET_ITEM(o, i)))
            return 0;
    return 1;
}

/* The update once x->n, x->kh and x->val are set: (new root, records), or None (FALLBACK).
 * Frees what x holds but x->kh and x->val. */
static PyObject *finish(Ctx *x, PyObject *tree, PyObject *root, int rc) {
    PyObject *nodes = NULL, *result = NULL;
    Sub res;
    if (rc != 0)
        goto done;
    rc = FALLBACK; /* (a root of another form: let the Python code say what it makes of it) */
    if (!PyBytes_CheckExact(root) || PyBytes_GET_SIZE(root) != 32)
        goto done;
    rc = -1;
    if ((x->todo = PyMem_Malloc((size_t)(x->n + 1) * sizeof *x->todo)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if ((nodes = PyObject_GetAttrString(tree, "nodes")) == NULL
        || (x->get = PyObject_GetAttrString(nodes, "get")) == NULL)
        goto done;
    if ((x->layers = PyObject_GetAttrString(nodes, "fast_layers")) == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            goto done;
        PyErr_Clear(); /* (no such attribute: every read calls get) */
    } else if (!layers_ok(x->layers)) {
        PyErr_SetString(PyExc_TypeError, "tree.nodes.fast_layers must be a tuple of dicts");
        goto done;
    }
    PyObject *dl = PyObject_GetAttrString(tree, "digest_leaves");
    if (dl == NULL)
        goto done;
    x->digest = PyObject_IsTrue(dl);
    Py_DECREF(dl);
    if (x->digest < 0 || (x->out = PyDict_New()) == NULL)
        goto done;
    Py_INCREF(root); /* (the caller's, but get() may run any code) */
    rc = run(x, (const uint8_t *)PyBytes_AS_STRING(root), &res);
    Py_DECREF(root);
    if (rc == 0) {
        PyObject *nr = PyBytes_FromStringAndSize((const char *)res.h, 32);
        result = nr == NULL ? NULL : PyTuple_Pack(2, nr, x->out);
        Py_XDECREF(nr);
    }
done:
    if (rc == FALLBACK)
        result = Py_NewRef(Py_None);
    else if (result == NULL && !PyErr_Occurred())
        PyErr_SetString(PyExc_SystemError, "chainfin._smt_fast: failed without an exception");
    while (x->pages != NULL) {
        PageBlock *b = x->pages;
        x->pages = b->next;
        for (int i = 0; i < b->used; i++)
            Py_DECREF(b->pages[i].rec);
        PyMem_Free(b);
    }
    Py_XDECREF(x->out);
    Py_XDECREF(x->get);
    Py_XDECREF(x->layers);
    Py_XDECREF(nodes);
    PyMem_Free(x->built);
    PyMem_Free(x->todo);
    PyMem_Free(x->patch);
    return result;
}

static int alloc_entries(Ctx *x, Py_ssize_t n) {
    x->n = n;
    x->kh = PyMem_Malloc((size_t)n * sizeof *x->kh);
    x->val = PyMem_Malloc((size_t)n * sizeof *x->val);
    if (x->kh == NULL || x->val == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* A change: the key's hash and the new value (a reference we own; NULL: delete). */
typedef struct { uint8_t kh[32]; PyObject *val; } Change;

static int change_order(const void *a, const void *b) {
    return memcmp(((const Change *)a)->kh, ((const Change *)b)->kh, 32);
}

/* update(tree, root, changes): SparseMerkleTree.update's work after its check for no changes:
 * changes is a dict {state key: value or None}; its keys are hashed and sorted here (the
 * Python code's entries). */
static PyObject *update(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    (void)mod;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "update(tree, root, changes)");
        return NULL;
    }
    PyObject *changes = args[2], *key, *value;
    Ctx ctx = {0}, *x = &ctx;
    Change *ch = NULL;
    Py_ssize_t n = 0;
    int rc = FALLBACK; /* the input in the form update() takes, else its Python code decides */
    if (!PyDict_CheckExact(changes) || PyDict_GET_SIZE(changes) == 0)
        goto done;
    rc = -1;
    if (alloc_entries(x, PyDict_GET_SIZE(changes)) < 0)
        goto done;
    if ((ch = PyMem_Calloc((size_t)x->n, sizeof *ch)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    rc = FALLBACK;
    for (Py_ssize_t pos = 0; n < x->n && PyDict_Next(changes, &pos, &key, &value); n++) {
        if (!PyBytes_CheckExact(key) || !(value == Py_None || PyBytes_CheckExact(value)))
            goto done; /* (Python: a TypeError) */
        sha256(PyBytes_AS_STRING(key), (size_t)PyBytes_GET_SIZE(key), ch[n].kh);
        ch[n].val = value == Py_None ? NULL : Py_NewRef(value); /* (get() may run any code) */
    }
    if (n != x->n)
        goto done;
    qsort(ch, (size_t)n, sizeof *ch, change_order);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i && memcmp(ch[i - 1].kh, ch[i].kh, 32) == 0)
            goto done; /* one key hash twice: the Python code's assertion */
        x->kh[i] = ch[i].kh;
        x->val[i] = ch[i].val;
    }
    rc = 0;
done:;
    PyObject *result = finish(x, args[0], args[1], rc);
    for (Py_ssize_t i = 0; i < n; i++)
        Py_XDECREF(ch[i].val);
    PyMem_Free(ch);
    PyMem_Free(x->kh);
    PyMem_Free(x->val);
    return result;
}

/* run_update(tree, root, entries): chainfin.smt_update.run_update's own signature (entries:
 * a list of (int, key hash, value or None) sorted by key hash, as update() makes them), for
 * tests that choose key hashes. The ints are not read: the key hashes order the entries. */
static PyObject *run_update(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    (void)mod;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "run_update(tree, root, entries)");
        return NULL;
    }
    Ctx ctx = {0}, *x = &ctx;
    PyObject *entries = NULL;
    int rc = FALLBACK;
    if (!PyList_CheckExact(args[2]) || PyList_GET_SIZE(args[2]) == 0)
        goto done;
    rc = -1;
    if ((entries = PyList_AsTuple(args[2])) == NULL /* ours: its items cannot change */
        || alloc_entries(x, PyTuple_GET_SIZE(entries)) < 0)
        goto done;
    rc = FALLBACK;
    for (Py_ssize_t i = 0; i < x->n; i++) {
        PyObject *e = PyTuple_GET_ITEM(entries, i), *kh, *v;
        if (!PyTuple_CheckExact(e) || PyTuple_GET_SIZE(e) != 3)
            goto done;
        kh = PyTuple_GET_ITEM(e, 1);
        v = PyTuple_GET_ITEM(e, 2);
        if (!PyBytes_CheckExact(kh) || PyBytes_GET_SIZE(kh) != 32
            || !(v == Py_None || PyBytes_CheckExact(v)))
            goto done;
        x->kh[i] = (const uint8_t *)PyBytes_AS_STRING(kh);
        x->val[i] = v == Py_None ? NULL : v;
        if (i && memcmp(x->kh[i - 1], x->kh[i], 32) >= 0) /* sorted, no key twice */
            goto done;
    }
    rc = 0;
done:;
    PyObject *result = finish(x, args[0], args[1], rc);
    Py_XDECREF(entries);
    PyMem_Free(x->kh);
    PyMem_Free(x->val);
    return result;
}

static PyMethodDef methods[] = {
    {"update", (PyCFunction)(void (*)(void))update, METH_FASTCALL,
     "update(tree, root, changes) -> (new root, records to write), or None where the Python "
     "code must run instead (input not in update()'s form, a missing or damaged record)."},
    {"run_update", (PyCFunction)(void (*)(void))run_update, METH_FASTCALL,
     "run_update(tree, root, entries): chainfin.smt_update.run_update's result, or None where "
     "that must run instead."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "chainfin._smt_fast",
                                    "The state tree's batch update in C (chainfin/_smt_fast.c).",
                                    -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__smt_fast(void) {
    if (sha_init == NULL && load_libcrypto() < 0)
        return NULL;
    return PyModule_Create(&module);
}
