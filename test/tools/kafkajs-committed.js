#!/usr/bin/env node
// kafkajs-committed.js BROKERS GROUP TOPIC...
//
// The offsets consumer group GROUP has committed for every partition of each
// TOPIC, as the group coordinator answers an OffsetFetch: one line
// "TOPIC PARTITION OFFSET" per partition, -1 where the group has committed
// nothing. For the fault matrix (test/integration/lib.sh, all_applied):
// kafkajs, not librdkafka, so the daemon's own client is not the one that
// reports what it committed. Exit 0 on an answer, 1 on an error (on stderr).
'use strict';

const { Kafka, logLevel } = require('kafkajs');

async function main() {
    const [brokers, group, ...topics] = process.argv.slice(2);
    if (!brokers || !group || topics.length === 0) {
        process.stderr.write('usage: kafkajs-committed.js BROKERS GROUP TOPIC...\n');
        process.exit(2);
    }
    const kafka = new Kafka({
        clientId: 'sb-kafkajs-committed',
        brokers: brokers.split(','),
        logLevel: logLevel.NOTHING,
        retry: { retries: 3 },
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
        const lines = [];
        for (const t of await admin.fetchOffsets({ groupId: group, topics })) {
            for (const p of t.partitions)
                lines.push(`${t.topic} ${p.partition} ${p.offset}\n`);
        }
        process.stdout.write(lines.join(''));
    } finally {
        await admin.disconnect();
    }
}

main().catch((e) => {
    process.stderr.write(`kafkajs-committed: ${e.message}\n`);
    process.exit(1);
});
