import type { Consumer, EachMessagePayload } from 'kafkajs';

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
