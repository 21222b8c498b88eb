/**
 * The record check of a topic bound to a table (Storage.recordCheck): whether a record's value can
 * become a row of the table, in words for the producer. Built once per schema (./bound-table.ts) and
 * run by the broker on every produced record before offsets are assigned.
 *
 * - The value must be there (a null value cannot fill a row) and be valid UTF-8 text: one JSON object
 *   for JSONEachRow topics, one row of fields for CSV/TSV topics.
 * - JSON: each member naming a column must fit the column's type (./value-check.ts); members without
 *   a column are ignored, as ClickHouse's input_format_skip_unknown_fields does; members named like a
 *   column kch fills (`_offset`...) are refused; a member may not appear twice.
 * - CSV/TSV: as many fields as the table has data columns, each of a fitting scalar.
 * - A required column (no DEFAULT/MATERIALIZED/ALIAS/EPHEMERAL expression, not Nullable, not filled by
 *   kch) must be given. A null or (CSV/TSV) empty field counts as not given.
 */
import type { CheckedRecord, RecordCheck } from '../storage.js';
import { type BoundSchema, fills, type TableColumn } from './bound-table.js';
import { decodeUtf8, JsonObject, JsonSyntaxError, parseJson } from './json-value.js';
import { splitRow, stripLineEnd } from './text-row.js';
import { acceptsNull, checkJson, checkText, describeMismatch } from './value-check.js';

function required(c: TableColumn, s: BoundSchema): boolean {
  return c.defaultKind === '' && !acceptsNull(c.type) && !fills(s, c.name);
}

function missing(name: string, c: TableColumn): string {
  return `field ${JSON.stringify(name)}: expected ${c.type.text}, got nothing (the column has no DEFAULT)`;
}

/** The check for records of `s.topic`. Pure and synchronous, as the broker calls it per record. */
export function recordCheckFor(s: BoundSchema): RecordCheck {
  const table = `${s.binding.database}.${s.binding.table}`;
  const requiredColumns = s.columns.filter((c) => required(c, s));
  const checkValue = s.binding.format === 'JSONEachRow' ? jsonCheck(s, requiredColumns) : textCheck(s);
  return (record: CheckedRecord) => {
    if (record.value === null) {
      return `the record has a null value, but each record of topic ${s.topic} becomes a row of table ${table}: send a value`;
    }
    const text = decodeUtf8(record.value);
    if (text === null) return `the value is not valid UTF-8 text (${s.binding.format})`;
    return checkValue(text);
  };
}

function jsonCheck(s: BoundSchema, requiredColumns: readonly TableColumn[]): (text: string) => string | null {
  return (text) => {
    let v: ReturnType<typeof parseJson>;
    try {
      v = parseJson(text);
    } catch (e) {
      if (e instanceof JsonSyntaxError) return `the value is not JSON: ${e.message}`;
      throw e;
    }
    if (!(v instanceof JsonObject)) {
      const what =
        v === null
          ? 'null'
          : Array.isArray(v)
            ? 'an array'
            : `a ${typeof v === 'object' ? 'number' : typeof v}`;
      return `the value must be a JSON object (one row of the table), not ${what}`;
    }
    const seen = new Set<string>();
    for (const [name, item] of v.members) {
      if (seen.has(name)) return `field ${JSON.stringify(name)} appears twice`;
      seen.add(name);
      const c = s.byName.get(name);
      if (!c || c.defaultKind === 'MATERIALIZED' || c.defaultKind === 'ALIAS') continue;
      if (fills(s, name)) {
        return `field ${JSON.stringify(name)}: set by kch (column ${name} holds the record's Kafka metadata); leave it out of the value`;
      }
      if (item === null) {
        if (required(c, s)) return missing(name, c);
        continue; // NULL, or the column's DEFAULT
      }
      const m = checkJson(c.type, item);
      if (m) return `field ${JSON.stringify(name)}${m.path}: ${describeMismatch(m)}`;
    }
    for (const c of requiredColumns) {
      if (!seen.has(c.name)) return missing(c.name, c);
    }
    return null;
  };
}

function textCheck(s: BoundSchema): (text: string) => string | null {
  const format = s.binding.format === 'CSV' ? 'CSV' : 'TabSeparated';
  const columns = s.dataColumns;
  const names = columns.map((c) => c.name).join(', ');
  return (text) => {
    if (text.includes('\0')) return `the value holds a NUL byte, which ${format} text cannot carry`;
    const row = splitRow(format, stripLineEnd(text));
    if ('error' in row) return `the value is not one ${format} row: ${row.error}`;
    const fields = columns.length === 0 && row.fields.length === 1 && row.fields[0] === '' ? [] : row.fields;
    if (fields.length !== columns.length) {
      return `the value has ${fields.length} ${format} field${fields.length === 1 ? '' : 's'}, but table ${s.binding.database}.${s.binding.table} takes ${columns.length} (${names})`;
    }
    for (let i = 0; i < columns.length; i++) {
      const c = columns[i]!;
      const m = checkText(c.type, fields[i]!);
      if (m === null) continue;
      const label = `field ${i + 1} (${c.name})`;
      if (m === 'empty') {
        if (required(c, s))
          return `${label}: expected ${c.type.text}, got nothing (the column has no DEFAULT)`;
        continue;
      }
      return `${label}: ${describeMismatch(m)}`;
    }
    return null;
  };
}
