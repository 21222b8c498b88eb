/**
 * One request of a Kafka API the library's admin client has no method for (AlterUserScramCredentials,
 * DescribeUserScramCredentials, the transactions' admin APIs), or has one whose option validators refuse what Kafka accepts (the
 * client quota key controller_mutation_rate): the library's own request and response code, sent on a
 * connection to a bootstrap broker, with the version the broker and the library share.
 */
import { kGetApi, kGetBootstrapConnection } from '@platformatic/kafka';
import type { Kafka } from './kafka.js';

interface Api<Args extends unknown[], Response> {
  async(connection: unknown, ...args: Args): Promise<Response>;
}

/**
 * Sends `name` with `args` (the library's createRequest arguments) and resolves with the parsed
 * response. Rejects with the library's errors, for the caller to say in kch's words (Kafka.call): a
 * response with error codes rejects with a ResponseError whose `response` is the whole answer
 * (kafka-errors.ts responseOf), for a caller that reads the parts that succeeded.
 */
export async function callApi<Args extends unknown[], Response>(
  kafka: Kafka,
  name: string,
  ...args: Args
): Promise<Response> {
  const admin = kafka.admin;
  const api = await new Promise<Api<Args, Response>>((resolve, reject) =>
    admin[kGetApi](name, (e, a) => (e ? reject(e) : resolve(a as unknown as Api<Args, Response>))),
  );
  return api.async(await bootstrapConnection(kafka), ...args);
}

/**
 * Sends a request the library has no code for at all (WriteTxnMarkers), written with its Writer and
 * read with its Reader (`createAPI`), on a connection to a bootstrap broker.
 */
export async function callRequest<Args extends unknown[], Response>(
  kafka: Kafka,
  api: Api<Args, Response>,
  ...args: Args
): Promise<Response> {
  return api.async(await bootstrapConnection(kafka), ...args);
}

function bootstrapConnection(kafka: Kafka): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) =>
    kafka.admin[kGetBootstrapConnection]((e, c) => (e ? reject(e) : resolve(c))),
  );
}
