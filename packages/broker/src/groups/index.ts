/** The classic group coordinator and the helpers tools use (lag from committed offsets). */
export {
  type CommitOffsetsParams,
  type CoordinatorStats,
  clientHostOf,
  type DescribedGroup,
  type FetchOffsetsResult,
  GROUP_STATES,
  GroupCoordinator,
  type GroupCoordinatorConfig,
  type GroupCoordinatorOptions,
  type GroupState,
  type JoinGroupParams,
  type JoinGroupResult,
  type ListedGroup,
  OFFSET_METADATA_MAX_SIZE,
  type SyncGroupParams,
  type SyncGroupResult,
} from './coordinator.js';
export { committedOffsetsByGroup, computeLag, type PartitionLag } from './lag.js';
