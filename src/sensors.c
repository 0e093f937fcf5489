/* sensors.c - the catalogue of the 17 UCI hydraulic test-rig sensors. */
#include "sensorbridge/sensors.h"

#include <string.h>

#include "sensorbridge/util.h"

/*
 * Names, quantities, units and rates are copied from the dataset's own
 * description.txt and documentation.txt. Those files say which quantity
 * each sensor measures but not where on the rig it sits, so the
 * descriptions stop there rather than guess (e.g. which PS is the system
 * pressure). Only CE and CP are marked "virtual" by the dataset's files.
 */
static const struct sb_sensor_info uci_sensors[SB_UCI_NSENSORS] = {
    {"PS1", "Pressure", "bar",
     "Pressure sensor 1 of the six on the hydraulic test rig, sampled at 100 Hz.", 100},
    {"PS2", "Pressure", "bar",
     "Pressure sensor 2 of the six on the hydraulic test rig, sampled at 100 Hz.", 100},
    {"PS3", "Pressure", "bar",
     "Pressure sensor 3 of the six on the hydraulic test rig, sampled at 100 Hz.", 100},
    {"PS4", "Pressure", "bar",
     "Pressure sensor 4 of the six on the hydraulic test rig, sampled at 100 Hz.", 100},
    {"PS5", "Pressure", "bar",
     "Pressure sensor 5 of the six on the hydraulic test rig, sampled at 100 Hz.", 100},
    {"PS6", "Pressure", "bar",
     "Pressure sensor 6 of the six on the hydraulic test rig, sampled at 100 Hz.", 100},
    {"EPS1", "Motor power", "W", "Motor power sensor of the hydraulic test rig, sampled at 100 Hz.",
     100},
    {"FS1", "Volume flow", "l/min",
     "Volume flow sensor 1 of the two on the hydraulic test rig, sampled at 10 Hz.", 10},
    {"FS2", "Volume flow", "l/min",
     "Volume flow sensor 2 of the two on the hydraulic test rig, sampled at 10 Hz.", 10},
    {"TS1", "Temperature", "°C",
     "Temperature sensor 1 of the four on the hydraulic test rig, sampled at 1 Hz.", 1},
    {"TS2", "Temperature", "°C",
     "Temperature sensor 2 of the four on the hydraulic test rig, sampled at 1 Hz.", 1},
    {"TS3", "Temperature", "°C",
     "Temperature sensor 3 of the four on the hydraulic test rig, sampled at 1 Hz.", 1},
    {"TS4", "Temperature", "°C",
     "Temperature sensor 4 of the four on the hydraulic test rig, sampled at 1 Hz.", 1},
    {"VS1", "Vibration", "mm/s", "Vibration sensor of the hydraulic test rig, sampled at 1 Hz.", 1},
    {"CE", "Cooling efficiency (virtual)", "%",
     "Virtual sensor for the cooling efficiency, computed from the rig's physical sensors, "
     "at 1 Hz.",
     1},
    {"CP", "Cooling power (virtual)", "kW",
     "Virtual sensor for the cooling power, computed from the rig's physical sensors, at 1 Hz.", 1},
    {"SE", "Efficiency factor", "%", "Efficiency factor of the hydraulic test rig, at 1 Hz.", 1},
};

const struct sb_sensor_info *sb_sensors_uci(size_t *n)
{
    if (n)
        *n = SB_ARRAY_SIZE(uci_sensors);
    return uci_sensors;
}

const struct sb_sensor_info *sb_sensors_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < SB_UCI_NSENSORS; i++) {
        if (strcmp(uci_sensors[i].name, name) == 0)
            return &uci_sensors[i];
    }
    return NULL;
}

size_t sb_sensors_ncols(const struct sb_sensor_info *s)
{
    return (size_t)s->rate_hz * SB_UCI_CYCLE_SECONDS;
}
