// kafkajs on the other side of an interoperability test (tests/KafkaClient.Testing.Tests/KafkajsInteropTests.cs).
//   node kafkajs-client.mjs produce <bootstrap> <topic> <count> <none|gzip> <first timestamp, ms>
//     writes <count> records: key "key-<i % 17>", value "value-<i>", headers n=<i> and dup=a, dup=b,
//     timestamp <first timestamp> + i; partitions chosen by kafkajs's default (Java-compatible) partitioner.
//   node kafkajs-client.mjs consume <bootstrap> <topic> <group> <count>
//     reads <count> records from the beginning in a consumer group.
// The last line of standard output is "RESULT " followed by JSON: the send results, or the records read.
import kafkajs from 'kafkajs';

const { Kafka, CompressionTypes, logLevel } = kafkajs;
const [command, bootstrap, topic, ...rest] = process.argv.slice(2);
const kafka = new Kafka({
  clientId: 'kafkajs-interop',
  brokers: bootstrap.split(','),
  logLevel: process.env.KAFKAJS_DEBUG ? logLevel.DEBUG : logLevel.ERROR,
  retry: { retries: 10, initialRetryTime: 100 },
});
const deadline = setTimeout(() => {
  console.error(`kafkajs ${command} did not finish within 90 s`);
  process.exit(2);
}, 90_000);

function text(value) {
  return value === null || value === undefined ? null : value.toString('utf8');
}

async function produce(count, compression, firstTimestamp) {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const messages = [];
  for (let i = 0; i < count; i++) {
    messages.push({
      key: `key-${i % 17}`,
      value: `value-${i}`,
      headers: { n: String(i), dup: ['a', 'b'] },
      timestamp: String(firstTimestamp + i),
    });
  }
  const results = await producer.send({
    topic,
    acks: -1,
    compression: compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
    messages,
  });
  await producer.disconnect();
  return results.map(r => ({ partition: r.partition, baseOffset: Number(r.baseOffset), error: r.errorCode }));
}

async function consume(group, count) {
  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10000, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const records = [];
  let finished;
  const done = new Promise(resolve => { finished = resolve; });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers = {};
      for (const [key, value] of Object.entries(message.headers ?? {})) {
        headers[key] = Array.isArray(value) ? value.map(text) : text(value);
      }
      records.push({
        partition,
        offset: Number(message.offset),
        timestamp: Number(message.timestamp),
        key: text(message.key),
        value: text(message.value),
        headers,
      });
      if (records.length >= count) {
        finished();
      }
    },
  });
  await done;
  await consumer.disconnect();
  return records;
}

try {
  const result = command === 'produce'
    ? await produce(Number(rest[0]), rest[1], Number(rest[2]))
    : await consume(rest[0], Number(rest[1]));
  clearTimeout(deadline);
  console.log('RESULT ' + JSON.stringify(result));
  process.exit(0);
} catch (error) {
  console.error(`kafkajs ${command} failed: ${error?.stack ?? error}`);
  process.exit(1);
}
