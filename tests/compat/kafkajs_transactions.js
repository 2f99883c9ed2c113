// kafkajs's transactional producer against a real fjord: a committed, an aborted and a
// committed transaction, then consume-transform-produce with sendOffsets; a
// read_committed consumer (readUncommitted: false) must see exactly the committed
// messages, and the offsets sent with the transaction must be the group's committed
// offsets. Exits non-zero on the first mismatch. Usage: node kafkajs_transactions.js host:port
const assert = require('assert');
const { Kafka, logLevel } = require('kafkajs');

const kafka = new Kafka({ clientId: 'fjord-compat-txn', brokers: [process.argv[2]], logLevel: logLevel.ERROR });
const topic = 'compat-kafkajs-txn';
const copy = 'compat-kafkajs-txn-copy';

async function readAll(t, groupId, expect) {
  const consumer = kafka.consumer({ groupId, readUncommitted: false, sessionTimeout: 6000, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic: t, fromBeginning: true });
  const seen = [];
  let done;
  const finished = new Promise((resolve) => { done = resolve; });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message }) => {
      seen.push(message.value.toString());
      if (seen.length >= expect) done();
    },
  });
  const timer = setTimeout(done, 20000);
  await finished;
  // Anything beyond `expect` that was visible shows up within a short wait.
  await new Promise((r) => setTimeout(r, 1000));
  clearTimeout(timer);
  await consumer.disconnect();
  return seen;
}

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }, { topic: copy, numPartitions: 1 }], waitForLeaders: true });

  const producer = kafka.producer({ transactionalId: 'kafkajs-txn', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (const [tag, commit] of [['a', true], ['b', false], ['c', true]]) {
    const txn = await producer.transaction();
    await txn.send({ topic, messages: [0, 1].map((i) => ({ value: `${tag}${i}` })) });
    if (commit) await txn.commit(); else await txn.abort();
  }
  const committed = await readAll(topic, 'kafkajs-txn-reader', 4);
  assert.deepStrictEqual(committed, ['a0', 'a1', 'c0', 'c1']);

  // consume-transform-produce: the copy and the source offsets commit together.
  const txn = await producer.transaction();
  await txn.send({ topic: copy, messages: committed.map((v) => ({ value: v.toUpperCase() })) });
  await txn.sendOffsets({ consumerGroupId: 'kafkajs-copier', topics: [{ topic, partitions: [{ partition: 0, offset: '8' }] }] });
  await txn.commit();
  await producer.disconnect();
  assert.deepStrictEqual(await readAll(copy, 'kafkajs-copy-reader', 4), ['A0', 'A1', 'C0', 'C1']);
  const offsets = await admin.fetchOffsets({ groupId: 'kafkajs-copier', topics: [topic] });
  assert.strictEqual(offsets[0].partitions[0].offset, '8');
  await admin.disconnect();
  console.log('kafkajs transactions: ok');
}

main().catch((e) => { console.error(e); process.exit(1); });
