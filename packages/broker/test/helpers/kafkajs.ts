import type { Consumer, EachMessagePayload, Kafka } from 'kafkajs';

/**
 * Subscribes from the beginning and consumes until `count` messages arrived; rejects after `timeoutMs`
 * saying how many did. The caller disconnects the consumer, which stops it.
 */
export async function consumeMessages(
  consumer: Consumer,
  topic: string,
  count: number,
  timeoutMs = 30_000,
): Promise<EachMessagePayload[]> {
  const got: EachMessagePayload[] = [];
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`only ${got.length} of ${count} messages arrived`)),
      timeoutMs,
    );
    void consumer.run({
      eachMessage: async (payload) => {
        got.push(payload);
        if (got.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  return got;
}

let reads = 0;

/**
 * Every message of `topic` from the start, as `offset key=value` (`~` for a null value), until `count`
 * came: a consumer of a group of its own each time.
 */
export async function readKeyedFromStart(
  kafka: Kafka,
  topic: string,
  count: number,
  readUncommitted = false,
): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: `g-${topic}-${++reads}`, readUncommitted });
  await consumer.connect();
  try {
    const got = await consumeMessages(consumer, topic, count);
    return got.map(({ message: m }) => `${m.offset} ${m.key}=${m.value === null ? '~' : m.value}`);
  } finally {
    await consumer.disconnect();
  }
}
