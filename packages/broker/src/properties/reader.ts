/**
 * Reading Kafka properties while mapping them: every property read is marked used, so what is left
 * at the end is what kch has no use for (named in one warning), and every problem is collected
 * rather than thrown, so the operator sees all of them at once.
 */
import { type ConfigDefinition, type ConfigType, parseConfigValue } from '../topic-configs.js';

/** A property as found: its full name (for messages) and its value. */
export interface Prop {
  name: string;
  value: string;
}

/** Finds a property by its unprefixed name, in the place the caller reads it (broker or listener). */
export type Lookup = (key: string) => Prop | undefined;

export class PropertyReader {
  /** How many times each property was read and acted on (a property serves several listeners). */
  private readonly used = new Map<string, number>();
  readonly errors: string[] = [];

  constructor(private readonly props: Readonly<Record<string, string>>) {}

  /** The property `name`, marked used. */
  get(name: string): Prop | undefined {
    const value = this.peek(name);
    if (value === undefined) return undefined;
    this.used.set(name, (this.used.get(name) ?? 0) + 1);
    return { name, value };
  }

  /** The value of `name` without marking it used: kch looks at it but does not act on it. */
  peek(name: string): string | undefined {
    return Object.hasOwn(this.props, name) ? this.props[name] : undefined;
  }

  /** The first of `names` that is set, marked used (Kafka's more specific name first). */
  first(...names: string[]): Prop | undefined {
    for (const name of names) {
      const p = this.get(name);
      if (p) return p;
    }
    return undefined;
  }

  /**
   * A listener's view of the properties, as Kafka's valuesWithPrefixOverride gives it: each key as
   * `listener.name.<listener in lower case>.<key>`, else the broker-wide `<key>`.
   */
  forListener(listener: string): Lookup {
    const prefix = listenerPrefix(listener);
    return (key) => this.first(`${prefix}${key}`, key);
  }

  /** Marks properties read but not acted on as unused again, so that the warning names them. */
  unuse(...props: (Prop | undefined)[]): void {
    for (const p of props) if (p) this.used.set(p.name, (this.used.get(p.name) ?? 1) - 1);
  }

  /** Names of all properties, for the callers that scan prefixes. */
  names(): string[] {
    return Object.keys(this.props);
  }

  /** Properties never read: what kch has no use for. */
  unused(): string[] {
    return Object.keys(this.props)
      .filter((name) => (this.used.get(name) ?? 0) <= 0)
      .sort();
  }

  error(message: string): void {
    this.errors.push(message);
  }

  /**
   * `prop`'s value parsed as Kafka's ConfigDef parses a config of `type` (trimmed; Kafka's messages,
   * e.g. "Invalid value abc for configuration num.partitions: Not a number of type INT"), or
   * undefined after recording the error.
   */
  typed(
    prop: Prop,
    type: ConfigType,
    bounds: Pick<ConfigDefinition, 'min' | 'max' | 'validValues'> = {},
  ): string | undefined {
    try {
      return parseConfigValue({ name: prop.name, type, defaultValue: null, doc: '', ...bounds }, prop.value);
    } catch (e) {
      this.error((e as Error).message);
      return undefined;
    }
  }

  /** An int or long property as a number (within JavaScript's safe integers), or undefined. */
  number(prop: Prop | undefined, type: 'int' | 'long', min?: number, max?: number): number | undefined {
    if (!prop) return undefined;
    const v = this.typed(prop, type, { min, max });
    if (v === undefined) return undefined;
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
    this.error(`Invalid value ${v} for configuration ${prop.name}: too large for kch`);
    return undefined;
  }

  boolean(prop: Prop | undefined): boolean | undefined {
    if (!prop) return undefined;
    const v = this.typed(prop, 'boolean');
    return v === undefined ? undefined : v === 'true';
  }
}

/** Kafka's ListenerName.configPrefix: the listener name in lower case. */
export function listenerPrefix(listener: string): string {
  return `listener.name.${listener.toLowerCase()}.`;
}

/** A Kafka LIST config: comma-separated, whitespace around commas dropped, empty items dropped. */
export function csvList(value: string): string[] {
  const trimmed = value.trim();
  return trimmed === '' ? [] : trimmed.split(/\s*,\s*/).filter((v) => v !== '');
}
