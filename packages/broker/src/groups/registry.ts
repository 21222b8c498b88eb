/**
 * The groups this coordinator knows, by id (the `groups` of Kafka 4's GroupMetadataManager). A group
 * is created by its first JoinGroup, by a commit outside group management, or at start from stored
 * offsets; it goes when deleted or when it is Empty and its offsets expired. Every state change
 * passes through here, so that each one is announced as a 'group-change' event.
 */
import type { EventEmitter } from 'eventemitter3';
import type { BrokerEvents } from '../events.js';
import { ClassicGroup, type GroupState } from './classic/group.js';
import type { CoordinatorTimers } from './timers.js';

export class GroupRegistry {
  private readonly groups = new Map<string, ClassicGroup>();

  constructor(
    private readonly events: EventEmitter<BrokerEvents>,
    private readonly timers: CoordinatorTimers,
    private readonly now: () => number,
  ) {}

  get(groupId: string): ClassicGroup | undefined {
    return this.groups.get(groupId);
  }

  /** Whether `group` is still the one registered under its id (not removed, not replaced). */
  isCurrent(group: ClassicGroup): boolean {
    return this.groups.get(group.groupId) === group;
  }

  values(): IterableIterator<ClassicGroup> {
    return this.groups.values();
  }

  get size(): number {
    return this.groups.size;
  }

  /** A new Empty group, entering that state now. */
  add(groupId: string): ClassicGroup {
    const group = new ClassicGroup(groupId, this.now());
    this.groups.set(groupId, group);
    return group;
  }

  /**
   * The group of offsets found in storage at start. When nothing but offsets is known, it is an
   * Empty group without protocol type and without a state timestamp, whose offsets expire by their
   * commit time.
   */
  addLoaded(groupId: string): ClassicGroup {
    let group = this.groups.get(groupId);
    if (!group) {
      group = new ClassicGroup(groupId, undefined);
      this.groups.set(groupId, group);
    }
    return group;
  }

  /**
   * Forgets the group and cancels its phase timers. True when it was the registered one: a caller
   * holding a group that was replaced meanwhile must not touch what belongs to its successor.
   */
  remove(group: ClassicGroup): boolean {
    const current = this.isCurrent(group);
    if (current) this.groups.delete(group.groupId);
    this.timers.cancel(group.joinTimer);
    this.timers.cancel(group.syncTimer);
    group.joinTimer = undefined;
    group.syncTimer = undefined;
    for (const memberId of [...group.pendingMembers.keys()]) group.forgetPending(memberId);
    return current;
  }

  transition(group: ClassicGroup, state: GroupState): void {
    group.transitionTo(state, this.now());
    this.emitChange(group);
  }

  emitChange(group: ClassicGroup): void {
    this.events.emit('group-change', {
      groupId: group.groupId,
      state: group.state,
      generationId: group.generationId,
      members: group.size,
    });
  }
}
