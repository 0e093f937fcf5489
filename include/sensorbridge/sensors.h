/*
 * sensors.h - the catalogue of the 17 UCI hydraulic test-rig sensors:
 * name, physical quantity, unit and sampling rate. Pure.
 */
#ifndef SB_SENSORS_H
#define SB_SENSORS_H

#include <stddef.h>

#define SB_UCI_CYCLE_SECONDS 60
#define SB_UCI_NSENSORS 17
#define SB_SENSOR_NAME_MAX 64 /* longest sensor name accepted on the wire, incl. NUL */

struct sb_sensor_info {
    const char *name;        /* "PS1" */
    const char *quantity;    /* "Pressure" */
    const char *unit;        /* "bar" */
    const char *description; /* one sentence */
    unsigned rate_hz;        /* 100, 10 or 1 */
};

/* The 17 sensors in the dataset's documented order (PS1..PS6, EPS1, FS1,
 * FS2, TS1..TS4, VS1, CE, CP, SE). */
const struct sb_sensor_info *sb_sensors_uci(size_t *n);

/* Looks a UCI sensor up by exact name; NULL if unknown. */
const struct sb_sensor_info *sb_sensors_find(const char *name);

/* Values per row (= per 60-s cycle) in the sensor's file: rate_hz * 60,
 * i.e. 6000, 600 or 60. The ncols to pass to sb_dsfile_open. */
size_t sb_sensors_ncols(const struct sb_sensor_info *s);

#endif
