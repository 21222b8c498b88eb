/**
 * The SecurityStore contract suite: a store of SCRAM credentials, ACLs and client quotas runs it with
 * one call, inside a vitest file.
 *
 *   import { runSecurityStoreContract } from '@kch/storage/testing';
 *   runSecurityStoreContract('my store', () => myStorage.security);
 *
 * Pass `reopen` for a durable store: it returns a new store over the same data, and the suite then
 * checks that everything survives. A durable store keeps what earlier tests wrote, so every test names
 * its users, resources and entities uniquely and looks only at those.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { quotaEntityKey } from '../memory/memory-security.js';
import type { AclBinding, ClientQuota, ScramCredential, SecurityStore } from '../storage.js';

export interface SecurityContractOptions {
  /** Returns a new store over the same data as `store`, having closed what `store` belongs to. */
  reopen?: (store: SecurityStore) => Promise<SecurityStore>;
  /** Closes what a store of `make` belongs to (its storage), after each test. */
  close?: (store: SecurityStore) => Promise<void>;
  /** Per-test timeout in ms (default 30 s). */
  timeoutMs?: number;
}

let counter = 0;

/** A name unique to this run, with the characters SQL and text formats escape, and non-ASCII. */
function oddName(label: string): string {
  return `${label}-${process.pid}-${Date.now().toString(36)}-${counter++} q'uo"te \\back\\ tab\tnl\ncr\r ü€😀`;
}

