/**
 * The storage's SecurityStore: SCRAM credentials, ACL bindings and client quotas in
 * `_kch_scram_credentials`, `_kch_acls` and `_kch_client_quotas` (./schema.ts, migration 3).
 *
 * As every metadata table, rows are never changed: a write inserts rows with a newer version (from
 * MetadataStore, so they order with every other metadata row, also across restarts), a removal a row
 * marked deleted, and a list reads the latest row of each key (FINAL). So a list also sees what another
 * broker over the same database wrote. Writes are inserted at once, not group-committed: they are rare
 * (admin requests) and must be stored when their promise resolves.
 */
import { quotaEntityKey } from '../memory/memory-security.js';
import {
  type AclBinding,
  type ClientQuota,
  type ScramCredential,
  type SecurityStore,
  StorageError,
} from '../storage.js';
import { OrderedStore } from './ordered-store.js';
import type { RowBinaryReader } from './rowbinary.js';
import {
  ACL_ROW_COLUMNS,
  ACLS_TABLE,
  CLIENT_QUOTA_ROW_COLUMNS,
  CLIENT_QUOTAS_TABLE,
  SCRAM_CREDENTIAL_ROW_COLUMNS,
  SCRAM_CREDENTIALS_TABLE,
} from './schema.js';
import {
  scramCredentialCount,
  storedAcls,
  storedClientQuotas,
  storedScramCredentials,
} from './statements.js';
import { TsvWriter } from './tsv.js';

const MECHANISMS: readonly string[] = [
  'SCRAM-SHA-256',
  'SCRAM-SHA-512',
] satisfies ScramCredential['mechanism'][];
const NULL_BYTES = Buffer.from('NULL', 'latin1');
const EMPTY = Buffer.alloc(0);

export class ClickHouseSecurityStore extends OrderedStore implements SecurityStore {
  // --------------------------------------------------------------------------- credentials

  async listScramCredentials(): Promise<ScramCredential[]> {
    const r = await this.read('list SCRAM credentials', storedScramCredentials);
    const out: ScramCredential[] = [];
    while (!r.done) {
      const user = r.string();
      const mechanism = r.string();
      // Copies: the response buffer is not kept alive by a credential held for long.
      const salt = Buffer.from(r.bytes());
      const iterations = r.i32();
      const storedKey = Buffer.from(r.bytes());
      const serverKey = Buffer.from(r.bytes());
      // A mechanism this kch does not know (a newer one wrote it) is not one it can authenticate.
      if (!MECHANISMS.includes(mechanism)) continue;
      out.push({
        user,
        mechanism: mechanism as ScramCredential['mechanism'],
        salt,
        iterations,
        storedKey,
        serverKey,
      });
    }
    return out;
  }

  async putScramCredential(credential: ScramCredential): Promise<void> {
    checkInt(credential.iterations, 1, 0x7fffffff, 'SCRAM iterations');
    return this.write(() => this.storeCredential(credential, false));
  }

  deleteScramCredential(user: string, mechanism: ScramCredential['mechanism']): Promise<boolean> {
    return this.write(async () => {
      const b = this.backend;
      const r = await b.select(
        `read the ${mechanism} credential of ${user}`,
        scramCredentialCount(b.database, user, mechanism),
      );
      if (r.u64() === 0) return false;
      // The deletion's row keeps no key material.
      const gone = { user, mechanism, salt: EMPTY, iterations: 0, storedKey: EMPTY, serverKey: EMPTY };
      await this.storeCredential(gone, true);
      return true;
    });
  }

  private storeCredential(c: ScramCredential, deleted: boolean): Promise<void> {
    const w = new TsvWriter(256);
    w.text(c.user).tab().text(c.mechanism).tab();
    w.string(c.salt, 0, c.salt.length).tab().int(c.iterations).tab();
    w.string(c.storedKey, 0, c.storedKey.length).tab().string(c.serverKey, 0, c.serverKey.length).tab();
    w.int(deleted ? 1 : 0)
      .tab()
      .int(this.metadata.nextVersion())
      .newline();
    const what = `${deleted ? 'delete' : 'store'} the ${c.mechanism} credential of ${c.user}`;
    return this.backend.insertRows(what, SCRAM_CREDENTIALS_TABLE, SCRAM_CREDENTIAL_ROW_COLUMNS, w);
  }

  // ---------------------------------------------------------------------------------- ACLs

  async listAcls(): Promise<AclBinding[]> {
    const r = await this.read('list ACLs', storedAcls);
    const out: AclBinding[] = [];
    while (!r.done) {
      out.push({
        resourceType: r.i8(),
        resourceName: r.string(),
        patternType: r.i8(),
        principal: r.string(),
        host: r.string(),
        operation: r.i8(),
        permissionType: r.i8(),
      });
    }
    return out;
  }

