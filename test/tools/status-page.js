// status-page.js URL CHARTS... - opens sensorbridge's status page in Debian's
// chromium through playwright-core and checks what a person would see:
//   - no console error, no uncaught exception, no failed request, no
//     response of 400 or more, over the whole visit;
//   - each chart named in CHARTS (its id, e.g. "pressure", "synthetic-x")
//     exists and gets points (the page's own count, data-points);
//   - the charts and the current values change between two reads;
//   - an alert (level warning or critical) appears in the recent alerts
//     and in the alert states;
//   - the five condition labels of the current cycle are shown.
// With $SB_SCREENSHOT set, it then waits for a closed window and a minute of
// history, for a picture with everything on it, and writes a full-page
// screenshot there.
// Exits 0 when everything holds, else 1 with the reason on stderr.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const {chromium} = require('playwright-core');

const [url, ...charts] = process.argv.slice(2);
const problems = [];

function fail(msg) {
    console.error('status-page.js: ' + msg);
    for (const p of problems)
        console.error('  seen: ' + p);
    process.exit(1);
}

async function waitUntil(page, what, fn, arg, timeoutMs) {
    try {
        await page.waitForFunction(fn, arg, {timeout: timeoutMs, polling: 250});
    } catch (e) {
        fail(what + ' within ' + timeoutMs / 1000 + ' s');
    }
}

(async () => {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-chromium-'));
    // The flags of FIELD-NOTES.md: the closed network refuses chromium's
    // background connections, which would otherwise show as errors.
    const context = await chromium.launchPersistentContext(profile, {
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
            '--disable-component-update', '--no-first-run'],
        viewport: {width: 1400, height: 1000},
    });
    const page = context.pages()[0] || await context.newPage();
    page.on('console', (m) => {
        if (m.type() === 'error')
            problems.push('console error: ' + m.text());
    });
    page.on('pageerror', (e) => problems.push('uncaught: ' + e.message));
    page.on('requestfailed', (r) =>
        problems.push('request failed: ' + r.url() + ' ' + (r.failure() || {}).errorText));
    page.on('response', (r) => {
        if (r.status() >= 400)
            problems.push('HTTP ' + r.status() + ': ' + r.url());
    });

    const resp = await page.goto(url, {waitUntil: 'load'});
    if (!resp || resp.status() !== 200)
        fail('the page answered ' + (resp ? resp.status() : 'nothing'));
    await waitUntil(page, 'the page did not poll twice',
        () => window.sbStatus && window.sbStatus.polls >= 2, null, 30000);

    await waitUntil(page, 'not every chart got data (' + charts.join(' ') + ')', (ids) =>
        ids.every((id) => {
            const c = document.getElementById('chart-' + id);
            return c && Number(c.dataset.points) > 0 && c.querySelector('canvas');
        }), charts, 90000);
    const read = () => page.evaluate((ids) => ({
        points: Object.fromEntries(ids.map((id) =>
            [id, Number(document.getElementById('chart-' + id).dataset.points)])),
        values: Object.fromEntries([...document.querySelectorAll('#values tbody tr')].map((tr) =>
            [tr.dataset.sensor, tr.children[2].dataset.value])),
        lastT: window.sbStatus.lastT,
    }), charts);
    const first = await read();
    await waitUntil(page, 'the history did not move on', (t) => window.sbStatus.lastT > t + 2000,
        first.lastT, 30000);
    const second = await read();
    // At most ten minutes of points are kept; until then each chart grows.
    for (const id of charts)
        if (!(second.points[id] > first.points[id]))
            fail('chart ' + id + ' did not update: ' + first.points[id] + ' then ' +
                second.points[id] + ' points');
    const changed = Object.keys(second.values).filter((s) => second.values[s] !== first.values[s]);
    if (!changed.length)
        fail('no current value changed between two reads: ' + JSON.stringify(second.values));

    await waitUntil(page, 'no alert appeared', () =>
        document.querySelector('#alerts tbody tr[data-level="warning"], ' +
            '#alerts tbody tr[data-level="critical"]') &&
        document.querySelector('#alert-states tbody tr[data-level="warning"], ' +
            '#alert-states tbody tr[data-level="critical"]'), null, 60000);

    const conditions = ['cooler_condition_percent', 'valve_condition_percent', 'pump_leakage',
        'accumulator_pressure_bar', 'stable_flag'];
    await waitUntil(page, 'the condition labels did not show', (keys) =>
        keys.every((k) => {
            const tr = document.querySelector('#conditions tr[data-condition="' + k + '"]');
            return tr && tr.children[1].textContent.trim() !== '';
        }), conditions, 30000);
    const alertRow = await page.$eval('#alerts tbody tr', (tr) => tr.textContent);

    if (process.env.SB_SCREENSHOT) {
        await waitUntil(page, 'no window closed or no minute of history for the screenshot', () =>
            document.querySelector('#windows tbody tr td.num') && window.sbStatus.t.length >= 60,
            null, 180000);
        await page.screenshot({path: process.env.SB_SCREENSHOT, fullPage: true});
    }
    await context.close();
    fs.rmSync(profile, {recursive: true, force: true});
    if (problems.length)
        fail(problems.length + ' problems during the visit');
    console.log(JSON.stringify({charts: second.points, changed: changed, alert: alertRow}));
})().catch((e) => fail(e.stack || String(e)));
