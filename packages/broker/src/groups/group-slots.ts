/**
 * Which coordinator slot a group belongs to, as Kafka places a group in a partition of
 * `__consumer_offsets` (GroupCoordinatorService.partitionFor: the abs of Java's String.hashCode of
 * the group id, modulo offsets.topic.num.partitions, 50 by default). With several brokers, each slot
 * is coordinated by one of them (../cluster/leadership.ts).
 */
export const GROUP_SLOTS = 50;

export function groupSlot(groupId: string): number {
  let h = 0;
  for (let i = 0; i < groupId.length; i++) h = (Math.imul(h, 31) + groupId.charCodeAt(i)) | 0;
  // Kafka's Utils.abs: Integer.MIN_VALUE maps to 0.
  return (h === -2147483648 ? 0 : Math.abs(h)) % GROUP_SLOTS;
}