/** Bytes holding every value 0-255 once, in random order, then `extra` random ones. */
function anyBytes(extra: number): Buffer {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  for (let i = all.length - 1; i > 0; i--) {
    const j = randomBytes(1)[0]! % (i + 1);
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return Buffer.concat([all, randomBytes(extra)]);
}

function credential(user: string, mechanism: ScramCredential['mechanism']): ScramCredential {
  return {
    user,
    mechanism,
    salt: anyBytes(16),
    iterations: 4096 + counter++,
    storedKey: randomBytes(mechanism === 'SCRAM-SHA-256' ? 32 : 64),
    serverKey: anyBytes(0),
  };
}

function binding(resourceName: string, over: Partial<AclBinding> = {}): AclBinding {
  return {
    resourceType: 2,
    resourceName,
    patternType: 3,
    principal: 'User:alice',
    host: '*',
    operation: 3,
    permissionType: 3,
    ...over,
  };
}

/** The stored credentials of `user`, by mechanism. */
async function credentialsOf(store: SecurityStore, user: string): Promise<ScramCredential[]> {
  const all = await store.listScramCredentials();
  return all.filter((c) => c.user === user).sort((a, b) => a.mechanism.localeCompare(b.mechanism));
}

/** The stored bindings on resources named `resourceName`, in a stable order. */
async function aclsOn(store: SecurityStore, resourceName: string): Promise<AclBinding[]> {
  const all = await store.listAcls();
  const key = (b: AclBinding) => JSON.stringify(Object.values(b));
  return all.filter((b) => b.resourceName === resourceName).sort((a, b) => key(a).localeCompare(key(b)));
}

/** The stored quota of exactly this entity, if any. */
async function quotaOf(
  store: SecurityStore,
  entity: Readonly<Record<string, string | null>>,
): Promise<ClientQuota | undefined> {
  const key = quotaEntityKey(entity);
  const found = (await store.listClientQuotas()).filter((q) => quotaEntityKey(q.entity) === key);
  expect(found.length).toBeLessThanOrEqual(1);
  return found[0];
}

export function runSecurityStoreContract(
  name: string,
  make: () => SecurityStore | Promise<SecurityStore>,
  options: SecurityContractOptions = {},
): void {
  const timeout = options.timeoutMs ?? 30_000;
  describe(`security store contract: ${name}`, { timeout }, () => {
    let store: SecurityStore;
    beforeEach(async () => {
      store = await make();
    });
    afterEach(async () => {
      await options.close?.(store);
    });

    it('stores SCRAM credentials byte for byte, replaces and deletes them', async () => {
      const user = oddName('user');
      const sha256 = credential(user, 'SCRAM-SHA-256');
      const sha512 = credential(user, 'SCRAM-SHA-512');
      await store.putScramCredential(sha256);
      await store.putScramCredential(sha512);
      expect(await credentialsOf(store, user)).toEqual([sha256, sha512]);

      // The same user and mechanism again replaces the earlier credential; the other stays.
      const replaced = credential(user, 'SCRAM-SHA-256');
      await store.putScramCredential(replaced);
      expect(await credentialsOf(store, user)).toEqual([replaced, sha512]);

      expect(await store.deleteScramCredential(user, 'SCRAM-SHA-256')).toBe(true);
      expect(await credentialsOf(store, user)).toEqual([sha512]);
      expect(await store.deleteScramCredential(user, 'SCRAM-SHA-256')).toBe(false);
      expect(await store.deleteScramCredential(oddName('nobody'), 'SCRAM-SHA-512')).toBe(false);

      // Deleted, then stored again.
      await store.putScramCredential(sha256);
      expect(await credentialsOf(store, user)).toEqual([sha256, sha512]);
    });

    it('keeps users apart, also users whose names differ only in odd characters', async () => {
      const base = oddName('user');
      const users = [base, `${base}\\`, `${base}\t`, `${base}'`, `${base}\\t`];
      const stored = users.map((u) => credential(u, 'SCRAM-SHA-512'));
      for (const c of stored) await store.putScramCredential(c);
      for (const c of stored) expect(await credentialsOf(store, c.user)).toEqual([c]);
      expect(await store.deleteScramCredential(`${base}\\`, 'SCRAM-SHA-512')).toBe(true);
      expect(await credentialsOf(store, `${base}\\`)).toEqual([]);
      expect(await credentialsOf(store, base)).toEqual([stored[0]]);
      expect(await credentialsOf(store, `${base}\\t`)).toEqual([stored[4]]);
    });

    it('adds ACLs once however often they are added', async () => {
      const resource = oddName('topic');
      const read = binding(resource);
      const write = binding(resource, { operation: 4 });
      await store.addAcls([read, write]);
      await store.addAcls([read]);
      await store.addAcls([write, write]);
      expect(await aclsOn(store, resource)).toEqual([read, write]);
    });

    it('deletes exactly the bindings given', async () => {
      const resource = oddName('topic');
      const kept = binding(resource);
      const gone = binding(resource, { principal: 'User:bob' });
      await store.addAcls([kept, gone]);
      // Each differs from `kept` in one field: none of them is `kept`.
      await store.deleteAcls([
        binding(resource, { resourceType: 3 }),
        binding(`${resource}x`),
        binding(resource, { patternType: 4 }),
        binding(resource, { principal: 'User:*' }),
        binding(resource, { host: '10.0.0.1' }),
        binding(resource, { operation: 2 }),
        binding(resource, { permissionType: 2 }),
      ]);
      expect(await aclsOn(store, resource)).toEqual([kept, gone]);
      await store.deleteAcls([gone, binding(resource, { principal: 'User:never' })]);
      expect(await aclsOn(store, resource)).toEqual([kept]);
      expect(await aclsOn(store, `${resource}x`)).toEqual([]);
      // Deleted, then added again.
      await store.addAcls([gone]);
      expect(await aclsOn(store, resource)).toEqual([kept, gone]);
    });

    it('round-trips odd characters in every text field of a binding', async () => {
      const resource = oddName('group');
      const odd = binding(resource, {
        resourceType: 3,
        patternType: 4,
        principal: `User:${oddName('principal')}`,
        host: oddName('host'),
        operation: 14,
        permissionType: 2,
      });
      await store.addAcls([odd]);
      expect(await aclsOn(store, resource)).toEqual([odd]);
      await store.deleteAcls([odd]);
      expect(await aclsOn(store, resource)).toEqual([]);
    });

    it('sets, replaces and removes quota values; an entity without values is gone', async () => {
      const entity = { user: oddName('user'), 'client-id': oddName('client') };
      // The same entity, its types named in the other order.
      const reordered = { 'client-id': entity['client-id'], user: entity.user };
      await store.alterClientQuota(entity, { producer_byte_rate: 1024, consumer_byte_rate: 2048.5 });
      expect(await quotaOf(store, entity)).toEqual({
        entity,
        values: { producer_byte_rate: 1024, consumer_byte_rate: 2048.5 },
      });
      await store.alterClientQuota(reordered, {
        producer_byte_rate: 0.1,
        consumer_byte_rate: null,
        request_percentage: 1e-7,
      });
      expect((await quotaOf(store, entity))?.values).toEqual({
        producer_byte_rate: 0.1,
        request_percentage: 1e-7,
      });
      // Removing a key not set changes nothing.
      await store.alterClientQuota(entity, { controller_mutation_rate: null });
      expect((await quotaOf(store, entity))?.values).toEqual({
        producer_byte_rate: 0.1,
        request_percentage: 1e-7,
      });
      await store.alterClientQuota(entity, { producer_byte_rate: null, request_percentage: null });
      expect(await quotaOf(store, entity)).toBeUndefined();
      // Removing from an entity that has no values creates none.
      await store.alterClientQuota(entity, { producer_byte_rate: null });
      expect(await quotaOf(store, entity)).toBeUndefined();
      // And values again after that.
      await store.alterClientQuota(entity, { producer_byte_rate: 1.7976931348623157e308 });
      expect((await quotaOf(store, entity))?.values).toEqual({ producer_byte_rate: 1.7976931348623157e308 });
    });

    it('keeps default entities (null names) apart from named ones', async () => {
      const client = oddName('client');
      const defaultUser = { user: null, 'client-id': client };
      const defaultBoth = { user: null, 'client-id': null };
      const named = { user: '', 'client-id': client };
      const onlyUser = { user: null };
      await store.alterClientQuota(defaultUser, { producer_byte_rate: 1 });
      await store.alterClientQuota(defaultBoth, { producer_byte_rate: 2 });
      await store.alterClientQuota(named, { producer_byte_rate: 3 });
      await store.alterClientQuota(onlyUser, { producer_byte_rate: 4 });
      expect(await quotaOf(store, defaultUser)).toEqual({
        entity: defaultUser,
        values: { producer_byte_rate: 1 },
      });
      expect(await quotaOf(store, defaultBoth)).toEqual({
        entity: defaultBoth,
        values: { producer_byte_rate: 2 },
      });
      expect(await quotaOf(store, named)).toEqual({ entity: named, values: { producer_byte_rate: 3 } });
      expect(await quotaOf(store, onlyUser)).toEqual({ entity: onlyUser, values: { producer_byte_rate: 4 } });
      // The defaults are shared by every run over a durable store: leave none behind.
      await store.alterClientQuota(defaultBoth, { producer_byte_rate: null });
      await store.alterClientQuota(onlyUser, { producer_byte_rate: null });
      expect(await quotaOf(store, defaultBoth)).toBeUndefined();
      expect(await quotaOf(store, onlyUser)).toBeUndefined();
      expect((await quotaOf(store, defaultUser))?.values).toEqual({ producer_byte_rate: 1 });
    });

    if (options.reopen) {
      const reopen = options.reopen;
      it('keeps credentials, ACLs and quotas across a reopen, and writes after it', async () => {
        const user = oddName('user');
        const kept = credential(user, 'SCRAM-SHA-256');
        const deleted = credential(user, 'SCRAM-SHA-512');
        await store.putScramCredential(kept);
        await store.putScramCredential(deleted);
        await store.deleteScramCredential(user, 'SCRAM-SHA-512');
        const resource = oddName('topic');
        const acl = binding(resource);
        const removedAcl = binding(resource, { operation: 4 });
        await store.addAcls([acl, removedAcl]);
        await store.deleteAcls([removedAcl]);
        const entity = { user: oddName('user'), 'client-id': null };
        const gone = { user: oddName('user') };
        await store.alterClientQuota(entity, { producer_byte_rate: 1024, consumer_byte_rate: 5 });
        await store.alterClientQuota(entity, { consumer_byte_rate: null });
        await store.alterClientQuota(gone, { request_percentage: 50 });
        await store.alterClientQuota(gone, { request_percentage: null });

        store = await reopen(store);
        expect(await credentialsOf(store, user)).toEqual([kept]);
        expect(await aclsOn(store, resource)).toEqual([acl]);
        expect(await quotaOf(store, entity)).toEqual({ entity, values: { producer_byte_rate: 1024 } });
        expect(await quotaOf(store, gone)).toBeUndefined();

        // Changes after the reopen win over what was stored before it.
        const replaced = credential(user, 'SCRAM-SHA-256');
        await store.putScramCredential(replaced);
        await store.deleteAcls([acl]);
        await store.addAcls([removedAcl]);
        await store.alterClientQuota(entity, { producer_byte_rate: 2048 });
        expect(await credentialsOf(store, user)).toEqual([replaced]);
        expect(await aclsOn(store, resource)).toEqual([removedAcl]);
        expect((await quotaOf(store, entity))?.values).toEqual({ producer_byte_rate: 2048 });
      });
    }
  });
}
