// kafkajs against a real fjord: admin (create, metadata, configs, partitions, delete) and
// the producer with and without compression, then offsets (latest, by timestamp). Exits
// non-zero with a message on the first mismatch. Usage: node kafkajs_admin_producer.js host:port
const assert = require('assert');
const { Kafka, CompressionTypes, ConfigResourceTypes, logLevel } = require('kafkajs');

const kafka = new Kafka({ clientId: 'fjord-compat', brokers: [process.argv[2]], logLevel: logLevel.ERROR });

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  const topic = 'compat-kafkajs';
  assert.strictEqual(await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true }), true);
  assert.strictEqual(await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] }), false,
    'creating an existing topic reports false');
  const md = await admin.fetchTopicMetadata({ topics: [topic] });
  assert.strictEqual(md.topics[0].partitions.length, 4);

  const producer = kafka.producer();
  await producer.connect();
  const base = Date.now() - 60000;
  let sent = 0;
  for (const compression of [CompressionTypes.None, CompressionTypes.GZIP]) {
    const messages = [];
    for (let i = 0; i < 500; i++) {
      messages.push({ key: `k${i % 8}`, value: `v${sent + i}`, headers: { n: `${i}` },
                      timestamp: `${base + sent + i}` });
    }
    const res = await producer.send({ topic, acks: -1, compression, messages });
    for (const r of res) assert.strictEqual(r.errorCode, 0);
    sent += messages.length;
  }
  await producer.disconnect();

  const latest = await admin.fetchTopicOffsets(topic);
  assert.strictEqual(latest.reduce((s, p) => s + Number(p.high), 0), sent);
  for (const p of latest) assert.strictEqual(p.low, '0');
  const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, base + sent + 1000);
  for (const p of byTime) {
    const high = latest.find((l) => l.partition === p.partition).high;
    assert.strictEqual(p.offset, high, 'a timestamp after every record gives the end offset');
  }
  const first = await admin.fetchTopicOffsetsByTimestamp(topic, base - 1);
  for (const p of first) assert.strictEqual(p.offset, '0');

  await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic,
    configEntries: [{ name: 'retention.ms', value: '7200000' }] }] });
  const described = await admin.describeConfigs({ includeSynonyms: true, resources: [
    { type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms', 'segment.bytes'] }] });
  const entries = Object.fromEntries(described.resources[0].configEntries.map((e) => [e.configName, e]));
  assert.strictEqual(entries['retention.ms'].configValue, '7200000');
  assert.strictEqual(entries['segment.bytes'].configValue, '1073741824');
  assert.strictEqual(entries['segment.bytes'].isDefault, true);

  await admin.createPartitions({ topicPartitions: [{ topic, count: 6 }] });
  const md2 = await admin.fetchTopicMetadata({ topics: [topic] });
  assert.strictEqual(md2.topics[0].partitions.length, 6);

  await admin.deleteTopics({ topics: [topic] });
  const names = await admin.listTopics();
  assert.ok(!names.includes(topic), 'deleted topic still listed');
  await admin.disconnect();
  console.log(`kafkajs: ok, ${sent} messages`);
}

main().catch((e) => { console.error(e); process.exit(1); });
