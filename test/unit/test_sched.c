/* test_sched.c - the absolute replay schedule, driven by an injected clock. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sensorbridge/sched.h"

#define START_NS UINT64_C(1000000000000) /* an arbitrary monotonic origin */

/*
 * Checks due(seq) against the exact rational start + seq * 1e9 * den /
 * (rate * num) for speed = num / den, in integer arithmetic: |due - exact|
 * <= 1 ns for every seq below n.
 */
static void check_no_drift(unsigned rate, uint64_t num, uint64_t den, uint64_t n)
{
    struct sb_sched s;
    uint64_t d = rate * num;

    sb_sched_init(&s, START_NS, rate, (double)num / (double)den);
    for (uint64_t seq = 0; seq < n; seq++) {
        uint64_t due = sb_sched_due_ns(&s, seq);
        /* Both sides times d: |(due - start) * d - seq * 1e9 * den| <= d. */
        uint64_t lhs = (due - START_NS) * d;
        uint64_t rhs = seq * UINT64_C(1000000000) * den;
        uint64_t diff = lhs > rhs ? lhs - rhs : rhs - lhs;
        if (diff > d)
            fail_msg("rate %u speed %llu/%llu seq %llu: due %llu, exact %Lf", rate,
                     (unsigned long long)num, (unsigned long long)den, (unsigned long long)seq,
                     (unsigned long long)(due - START_NS), (long double)rhs / (long double)d);
    }
}

static void sched_no_drift_speed_1(void **state)
{
    struct sb_sched s;

    (void)state;
    check_no_drift(100, 1, 1, 1000000);
    /* At speed 1 and 100 Hz the period is a whole 10 ms: exact. */
    sb_sched_init(&s, START_NS, 100, 1.0);
    assert_true(sb_sched_due_ns(&s, 999999) == START_NS + UINT64_C(999999) * 10000000);
    assert_true(sb_sched_due_ns(&s, 1000000) == START_NS + UINT64_C(10000000000000));
}

static void sched_no_drift_speed_7_5(void **state)
{
    (void)state;
    /* 1e9 / 750 = 1333333.33... ns: an interval that no integer holds. */
    check_no_drift(100, 15, 2, 1000000);
}

static void sched_no_drift_speed_1000(void **state)
{
    (void)state;
    check_no_drift(100, 1000, 1, 1000000);
}

static void sched_no_drift_other_rates(void **state)
{
    (void)state;
    check_no_drift(10, 3, 1, 100000);
    check_no_drift(1, 1, 3, 100000);  /* speed 1/3: the double is within 1e-16 */
    check_no_drift(7, 1, 1, 100000);  /* 1e9 / 7 ns per sample, integer path */
    check_no_drift(3, 1, 10, 100000); /* speed 0.1: a 1e10 ns second, in thirds */
    check_no_drift(100, 37, 100, 100000);
}

/* Far into a long replay the error is still below a nanosecond. */
static void sched_no_drift_far_out(void **state)
{
    struct sb_sched s;
    uint64_t seq = UINT64_C(31536000000); /* ten years at 100 Hz */

    (void)state;
    sb_sched_init(&s, START_NS, 100, 1.0);
    assert_true(sb_sched_due_ns(&s, seq) == START_NS + seq * 10000000);
    sb_sched_init(&s, START_NS, 100, 0.5);
    assert_true(sb_sched_due_ns(&s, seq + 1) == START_NS + (seq + 1) * 20000000);
    sb_sched_init(&s, START_NS, 100, 0.1);
    assert_true(sb_sched_due_ns(&s, seq + 1) == START_NS + (seq + 1) * 100000000);
    /* A non-integer second goes through one long double product. Valgrind
     * computes that at double precision, so stay where doubles suffice:
     * 1e9 samples, 1.3e15 ns, an error of at most a few tenths of a ns. */
    sb_sched_init(&s, START_NS, 100, 7.5);
    seq = UINT64_C(999999999); /* seq * 1e9 / 750 = seq * 4e6 / 3 exactly */
    assert_true(sb_sched_due_ns(&s, seq) == START_NS + seq / 3 * 4000000);
    /* 4e15 / 3 = 1333333333333333.33: rounds down. */
    assert_true(sb_sched_due_ns(&s, seq + 1) == START_NS + (seq + 1) * 4000000 / 3);
}

