// kafkajs producer and group consumer for the golden capture.
const { Kafka, CompressionTypes, logLevel } = require('kafkajs');

const brokers = [process.argv[2]];
async function main() {
  const producer = new Kafka({ clientId: 'kafkajs-producer', brokers, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  const messages = [];
  for (let i = 0; i < 10; i++) messages.push({ key: `key-${i}`, value: `value-${i}`, headers: { h1: 'v1' } });
  await producer.send({ topic: 'golden', compression: CompressionTypes.GZIP, messages });
  await producer.disconnect();

  const consumer = new Kafka({ clientId: 'kafkajs-consumer', brokers, logLevel: logLevel.NOTHING })
    .consumer({ groupId: 'golden-group' });
  await consumer.connect();
  await consumer.subscribe({ topic: 'golden', fromBeginning: true });
  await consumer.run({ eachMessage: async () => {} });
  await new Promise((r) => setTimeout(r, 4000));
  await consumer.disconnect();
}
main().then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); });