  addAcls(bindings: readonly AclBinding[]): Promise<void> {
    return this.storeAcls('add ACLs', bindings, false);
  }

  /**
   * A deletion row for each binding, stored or not: no read first, and one not stored stays absent
   * (a binding is its whole key, so nothing else is touched).
   */
  deleteAcls(bindings: readonly AclBinding[]): Promise<void> {
    return this.storeAcls('delete ACLs', bindings, true);
  }

  private async storeAcls(what: string, bindings: readonly AclBinding[], deleted: boolean): Promise<void> {
    for (const b of bindings) {
      for (const code of [b.resourceType, b.patternType, b.operation, b.permissionType]) {
        checkInt(code, -128, 127, 'an ACL code');
      }
    }
    return this.write(async () => {
      if (bindings.length === 0) return;
      // One version for the call: its rows all have different keys (or are the same row twice).
      const version = this.metadata.nextVersion();
      const w = new TsvWriter(256 * bindings.length);
      for (const b of bindings) {
        w.int(b.resourceType).tab().text(b.resourceName).tab().int(b.patternType).tab();
        w.text(b.principal).tab().text(b.host).tab().int(b.operation).tab().int(b.permissionType).tab();
        w.int(deleted ? 1 : 0)
          .tab()
          .int(version)
          .newline();
      }
      await this.backend.insertRows(what, ACLS_TABLE, ACL_ROW_COLUMNS, w);
    });
  }

  // -------------------------------------------------------------------------------- quotas

  async listClientQuotas(): Promise<ClientQuota[]> {
    const r = await this.read('list client quotas', storedClientQuotas);
    const out: ClientQuota[] = [];
    let key: string | null = null;
    let values: Record<string, number> = {};
    // Rows come sorted by entity_key: an entity's values are consecutive.
    while (!r.done) {
      const entityKey = r.string();
      const entity = readEntity(r);
      const quotaKey = r.string();
      const value = r.f64();
      if (entityKey !== key) {
        key = entityKey;
        values = {};
        out.push({ entity, values });
      }
      values[quotaKey] = value;
    }
    return out;
  }

  /**
   * A row per changed key: the value, or a deletion for null. No read first: an entity whose rows are
   * all deleted is simply not listed, which is what removing its last value means.
   */
  alterClientQuota(
    entity: Readonly<Record<string, string | null>>,
    changes: Readonly<Record<string, number | null>>,
  ): Promise<void> {
    return this.write(async () => {
      const entries = Object.entries(changes);
      if (entries.length === 0) return;
      const version = this.metadata.nextVersion();
      const key = quotaEntityKey(entity);
      const w = new TsvWriter(256 * entries.length);
      for (const [quotaKey, value] of entries) {
        w.text(key).tab();
        writeEntity(w, entity);
        w.tab()
          .text(quotaKey)
          .tab()
          .float(value ?? 0)
          .tab();
        w.int(value === null ? 1 : 0)
          .tab()
          .int(version)
          .newline();
      }
      await this.backend.insertRows(
        `alter the client quota of ${key}`,
        CLIENT_QUOTAS_TABLE,
        CLIENT_QUOTA_ROW_COLUMNS,
        w,
      );
    });
  }

  // ------------------------------------------------------------------------------- helpers

  private read(what: string, statement: (database: string) => string): Promise<RowBinaryReader> {
    this.backend.checkOpen();
    return this.backend.select(what, statement(this.backend.database));
  }
}

/** The entity as `Array(Tuple(type String, name Nullable(String)))`, its types sorted as its key's. */
function writeEntity(w: TsvWriter, entity: Readonly<Record<string, string | null>>): void {
  w.byte(0x5b); // [
  Object.keys(entity)
    .sort()
    .forEach((type, i) => {
      if (i > 0) w.byte(0x2c); // ,
      w.byte(0x28).quotedText(type).byte(0x2c); // (type,
      const name = entity[type];
      if (name === null || name === undefined) w.raw(NULL_BYTES);
      else w.quotedText(name);
      w.byte(0x29); // )
    });
  w.byte(0x5d); // ]
}

function readEntity(r: RowBinaryReader): Record<string, string | null> {
  const entity: Record<string, string | null> = {};
  for (let n = r.uvarint(); n > 0; n--) {
    const type = r.string();
    entity[type] = r.nullableString();
  }
  return entity;
}

/** Refuses a number its column cannot hold, rather than letting ClickHouse wrap or reject the row. */
function checkInt(value: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new StorageError(
      'INVALID_REQUEST',
      `${what} must be an integer from ${min} to ${max}, not ${value}`,
      false,
    );
  }
}
