/**
 * Kafka's `listeners`, `advertised.listeners` and `listener.security.protocol.map`, parsed and
 * checked as Kafka's EndpointUtils and KafkaConfig do, with Kafka's messages.
 */
import { isIP } from 'node:net';
import { SECURITY_PROTOCOLS, type SecurityProtocol } from '../security/options.js';
import { csvList, type Prop, type PropertyReader } from './reader.js';

export interface Endpoint {
  /** Upper case, as Kafka normalises listener names. */
  name: string;
  /** Null when the host part is empty. */
  host: string | null;
  port: number;
}

export interface ParsedListener {
  name: string;
  host: string;
  port: number;
  securityProtocol: SecurityProtocol;
  advertisedHost?: string;
  advertisedPort?: number;
}

/** Kafka's endpoint syntax: NAME://host:port, the host possibly empty or an IPv6 address in brackets. */
const ENDPOINT = /^(.*):\/\/\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+)$/;

function endpoints(reader: PropertyReader, prop: Prop): Endpoint[] | undefined {
  const out: Endpoint[] = [];
  for (const item of csvList(prop.value)) {
    const m = ENDPOINT.exec(item);
    const port = m ? Number(m[3]) : Number.NaN;
    if (!m || port < 0 || port > 65535) {
      reader.error(`${prop.name}: Unable to parse ${item} to a broker endpoint (NAME://host:port)`);
      return undefined;
    }
    out.push({ name: m[1]!.toUpperCase(), host: m[2] === '' ? null : m[2]!, port });
  }
  return out;
}

/**
 * listener.security.protocol.map: `NAME:PROTOCOL` pairs, split at the last colon as Kafka's
 * Csv.parseCsvMap does; when not given, each protocol is a listener name of its own.
 */
function protocolMap(reader: PropertyReader): Map<string, SecurityProtocol> | undefined {
  const prop = reader.get('listener.security.protocol.map');
  if (!prop) return new Map(SECURITY_PROTOCOLS.map((p) => [p, p]));
  const map = new Map<string, SecurityProtocol>();
  for (const pair of csvList(prop.value)) {
    const at = pair.lastIndexOf(':');
    if (at < 0) {
      reader.error(`${prop.name}: ${pair} is not <listener name>:<security protocol>`);
      return undefined;
    }
    const protocol = pair
      .slice(at + 1)
      .trim()
      .toUpperCase();
    if (!(SECURITY_PROTOCOLS as readonly string[]).includes(protocol)) {
      reader.error(
        `${prop.name}: Invalid security protocol \`${pair.slice(at + 1).trim()}\` (kch knows ${SECURITY_PROTOCOLS.join(', ')})`,
      );
      return undefined;
    }
    map.set(pair.slice(0, at).trim().toUpperCase(), protocol as SecurityProtocol);
  }
  return map;
}

/**
 * Kafka's EndpointUtils.validate: distinct names, and distinct ports (0 aside) unless exactly two
 * listeners share one, an IPv4 address and an IPv6 address.
 */
function checkDistinct(reader: PropertyReader, prop: Prop, list: readonly Endpoint[]): boolean {
  if (new Set(list.map((e) => e.name)).size !== list.length) {
    reader.error(`${prop.name}: Each listener must have a different name, listeners: ${prop.value}`);
    return false;
  }
  const byPort = new Map<number, Endpoint[]>();
  for (const e of list) if (e.port !== 0) byPort.set(e.port, [...(byPort.get(e.port) ?? []), e]);
  for (const [port, same] of byPort) {
    if (same.length === 1) continue;
    const families = same.map((e) => (e.host === null ? 0 : isIP(e.host)));
    if (same.length === 2 && families.includes(4) && families.includes(6)) continue;
    reader.error(
      `${prop.name}: Each listener must have a different port unless exactly one listener has an IPv4 address and the other IPv6 address, listeners: ${prop.value}, port: ${port}`,
    );
    return false;
  }
  return true;
}

