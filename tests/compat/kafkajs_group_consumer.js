// kafkajs's group consumer against a real fjord: two consumers of one group split a
// topic's partitions, read every message once between them and commit; then the group's
// committed offsets and description are read back through the admin client. Exits
// non-zero on the first mismatch. Usage: node kafkajs_group_consumer.js host:port
const assert = require('assert');
const { Kafka, logLevel } = require('kafkajs');

const kafka = new Kafka({ clientId: 'fjord-compat-group', brokers: [process.argv[2]], logLevel: logLevel.ERROR });
const topic = 'compat-kafkajs-group';
const groupId = 'kafkajs-group';
const total = 400;

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (let i = 0; i < total; i++) messages.push({ value: `${i}`, partition: i % 4 });
  await producer.send({ topic, messages });
  await producer.disconnect();

  const seen = [];
  const partitionsOf = [new Set(), new Set()];
  const consumers = [0, 1].map(() => kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500 }));
  let done;
  const finished = new Promise((resolve) => { done = resolve; });
  await Promise.all(consumers.map(async (c, i) => {
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({
      eachMessage: async ({ partition, message }) => {
        partitionsOf[i].add(partition);
        seen.push(Number(message.value.toString()));
        if (seen.length >= total) done();
      },
    });
  }));
  const timer = setTimeout(() => { console.error(`only ${seen.length} of ${total} consumed`); process.exit(1); }, 60000);
  await finished;
  clearTimeout(timer);
  await Promise.all(consumers.map((c) => c.disconnect()));  // commits, then leaves

  assert.deepStrictEqual([...new Set(seen)].sort((a, b) => a - b), [...Array(total).keys()]);
  assert.strictEqual(seen.length, total, 'no message twice');
  const [p0, p1] = partitionsOf;
  assert.ok(p0.size > 0 && p1.size > 0, `both members consumed (${[...p0]} / ${[...p1]})`);
  for (const p of p0) assert.ok(!p1.has(p), `partition ${p} consumed by both members`);

  const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
  const committed = offsets[0].partitions.reduce((sum, p) => sum + Number(p.offset), 0);
  assert.strictEqual(committed, total);
  const described = await admin.describeGroups([groupId]);
  assert.strictEqual(described.groups[0].state, 'Empty');
  const listed = await admin.listGroups();
  assert.ok(listed.groups.some((g) => g.groupId === groupId && g.protocolType === 'consumer'));
  await admin.deleteGroups([groupId]);
  await admin.disconnect();
  console.log('kafkajs group: ok');
}

main().catch((e) => { console.error(e); process.exit(1); });
