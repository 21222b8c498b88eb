/**
 * kafkajs's own SASL client code (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER) driving one of kch's server
 * mechanisms directly, without a socket: each token kafkajs would send in a SaslAuthenticate request
 * goes to the exchange, and the exchange's answer back to kafkajs, so a test sees what a real client
 * makes of the server's messages (kafkajs checks the server nonce and signature itself).
 */
import { createRequire } from 'node:module';
import { SaslAuthenticationError, type SaslMechanism } from '../../src/security/sasl/mechanism.js';

const require = createRequire(import.meta.url);

interface Encodable {
  encode(): Promise<Buffer>;
}
interface Decodable {
  decode(bytes: Buffer): Promise<unknown>;
  parse(decoded: unknown): Promise<unknown>;
}
type SaslAuthenticate = (exchange: { request: Encodable; response?: Decodable }) => Promise<unknown>;
type AuthenticatorProvider = (sasl: object) => (args: {
  host: string;
  port: number;
  logger: object;
  saslAuthenticate: SaslAuthenticate;
}) => {
  authenticate(): Promise<void>;
};

// kafkajs publishes no types for these modules: its built-in providers, as SASLAuthenticator uses them.
const PROVIDERS: Record<string, AuthenticatorProvider> = {
  PLAIN: require('kafkajs/src/broker/saslAuthenticator/plain.js'),
  'SCRAM-SHA-256': require('kafkajs/src/broker/saslAuthenticator/scram256.js'),
  'SCRAM-SHA-512': require('kafkajs/src/broker/saslAuthenticator/scram512.js'),
  OAUTHBEARER: require('kafkajs/src/broker/saslAuthenticator/oauthBearer.js'),
};

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

export interface ClientOutcome {
  /** The principal the server settled on, when authentication completed. */
  principal?: string;
  /** The server's refusal, when it refused. */
  serverError?: SaslAuthenticationError;
  /** kafkajs's verdict: undefined when it accepted the exchange. */
  clientError?: Error;
  /** The tokens the client sent, as the server received them. */
  sent: Buffer[];
}

/** `sasl` is kafkajs's sasl option: { username, password } or { oauthBearerProvider }. */
export async function kafkajsAuthenticate(mechanism: SaslMechanism, sasl: object): Promise<ClientOutcome> {
  const exchange = mechanism.start();
  const outcome: ClientOutcome = { sent: [] };
  const saslAuthenticate: SaslAuthenticate = async ({ request, response }) => {
    // kafkajs's SASL messages are length-prefixed BYTES; a SaslAuthenticate request carries them whole.
    const token = (await request.encode()).subarray(4);
    outcome.sent.push(Buffer.from(token));
    let answer: Buffer;
    try {
      const step = await exchange.step(token);
      if (step.principal !== undefined) outcome.principal = step.principal;
      answer = step.response;
    } catch (e) {
      if (e instanceof SaslAuthenticationError) outcome.serverError = e;
      throw e;
    }
    if (!response) return undefined;
    const framed = Buffer.alloc(4 + answer.length);
    framed.writeInt32BE(answer.length);
    answer.copy(framed, 4);
    return response.parse(await response.decode(framed));
  };
  const provider = PROVIDERS[mechanism.name]!;
  try {
    await provider({ mechanism: mechanism.name, ...sasl })({
      host: 'kch.test',
      port: 9092,
      logger: quiet,
      saslAuthenticate,
    }).authenticate();
  } catch (e) {
    outcome.clientError = e as Error;
  }
  return outcome;
}
