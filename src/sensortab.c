/* sensortab.c - one record per sensor held, behind one hash table. */
#include "sensorbridge/sensortab.h"

#include <stdlib.h>
#include <string.h>

#include "sensorbridge/sensors.h"
#include "sensorbridge/util.h"

#define INITIAL_SLOTS 16 /* power of two */

struct sb_sensortab {
    struct sb_sensor **slots; /* power of two, at most half full */
    size_t nslots;
    size_t count;
    size_t max;
    struct sb_sensor *last; /* the record found last, or NULL */
};

struct sb_sensortab *sb_sensortab_new(size_t max_sensors)
{
    struct sb_sensortab *t = sb_xcalloc(1, sizeof(*t));
    t->max = max_sensors ? max_sensors : 1;
    t->nslots = INITIAL_SLOTS;
    t->slots = sb_xcalloc(t->nslots, sizeof(*t->slots));
    return t;
}

void sb_sensortab_free(struct sb_sensortab *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nslots; i++)
        free(t->slots[i]);
    free(t->slots);
    free(t);
}

/* The slot holding name (hash h, len bytes), or the empty slot where it
 * would go. */
static size_t probe(const struct sb_sensortab *t, const char *name, size_t len, uint64_t h)
{
    size_t mask = t->nslots - 1;
    size_t i = (size_t)h & mask;
    for (struct sb_sensor *s; (s = t->slots[i]); i = (i + 1) & mask)
        if (s->hash == h && s->len == len && memcmp(s->name, name, len) == 0)
            break;
    return i;
}

struct sb_sensor *sb_sensortab_find(struct sb_sensortab *t, const char *name)
{
    if (t->last && strcmp(t->last->name, name) == 0)
        return t->last;
    size_t len = strlen(name);
    struct sb_sensor *s = t->slots[probe(t, name, len, sb_hash_fnv1a(name, len))];
    if (s)
        t->last = s;
    return s;
}

static void grow(struct sb_sensortab *t)
{
    size_t n = t->nslots * 2;
    struct sb_sensor **slots = sb_xcalloc(n, sizeof(*slots));
    for (size_t k = 0; k < t->nslots; k++) {
        struct sb_sensor *s = t->slots[k];
        if (!s)
            continue;
        size_t i = (size_t)s->hash & (n - 1);
        while (slots[i])
            i = (i + 1) & (n - 1);
        slots[i] = s;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
}

struct sb_sensor *sb_sensortab_get(struct sb_sensortab *t, const char *name)
{
    if (t->last && strcmp(t->last->name, name) == 0)
        return t->last;
    size_t len = strlen(name);
    if (len == 0 || len >= SB_SENSOR_NAME_MAX)
        return NULL;
    uint64_t h = sb_hash_fnv1a(name, len);
    size_t i = probe(t, name, len, h);
    if (t->slots[i])
        return t->last = t->slots[i];
    if (t->count >= t->max)
        return NULL;
    if (2 * (t->count + 1) > t->nslots) {
        grow(t);
        i = probe(t, name, len, h);
    }
    struct sb_sensor *s = sb_xcalloc(1, sizeof(*s) + len + 1);
    s->hash = h;
    s->alert_rule = -1;
    const struct sb_sensor_info *info = sb_sensors_find(name);
    size_t ncat;
    s->uci = info ? (int32_t)(info - sb_sensors_uci(&ncat)) : -1;
    s->len = (uint32_t)len;
    memcpy(s->name, name, len + 1);
    t->slots[i] = s;
    t->count++;
    return t->last = s;
}

void sb_sensortab_remove(struct sb_sensortab *t, struct sb_sensor *s)
{
    size_t mask = t->nslots - 1;
    size_t i = (size_t)s->hash & mask;
    while (t->slots[i] != s)
        i = (i + 1) & mask;
    /* Backward shift (sb_probe_keeps): later entries of the probe run move
     * into the hole a lookup would otherwise stop at. */
    t->slots[i] = NULL;
    for (size_t j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
        if (sb_probe_keeps(i, j, (size_t)t->slots[j]->hash & mask))
            continue;
        t->slots[i] = t->slots[j];
        t->slots[j] = NULL;
        i = j;
    }
    if (t->last == s)
        t->last = NULL;
    t->count--;
    free(s);
}

size_t sb_sensortab_count(const struct sb_sensortab *t)
{
    return t->count;
}

size_t sb_sensortab_max(const struct sb_sensortab *t)
{
    return t->max;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(struct sb_sensor *const *)a)->name, (*(struct sb_sensor *const *)b)->name);
}

size_t sb_sensortab_sorted(const struct sb_sensortab *t, struct sb_sensor **out)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nslots; i++)
        if (t->slots[i])
            out[n++] = t->slots[i];
    qsort(out, n, sizeof(*out), cmp_name);
    return n;
}
