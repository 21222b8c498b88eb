/**
 * The views of the broker's config (`views`), created at start, after the declared topics and before
 * the Kafka listener opens, so that a new view sees every record produced from then on.
 *
 * A view that exists is left as it is, also when its definition differs (a warning says so): replacing
 * it would drop the rows of a view that keeps its own table, and a view is a table others may query.
 * To change one, drop it (`kch views drop <name>`) and restart, or create the new one by hand.
 */
import type { Broker } from '@kch/broker';
import type { ViewDefinition } from '@kch/storage';
import { hasViews } from './storage.js';

export async function createDeclaredViews(broker: Broker, views: readonly ViewDefinition[]): Promise<void> {
  if (views.length === 0) return;
  // The topics a view needs are created as the broker creates topics: its own settings and logger.
  const { storage, topics, logger } = broker.context;
  const { autoCreateTopics, defaultPartitions } = broker.config;
  if (!hasViews(storage))
    throw new Error(
      `the storage (${storage.name}) has no materialized views: use chdb or a ClickHouse server`,
    );
  for (const view of views) {
    // A topic no one created yet is created as a producer's request would create it.
    if (!topics.get(view.topic)) {
      if (!autoCreateTopics)
        throw new Error(
          `view ${view.name}: topic ${view.topic} does not exist (and auto-create-topics is off); declare it in topics or create it first`,
        );
      // The broker logs the creation, with this as who asked.
      await topics.getOrCreate(view.topic, defaultPartitions, {
        via: `the view ${view.name} of the broker's config`,
      });
    }
    const { status, view: found } = await storage.ensureView(view);
    if (status === 'different')
      logger.warn('view exists with another definition: kept as it is (drop it to replace it)', {
        view: view.name,
        topic: found.topic,
        select: found.select,
      });
    else
      logger.info(status === 'created' ? 'view created' : 'view exists', {
        view: view.name,
        topic: view.topic,
      });
  }
}
