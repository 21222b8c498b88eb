/**
 * Reads Apache Kafka's message definitions (JSON with `//` comments) into a normalized model that
 * the emitter turns into TypeScript. The rules are those of Kafka's own generator
 * (generator/src/main/java/org/apache/kafka/message): version ranges, flexible versions, tagged fields,
 * nullable versions, common structs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface VersionRange {
  min: number;
  /** Inclusive; Infinity for "N+". An empty range has min > max. */
  max: number;
}

export const NO_VERSIONS: VersionRange = { min: 1, max: 0 };

export function parseVersions(text: string | undefined, fallback: VersionRange = NO_VERSIONS): VersionRange {
  if (text === undefined) return fallback;
  const t = text.trim();
  if (t === '' || t === 'none') return NO_VERSIONS;
  if (t.endsWith('+')) return { min: Number(t.slice(0, -1)), max: Number.POSITIVE_INFINITY };
  const dash = t.indexOf('-');
  if (dash >= 0) return { min: Number(t.slice(0, dash)), max: Number(t.slice(dash + 1)) };
  const v = Number(t);
  if (!Number.isInteger(v)) throw new Error(`bad version range "${text}"`);
  return { min: v, max: v };
}

export function intersect(a: VersionRange, b: VersionRange): VersionRange {
  return { min: Math.max(a.min, b.min), max: Math.min(a.max, b.max) };
}

export function isEmpty(r: VersionRange): boolean {
  return r.min > r.max;
}

export type PrimitiveName =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'int64'
  | 'float64'
  | 'string'
  | 'bytes'
  | 'records'
  | 'uuid';

const PRIMITIVES = new Set<string>([
  'bool',
  'int8',
  'int16',
  'uint16',
  'int32',
  'int64',
  'float64',
  'string',
  'bytes',
  'records',
  'uuid',
]);

export type FieldType =
  | { kind: 'primitive'; name: PrimitiveName }
  | { kind: 'array'; element: FieldType }
  | { kind: 'struct'; struct: StructSpec };

export interface FieldSpec {
  name: string;
  /** Property name in TypeScript: the Kafka name with a lower-case first letter. */
  prop: string;
  type: FieldType;
  versions: VersionRange;
  nullableVersions: VersionRange;
  /** Set for tagged fields: the field is carried in the tagged section in these versions. */
  tag: number | null;
  taggedVersions: VersionRange;
  ignorable: boolean;
  /** The `default` of the definition, as written there. */
  defaultText: string | undefined;
  /** Overrides the message's flexible versions for this field's own encoding (RequestHeader.ClientId). */
  flexibleVersions: VersionRange | null;
  about: string;
}

export interface StructSpec {
  /** The Kafka name of the struct (the element type of the field). */
  name: string;
  /** The TypeScript type name, prefixed by the message name to keep names unique across messages. */
  tsName: string;
  fields: FieldSpec[];
  about: string;
}

export interface MessageSpec {
  name: string;
  type: 'request' | 'response' | 'header' | 'data';
  apiKey: number | null;
  listeners: string[];
  /** Valid versions with an unstable latest version already removed. */
  validVersions: VersionRange;
  flexibleVersions: VersionRange;
  root: StructSpec;
  /** Every struct of the message, in the order the emitter writes them (dependencies first). */
  structs: StructSpec[];
  sourceFile: string;
}

interface RawField {
  name: string;
  type: string;
  versions?: string;
  nullableVersions?: string;
  tag?: number;
  taggedVersions?: string;
  ignorable?: boolean;
  default?: string | number | boolean;
  flexibleVersions?: string;
  about?: string;
  fields?: RawField[];
}

interface RawMessage {
  apiKey?: number;
  type: MessageSpec['type'];
  listeners?: string[];
  name: string;
  validVersions: string;
  flexibleVersions: string;
  latestVersionUnstable?: boolean;
  fields: RawField[];
  commonStructs?: { name: string; versions?: string; fields: RawField[] }[];
}

/** Kafka's definitions are JSON with whole-line `//` comments. */
function parseJsonWithComments(text: string): unknown {
  return JSON.parse(text.replace(/^\s*\/\/.*$/gm, ''));
}

