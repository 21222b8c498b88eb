/**
 * The group coordinator (classic protocol): membership and rebalancing in broker memory, committed
 * offsets through storage. Every consumer group this broker coordinates lives here.
 *
 * (Placeholder interface: the implementation is in progress.)
 */
export interface GroupCoordinator {
  /** Loads what storage knows (groups with committed offsets). */
  start(): Promise<void>;
  /** Stops timers; members are not told (they will find a new coordinator, as after a broker restart). */
  close(): Promise<void>;
}