static void sched_due_is_monotonic(void **state)
{
    static const double speeds[] = {1.0, 7.5, 1000.0, 0.37, 3.3, 1e9};
    (void)state;
    for (size_t i = 0; i < sizeof(speeds) / sizeof(speeds[0]); i++) {
        struct sb_sched s;
        uint64_t prev = 0;
        sb_sched_init(&s, START_NS, 100, speeds[i]);
        for (uint64_t seq = 0; seq < 200000; seq++) {
            uint64_t due = sb_sched_due_ns(&s, seq);
            assert_true(due >= prev);
            prev = due;
        }
    }
}

/*
 * For every seq in a window around the answer: seq < due_count(now) iff
 * due_ns(seq) <= now.
 */
static void check_consistent(const struct sb_sched *s, uint64_t now)
{
    uint64_t c = sb_sched_due_count(s, now);
    uint64_t lo = c > 64 ? c - 64 : 0;

    for (uint64_t seq = lo, i = 0; i < 128 && seq >= lo; seq++, i++) {
        bool due;
        /* UINT64_MAX means "all": then seq UINT64_MAX is due as well. */
        if (c == UINT64_MAX && seq == UINT64_MAX)
            break;
        due = sb_sched_due_ns(s, seq) <= now;
        if (due != (seq < c))
            fail_msg("speed %g now %llu: count %llu but seq %llu is %sdue", s->speed,
                     (unsigned long long)now, (unsigned long long)c, (unsigned long long)seq,
                     due ? "" : "not ");
    }
}

static void sched_due_count_consistent(void **state)
{
    static const double speeds[] = {1.0, 7.5, 1000.0, 0.37, 3.3, 1e9, 1e12, 0.001};
    (void)state;
    for (size_t i = 0; i < sizeof(speeds) / sizeof(speeds[0]); i++) {
        struct sb_sched s;
        sb_sched_init(&s, START_NS, 100, speeds[i]);
        /* Exactly at, just before and just after due times. */
        for (uint64_t seq = 0; seq < 3000; seq += 11) {
            uint64_t due = sb_sched_due_ns(&s, seq);
            check_consistent(&s, due);
            check_consistent(&s, due - 1);
            check_consistent(&s, due + 1);
        }
        /* And arbitrary times, far out too. */
        for (uint64_t t = 0; t < UINT64_C(4000000000000000); t = t * 3 + 12345)
            check_consistent(&s, START_NS + t);
    }
}

static void sched_due_count_boundaries(void **state)
{
    struct sb_sched s;

    (void)state;
    sb_sched_init(&s, START_NS, 100, 1.0);
    assert_true(sb_sched_due_count(&s, 0) == 0);
    assert_true(sb_sched_due_count(&s, START_NS - 1) == 0);
    assert_true(sb_sched_due_count(&s, START_NS) == 1);
    assert_true(sb_sched_due_count(&s, START_NS + 9999999) == 1);
    assert_true(sb_sched_due_count(&s, START_NS + 10000000) == 2);
    assert_true(sb_sched_due_count(&s, START_NS + UINT64_C(10000000000)) == 1001);
    /* Beyond what due_ns can represent everything saturates. */
    assert_true(sb_sched_due_ns(&s, UINT64_MAX) == UINT64_MAX);
    assert_true(sb_sched_due_count(&s, UINT64_MAX) == UINT64_MAX);
    check_consistent(&s, UINT64_MAX - 1);
}