function propName(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/**
 * Versions these definitions still mark latestVersionUnstable that Apache Kafka has since released
 * with the same schema, by message name: ConsumerGroupHeartbeat v1 (SubscribedTopicRegex, member ids
 * made by the client) is stable since Kafka 4.0, where KIP-848 became generally available, and is
 * the version librdkafka ≥ 2.10 and the Java client 4.x ask for.
 */
const STABLE_SINCE: Readonly<Record<string, number>> = {
  ConsumerGroupHeartbeatRequest: 1,
};

function buildMessage(raw: RawMessage, sourceFile: string): MessageSpec {
  const declared = parseVersions(raw.validVersions);
  // Versions marked latestVersionUnstable are still in development: never advertised, never generated.
  const unstable = raw.latestVersionUnstable && STABLE_SINCE[raw.name] !== declared.max;
  const validVersions = unstable ? { min: declared.min, max: declared.max - 1 } : declared;
  const structs: StructSpec[] = [];
  const common = new Map<string, RawField[]>();
  for (const c of raw.commonStructs ?? []) common.set(c.name, c.fields);
  const built = new Map<string, StructSpec>();

  const buildStruct = (name: string, rawFields: RawField[], about: string): StructSpec => {
    const existing = built.get(name);
    if (existing) return existing;
    const spec: StructSpec = { name, tsName: raw.name + name, fields: [], about };
    built.set(name, spec);
    spec.fields = rawFields.map((f) => buildField(f));
    structs.push(spec);
    return spec;
  };

  const buildType = (type: string, field: RawField): FieldType => {
    if (type.startsWith('[]')) return { kind: 'array', element: buildType(type.slice(2), field) };
    if (PRIMITIVES.has(type)) return { kind: 'primitive', name: type as PrimitiveName };
    const fields = field.fields ?? common.get(type);
    if (!fields) throw new Error(`${raw.name}: struct type ${type} has no fields and is not a common struct`);
    return { kind: 'struct', struct: buildStruct(type, fields, field.about ?? '') };
  };

  const buildField = (f: RawField): FieldSpec => {
    const versions = parseVersions(f.versions);
    return {
      name: f.name,
      prop: propName(f.name),
      type: buildType(f.type, f),
      versions,
      nullableVersions: parseVersions(f.nullableVersions),
      tag: f.tag ?? null,
      taggedVersions: parseVersions(f.taggedVersions),
      ignorable: f.ignorable === true,
      defaultText: f.default === undefined ? undefined : String(f.default),
      flexibleVersions: f.flexibleVersions === undefined ? null : parseVersions(f.flexibleVersions),
      about: f.about ?? '',
    };
  };

  const root: StructSpec = { name: raw.name, tsName: raw.name, fields: [], about: '' };
  root.fields = raw.fields.map((f) => buildField(f));
  structs.push(root);
  return {
    name: raw.name,
    type: raw.type,
    apiKey: raw.apiKey ?? null,
    listeners: raw.listeners ?? [],
    validVersions,
    flexibleVersions: parseVersions(raw.flexibleVersions),
    root,
    structs,
    sourceFile,
  };
}

export function readDefinitions(dir: string): MessageSpec[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`no Kafka message definitions (*.json) found in ${dir}`);
  return files.map((f) =>
    buildMessage(parseJsonWithComments(readFileSync(join(dir, f), 'utf8')) as RawMessage, f),
  );
}

/** Data messages the broker decodes itself: the consumer protocol carried inside JoinGroup/SyncGroup. */
const DATA_MESSAGES = new Set(['ConsumerProtocolSubscription', 'ConsumerProtocolAssignment']);

export interface ApiSpec {
  apiKey: number;
  /** The API's name: the request's name without "Request". */
  name: string;
  request: MessageSpec;
  response: MessageSpec;
  minVersion: number;
  maxVersion: number;
}

export interface Selection {
  apis: ApiSpec[];
  headers: MessageSpec[];
  data: MessageSpec[];
}

/**
 * Picks what a broker serves: every request whose listeners include `broker` and that has at least one
 * stable version, with its response; the two headers; the consumer protocol data messages.
 */
export function selectForBroker(messages: MessageSpec[]): Selection {
  const responses = new Map<number, MessageSpec>();
  for (const m of messages) if (m.type === 'response' && m.apiKey !== null) responses.set(m.apiKey, m);
  const apis: ApiSpec[] = [];
  for (const m of messages) {
    if (m.type !== 'request' || m.apiKey === null || !m.listeners.includes('broker')) continue;
    if (isEmpty(m.validVersions)) continue;
    const response = responses.get(m.apiKey);
    if (!response) throw new Error(`${m.name} has no response definition`);
    // The response follows the request's stable range.
    response.validVersions = m.validVersions;
    apis.push({
      apiKey: m.apiKey,
      name: m.name.replace(/Request$/, ''),
      request: m,
      response,
      minVersion: m.validVersions.min,
      maxVersion: m.validVersions.max,
    });
  }
  apis.sort((a, b) => a.apiKey - b.apiKey);
  const headers = messages.filter((m) => m.type === 'header');
  const data = messages.filter((m) => m.type === 'data' && DATA_MESSAGES.has(m.name));
  return { apis, headers, data };
}
