import { memoryStorage } from '../src/index.js';
import { runStorageContract } from '../src/testing/index.js';

runStorageContract('memory', () => memoryStorage(), { transactions: true, compaction: true });
