#!/usr/bin/env node
// kafkajs-read.js BROKERS TOPIC TIMEOUT_S
//
// An independent reader of sensorbridge's messages for the real-Kafka tests
// (test_kafka_compression): kafkajs, not librdkafka, so neither kcat nor the
// daemon's own consumer is the only client that decodes what was produced.
// It asks the cluster for every partition's end offset, then reads TOPIC
// from the beginning in a fresh consumer group until it holds every message
// below those offsets, and prints one line per message in the layout of kcat
// -f '%p\t%o\t%k\t%T\t%h\t%s\n': partition, offset, key, Kafka timestamp
// (ms), headers (name=value,...), value. Exit 0 when every message was read,
// 1 on an error or when TIMEOUT_S seconds pass first (stderr says which
// partitions were short). kafkajs itself logs to stderr, errors only.
//
// kafkajs decodes gzip and uncompressed batches by itself; lz4, snappy and
// zstd need codec plugins it does not bundle, so the test uses it for none
// and gzip only. kafkajs comes from npm (deploy/dev.sh installs it into a
// cache; the test puts that on NODE_PATH).
'use strict';

const { Kafka, logLevel } = require('kafkajs');

function main() {
    const [brokers, topic, timeoutArg] = process.argv.slice(2);
    const timeoutS = Number(timeoutArg);
    if (!brokers || !topic || !(timeoutS > 0)) {
        process.stderr.write('usage: kafkajs-read.js BROKERS TOPIC TIMEOUT_S\n');
        process.exit(2);
    }
    const kafka = new Kafka({
        clientId: 'sb-kafkajs-read',
        brokers: brokers.split(','),
        logLevel: logLevel.ERROR,
        logCreator: () => ({ namespace, log }) =>
            process.stderr.write(`kafkajs: ${namespace}: ${log.message}\n`),
        retry: { retries: 5 },
    });
    const admin = kafka.admin();
    const consumer = kafka.consumer({ groupId: `sb-kafkajs-read-${process.pid}-${Date.now()}` });
    const want = new Map(); // partition -> end offset (next offset to be written)
    const next = new Map(); // partition -> next offset not yet read
    const lines = [];
    let finished = false;

    const done = () => [...want].every(([p, end]) => (next.get(p) || 0n) >= end);

    const stop = async (code, why) => {
        if (finished)
            return;
        finished = true;
        clearTimeout(timer);
        if (why)
            process.stderr.write(`kafkajs-read: ${why}\n`);
        await consumer.disconnect().catch(() => {});
        await admin.disconnect().catch(() => {});
        if (code === 0)
            process.stdout.write(lines.join(''));
        process.exitCode = code;
    };

    const timer = setTimeout(() => {
        const short = [...want]
            .filter(([p, end]) => (next.get(p) || 0n) < end)
            .map(([p, end]) => `partition ${p} at ${next.get(p) || 0n} of ${end}`);
        stop(1, `${topic}: not every message read after ${timeoutS} s (${short.join(', ')})`);
    }, timeoutS * 1000);

    (async () => {
        await admin.connect();
        for (const o of await admin.fetchTopicOffsets(topic)) {
            want.set(o.partition, BigInt(o.high));
            next.set(o.partition, BigInt(o.low));
        }
        if (done())
            return stop(0);
        await consumer.connect();
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
                const off = BigInt(message.offset);
                if (finished || off < (next.get(partition) || 0n) || off >= want.get(partition))
                    return;
                const headers = Object.entries(message.headers || {})
                    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}=${x}`))
                    .join(',');
                const key = message.key === null ? '' : message.key.toString('utf8');
                lines.push(`${partition}\t${message.offset}\t${key}\t${message.timestamp}\t` +
                           `${headers}\t${message.value.toString('utf8')}\n`);
                next.set(partition, off + 1n);
                // Not from inside the handler: disconnect waits for it.
                if (done())
                    setImmediate(() => stop(0));
            },
        });
    })().catch((e) => stop(1, `${topic}: ${e.message}`));
}

main();
