import { docTest } from './doc-test.js';

docTest('docs/topics-over-tables.md');
