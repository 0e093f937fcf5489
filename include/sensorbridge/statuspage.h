/*
 * statuspage.h - the live status page at "/": its files (www.h), served
 * with an ETag and revalidated on every load, and the JSON it polls:
 *   /api/v1/history[?since=MS]  the last SB_STATUSPAGE_HISTORY_POINTS
 *       seconds of the pipeline's rates and of each sensor's value, sampled
 *       from the registry once a second into a history (history.h);
 *   /api/v1/live  each sensor's value now with its unit and alert level,
 *       the dataset cycle's condition labels, rebalances.
 * The page, its JSON and the bounds are documented in docs/status-page.md.
 *
 * Lifecycle (libuv style): sb_statuspage_new -> sb_statuspage_route ->
 * sb_statuspage_start -> sb_statuspage_close(cb). The registry and the
 * configuration must outlive it (a reload may change the configuration's
 * contents, not its address).
 */
#ifndef SB_STATUSPAGE_H
#define SB_STATUSPAGE_H

#include <uv.h>

#include "sensorbridge/config.h"
#include "sensorbridge/http.h"
#include "sensorbridge/registry.h"

/* Ten minutes at one point a second: the page's charts span this. */
#define SB_STATUSPAGE_HISTORY_POINTS 600
#define SB_STATUSPAGE_INTERVAL_MS 1000

struct sb_statuspage;

struct sb_statuspage *sb_statuspage_new(uv_loop_t *loop, struct sb_registry *reg,
                                        const struct sb_config *cfg);

/* Registers "/", the "/static/..." files, /api/v1/history and /api/v1/live. */
void sb_statuspage_route(struct sb_statuspage *sp, struct sb_http *http);

/* Takes the first sample now, then one every SB_STATUSPAGE_INTERVAL_MS. */
void sb_statuspage_start(struct sb_statuspage *sp);

/* Stops sampling; cb(ud) runs once the timer is closed and everything is
 * freed. The routes must not be served after this (close HTTP first). */
void sb_statuspage_close(struct sb_statuspage *sp, void (*cb)(void *ud), void *ud);

#endif
