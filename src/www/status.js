/* status.js - the live status page: polls the daemon's JSON once a second
 * and draws it with uPlot. Everything it shows comes from
 *   /api/v1/status   readiness, brokers, topics, the consumer group
 *   /api/v1/live     current values with units, alert levels, conditions, last diagnosis
 *   /api/v1/history  the last minutes, fetched with ?since= so that each
 *                    poll brings only the new points
 *   /api/v1/windows, /api/v1/alerts
 * (docs/metrics.md, "Status page"). window.sbStatus is the page's state,
 * read by the browser test. */
'use strict';

(function () {
    const POLL_MS = 1000;

    /* The UCI rig's sensors by group; any other sensor (the synthetic
     * ones) gets a chart of its own, since their units differ. */
    const GROUPS = [
        {id: 'pressure', title: 'Pressures PS1–PS6', sensors: ['PS1', 'PS2', 'PS3', 'PS4', 'PS5', 'PS6']},
        {id: 'flow', title: 'Volume flows FS1, FS2', sensors: ['FS1', 'FS2']},
        {id: 'temperature', title: 'Temperatures TS1–TS4', sensors: ['TS1', 'TS2', 'TS3', 'TS4']},
        {id: 'power', title: 'Motor power EPS1', sensors: ['EPS1']},
        {id: 'vibration', title: 'Vibration VS1', sensors: ['VS1']},
        {id: 'cooling', title: 'Cooling efficiency CE, cooling power CP', sensors: ['CE', 'CP']},
        {id: 'efficiency', title: 'Efficiency factor SE', sensors: ['SE']},
    ];
    const UCI = new Set(GROUPS.flatMap((g) => g.sensors));

    const PIPELINE = [
        {id: 'throughput', title: 'Messages per second', unit: 'msg/s', series: [
            ['produced_per_second', 'produced'], ['delivered_per_second', 'delivered'],
            ['consumed_per_second', 'consumed']]},
        {id: 'latency', title: 'End-to-end latency, mean of each second', unit: 'ms', factor: 1000,
            series: [['latency_seconds', 'latency']]},
        {id: 'lag', title: 'Consumer lag and producer queue', unit: 'messages', series: [
            ['lag_messages', 'consumer lag'], ['producer_queue_messages', 'producer queue']]},
    ];

    const COLORS = ['#0969da', '#cf222e', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#0a7d8c',
        '#6e7781'];

    const CONDITIONS = [
        ['cooler_condition_percent', 'Cooler condition', (v) => v + ' %' +
            ({3: ' (close to total failure)', 20: ' (reduced efficiency)', 100: ' (full efficiency)'}[v] || '')],
        ['valve_condition_percent', 'Valve condition', (v) => v + ' %' +
            ({100: ' (optimal switching)', 90: ' (small lag)', 80: ' (severe lag)', 73: ' (close to total failure)'}[v] || '')],
        ['pump_leakage', 'Internal pump leakage', (v) => ({0: 'none', 1: 'weak', 2: 'severe'}[v] || String(v))],
        ['accumulator_pressure_bar', 'Hydraulic accumulator', (v) => v + ' bar' +
            ({130: ' (optimal)', 115: ' (slightly reduced)', 100: ' (severely reduced)', 90: ' (close to total failure)'}[v] || '')],
        ['stable_flag', 'Stable flag', (v) => (v === 0 ? 'stable' : 'static conditions might not have been reached')],
    ];

    const state = {
        polls: 0,
        failures: 0,
        points: 0,
        t: [],                       /* tick times, ms */
        series: {pipeline: {}, sensor: {}},
        lastT: -1,
        status: null,
        live: null,
        units: {},
        charts: {},                  /* id -> {key, plot, el, points} */
    };
    window.sbStatus = state;

    function el(tag, attrs, text) {
        const e = document.createElement(tag);
        for (const k in attrs || {})
            e.setAttribute(k, attrs[k]);
        if (text !== undefined)
            e.textContent = text;
        return e;
    }

    function fmt(v, digits) {
        if (v === null || v === undefined || !isFinite(v))
            return '–';
        const a = Math.abs(v);
        if (digits !== undefined)
            return v.toFixed(digits);
        if (a >= 1000)
            return v.toFixed(0);
        if (a >= 100)
            return v.toFixed(1);
        if (a >= 1)
            return v.toFixed(2);
        return v.toPrecision(3);
    }

    function last(arr) {
        for (let i = (arr || []).length - 1; i >= 0; i--)
            if (arr[i] !== null)
                return arr[i];
        return null;
    }

    async function getJSON(path) {
        const r = await fetch(path, {cache: 'no-store'});
        if (!r.ok)
            throw new Error(path + ': HTTP ' + r.status);
        return r.json();
    }

    /* Appends what /api/v1/history?since= brought, keeping the arrays
     * aligned with state.t and at most `points` long. */
    function mergeHistory(h) {
        state.points = h.points;
        const n = h.t.length;
        const before = state.t.length;
        for (const group of Object.keys(h.series)) {
            state.series[group] = state.series[group] || {};
            for (const name of Object.keys(h.series[group])) {
                if (!state.series[group][name])
                    state.series[group][name] = new Array(before).fill(null);
            }
        }
        state.t.push(...h.t);
        for (const group of Object.keys(state.series)) {
            const got = h.series[group] || {};
            for (const name of Object.keys(state.series[group])) {
                const arr = state.series[group][name];
                if (got[name])
                    arr.push(...got[name]);
                else
                    for (let i = 0; i < n; i++)
                        arr.push(null);
            }
        }
        const extra = state.t.length - state.points;
        if (extra > 0) {
            state.t.splice(0, extra);
            for (const group of Object.keys(state.series))
                for (const name of Object.keys(state.series[group]))
                    state.series[group][name].splice(0, extra);
        }
        if (n)
            state.lastT = h.t[n - 1];
    }

    /* ---- charts ---- */

    function chartBox(container, id, title) {
        let c = state.charts[id];
        if (c)
            return c;
        const box = el('div', {class: 'chart', id: 'chart-' + id, 'data-points': '0'});
        box.appendChild(el('h3', {}, title));
        const plot = el('div', {class: 'plot'});
        plot.appendChild(el('div', {class: 'empty'}, 'no data yet'));
        box.appendChild(plot);
        container.appendChild(box);
        c = state.charts[id] = {key: '', plot: null, box: box, area: plot, points: 0};
        return c;
    }

    /* lines: [{label, unit, values}] on one x axis; a second unit gets the
     * right-hand axis. */
    function drawChart(c, lines, factor) {
        const xs = state.t.map((t) => t / 1000);
        const units = [...new Set(lines.map((l) => l.unit))];
        const key = lines.map((l) => l.label + '/' + l.unit).join(',');
        const data = [xs].concat(lines.map((l) =>
            l.values.map((v) => (v === null ? null : v * (factor || 1)))));
        let points = 0;
        for (let i = 1; i < data.length; i++)
            for (const v of data[i])
                if (v !== null)
                    points++;
        c.points = points;
        c.box.setAttribute('data-points', String(points));
        if (!lines.length)
            return;
        const width = Math.max(300, c.area.clientWidth || 480);
        if (c.key !== key) {
            if (c.plot)
                c.plot.destroy();
            c.area.textContent = '';
            const axes = [{}];
            const scales = {x: {time: true}};
            units.slice(0, 2).forEach((u, i) => {
                scales[u] = {auto: true};
                axes.push({scale: u, label: u, side: i === 0 ? 3 : 1, size: 60,
                    grid: {show: i === 0}});
            });
            const series = [{}].concat(lines.map((l, i) => ({
                label: l.label,
                scale: units.indexOf(l.unit) < 2 ? l.unit : units[0],
                stroke: COLORS[i % COLORS.length],
                width: 1.5,
                value: (u, v) => (v === null ? '–' : fmt(v) + ' ' + l.unit),
            })));
            c.plot = new uPlot({width: width, height: 200, scales: scales, axes: axes,
                series: series, cursor: {drag: {x: false, y: false}}}, data, c.area);
            c.key = key;
        } else {
            if (Math.abs(c.plot.width - width) > 20)
                c.plot.setSize({width: width, height: 200});
            c.plot.setData(data);
        }
    }

    function unitOf(sensor) {
        return state.units[sensor] || '';
    }

    function drawCharts() {
        const pc = document.getElementById('pipeline-charts');
        for (const p of PIPELINE) {
            const c = chartBox(pc, p.id, p.title);
            const lines = p.series.filter(([name]) => state.series.pipeline[name])
                .map(([name, label]) => ({label: label, unit: p.unit,
                    values: state.series.pipeline[name]}));
            drawChart(c, lines, p.factor);
        }
        const sc = document.getElementById('sensor-charts');
        const have = state.series.sensor;
        for (const g of GROUPS) {
            const c = chartBox(sc, g.id, g.title);
            drawChart(c, g.sensors.filter((s) => have[s]).map((s) => ({
                label: s, unit: unitOf(s), values: have[s]})));
        }
        for (const s of Object.keys(have).filter((s) => !UCI.has(s)).sort()) {
            const c = chartBox(sc, 'synthetic-' + s, 'Synthetic sensor ' + s);
            drawChart(c, [{label: s, unit: unitOf(s), values: have[s]}]);
        }
    }

    /* ---- tiles and tables ---- */

    function tile(label, value, detail, level) {
        const t = el('div', {class: 'tile'});
        t.appendChild(el('div', {class: 'label'}, label));
        const v = el('div', {class: 'value'}, value);
        if (level)
            v.appendChild(el('span', {class: 'badge ' + level}, level === 'ok' ? 'ok' : level));
        t.appendChild(v);
        if (detail)
            t.appendChild(el('div', {class: 'detail'}, detail));
        return t;
    }

    function drawHealth() {
        const s = state.status, live = state.live || {};
        if (!s)
            return;
        const p = state.series.pipeline;
        const h = document.getElementById('health');
        const tiles = [];
        tiles.push(tile('Readiness', s.ready ? 'ready' : 'not ready',
            s.ready ? '' : s.not_ready_reason, s.ready ? 'ok' : 'critical'));
        const reachable = s.topics ? s.topics.cluster_reachable : undefined;
        tiles.push(tile('Brokers', reachable ? 'reachable' : 'not reachable',
            (s.embedded_broker ? 'embedded: ' : '') + s.brokers, reachable ? 'ok' : 'critical'));
        if (s.topics)
            tiles.push(tile('Topics', String(s.topics.required.length - s.topics.missing.length) +
                ' of ' + s.topics.required.length,
                s.topics.missing.length ? 'missing: ' + s.topics.missing.join(', ') : 'all exist'));
        const c = s.consumer || {};
        if (c.enabled) {
            tiles.push(tile('Consumer group', c.assigned ? 'assigned' : 'waiting',
                c.group_id, c.assigned ? 'ok' : 'warning'));
            tiles.push(tile('Partitions owned', String((c.partitions || []).length),
                c.subscription ? 'subscription ' + c.subscription : ''));
            tiles.push(tile('Rebalances', fmt(live.rebalances, 0), 'assignments and revocations'));
        }
        tiles.push(tile('Produced', fmt(last(p.produced_per_second)) + ' /s', 'messages handed to Kafka'));
        tiles.push(tile('Delivered', fmt(last(p.delivered_per_second)) + ' /s', 'acknowledged by the cluster'));
        tiles.push(tile('Consumed', fmt(last(p.consumed_per_second)) + ' /s', 'messages read back'));
        const lat = last(p.latency_seconds);
        tiles.push(tile('End-to-end latency', lat === null ? '–' : fmt(lat * 1000) + ' ms',
            'mean of the last second'));
        tiles.push(tile('Consumer lag', fmt(last(p.lag_messages), 0) + ' msgs', 'all assigned partitions'));
        if (s.replay && s.replay.enabled)
            tiles.push(tile('Replay', 'cycle ' + fmt(live.replay_cycle, 0),
                'speed ' + s.replay.speed + (s.replay.finished ? ', finished' : '')));
        tiles.push(tile('Uptime', fmt(s.uptime_seconds / 60, 1) + ' min', 'sensorbridge ' + s.version));
        h.replaceChildren(...tiles);
        document.getElementById('version').textContent = s.version;
    }

    function row(cells) {
        const tr = el('tr');
        for (const c of cells) {
            if (c instanceof Node) {
                const td = el('td');
                td.appendChild(c);
                tr.appendChild(td);
            } else {
                tr.appendChild(el('td', c.num ? {class: 'num'} : {}, c.text));
            }
        }
        return tr;
    }

    function badge(level) {
        return el('span', {class: 'badge ' + level}, level);
    }

    function drawLive() {
        const live = state.live;
        if (!live)
            return;
        const rows = live.sensors.map((s) => {
            const tr = row([{text: s.sensor}, {text: s.quantity || ''}, {text: fmt(s.value), num: true},
                {text: s.unit || ''}, badge(s.level)]);
            tr.setAttribute('data-sensor', s.sensor);
            tr.children[2].setAttribute('data-value', String(s.value));
            return tr;
        });
        document.querySelector('#values tbody').replaceChildren(...rows);
        const cond = [];
        for (const [key, label, text] of CONDITIONS)
            if (key in live.conditions) {
                const tr = row([{text: label}, {text: text(live.conditions[key])}]);
                tr.setAttribute('data-condition', key);
                cond.push(tr);
            }
        if (!cond.length)
            cond.push(row([{text: 'no profile.txt labels (not replaying the UCI dataset)'}]));
        document.querySelector('#conditions tbody').replaceChildren(...cond);
        const dg = live.diagnosis;
        document.querySelector('#diagnosis-cycle').textContent = dg ? ' (cycle ' + dg.cycle + ')' : '';
        const diag = dg ? Object.keys(dg.components).sort().map((name) => {
            const c = dg.components[name];
            const tr = row([{text: name}, {text: String(c.state), num: true},
                {text: fmt(c.probability, 3), num: true},
                {text: 'true_state' in c ? String(c.true_state) : '–', num: true}]);
            tr.setAttribute('data-component', name);
            return tr;
        }) : [row([{text: 'no diagnosis yet (needs [condition] model and a whole cycle of the 17 UCI sensors)'}])];
        document.querySelector('#diagnosis tbody').replaceChildren(...diag);
        const states = [];
        for (const s of live.sensors)
            for (const rule of Object.keys(s.rules).sort()) {
                const tr = row([{text: s.sensor}, {text: rule}, badge(s.rules[rule])]);
                tr.setAttribute('data-level', s.rules[rule]);
                states.push(tr);
            }
        document.querySelector('#alert-states tbody').replaceChildren(...states);
    }

    function drawAlerts(a) {
        const rows = a.alerts.map((x) => {
            const tr = row([{text: x.timestamp}, {text: x.sensor}, {text: x.rule}, badge(x.level),
                {text: x.previous_level}, {text: fmt(x.value), num: true}, {text: x.message}]);
            tr.setAttribute('data-level', x.level);
            return tr;
        });
        if (!rows.length)
            rows.push(row([{text: 'none since the start'}]));
        document.querySelector('#alerts tbody').replaceChildren(...rows);
    }

    function drawWindows(w) {
        const rows = w.windows.map((x) => row([{text: x.sensor}, {text: x.window_seconds + ' s', num: true},
            {text: x.window_end}, {text: String(x.count), num: true}, {text: fmt(x.mean), num: true},
            {text: fmt(x.min), num: true}, {text: fmt(x.max), num: true}, {text: fmt(x.stddev), num: true},
            {text: x.complete ? 'yes' : 'partial: ' + x.partial_reason}]));
        if (!rows.length)
            rows.push(row([{text: 'none closed yet'}]));
        document.querySelector('#windows tbody').replaceChildren(...rows);
    }

    async function poll() {
        try {
            const [status, live, history, windows, alerts] = await Promise.all([
                getJSON('/api/v1/status'), getJSON('/api/v1/live'),
                getJSON('/api/v1/history' + (state.lastT >= 0 ? '?since=' + state.lastT : '')),
                getJSON('/api/v1/windows'), getJSON('/api/v1/alerts')]);
            state.status = status;
            state.live = live;
            for (const s of live.sensors)
                state.units[s.sensor] = s.unit || '';
            mergeHistory(history);
            drawHealth();
            drawCharts();
            drawLive();
            drawAlerts(alerts);
            drawWindows(windows);
            state.polls++;
            document.getElementById('offline').hidden = true;
            document.getElementById('updated').textContent =
                'updated ' + new Date(live.time_ms).toLocaleTimeString();
        } catch (e) {
            state.failures++;
            document.getElementById('offline').hidden = false;
        }
        setTimeout(poll, POLL_MS);
    }

    poll();
})();