/* A wake-up is the end of the coalescing period holding the due time:
 * periods aligned to the start, a due time on a period's end is served by
 * that end, nothing is moved earlier and nothing more than a period late. */
static void sched_coalesce_period_end(void **state)
{
    struct sb_sched s;
    const uint64_t ms = 1000000;

    (void)state;
    sb_sched_init(&s, START_NS, 100, 1.0);
    /* 0: every due time is its own wake-up. */
    assert_true(sb_sched_coalesce_ns(&s, START_NS + 7 * ms, 0) == START_NS + 7 * ms);
    assert_true(sb_sched_coalesce_ns(&s, START_NS, 20 * ms) == START_NS);
    assert_true(sb_sched_coalesce_ns(&s, START_NS - 5, 20 * ms) == START_NS - 5);
    assert_true(sb_sched_coalesce_ns(&s, START_NS + 1, 20 * ms) == START_NS + 20 * ms);
    assert_true(sb_sched_coalesce_ns(&s, START_NS + 10 * ms, 20 * ms) == START_NS + 20 * ms);
    assert_true(sb_sched_coalesce_ns(&s, START_NS + 20 * ms, 20 * ms) == START_NS + 20 * ms);
    assert_true(sb_sched_coalesce_ns(&s, START_NS + 20 * ms + 1, 20 * ms) == START_NS + 40 * ms);
    assert_true(sb_sched_coalesce_ns(&s, UINT64_MAX - 1, 20 * ms) == UINT64_MAX);
    /* 100 Hz, 50 ms: samples 0..5 are served at 0 and 50 ms (0 alone, 1-5
     * together), 6..10 at 100 ms: five samples a wake-up after the first,
     * and no drift after a day: the wake-ups stay on the start's grid. */
    uint64_t p = 50 * ms;
    assert_true(sb_sched_coalesce_ns(&s, sb_sched_due_ns(&s, 0), p) == START_NS);
    for (uint64_t k = 1; k <= 5; k++)
        assert_true(sb_sched_coalesce_ns(&s, sb_sched_due_ns(&s, k), p) == START_NS + p);
    for (uint64_t k = 6; k <= 10; k++)
        assert_true(sb_sched_coalesce_ns(&s, sb_sched_due_ns(&s, k), p) == START_NS + 2 * p);
    for (uint64_t k = 8640000 - 200; k < 8640000 + 200; k++) {
        uint64_t due = sb_sched_due_ns(&s, k), wake = sb_sched_coalesce_ns(&s, due, p);
        assert_true(wake >= due && wake - due < p && (wake - START_NS) % p == 0);
    }
}

/* The timeout from the loop's millisecond clock never fires early. */
static void sched_timer_ms_never_early(void **state)
{
    (void)state;
    assert_true(sb_sched_timer_ms(100, UINT64_C(110000000)) == 10);
    assert_true(sb_sched_timer_ms(100, UINT64_C(110000001)) == 11);
    assert_true(sb_sched_timer_ms(100, UINT64_C(100000000)) == 0);
    assert_true(sb_sched_timer_ms(100, UINT64_C(99000000)) == 0);
    /* A clock read 3 ms late (the loop's cached time) still lands on or
     * after the wake-up: clock_ms + timeout >= wake in ms, rounded up. */
    for (uint64_t wake = UINT64_C(200000000); wake < UINT64_C(203000000); wake += 77777) {
        uint64_t t = sb_sched_timer_ms(197, wake);
        assert_true((197 + t) * 1000000 >= wake && (197 + t - 1) * 1000000 < wake);
    }
}

