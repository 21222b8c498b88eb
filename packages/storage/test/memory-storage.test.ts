import { runStorageContract } from '../src/testing/index.js';
import { memoryStorage } from '../src/index.js';

runStorageContract('memory', () => memoryStorage());
