import { MemoryClusterStore } from '../src/memory/memory-cluster.js';
import { runClusterStoreContract } from '../src/testing/cluster.js';

const shared = new MemoryClusterStore();
runClusterStoreContract('memory', async () => [shared, shared]);
