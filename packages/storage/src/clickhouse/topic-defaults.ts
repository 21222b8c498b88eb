/**
 * The broker's defaults of the topic configs that decide what kch's own tables keep (retention.ms,
 * cleanup.policy: Storage.setTopicDefaults), beneath each topic's own values, as Kafka applies its
 * log.retention.ms and log.cleanup.policy to every topic without an override.
 */
const RETENTION_CONFIGS = ['retention.ms', 'cleanup.policy'] as const;

export class TopicDefaults {
  private values: Readonly<Record<string, string>> = {};

  /** Keeps the retention configs of `defaults`; the others are the broker's to apply. */
  set(defaults: Readonly<Record<string, string>>): void {
    const kept: Record<string, string> = {};
    for (const name of RETENTION_CONFIGS) {
      const v = defaults[name];
      if (v !== undefined) kept[name] = v;
    }
    this.values = kept;
  }

  /** A topic's configs as retention reads them: its own, over the broker's defaults. */
  effective(own: Readonly<Record<string, string>>): Record<string, string> {
    return { ...this.values, ...own };
  }
}
