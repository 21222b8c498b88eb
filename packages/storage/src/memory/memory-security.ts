import type { AclBinding, ClientQuota, ScramCredential, SecurityStore } from '../storage.js';

/** The identity of a binding: two bindings with the same fields are one. */
export function aclKey(b: AclBinding): string {
  return JSON.stringify([
    b.resourceType,
    b.resourceName,
    b.patternType,
    b.principal,
    b.host,
    b.operation,
    b.permissionType,
  ]);
}

/** The identity of a quota entity, whatever the order of its entity types. */
export function quotaEntityKey(entity: Readonly<Record<string, string | null>>): string {
  return JSON.stringify(
    Object.keys(entity)
      .sort()
      .map((k) => [k, entity[k]]),
  );
}

/** SCRAM credentials, ACLs and quotas in process memory: gone when the process exits. */
export class MemorySecurityStore implements SecurityStore {
  private readonly credentials = new Map<string, ScramCredential>();
  private readonly acls = new Map<string, AclBinding>();
  private readonly quotas = new Map<string, ClientQuota>();

  async listScramCredentials(): Promise<ScramCredential[]> {
    return [...this.credentials.values()];
  }

  async putScramCredential(credential: ScramCredential): Promise<void> {
    this.credentials.set(`${credential.mechanism}\n${credential.user}`, { ...credential });
  }

  async deleteScramCredential(user: string, mechanism: ScramCredential['mechanism']): Promise<boolean> {
    return this.credentials.delete(`${mechanism}\n${user}`);
  }

  async listAcls(): Promise<AclBinding[]> {
    return [...this.acls.values()];
  }

  async addAcls(bindings: readonly AclBinding[]): Promise<void> {
    for (const b of bindings) this.acls.set(aclKey(b), { ...b });
  }

  async deleteAcls(bindings: readonly AclBinding[]): Promise<void> {
    for (const b of bindings) this.acls.delete(aclKey(b));
  }

  async listClientQuotas(): Promise<ClientQuota[]> {
    return [...this.quotas.values()];
  }

  async alterClientQuota(
    entity: Readonly<Record<string, string | null>>,
    changes: Readonly<Record<string, number | null>>,
  ): Promise<void> {
    const key = quotaEntityKey(entity);
    const values: Record<string, number> = { ...this.quotas.get(key)?.values };
    for (const [k, v] of Object.entries(changes)) {
      if (v === null) delete values[k];
      else values[k] = v;
    }
    if (Object.keys(values).length === 0) this.quotas.delete(key);
    else this.quotas.set(key, { entity: { ...entity }, values });
  }
}
