/*
 * procstats.h - the standard process_* metrics (cpu seconds, resident and
 * virtual memory, open and max fds, start time) read from /proc/self at
 * scrape time. Registers a collector on the registry.
 */
#ifndef SB_PROCSTATS_H
#define SB_PROCSTATS_H

#include "sensorbridge/registry.h"

/* Registers process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds and
 * process_start_time_seconds, and a collector that refreshes them. */
void sb_procstats_register(struct sb_registry *r);

#endif