function checkAdvertised(
  reader: PropertyReader,
  prop: Prop,
  list: readonly Endpoint[],
  names: readonly string[],
): boolean {
  if (new Set(list.map((e) => e.name)).size !== list.length) {
    reader.error(`${prop.name}: Each listener must have a different name, listeners: ${prop.value}`);
    return false;
  }
  const stray = list.filter((e) => !names.includes(e.name)).map((e) => e.name);
  if (stray.length > 0) {
    reader.error(
      `${prop.name} listener names must be equal to or a subset of the ones defined in listeners. Found ${stray.join(',')}. The valid options based on the current configuration are ${names.join(',')}`,
    );
    return false;
  }
  if (list.some((e) => e.host === '0.0.0.0')) {
    reader.error(`${prop.name} cannot use the nonroutable meta-address 0.0.0.0. Use a routable IP address.`);
    return false;
  }
  if (list.some((e) => e.port === 0)) {
    reader.error(`${prop.name}: port 0 cannot be advertised: clients need the real port`);
    return false;
  }
  return true;
}

/** What Metadata tells clients of a listener: the advertised host (empty: the default) and port. */
function advertisedOf(e: Endpoint | undefined): { advertisedHost?: string; advertisedPort?: number } {
  if (!e) return {};
  return { ...(e.host !== null ? { advertisedHost: e.host } : {}), advertisedPort: e.port };
}

export interface ListenersResult {
  /** The listeners to bind; undefined when `listeners` is not given (kch's own host and port apply). */
  listeners?: ParsedListener[];
  /** advertised.listeners without listeners: the address of kch's one PLAINTEXT listener. */
  advertisedHost?: string;
  advertisedPort?: number;
}

export function listenersFromProperties(reader: PropertyReader): ListenersResult {
  const listenersProp = reader.get('listeners');
  const advertisedProp = reader.get('advertised.listeners');
  const bound = listenersProp ? endpoints(reader, listenersProp) : undefined;
  const advertised = advertisedProp ? endpoints(reader, advertisedProp) : undefined;
  if (!bound || bound.length === 0) {
    // Without listeners, kch's one listener is Kafka's default one, PLAINTEXT, bound where kch's own
    // options say (127.0.0.1:9092 unless told): Kafka's default binds every interface, which kch does
    // not do unasked.
    if (listenersProp && bound) reader.unuse(listenersProp);
    if (!advertised || !advertisedProp || !checkAdvertised(reader, advertisedProp, advertised, ['PLAINTEXT']))
      return {};
    return advertisedOf(advertised[0]);
  }
  if (!checkDistinct(reader, listenersProp!, bound)) return {};
  if (
    advertised &&
    !checkAdvertised(
      reader,
      advertisedProp!,
      advertised,
      bound.map((e) => e.name),
    )
  )
    return {};
  // A KRaft controller's listener is not for clients, and kch has no controller quorum to serve.
  const controllers = csvList(reader.peek('controller.listener.names') ?? '').map((n) => n.toUpperCase());
  const map = protocolMap(reader);
  if (!map) return {};
  const listeners: ParsedListener[] = [];
  for (const e of bound) {
    if (controllers.includes(e.name)) continue;
    const securityProtocol = map.get(e.name);
    if (!securityProtocol) {
      reader.error(
        `listeners: No security protocol defined for listener ${e.name}: add ${e.name}:<PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL> to listener.security.protocol.map`,
      );
      continue;
    }
    if (!/^[A-Za-z0-9_]+$/.test(e.name)) {
      reader.error(`listeners: listener name ${e.name}: kch takes listener names of letters, digits and _`);
      continue;
    }
    listeners.push({
      name: e.name,
      // An empty host binds every interface in Kafka. 0.0.0.0 rather than ::, which fails where IPv6
      // is off (containers often).
      host: e.host ?? '0.0.0.0',
      port: e.port,
      securityProtocol,
      ...advertisedOf(advertised?.find((a) => a.name === e.name)),
    });
  }
  if (listeners.length === 0 && reader.errors.length === 0)
    reader.error(
      `listeners: ${listenersProp!.value} has only controller listeners (controller.listener.names); kch needs a broker listener`,
    );
  return { listeners };
}
