/*
 * sensortab.h - the sensors a consumer holds: one record per sensor name,
 * found once per message, carrying a slot for each module that keeps
 * state per sensor (the ingest's metrics, the windows' open windows, the
 * sensor's alert rule), so a sample crosses every module without another
 * lookup by name. Pure.
 *
 * Open addressing with linear probing on sb_hash_fnv1a (util.h), at most half full:
 * the slot array doubles as sensors arrive (16 slots at first), so memory
 * follows the sensors held, up to the bound given to sb_sensortab_new;
 * removal shifts entries back (no tombstones). The record found last is
 * compared before anything is hashed: consecutive messages usually carry
 * the same sensor (one partition per sensor).
 *
 * Ownership: the table owns its records and their names. Each slot belongs
 * to the module named beside it, which fills it, frees what it points to,
 * and empties it before the record is removed; the table never looks into
 * a slot. A record stays at the same address until it is removed.
 */
#ifndef SB_SENSORTAB_H
#define SB_SENSORTAB_H

#include <stddef.h>
#include <stdint.h>

struct sb_ingest_sensor;
struct sb_window_sensor;

struct sb_sensor {
    uint64_t hash;
    struct sb_ingest_sensor *ingest;  /* ingest.c: metrics, origin, last application */
    struct sb_window_sensor *windows; /* window.c: watermark and open windows */
    /* analytics.c: the index of the sensor's alert rule, or -1 if it has
     * none, valid while alert_gen is the analytics' generation of rules
     * (0: never resolved). */
    int32_t alert_rule;
    uint32_t alert_gen;
    /* consumer.c: the generation of the consumer's accepted names
     * (strict_sensors) under which this name was accepted; 0: not yet. */
    uint32_t accepted_gen;
    /* The sensor's index in the UCI catalogue (sb_sensors_uci), -1 for
     * any other name: set when the record is made. */
    int32_t uci;
    uint32_t len;
    char name[]; /* NUL-terminated, len bytes */
};

struct sb_sensortab;

/* A table of at most max_sensors records (>= 1). */
struct sb_sensortab *sb_sensortab_new(size_t max_sensors);

/* Frees every record and the table; slots are not looked at, so their
 * owners free what they hold first (or never need to). */
void sb_sensortab_free(struct sb_sensortab *t);

/* The record of name, or NULL if the table has none. */
struct sb_sensor *sb_sensortab_find(struct sb_sensortab *t, const char *name);

/* The record of name, added (every slot empty, alert_rule -1, uci set) if the
 * table has none. NULL if it would be new and the table holds
 * max_sensors, or if name is empty or not shorter than SB_SENSOR_NAME_MAX
 * (sensors.h, the wire's bound). */
struct sb_sensor *sb_sensortab_get(struct sb_sensortab *t, const char *name);

/* Removes and frees a record of this table; its slots must be empty. */
void sb_sensortab_remove(struct sb_sensortab *t, struct sb_sensor *s);

/* Records held now, and the bound. */
size_t sb_sensortab_count(const struct sb_sensortab *t);
size_t sb_sensortab_max(const struct sb_sensortab *t);

/* Stores every record into out (room for sb_sensortab_count), in strcmp
 * order of the names, and returns how many: a snapshot to remove from or
 * to report in a reproducible order. */
size_t sb_sensortab_sorted(const struct sb_sensortab *t, struct sb_sensor **out);

#endif
