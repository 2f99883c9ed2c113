// kafkajs's group consumer while one of its topics is deleted: two members of one group
// subscribe to two topics and consume; the second topic is deleted; the group must keep
// consuming new messages of the first topic and the deleted topic's committed offsets
// must be gone. kafkajs refreshes the metadata of every subscribed topic and stops on
// UNKNOWN_TOPIC_OR_PARTITION, so it runs against a broker that auto-creates topics (as
// Kafka does by default): its own metadata request creates the deleted topic anew, empty.
// Exits non-zero on the first mismatch.
// Usage: node kafkajs_topic_deletion.js host:port keep-topic gone-topic
const assert = require('assert');
const { Kafka, logLevel } = require('kafkajs');

const [broker, keep, gone] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'fjord-compat-deletion', brokers: [broker], logLevel: logLevel.NOTHING });
const groupId = `kafkajs-deletion-${keep}`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, timeoutMs, predicate, state = () => '') {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what} ${state()}`);
}

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer();
  await producer.connect();
  const seen = [0, 0];
  const assigned = [[], []];
  const consumers = [0, 1].map(() => kafka.consumer({
    groupId, sessionTimeout: 6000, heartbeatInterval: 500,
  }));
  await Promise.all(consumers.map(async (c, i) => {
    c.on(c.events.GROUP_JOIN, (e) => {
      assigned[i] = Object.entries(e.payload.memberAssignment)
        .flatMap(([t, ps]) => ps.map((p) => `${t}/${p}`));
    });
    await c.connect();
    await c.subscribe({ topics: [keep, gone], fromBeginning: true });
    await c.run({ autoCommitInterval: 200, eachMessage: async () => { seen[i] += 1; } });
  }));
  await waitFor('both members to consume', 30000, () => seen[0] > 0 && seen[1] > 0);
  await waitFor('commits of the topic to delete', 20000, async () => {
    const offsets = await admin.fetchOffsets({ groupId, topics: [gone] });
    return offsets[0].partitions.some((p) => Number(p.offset) > 0);
  });

  await admin.deleteTopics({ topics: [gone] });
  const wanted = [`${keep}/0`, `${keep}/1`];
  await waitFor('the members to hold every partition of the other topic', 20000, () => {
    const held = assigned.flat();
    return wanted.every((tp) => held.includes(tp));
  }, () => `(assignments: ${JSON.stringify(assigned)}, consumed: ${seen})`);

  const before = seen[0] + seen[1];
  await producer.send({ topic: keep, messages: [...Array(20).keys()].map((i) => ({ value: `n${i}`, partition: i % 2 })) });
  await waitFor('the group to keep consuming', 20000, () => seen[0] + seen[1] >= before + 20);
  await waitFor('the deleted topic offsets to go', 10000, async () => {
    const offsets = await admin.fetchOffsets({ groupId });
    return offsets.every((t) => t.topic !== gone || t.partitions.every((p) => p.offset === '-1'));
  });

  await Promise.all(consumers.map((c) => c.disconnect()));
  await producer.disconnect();
  await admin.disconnect();
  console.log('kafkajs topic deletion: ok');
}

const timer = setTimeout(() => { console.error('timed out'); process.exit(1); }, 100000);
main().then(() => { clearTimeout(timer); process.exit(0); }).catch((e) => {
  console.error(e);
  process.exit(1);
});