static void sched_speed_max(void **state)
{
    static const double maxes[] = {0.0, -1.0, NAN, INFINITY};
    (void)state;
    for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
        struct sb_sched s;
        sb_sched_init(&s, START_NS, 100, maxes[i]);
        assert_true(s.speed == 0.0);
        assert_true(sb_sched_due_ns(&s, 0) == START_NS);
        assert_true(sb_sched_due_ns(&s, 123456789) == START_NS);
        assert_true(sb_sched_due_count(&s, START_NS - 1) == 0);
        assert_true(sb_sched_due_count(&s, START_NS) == UINT64_MAX);
        /* Event time does not depend on speed. */
        assert_true(sb_sched_event_offset_us(&s, 250) == 2500000);
    }
}

static void sched_event_offset(void **state)
{
    struct sb_sched s;

    (void)state;
    sb_sched_init(&s, START_NS, 100, 7.5);
    assert_true(sb_sched_event_offset_us(&s, 0) == 0);
    assert_true(sb_sched_event_offset_us(&s, 1) == 10000);
    assert_true(sb_sched_event_offset_us(&s, 6000) == 60000000);
    assert_true(sb_sched_event_offset_us(&s, UINT64_C(1323000000)) ==
                INT64_C(13230000000000)); /* 2205 cycles x 6000 samples x 100 loops */
    sb_sched_init(&s, START_NS, 3, 1.0);
    assert_true(sb_sched_event_offset_us(&s, 1) == 333333);
    assert_true(sb_sched_event_offset_us(&s, 3) == 1000000);
    assert_true(sb_sched_event_offset_us(&s, UINT64_MAX) == INT64_MAX);
    sb_sched_init(&s, START_NS, 0, 1.0);
    assert_true(sb_sched_event_offset_us(&s, 5) == 0);
    assert_true(sb_sched_due_ns(&s, 5) == START_NS);
}

/*
 * A replay loop against a fake clock whose ticks come late by a varying
 * jitter, as a uv_timer would. Emitting every seq below due_count at each
 * tick must give exactly the count the ideal schedule gives at the end,
 * and no sample before its due time.
 */
static void sched_injected_clock_replay(void **state)
{
    enum { N = 200000 };
    static const double speeds[] = {1.0, 7.5, 1000.0};
    (void)state;
    for (size_t i = 0; i < sizeof(speeds) / sizeof(speeds[0]); i++) {
        struct sb_sched s;
        uint64_t now = START_NS;
        uint64_t next = 0; /* next seq to emit */
        uint32_t rng = 12345;
        uint64_t end;
        long double exact;

        sb_sched_init(&s, START_NS, 100, speeds[i]);
        while (next < N) {
            uint64_t upto = sb_sched_due_count(&s, now);
            for (; next < upto && next < N; next++)
                assert_true(sb_sched_due_ns(&s, next) <= now);
            /* Sleep until the next due time, then wake 0..2 ms late. */
            rng = rng * 1103515245u + 12345u;
            if (next < N)
                now = sb_sched_due_ns(&s, next) + (rng >> 16) % 2000000;
        }
        end = sb_sched_due_ns(&s, N - 1);
        exact = START_NS + (N - 1) * 1e9L / (100.0L * (long double)speeds[i]);
        assert_true(fabsl((long double)end - exact) <= 1.0L);
        assert_true(sb_sched_due_count(&s, end) == N);
        assert_true(sb_sched_due_count(&s, end - 1) == N - 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sched_no_drift_speed_1),
        cmocka_unit_test(sched_no_drift_speed_7_5),
        cmocka_unit_test(sched_no_drift_speed_1000),
        cmocka_unit_test(sched_no_drift_other_rates),
        cmocka_unit_test(sched_no_drift_far_out),
        cmocka_unit_test(sched_due_is_monotonic),
        cmocka_unit_test(sched_due_count_consistent),
        cmocka_unit_test(sched_due_count_boundaries),
        cmocka_unit_test(sched_coalesce_period_end),
        cmocka_unit_test(sched_timer_ms_never_early),
        cmocka_unit_test(sched_speed_max),
        cmocka_unit_test(sched_event_offset),
        cmocka_unit_test(sched_injected_clock_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
